"""Student copies: solutions and hidden tests gone, checks fail with feedback, and nobody's work is overwritten.

Needs nbgrader, the optional teach extra (pip install -e ".[teach]"); without it these tests skip, except
the one that checks the script's message for a missing nbgrader.
"""

import importlib.util
import json
import re
import sys

import nbformat
import pytest
from paths import NOTEBOOKS, ROOT

HAS_NBGRADER = importlib.util.find_spec("nbgrader") is not None
needs_nbgrader = pytest.mark.skipif(
    not HAS_NBGRADER,
    reason='nbgrader is not installed: it is the optional teach extra, pip install -e ".[teach]"',
)

sys.path.insert(0, str(ROOT / "scripts"))
import make_student  # noqa: E402

MASTERS = sorted((NOTEBOOKS / "exercises").glob("*.ipynb"))


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    if not HAS_NBGRADER:
        pytest.skip('nbgrader is not installed: it is the optional teach extra, pip install -e ".[teach]"')
    dest = tmp_path_factory.mktemp("student")
    make_student.make_student(dest=dest)
    return dest


def graded_cells(notebook):
    return [
        c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    ]


def test_every_master_is_in_nbgrader_format():
    assert len(MASTERS) >= 4
    for path in MASTERS:
        notebook = nbformat.read(path, as_version=4)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids)), f"{path.name}: grade_ids must be unique"
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader")
            if "### BEGIN SOLUTION" in cell.source:
                assert meta and meta["solution"] and not meta["locked"] and meta["schema_version"] == 3, (
                    path.name
                )
            if "### BEGIN HIDDEN TESTS" in cell.source:
                assert meta and meta["grade"] and meta["locked"] and meta["points"] > 0, path.name
        assert graded_cells(notebook), f"{path.name} has no autograded test cell"


@needs_nbgrader
def test_student_copies_have_no_solutions_no_hidden_tests_no_outputs(student_dir):
    for master in MASTERS:
        copy = nbformat.read(student_dir / master.name, as_version=4)
        text = "\n".join(cell.source for cell in copy.cells)
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, master.name
        assert "raise NotImplementedError()" in text, master.name
        assert all(not c.get("outputs") for c in copy.cells if c.cell_type == "code")
        copy_cells = {c.metadata["nbgrader"]["grade_id"]: c for c in copy.cells if "nbgrader" in c.metadata}
        for cell in nbformat.read(master, as_version=4).cells:
            if "### BEGIN SOLUTION" not in cell.source:
                continue
            # Every line of the copy's cell is either outside the master's solution region or the stub.
            outside = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", cell.source, flags=re.DOTALL)
            allowed = {line.strip() for line in outside.splitlines()}
            allowed |= {"# YOUR CODE HERE", "raise NotImplementedError()"}
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            leaked = [
                line for line in copy_cells[grade_id].source.splitlines() if line.strip() not in allowed
            ]
            assert not leaked, f"{master.name} {grade_id}: solution lines in the student copy: {leaked}"


@needs_nbgrader
@pytest.mark.notebook
@pytest.mark.parametrize("name", [m.name for m in MASTERS])
def test_unfilled_student_copy_fails_its_checks_with_feedback(student_dir, name):
    """Run the copy as a student would before writing anything: each graded cell must fail with feedback."""
    from nbclient import NotebookClient

    notebook = nbformat.read(student_dir / name, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(student_dir)}},
    ).execute()
    for cell in graded_cells(notebook):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        assert errors, f"{name} {grade_id}: an unfilled exercise passed its test cell"
        (error,) = errors
        assert error.ename == "CheckFailed", f"{name} {grade_id}: crashed with {error.ename}: {error.evalue}"
        assert "NotImplementedError" in error.evalue and "Hint:" in error.evalue, error.evalue


@needs_nbgrader
def test_refuses_to_overwrite_a_modified_copy_and_force_backs_it_up(tmp_path, capsys):
    dest = tmp_path / "student"
    make_student.make_student(dest=dest)
    assert make_student.make_student(dest=dest)  # unchanged copies are regenerated without complaint

    worked_on = dest / MASTERS[0].name
    work = worked_on.read_text(encoding="utf-8").replace(
        "raise NotImplementedError()", "return 42  # my answer"
    )
    worked_on.write_text(work, encoding="utf-8")
    stranger = dest / MASTERS[1].name
    stranger_work = "a file this script never wrote"
    stranger.write_text(stranger_work, encoding="utf-8")
    (dest / make_student.MANIFEST_NAME).write_text(
        json.dumps(
            {"files": {k: v for k, v in make_student.read_manifest(dest).items() if k != MASTERS[1].name}}
        )
    )
    before = {path.name: path.read_bytes() for path in dest.iterdir() if path.is_file()}

    assert make_student.main(["--dest", str(dest)]) == 1
    message = capsys.readouterr().err
    assert str(worked_on) in message and str(stranger) in message and "FORCE=1" in message
    assert "Nothing was written" in message
    assert {path.name: path.read_bytes() for path in dest.iterdir() if path.is_file()} == before

    assert make_student.main(["--dest", str(dest), "--force"]) == 0
    assert "my answer" not in worked_on.read_text(encoding="utf-8")
    backups = sorted((dest / make_student.BACKUP_DIR_NAME).iterdir())
    assert {b.read_text(encoding="utf-8") for b in backups} == {work, stranger_work}
    assert make_student.main(["--dest", str(dest)]) == 0  # and the record is up to date again


def test_missing_nbgrader_is_a_clear_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "nbgrader.preprocessors", None)  # makes the import fail
    assert make_student.main(["--dest", str(tmp_path / "student")]) == 1
    assert 'pip install -e ".[teach]"' in capsys.readouterr().err
    assert not (tmp_path / "student").exists()


@needs_nbgrader
def test_a_master_with_an_unclosed_solution_is_refused_by_name(tmp_path):
    source = tmp_path / "masters"
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
    nbformat.write(notebook, source / "broken.ipynb")
    with pytest.raises(make_student.StudentCopyError, match="broken.ipynb"):
        make_student.make_student(source=source, dest=tmp_path / "student")
    assert not (tmp_path / "student").exists()
