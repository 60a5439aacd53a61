"""Benchmark: in JupyterLab in Chromium, how fast the course's figures follow their controls.

1. Key press → repaint. For every ipympl panel of every interactive notebook, the first slider that repaints
   it is moved REPEATS times by keyboard (alternating up and down); the time from the keydown event to the
   canvas pixels changing is measured inside the page: kernel update + the ipympl image round trip + the
   paint. Target: median ≤ 150 ms. Also each notebook's Run All time in the browser.
2. Dragging. For **every** panel of the course (ipympl panels and the loss-surface explorer drawn in the
   browser), its busiest slider (the one whose key press took longest to repaint) is dragged with the mouse
   at 60 moves per second for DRAG_SECONDS: repaints per second while dragging (a canvas change seen by an
   animation frame), kernel messages during the drag, how long the page took to settle after the last move,
   and the kernel's CPU seconds per second of dragging (from /proc: run it on the machine of the kernel).
3. The loss-surface explorer (notebook 02): key press → repaint for each of its controls. Targets: median
   ≤ 20 ms and p95 ≤ 33 ms for η, β and steps (drawn in the page); ≤ 100 ms for units, transform and
   correlation (a new bowl from the kernel). Two untimed presses first per slider (JavaScript compiles a
   function the first times it runs).

    python -m benchmarks.bench_browser [notebook name filter] [device pixel ratio]
"""

from __future__ import annotations

import statistics
import sys
import time

from coursetools.browser.harness import _WAIT_FOR_CANVAS_CHANGE_JS, JupyterLab, LabNotebook, chromium
from coursetools.browser.loss_surface_page import (
    WATCH_CANVAS_JS,
    WIDGET,
    Explorer,
    kernel_cpu_seconds,
    kernel_output,
)
from coursetools.notebook_runner import interactive_notebooks
from coursetools.paths import NOTEBOOKS

REPEATS = 12
DRAG_SECONDS = 1.5
MOVES_PER_SECOND = 60
# The loss-surface panel drawn by ipympl (before it was drawn in the page) is dragged by this slider, as the
# explorer is: the same gesture before and after.
COMPARED_SLIDER = "η / η_max"
EXPLORER_PRESSES = 20  # per control drawn in the page
EXPLORER_PICKS = 8  # per control that asks the kernel for a new bowl


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
    menus.append(
        {"notebook": name, "panel": panel, "first_ms": first, "again_ms": [t for t in again if t >= 0]}
    )


def drag(page, track, canvas, kernel_pid: int, thumb) -> dict:
    """Drag a slider's ``thumb`` along its ``track`` (locators) at MOVES_PER_SECOND for DRAG_SECONDS, ±30 % of
    the track around where it started and back, watching ``canvas`` (an element handle): repaints per
    second, kernel messages during the drag, seconds from the last move until the picture settled, and the
    kernel's CPU seconds per second of dragging."""
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2
    thumb_box = thumb.bounding_box()
    start_at = (thumb_box["x"] + thumb_box["width"] / 2 - box["x"]) / box["width"]

    def along(i: int) -> float:
        """Where move i of the drag puts the pointer, as a fraction of the track: up, down and back."""
        phase = 4 * i / moves
        triangle = phase if phase <= 1 else 2 - phase if phase <= 3 else phase - 4
        return min(0.98, max(0.02, start_at + 0.3 * triangle))

    moves = round(DRAG_SECONDS * MOVES_PER_SECOND)
    page.evaluate(WATCH_CANVAS_JS, canvas)
    # Mouse events straight through the DevTools protocol: Playwright's mouse waits on each move, too slowly
    # on a busy machine to keep 60 moves per second.
    devtools = page.context.new_cdp_session(page)

    def mouse(kind: str, fraction: float, **extra) -> None:
        event = {"type": kind, "x": box["x"] + fraction * box["width"], "y": y, "button": "left", **extra}
        devtools.send("Input.dispatchMouseEvent", event)

    cpu_before = kernel_cpu_seconds(kernel_pid)
    messages_before = page.evaluate("window.__socketMessages")
    mouse("mousePressed", start_at, buttons=1, clickCount=1)
    start = page.evaluate("performance.now()")
    clock = time.perf_counter()
    for i in range(1, moves + 1):
        mouse("mouseMoved", along(i), buttons=1)
        # On a fixed schedule: a move's own round trip to the browser counts toward its 1/60 s.
        time.sleep(max(0.0, clock + i / MOVES_PER_SECOND - time.perf_counter()))
    last_move = page.evaluate("performance.now()")
    during = page.evaluate("window.__socketMessages") - messages_before
    changes_during = page.evaluate("window.__canvasWatch.changes")
    mouse("mouseReleased", along(moves), buttons=0, clickCount=1)
    # Settled: no repaint for a second (or 30 s passed).
    for _ in range(60):
        page.wait_for_timeout(500)
        if page.evaluate("performance.now() - window.__canvasWatch.lastChange") > 1000:
            break
    settled_after = page.evaluate("window.__canvasWatch.lastChange") - last_move
    page.evaluate("window.__canvasWatch.stopped = true")
    cpu = kernel_cpu_seconds(kernel_pid) - cpu_before
    dragged = (last_move - start) / 1000
    return {
        "moves_per_s": moves / dragged,
        "fps": changes_during / dragged,
        "messages": during,
        "settle_s": max(0.0, settled_after / 1000),
        "cpu_per_s": cpu / dragged,
        "moves": moves,
    }


def time_press(page, canvas, control, key_or_option: str, timeout_ms: int = 5_000) -> float:
    """ms from the page's keydown/input event to ``canvas`` changing (-1: never)."""
    page.evaluate(
        "([c, t]) => { window.__canvasChange = (" + _WAIT_FOR_CANVAS_CHANGE_JS + ")([c, t]); }",
        [canvas, timeout_ms],
    )
    if control.evaluate("e => e.tagName") == "SELECT":
        control.select_option(value=key_or_option)
    else:
        control.press(key_or_option)
    return float(page.evaluate("window.__canvasChange"))


def slider_labelled(notebook: LabNotebook, panel: int, label: str) -> int | None:
    """The index of the panel's slider with this label, if it has one."""
    labels = notebook.panels().nth(panel).locator(".widget-slider label").all_inner_texts()
    return labels.index(label) if label in labels else None


def busiest_slider(notebook: LabNotebook, panel: int) -> int | None:
    """The slider of an ipympl panel whose key press took longest to repaint the figure (None: none does)."""
    slowest, chosen = -1.0, None
    for slider in range(notebook.slider_count(panel)):
        latency = notebook.nudge_slider(panel, slider, timeout_ms=5_000)
        if latency > slowest:
            slowest, chosen = latency, slider
    return chosen


def explorer_benchmark(notebook: LabNotebook, index: int, kernel_pid: int) -> dict:
    """Key press → repaint per control of one loss-surface explorer, and a drag of its η slider."""
    page = notebook.page
    explorer = Explorer(page, index)
    explorer.root.scroll_into_view_if_needed()
    canvas = explorer.canvas.element_handle()
    presses = {}
    for name in ("lr_ratio", "momentum", "steps", "correlation"):
        control = explorer.control(name)
        control.focus()
        for key in ("ArrowRight", "ArrowLeft"):  # untimed: the page compiles its code on first use
            time_press(page, canvas, control, key)
        notebook.wait_for_kernel_idle()
        count = EXPLORER_PRESSES if name != "correlation" else EXPLORER_PICKS
        presses[name] = [
            time_press(page, canvas, control, "ArrowLeft" if i % 2 else "ArrowRight") for i in range(count)
        ]
        notebook.wait_for_kernel_idle()
    for name, options in (("height_unit", ["m", "cm"]), ("transform", ["standardized", "raw"])):
        control = explorer.control(name)
        presses[name] = [time_press(page, canvas, control, options[i % 2]) for i in range(EXPLORER_PICKS)]
        notebook.wait_for_kernel_idle()
    slider = explorer.control("lr_ratio")
    # A native range input: its thumb sits where its value is along the track (near enough to press on it).
    fraction = slider.evaluate("e => (e.value - e.min) / (e.max - e.min)")
    return {
        "presses": presses,
        "drag": drag(page, slider, canvas, kernel_pid, thumb=PointOn(slider, fraction)),
    }


class PointOn:
    """Stands in for a native slider's thumb (which has no element of its own): ``fraction`` along it."""

    def __init__(self, slider, fraction: float):
        self.slider, self.fraction = slider, fraction

    def bounding_box(self) -> dict:
        box = self.slider.bounding_box()
        return {
            "x": box["x"] + self.fraction * box["width"],
            "y": box["y"],
            "width": 0.0,
            "height": box["height"],
        }


def main(name_filter: str = "", pixel_ratio: float = 1.0) -> list[dict]:
    rows, menus, drags, explorers = [], [], [], []
    with JupyterLab(NOTEBOOKS) as lab, chromium(pixel_ratio=pixel_ratio) as browser:
        for path, _ in interactive_notebooks(NOTEBOOKS):
            if name_filter not in path.stem:
                continue
            notebook = LabNotebook.open(browser, lab, str(path.relative_to(NOTEBOOKS)))
            try:
                run_seconds = notebook.run_all()
                kernel_pid = int(kernel_output(notebook, "import os; print(os.getpid())"))
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
                    busiest = slider_labelled(notebook, panel, COMPARED_SLIDER)
                    if busiest is None:
                        busiest = busiest_slider(notebook, panel)
                    if busiest is not None:
                        notebook.wait_for_kernel_idle()
                        handle = notebook.slider_handle(panel, busiest)
                        track = handle.locator("xpath=ancestor::*[contains(@class, 'noUi-target')]").first
                        label = (
                            notebook.panels()
                            .nth(panel)
                            .locator(".widget-slider")
                            .nth(busiest)
                            .locator("label")
                        )
                        canvas = notebook.canvas(panel).element_handle()
                        result = drag(notebook.page, track, canvas, kernel_pid, thumb=handle)
                        drags.append(
                            {"notebook": path.stem, "panel": panel, "slider": label.inner_text(), **result}
                        )
                # The first explorer of a notebook (the others are the same panel with other settings).
                for index in range(min(1, notebook.page.locator(WIDGET).count())):
                    result = explorer_benchmark(notebook, index, kernel_pid)
                    explorers.append({"notebook": path.stem, "panel": index, **result})
                    drags.append(
                        {
                            "notebook": path.stem,
                            "panel": f"explorer {index}",
                            "slider": "η / η_max",
                            **result["drag"],
                        }
                    )
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
    print("key press on a slider → canvas repainted (ipympl panels)\n")
    print("| notebook | Run All (s) | panels | repaints | median (ms) | p95 (ms) | max (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        latencies = row["latencies"]
        timing = (
            f"{statistics.median(latencies):.0f} | {percentile(latencies, 95):.0f} | {max(latencies):.0f}"
            if latencies
            else "— | — | —"
        )
        print(
            f"| {row['notebook']} | {row['run_all_s']:.1f} | {row['panels']} | {len(latencies)} | {timing} |"
        )
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
    if drags:
        print(
            f"\nDragging each panel's busiest slider with the mouse, {MOVES_PER_SECOND} moves/s for "
            f"{DRAG_SECONDS:g} s\n"
        )
        print(
            "| notebook | panel | slider | moves/s | repaints/s | kernel messages during the drag | settled "
            "after the last move (s) | kernel CPU s per s of dragging |"
        )
        print("|---|---|---|---:|---:|---:|---:|---:|")
        for row in drags:
            print(
                f"| {row['notebook']} | {row['panel']} | {row['slider']} | {row['moves_per_s']:.0f} | "
                f"{row['fps']:.0f} | {row['messages']} | "
                f"{row['settle_s']:.2f} | {row['cpu_per_s']:.2f} |"
            )
    if explorers:
        print("\nLoss-surface explorer (drawn in the page): key press or pick → canvas repainted\n")
        print("| panel | control | presses | median (ms) | p95 (ms) | max (ms) |")
        print("|---|---|---:|---:|---:|---:|")
        for explorer in explorers:
            for name, latencies in explorer["presses"].items():
                timed = [t for t in latencies if t >= 0]
                missed = len(latencies) - len(timed)
                timing = (
                    f"{statistics.median(timed):.1f} | {percentile(timed, 95):.1f} | {max(timed):.1f}"
                    if timed
                    else "— | — | —"
                )
                note = f" ({missed} did not repaint)" if missed else ""
                print(
                    f"| {explorer['notebook']} {explorer['panel']} | {name}{note} | {len(latencies)} | {timing} |"
                )
    return rows


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    # python -m benchmarks.bench_browser [notebook name filter] [device pixel ratio]
    main(*sys.argv[1:2], *(float(ratio) for ratio in sys.argv[2:3]))
