"""Benchmark: in JupyterLab in Chromium, the time from a slider change to the figure's canvas repainting.

For every panel of every interactive notebook, the first slider is moved REPEATS times by keyboard
(alternating up and down) and the time until the canvas pixels change is measured inside the page.
This is what a learner feels: kernel update + the ipympl image round trip + the browser's paint.
Target: median ≤ 150 ms. Also reports each notebook's Run All time in the browser.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "browser")]

from harness import JupyterLab, LabNotebook, chromium  # noqa: E402
from paths import NOTEBOOKS  # noqa: E402
from test_browser import INTERACTIVE  # noqa: E402

REPEATS = 12


def first_repainting_slider(notebook: LabNotebook, panel: int) -> int | None:
    """The first slider whose move repaints the panel (an offset does nothing to standardized features)."""
    for slider in range(notebook.slider_count(panel)):
        if notebook.nudge_slider(panel, slider, timeout_ms=5_000) >= 0:
            return slider
    return None


def main() -> list[dict]:
    rows = []
    with JupyterLab(NOTEBOOKS) as lab, chromium() as browser:
        for path, _ in INTERACTIVE:
            notebook = LabNotebook.open(browser, lab, str(path.relative_to(NOTEBOOKS)))
            try:
                run_seconds = notebook.run_all()
                latencies = []
                for panel in range(notebook.panel_count()):
                    notebook.wait_for_figure(panel)
                    slider = first_repainting_slider(notebook, panel)
                    if slider is None:
                        continue
                    for i in range(REPEATS):
                        key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
                        latency = notebook.nudge_slider(panel, slider, key=key, timeout_ms=5_000)
                        if latency >= 0:
                            latencies.append(latency)
                rows.append(
                    {
                        "notebook": path.stem,
                        "run_all_s": run_seconds,
                        "panels": notebook.panel_count(),
                        "median_ms": statistics.median(latencies) if latencies else float("nan"),
                        "max_ms": max(latencies) if latencies else float("nan"),
                        "samples": len(latencies),
                    }
                )
            finally:
                notebook.close()
    print("JupyterLab in Chromium: slider change → canvas repainted\n")
    print("| notebook | Run All (s) | panels | repaints | median (ms) | max (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['notebook']} | {row['run_all_s']:.1f} | {row['panels']} | {row['samples']} "
            f"| {row['median_ms']:.0f} | {row['max_ms']:.0f} |"
        )
    every = [r["median_ms"] for r in rows if r["samples"]]
    if every:
        print(f"\nmedian over notebooks: {statistics.median(every):.0f} ms (target ≤ 150 ms)")
    return rows


if __name__ == "__main__":
    main()
