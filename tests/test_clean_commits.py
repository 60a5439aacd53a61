"""The commit hook that strips notebook outputs (.pre-commit-config.yaml, nbstripout) agrees with the test that
stored notebooks are clean (tests/test_notebooks.py): it leaves every stored notebook as it is, and it keeps
the cell ids that the question map's links name."""

import shlex
import subprocess
import sys

import nbformat
import yaml

from coursetools.paths import NOTEBOOKS, ROOT, TEACHER_EXERCISES

HOOKS = ROOT / ".pre-commit-config.yaml"


def strip_command() -> list[str]:
    """The nbstripout command the commit hook runs, as a list of arguments."""
    hooks = [hook for repo in yaml.safe_load(HOOKS.read_text())["repos"] for hook in repo["hooks"]]
    (hook,) = [hook for hook in hooks if hook["id"] == "nbstripout"]
    assert hook["types"] == ["jupyter"], "the hook must see every notebook"
    program, *arguments = shlex.split(hook["entry"])
    assert program == "nbstripout" and "--keep-id" in arguments, "cell ids are link targets: keep them"
    return [sys.executable, "-m", "nbstripout", *arguments]


def stored_notebooks():
    found = [*NOTEBOOKS.rglob("*.ipynb"), *TEACHER_EXERCISES.rglob("*.ipynb")]
    return sorted(p for p in found if ".ipynb_checkpoints" not in p.parts)


def test_the_hook_leaves_every_stored_notebook_as_it_is():
    result = subprocess.run(
        [*strip_command(), "--verify", *map(str, stored_notebooks())], capture_output=True, text=True
    )
    assert result.returncode == 0, f"the commit hook would change these notebooks:\n{result.stdout}"


def test_the_hook_strips_outputs_and_keeps_cell_ids(tmp_path):
    cell = nbformat.v4.new_code_cell("print(1)", id="link-target")
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    cell.execution_count = 3
    path = tmp_path / "worked_on.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    assert subprocess.run([*strip_command(), "--verify", str(path)], capture_output=True).returncode != 0
    subprocess.run([*strip_command(), str(path)], check=True)
    (stripped,) = nbformat.read(path, as_version=4).cells
    assert stripped.outputs == [] and stripped.execution_count is None and stripped.id == "link-target"
