"""Benchmark: how fast every live panel redraws after a control change, kernel side (compute + draw).

Each panel is driven through CHANGES control changes exactly as a slider would (``panel.set``), with
seeded random values inside each control's range; the time of each update (render + matplotlib draw on
the Agg canvas) is recorded. The naive baseline re-creates the whole figure for each change, as a notebook
that calls ``plt.subplots`` inside its callback would; its ratio to the in-place update is measured in the
same run. Targets: median ≤ 30 ms and p95 ≤ 60 ms per update.
"""

from __future__ import annotations

import random
import statistics
import sys
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from bnlib.live import Panel, control_values  # noqa: E402
from bnlib.panels import course_panels  # noqa: E402

CHANGES = 60
NAIVE_CHANGES = 8


def random_change(panel: Panel, rng: random.Random) -> dict:
    """One control, moved to a random value a learner could pick."""
    name, widget = rng.choice(list(panel.control_widgets.items()))
    kind, allowed = control_values(widget)
    if kind == "range":
        low, high = allowed
        value = rng.randint(low, high) if isinstance(low, int) else rng.uniform(low, high)
    elif kind == "options":
        value = rng.choice(allowed)
    else:
        value = widget.value
    return {name: value}


def time_panel(panel_class: type[Panel], seed: int = 0) -> dict:
    rng = random.Random(seed)
    panel = panel_class()
    in_place = []
    for _ in range(CHANGES):
        panel.set(**random_change(panel, rng))
        in_place.append(panel.last_update_seconds)
    naive = []
    for _ in range(NAIVE_CHANGES):
        values = {**panel.values, **random_change(panel, rng)}
        start = time.perf_counter()
        fresh = panel_class(**values)  # builds controls, figure and artists again, then renders and draws
        fresh.fig.canvas.draw()
        naive.append(time.perf_counter() - start)
    in_place_ms = np.array(in_place) * 1e3
    return {
        "panel": f"{panel_class.__module__.split('.')[-1]}.{panel_class.__name__}",
        "median_ms": float(np.median(in_place_ms)),
        "p95_ms": float(np.percentile(in_place_ms, 95)),
        "naive_median_ms": statistics.median(naive) * 1e3,
    }


def main(name_filter: str = "") -> list[dict]:
    print(f"Live panels: kernel-side update (compute + draw), {CHANGES} control changes each\n")
    print("| panel | median (ms) | p95 (ms) | naive re-create (ms) | naive / in place |")
    print("|---|---:|---:|---:|---:|", flush=True)
    rows = []
    for panel_class in course_panels():
        if name_filter not in f"{panel_class.__module__}.{panel_class.__name__}":
            continue
        row = time_panel(panel_class)
        rows.append(row)
        print(
            f"| {row['panel']} | {row['median_ms']:.1f} | {row['p95_ms']:.1f} | {row['naive_median_ms']:.1f} "
            f"| {row['naive_median_ms'] / row['median_ms']:.1f}× |",
            flush=True,
        )
    slowest = max(rows, key=lambda r: r["p95_ms"])
    print(
        f"\nslowest p95: {slowest['panel']} at {slowest['p95_ms']:.1f} ms (target ≤ 60 ms; median target ≤ 30 ms)"
    )
    return rows


if __name__ == "__main__":
    main(*sys.argv[1:2])  # optional: part of a panel's name, e.g. LossSurface
