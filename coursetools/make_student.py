"""Make the learners' exercises from the teacher's: solutions cleared, hidden tests removed.

    python -m coursetools.make_student            # teacher/exercises/ex*.ipynb -> notebooks/exercises/ex*.ipynb
    python -m coursetools.make_student --check    # exit 1 if notebooks/exercises/ is not what this would write
    make student

The teacher's versions (``teacher/exercises/``, solutions in place) are the only ones anybody edits. The
learners' versions in ``notebooks/exercises/`` are generated from them and committed, so every way a
learner reaches the course (``make lab``, a plain ``jupyter lab``, the static site, Binder, a JupyterHub
pull, a README link) shows exercises without answers. tests/test_student.py fails when the committed
learners' versions differ from what this script makes.

Each teacher's notebook goes through nbgrader's own preprocessors, run by nbconvert in the order
``nbgrader generate_assignment`` uses: lock the test cells, replace the code between ``### BEGIN SOLUTION``
and ``### END SOLUTION`` by the stub below (and written answers by "YOUR ANSWER HERE"), clear the outputs,
delete the code between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, and record nbgrader's cell
checksums. So a learner's version is what nbgrader itself would hand out.

Learners never work in notebooks/ itself but in their own copies (``bnlib.workspace``), so rewriting
notebooks/exercises/ never touches anyone's work. nbgrader is the optional "teach" extra:
``pip install -e ".[teach]"``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bnlib.workspace import write_atomically  # the same never-half-written write the learner copies use
from coursetools.paths import LEARNER_EXERCISES, TEACHER_EXERCISES

EXERCISE_PATTERN = "ex*.ipynb"
# What a learner sees where the teacher's solution was: the marker the exercises' instructions name.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


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
        LockCells(),
        ClearSolutions(code_stub={"python": CODE_STUB}),
        ClearOutput(),
        CheckCellMetadata(),
        ClearHiddenTests(),
        ComputeChecksums(),
        CheckCellMetadata(),
    ]


def student_version(master: Path) -> str:
    """The learner's version of one teacher's notebook, as the text of an .ipynb file."""
    from nbconvert.exporters import NotebookExporter

    exporter = NotebookExporter()
    for preprocessor in _student_preprocessors():
        exporter.register_preprocessor(preprocessor, enabled=True)
    try:
        body, _ = exporter.from_filename(str(master))
    except RuntimeError as error:  # nbgrader's message for unbalanced or misplaced BEGIN/END markers
        raise StudentCopyError(
            f"{master.name}: {error}; fix the markers in the teacher's notebook."
        ) from None
    return body


def student_versions(source: Path = TEACHER_EXERCISES) -> dict[str, bytes]:
    """File name -> learner's version, for every exercise ``ex*.ipynb`` in ``source``."""
    masters = sorted(source.glob(EXERCISE_PATTERN))
    if not masters:
        raise StudentCopyError(f"no exercises ({EXERCISE_PATTERN}) in {source}.")
    return {master.name: student_version(master).encode("utf-8") for master in masters}


def differences(source: Path = TEACHER_EXERCISES, dest: Path = LEARNER_EXERCISES) -> list[str]:
    """What in ``dest`` is not exactly what make_student would write: stale, missing or extra exercises."""
    versions = student_versions(source)
    problems = [
        f"{dest / name} is missing" if not (dest / name).exists() else f"{dest / name} is out of date"
        for name, data in versions.items()
        if not (dest / name).exists() or (dest / name).read_bytes() != data
    ]
    problems += [
        f"{path} has no teacher's version in {source}"
        for path in sorted(dest.glob(EXERCISE_PATTERN))
        if path.name not in versions
    ]
    return problems


def make_student(source: Path = TEACHER_EXERCISES, dest: Path = LEARNER_EXERCISES) -> list[Path]:
    """Write the learner's version of every exercise in ``source`` into ``dest``; return the paths written.

    An exercise in ``dest`` without a teacher's version is reported, never deleted: it may be someone's.
    Raises StudentCopyError, writing nothing, when a teacher's notebook cannot be converted.
    """
    versions = student_versions(source)  # all converted before anything is written
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in versions.items():
        target = dest / name
        if not target.exists() or target.read_bytes() != data:
            write_atomically(target, data)
            written.append(target)
    for path in sorted(dest.glob(EXERCISE_PATTERN)):
        if path.name not in versions:
            print(f"note: {path} has no teacher's version in {source}; left as it is", file=sys.stderr)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=TEACHER_EXERCISES, help="the teacher's exercises")
    parser.add_argument("--dest", type=Path, default=LEARNER_EXERCISES, help="folder for the learners'")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the learners' versions are not current"
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = differences(args.source, args.dest)
            for problem in problems:
                print(f"make_student: {problem}", file=sys.stderr)
            if problems:
                print("make_student: run `make student` and commit the result.", file=sys.stderr)
            return 1 if problems else 0
        written = make_student(args.source, args.dest)
    except StudentCopyError as error:
        print(f"make_student: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{args.dest} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
