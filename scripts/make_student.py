"""Write the student copies of the exercises: solutions cleared, hidden tests removed.

    python scripts/make_student.py [--source notebooks/exercises] [--dest student] [--force]
    make student            (make student FORCE=1 to overwrite copies a student has changed)

Each master notebook in notebooks/exercises/ goes through nbgrader's own preprocessors, run by nbconvert in
the order ``nbgrader generate_assignment`` uses: lock the test cells, replace the code between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` by ``raise NotImplementedError()`` (and written answers by
"YOUR ANSWER HERE"), clear the outputs, delete the code between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``, and record nbgrader's cell checksums. So a student copy is what nbgrader itself
would hand out.

Nobody loses their work: the script records the SHA-256 of every file it writes in ``<dest>/.generated.json``.
Before writing anything it compares each existing copy with that record; if a copy differs (a student has
worked in it) or was not written by this script, it lists those files, writes nothing, and exits with
status 1. ``--force`` overwrites them, after saving each one to ``<dest>/.backup/``.

nbgrader is the optional "teach" extra: ``pip install -e ".[teach]"``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT / "notebooks" / "exercises"
DEFAULT_DEST = ROOT / "student"
MANIFEST_NAME = ".generated.json"
BACKUP_DIR_NAME = ".backup"
FORCE_HINT = "make student FORCE=1  (or: python scripts/make_student.py --force)"


class StudentCopyError(Exception):
    """A problem the teacher must act on; the message says what and how."""


def _student_preprocessors():
    """nbgrader's preprocessors, in generate_assignment's order, minus the database and header steps."""
    try:
        from nbgrader.preprocessors import (
            CheckCellMetadata,
            ClearHiddenTests,
            ClearOutput,
            ClearSolutions,
            ComputeChecksums,
            LockCells,
        )
    except ImportError as error:
        raise StudentCopyError(
            f"nbgrader is not installed ({error}); it is the optional teach extra: "
            'pip install -e ".[teach]"  (inside the project\'s virtualenv).'
        ) from None
    return [
        LockCells,
        ClearSolutions,
        ClearOutput,
        CheckCellMetadata,
        ClearHiddenTests,
        ComputeChecksums,
        CheckCellMetadata,
    ]


def student_version(master: Path) -> str:
    """The student copy of one master notebook, as the text of an .ipynb file."""
    from nbconvert.exporters import NotebookExporter

    exporter = NotebookExporter()
    for preprocessor in _student_preprocessors():
        exporter.register_preprocessor(preprocessor(), enabled=True)
    try:
        body, _ = exporter.from_filename(str(master))
    except RuntimeError as error:  # nbgrader's message for unbalanced or misplaced BEGIN/END markers
        raise StudentCopyError(f"{master.name}: {error}; fix the markers in the master notebook.") from None
    return body


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(dest: Path) -> dict[str, str]:
    """File name -> SHA-256 of what this script last wrote there (empty when nothing was written yet)."""
    path = dest / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8"))["files"])
    except (ValueError, KeyError, TypeError) as error:
        raise StudentCopyError(
            f"{path} is unreadable ({error}), so modified copies cannot be told apart from generated ones; "
            f"check the folder by hand, then delete that file and rerun with {FORCE_HINT}."
        ) from None


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename, so an interrupted run never leaves half a notebook."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes the file private; a copy is for everyone to read
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def modified_copies(dest: Path, names: list[str], manifest: dict[str, str]) -> list[str]:
    """Names of existing copies that differ from what this script recorded writing (or were never written)."""
    modified = []
    for name in names:
        path = dest / name
        if path.exists() and manifest.get(name) != sha256(path.read_bytes()):
            modified.append(name)
    return modified


def make_student(source: Path = DEFAULT_SOURCE, dest: Path = DEFAULT_DEST, force: bool = False) -> list[Path]:
    """Write the student copy of every master notebook in ``source`` into ``dest``; return the paths written.

    Raises StudentCopyError, writing nothing, when a copy in ``dest`` was changed since it was written and
    ``force`` is False.
    """
    masters = sorted(source.glob("*.ipynb"))
    if not masters:
        raise StudentCopyError(f"no master notebooks (*.ipynb) in {source}.")
    versions = {master.name: student_version(master).encode("utf-8") for master in masters}

    manifest = read_manifest(dest)
    modified = modified_copies(dest, list(versions), manifest)
    if modified and not force:
        listed = "\n".join(f"  {dest / name}" for name in modified)
        raise StudentCopyError(
            f"refusing to overwrite {len(modified)} student cop{'y' if len(modified) == 1 else 'ies'} that "
            f"changed since generated (someone's work may be in {'it' if len(modified) == 1 else 'them'}):\n"
            f"{listed}\n"
            f"Nothing was written. Collect or move that work first, or overwrite with\n  {FORCE_HINT}\n"
            f"which saves each changed file to {dest / BACKUP_DIR_NAME}/ before overwriting it."
        )

    dest.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for name in modified:  # only reached with force
        backup = dest / BACKUP_DIR_NAME / f"{Path(name).stem}.{stamp}.ipynb"
        backup.parent.mkdir(exist_ok=True)
        shutil.copy2(dest / name, backup)
        print(f"saved the changed {name} to {backup}")

    written = []
    for name, data in versions.items():
        _write_atomically(dest / name, data)
        manifest[name] = sha256(data)
        written.append(dest / name)
    manifest_text = json.dumps(
        {"generated_by": "scripts/make_student.py", "files": manifest}, indent=1, sort_keys=True
    )
    _write_atomically(dest / MANIFEST_NAME, (manifest_text + "\n").encode("utf-8"))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder of master notebooks")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="folder for the student copies")
    parser.add_argument(
        "--force", action="store_true", help="overwrite copies a student changed (backed up first)"
    )
    args = parser.parse_args(argv)
    try:
        written = make_student(args.source, args.dest, force=args.force)
    except StudentCopyError as error:
        print(f"make_student: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
