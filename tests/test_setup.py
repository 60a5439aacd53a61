"""The set-up entry point, bnlib/course.py: a failed venv never blocks the next attempt, a too old Python gets a
clear message, and PyTorch's CPU build is the default. The full install is exercised by CI's own `make test`
(a fresh clone) and, offline, by test_wheelhouse.py."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bnlib import course
from coursetools.paths import ROOT

# What Debian and Ubuntu do without the python3-venv package: the folder and its python appear, pip does not,
# and the command fails.
DEBIAN_LIKE_VENV = """#!{python}
import subprocess, sys
if sys.argv[1:3] == ["-m", "venv"]:
    subprocess.check_call([{python!r}, "-m", "venv", "--without-pip", *sys.argv[3:]])
    sys.exit("The virtual environment was not created successfully because ensurepip is not available.")
sys.exit(subprocess.call([{python!r}, *sys.argv[1:]]))
"""


@pytest.fixture
def debian_python(tmp_path):
    """A Python whose `-m venv` fails half-way, leaving a venv without pip, as on Debian without python3-venv."""
    script = tmp_path / "debian-python"
    script.write_text(DEBIAN_LIKE_VENV.format(python=sys.executable))
    script.chmod(0o755)
    return script


def test_a_failed_venv_creation_leaves_nothing_and_the_next_attempt_works(tmp_path, debian_python):
    # The stand-in fails as Debian's does: status 1, a venv without pip left behind.
    left_behind = tmp_path / "as-debian-leaves-it"
    assert subprocess.run([debian_python, "-m", "venv", left_behind], capture_output=True).returncode == 1
    assert "cannot import pip" in course.venv_problem(left_behind)

    venv = tmp_path / ".venv"
    with pytest.raises(course.SetupError, match="python3-venv") as failure:
        course.ensure_venv(venv, base_python=debian_python)
    assert "failed with status 1" in str(failure.value)
    assert not venv.exists(), "the half-made venv was left behind and would break the next attempt"

    python = course.ensure_venv(venv, base_python=sys.executable)
    assert course.venv_problem(venv) is None
    assert python == course.venv_python(venv)


def test_a_venv_left_without_pip_is_made_again(tmp_path):
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / "left-over").write_text("from the broken attempt")
    assert "cannot import pip" in course.venv_problem(venv)

    course.ensure_venv(venv, base_python=sys.executable)
    assert course.venv_problem(venv) is None
    assert not (venv / "left-over").exists()


def test_a_healthy_venv_is_kept(tmp_path):
    venv = tmp_path / ".venv"
    course.ensure_venv(venv, base_python=sys.executable)
    (venv / "kept").write_text("")
    course.ensure_venv(venv, base_python=sys.executable)
    assert (venv / "kept").exists()


def test_python_range_is_stated_once_and_honestly():
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">={}.{}".format(*course.SUPPORTED_PYTHON)
    assert course.python_version_problem((3, 11, 0)) is None
    message = course.python_version_problem((3, 10, 12), "/usr/bin/python3")
    assert "needs Python 3.11 or newer" in message and "3.10.12" in message and "PYTHON=" in message


def older_pythons():
    """Pythons older than the course supports that this machine happens to have (pyenv keeps several)."""
    found = {shutil.which(f"python3.{minor}") for minor in range(6, course.SUPPORTED_PYTHON[1])}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found |= {str(p) for p in pyenv.glob("3.*/bin/python3")}
    runnable = []
    for python in sorted(p for p in found if p):
        version = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[:2] < (3, 11))"],
            capture_output=True,
            text=True,
        )
        if version.stdout.strip() == "True":
            runnable.append(python)
    return runnable


def test_an_old_python_gets_a_message_not_a_traceback():
    pythons = older_pythons()
    if not pythons:
        pytest.skip("no Python older than 3.11 on this machine")
    for python in pythons:
        result = subprocess.run(
            [python, "-m", "bnlib.course", "lab"], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 2, (python, result.stderr)
        assert "needs Python 3.11 or newer" in result.stderr and "Traceback" not in result.stderr, (
            result.stderr
        )
    # and through make, which must fail too
    result = subprocess.run(
        ["make", "-s", "lab", f"PYTHON={pythons[-1]}"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0 and "needs Python 3.11 or newer" in result.stderr


def test_cpu_build_by_default_and_cuda_only_with_an_nvidia_gpu(monkeypatch):
    monkeypatch.setattr(course, "has_nvidia_gpu", lambda: False)
    assert course.resolve_torch_choice("auto") == "cpu"
    monkeypatch.setattr(course, "has_nvidia_gpu", lambda: True)
    assert course.resolve_torch_choice("auto") == "cuda"
    assert course.resolve_torch_choice("cpu") == "cpu"  # the override, both ways
    monkeypatch.setattr(course, "has_nvidia_gpu", lambda: False)
    assert course.resolve_torch_choice("cuda") == "cuda"
    # On Linux the CPU build is asked for by its +cpu label, so PyPI's CUDA wheel can never stand in for it.
    assert course.torch_requirement("cpu", "2.13.0", "linux") == "torch==2.13.0+cpu"
    assert course.torch_requirement("cuda", "2.13.0", "linux") == "torch==2.13.0"
    assert course.torch_requirement("cpu", "2.13.0", "windows") == "torch==2.13.0"


def test_an_unreachable_cpu_index_costs_seconds_and_falls_back_to_pips_sources(monkeypatch):
    monkeypatch.setattr(course, "TORCH_CPU_INDEX", "https://unreachable.invalid/whl/cpu")
    start = time.perf_counter()
    assert course.torch_sources("cpu", "linux") == []
    assert time.perf_counter() - start < 6
    monkeypatch.setattr(course, "host_reachable", lambda url: True)
    assert course.torch_sources("cpu", "linux") == ["--index-url", "https://unreachable.invalid/whl/cpu"]
    assert course.torch_sources("cpu", "macos") == []  # PyPI's macOS and Windows wheels are CPU builds


def test_a_torch_in_the_venv_is_kept_unless_the_other_build_is_asked_for():
    assert course.torch_build_kept("2.13.0+cpu", "cuda", None, explicit=False)
    assert course.torch_build_kept("2.13.0+cpu", "cpu", None, explicit=True)
    assert not course.torch_build_kept("2.13.0+cpu", "cuda", None, explicit=True)
    assert not course.torch_build_kept("2.13.0", "cpu", "cuda", explicit=True)


def test_makefile_targets_delegate_to_the_entry_point():
    """One implementation: make's set-up targets only call python -m bnlib.course."""
    for target, expected in [
        ("lab", "-m bnlib.course lab"),
        ("test", "-m bnlib.course test"),
        ("lint", "-m bnlib.course lint"),
        ("wheelhouse", "-m bnlib.course wheelhouse"),
    ]:
        dry_run = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True)
        assert expected in dry_run.stdout, (target, dry_run.stdout)
    dry_run = subprocess.run(
        ["make", "-n", "lab", "TORCH=cuda", "WHEELHOUSE=/w"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--torch cuda" in dry_run and "--wheelhouse /w" in dry_run


def test_lab_serves_the_learner_folder_on_localhost_with_a_token():
    """`python -m bnlib.course lab`, as make lab and Windows run it, against the project's own .venv."""
    if course.venv_problem(course.VENV) is not None:
        if os.environ.get("CI"):
            pytest.fail(f".venv is missing or broken in CI: {course.venv_problem(course.VENV)}")
        pytest.skip("no usable .venv in this checkout (make test creates it)")
    import signal
    import socket
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lab = subprocess.Popen(
        [sys.executable, "-m", "bnlib.course", "lab", "--port", str(port), "--ServerApp.open_browser=False"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        link = next(line for line in lab.stdout if "JupyterLab: http://127.0.0.1:" in line).split()[-1]
        token = link.split("token=")[1]
        api = f"http://127.0.0.1:{port}/api/contents/"
        deadline = time.monotonic() + 60
        while True:
            try:
                listing = json.loads(urllib.request.urlopen(f"{api}?token={token}", timeout=5).read())
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and lab.poll() is None, "JupyterLab did not start"
                time.sleep(0.5)
        served = {item["name"] for item in listing["content"]}
        assert "00_start_here.ipynb" in served, served
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(api, timeout=5)
        assert refused.value.code == 403  # without the token
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
