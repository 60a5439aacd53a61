"""Where a live panel's parts go: the box every panel fits in on a laptop, and its controls beside or above
the figure. bnlib.live lays out every panel with :func:`arrange`; tests/browser/test_browser.py checks the
result in Chromium.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The box every panel is laid into, in CSS pixels: the output width of a notebook on a 1366×768 laptop with
# JupyterLab's file browser open (934 px) and the notebook height on a 1280×720 projector with it collapsed
# (599 px), each less a margin. Measured in Chromium; tests/browser/test_browser.py checks every panel in both.
PANEL_BOX = (900, 570)
CONTROL_WIDTH = 320  # every control, so a column of them lines up
GAP = 12
HEADER_HEIGHT = 28  # the panel's title line
CONTROL_HEIGHT = 36  # one control with its margins
READOUT_HEIGHT = 72  # room kept for three lines of readouts below the figure
LABEL_PX_PER_CHAR = 7.4  # JupyterLab's 13 px widget font, a generous average per character


@dataclass(frozen=True)
class Arrangement:
    """Where a panel's controls go and how large its figure is drawn (CSS pixels; 1 inch = dpi pixels)."""

    controls_beside: bool  # a column left of the figure; else a strip of rows above it
    figure_size: tuple[float, float]  # inches


def arrange(figsize: tuple[float, float], control_count: int, dpi: float) -> Arrangement:
    """Fit a panel into PANEL_BOX: its controls beside the figure or in a strip above it, whichever leaves
    the figure larger; the figure keeps the aspect of ``figsize`` and is only ever shrunk."""
    width, height = figsize[0] * dpi, figsize[1] * dpi
    free_height = PANEL_BOX[1] - HEADER_HEIGHT - READOUT_HEIGHT
    per_row = max(1, (PANEL_BOX[0] + GAP) // (CONTROL_WIDTH + GAP))
    rows = math.ceil(control_count / per_row)
    beside_box = (PANEL_BOX[0] - CONTROL_WIDTH - GAP, free_height)
    above_box = (PANEL_BOX[0], free_height - rows * CONTROL_HEIGHT - GAP)
    column_fits = control_count * CONTROL_HEIGHT <= free_height

    def scale(box):
        return min(1.0, box[0] / width, box[1] / height)

    # Beside unless the strip leaves the figure clearly (10 %) larger: a column reads more easily.
    beside = column_fits and 1.1 * scale(beside_box) >= scale(above_box)
    factor = scale(beside_box if beside else above_box)
    return Arrangement(beside, (figsize[0] * factor, figsize[1] * factor))
