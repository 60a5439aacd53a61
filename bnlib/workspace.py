"""Learners' own copies of the course: edit freely, update safely, start over any time.

    python -m bnlib.workspace prepare                  # copy new and updated course notebooks into my-notebooks/
    python -m bnlib.workspace reset 02_loss_surface_conditioning   # a fresh copy; the old one goes to backups/
    make lab                                            # prepares, then serves my-notebooks/
    make reset NB=02_loss_surface_conditioning

Learners never work in ``notebooks/`` (tracked by git, updated by ``git pull``) but in ``my-notebooks/``
(git-ignored), so a pull never conflicts with their work. :func:`prepare_workspace` keeps that folder in
step with the course without ever overwriting what a learner changed:

* a course file not yet in the workspace is copied in;
* a copy the learner has not changed (its SHA-256 is still the one recorded when it was copied) is
  replaced by the course's newer version;
* a copy the learner has changed is kept as it is, and a newer course version is written *beside* it,
  e.g. ``02_loss_surface_conditioning.course-update-2026-12-01.ipynb``, with a message saying so;
* the learner's own files, and copies of files the course no longer has, are never touched.

The record of what was copied is ``my-notebooks/.course-copies.json`` (relative path -> the SHA-256 of the
course version copied into that file, and of the newest course version offered to it). Without the record,
a copy that differs from the course counts as changed, so nothing is ever overwritten on a guess.

:func:`reset_notebook` gives a fresh copy of one notebook; the learner's old one is moved to
``my-notebooks/backups/`` first. Both are plain functions so that ``make lab``, other launchers and a
JupyterHub start-up hook call the same code.
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
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
COURSE = PROJECT / "notebooks"
WORKSPACE = PROJECT / "my-notebooks"
RECORD_NAME = ".course-copies.json"
BACKUPS = "backups"
_SKIPPED_PARTS = {".ipynb_checkpoints", "__pycache__"}


class WorkspaceError(Exception):
    """A problem the learner must act on; the message says what and how. Nothing was changed."""


@dataclass(frozen=True)
class Change:
    """One thing prepare or reset did in the workspace, and the sentence that tells the learner."""

    path: Path  # the file written (for "beside" and "reset": the new file)
    kind: (
        str  # "new", "updated", "beside" (the learner's edited copy kept, the update put next to it), "reset"
    )
    message: str


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def course_files(course: Path = COURSE) -> list[Path]:
    """Every file of the course folder (notebooks and anything they load), relative to it, sorted."""
    if not course.is_dir():
        raise WorkspaceError(
            f"the course folder {course} does not exist; run this from the course's project."
        )
    return sorted(
        path.relative_to(course)
        for path in course.rglob("*")
        if path.is_file()
        and not _SKIPPED_PARTS & set(path.relative_to(course).parts)
        and not path.name.startswith(".")
    )


def _read_record(workspace: Path) -> dict[str, dict[str, str]]:
    path = workspace / RECORD_NAME
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))["copies"]
        if not all(isinstance(entry, dict) for entry in record.values()):
            raise TypeError("an entry is not an object")
        return record
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise WorkspaceError(
            f"{path} is unreadable ({error}); nothing was changed. Delete that file and run again: every "
            "copy that differs from the course then counts as yours, so updates are put beside it and "
            "nothing is overwritten."
        ) from None


def _write_record(workspace: Path, record: dict[str, dict[str, str]]) -> None:
    text = json.dumps({"written_by": "bnlib.workspace", "copies": record}, indent=1, sort_keys=True)
    write_atomically(workspace / RECORD_NAME, (text + "\n").encode("utf-8"))


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename, so an interrupted run never leaves half a notebook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes the file private; keep the usual permissions
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _unused_name(path: Path, label: str) -> Path:
    """``dir/stem.<label>.suffix``, or ``….<label>-2.suffix`` and so on if that name is taken."""
    candidate = path.with_name(f"{path.stem}.{label}{path.suffix}")
    number = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.{label}-{number}{path.suffix}")
        number += 1
    return candidate


def _today() -> str:
    return datetime.date.today().isoformat()


def prepare_workspace(course: Path = COURSE, workspace: Path = WORKSPACE) -> list[Change]:
    """Bring ``workspace`` up to date with ``course`` without overwriting anything a learner changed.

    Returns what changed (nothing for copies already current). Raises WorkspaceError, changing nothing,
    when the course folder is missing or the record is unreadable.
    """
    files = course_files(course)
    record = _read_record(workspace)
    changes = []
    for relative in files:
        source, copy = course / relative, workspace / relative
        key = relative.as_posix()
        course_hash = _sha256(source)
        entry = record.get(key, {})
        if not copy.exists():
            write_atomically(copy, source.read_bytes())
            record[key] = {"copied": course_hash, "offered": course_hash}
            changes.append(Change(copy, "new", f"copied {key}"))
            continue
        copy_hash = _sha256(copy)
        if copy_hash == course_hash:  # current (possibly never recorded, e.g. after a lost record)
            record[key] = {"copied": course_hash, "offered": course_hash}
            continue
        if course_hash == entry.get("offered"):
            continue  # the learner has this course version already, in place or beside their copy
        if copy_hash == entry.get("copied"):  # untouched since copied: safe to refresh
            write_atomically(copy, source.read_bytes())
            record[key] = {"copied": course_hash, "offered": course_hash}
            changes.append(Change(copy, "updated", f"updated {key} to the course's new version"))
            continue
        beside = _unused_name(copy, f"course-update-{_today()}")
        write_atomically(beside, source.read_bytes())
        record[key] = {"copied": entry.get("copied", ""), "offered": course_hash}
        changes.append(
            Change(
                beside,
                "beside",
                f"kept your edited {key}; the course's new version is beside it: "
                f"{beside.relative_to(workspace).as_posix()}",
            )
        )
    _write_record(workspace, record)
    return changes


def find_course_file(name: str, course: Path = COURSE) -> Path:
    """The course notebook ``name`` names, relative to ``course``.

    ``name`` may be a path or a file name, with or without '.ipynb', or the start of one if only one notebook
    starts so: '02_loss_surface_conditioning', '02', 'exercises/ex1_batchnorm_forward.ipynb', 'ex1'.
    """
    notebooks = [path for path in course_files(course) if path.suffix == ".ipynb"]
    wanted = name.strip().replace("\\", "/").removesuffix(".ipynb").removeprefix("notebooks/")

    def spelled(path: Path) -> list[str]:
        return [path.with_suffix("").as_posix(), path.stem]

    exact = [path for path in notebooks if wanted in spelled(path)]
    matches = exact or [path for path in notebooks if any(s.startswith(wanted) for s in spelled(path))]
    if wanted and len(matches) == 1:
        return matches[0]
    listed = "\n".join(f"  {path.with_suffix('').as_posix()}" for path in (matches or notebooks))
    if not wanted:
        problem = "say which notebook, e.g. make reset NB=02_loss_surface_conditioning"
    elif matches:
        problem = f"'{name}' names {len(matches)} notebooks"
    else:
        problem = f"no course notebook is called '{name}'"
    raise WorkspaceError(f"{problem}; nothing was changed. Say one of:\n{listed}")


def reset_notebook(name: str, course: Path = COURSE, workspace: Path = WORKSPACE) -> Change:
    """Replace the learner's copy of one notebook by a fresh one from the course.

    If the copy differs from the course's version, it is first moved to ``workspace/backups/`` with the
    time in its name, so nothing is lost. Raises WorkspaceError, changing nothing, for an unknown name.
    """
    relative = find_course_file(name, course)
    record = _read_record(workspace)
    source, copy = course / relative, workspace / relative
    course_hash = _sha256(source)
    message = f"{relative.as_posix()} is a fresh copy of the course's version"
    if copy.exists() and _sha256(copy) != course_hash:
        stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H%M%S")
        backup = _unused_name(workspace / BACKUPS / relative, stamp)
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(copy, backup)  # copied, not moved: until the fresh copy is written the old one stays put
        message += f"; your previous one is kept as {backup.relative_to(workspace).as_posix()}"
    write_atomically(copy, source.read_bytes())
    record[relative.as_posix()] = {"copied": course_hash, "offered": course_hash}
    _write_record(workspace, record)
    message += (
        ". If it is open in JupyterLab, close it there without saving (or File > Reload Notebook from Disk)."
    )
    return Change(copy, "reset", message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bnlib.workspace", description="Your own copies of the course notebooks."
    )
    parser.add_argument("--course", type=Path, default=COURSE, help=f"the course folder (default {COURSE})")
    parser.add_argument(
        "--workspace", type=Path, default=WORKSPACE, help=f"your copies (default {WORKSPACE})"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="copy new and updated course notebooks; never overwrite your edits")
    reset = commands.add_parser("reset", help="a fresh copy of one notebook; your old one goes to backups/")
    reset.add_argument(
        "name", help="e.g. 02_loss_surface_conditioning, 02, or exercises/ex1_batchnorm_forward"
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            changes = prepare_workspace(args.course, args.workspace)
            for change in changes:
                print(change.message)
            print(f"your notebooks are in {args.workspace}" + ("" if changes else " (all current)"))
        else:
            print(reset_notebook(args.name, args.course, args.workspace).message)
    except WorkspaceError as error:
        print(f"bnlib.workspace: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
