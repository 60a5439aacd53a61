"""An offline classroom: the teacher's wheelhouse holds every wheel the course needs, and a student installs
from it with no network at all, starting from the broken .venv a failed attempt leaves behind.

CI builds and installs the Linux wheelhouse only; the wheelhouses for macOS and Windows come from the same
command, and the test of environment markers below shows they get their own platform's packages."""

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

from bnlib import course
from coursetools.paths import ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="CI builds and installs the Linux wheelhouse")


def offline_environment(home):
    """No pip configuration, no index, no find-links from the machine: only what the command line gives."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "PYTHON"))}
    # An attempt to reach an index fails at once rather than after pip's retries, so a breach fails quickly.
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        HOME=str(home),
        PIP_NO_CACHE_DIR="1",
        PIP_RETRIES="0",
        PIP_TIMEOUT="5",
        # Should anything still reach for the network, it meets a closed port.
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        no_proxy="",
    )
    return env


def without_network(command):
    """Run in a network namespace with no interfaces (root, as in CI); else rely on the dead proxy."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True).returncode == 0:
        return [unshare, "--net", *command]
    return command


@pytest.fixture(scope="module")
def linux_wheelhouse(tmp_path_factory):
    dest = tmp_path_factory.mktemp("wheelhouse")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bnlib.course", "wheelhouse", "--platform", "linux", "--dest", dest],
        cwd=ROOT,
        check=True,
    )
    print(f"wheelhouse built in {time.perf_counter() - start:.0f} s")
    return dest


def test_student_installs_from_the_wheelhouse_with_no_network(linux_wheelhouse, tmp_path):
    project = tmp_path / "course"
    shutil.copytree(ROOT / "bnlib", project / "bnlib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(linux_wheelhouse, project / "wheelhouse")  # as a teacher hands it out: next to the course
    # What an interrupted first attempt leaves: a .venv without pip.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", project / ".venv"], check=True)

    start = time.perf_counter()
    result = subprocess.run(
        without_network([sys.executable, "-m", "bnlib.course", "setup"]),
        cwd=project,
        env=offline_environment(tmp_path),
        capture_output=True,
        text=True,
    )
    print(f"offline install in {time.perf_counter() - start:.0f} s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "unusable" in result.stdout and "no network" in result.stdout
    # pip treats an unreachable index as a warning and takes the wheels from --find-links anyway, so the install
    # above would pass even if pip asked an index first; on a laptop without network each such attempt costs
    # pip's retries (about 8 s per package). Every pip run must have been told --no-index.
    pip_runs = [line for line in result.stdout.splitlines() if " -m pip install" in line]
    assert pip_runs and all("--no-index" in line for line in pip_runs), pip_runs

    python = project / ".venv" / "bin" / "python"
    check = (
        "import json, bnlib, torch, jupyterlab, ipympl, ipywidgets, sklearn, matplotlib\n"
        "x = torch.arange(6.0).reshape(3, 2)\n"
        "y = bnlib.batchnorm_forward(x.numpy(), gamma=torch.ones(2).numpy(), beta=torch.zeros(2).numpy())[0]\n"
        "print(json.dumps({'bnlib': bnlib.__file__, 'torch': torch.__version__, 'mean': float(abs(y.mean()))}))"
    )
    # Run outside the project copy, so that bnlib must come from the installation, not the current folder.
    report = json.loads(
        subprocess.run(
            [python, "-c", check],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            env=offline_environment(tmp_path),
        ).stdout
    )
    assert report["bnlib"] == str(project / "bnlib" / "__init__.py"), report  # the editable install
    assert report["torch"].endswith("+cpu"), f"the wheelhouse holds a CUDA build of torch: {report}"
    assert report["mean"] < 1e-6
    pip_check = subprocess.run(
        [python, "-m", "pip", "check"], capture_output=True, text=True, env=offline_environment(tmp_path)
    )
    assert pip_check.returncode == 0, pip_check.stdout


def fake_wheel(folder, name, requires=()):
    """A minimal wheel whose metadata lists ``requires`` (with environment markers)."""
    info = f"{name}-1.0.dist-info"
    metadata = "Metadata-Version: 2.1\nName: {}\nVersion: 1.0\n{}".format(
        name, "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{info}/METADATA", metadata)
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")


@pytest.mark.parametrize(
    ("platform_name", "wanted", "unwanted"),
    [
        ("windows", "winonly", "linuxonly"),
        ("macos", "maconly", "winonly"),
        ("linux", "linuxonly", "maconly"),
    ],
)
def test_each_platforms_wheelhouse_follows_its_own_environment_markers(
    tmp_path, platform_name, wanted, unwanted
):
    """pip alone would judge `; sys_platform == "win32"` by the machine it runs on, not the students' one."""
    index = tmp_path / "index"
    index.mkdir()
    fake_wheel(
        index,
        "course",
        [
            'winonly; sys_platform == "win32"',
            'linuxonly; sys_platform == "linux"',
            'maconly; platform_system == "Darwin"',
        ],
    )
    for name in ("winonly", "linuxonly", "maconly"):
        fake_wheel(index, name)
    dest = tmp_path / "dest"
    course.pip_download(platform_name, "3.11", dest, ["course"], ["--no-index", "--find-links", str(index)])
    downloaded = {path.name.split("-")[0] for path in dest.glob("*.whl")}
    assert wanted in downloaded and unwanted not in downloaded, downloaded


def test_a_wheelhouse_without_this_machines_folder_says_which_one_it_needs(tmp_path, monkeypatch):
    (tmp_path / "windows-amd64-cp311").mkdir()
    with pytest.raises(course.SetupError) as problem:
        course.find_wheelhouse(tmp_path)
    message = str(problem.value)
    assert "windows-amd64-cp311" in message and course.this_machines_wheel_folder() in message
    (tmp_path / course.this_machines_wheel_folder()).mkdir()
    assert course.find_wheelhouse(tmp_path) == tmp_path / course.this_machines_wheel_folder()
    monkeypatch.setattr(course, "DEFAULT_WHEELHOUSE", tmp_path / "absent")
    assert course.find_wheelhouse(None) is None  # no wheelhouse: the ordinary online install
