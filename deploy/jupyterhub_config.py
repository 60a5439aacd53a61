"""JupyterHub for a class on one server: each student logs in, gets their own copy of the learner notebooks,
and works in the course's one shared Python environment, with nothing installed per student.

From the course folder, after `make test-venv` (or `python -m bnlib.course setup --test`) and
`npm install --prefix .cache/hub-proxy configurable-http-proxy@4` (JupyterHub's proxy, from npm):

    BNLIB_HUB_STUDENTS=ada,grace,alan BNLIB_HUB_PASSWORD='a class password' \\
        .venv/bin/jupyterhub -f deploy/jupyterhub_config.py

Course-specific (keep these whatever authenticator and spawner you choose):
- Student servers run jupyterhub-singleuser from this environment, so bnlib, torch and JupyterLab are
  installed once, for everybody. PYTHONNOUSERSITE=1: nothing a student pip-installs into ~/.local can shadow
  them; PYTHONPATH is not passed on.
- Before a student's server starts, bnlib.workspace brings their copies in ~/batchnorm-course/ up to date with
  the course's notebooks/ (the learners' versions, no solutions): new notebooks are copied in, untouched ones
  updated, an edited one is never overwritten (the update goes beside it), a deleted one comes back fresh.
- JupyterLab opens on 00_start_here.ipynb.

Authenticator and spawner, as shipped (this is what tests/test_hub.py runs): SharedPasswordAuthenticator,
one class password for the students named in BNLIB_HUB_STUDENTS; SimpleLocalProcessSpawner, each student's
home is BNLIB_HUB_HOMES/<name> (default: hub-homes/ in the course folder) and every server runs as the
hub's own system user, so students are not kept apart: a student's terminal can read the others' folders.
For a class that needs separation, use system accounts: c.JupyterHub.authenticator_class = "pam",
c.JupyterHub.spawner_class = "localprocess" (run the hub as root; homes are /home/<name>), or a DockerSpawner.

Settings from the environment: BNLIB_HUB_STUDENTS (comma-separated), BNLIB_HUB_PASSWORD (at least 8
characters), BNLIB_HUB_HOMES, BNLIB_HUB_STATE (database and cookie secret; default .cache/hub),
BNLIB_HUB_PROXY (configurable-http-proxy; default the npm install above, else the PATH). The hub listens on
http://127.0.0.1:8000; for a classroom pass --JupyterHub.bind_url=http://0.0.0.0:8000 and put it behind
HTTPS (--ssl-key/--ssl-cert).
"""

import os
import shutil
import sys
from pathlib import Path

COURSE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(COURSE))
from bnlib.workspace import COURSE as COURSE_NOTEBOOKS  # noqa: E402
from bnlib.workspace import prepare_workspace  # noqa: E402

c = get_config()  # noqa: F821 (JupyterHub provides get_config)

STUDENT_FOLDER = "batchnorm-course"
HOMES = Path(os.environ.get("BNLIB_HUB_HOMES") or COURSE / "hub-homes")
STATE = Path(os.environ.get("BNLIB_HUB_STATE") or COURSE / ".cache" / "hub")
STATE.mkdir(parents=True, exist_ok=True)

# --- who logs in -----------------------------------------------------------------------------------------
students = [name.strip() for name in os.environ.get("BNLIB_HUB_STUDENTS", "").split(",") if name.strip()]
if not students or not os.environ.get("BNLIB_HUB_PASSWORD"):
    sys.exit(
        "Set BNLIB_HUB_STUDENTS (e.g. ada,grace,alan) and BNLIB_HUB_PASSWORD (the class password, 8+ "
        "characters) before starting the hub; see the top of deploy/jupyterhub_config.py."
    )
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["BNLIB_HUB_PASSWORD"]
c.Authenticator.allowed_users = set(students)

# --- where each student works ----------------------------------------------------------------------------
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
if hasattr(os, "getuid") and os.getuid() == 0:
    # This spawner runs every server as the hub's own user; Jupyter refuses root unless told.
    c.SimpleLocalProcessSpawner.args = ["--allow-root"]


def hand_out_learner_notebooks(spawner):
    """Bring the student's own copies up to date with the course (bnlib.workspace, as make lab does): new
    notebooks copied in, untouched ones updated, edited ones kept with the update put beside them."""
    home = Path(getattr(spawner, "home_dir", None) or os.path.expanduser(f"~{spawner.user.name}"))
    for change in prepare_workspace(COURSE_NOTEBOOKS, home / STUDENT_FOLDER):
        spawner.log.info("%s: %s", spawner.user.name, change.message)


c.Spawner.pre_spawn_hook = hand_out_learner_notebooks
c.Spawner.default_url = f"/lab/tree/{STUDENT_FOLDER}/00_start_here.ipynb"

# --- one shared environment ------------------------------------------------------------------------------
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
c.Spawner.environment = {"PYTHONNOUSERSITE": "1"}
# JupyterHub's default list, without PYTHONPATH: a stray one on the server must not change students' imports.
c.Spawner.env_keep = [
    "PATH",
    "CONDA_ROOT",
    "CONDA_DEFAULT_ENV",
    "VIRTUAL_ENV",
    "LANG",
    "LC_ALL",
    "JUPYTERHUB_SINGLEUSER_APP",
]

# --- the hub's own files and its proxy -------------------------------------------------------------------
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
npm_proxy = COURSE / ".cache" / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
proxy = os.environ.get("BNLIB_HUB_PROXY") or (str(npm_proxy) if npm_proxy.exists() else None)
proxy = proxy or shutil.which("configurable-http-proxy")
if proxy is None:
    sys.exit("JupyterHub's proxy is missing: npm install --prefix .cache/hub-proxy configurable-http-proxy@4")
c.ConfigurableHTTPProxy.command = [proxy]
