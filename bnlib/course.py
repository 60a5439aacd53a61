"""The course's own commands, the same on Linux, macOS and Windows, with nothing installed beforehand.

    python -m bnlib.course lab          set up .venv if needed, then open JupyterLab on 127.0.0.1
    python -m bnlib.course test [ARGS]  set up .venv with the test tools, then ruff and pytest (ARGS go to pytest)
    python -m bnlib.course lint         ruff check and ruff format --check only
    python -m bnlib.course setup [--test]
    python -m bnlib.course wheelhouse [--platform linux macos windows] [--python 3.11 3.12] [--dest wheelhouse]

Run it from the project folder with the Python you have (3.11 or newer; on Windows ``py -m bnlib.course lab``).
It uses the standard library only: this file is what installs everything else. ``make lab``, ``make test``,
``make lint`` and ``make wheelhouse`` call it, so there is one implementation.

Setup, in order, each step skipped when already done:
1. ``.venv``: created with ``python -m venv``. A half-made one (no pip, a broken or too old Python) is
   removed and made again, so a failed attempt never blocks the next one.
2. PyTorch: the CPU build unless the machine has an NVIDIA GPU (``--torch cpu|cuda`` or the environment
   variable ``BNLIB_TORCH`` overrides). On Linux PyPI's default wheel carries CUDA (several GB); the CPU build
   comes from PyTorch's CPU index. When that index cannot be reached, pip's own sources (a find-links folder,
   a local index) are asked for the CPU build, and never silently for the CUDA one. A torch already in
   ``.venv`` is kept.
3. The course itself, editable (``pip install -e .``, with ``[test,teach,hub]`` for ``test``). A stamp in
   ``.venv`` records what was installed from which ``pyproject.toml``; an interrupted install leaves no stamp.

Offline: with ``--wheelhouse DIR`` (or a ``wheelhouse/`` folder in the project, as ``make wheelhouse`` leaves
it) every package comes from that folder and pip touches no network.

An old Python must get as far as ``main``'s version check to say that it is too old, so nothing in this file
is newer than Python 3.6 at import time: no newer syntax or annotations, and ``tomllib`` (3.11) is imported
inside the one function that needs it.
"""

import argparse
import hashlib
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from bnlib.wheel_platforms import WHEEL_PLATFORMS

SUPPORTED_PYTHON = (3, 11)
ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
CACHE = ROOT / ".cache"
DEFAULT_WHEELHOUSE = ROOT / "wheelhouse"

TORCH_VERSION = "2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CHOICES = ("auto", "cpu", "cuda")

# Extras per command: what `lab` needs, and what `test` needs on top.
LAB_EXTRAS = ()
TEST_EXTRAS = ("test", "teach", "hub")


class SetupError(Exception):
    """Something the person at the keyboard must act on; the message says what happened and what to do."""


# --- printing, running, paths -------------------------------------------------------------------------------
def say(message):
    print("[course] " + message, flush=True)


def python_version_problem(version_info=None, executable=None):
    """A clear message when this Python is too old for the course, else None."""
    version_info = version_info or sys.version_info
    if tuple(version_info[:2]) >= SUPPORTED_PYTHON:
        return None
    wanted = "{}.{}".format(*SUPPORTED_PYTHON)
    found = "{}.{}.{}".format(*version_info[:3])
    return (
        f"This course needs Python {wanted} or newer; this is Python {found} ({executable or sys.executable}).\n"
        "Install a newer Python (python.org; on Ubuntu: sudo apt install python3.11 python3.11-venv; on macOS: "
        "brew install python@3.12), then run the same command with it, e.g.\n"
        "    python3.11 -m bnlib.course lab        or        make lab PYTHON=python3.11\n"
        "(on Windows: py -3.11 -m bnlib.course lab)."
    )


def venv_python(venv):
    """The interpreter inside a virtual environment: Scripts/python.exe on Windows, bin/python elsewhere."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def run(command, **kwargs):
    """Run a command, echoing it; returns its exit status."""
    say("$ " + " ".join(str(part) for part in command))
    return subprocess.call([str(part) for part in command], **kwargs)


def course_environment(venv=VENV):
    """Environment for Jupyter, IPython and matplotlib: their state lives in .cache/, not in the home folder."""
    env = dict(os.environ)
    env.update(
        JUPYTER_RUNTIME_DIR=str(CACHE / "jupyter" / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(CACHE / "jupyter" / "lab" / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(CACHE / "jupyter" / "lab" / "workspaces"),
        IPYTHONDIR=str(CACHE / "ipython"),
        MPLCONFIGDIR=str(CACHE / "matplotlib"),
    )
    env["PATH"] = str(venv_python(venv).parent) + os.pathsep + env.get("PATH", "")
    return env


# --- step 1: the virtual environment -------------------------------------------------------------------------
def venv_problem(venv):
    """Why ``venv`` cannot be used as it is (missing interpreter, no pip, too old a Python), or None."""
    python = venv_python(venv)
    if not python.exists():
        return f"it has no Python ({python})"
    probe = "import sys, pip; print('%d.%d' % sys.version_info[:2])"
    try:
        result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120)
    except OSError as error:
        return f"its Python does not start ({error})"
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return f"its Python cannot import pip ({last_line})"
    major, minor = (int(part) for part in result.stdout.strip().split("."))
    if (major, minor) < SUPPORTED_PYTHON:
        return "it was made with Python {}.{}, older than {}.{}".format(major, minor, *SUPPORTED_PYTHON)
    return None


def remove_venv(venv):
    try:
        if venv.is_symlink():
            venv.unlink()
        else:
            shutil.rmtree(venv)
    except OSError as error:
        raise SetupError(
            f"{venv} is broken and could not be removed ({error}). Close whatever still uses it (a JupyterLab, "
            "a terminal with it activated), delete the folder, and run the same command again."
        ) from None


def base_interpreter():
    """The Python to make .venv with: this one, or, when this one runs inside a virtual environment (which
    may be the very .venv to repair), the installation it was made from."""
    if sys.prefix != sys.base_prefix:
        return getattr(sys, "_base_executable", None) or sys.executable
    return sys.executable


def ensure_venv(venv=VENV, base_python=None):
    """Make ``venv`` usable: keep a healthy one, replace a broken one, create a missing one.

    A creation that fails half-way (Debian and Ubuntu ship ``venv`` without ``ensurepip`` unless the
    ``python3-venv`` package is installed) is removed at once, so the next attempt starts clean.
    """
    base_python = base_python or base_interpreter()
    if venv.exists() or venv.is_symlink():
        problem = venv_problem(venv)
        if problem is None:
            return venv_python(venv)
        say(f"{venv.name} is unusable: {problem}. Removing it and making it again.")
        remove_venv(venv)
    say(f"Creating {venv.name} with {base_python} (first time: a few minutes in all).")
    status = run([base_python, "-m", "venv", venv])
    problem = venv_problem(venv) if status == 0 else f"python -m venv failed with status {status}"
    if problem is not None:
        if venv.exists() or venv.is_symlink():
            remove_venv(venv)
        raise SetupError(
            f"Could not create the virtual environment: {problem}.\n"
            "Nothing was left behind; run the same command again once this is fixed. On Debian or Ubuntu, "
            "venv needs its package: sudo apt install python3-venv (or python3.11-venv)."
        )
    return venv_python(venv)


# --- step 2: PyTorch -----------------------------------------------------------------------------------------
def has_nvidia_gpu():
    """True when an NVIDIA driver is loaded (Linux) or nvidia-smi lists a GPU."""
    if Path("/proc/driver/nvidia/version").exists():
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        return subprocess.run([smi, "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def resolve_torch_choice(choice):
    """'auto' -> 'cuda' on a machine with an NVIDIA GPU, else 'cpu'."""
    if choice not in TORCH_CHOICES:
        raise SetupError("--torch must be one of {}, not {!r}.".format(", ".join(TORCH_CHOICES), choice))
    if choice == "auto":
        return "cuda" if has_nvidia_gpu() else "cpu"
    return choice


def host_reachable(url, timeout=5.0):
    """Can a TCP connection to the URL's host be opened (DNS and port 443)? Decides in at most ``timeout`` s.

    Asking first keeps pip from spending its retries (5, with back-off, each up to pip's timeout) on an
    index that is not there.
    """
    host = url.split("//", 1)[-1].split("/", 1)[0]
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def torch_requirement(build, version, platform_name=None):
    """The pip requirement for torch: on Linux x86_64 the CPU build carries the local label +cpu.

    Asking for ``torch==V+cpu`` means pip can never substitute PyPI's CUDA wheel for it.
    """
    platform_name = platform_name or current_platform()
    if build == "cpu" and platform_name == "linux":
        return f"torch=={version}+cpu"
    return f"torch=={version}"


def torch_sources(build, platform_name, torch_index=None):
    """pip options that point at where torch's wanted build comes from (none: pip's own configuration)."""
    if torch_index:
        return ["--index-url", torch_index]
    if build == "cpu" and platform_name == "linux":
        if host_reachable(TORCH_CPU_INDEX):
            return ["--index-url", TORCH_CPU_INDEX]
        say(
            f"PyTorch's CPU index ({TORCH_CPU_INDEX}) cannot be reached; looking for the CPU build in pip's "
            "other sources (find-links folders, local indexes)."
        )
    return []


def installed_version(python, distribution):
    """The version of ``distribution`` installed for ``python``, or None; does not import the package."""
    code = (
        "import importlib.metadata as m, sys\n"
        "try: print(m.version(sys.argv[1]))\n"
        "except m.PackageNotFoundError: pass"
    )
    result = subprocess.run([str(python), "-c", code, distribution], capture_output=True, text=True)
    return result.stdout.strip() or None


def torch_build_kept(installed, build, recorded, explicit):
    """Keep the torch in .venv? Always, unless a build was asked for explicitly and this one is the other."""
    if not explicit:
        return True
    if recorded is not None:
        return recorded == build
    return ("+cpu" in installed) == (build == "cpu") or current_platform() != "linux"


def ensure_torch(python, build, version, wheelhouse=None, torch_index=None, explicit=False):
    """Install torch's ``build`` ('cpu' or 'cuda') unless .venv has one already (kept unless ``explicit``)."""
    have = installed_version(python, "torch")
    marker = python.parent.parent / ".course-torch"
    recorded = marker.read_text().strip() if marker.exists() else None
    if have and torch_build_kept(have, build, recorded, explicit):
        return
    platform_name = current_platform()
    requirement = torch_requirement(build, version, platform_name)
    if wheelhouse is not None:
        sources = ["--no-index", "--find-links", wheelhouse]
    else:
        sources = torch_sources(build, platform_name, torch_index)
    reinstall = ["--force-reinstall", "--no-deps"] if have else []
    say(f"Installing PyTorch, {build.upper()} build ({requirement}).")
    if run([python, "-m", "pip", "install", *reinstall, requirement, *sources]) != 0:
        raise SetupError(
            f"pip could not install {requirement}. The CPU build comes from {TORCH_CPU_INDEX}; if this machine "
            "is offline, install from a teacher's wheelhouse (--wheelhouse DIR, see README). To take PyPI's "
            "default build instead (on Linux several GB, with CUDA): --torch cuda (make: TORCH=cuda). Other version: "
            "--torch-version X.Y.Z."
        )
    marker.write_text(build + "\n")


# --- step 3: the course --------------------------------------------------------------------------------------
def install_stamp(extras, wheelhouse):
    """A fingerprint of what `pip install -e .[extras]` would install: pyproject.toml and the options."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(json.dumps([sorted(extras), str(wheelhouse or "")]).encode())
    return digest.hexdigest()


def ensure_course(python, extras, wheelhouse=None):
    """``pip install -e .[extras]`` unless the stamp says it is done; the stamp is written only on success."""
    stamp_file = python.parent.parent / ".course-installed.json"
    try:
        stamps = json.loads(stamp_file.read_text())
    except (OSError, ValueError):  # none yet, or cut short while being written: install again
        stamps = {}
    key = ",".join(sorted(extras)) or "lab"
    stamp = install_stamp(extras, wheelhouse)
    if stamps.get(key) == stamp:
        return
    target = "." + ("[{}]".format(",".join(extras)) if extras else "")
    sources = ["--no-index", "--find-links", wheelhouse] if wheelhouse is not None else []
    say(f"Installing the course and its packages (pip install -e {target}).")
    if run([python, "-m", "pip", "install", "--quiet", "-e", target, *sources], cwd=str(ROOT)) != 0:
        raise SetupError(
            "pip could not install the course's packages (its message is above). Nothing is marked as done: "
            "run the same command again once the network or the wheelhouse is there."
        )
    if "teach" in extras:
        disable_nbgrader_extensions(python)
    stamps[key] = stamp
    stamps["lab"] = install_stamp(LAB_EXTRAS, wheelhouse)  # every extra includes what lab needs
    stamp_file.write_text(json.dumps(stamps, indent=1))


def disable_nbgrader_extensions(python):
    """nbgrader (for make student) ships Jupyter extensions that slow every server start; the course needs none."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    extensions = ["formgrader", "validate_assignment", "assignment_list", "course_list"]
    subprocess.call(
        [
            str(python),
            "-m",
            "jupyter",
            "server",
            "extension",
            "disable",
            "--sys-prefix",
            *("nbgrader.server_extensions." + name for name in extensions),
        ],
        **quiet,
    )
    subprocess.call(
        [str(python), "-m", "jupyter", "labextension", "disable", "--level=sys_prefix", "@jupyter/nbgrader"],
        **quiet,
    )


# --- the wheelhouse ------------------------------------------------------------------------------------------
def current_platform():
    """'linux', 'macos' or 'windows'."""
    return {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")


def wheel_folder_name(platform_name, python_version):
    """('linux', '3.11') -> 'linux-x86_64-cp311': one folder of wheels per platform and Python."""
    return "{}-cp{}".format(WHEEL_PLATFORMS[platform_name]["folder"], python_version.replace(".", ""))


def this_machines_wheel_folder():
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    name = {"linux": "linux-{}", "macos": "macos-{}", "windows": "windows-{}"}[current_platform()]
    if current_platform() == "windows" and machine == "x86_64":
        machine = "amd64"
    return "{}-cp{}{}".format(name.format(machine), *sys.version_info[:2])


def find_wheelhouse(requested):
    """The folder of wheels for this machine: ``requested`` (or ./wheelhouse when it exists) or its subfolder.

    Returns None when no wheelhouse is asked for and none is in the project.
    """
    if requested is None:
        if not DEFAULT_WHEELHOUSE.is_dir():
            return None
        requested = DEFAULT_WHEELHOUSE
    folder = Path(requested).resolve()
    if not folder.is_dir():
        raise SetupError(f"The wheelhouse {folder} does not exist.")
    if any(folder.glob("*.whl")):
        return folder
    wanted = this_machines_wheel_folder()
    if (folder / wanted).is_dir():
        return folder / wanted
    present = sorted(p.name for p in folder.iterdir() if p.is_dir()) or ["nothing"]
    raise SetupError(
        "The wheelhouse {} has wheels for {}, but this machine needs {}. Ask for a wheelhouse built for it, "
        "e.g. python -m bnlib.course wheelhouse --platform {} --python {}.{}".format(
            folder, ", ".join(present), wanted, current_platform(), *sys.version_info[:2]
        )
    )


def course_requirements():
    """The course's install requirements and its build requirements, from pyproject.toml."""
    import tomllib  # Python 3.11+, checked in main()

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = [
        r for r in pyproject["project"]["dependencies"] if not r.replace(" ", "").startswith("torch")
    ]
    return dependencies + list(pyproject["build-system"]["requires"])


# pip evaluates environment markers (`; sys_platform == "win32"`) for the machine it runs on even with
# --platform, so a wheelhouse for Windows built on Linux would miss pywinpty and gain Linux-only packages.
# This wrapper runs pip with the target's markers.
PIP_WITH_MARKERS = """
import json, sys
from pip._vendor.packaging import markers
target = json.loads(sys.argv[1])
host = markers.default_environment
markers.default_environment = lambda: {**host(), **target}
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def pip_download(platform_name, python_version, dest, requirements, pip_options=(), python=None):
    """``pip download`` of wheels for another platform and Python, with that platform's environment markers."""
    spec = WHEEL_PLATFORMS[platform_name]
    abi = "cp" + python_version.replace(".", "")
    target = dict(
        spec["markers"],
        python_version=python_version,
        python_full_version=python_version + ".0",
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    arguments = [
        "download",
        "--dest",
        str(dest),
        "--only-binary=:all:",
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--abi",
        abi,
        "--abi",
        "abi3",
        "--abi",
        "none",
    ]
    for tag in spec["tags"]:
        arguments += ["--platform", tag]
    arguments += [*requirements, *pip_options]
    say("pip " + " ".join(arguments))
    command = [str(python or pip_python()), "-c", PIP_WITH_MARKERS, json.dumps(target), *arguments]
    if subprocess.call(command) != 0:
        raise SetupError(
            f"pip could not download the wheels for {platform_name} / Python {python_version} (its message "
            "is above). Every package must exist as a wheel for that platform and Python."
        )


def download_wheels(platform_name, python_version, dest, torch_build="cpu", torch_version=TORCH_VERSION):
    """Download every wheel the course needs on ``platform_name`` with Python ``python_version`` into ``dest``.

    Two pip runs: torch alone (from its CPU index when it can be reached), then everything else.
    """
    dest.mkdir(parents=True, exist_ok=True)
    torch = torch_requirement(torch_build, torch_version, platform_name)
    pip_download(
        platform_name,
        python_version,
        dest,
        [torch],
        ["--no-deps", *torch_sources(torch_build, platform_name)],
    )
    pip_download(
        platform_name, python_version, dest, [torch, *course_requirements()], ["--find-links", str(dest)]
    )


def pip_python():
    """A Python with pip: this one, or else .venv's (made if need be)."""
    if subprocess.call([sys.executable, "-c", "import pip"], stderr=subprocess.DEVNULL) == 0:
        return sys.executable
    return ensure_venv(VENV)


def build_wheelhouse(platforms, python_versions, dest, torch_version=TORCH_VERSION):
    """One folder of wheels per (platform, Python) under ``dest``; returns the folders."""
    folders = []
    for platform_name in platforms:
        for python_version in python_versions:
            folder = Path(dest) / wheel_folder_name(platform_name, python_version)
            download_wheels(platform_name, python_version, folder, torch_version=torch_version)
            size = sum(f.stat().st_size for f in folder.glob("*.whl")) / 1e6
            say("{}: {} wheels, {:.0f} MB".format(folder, len(list(folder.glob("*.whl"))), size))
            folders.append(folder)
    return folders


# --- the learners' notebooks ---------------------------------------------------------------------------------
def prepare_learner_folder():
    """Bring the learners' own copies (my-notebooks/) up to date with the course and return that folder; this
    is what ``lab`` serves. bnlib.workspace does the work and never overwrites a learner's edits."""
    from bnlib import workspace  # standard library only, like this file

    try:
        changes = workspace.prepare_workspace()
    except workspace.WorkspaceError as error:
        raise SetupError(f"Your notebooks could not be prepared: {error}") from None
    for change in changes:
        say(change.message)
    return workspace.WORKSPACE


# --- the commands ----------------------------------------------------------------------------------------------
def setup(extras, options):
    """Steps 1-3 of the module docstring; returns .venv's Python."""
    wheelhouse = find_wheelhouse(options.wheelhouse)
    if wheelhouse is not None:
        say(f"Installing from the wheelhouse {wheelhouse} (no network).")
    python = ensure_venv(VENV)
    build = resolve_torch_choice(options.torch)
    ensure_torch(
        python, build, options.torch_version, wheelhouse, options.torch_index, options.torch != "auto"
    )
    ensure_course(python, extras, wheelhouse)
    return python


def command_lab(options):
    python = setup(LAB_EXTRAS, options)
    served = prepare_learner_folder()
    (CACHE / "jupyter" / "runtime").mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    print(f"\n  JupyterLab: http://127.0.0.1:{options.port}/lab/tree/00_start_here.ipynb?token={token}")
    print(
        f"  (if port {options.port} is busy, JupyterLab picks the next free one and prints its own link below)\n"
    )
    command = [
        python,
        "-m",
        "jupyter",
        "lab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={options.port}",
        "--IdentityProvider.token=" + token,
        "--ServerApp.root_dir=" + str(served),
    ]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    return run_until_interrupted(command + options.rest, env=course_environment())


def command_lint(options):
    python = setup(TEST_EXTRAS, options)
    status = run([python, "-m", "ruff", "check", "."], cwd=str(ROOT), env=course_environment())
    if status != 0:
        return status
    # Formatting is checked, never applied here: `ruff format .` rewrites files, a lint step only reports.
    return run([python, "-m", "ruff", "format", "--check", "."], cwd=str(ROOT), env=course_environment())


def command_test(options):
    status = command_lint(options)
    if status != 0:
        return status
    return run([venv_python(VENV), "-m", "pytest", *options.rest], cwd=str(ROOT), env=course_environment())


def command_setup(options):
    setup(TEST_EXTRAS if options.test else LAB_EXTRAS, options)
    say(f"Ready: {venv_python(VENV)}")
    return 0


def command_wheelhouse(options):
    build_wheelhouse(options.platform, options.python, Path(options.dest), options.torch_version)
    return 0


def run_until_interrupted(command, **kwargs):
    """Run a server in the foreground until it ends.

    Ctrl-C reaches the server too (the same terminal); it decides (JupyterLab asks to confirm), and this
    process only waits for it, however many times Ctrl-C is pressed.
    """
    say("$ " + " ".join(str(part) for part in command))
    process = subprocess.Popen([str(part) for part in command], **kwargs)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def parse_arguments(argv):
    # No abbreviated options: pytest's and JupyterLab's own options pass through untouched.
    parser = argparse.ArgumentParser(
        prog="python -m bnlib.course", description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    commands = parser.add_subparsers(dest="command", required=True)
    environment = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    environment.add_argument(
        "--torch",
        default=os.environ.get("BNLIB_TORCH") or "auto",
        choices=TORCH_CHOICES,
        help="PyTorch build: auto (CPU unless an NVIDIA GPU is present), cpu, cuda",
    )
    environment.add_argument("--torch-version", default=os.environ.get("TORCH_VERSION") or TORCH_VERSION)
    environment.add_argument(
        "--torch-index",
        default=os.environ.get("TORCH_INDEX") or None,
        help="a package index for torch, e.g. https://download.pytorch.org/whl/cu126",
    )
    environment.add_argument(
        "--wheelhouse",
        default=os.environ.get("BNLIB_WHEELHOUSE") or None,
        help="install from this folder of wheels, with no network (default: ./wheelhouse when it exists)",
    )

    def command(name, run, summary, parents=(environment,)):
        parser = commands.add_parser(name, parents=list(parents), help=summary, allow_abbrev=False)
        parser.set_defaults(run=run)
        return parser

    command("lab", command_lab, "set up and open JupyterLab").add_argument(
        "--port", type=int, default=int(os.environ.get("LAB_PORT") or 8888)
    )
    command("test", command_test, "set up, then ruff and pytest")
    command("lint", command_lint, "set up, then ruff")
    command("setup", command_setup, "create or repair .venv").add_argument(
        "--test", action="store_true", help="also the test, teaching and hub tools"
    )
    wheelhouse = command(
        "wheelhouse", command_wheelhouse, "download every wheel the course needs, for offline", parents=()
    )
    wheelhouse.add_argument(
        "--platform", nargs="+", choices=sorted(WHEEL_PLATFORMS), default=sorted(WHEEL_PLATFORMS)
    )
    wheelhouse.add_argument(
        "--python",
        nargs="+",
        default=["{}.{}".format(*sys.version_info[:2])],
        help="the students' Python versions (default: this one)",
    )
    wheelhouse.add_argument("--dest", default=str(DEFAULT_WHEELHOUSE))
    wheelhouse.add_argument("--torch-version", default=os.environ.get("TORCH_VERSION") or TORCH_VERSION)
    # Everything after the command's own options goes to JupyterLab (lab) or pytest (test).
    options, rest = parser.parse_known_args(argv)
    if rest and options.command not in ("lab", "test"):
        parser.error("unrecognized arguments: " + " ".join(rest))
    options.rest = [part for part in rest if part != "--"]
    return options


def main(argv=None):
    problem = python_version_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    options = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        return options.run(options)
    except SetupError as error:
        print("\n[course] " + str(error), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
