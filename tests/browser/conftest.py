"""The JupyterLab server the real-browser tests open notebooks in (the browser itself: tests/conftest.py)."""

import pytest

from coursetools.browser.harness import JupyterLab
from coursetools.paths import NOTEBOOKS


@pytest.fixture(scope="session")
def lab(browser):
    with JupyterLab(NOTEBOOKS) as server:
        yield server
