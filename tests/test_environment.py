"""The two dependency lists (pip's pyproject.toml, conda's environment.yml) name the same packages and versions,
and importing bnlib stays light."""

import re
import subprocess
import sys

import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from coursetools.paths import ROOT

# conda-forge spells some packages differently from PyPI.
CONDA_NAME = {"torch": "pytorch-cpu"}
CONDA_ONLY = {"python", "pip"}


def split_requirement(text: str) -> tuple[str, SpecifierSet]:
    """'numpy>=1.24' -> ('numpy', SpecifierSet('>=1.24')): PEP 508 parsing, so `<9,>=8.1` equals `>=8.1,<9`."""
    requirement = Requirement(text)
    return canonicalize_name(requirement.name), requirement.specifier


def pyproject_dependencies() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(split_requirement(r) for r in project["dependencies"])


def conda_dependencies() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    # conda's own entries (`python=3.11`, `pip`) are not PEP 508 requirements: drop them before parsing.
    entries = [e for e in environment["dependencies"] if isinstance(e, str)]
    entries = [e for e in entries if re.split(r"[<>=!~ ]", e, maxsplit=1)[0] not in CONDA_ONLY]
    return dict(map(split_requirement, entries))


def test_environment_yml_matches_pyproject():
    expected = {CONDA_NAME.get(name, name): spec for name, spec in pyproject_dependencies().items()}
    actual = conda_dependencies()
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differing = sorted(n for n in set(expected) & set(actual) if expected[n] != actual[n])
    assert not (missing or extra or differing), (
        f"environment.yml and pyproject.toml drifted apart: missing in environment.yml {missing}, "
        f"not in pyproject.toml {extra}, different versions {[(n, expected[n], actual[n]) for n in differing]}. "
        "Edit both lists together."
    )


def test_binder_pins_the_lowest_supported_python():
    """repo2docker honours only `python=X.Y`; it must be the minimum of pyproject's requires-python."""
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = [e for e in environment["dependencies"] if isinstance(e, str) and e.startswith("python")]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires.startswith(">=")
    assert pins == [f"python={requires[2:]}"], f"environment.yml pins {pins}; requires-python is {requires}"


def test_the_drift_check_notices_a_change():
    assert split_requirement("ipywidgets>=8.1,<9") == ("ipywidgets", SpecifierSet(">=8.1,<9"))
    assert split_requirement("Scikit_Learn <2, >=1.3") == ("scikit-learn", SpecifierSet(">=1.3,<2"))
    assert split_requirement("numpy>=1.24") != split_requirement("numpy>=1.25")


def test_import_bnlib_loads_neither_torch_nor_matplotlib():
    code = (
        "import sys, bnlib; bnlib.batchnorm_forward; bnlib.BatchNorm; bnlib.height_age; "
        "heavy = [m for m in ('torch', 'matplotlib', 'sklearn', 'ipywidgets') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"import bnlib pulled in: {result.stdout.strip()}"
