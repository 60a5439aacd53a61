"""Where things are in the project."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"  # what learners get: the course, and the exercises without their solutions
LEARNER_EXERCISES = NOTEBOOKS / "exercises"  # generated from TEACHER_EXERCISES by coursetools/make_student.py
TEACHER_EXERCISES = ROOT / "teacher" / "exercises"  # the exercises with their solutions


def runnable_notebooks() -> list[Path]:
    """Every notebook that runs clean top to bottom: the course, with the teacher's exercises standing in for
    the learners' (which stop at their first ``raise NotImplementedError()`` until solved)."""
    found = [*NOTEBOOKS.rglob("*.ipynb"), *TEACHER_EXERCISES.rglob("*.ipynb")]
    return sorted(
        p for p in found if ".ipynb_checkpoints" not in p.parts and not p.is_relative_to(LEARNER_EXERCISES)
    )
