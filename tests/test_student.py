"""No answers on any learner path: the learners' exercises are exactly what coursetools/make_student.py makes from
the teacher's, with no solution or hidden test left, and each check fails with feedback until solved.

Every exercise found is covered (``ex*.ipynb`` in teacher/exercises/), not a fixed list. The generator needs
nbgrader, the optional teach extra (pip install -e ".[teach]"); without it the tests that run it skip.
"""

import importlib.util
import re
import sys

import nbformat
import pytest

from coursetools import make_student
from coursetools.paths import LEARNER_EXERCISES, NOTEBOOKS, TEACHER_EXERCISES

HAS_NBGRADER = importlib.util.find_spec("nbgrader") is not None
needs_nbgrader = pytest.mark.skipif(
    not HAS_NBGRADER,
    reason='nbgrader is not installed: it is the optional teach extra, pip install -e ".[teach]"',
)

MASTERS = sorted(TEACHER_EXERCISES.glob(make_student.EXERCISE_PATTERN))
# Text that exists only in a teacher's version: nbgrader's markers around solutions and hidden tests.
TEACHER_ONLY_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def learner_notebooks():
    """Every notebook a learner can reach: all of notebooks/ (make lab, Binder, the site and the README
    serve it or copies of it)."""
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def graded_cells(notebook):
    return [
        c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    ]


def lines_outside_answers(master_cell) -> set[str]:
    """The stripped lines of a teacher's cell outside BEGIN…END SOLUTION and BEGIN…END HIDDEN TESTS."""
    outside = re.sub(
        r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1", "", master_cell.source, flags=re.DOTALL
    )
    return {line.strip() for line in outside.splitlines()}


def test_the_project_has_teachers_and_learners_exercises():
    assert len(MASTERS) >= 4, f"expected the teacher's exercises in {TEACHER_EXERCISES}"
    learners = sorted(p.name for p in LEARNER_EXERCISES.glob(make_student.EXERCISE_PATTERN))
    assert learners == [m.name for m in MASTERS], "every exercise needs its learner's version: make student"


@pytest.mark.parametrize("path", learner_notebooks(), ids=lambda p: p.relative_to(NOTEBOOKS).as_posix())
def test_no_solution_or_hidden_test_on_a_learner_path(path):
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        found = [marker for marker in TEACHER_ONLY_MARKERS if marker in cell.source]
        assert not found, f"{path.name} cell {index} holds {found}: a teacher's version is on a learner path"
    master = TEACHER_EXERCISES / path.name
    if path.parent != LEARNER_EXERCISES or not master.exists():
        return
    learner_cells = {
        c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells if "nbgrader" in c.metadata
    }
    for cell in nbformat.read(master, as_version=4).cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            continue
        assert grade_id in learner_cells, f"{path.name}: the cell {grade_id} is missing"
        # Every line of the learner's cell is one the teacher's shows outside its answers, or the stub.
        allowed = lines_outside_answers(cell) | {line.strip() for line in make_student.CODE_STUB.splitlines()}
        allowed.add("YOUR ANSWER HERE")  # nbgrader's stub for a written answer
        leaked = [line for line in learner_cells[grade_id].source.splitlines() if line.strip() not in allowed]
        assert not leaked, f"{path.name} {grade_id}: lines of the solution or hidden tests: {leaked}"
        if "### BEGIN SOLUTION" in cell.source and cell.cell_type == "code":
            assert make_student.CODE_STUB.splitlines()[0] in learner_cells[grade_id].source, (
                f"{path.name} {grade_id}: no clearly marked place to write in"
            )


@needs_nbgrader
def test_committed_learners_exercises_are_what_the_generator_makes():
    problems = make_student.differences()
    assert not problems, "\n".join(problems) + "\nrun `make student` and commit notebooks/exercises/"


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_every_exercise_is_in_nbgrader_format_and_states_its_time_and_key(master):
    notebook = nbformat.read(master, as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), f"{master.name}: grade_ids must be unique"
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader")
        if "### BEGIN SOLUTION" in cell.source:
            assert meta and meta["solution"] and not meta["locked"] and meta["schema_version"] == 3, (
                master.name
            )
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert meta and meta["grade"] and meta["locked"] and meta["points"] > 0, master.name
    assert graded_cells(notebook), f"{master.name} has no autograded test cell"
    introduction = "\n".join(c.source for c in notebook.cells[:3] if c.cell_type == "markdown")
    assert re.search(r"\*\*Time:\*\* about \d+ minutes", introduction), (
        f"{master.name}: say how long it takes"
    )
    assert f"teacher/exercises/{master.name}" in introduction and "make answer-key" in introduction, (
        f"{master.name}: say where teachers find the worked solutions"
    )


@needs_nbgrader
@pytest.mark.notebook
@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_unsolved_learners_exercise_fails_its_checks_with_feedback(master):
    """Run the learner's version before anything is written: each graded cell must fail with feedback.

    Runs what make_student makes from the teacher's version (the test above checks it is what is committed)."""
    from nbclient import NotebookClient

    notebook = nbformat.reads(make_student.student_version(master), as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(LEARNER_EXERCISES)}},
    ).execute()
    for cell in graded_cells(notebook):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        assert errors, f"{master.name} {grade_id}: an unsolved exercise passed its test cell"
        (error,) = errors
        assert error.ename == "CheckFailed", (
            f"{master.name} {grade_id}: crashed with {error.ename}: {error.evalue}"
        )
        assert "NotImplementedError" in error.evalue and "Hint:" in error.evalue, error.evalue


@needs_nbgrader
def test_generator_writes_only_what_changed_and_check_mode_reports_drift(tmp_path, capsys):
    dest = tmp_path / "exercises"
    assert len(make_student.make_student(dest=dest)) == len(MASTERS)
    assert make_student.make_student(dest=dest) == []  # nothing changed, nothing rewritten
    assert make_student.main(["--dest", str(dest), "--check"]) == 0

    stale = dest / MASTERS[0].name
    stale.write_text(stale.read_text().replace("# YOUR CODE HERE", "# an old stub"))
    (dest / "ex99_someones_own.ipynb").write_text("{}")
    assert make_student.main(["--dest", str(dest), "--check"]) == 1
    message = capsys.readouterr().err
    assert (
        f"{stale} is out of date" in message and "ex99_someones_own.ipynb has no teacher's version" in message
    )
    assert make_student.main(["--dest", str(dest)]) == 0
    assert make_student.differences(dest=dest) == [
        f"{dest / 'ex99_someones_own.ipynb'} has no teacher's version in {TEACHER_EXERCISES}"
    ]
    assert (dest / "ex99_someones_own.ipynb").read_text() == "{}"  # reported, never deleted


def test_missing_nbgrader_is_a_clear_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "nbgrader.preprocessors", None)  # makes the import fail
    assert make_student.main(["--dest", str(tmp_path / "exercises")]) == 1
    assert 'pip install -e ".[teach]"' in capsys.readouterr().err
    assert not (tmp_path / "exercises").exists()


@needs_nbgrader
def test_an_exercise_with_an_unclosed_solution_is_refused_by_name_and_nothing_is_written(tmp_path):
    source = tmp_path / "teacher"
    source.mkdir()
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    cell.metadata["nbgrader"] = {
        "grade": False,
        "solution": True,
        "locked": False,
        "grade_id": "f",
        "schema_version": 3,
    }
    notebook.cells = [cell]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, source / "ex9_broken.ipynb")
    for master in MASTERS[:1]:
        (source / master.name).write_bytes(master.read_bytes())
    with pytest.raises(make_student.StudentCopyError, match="ex9_broken.ipynb"):
        make_student.make_student(source=source, dest=tmp_path / "exercises")
    assert not (tmp_path / "exercises").exists()
