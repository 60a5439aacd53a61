"""A class on one server: a real JupyterHub started from deploy/jupyterhub_config.py, its proxy from npm.

Three students log in with the class password through the login form. Each must get the learner notebooks
in their own folder, without answers, and a kernel where bnlib imports from the one shared environment,
with nothing installed in the student's home. docs/teaching.md describes exactly this run."""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import websocket

from coursetools.paths import ROOT

if not os.environ.get("CI"):  # in CI the hub extra is installed, and a missing JupyterHub is an error
    pytest.importorskip("jupyterhub", reason="JupyterHub is the hub extra: pip install -e '.[hub]'")

STUDENTS = ["ada", "grace", "alan"]
PASSWORD = "batchnorm-class-1"
PROXY_PACKAGE = "configurable-http-proxy@4"
PROXY = ROOT / ".cache" / "hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
ANSWER_MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def proxy_command():
    """configurable-http-proxy from the npm registry, installed into .cache/ (once)."""
    if not PROXY.exists():
        npm = shutil.which("npm")
        if npm is None:
            message = "npm is needed to install JupyterHub's proxy (configurable-http-proxy)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        subprocess.run(
            [npm, "install", "--prefix", str(PROXY.parents[2]), "--no-audit", "--no-fund", PROXY_PACKAGE],
            check=True,
            capture_output=True,
        )
    return PROXY


@pytest.fixture(scope="module")
def hub(proxy_command, tmp_path_factory):
    """A running hub on a free port; yields (url, homes folder)."""
    folder = tmp_path_factory.mktemp("hub")
    port, hub_port, api_port = free_port(), free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(
        BNLIB_HUB_STUDENTS=",".join(STUDENTS),
        BNLIB_HUB_PASSWORD=PASSWORD,
        BNLIB_HUB_HOMES=str(folder / "homes"),
        BNLIB_HUB_STATE=str(folder / "state"),
        BNLIB_HUB_PROXY=str(proxy_command),
    )
    jupyterhub = Path(sys.executable).with_name("jupyterhub")
    command = [
        str(jupyterhub),
        "-f",
        str(ROOT / "deploy" / "jupyterhub_config.py"),
        f"--JupyterHub.bind_url=http://127.0.0.1:{port}",
        f"--JupyterHub.hub_port={hub_port}",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}",
    ]
    log = open(folder / "hub.log", "w")
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/hub/api", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (folder / "hub.log").read_text()[
                -4000:
            ]
            time.sleep(0.3)
        yield url, folder / "homes"
    finally:
        process.terminate()  # the hub stops the students' servers and its proxy
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def log_in(url, student):
    """Log in through the hub's form, as a student's browser does; returns the session once the server runs."""
    session = requests.Session()
    session.get(f"{url}/hub/login", timeout=10)
    response = session.post(
        f"{url}/hub/login?next=",
        timeout=60,
        data={"username": student, "password": PASSWORD, "_xsrf": session.cookies["_xsrf"]},
    )
    assert response.ok, response.text[:500]
    wait_for_lab(session, url, student)
    return session


def wait_for_lab(session, url, student):
    """Open the student's JupyterLab as the browser does (the hub's OAuth sets the server's cookie)."""
    deadline = time.monotonic() + 90
    while True:
        page = session.get(f"{url}/user/{student}/lab", timeout=30)
        if page.ok and page.url.startswith(f"{url}/user/{student}/lab"):
            break
        assert time.monotonic() < deadline, f"{student}'s server did not start: {page.status_code} {page.url}"
        time.sleep(0.5)
    assert session.get(f"{url}/user/{student}/api/status", timeout=10).ok


def notebook_texts(session, url, student, folder):
    """Every notebook the student's server serves under ``folder``, as text: {path: source}."""
    texts = {}
    listing = session.get(f"{url}/user/{student}/api/contents/{folder}", timeout=10).json()
    for item in listing["content"]:
        if item["type"] == "directory":
            texts.update(notebook_texts(session, url, student, item["path"]))
        elif item["type"] == "notebook":
            model = session.get(f"{url}/user/{student}/api/contents/{item['path']}", timeout=10).json()
            texts[item["path"]] = json.dumps(model["content"])
    return texts


def run_in_new_kernel(session, url, student, code):
    """Start a kernel on the student's server, run ``code``, return what it printed."""
    xsrf = session.cookies.get("_xsrf", path=f"/user/{student}/") or session.cookies.get("_xsrf")
    headers = {"X-XSRFToken": xsrf}
    kernel = session.post(f"{url}/user/{student}/api/kernels", json={}, headers=headers, timeout=30).json()
    ws_url = url.replace("http", "ws") + f"/user/{student}/api/kernels/{kernel['id']}/channels?_xsrf={xsrf}"
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    connection = websocket.create_connection(ws_url, cookie=cookie, timeout=60)
    try:
        message_id = uuid.uuid4().hex
        connection.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": message_id,
                        "msg_type": "execute_request",
                        "session": uuid.uuid4().hex,
                        "username": student,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "buffers": [],
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        printed, errors = [], []
        while True:
            message = json.loads(connection.recv())
            if message.get("parent_header", {}).get("msg_id") != message_id:
                continue
            kind = message["msg_type"]
            if kind == "stream":
                printed.append(message["content"]["text"])
            elif kind == "error":
                errors.append("\n".join(message["content"]["traceback"]))
            elif kind == "execute_reply":
                break
        assert not errors, errors
        return "".join(printed)
    finally:
        connection.close()
        session.delete(f"{url}/user/{student}/api/kernels/{kernel['id']}", headers=headers, timeout=30)


KERNEL_CHECK = """
import json, os, site, sys
import numpy as np
import bnlib
out = bnlib.batchnorm_forward(np.arange(6.0).reshape(3, 2), np.ones(2), np.zeros(2))[0]
print(json.dumps({"bnlib": bnlib.__file__, "python": sys.executable, "home": os.environ["HOME"],
                  "user_site": site.ENABLE_USER_SITE, "no_user_site": os.environ.get("PYTHONNOUSERSITE"),
                  "mean": float(abs(out.mean()))}))
"""


def test_three_students_each_get_their_own_copy_and_a_working_kernel(hub):
    url, homes = hub
    sessions = {student: log_in(url, student) for student in STUDENTS}
    course_notebooks = sorted(
        p.relative_to(ROOT / "notebooks").as_posix()
        for p in (ROOT / "notebooks").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in str(p)
    )
    for student, session in sessions.items():
        served = notebook_texts(session, url, student, "batchnorm-course")
        assert sorted(path.removeprefix("batchnorm-course/") for path in served) == course_notebooks

        report = json.loads(run_in_new_kernel(session, url, student, KERNEL_CHECK))
        home = homes / student
        assert Path(report["home"]) == home
        assert report["mean"] < 1e-12
        assert Path(report["python"]).parent == Path(sys.executable).parent, "not the shared environment"
        assert not Path(report["bnlib"]).is_relative_to(home), report
        # A venv ignores ~/.local anyway; PYTHONNOUSERSITE also covers a hub on conda or the system Python.
        assert report["user_site"] is False and report["no_user_site"] == "1", (
            f"packages in a student's ~/.local could shadow the shared ones: {report}"
        )
        installed = [p for p in home.rglob("*") if p.name in ("site-packages", "dist-packages", "pyvenv.cfg")]
        assert not installed, f"something was installed for {student}: {installed}"

    # Each copy is the student's own: a change stays theirs alone, and survives their server's restart.
    ada, grace = (homes / name / "batchnorm-course" / "00_start_here.ipynb" for name in ("ada", "grace"))
    ada.write_text(ada.read_text().replace("bnlib", "bnlib ", 1))
    changed = ada.read_text()
    restart_server(sessions["ada"], url, "ada")
    assert ada.read_text() == changed != grace.read_text()


def restart_server(session, url, student):
    headers = {"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/")}
    session.delete(f"{url}/hub/api/users/{student}/server", headers=headers, timeout=60).raise_for_status()
    deadline = time.monotonic() + 60
    while (
        session.get(f"{url}/user/{student}/api/status", timeout=10, allow_redirects=False).status_code == 200
    ):
        assert time.monotonic() < deadline, f"{student}'s server did not stop"
        time.sleep(0.3)
    session.post(f"{url}/hub/api/users/{student}/server", headers=headers, timeout=60).raise_for_status()
    wait_for_lab(session, url, student)


def test_students_get_no_answers(hub):
    url, homes = hub
    student = STUDENTS[0]
    session = log_in(url, student)
    served = notebook_texts(session, url, student, "batchnorm-course")
    assert any("exercises/" in path for path in served), sorted(served)
    leaked = sorted(path for path, text in served.items() if any(m in text for m in ANSWER_MARKERS))
    assert not leaked, f"answers handed out to students: {leaked}"
