"""The course's own tools are one importable package (coursetools), shared by tests, benchmarks and the
Makefile's targets, with no import-path edits anywhere, and none of it ships in the package learners install."""

import pkgutil
import re
import subprocess
import sys

import pytest
import tomllib
from setuptools import find_packages

import benchmarks
import coursetools
from coursetools.paths import ROOT

TOOLING = [
    module.name
    for package in (coursetools, benchmarks)
    for module in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")
]
PATH_EDIT = re.compile(r"sys\.path\s*(\.insert|\.append|\[|\+=|=)")


def test_the_tooling_is_found():
    assert {"coursetools.paths", "coursetools.browser.harness", "coursetools.screenshots"} <= set(TOOLING)
    assert {"benchmarks.run_all", "benchmarks.bench_browser"} <= set(TOOLING)


def test_every_tool_imports_from_the_project_folder_as_make_runs_it():
    """`python -m coursetools.X` and `python -m benchmarks.X` from the project folder, in a fresh interpreter:
    catches a broken import in a tool no test imports (screenshots, the benchmarks)."""
    code = "import importlib, sys; [importlib.import_module(name) for name in sys.argv[1:]]"
    subprocess.run([sys.executable, "-c", code, *TOOLING], cwd=ROOT, check=True, capture_output=True)


@pytest.mark.parametrize("folder", ["tests", "coursetools", "benchmarks", "bnlib"])
def test_no_module_edits_the_import_path(folder):
    edits = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PATH_EDIT.search(line)
    ]
    assert not edits, f"import coursetools (or bnlib) by name instead of editing sys.path: {edits}"


def test_only_bnlib_is_installed_for_learners():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = find_packages(
        where=str(ROOT), include=config["tool"]["setuptools"]["packages"]["find"]["include"]
    )
    assert "bnlib" in packages and "bnlib.panels" in packages and "bnlib.checks" in packages
    assert not [p for p in packages if not p.startswith("bnlib")], packages


def test_modules_named_here_are_the_modules_there_are():
    """coursetools' docstring lists its modules: the list stays true as the package changes."""
    listed = set(re.findall(r"^    (\w+)/?\s", coursetools.__doc__, flags=re.M))
    present = {name for _, name, _ in pkgutil.iter_modules(coursetools.__path__)}
    assert listed == present
