"""Voilà serving one notebook as a page of live figures, on 127.0.0.1, for the browser tests.

    with VoilaServer(NOTEBOOKS / "02_loss_surface_conditioning.ipynb") as voila:
        page.goto(voila.url)

A throw-away copy of the notebook is served from .cache/ with Jupyter's state kept there too (harness.py does
the same for JupyterLab); the server gets a random token and a free port.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from coursetools.browser.harness import CACHE, free_port, stop_server


class VoilaServer:
    def __init__(self, notebook: Path, startup_timeout: float = 60.0):
        self.notebook = Path(notebook)
        self.startup_timeout = startup_timeout
        self.token = secrets.token_urlsafe(24)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/?token={self.token}"

    def __enter__(self) -> VoilaServer:
        CACHE.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="voila-", dir=CACHE))
        served = self.workdir / self.notebook.name
        shutil.copy(self.notebook, served)
        environment = dict(os.environ)
        environment["JUPYTER_RUNTIME_DIR"] = str(self.workdir / "runtime")
        environment["IPYTHONDIR"] = str(self.workdir / "ipython")
        # Voilà keeps its kernels' connection files in a temporary folder: that one too.
        environment["TMPDIR"] = str(self.workdir / "tmp")
        (self.workdir / "tmp").mkdir()
        self.log = open(self.workdir / "voila.log", "w")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voila",
                str(served),
                "--no-browser",
                "--Voila.ip=127.0.0.1",
                f"--port={self.port}",
                f"--token={self.token}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=self.workdir,
        )
        try:
            self._wait_until_serving()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Voilà exited early; see {self.workdir / 'voila.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # any answer, even "forbidden" without the token, means it is serving
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"Voilà did not answer within {self.startup_timeout:.0f} s")

    def __exit__(self, *exc) -> None:
        stop_server(self.process, self.log, self.workdir)
