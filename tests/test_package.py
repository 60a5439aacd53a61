"""bnlib's lazy top-level names all resolve to real objects of the modules they name; every module is short
enough to read in one sitting and listed where bnlib describes itself; every front-end file ships."""

import fnmatch
import importlib
import pkgutil

import pytest
import tomllib

import bnlib
from coursetools.paths import ROOT


@pytest.mark.parametrize("name", bnlib.__all__)
def test_every_exported_name_resolves(name):
    module = importlib.import_module(f"bnlib.{bnlib._EXPORTS[name]}")
    assert getattr(bnlib, name) is getattr(module, name)


def test_unknown_name_is_a_clear_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'batchnorm_fwd'"):
        bnlib.batchnorm_fwd  # noqa: B018


MODULES = [m.name for m in pkgutil.walk_packages(bnlib.__path__, prefix="bnlib.")]


def test_no_module_is_longer_than_700_lines():
    lengths = {
        name: len(importlib.util.find_spec(name).loader.get_source(name).splitlines()) for name in MODULES
    }
    assert not {name: n for name, n in lengths.items() if n > 700}, "split a module by concept"


def test_every_top_level_module_is_described_in_bnlib_docstring():
    top_level = {
        name.split(".")[1] for name in MODULES if name.count(".") == 1 and not name.startswith("bnlib._")
    }
    described = {
        line.split()[0] for line in bnlib.__doc__.splitlines() if line.startswith("    ") and line.split()
    }
    assert top_level <= described, top_level - described


def test_every_front_end_file_ships_as_package_data():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in (ROOT / "bnlib").rglob("*.js"):
        package = ".".join(path.parent.relative_to(ROOT).parts)
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in package_data.get(package, [])), path
