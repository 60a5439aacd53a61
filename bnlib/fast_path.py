"""The fast path of a live panel: what stays drawn between updates, so that an update repaints only the data.

``KeptBackgrounds`` keeps pictures of a figure's static part (axes, ticks, labels, fixed artists) and counts
full draws and repaints; :class:`bnlib.live.Panel` uses it on every update. ``live_title`` and
``static_legend`` are the text and legends a panel draws so that they stay out of the per-update repaint.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


def live_title(ax, fontsize=None):
    """A title whose text may change on every update, updated with ``set_text``: an ``ax.text`` where
    ``ax.set_title`` would put it (6 points above the axes).

    The texts of an axes are repainted over the cached background on each update, whereas a changed
    ``set_title`` forces a full redraw of the figure. fontsize: None for the panel's base text size.
    """
    from matplotlib.transforms import ScaledTranslation

    above = ScaledTranslation(0.0, 6.0 / 72.0, ax.figure.dpi_scale_trans)
    return ax.text(
        0.5, 1.0, "", transform=ax.transAxes + above, ha="center", va="baseline", fontsize=fontsize
    )


def static_legend(ax, loc="upper right", anchor=(0.0, 0.0, 1.0, 1.0), handles=None, labels=None, **options):
    """The legend of ``ax``'s labelled artists, drawn once into the cached background.

    It is a figure legend placed at ``loc`` of the box ``anchor`` (in axes coordinates; by default the
    axes): its labels never change, and an axes' own legend would be re-rendered (all its text) on every
    update. Data drawn later paints over it, so pick a quiet corner or a place outside the axes.
    """
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    return ax.figure.legend(
        handles, labels, loc=loc, bbox_to_anchor=anchor, bbox_transform=ax.transAxes, **options
    )


class KeptBackgrounds:
    """Pictures of a figure's static part, kept by what they show, and a count of how each update drew.

    A full draw renders everything; its picture of the static part is kept under the static state it shows
    (limits, labels, …). An update whose static state has a kept picture repaints only the dynamic artists
    over it. ``full_draws`` and ``repaints`` count both kinds, so a test can tell an update that stayed on
    the fast path from one that fell off it. The least recently shown picture goes first when ``capacity``
    are kept.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.full_draws = 0
        self.repaints = 0
        self._pictures: OrderedDict[tuple, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pictures)

    def find(self, state: tuple):
        """The picture kept for ``state`` (now the most recently shown), or None."""
        if state not in self._pictures:
            return None
        self._pictures.move_to_end(state)
        return self._pictures[state]

    def keep(self, state: tuple, picture) -> None:
        self._pictures[state] = picture
        self._pictures.move_to_end(state)
        while len(self._pictures) > self.capacity:
            self._pictures.popitem(last=False)

    def clear(self) -> None:
        self._pictures.clear()
