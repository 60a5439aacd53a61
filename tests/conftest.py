"""Shared test setup: a non-interactive matplotlib backend, Jupyter's runtime files inside the project, and one
headless Chromium for every test that needs a browser (Playwright's sync API allows one per process).

Real-browser tests need Debian's Chromium. Without it they are skipped loudly; in CI that is an error."""

import os

import matplotlib
import pytest

from coursetools.browser.harness import CHROMIUM, chromium
from coursetools.paths import ROOT

matplotlib.use("Agg")
os.environ.setdefault("JUPYTER_RUNTIME_DIR", str(ROOT / ".cache" / "jupyter" / "runtime"))

SKIPPED_FOR_NO_BROWSER: list[str] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = (
            f"Chromium not found at {CHROMIUM}: the real-browser tests did NOT run. "
            "Install it with `sudo apt-get install chromium` (Debian/Ubuntu) or point BNLIB_CHROMIUM at a "
            "Chromium binary."
        )
        if _in_ci():
            pytest.fail(message + " In CI the browser tests must run.", pytrace=False)
        SKIPPED_FOR_NO_BROWSER.append(message)
        pytest.skip(message)
    with chromium() as context:
        yield context


def pytest_terminal_summary(terminalreporter):
    if SKIPPED_FOR_NO_BROWSER:
        bar = "!" * 100
        terminalreporter.write_line(bar, red=True, bold=True)
        terminalreporter.write_line(SKIPPED_FOR_NO_BROWSER[0], red=True, bold=True)
        terminalreporter.write_line(bar, red=True, bold=True)
