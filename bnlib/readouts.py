"""The readouts under a live figure: its numbers now, in one polite live region a screen reader announces.

``ReadoutRegion`` is the widget :class:`bnlib.live.Panel` shows below its figure. Its front end,
``readouts.js`` next to this file, makes the region once and changes only what is inside it, because a
screen reader reads the changes of a live region that stays in the page, not one replaced on every update.
It shows either the readouts (one unbreakable "name value" item each, wrapping between items) or the
panel's message in the warning colour.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

ES_MODULE = Path(__file__).with_name("readouts.js")


class ReadoutRegion(anywidget.AnyWidget):
    """items: [[name, value], ...] as shown, in order; message: the panel's message ('' when it drew).
    Its width is its ``layout.width``, as for any widget."""

    _esm = ES_MODULE
    _css = """
    .bnlib-readouts { display: flex; flex-wrap: wrap; column-gap: 2em; row-gap: 2px; line-height: 1.5;
      font-family: var(--jp-widgets-font-family, var(--jp-ui-font-family, system-ui, sans-serif));
      font-size: var(--jp-widgets-font-size, 13px); color: var(--jp-widgets-label-color, inherit); }
    .bnlib-readouts span { white-space: nowrap; }
    .bnlib-readouts b { font-variant-numeric: tabular-nums; }
    .bnlib-readouts[data-message="shown"] { display: block; color: var(--jp-warn-color0, #b45309); }
    """
    items = traitlets.List().tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    def show(self, readouts: dict[str, str], message: str = "") -> None:
        """Send the readouts and the message together, as one update of the page."""
        with self.hold_sync():
            self.message = message
            self.items = [] if message else [[name, value] for name, value in readouts.items()]
