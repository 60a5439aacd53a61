"""The loss over the *weights*, and gradient descent on it: why normalizing inputs makes training faster.

``LossSurfacePanel`` draws the mean squared error of ŷ = w_height·height + w_age·age over the plane of the
two weights (not over height and age: the data is fixed, the weights are what training moves). The learner
changes how the data is measured and transformed and watches the bowl, its condition number κ and the
gradient-descent path change with it.

Explained in notebooks/02_loss_surface_conditioning.ipynb, section "The loss over the weights (L3)".
"""

import base64

import ipywidgets as widgets
import numpy as np
from matplotlib.lines import TICKDOWN
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Affine2D, ScaledTranslation, blended_transform_factory

from bnlib.data import AGE_UNITS, HEIGHT_UNITS, UNIT_SINGULAR
from bnlib.live import STYLES, Panel, Unstable, style
from bnlib.surface import RTOL, bowl_with_contours, loss_surface_numbers

GRID = 144  # samples per side of the loss image: about one per two screen pixels, so "nearest" (the
# cheapest to repaint on every update) looks as smooth as a bilinear coarse grid
PANEL_TRANSFORMS = ["raw", "centered", "min–max", "standardized", "whitened (ZCA)"]
# What one unit of each weight means, per transform (kg per ...).
WEIGHT_UNIT = {
    "raw": "kg/{unit}",
    "centered": "kg/{unit}",
    "min–max": "kg/range",
    "standardized": "kg/std",
    "whitened (ZCA)": "kg/whitened unit",
}


def _nice_ceiling(value):
    """The smallest of 1, 2, 5, 10, 20, 50, … that is at least ``value``."""
    decade = 10.0 ** np.floor(np.log10(value))
    return next(decade * m for m in (1, 2, 5, 10) if decade * m >= value)


def unit_and_offset_controls(**slider_options) -> dict:
    """The four controls of how height and age are measured: their units and a shift of their origin."""
    return {
        "height_unit": widgets.Dropdown(options=list(HEIGHT_UNITS), value="cm", description="height in"),
        "age_unit": widgets.Dropdown(options=list(AGE_UNITS), value="years", description="age in"),
        "height_offset_cm": widgets.FloatSlider(
            value=0.0, min=-170.0, max=100.0, step=10.0, description="height offset (cm)", **slider_options
        ),
        "age_offset_years": widgets.FloatSlider(
            value=0.0, min=-45.0, max=50.0, step=5.0, description="age offset (years)", **slider_options
        ),
    }


class LossSurfacePanel(Panel):
    """Contours of the MSE over (w_height, w_age), the gradient-descent path on them, and κ, live.

    Left: log10 of the excess loss L(w) − L(w*) relative to the start's (yellow: low), with exact
    elliptical contour lines, each half the size of the last; the path from w = 0 (white dot) toward the
    minimizer w* (star). Right: the excess loss per step, relative to the start's, on a log scale.
    The learning rate is set as a fraction of the stability edge η_max = 2/λ_max, so a setting of the
    slider keeps its meaning when the other controls reshape the bowl.

    Drawn in the browser (:class:`bnlib.panels.loss_surface.LossSurfaceWidget`): η, β and the steps redraw
    at the display's frame rate without the kernel; the kernel sends the bowl when a unit, offset,
    correlation or transform changes, and learns every value when a slider is released. The matplotlib
    figure here is the same picture for where no browser runs (the PNG of a static page, ``panel.png()``)
    and for ``panel.drawn()``; it is drawn when the kernel itself changes a value (``panel.set``) or when a
    picture is asked for, not on every move in the browser.

    Its kernel figure and the fast path: a unit, an offset, the correlation or the features give the bowl a
    new view and new axis labels, so the static figure is drawn again (``full_redraw_controls``); η, β and the
    steps only repaint the path and the curve (the step axis's labels are repainted texts, since its range
    follows the steps).

    text_scale: the size of the canvas's text relative to 10 pt (13.3 CSS px). By default it follows
    :func:`bnlib.live.projector`: 1 on a laptop, 1.2 (12 pt, 16 px) in projector mode; never below 1.
    Its lines and dots follow projector mode too: 1.5 times as thick, as in every other panel.
    """

    title = "The loss over the weights, and gradient descent on it"
    figsize = (8.2, 4.0)
    # Computed in the browser without the kernel, on every frame of a drag.
    drawn_in_browser = ("lr_ratio", "momentum", "steps")
    # A new bowl moves the view of the weights (and a unit or the features rename its axes).
    full_redraw_controls = (
        "transform",
        "height_unit",
        "age_unit",
        "height_offset_cm",
        "age_offset_years",
        "correlation",
    )

    def __init__(self, *, text_scale: float | None = None, **values):
        from bnlib.panels.loss_surface import LossSurfaceWidget, colormap_bytes, control_description

        if text_scale is None:
            text_scale = style().text_pt / STYLES["laptop"].text_pt  # 1.2 after projector()
        if not text_scale >= 1.0:
            raise ValueError(
                f"text_scale={text_scale!r} would draw the canvas's text below 10 pt, too small to read; "
                "pass 1 or more (1.2 is projector size), or leave it out to follow bnlib.live.projector()."
            )
        self._front = LossSurfaceWidget(
            title=self.title, text_scale=float(text_scale), line_scale=style().line_scale
        )
        self._browser_driving = False  # True while applying values that came from the browser
        super().__init__(**values)
        self._front.controls = [control_description(n, w) for n, w in self.control_widgets.items()]
        self._front.values = self.values
        self._front.drawn_here = list(self.drawn_in_browser)
        self._front.colormap = colormap_bytes(self.image.get_cmap().name)
        for name, widget in self.control_widgets.items():
            widget.observe(lambda change, name=name: self._tell_browser(name, change.new), names="value")
        self._front.observe(self._values_from_browser, names="values")
        # The kernel's own controls and readout box are never shown (the browser draws its own): without their
        # comms, a change costs no message to each of them.
        for hidden in [*self.control_widgets.values(), self._readout_region]:
            hidden.close()

    def new_figure(self):
        # A plain Agg figure even under %matplotlib widget: the browser draws the live picture.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.figsize)
        FigureCanvasAgg(fig)
        return fig

    def widget(self):
        """The panel as the learner sees it: native controls, readouts and a canvas, drawn in the browser."""
        return self._front

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The widget for a live front end, plus the same picture as a PNG for viewers without one.
        data, metadata = self._front._repr_mimebundle_()
        data = {
            **data,
            "image/png": base64.b64encode(self.png()).decode("ascii"),
            "text/plain": f"<{type(self).__name__}: {self.title}>",
        }
        return data, metadata

    def _tell_browser(self, name, value):
        if self._front.values.get(name) != value:
            self._front.values = {**self._front.values, name: value}

    def _values_from_browser(self, change):
        moved = {
            name: value for name, value in change.new.items() if self.control_widgets[name].value != value
        }
        if not moved:
            return
        self._browser_driving = True
        try:
            self.set(**moved)
        finally:
            self._browser_driving = False

    def _redraw(self):
        # The browser has drawn this change already; the kernel's figure is brought up to date when a picture
        # is asked for (png() renders in full) or when the kernel itself changes a value.
        if not self._browser_driving:
            super()._redraw()

    def controls(self):
        slider = dict(continuous_update=True, style={"description_width": "110px"})
        return {
            "transform": widgets.Dropdown(options=PANEL_TRANSFORMS, value="raw", description="features"),
            **unit_and_offset_controls(**slider),
            "correlation": widgets.FloatSlider(
                value=0.0, min=-0.95, max=0.95, step=0.05, description="corr(height, age)", **slider
            ),
            "lr_ratio": widgets.FloatSlider(
                value=0.9, min=0.05, max=1.5, step=0.01, description="η / η_max", **slider
            ),
            "momentum": widgets.FloatSlider(
                value=0.0, min=0.0, max=0.95, step=0.05, description="momentum β", **slider
            ),
            "steps": widgets.IntSlider(value=60, min=1, max=200, description="steps drawn", **slider),
        }

    def setup(self, fig):
        # Text is most of the drawing time (every glyph is re-rendered on each redraw): titles and labels
        # are short, and each axis has at most four tick labels.
        self.ax = fig.add_axes([0.08, 0.13, 0.46, 0.74])
        self.ax_curve = fig.add_axes([0.66, 0.13, 0.31, 0.74])
        self.ax.set_box_aspect(1)  # equal spans on both axes: a round bowl must look round
        self.image = self.ax.imshow(
            np.zeros((GRID, GRID)),
            origin="lower",
            cmap="viridis_r",
            vmin=-6.0,
            vmax=1.0,
            interpolation="nearest",
            aspect="auto",
        )
        self.contours = [self.ax.plot([], [], color="white", lw=0.8, alpha=0.7)[0] for _ in range(6)]
        (self.path,) = self.ax.plot([], [], "-o", color="#dc2626", lw=1.2, ms=2.5)
        (self.start,) = self.ax.plot([], [], "o", color="white", mec="black", ms=7)
        (self.optimum,) = self.ax.plot([], [], "*", color="#facc15", mec="black", ms=13)
        self.ax.set_title("loss over the weights", fontsize=9)
        for axis in (self.ax.xaxis, self.ax.yaxis):
            axis.set_major_locator(MaxNLocator(4))

        # log10 on a linear axis with fixed labels: the picture of a log axis without its dozens of minor
        # ticks laid out on every redraw.
        self.ax_curve.set_ylim(-9.5, 3.5)
        exponents = [-9, -6, -3, 0, 3]
        self.ax_curve.set_yticks(exponents, [f"1e{e}" for e in exponents])
        # The step axis's range follows the steps slider (0 to 10, 20, 50, …): its ticks and labels are
        # repainted artists over fixed limits, so moving the steps never redraws the figure in full. The curve
        # is kept in steps and drawn through a scaling to the fixed range [0, 1].
        self.ax_curve.set_xlim(0.0, 1.0)
        self.ax_curve.set_xticks([])
        self._steps_to_axis = Affine2D()
        self._step_locator = MaxNLocator(4, integer=True)
        tick_points = 3.5  # matplotlib's major tick length and label pad
        (self.step_ticks,) = self.ax_curve.plot(
            [],
            [],
            ls="",
            marker=TICKDOWN,
            ms=tick_points,
            color="black",
            transform=self.ax_curve.transAxes,
            clip_on=False,
        )  # its length is scaled with the other markers in projector mode
        below = ScaledTranslation(0.0, -tick_points * (self.style.line_scale + 1) / 72.0, fig.dpi_scale_trans)
        self.step_labels = [
            self.ax_curve.text(0, 0, "", ha="center", va="top", transform=self.ax_curve.transAxes + below)
            for _ in range(8)
        ]
        self.ax_curve.axhline(np.log10(RTOL), color="#6b7280", ls="--", lw=0.8)
        # A figure text at the height of 10⁻⁶ on the curve's axes: drawn once into the background.
        fig.text(
            0.02,
            np.log10(RTOL) + 0.25,
            "converged",
            fontsize=8,
            color="#6b7280",
            transform=blended_transform_factory(self.ax_curve.transAxes, self.ax_curve.transData),
        )
        (self.curve,) = self.ax_curve.plot([], [], color="#dc2626", lw=1.5)
        self.curve.set_transform(self._steps_to_axis + self.ax_curve.transData)
        # Below the repainted step labels (the axis itself has no ticks to keep it clear of them).
        self.ax_curve.set_xlabel("step", labelpad=3.5 * (self.style.line_scale + 1) + self.style.text_pt + 2)
        self.ax_curve.set_title("(L − L*) / (L₀ − L*)", fontsize=9)
        self._image_key = None  # (setting, view) of the loss image drawn now

    def render(
        self,
        transform,
        height_unit,
        age_unit,
        height_offset_cm,
        age_offset_years,
        correlation,
        lr_ratio,
        momentum,
        steps,
    ):
        setting = (transform, height_unit, age_unit, height_offset_cm, age_offset_years, correlation)
        try:
            data, loss, start_excess, contours = bowl_with_contours(*setting)
        except Exception as problem:
            self._front.bowl = {"key": repr(setting), "problem": f"Cannot draw this setting: {problem}"}
            raise
        w0 = np.zeros(2)
        # The view holds still while η, β and the steps move, and while the start and the bowl's minimizer
        # stay well inside it (a tenth of its width from a border, spanning 30 % of it or more): then an
        # update only repaints the data over the cached axes.
        ends = np.array([w0, loss.minimizer])
        self.keep_in_view(self.ax, x=ends[:, 0], y=ends[:, 1], margin=0.5, edge=0.1, square=True)
        view = (*self.ax.get_xlim(), *self.ax.get_ylim())
        units = data.feature_units
        label = WEIGHT_UNIT[transform]
        self.ax.set_xlabel(f"w_height ({label.format(unit=UNIT_SINGULAR[units[0]])})")
        self.ax.set_ylabel(f"w_age ({label.format(unit=UNIT_SINGULAR[units[1]])})")
        if self._image_key != (setting, view):
            from bnlib.panels.loss_surface import bowl_message

            x0, x1, y0, y1 = view
            w1, w2 = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID))
            field = loss.loss_grid(w1, w2, excess=True) / start_excess
            # Coloured here, once per bowl and view, rather than on every repaint of the image.
            self.image.set_data(self.image.to_rgba(np.log10(field + 1e-12), bytes=True))
            self.image.set_extent(view)
            for line, contour in zip(self.contours, contours, strict=True):
                line.set_data(*contour.T)
            self.start.set_data([w0[0]], [w0[1]])
            self.optimum.set_data([loss.minimizer[0]], [loss.minimizer[1]])
            self._image_key = (setting, view)
            self._front.bowl = bowl_message(loss, view, self.ax.get_xlabel(), self.ax.get_ylabel(), setting)

        numbers = loss_surface_numbers(loss, lr_ratio, momentum, steps)
        self.path.set_data(*numbers["path"].weights.T)
        # log10 of a diverging run's inf is clipped far above the plot: drawable, and clearly off the top.
        shown = np.log10(np.clip(numbers["curve"] / start_excess, 1e-300, 1e300))
        self.curve.set_data(np.arange(len(shown)), shown)
        self._show_step_axis(_nice_ceiling(steps))
        if numbers["message"]:
            raise Unstable(numbers["message"])
        return numbers["readouts"]

    def _show_step_axis(self, steps_shown):
        """The step axis from 0 to ``steps_shown`` (a round length: 10, 20, 50, …, as the browser's), as
        repainted tick marks and labels."""
        self._steps_to_axis.clear().scale(1.0 / steps_shown, 1.0)
        ticks = [t for t in self._step_locator.tick_values(0, steps_shown) if 0 <= t <= steps_shown]
        positions = np.asarray(ticks, dtype=float) / steps_shown
        self.step_ticks.set_data(positions, np.zeros_like(positions))
        for index, label in enumerate(self.step_labels):  # MaxNLocator(4) gives at most 6 of the 8
            label.set_visible(index < len(ticks))
            if index < len(ticks):
                label.set_position((positions[index], 0.0))
                label.set_text(f"{ticks[index]:.0f}")
