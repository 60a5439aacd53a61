"""Helpers for the loss-surface explorer's browser tests: its ES module loaded into a Chromium page, and
the cases its mathematics is compared on.

    with chromium() as browser:
        module = EsModulePage(browser, ES_MODULE)
        results = module.call("surfaceNumbers", bowl, 0.9, 0.0, 60)
"""

from __future__ import annotations

from pathlib import Path


class EsModulePage:
    """A blank Chromium page with one ES module imported (from its text, through a blob URL: no server)."""

    def __init__(self, browser, module_path: Path):
        self.page = browser.new_page()
        self.page.goto("about:blank")
        self.page.evaluate(
            """async source => {
                const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
                window.__module = await import(url);
            }""",
            Path(module_path).read_text(encoding="utf-8"),
        )

    def evaluate(self, body: str, arg=None):
        """Run ``body`` (a JS function body) with ``m`` bound to the module and ``arg`` to the argument."""
        return self.page.evaluate(f"arg => {{ const m = window.__module; {body} }}", arg)

    def close(self) -> None:
        self.page.close()
