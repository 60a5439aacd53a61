"""Learners' own copies (bnlib.workspace): course updates arrive, and a learner's edit is never overwritten."""

import json

import pytest

from bnlib import workspace
from bnlib.workspace import WorkspaceError, main, prepare_workspace, reset_notebook
from coursetools.paths import NOTEBOOKS, ROOT


@pytest.fixture
def course(tmp_path):
    folder = tmp_path / "course"
    (folder / "exercises").mkdir(parents=True)
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / "01_intro.ipynb").write_text("intro v1")
    (folder / "02_loss_surface.ipynb").write_text("surface v1")
    (folder / "exercises" / "ex1_forward.ipynb").write_text("ex1 v1")
    (folder / ".ipynb_checkpoints" / "01_intro-checkpoint.ipynb").write_text("not course material")
    return folder


@pytest.fixture
def mine(tmp_path):
    return tmp_path / "mine"


def files(folder):
    """Relative path -> text of every file under ``folder`` except the record."""
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != workspace.RECORD_NAME
    }


def test_first_prepare_copies_the_course_and_a_second_changes_nothing(course, mine):
    changes = prepare_workspace(course, mine)
    assert files(mine) == {
        "01_intro.ipynb": "intro v1",
        "02_loss_surface.ipynb": "surface v1",
        "exercises/ex1_forward.ipynb": "ex1 v1",
    }
    assert {c.kind for c in changes} == {"new"} and len(changes) == 3
    assert prepare_workspace(course, mine) == []


def test_an_untouched_copy_follows_the_course(course, mine):
    prepare_workspace(course, mine)
    (course / "01_intro.ipynb").write_text("intro v2")
    (course / "03_new.ipynb").write_text("new notebook")
    changes = prepare_workspace(course, mine)
    assert {(c.path.name, c.kind) for c in changes} == {
        ("01_intro.ipynb", "updated"),
        ("03_new.ipynb", "new"),
    }
    assert (mine / "01_intro.ipynb").read_text() == "intro v2"
    assert (mine / "03_new.ipynb").read_text() == "new notebook"


def test_an_edited_copy_is_never_overwritten_and_the_update_goes_beside_it(course, mine):
    prepare_workspace(course, mine)
    edited = mine / "02_loss_surface.ipynb"
    edited.write_text("surface v1 + my notes")
    assert prepare_workspace(course, mine) == []  # nothing new in the course: nothing to say

    (course / "02_loss_surface.ipynb").write_text("surface v2")
    (change,) = prepare_workspace(course, mine)
    assert edited.read_text() == "surface v1 + my notes"
    assert change.kind == "beside" and change.path.read_text() == "surface v2"
    assert change.path.parent == mine and change.path.name.startswith("02_loss_surface.course-update-")
    assert "kept your edited 02_loss_surface.ipynb" in change.message and change.path.name in change.message

    assert prepare_workspace(course, mine) == []  # that update was delivered once, not on every start
    (course / "02_loss_surface.ipynb").write_text("surface v3")
    (second,) = prepare_workspace(course, mine)
    assert second.path != change.path and second.path.read_text() == "surface v3"
    assert change.path.read_text() == "surface v2" and edited.read_text() == "surface v1 + my notes"


def test_learners_own_files_and_retired_notebooks_are_left_alone(course, mine):
    prepare_workspace(course, mine)
    (mine / "my_experiment.ipynb").write_text("mine")
    (course / "exercises" / "ex1_forward.ipynb").unlink()
    assert prepare_workspace(course, mine) == []
    assert (mine / "my_experiment.ipynb").read_text() == "mine"
    assert (mine / "exercises" / "ex1_forward.ipynb").read_text() == "ex1 v1"


def test_without_a_record_a_differing_copy_counts_as_edited(course, mine):
    mine.mkdir()
    (mine / "01_intro.ipynb").write_text("intro v1")  # same as the course: adopted silently
    (mine / "02_loss_surface.ipynb").write_text("written before any record existed")
    changes = prepare_workspace(course, mine)
    assert (mine / "02_loss_surface.ipynb").read_text() == "written before any record existed"
    assert {(c.path.name.split(".")[0], c.kind) for c in changes} == {
        ("02_loss_surface", "beside"),
        ("ex1_forward", "new"),
    }


def test_an_unreadable_record_changes_nothing_and_says_what_to_do(course, mine):
    prepare_workspace(course, mine)
    (course / "01_intro.ipynb").write_text("intro v2")
    (mine / workspace.RECORD_NAME).write_text("{not json")
    before = files(mine)
    with pytest.raises(WorkspaceError, match="nothing was changed. Delete that file"):
        prepare_workspace(course, mine)
    assert files(mine) == before


def test_reset_keeps_the_old_copy_as_a_backup(course, mine):
    prepare_workspace(course, mine)
    edited = mine / "02_loss_surface.ipynb"
    edited.write_text("my half-finished work")
    change = reset_notebook("02", course, mine)  # the start of a name is enough when it is unambiguous
    assert edited.read_text() == "surface v1"
    (backup,) = (mine / workspace.BACKUPS).iterdir()
    assert backup.read_text() == "my half-finished work" and backup.name in change.message
    assert prepare_workspace(course, mine) == []  # the fresh copy counts as untouched again

    reset_notebook("exercises/ex1_forward.ipynb", course, mine)  # unchanged: no backup needed
    assert len(list((mine / workspace.BACKUPS).rglob("*.ipynb"))) == 1


@pytest.mark.parametrize(
    ("name", "expected"), [("0", "names 2 notebooks"), ("09_missing", "no course notebook")]
)
def test_reset_with_a_wrong_name_lists_the_notebooks_and_changes_nothing(course, mine, name, expected):
    prepare_workspace(course, mine)
    (mine / "01_intro.ipynb").write_text("my work")
    before = files(mine)
    with pytest.raises(WorkspaceError, match=expected) as error:
        reset_notebook(name, course, mine)
    assert "01_intro" in str(error.value) and files(mine) == before


def test_command_line(course, mine, capsys):
    args = ["--course", str(course), "--workspace", str(mine)]
    assert main([*args, "prepare"]) == 0
    assert "copied 01_intro.ipynb" in capsys.readouterr().out
    (mine / "01_intro.ipynb").write_text("my work")
    assert main([*args, "reset", "01_intro"]) == 0
    assert "your previous one is kept as backups/01_intro." in capsys.readouterr().out
    assert main([*args, "reset", ""]) == 1
    assert "make reset NB=" in capsys.readouterr().err
    record = json.loads((mine / workspace.RECORD_NAME).read_text())["copies"]
    assert set(record) == {"01_intro.ipynb", "02_loss_surface.ipynb", "exercises/ex1_forward.ipynb"}


def test_the_real_course_and_make_lab_serve_the_learners_copies(tmp_path):
    assert workspace.COURSE == NOTEBOOKS and workspace.WORKSPACE.parent == ROOT
    prepare_workspace(NOTEBOOKS, tmp_path)
    copied = {p.relative_to(tmp_path) for p in tmp_path.rglob("*.ipynb")}
    assert copied == {
        p.relative_to(NOTEBOOKS) for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    }
    lab_recipe = (ROOT / "Makefile").read_text().partition("\nlab:")[2].partition("\n\n")[0]
    launcher = ROOT / "bnlib" / "course.py"  # a cross-platform launcher, if make lab calls one
    if "bnlib.course" in lab_recipe and launcher.exists():
        lab_recipe = launcher.read_text()
        assert "workspace" in lab_recipe, "the launcher must prepare the learners' copies (bnlib.workspace)"
    else:
        assert "bnlib.workspace prepare" in lab_recipe, "make lab must prepare the learners' copies"
        assert f"root_dir={workspace.WORKSPACE.name}" in lab_recipe, (
            "make lab must serve the learners' copies"
        )
    assert "root_dir=notebooks" not in lab_recipe, "serving notebooks/ would put learners' edits in git's way"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert f"{workspace.WORKSPACE.name}/" in ignored, "learners' copies must never be tracked by git"
