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


WIDGET = ".bnlib-ls"  # the explorer's root element (bnlib/panels/loss_surface.js)

# Resolves with a cheap hash of a canvas's pixels.
CANVAS_HASH_JS = """
canvas => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let h = 0;
  for (let i = 0; i < data.length; i += 7) h = (h * 31 + data[i]) | 0;
  return h;
}
"""


def kernel_output(notebook, code: str) -> str:
    """Run ``code`` in the notebook's kernel (not as a cell: the notebook is left as it is); its printed text
    and the value of its last expression."""
    return notebook.page.evaluate(
        """async code => {
            const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const future = kernel.requestExecute({code, store_history: false});
            let text = '';
            future.onIOPub = message => {
              const content = message.content;
              if (message.header.msg_type === 'stream') text += content.text;
              if (message.header.msg_type === 'execute_result') text += content.data['text/plain'];
              if (message.header.msg_type === 'error') text += `${content.ename}: ${content.evalue}`;
            };
            await future.done;
            return text;
        }""",
        code,
    )


class Explorer:
    """One loss-surface explorer on a page: its controls, canvas, readouts and frame counter."""

    def __init__(self, page, index: int = 0):
        self.page = page
        self.root = page.locator(WIDGET).nth(index)

    def control(self, name: str):
        return self.root.locator(f"[data-control='{name}']")

    @property
    def canvas(self):
        return self.root.locator("canvas")

    def canvas_hash(self) -> int:
        return self.canvas.evaluate(CANVAS_HASH_JS)

    def frames(self) -> int:
        return int(self.root.get_attribute("data-frames") or 0)

    def readouts(self) -> dict[str, str]:
        items = self.root.locator(".bnlib-ls-readout")
        return {
            items.nth(i).locator(".bnlib-ls-readout-name").text_content(): items.nth(i)
            .locator("b")
            .text_content()
            for i in range(items.count())
        }

    def drag(
        self, name: str, start: float, stop: float, moves: int, interval_ms: float = 1000 / 60, release=True
    ) -> None:
        """Drag a slider's thumb with the mouse from fraction ``start`` of its track to ``stop``, in ``moves``
        pointer moves ``interval_ms`` apart (60 per second by default), then release it (or hold on)."""
        self.control(name).scroll_into_view_if_needed()
        box = self.control(name).bounding_box()
        y = box["y"] + box["height"] / 2

        def x_at(fraction):
            return box["x"] + 8 + fraction * (box["width"] - 16)  # the thumb's centre stays 8 px inside

        self.page.mouse.move(x_at(start), y)
        self.page.mouse.down()
        for i in range(1, moves + 1):
            self.page.mouse.move(x_at(start + (stop - start) * i / moves), y)
            self.page.wait_for_timeout(interval_ms)
        if release:
            self.page.mouse.up()


# Installed on demand in a page: counts the changes of a canvas's pixels, checked once per animation frame
# (what a learner can see), with the time of the last change. Used by the browser benchmark.
WATCH_CANVAS_JS = (
    """
canvas => {
  const hash = """
    + CANVAS_HASH_JS
    + """;
  const state = {changes: 0, lastChange: performance.now(), stopped: false};
  let previous = hash(canvas);
  const tick = () => {
    if (state.stopped) return;
    const current = hash(canvas);
    if (current !== previous) {
      previous = current;
      state.changes += 1;
      state.lastChange = performance.now();
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  window.__canvasWatch = state;
}
"""
)


def kernel_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (the notebook's kernel) has used so far, from /proc (Linux)."""
    import os

    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
