"""Live figures: a matplotlib figure and ipywidgets controls that redraw in place.

A panel is one figure that answers one question, with its controls beside it and readouts for the numbers
that matter. Write one by subclassing :class:`Panel`::

    class StepSizePanel(Panel):
        title = "Gradient descent on a parabola"
        figsize = (6, 3.5)                        # preferred size in inches; shrunk to fit a laptop

        def controls(self):                       # once: name -> ipywidgets value widget
            return {"lr": widgets.FloatSlider(value=0.1, min=0.01, max=2.5, step=0.01, description="η")}

        def setup(self, fig):                     # once: axes and artists, kept on self
            self.ax = fig.add_subplot()
            self.ax.set(xlim=(0, 50), ylim=(-3, 3))  # fixed limits: moving η only repaints the path
            self.fixed(self.ax.axhline(0, color=PALETTE["grey"]))  # never changes: drawn once
            (self.path,) = self.ax.plot([], [], "o-")

        def render(self, lr):                     # every change: the controls' values as keywords
            w = gradient_descent(lr)              # compute ...
            if not np.all(np.isfinite(w)):
                raise Unstable(f"η = {lr} is above 2/λ = 2: the steps grow and gradient descent diverges.")
            self.path.set_data(range(len(w)), w)  # ... and update artists in place
            return {"final w": f"{w[-1]:.3g}"}    # readouts shown with the figure

In a notebook (after ``%matplotlib widget``) the panel is the last expression of a cell: ``StepSizePanel()``.

What the base class does for every panel:
    * builds the controls, the figure and the layout once, and calls ``render`` again on every change;
    * turns :class:`Unstable` (raise it with a sentence for the learner when a setting diverges or is
      degenerate) and numpy overflow or invalid values into a message drawn on the figure, so a slider can
      never break the panel; any other exception is a bug: it is shown too (the panel keeps working) and
      kept in ``panel.last_error``, and the test suite fails on it;
    * gives tests and benchmarks the same handle a slider has: ``panel.set(lr=0.5)``, ``panel.values``,
      ``panel.readouts``, ``panel.message``, ``panel.drawn()``, ``panel.last_update_seconds``,
      ``panel.backgrounds.full_draws``;
    * registers every concrete subclass in ``Panel.registry``, so the test suite sweeps every control of
      every panel to its extremes, checks its fast path, its text sizes and its layout, and ``make bench``
      times every panel;
    * shows a PNG of the figure (with alt text) where no kernel is running, next to the live widget.

Layout: made for a laptop. Every panel must show all its controls, its whole figure and its readouts at
one scroll position on a 1366×768 laptop with JupyterLab's file browser open (934 px of output width) and on
a 1280×720 projector with it collapsed (599 px of notebook height). The toolkit lays every panel into
PANEL_BOX (CSS pixels) and picks the arrangement itself: the controls in a column beside the figure, or in a
strip above it when that leaves the figure clearly larger; ``figsize`` is shrunk (never enlarged) to the
space left, keeping its aspect, and the axes move inward once if their labels would then leave the figure.
Readouts sit below, as one-line items that wrap as wholes, in an aria-live region that a screen reader
announces (:mod:`bnlib.readouts`, made once in the page so that its changes are read). Labels are sized to the
longest control description, so none is cut. Keep descriptions and readout names short (a readout item must
fit PANEL_BOX's width).
tests/browser/test_browser.py measures this in Chromium for every panel of every notebook.

Text, colour, projector: figure text is never smaller than ``style().text_pt`` (10 pt; 12 pt in projector
mode): the base class lays out ``setup`` with that base size and raises any smaller text to it.
``projector(True)`` (one call at the top of a notebook, before its panels) enlarges text, lines and markers
for the back row at the same pixel size, so the layout still fits. Colours come from :data:`PALETTE` (the
Okabe–Ito colours, distinct under the common colour-vision deficiencies); wherever two states are contrasted,
give them a second cue as well (line style, hatching, a direct label), never hue alone.

The fast path, and when it is left. An update repaints only the dynamic artists over a kept picture of the
static part of the figure; a full redraw (every tick and label laid out and rendered again) costs 5–20 times
more. The contract:
    * static: the axes (limits, scales, ticks, titles, axis labels), figure texts and legends, and every
      artist passed to ``self.fixed(...)`` in ``setup`` (shading, reference lines, curves that never change);
    * dynamic: every other artist inside an axes (lines, images, collections, patches, axes texts),
      repainted on every update. Put text that changes in an axes text (``fast_path.live_title``), not in a title;
    * a full redraw happens when the static state changes: new limits, scales, titles, axis labels or figure
      texts, or a ``fixed`` artist that was changed anyway. Its picture is kept (``backgrounds_kept`` of
      them, in ``panel.backgrounds``), so going back to a view shown before is a repaint again;
    * every control is held to the fast path: tests/test_panels.py moves each one through its range and
      fails on a full redraw, except for the controls a panel lists in ``full_redraw_controls`` (a new unit
      or transform that has to change the axes). Keep limits fixed where you can (``keep_in_view`` when you
      cannot), and legends out of the data (``fast_path.static_legend``).

Subclasses must be constructible with no arguments (defaults for everything). A subclass that needs
configuration takes it as keyword arguments in its own ``__init__`` and then calls ``super().__init__(**values)``.
Set ``continuous_update = False`` on a panel whose update is too slow to follow a dragged slider: it then
redraws when the slider is released.
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
import time
from typing import Any, ClassVar

import numpy as np

from bnlib.fast_path import KeptBackgrounds

# Colours and text sizes have their own module; they stay importable from here, where every panel finds them.
from bnlib.figure_style import (  # noqa: F401 - re-exported
    PALETTE,
    STYLES,
    Style,
    matplotlib_settings,
    projector,
    simulate_colour_vision,
    style,
)
from bnlib.panel_layout import (  # noqa: F401 - re-exported
    CONTROL_WIDTH,
    GAP,
    LABEL_PX_PER_CHAR,
    PANEL_BOX,
    Arrangement,
    arrange,
)


class Unstable(Exception):
    """A setting the panel cannot draw meaningfully (divergence, overflow, a degenerate case).

    The message is shown to the learner on the figure, so write it as a sentence that says what happened
    and which control brings it back.
    """


def _is_widget_backend() -> bool:
    import matplotlib

    backend = matplotlib.get_backend().lower()  # "widget" or "ipympl" after %matplotlib widget
    return backend in ("widget", "ipympl") or "ipympl" in backend


def _new_figure(figsize):
    """A figure whose canvas is the ipympl widget under ``%matplotlib widget``, else a plain Agg figure."""
    if _is_widget_backend():
        import matplotlib.pyplot as plt

        with plt.ioff():  # we place the canvas ourselves, inside the panel's layout
            fig = plt.figure(figsize=figsize)
        fig.canvas.header_visible = False
        fig.canvas.footer_visible = False
        fig.canvas.toolbar_visible = False
        fig.canvas.resizable = False
        return fig
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig) -> bytes:
    """The figure rendered to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    return buffer.getvalue()


def control_values(widget):
    """The values a control can take, as a slider or menu would offer them: (kind, values)."""
    if hasattr(widget, "options"):
        return "options", list(widget._options_values)  # the values behind the labels
    if hasattr(widget, "min") and hasattr(widget, "max"):
        return "range", (widget.min, widget.max)
    if isinstance(widget.value, bool):
        return "options", [False, True]
    return "free", None


# Helpers for panels whose axes stay still while the data moves.


def histogram(values, edges, *, clip: bool = False):
    """Counts of ``values`` in the fixed bins ``edges`` (B + 1,), as (bin centres (B,), counts (B,)).

    Fixed bins keep the axes still while the data moves. With ``clip`` values beyond the bins are counted
    in the edge bins (a pile-up at the border shows they exist); without it they are left out.
    """
    values = np.clip(values, edges[0], edges[-1]) if clip else values
    counts, _ = np.histogram(values, bins=edges)
    return 0.5 * (edges[:-1] + edges[1:]), counts


def padded_range(values, fraction: float = 0.05) -> tuple[float, float]:
    """(low, high) of ``values``, widened by ``fraction`` of their span on each side."""
    low, high = float(np.min(values)), float(np.max(values))
    pad = fraction * (high - low)
    return low - pad, high + pad


class Panel:
    """Base class of every live figure in the course. See the module docstring for the contract."""

    title: ClassVar[str] = ""
    figsize: ClassVar[tuple[float, float]] = (7.0, 4.0)  # preferred; arrange() shrinks it to fit a laptop
    continuous_update: ClassVar[bool] = True
    # Controls that may change the static part of the figure (a unit, a transform: new axes). Every other
    # control must only repaint; tests/test_panels.py holds each panel to that.
    full_redraw_controls: ClassVar[tuple[str, ...]] = ()
    # Full draws remembered by what their static parts show, so going back to an earlier unit or option
    # (cm → in → cm) repaints over a kept background instead of drawing every tick again.
    backgrounds_kept: ClassVar[int] = 6
    registry: ClassVar[list[type[Panel]]] = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("abstract", False):
            Panel.registry.append(cls)

    # ----- what a subclass writes -------------------------------------------------------------
    def controls(self) -> dict[str, Any]:
        raise NotImplementedError

    def setup(self, fig) -> None:
        raise NotImplementedError

    def render(self, **values) -> dict[str, str] | None:
        raise NotImplementedError

    def new_figure(self):
        """The panel's figure, at the size :func:`arrange` chose: the ipympl canvas under ``%matplotlib
        widget``, else a plain Agg figure. A panel that draws in the browser itself overrides this to keep a
        plain Agg figure for its static picture."""
        return _new_figure(self.arrangement.figure_size)

    # ----- what every panel gets ----------------------------------------------------------------
    def __init__(self, **values):
        import ipywidgets as widgets
        import matplotlib

        self._controls = self.controls()
        for name, widget in self._controls.items():
            if hasattr(widget, "continuous_update") and not self.continuous_update:
                widget.continuous_update = False
            if name in values:
                value = values.pop(name)
                self._check_value(name, value)
                widget.value = value
        if values:
            raise ValueError(self._unknown_controls_message(values))
        self._size_controls()
        self.readouts: dict[str, str] = {}
        self.message = ""
        self.last_error: BaseException | None = None
        self.last_update_seconds = float("nan")
        self._holding = False

        self.style = style()
        with matplotlib.rc_context(matplotlib_settings(self.style)):
            self.arrangement = arrange(self.figsize, len(self._controls), matplotlib.rcParams["figure.dpi"])
            self.fig = self.new_figure()
            self._fixed: list = []
            self.setup(self.fig)
            self._message_text = self.fig.text(
                0.5,
                0.5,
                "",
                ha="center",
                va="center",
                multialignment="center",
                fontsize=self.style.text_pt + 1,
                zorder=1000,
                visible=False,
                bbox={
                    "boxstyle": "round,pad=0.6",
                    "facecolor": "#fff3cd",
                    "edgecolor": "#b45309",
                    "alpha": 0.95,
                },
            )
        self._apply_style()
        # The fast path: a full draw renders the static parts (axes, ticks, labels, fixed artists) and keeps
        # them as a background; a change that leaves them alone only repaints the dynamic artists over it.
        self.backgrounds = KeptBackgrounds(self.backgrounds_kept)
        self._printing = False
        self.fig.canvas.mpl_connect("draw_event", self._on_full_draw)
        from bnlib.readouts import ReadoutRegion

        self._readout_region = ReadoutRegion(layout=widgets.Layout(width=f"{PANEL_BOX[0]}px"))
        self._image = None  # a PNG image widget, made only when shown without the ipympl canvas
        for widget in self._controls.values():
            widget.observe(self._on_change, names="value")
        self.update()

    def fixed(self, *artists):
        """Declare artists that never change after ``setup`` (shading, reference lines, a curve drawn once):
        they are drawn into the kept background instead of being repainted on every update. Changing one
        later is allowed but costs a full redraw. Returns the artist (or the tuple of artists) passed."""
        self._fixed.extend(artists)
        return artists[0] if len(artists) == 1 else artists

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: widget.value for name, widget in self._controls.items()}

    @property
    def control_widgets(self) -> dict[str, Any]:
        """The controls themselves, by name (read their min, max and options from here)."""
        return dict(self._controls)

    def set(self, **values) -> Panel:
        """Set controls from code exactly as moving them would, then redraw once. Returns the panel."""
        unknown = {name: v for name, v in values.items() if name not in self._controls}
        if unknown:
            raise ValueError(self._unknown_controls_message(unknown))
        for name, value in values.items():
            self._check_value(name, value)
        self._holding = True
        try:
            for name, value in values.items():
                self._controls[name].value = value
        finally:
            self._holding = False
        self.update()
        return self

    def update(self) -> None:
        """Render the current values; never raises: failures become the on-figure message."""
        start = time.perf_counter()
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                readouts = self.render(**self.values) or {}
            self._show_message("")
            self.readouts = {str(k): str(v) for k, v in readouts.items()}
            self.last_error = None
        except Unstable as problem:
            self._fail(problem, str(problem))
        except FloatingPointError as problem:
            self._fail(
                problem, f"This setting overflows ({problem}). Move the sliders back toward the middle."
            )
        except Exception as problem:  # a bug: the figure says so and keeps working; the tests fail on it
            self._fail(
                problem,
                f"Cannot draw this setting: a bug in this panel ({type(problem).__name__}: {problem}). "
                "Move the control back; the other settings still work.",
            )
        self._refresh_readouts()
        self._redraw()
        if self._image is not None:
            self._image.value = self.png()
        self.last_update_seconds = time.perf_counter() - start

    def drawn(self) -> dict[str, np.ndarray]:
        """The numbers currently drawn (lines, images, scatter offsets, bar heights), for tests."""
        arrays = {}
        for i, ax in enumerate(self.fig.axes):
            for j, line in enumerate(ax.get_lines()):
                if line.get_visible():
                    arrays[f"ax{i}.line{j}"] = np.asarray(line.get_xydata(), dtype=float)
            for j, image in enumerate(ax.get_images()):
                arrays[f"ax{i}.image{j}"] = np.ma.filled(np.ma.asarray(image.get_array(), dtype=float), 0.0)
            for j, collection in enumerate(ax.collections):
                offsets = np.ma.filled(np.ma.asarray(collection.get_offsets(), dtype=float), 0.0)
                if offsets.size and collection.get_visible():
                    arrays[f"ax{i}.collection{j}"] = offsets
            heights = [p.get_height() for p in ax.patches if hasattr(p, "get_height") and p.get_visible()]
            if heights:
                arrays[f"ax{i}.bars"] = np.asarray(heights, dtype=float)
        return arrays

    def widget(self):
        """The panel as one ipywidgets box, laid out by :func:`arrange`: the title; the controls beside the
        figure or in a strip above it; the readouts below."""
        import ipywidgets as widgets

        header = widgets.HTML(f"<b>{html.escape(self.title)}</b>") if self.title else None
        if _is_widget_backend():
            canvas = self.fig.canvas
        else:  # no %matplotlib widget: show the figure as an image that is refreshed after every change
            if self._image is None:
                self._image = widgets.Image(format="png", value=self.png())
            canvas = self._image
        controls = list(self._controls.values())
        if self.arrangement.controls_beside:
            column = widgets.VBox(
                controls, layout=widgets.Layout(width=f"{CONTROL_WIDTH}px", flex="0 0 auto")
            )
            body = widgets.HBox(
                [column, canvas], layout=widgets.Layout(align_items="flex-start", grid_gap=f"{GAP}px")
            )
        else:
            strip = widgets.HBox(
                controls,
                layout=widgets.Layout(flex_flow="row wrap", grid_gap=f"0 {GAP}px", width=f"{PANEL_BOX[0]}px"),
            )
            body = widgets.VBox([strip, canvas])
        return widgets.VBox([part for part in (header, body, self._readout_region) if part is not None])

    def alt_text(self) -> str:
        """A sentence for a picture of the panel where it cannot be seen: its title, what the figure shows,
        and the readouts now."""
        doc = (type(self).__doc__ or "").strip().split("\n\n")[0]
        summary = " ".join(doc.split())
        readouts = "; ".join(f"{name}: {value}" for name, value in self.readouts.items())
        return " ".join(
            part for part in (f"{self.title}.", summary, readouts and f"Now: {readouts}.") if part
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The live widget for JupyterLab, plus a picture (with alt text) that viewers without a kernel show.
        bundle = self.widget()._repr_mimebundle_(include=include, exclude=exclude) or {}
        png = base64.b64encode(self.png()).decode("ascii")
        bundle["image/png"] = png
        bundle["text/html"] = f'<img src="data:image/png;base64,{png}" alt="{html.escape(self.alt_text())}">'
        bundle["text/plain"] = f"<{type(self).__name__}: {self.title}>"
        return bundle

    def png(self) -> bytes:
        """The figure as it looks now, as PNG bytes (a full render, independent of blitting)."""
        dynamic = self._dynamic_artists()
        self._printing = True
        try:
            for artist in dynamic:
                artist.set_animated(False)
            return figure_png(self.fig)
        finally:
            for artist in dynamic:
                artist.set_animated(True)
            self._printing = False
            self.backgrounds.clear()  # printing reused the canvas's renderer: the next update draws in full

    @staticmethod
    def keep_in_view(
        ax,
        *,
        x=None,
        y=None,
        margin: float = 0.05,
        shrink_below: float = 0.3,
        edge: float = 0.0,
        square=False,
    ) -> bool:
        """Fit the axes' limits to the data lazily, so most updates keep them and can be blitted.

        The policy of every panel whose limits follow its data (others fix their limits per setting): limits
        change when the data comes within ``edge`` of the view's width of a border (with the default 0: when
        it leaves the view), or spans less than ``shrink_below`` of the view (0: the view only ever grows);
        otherwise they stay put, since a change of limits forces a full redraw of ticks and labels, which
        costs far more than repainting the data. New limits span the data plus ``margin`` of its span on each
        side.
        x, y: arrays of the data shown along that axis (None leaves the axis alone).
        square: both axes get the span of the wider one, each centred on its data (x and y given); with
        ``margin=0.5`` the data then sits between a quarter and three quarters of the view.
        Returns whether the limits changed.
        """
        shown = {}  # set_limits -> (data low, data high, current limits)
        for values, get_limits, set_limits in ((x, ax.get_xlim, ax.set_xlim), (y, ax.get_ylim, ax.set_ylim)):
            if values is None:
                continue
            values = np.asarray(values, dtype=float)
            values = values[np.isfinite(values)]
            if values.size:
                shown[set_limits] = (float(values.min()), float(values.max()), get_limits())
        square_span = max((high - low for low, high, _ in shown.values()), default=0.0)

        def must_change(low, high, limits):
            width = limits[1] - limits[0]
            near_edge = low < limits[0] + edge * width or high > limits[1] - edge * width
            return near_edge or (square_span if square else high - low) < shrink_below * width

        def new_limits(low, high):
            if not square:
                pad = margin * (high - low) if high > low else max(abs(high), 1.0) * margin
                return low - pad, high + pad
            pad = margin * square_span if square_span > 0 else max(abs(high), 1.0) * margin
            centre, half = (low + high) / 2, square_span / 2 + pad
            return centre - half, centre + half

        if square:  # both axes move or neither, so that the view stays square
            changing = list(shown) if any(must_change(*data) for data in shown.values()) else []
        else:
            changing = [set_limits for set_limits, data in shown.items() if must_change(*data)]
        for set_limits in changing:
            low, high, _ = shown[set_limits]
            set_limits(*new_limits(low, high))
        return bool(changing)

    # ----- internals ----------------------------------------------------------------------------
    def _size_controls(self) -> None:
        """Every control as wide as the column, with labels as wide as the longest description (none cut)."""
        import ipywidgets as widgets

        labelled = [w for w in self._controls.values() if not isinstance(w, widgets.Checkbox)]
        longest = max((len(w.description) for w in labelled), default=0)
        label_width = min(CONTROL_WIDTH - 140, math.ceil(longest * LABEL_PX_PER_CHAR) + 8)
        for widget in self._controls.values():
            widget.layout.width = f"{CONTROL_WIDTH - 8}px"  # ipywidgets adds a margin on each side
            if isinstance(widget, widgets.Checkbox):
                widget.indent = False  # its description sits right of the box, not in the label column
            elif longest:
                widget.style.description_width = f"{label_width}px"

    def _apply_style(self) -> None:
        """Raise every text of the figure to the style's size, and thicken lines and markers for it."""
        from matplotlib.lines import Line2D
        from matplotlib.text import Text

        smallest = self.style.text_pt
        for ax in self.fig.axes:
            # Stored for the tick labels matplotlib makes later, when limits change.
            ticks = [*ax.xaxis.get_major_ticks(), *ax.yaxis.get_major_ticks()]
            current = max((tick.label1.get_fontsize() for tick in ticks), default=smallest)
            ax.tick_params(which="both", labelsize=max(current, smallest))
        for text in self.fig.findobj(Text):
            if text.get_fontsize() < smallest:
                text.set_fontsize(smallest)
        if self.style.line_scale != 1.0:
            for line in self.fig.findobj(Line2D):
                line.set_linewidth(line.get_linewidth() * self.style.line_scale)
                line.set_markersize(line.get_markersize() * self.style.line_scale)
                line.set_markeredgewidth(line.get_markeredgewidth() * self.style.line_scale)
        self._keep_text_inside()

    def _keep_text_inside(self, pad: float = 3.0) -> None:
        """Move the axes inward, all together, when their tick labels, titles or texts reach past the
        figure's edge (a figure shrunk to fit the laptop, or text enlarged for a projector). pad: pixels."""
        renderer = self.fig.canvas.get_renderer()
        axes = [ax for ax in self.fig.axes if ax.get_visible()]
        if not axes:
            return
        from matplotlib.transforms import Bbox

        drawn = Bbox.union(
            [
                ax.get_tightbbox(renderer, bbox_extra_artists=[t for t in ax.texts if t.get_text()])
                for ax in axes
            ]
        )
        frames = Bbox.union([ax.get_window_extent(renderer) for ax in axes])
        width, height = self.fig.bbox.width, self.fig.bbox.height
        if drawn.x0 >= 0 and drawn.y0 >= 0 and drawn.x1 <= width and drawn.y1 <= height:
            return
        # Where the frames must go so that what sticks out of them fits: the same overhang, inside the edge.
        target = Bbox.from_extents(
            max(frames.x0, frames.x0 - drawn.x0 + pad),
            max(frames.y0, frames.y0 - drawn.y0 + pad),
            min(frames.x1, width - (drawn.x1 - frames.x1) - pad),
            min(frames.y1, height - (drawn.y1 - frames.y1) - pad),
        )
        for ax in axes:
            box = ax.get_position(original=True)
            x0, x1 = np.interp(
                [box.x0 * width, box.x1 * width], [frames.x0, frames.x1], [target.x0, target.x1]
            )
            y0, y1 = np.interp(
                [box.y0 * height, box.y1 * height], [frames.y0, frames.y1], [target.y0, target.y1]
            )
            ax.set_position([x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height])

    def _dynamic_artists(self) -> list:
        """What a render may change: the axes' artists not declared ``fixed``, axes legends (drawn above the
        data) and the message."""
        fixed = {id(artist) for artist in self._fixed}
        artists = []
        for ax in self.fig.axes:
            candidates = [*ax.images, *ax.collections, *ax.patches, *ax.lines, *ax.texts]
            artists += [artist for artist in candidates if id(artist) not in fixed]
            if ax.get_legend() is not None:
                artists.append(ax.get_legend())
        artists.append(self._message_text)
        return sorted(artists, key=lambda artist: artist.get_zorder())

    def _static_state(self) -> tuple:
        """Everything drawn into the background; when it changes, the background must be redrawn."""
        per_axes = tuple(
            (
                ax.get_visible(),
                ax.bbox.bounds,  # not get_position(): it re-applies the aspect and marks the axes stale
                ax.get_xlim(),
                ax.get_ylim(),
                ax.get_xscale(),
                ax.get_yscale(),
                ax.get_title(),
                ax.get_xlabel(),
                ax.get_ylabel(),
            )
            for ax in self.fig.axes
        )
        figure_texts = tuple(t.get_text() for t in self.fig.texts if t is not self._message_text)
        return per_axes, figure_texts, tuple(self.fig.get_size_inches()), self.fig.dpi

    def _redraw(self) -> None:
        canvas = self.fig.canvas
        for artist in self._dynamic_artists():
            artist.set_animated(True)
        if any(artist.stale for artist in self._fixed):
            self.backgrounds.clear()  # a fixed artist changed: every kept picture shows its old state
        background = self.backgrounds.find(self._static_state())
        if background is not None:
            canvas.restore_region(background)
            self._draw_dynamic()
            canvas.blit(self.fig.bbox)
            self.backgrounds.repaints += 1
            # What is on screen is now current. Without this, a render that re-set unchanged limits leaves
            # the figure stale, and pyplot redraws every stale figure in full after each widget message.
            self.fig.stale = False
        elif self.backgrounds.full_draws:
            # A full draw, now: under ipympl, draw_idle would first ask the browser for a frame and wait for
            # its reply, a round trip before the drawing even starts.
            canvas.draw()
        else:
            # Never drawn yet: under ipympl the browser asks for the first frame once the figure is shown.
            canvas.draw_idle()

    def _on_full_draw(self, _event) -> None:
        if self._printing:
            return
        self.backgrounds.full_draws += 1
        self.backgrounds.keep(self._static_state(), self.fig.canvas.copy_from_bbox(self.fig.bbox))
        for artist in self._fixed:
            artist.stale = False  # drawn into this background (an invisible one is not drawn, nor stale)
        self._draw_dynamic()

    def _draw_dynamic(self) -> None:
        for artist in self._dynamic_artists():
            self.fig.draw_artist(artist)

    def _on_change(self, _change):
        if not self._holding:
            self.update()

    def _fail(self, problem: BaseException, text: str) -> None:
        self.last_error = problem
        self.readouts = {}
        self._show_message(text)

    def _show_message(self, text: str) -> None:
        self.message = text
        # Wrapped here to about 85% of the figure's width: matplotlib's own wrapping measures the text word
        # by word on every draw, which doubled the cost of an update that shows a message.
        em_per_char = 0.6  # DejaVu Sans averages a little over half an em per character
        points_wide = 0.85 * self.fig.get_figwidth() * 72
        width = max(30, int(points_wide / (em_per_char * self._message_text.get_fontsize())))
        self._message_text.set_text(textwrap.fill(text, width))
        self._message_text.set_visible(bool(text))

    def _refresh_readouts(self) -> None:
        self._readout_region.show(self.readouts, self.message)

    def _check_value(self, name: str, value) -> None:
        kind, allowed = control_values(self._controls[name])
        if kind == "range" and not (allowed[0] <= value <= allowed[1]):
            raise ValueError(
                f"{value!r} is outside the range of control {name!r}, [{allowed[0]}, {allowed[1]}]; "
                "a slider cannot go there. Pick a value inside the range."
            )
        if kind == "options" and value not in allowed:
            raise ValueError(f"{value!r} is not an option of control {name!r}; choose one of {allowed}.")

    def _unknown_controls_message(self, values) -> str:
        return (
            f"{type(self).__name__} has no control named {', '.join(map(repr, values))}; "
            f"its controls are {', '.join(self._controls)}."
        )
