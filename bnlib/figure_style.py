"""How every figure of the course looks: the colours, and the text and line sizes for a laptop or a projector.

PALETTE holds the Okabe–Ito colours, distinct under the common colour-vision deficiencies
(:func:`simulate_colour_vision` shows how they are seen); :func:`projector` switches the panels made after it to
larger text and thicker lines for the back row. bnlib.live builds its panels with these and re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Okabe & Ito's colours: they stay distinct under protanopia, deuteranopia and tritanopia, and in greyscale
# the dark ones (blue, vermillion, purple) differ from the light ones (orange, sky, yellow).
PALETTE = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "orange": "#E69F00",
    "green": "#009E73",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#767676",  # reference lines and keys: 4.5:1 against white
}

# Machado, Oliveira & Fernandes (2009), severity 1: linear-RGB matrices that show a colour as a viewer with
# protanopia or deuteranopia (the common red–green deficiencies) sees it.
_COLOUR_VISION = {
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
}


def simulate_colour_vision(rgb, deficiency: str) -> np.ndarray:
    """Colours as seen with a colour-vision deficiency ("protanopia" or "deuteranopia").

    rgb: array (..., 3) of sRGB values in [0, 1] (an image or a list of colours). Returns the same shape.
    """
    if deficiency not in _COLOUR_VISION:
        raise ValueError(f"unknown deficiency {deficiency!r}; choose one of {list(_COLOUR_VISION)}.")
    srgb = np.clip(np.asarray(rgb, dtype=float), 0.0, 1.0)
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(linear @ _COLOUR_VISION[deficiency].T, 0.0, 1.0)
    return np.where(seen <= 0.0031308, 12.92 * seen, 1.055 * seen ** (1 / 2.4) - 0.055)


@dataclass(frozen=True)
class Style:
    """How figures are drawn: the base text size in points and a factor on line widths and marker sizes."""

    name: str
    text_pt: float
    line_scale: float


STYLES = {"laptop": Style("laptop", 10.0, 1.0), "projector": Style("projector", 12.0, 1.5)}
_style = STYLES["laptop"]


def projector(on: bool = True) -> Style:
    """Projector mode for the panels made after this call: text of 12 pt instead of 10, lines and markers
    1.5 times as thick, at the same size on screen (so the layout still fits). Returns the style now used.

    One call at the top of a notebook switches every panel below it; re-run a panel's cell after switching.
    """
    global _style
    _style = STYLES["projector" if on else "laptop"]
    return _style


def style() -> Style:
    """The style new panels are drawn with (see :func:`projector`)."""
    return _style


def matplotlib_settings(current: Style) -> dict:
    """matplotlib settings for laying out a panel's figure in ``current`` style."""
    size = current.text_pt
    return {
        "font.size": size,
        "axes.titlesize": size,
        "axes.labelsize": size,
        "xtick.labelsize": size,
        "ytick.labelsize": size,
        "legend.fontsize": size,
        "legend.title_fontsize": size,
        "figure.titlesize": size,
        "axes.linewidth": 0.8 * current.line_scale,  # lines and markers are scaled after setup
    }
