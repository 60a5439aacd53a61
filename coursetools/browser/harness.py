"""Drive the course as a learner does: JupyterLab in Debian's Chromium, through Playwright.

    with JupyterLab(notebook_folder) as lab, chromium() as browser:
        page = LabNotebook.open(browser, lab, "02_loss_surface_conditioning.ipynb")
        page.run_all()
        assert page.errors() == []
        for panel in range(page.panel_count()):
            before = page.canvas_png(panel)
            page.nudge_slider(panel)
            page.wait_for_canvas_change(panel, before)

The server listens on 127.0.0.1 with a random token, on a free port, serving a throw-away copy of the
notebooks under .cache/ (so running them never writes outputs into the repository's notebooks).
Used by tests/browser/test_browser.py, benchmarks/bench_browser.py and coursetools/screenshots.py.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "browser"
CHROMIUM = Path(os.environ.get("BNLIB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# A panel is the output box that holds both an ipywidgets slider and an ipympl canvas.
PANEL_SELECTOR = ".jp-OutputArea-output:has(.widget-slider):has(.jupyter-matplotlib-canvas-div)"
CANVAS_SELECTOR = ".jupyter-matplotlib-canvas-div canvas"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server on 127.0.0.1, token-protected, serving a copy of ``notebook_folder``."""

    def __init__(self, notebook_folder: Path, startup_timeout: float = 90.0):
        self.source = Path(notebook_folder)
        self.startup_timeout = startup_timeout
        self.token = secrets.token_urlsafe(24)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> JupyterLab:
        CACHE.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="lab-", dir=CACHE))
        self.root = self.workdir / "notebooks"
        shutil.copytree(self.source, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        environment = dict(os.environ)
        for name, sub in [
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTERLAB_SETTINGS_DIR", "settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
            ("IPYTHONDIR", "ipython"),
        ]:
            environment[name] = str(self.workdir / sub)
        # No "official Jupyter news?" prompt over the figures.
        notification_settings = self.workdir / "settings" / "@jupyterlab" / "apputils-extension"
        notification_settings.mkdir(parents=True)
        (notification_settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        self.log = open(self.workdir / "server.log", "w")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        self._wait_until_serving()
        return self

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early; see {self.workdir / 'server.log'}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return
            time.sleep(0.3)
        raise TimeoutError(f"JupyterLab did not answer within {self.startup_timeout:.0f} s")

    def notebook_url(self, relative_path: str) -> str:
        return f"{self.url}/lab/tree/{relative_path}?token={self.token}&reset"

    def __exit__(self, *exc) -> None:
        stop_server(self.process, self.log, self.workdir)


def stop_server(process: subprocess.Popen | None, log, workdir: Path) -> None:
    """Stop a test server (terminate, then kill after 15 s), close its log and remove its throw-away folder."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log.close()
    shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def chromium(viewport=(1400, 1000), pixel_ratio: float = 1.0):
    """A headless Debian Chromium driven by Playwright (never a downloaded browser).

    pixel_ratio: device pixels per CSS pixel; 2 is a high-density laptop screen, where ipympl draws and
    sends figures at twice the resolution in each direction."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    CACHE.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=CACHE)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": viewport[0], "height": viewport[1]},
            device_scale_factor=pixel_ratio,
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


# In-page helper: resolves with the milliseconds from the next key press (or menu pick) to the moment the
# canvas's pixels differ from their state when called (-1 on timeout). The clock starts at the page's own
# keydown/input event, as a learner's does, not when the test process asked for it. Hashing getImageData
# is cheap next to a redraw.
_WAIT_FOR_CANVAS_CHANGE_JS = """
([element, timeoutMs]) => new Promise(resolve => {
  const hash = () => {
    const data = element.getContext('2d').getImageData(0, 0, element.width, element.height).data;
    let h = 0;
    for (let i = 0; i < data.length; i += 7) h = (h * 31 + data[i]) | 0;
    return h;
  };
  const start = performance.now(), before = hash();
  let pressed = null;
  for (const type of ['keydown', 'input', 'change']) {
    window.addEventListener(type, event => { pressed ??= event.timeStamp; }, {capture: true, once: true});
  }
  const poll = () => {
    const now = performance.now();
    if (hash() !== before) return resolve(now - (pressed ?? start));
    if (now - start > timeoutMs) return resolve(-1);
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
})
"""


# Installed in every page before JupyterLab loads: counts the messages that arrive on its websockets (the
# kernel's channels), so a test can tell an idle notebook from one whose kernel keeps sending frames.
_COUNT_SOCKET_MESSAGES_JS = """
window.__socketMessages = 0;
const originalSend = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (!this.__counted) {
    this.__counted = true;
    this.addEventListener('message', () => { window.__socketMessages += 1; });
  }
  return originalSend.call(this, data);
};
"""


class LabNotebook:
    """One notebook open in JupyterLab, in one browser tab."""

    def __init__(self, page, name: str):
        self.page = page
        self.name = name

    @classmethod
    def open(cls, browser, lab: JupyterLab, relative_path: str, timeout_ms: int = 90_000) -> LabNotebook:
        page = browser.new_page()
        page.add_init_script(_COUNT_SOCKET_MESSAGES_JS)
        page.set_default_timeout(timeout_ms)
        page.goto(lab.notebook_url(relative_path))
        page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget?.content?.model")
        notebook = cls(page, relative_path)
        notebook.wait_for_kernel_idle(timeout_ms)
        return notebook

    def _eval(self, body: str, arg=None):
        """Evaluate JS with ``panel`` bound to the current notebook panel."""
        return self.page.evaluate(
            f"async (arg) => {{ const panel = window.jupyterapp.shell.currentWidget; {body} }}", arg
        )

    def wait_for_kernel_idle(self, timeout_ms: int = 90_000) -> None:
        self.page.wait_for_function(
            "window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel?.status === 'idle'",
            timeout=timeout_ms,
        )

    def run_all(self, timeout_ms: int = 180_000) -> float:
        """Run every cell as the Run All menu does; returns the seconds it took."""
        start = time.perf_counter()
        self._eval("await window.jupyterapp.commands.execute('notebook:run-all-cells');")
        # Run All resolves when the cells are scheduled: wait until no cell is still queued or running.
        self.page.wait_for_function(
            """() => {
                const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
                const session = window.jupyterapp.shell.currentWidget.sessionContext.session;
                const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')].map(p => p.textContent);
                return session?.kernel?.status === 'idle' && !prompts.some(t => t.includes('*'));
            }""",
            timeout=timeout_ms,
        )
        return time.perf_counter() - start

    def errors(self) -> list[str]:
        """Error outputs of every cell, and widgets that failed to render."""
        model_errors = self._eval(
            """
            const found = [];
            const cells = panel.content.model.toJSON().cells;
            cells.forEach((cell, i) => (cell.outputs || []).forEach(o => {
              if (o.output_type === 'error') found.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
            }));
            return found;
            """
        )
        widget_errors = self.page.locator(".jp-OutputArea-output:has-text('Error displaying widget')").count()
        return model_errors + ([f"{widget_errors} widget(s) failed to display"] if widget_errors else [])

    def panels(self):
        return self.page.locator(PANEL_SELECTOR)

    def panel_count(self) -> int:
        return self.panels().count()

    def canvas(self, panel_index: int):
        return self.panels().nth(panel_index).locator(CANVAS_SELECTOR).first

    def canvas_png(self, panel_index: int) -> bytes:
        canvas = self.canvas(panel_index)
        canvas.scroll_into_view_if_needed()
        return canvas.screenshot()

    def wait_for_figure(self, panel_index: int, timeout_s: float = 30.0) -> bytes:
        """Wait until the canvas shows a drawn figure that stopped changing; returns its PNG."""
        deadline = time.monotonic() + timeout_s
        previous = b""
        while time.monotonic() < deadline:
            current = self.canvas_png(panel_index)
            blank = len(set(current[100:])) < 3
            if current == previous and not blank:
                return current
            previous = current
            time.sleep(0.5)
        raise TimeoutError(f"{self.name}: panel {panel_index} never finished drawing")

    def slider_handle(self, panel_index: int, slider_index: int = 0):
        return self.panels().nth(panel_index).locator(".widget-slider .noUi-handle").nth(slider_index)

    def slider_count(self, panel_index: int) -> int:
        return self.panels().nth(panel_index).locator(".widget-slider .noUi-handle").count()

    def nudge_slider(
        self, panel_index: int, slider_index: int = 0, key: str | None = None, timeout_ms: int = 20_000
    ) -> float:
        """Move a slider by keyboard, as a learner can; returns ms from the key press to the repaint (-1: never).

        Without a key it moves a big step up, or down when the slider already sits at its maximum.
        """
        handle = self.slider_handle(panel_index, slider_index)
        if key is None:
            at_top = float(handle.get_attribute("aria-valuenow")) >= float(
                handle.get_attribute("aria-valuemax")
            )
            key = "PageDown" if at_top else "PageUp"
        return self._time_repaint(panel_index, handle, lambda: handle.press(key), timeout_ms)

    def dropdowns(self, panel_index: int):
        return self.panels().nth(panel_index).locator(".widget-dropdown select")

    def pick_option(
        self, panel_index: int, dropdown_index: int, step: int, timeout_ms: int = 20_000
    ) -> float:
        """Pick the option ``step`` places below the current one in a menu (wrapping around); returns ms from
        the pick to the repaint (-1: never)."""
        select = self.dropdowns(panel_index).nth(dropdown_index)
        options = select.locator("option")
        current = select.evaluate("element => element.selectedIndex")
        target = options.nth((current + step) % options.count()).get_attribute("value")
        return self._time_repaint(panel_index, select, lambda: select.select_option(value=target), timeout_ms)

    def _time_repaint(self, panel_index: int, control, act, timeout_ms: int) -> float:
        """Focus ``control``, call ``act()`` and return ms from the page's event to the repaint (-1: never)."""
        control.scroll_into_view_if_needed()
        control.focus()
        canvas = self.canvas(panel_index).element_handle()
        waiting = self.page.evaluate_handle(
            "([c, t]) => { window.__canvasChange = (" + _WAIT_FOR_CANVAS_CHANGE_JS + ")([c, t]); }",
            [canvas, timeout_ms],
        )
        waiting.dispose()
        act()
        return float(self.page.evaluate("window.__canvasChange"))

    def goes_quiet(self, window_s: float = 2.0, timeout_s: float = 30.0) -> bool:
        """True once no kernel message arrives for ``window_s`` while nobody touches the page; False if the
        kernel is still sending after ``timeout_s`` (figures that redraw each other forever)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            before = self.page.evaluate("window.__socketMessages")
            self.page.wait_for_timeout(window_s * 1000)
            if self.page.evaluate("window.__socketMessages") == before:
                return True
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._eval("await panel.sessionContext.shutdown();")
        self.page.close()
