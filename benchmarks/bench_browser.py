"""Benchmark: in JupyterLab in Chromium, the time from a slider change to the figure's canvas repainting.

For every panel of every interactive notebook, the first slider that repaints it is moved REPEATS times by
keyboard (alternating up and down); the time from the keydown event to the canvas pixels changing is measured
inside the page. This is what a learner feels: kernel update + the ipympl image round trip + the paint.
A notebook whose figures are all static has no row of timings.
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


def time_menu(notebook: LabNotebook, panel: int, name: str, menus: list[dict]) -> None:
    """The panel's first menu, stepped to an option not shown before (a new picture: often a full redraw),
    then back and forth between options already shown (their pictures' backgrounds are kept)."""
    if notebook.dropdowns(panel).count() == 0:
        return
    first = notebook.pick_option(panel, 0, +1, timeout_ms=5_000)
    if first < 0:  # an option that draws the same picture
        return
    again = [notebook.pick_option(panel, 0, step, timeout_ms=5_000) for step in (-1, +1) * 3]
    menus.append({"notebook": name, "panel": panel, "first_ms": first, "again_ms": [t for t in again if t >= 0]})


def main(name_filter: str = "", pixel_ratio: float = 1.0) -> list[dict]:
    rows, menus = [], []
    with JupyterLab(NOTEBOOKS) as lab, chromium(pixel_ratio=pixel_ratio) as browser:
        for path, _ in INTERACTIVE:
            if name_filter not in path.stem:
                continue
            notebook = LabNotebook.open(browser, lab, str(path.relative_to(NOTEBOOKS)))
            try:
                run_seconds = notebook.run_all()
                latencies = []
                for panel in range(notebook.panel_count()):
                    notebook.wait_for_figure(panel)
                    slider = first_repainting_slider(notebook, panel)
                    if slider is not None:
                        for i in range(REPEATS):
                            key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
                            latency = notebook.nudge_slider(panel, slider, key=key, timeout_ms=5_000)
                            if latency >= 0:
                                latencies.append(latency)
                    time_menu(notebook, panel, path.stem, menus)
                rows.append(
                    {
                        "notebook": path.stem,
                        "run_all_s": run_seconds,
                        "panels": notebook.panel_count(),
                        "latencies": latencies,
                    }
                )
            finally:
                notebook.close()
    print(f"JupyterLab in Chromium, {pixel_ratio:g} device pixel(s) per CSS pixel:", end=" ")
    print("key press on a slider → canvas repainted\n")
    print("| notebook | Run All (s) | panels | repaints | median (ms) | p95 (ms) | max (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        latencies = row["latencies"]
        timing = (
            f"{statistics.median(latencies):.0f} | {percentile(latencies, 95):.0f} | {max(latencies):.0f}"
            if latencies
            else "— | — | —"
        )
        print(f"| {row['notebook']} | {row['run_all_s']:.1f} | {row['panels']} | {len(latencies)} | {timing} |")
    every = [latency for row in rows for latency in row["latencies"]]
    if every:
        print(
            f"\nall {len(every)} repaints: median {statistics.median(every):.0f} ms (target ≤ 150 ms), "
            f"p95 {percentile(every, 95):.0f} ms"
        )
    if menus:
        print("\nMenus (units, feature, transform…): option picked → canvas repainted\n")
        print("| notebook | panel | new option (ms) | option shown before, median (ms) |")
        print("|---|---:|---:|---:|")
        for menu in menus:
            again = f"{statistics.median(menu['again_ms']):.0f}" if menu["again_ms"] else "—"
            print(f"| {menu['notebook']} | {menu['panel']} | {menu['first_ms']:.0f} | {again} |")
    return rows


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    # python benchmarks/bench_browser.py [notebook name filter] [device pixel ratio]
    main(*sys.argv[1:2], *(float(ratio) for ratio in sys.argv[2:3]))
