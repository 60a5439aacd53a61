"""Live figures: a matplotlib figure and ipywidgets controls that redraw in place.

A panel is one figure that answers one question, with its controls beside it and readouts for the numbers
that matter. Write one by subclassing :class:`Panel`::

    class StepSizePanel(Panel):
        title = "Gradient descent on a parabola"
        figsize = (6, 3.5)

        def controls(self):                       # once: name -> ipywidgets value widget
            return {"lr": widgets.FloatSlider(value=0.1, min=0.01, max=2.5, step=0.01, description="η")}

        def setup(self, fig):                     # once: axes and artists, kept on self
            self.ax = fig.add_subplot()
            (self.path,) = self.ax.plot([], [], "o-")

        def render(self, lr):                     # every change: the controls' values as keywords
            w = gradient_descent(lr)              # compute ...
            if not np.all(np.isfinite(w)):
                raise Unstable(f"η = {lr} is above 2/λ = 2: the steps grow and gradient descent diverges.")
            self.path.set_data(range(len(w)), w)  # ... and update artists in place
            return {"final w": f"{w[-1]:.3g}"}    # readouts shown beside the figure

In a notebook (after ``%matplotlib widget``) the panel is the last expression of a cell: ``StepSizePanel()``.

What the base class does for every panel:
    * builds the controls, the figure and the layout once, and calls ``render`` again on every change;
    * turns any exception (and numpy overflow or invalid values) raised by ``render`` into a message drawn
      on the figure, so a slider can never break the panel; raise :class:`Unstable` with a sentence for the
      learner when a setting diverges or is degenerate;
    * gives tests and benchmarks the same handle a slider has: ``panel.set(lr=0.5)``, ``panel.values``,
      ``panel.readouts``, ``panel.message``, ``panel.drawn()``, ``panel.last_update_seconds``;
    * registers every concrete subclass in ``Panel.registry``, so the test suite sweeps every control of
      every panel to its extremes and ``make bench`` times every panel;
    * shows a PNG of the figure where no kernel is running (static HTML export), next to the live widget;
    * repaints only the data artists (lines, images, collections, patches, axes texts, legends) over a kept
      picture of everything else; a render that changes limits, scales, titles or axis labels costs a full
      redraw, so keep those fixed where you can (``keep_in_view``, ``live_title``, ``static_legend``).

Subclasses must be constructible with no arguments (defaults for everything). A subclass that needs
configuration takes it as keyword arguments in its own ``__init__`` and then calls ``super().__init__(**values)``.
Set ``continuous_update = False`` on a panel whose update is too slow to follow a dragged slider: it then
redraws when the slider is released.
"""

from __future__ import annotations

import base64
import io
import textwrap
import time
from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np


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


# Helpers for fast panels: text and legends that stay out of the per-update repaint.


def live_title(ax, fontsize=9):
    """A title whose text may change on every update, updated with ``set_text``: an ``ax.text`` where
    ``ax.set_title`` would put it (6 points above the axes).

    The texts of an axes are repainted over the cached background on each update, whereas a changed
    ``set_title`` forces a full redraw of the figure.
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


class Panel:
    """Base class of every live figure in the course. See the module docstring for the contract."""

    title: ClassVar[str] = ""
    figsize: ClassVar[tuple[float, float]] = (7.0, 4.0)
    continuous_update: ClassVar[bool] = True
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
        """The panel's figure: the ipympl canvas under ``%matplotlib widget``, else a plain Agg figure. A panel
        that draws in the browser itself overrides this to keep a plain Agg figure for its static picture."""
        return _new_figure(self.figsize)

    # ----- what every panel gets ----------------------------------------------------------------
    def __init__(self, **values):
        import ipywidgets as widgets

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
        self.readouts: dict[str, str] = {}
        self.message = ""
        self.last_error: BaseException | None = None
        self.last_update_seconds = float("nan")
        self._holding = False

        self.fig = self.new_figure()
        self.setup(self.fig)
        self._message_text = self.fig.text(
            0.5,
            0.5,
            "",
            ha="center",
            va="center",
            multialignment="center",
            fontsize=11,
            zorder=1000,
            visible=False,
            bbox={"boxstyle": "round,pad=0.6", "facecolor": "#fff3cd", "edgecolor": "#b45309", "alpha": 0.95},
        )
        # Blitting: a full draw renders the static parts (axes, ticks, labels) and keeps them as a
        # background; a change that leaves them alone only repaints the data artists over that background.
        self._backgrounds: OrderedDict[tuple, Any] = OrderedDict()  # static state -> saved pixels
        self._printing = False
        self.fig.canvas.mpl_connect("draw_event", self._on_full_draw)
        self._readout_html = widgets.HTML()
        self._image = None  # a PNG image widget, made only when shown without the ipympl canvas
        for widget in self._controls.values():
            widget.observe(self._on_change, names="value")
        self.update()

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
        except Exception as problem:  # a slider must never break the figure
            self._fail(problem, f"Cannot draw this setting: {type(problem).__name__}: {problem}")
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
        """The panel as one ipywidgets box: controls and readouts on the left, the figure on the right."""
        import ipywidgets as widgets

        header = [widgets.HTML(f"<b>{self.title}</b>")] if self.title else []
        column = widgets.VBox(
            header + list(self._controls.values()) + [self._readout_html],
            layout=widgets.Layout(min_width="300px", max_width="380px"),
        )
        if _is_widget_backend():
            canvas = self.fig.canvas
        else:  # no %matplotlib widget: show the figure as an image that is refreshed after every change
            if self._image is None:
                self._image = widgets.Image(format="png", value=self.png())
            canvas = self._image
        return widgets.HBox(
            [column, canvas], layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap")
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The live widget for JupyterLab, plus a PNG that viewers without a kernel fall back to.
        bundle = self.widget()._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle["image/png"] = base64.b64encode(self.png()).decode("ascii")
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
            self._backgrounds.clear()  # printing reused the canvas's renderer: the next update draws in full

    @staticmethod
    def keep_in_view(ax, *, x=None, y=None, margin: float = 0.05, shrink_below: float = 0.3) -> None:
        """Fit the axes' limits to the data lazily, so most updates keep them and can be blitted.

        Limits grow when the data leaves them, and shrink only when the data fills less than
        ``shrink_below`` of the view; otherwise they stay put (a change of limits forces a full redraw
        of ticks and labels, which costs far more than repainting the data).
        x, y: arrays of the data shown along that axis (None leaves the axis alone).
        """
        for values, get_limits, set_limits in ((x, ax.get_xlim, ax.set_xlim), (y, ax.get_ylim, ax.set_ylim)):
            if values is None:
                continue
            values = np.asarray(values, dtype=float)
            values = values[np.isfinite(values)]
            if values.size == 0:
                continue
            low, high = float(values.min()), float(values.max())
            pad = margin * (high - low) if high > low else max(abs(high), 1.0) * margin
            current_low, current_high = get_limits()
            outside = low < current_low or high > current_high
            too_loose = (high - low) < shrink_below * (current_high - current_low)
            if outside or too_loose:
                set_limits(low - pad, high + pad)

    # ----- internals ----------------------------------------------------------------------------
    def _dynamic_artists(self) -> list:
        """What a render may change: the data artists, legends (drawn above data) and the message."""
        artists = []
        for ax in self.fig.axes:
            artists += [*ax.images, *ax.collections, *ax.patches, *ax.lines, *ax.texts]
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
        signature = self._static_state()
        if signature in self._backgrounds:
            self._backgrounds.move_to_end(signature)
            canvas.restore_region(self._backgrounds[signature])
            self._draw_dynamic()
            canvas.blit(self.fig.bbox)
            # What is on screen is now current. Without this, a render that re-set unchanged limits leaves
            # the figure stale, and pyplot redraws every stale figure in full after each widget message.
            self.fig.stale = False
        elif self._backgrounds:
            # A full draw, now: under ipympl, draw_idle would first ask the browser for a frame and wait for
            # its reply, a round trip before the drawing even starts.
            canvas.draw()
        else:
            # Never drawn yet: under ipympl the browser asks for the first frame once the figure is shown.
            canvas.draw_idle()

    def _on_full_draw(self, _event) -> None:
        if self._printing:
            return
        canvas = self.fig.canvas
        signature = self._static_state()
        self._backgrounds[signature] = canvas.copy_from_bbox(self.fig.bbox)
        self._backgrounds.move_to_end(signature)
        while len(self._backgrounds) > self.backgrounds_kept:
            self._backgrounds.popitem(last=False)  # the least recently shown
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
        if self.message:
            self._readout_html.value = f"<div style='color:#b45309'>{self.message}</div>"
            return
        rows = "".join(
            f"<tr><td style='padding-right:1em'>{name}</td><td><b>{value}</b></td></tr>"
            for name, value in self.readouts.items()
        )
        self._readout_html.value = f"<table>{rows}</table>"

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
