"""Normalizing inputs: what the units do to the numbers, which variance to divide by, and why hidden layers
need more than a one-off normalization.

Panels of notebooks/01_normalizing_inputs.ipynb:
    InputScalesPanel       height and age in their units, before and after standardization or min–max
                           (L5, L22)
    VarianceEstimatorPanel biased (÷n) vs unbiased (÷(n−1)) variance over many samples (L8)
    HiddenDriftPanel       a hidden layer's inputs drift while training, the network's inputs do not
                           (L14, L21)
"""

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from bnlib.fast_path import live_title, static_legend
from bnlib.landscape import train_two_layer
from bnlib.live import PALETTE, Panel, padded_range
from bnlib.panels.conditioning import unit_and_offset_controls
from bnlib.surface import format_steps, steps_to_converge, surface_setting
from bnlib.transforms import standardize, variance_estimates

COLORS = {"height": PALETTE["blue"], "age": PALETTE["orange"]}
# The second cue: height drawn solid, age dashed (so the two never differ by hue alone).
LINESTYLES = {"height": "-", "age": "--"}
BINS = 24


def _describe(values, unit=""):
    """'mean … · std … · range … to …' with the unit; a mean that is 0 up to rounding prints as 0."""
    unit = f" {unit}" if unit else ""
    mean = values.mean()
    mean = 0.0 if abs(mean) < 1e-9 * np.abs(values).max() else mean
    return (
        f"mean {mean:.4g}{unit} · std {values.std():.3g}{unit} · "
        f"range {values.min():.3g} to {values.max():.3g}{unit}"
    )


class _HistogramAxes:
    """One axes with a histogram (step outline) and a mean ± std bar per named series, updated in place."""

    def __init__(self, ax, names, colors):
        self.ax = ax
        self.stairs = {
            name: ax.stairs([0.0], [0.0, 1.0], color=colors[name], ls=LINESTYLES[name], lw=1.8, label=name)
            for name in names
        }
        self.bars = {
            name: ax.plot([], [], marker="|", ls=LINESTYLES[name], color=colors[name], lw=2.5, ms=10)[0]
            for name in names
        }
        self.means = {name: ax.plot([], [], "o", color=colors[name], mec="black", ms=6)[0] for name in names}

    def update(self, series: dict) -> None:
        """series: name -> 1-D values. Redraws each histogram and its mean ± std bar in place.

        The height of the axes follows the tallest bar lazily (it is the same for every unit and offset:
        changing them moves and stretches the histograms without changing their counts); the caller keeps
        the x limits.
        """
        tallest = 1
        for name, values in series.items():
            counts, edges = np.histogram(values, bins=BINS)
            self.stairs[name].set_data(counts, edges)
            tallest = max(tallest, counts.max())
        for k, (name, values) in enumerate(series.items()):
            y = tallest * (1.12 + 0.1 * k)  # each series' bar on its own row above the histograms
            mean, std = values.mean(), values.std()
            self.bars[name].set_data([mean - std, mean + std], [y, y])
            self.means[name].set_data([mean], [y])
        Panel.keep_in_view(self.ax, y=[0, tallest * (1.2 + 0.1 * len(series))], margin=0.0)


class InputScalesPanel(Panel):
    """Height and age as measured (top) and after standardization or min–max scaling (bottom).

    Top: both features on one number line, in their units; bars show mean ± std. Bottom: the same people
    after the transform, which no longer depends on the unit or offset chosen. Readouts: the statistics in
    units, and the training consequence: κ of the regression's loss and gradient-descent steps to converge,
    before and after.
    """

    title = "Units and offsets: what the optimizer sees"
    figsize = (5.6, 4.6)
    full_redraw_controls = ("height_unit", "age_unit", "transform")  # new units: a new number line

    def controls(self):
        return {
            **unit_and_offset_controls(),
            "transform": widgets.Dropdown(
                options=["standardized", "min–max"], value="standardized", description="then"
            ),
        }

    def setup(self, fig):
        ax_raw, ax_new = fig.subplots(2, 1)
        fig.subplots_adjust(left=0.07, right=0.97, top=0.86, bottom=0.07, hspace=0.62)
        self.raw = _HistogramAxes(ax_raw, ["height", "age"], COLORS)
        self.new = _HistogramAxes(ax_new, ["height", "age"], COLORS)
        # Above the axes, left of the title: the histograms and bars can reach every corner inside.
        static_legend(ax_raw, loc="lower left", anchor=(-0.01, 1.12), ncols=2, frameon=False, borderaxespad=0)
        for ax in (ax_raw, ax_new):
            ax.set_ylabel("people")
            ax.set_yticks([])
            # A change of unit or transform redraws the axes, and tick labels are most of that time.
            ax.xaxis.set_major_locator(MaxNLocator(6, steps=[1, 2, 2.5, 5, 10]))
        self.raw_title = ax_raw.set_title("", loc="right")
        self.new_title = ax_new.set_title("")
        # x limits, fixed so that moving an offset slider only repaints the histograms: per pair of units,
        # one view that holds the data at every offset; per transform, one view (its output does not
        # depend on the units or offsets).
        self._raw_limits: dict[tuple[str, str], tuple[float, float]] = {}
        self._new_limits: dict[str, tuple[float, float]] = {}

    def _limits_for_units(self, height_unit, age_unit):
        """x limits that fit height and age at every offset the sliders offer, in these units."""
        key = (height_unit, age_unit)
        if key not in self._raw_limits:
            offsets = {name: self._controls[name] for name in ("height_offset_cm", "age_offset_years")}
            corners = [
                surface_setting("raw", height_unit, age_unit, height_offset, age_offset)[0].X
                for height_offset in (offsets["height_offset_cm"].min, offsets["height_offset_cm"].max)
                for age_offset in (offsets["age_offset_years"].min, offsets["age_offset_years"].max)
            ]
            self._raw_limits[key] = padded_range(corners, 0.04)
        return self._raw_limits[key]

    def render(self, height_unit, age_unit, height_offset_cm, age_offset_years, transform):
        data, _, raw_loss = surface_setting("raw", height_unit, age_unit, height_offset_cm, age_offset_years)
        _, X_new, new_loss = surface_setting(
            transform, height_unit, age_unit, height_offset_cm, age_offset_years
        )
        height_unit_label, age_unit_label = data.feature_units
        self.raw.update({"height": data.X[:, 0], "age": data.X[:, 1]})
        self.new.update({"height": X_new[:, 0], "age": X_new[:, 1]})
        self.raw.ax.set_xlim(self._limits_for_units(height_unit, age_unit))
        self.new.ax.set_xlim(self._new_limits.setdefault(transform, padded_range(X_new, 0.04)))
        self.raw_title.set_text(f"as measured: {height_unit_label}, {age_unit_label} (bars: mean ± std)")
        self.new_title.set_text(f"{transform}: the same for every unit and offset")

        w0 = np.zeros(2)
        steps = [steps_to_converge(loss, w0, loss.optimal_lr) for loss in (raw_loss, new_loss)]
        return {
            f"height [{height_unit_label}]": _describe(data.X[:, 0], height_unit_label),
            f"age [{age_unit_label}]": _describe(data.X[:, 1], age_unit_label),
            f"height, {transform}": _describe(X_new[:, 0]),
            f"age, {transform}": _describe(X_new[:, 1]),
            "κ of the loss: as measured → " + transform: (
                f"{raw_loss.condition_number:,.4g} → {new_loss.condition_number:,.4g}"
            ),
            "GD steps to converge (best η each)": f"{format_steps(steps[0])} → {format_steps(steps[1])}",
        }


class VarianceEstimatorPanel(Panel):
    """Draw many samples of n heights; estimate the variance of each with ÷n and with ÷(n − 1).

    The histograms show the estimates; the vertical lines their averages and the population variance σ².
    The ÷n estimator is too small on average by the factor (n − 1)/n, visibly so for small n.
    """

    title = "Which variance: ÷n or ÷(n − 1)?"
    figsize = (6.4, 3.4)
    sigma = 10.0

    def controls(self):
        return {"n": widgets.IntSlider(value=4, min=2, max=30, description="sample size n")}

    def setup(self, fig):
        self.ax = fig.add_subplot()
        fig.subplots_adjust(left=0.04, right=0.96, top=0.88, bottom=0.16)
        # Colour and line style: ÷n solid vermillion, ÷(n − 1) dashed blue; their averages dotted.
        styles = {"÷n (biased)": (PALETTE["vermillion"], "-"), "÷(n − 1) (unbiased)": (PALETTE["blue"], "--")}
        self.names = list(styles)
        self.stairs = {
            k: self.ax.stairs([0.0], [0.0, 1.0], color=c, ls=ls, lw=1.8, label=k)
            for k, (c, ls) in styles.items()
        }
        self.averages = {k: self.ax.axvline(0, color=c, lw=2, ls=":") for k, (c, _) in styles.items()}
        self.fixed(self.ax.axvline(self.sigma**2, color="black", lw=1.5, label="σ² = 100 cm²"))
        static_legend(self.ax, frameon=False)
        self.ax.set_xlabel("variance estimate (cm²)")
        self.ax.set_yticks([])
        self.edges = np.linspace(0, 4 * self.sigma**2, 41)
        self.ax.set_xlim(self.edges[0], self.edges[-1])
        # Every n the slider offers, estimated once: an update only swaps the arrays drawn, under one fixed
        # height that holds the tallest histogram of them all.
        slider = self._controls["n"]
        self.estimates = {}
        for n in range(slider.min, slider.max + 1):
            estimates = dict(zip(self.names, variance_estimates(n, sigma=self.sigma), strict=True))
            counts = {name: np.histogram(values, bins=self.edges)[0] for name, values in estimates.items()}
            self.estimates[n] = estimates, counts
        tallest = max(c.max() for _, counts in self.estimates.values() for c in counts.values())
        self.ax.set_ylim(0, 1.15 * tallest)
        self.title_text = live_title(self.ax)

    def render(self, n):
        estimates, counts = self.estimates[n]
        for name, values in estimates.items():
            self.stairs[name].set_data(counts[name], self.edges)
            self.averages[name].set_xdata([values.mean()] * 2)
        biased, unbiased = estimates.values()
        self.title_text.set_text(f"{len(biased):,} samples of n = {n} heights (σ = {self.sigma:g} cm)")
        return {
            "average ÷n estimate": f"{biased.mean():.1f} cm²",
            "theory: (n − 1)/n · σ²": f"{(n - 1) / n * self.sigma**2:.1f} cm²",
            "average ÷(n − 1) estimate": f"{unbiased.mean():.1f} cm²",
            "population variance σ²": f"{self.sigma**2:.1f} cm²",
        }


class HiddenDriftPanel(Panel):
    """Slide through training: the network's inputs stay standardized, a hidden layer's inputs drift.

    A tiny network (2 standardized inputs → 8 ReLU units → body weight) is trained once when the panel is
    made. Left: one input feature's histogram, the same at every step. Right: the pre-activations of one
    hidden unit at the chosen step (filled) and at step 0 (outline). Readouts: their mean and std.
    """

    title = "Normalized once, the inputs stay put; hidden layers' inputs move"
    figsize = (7.4, 3.4)
    steps = 200

    def __init__(self, **values):
        from bnlib.data import height_age

        data = height_age()
        X, _ = standardize(data.X)
        y = (data.y - data.y.mean()) / data.y.std()
        self.run = train_two_layer(X, y, steps=self.steps)
        super().__init__(**values)

    def controls(self):
        return {
            "step": widgets.IntSlider(
                value=self.steps, min=0, max=self.steps, step=5, description="training step"
            ),
            "unit": widgets.IntSlider(
                value=0, min=0, max=self.run["hidden"].shape[2] - 1, description="hidden unit"
            ),
        }

    def setup(self, fig):
        self.ax_in, self.ax_hidden = fig.subplots(1, 2)
        fig.subplots_adjust(left=0.03, right=0.98, top=0.86, bottom=0.17, wspace=0.08)
        inputs = self.run["inputs"][:, 0]
        counts, edges = np.histogram(inputs, bins=BINS)
        # The same at every step: drawn once, into the kept background.
        self.fixed(
            self.ax_in.stairs(counts, edges, fill=True, color=PALETTE["blue"], alpha=0.6),
            *self.ax_in.plot(
                [inputs.mean()], [counts.max() * 1.08], "v", color=PALETTE["blue"], mec="black", ms=8
            ),
        )
        self.ax_in.set_ylim(0, counts.max() * 1.15)
        self.ax_in.set_title(f"input, every step: mean {inputs.mean():+.2f}, std {inputs.std():.2f}")
        self.ax_in.set_xlabel("standardized height (input)")
        self.hidden_now = self.ax_hidden.stairs(
            [0.0], [0.0, 1.0], fill=True, color=PALETTE["orange"], alpha=0.6
        )
        self.hidden_start = self.ax_hidden.stairs([0.0], [0.0, 1.0], color="black", lw=1.2, ls="--")
        (self.hidden_mean,) = self.ax_hidden.plot([], [], "v", color=PALETTE["orange"], mec="black", ms=8)
        self.hidden_title = live_title(self.ax_hidden)
        self.ax_hidden.set_xlabel("hidden unit's input (dashed: step 0)")
        # One ruler for every unit and step (the range of all recorded pre-activations), so the axes
        # never move: a drift shows as the histogram sliding along it. Heights are relative to the
        # tallest bar (the y axis has no ticks), so the height of the axes is fixed too.
        hidden = self.run["hidden"]
        pad = 0.04 * (hidden.max() - hidden.min())
        self.ax_hidden.set_xlim(hidden.min() - pad, hidden.max() + pad)
        self.ax_hidden.set_ylim(0, 1.15)
        for ax in (self.ax_in, self.ax_hidden):
            ax.set_yticks([])

    def render(self, step, unit):
        index = int(np.searchsorted(self.run["steps"], step))
        now = self.run["hidden"][index, :, unit]
        start = self.run["hidden"][0, :, unit]
        edges = np.histogram_bin_edges(np.concatenate([now, start]), bins=BINS)
        counts_now, _ = np.histogram(now, bins=edges)
        counts_start, _ = np.histogram(start, bins=edges)
        tallest = max(counts_now.max(), counts_start.max())
        self.hidden_now.set_data(counts_now / tallest, edges)
        self.hidden_start.set_data(counts_start / tallest, edges)
        self.hidden_mean.set_data([now.mean()], [1.08])
        inputs = self.run["inputs"][:, 0]
        self.hidden_title.set_text(f"unit {unit}, step {step}: mean {now.mean():+.2f}, std {now.std():.2f}")
        return {
            "input mean, std (every step)": f"{inputs.mean():+.3f}, {inputs.std():.3f}",
            f"hidden unit {unit} at step 0": f"mean {start.mean():+.3f}, std {start.std():.3f}",
            f"hidden unit {unit} at step {step}": f"mean {now.mean():+.3f}, std {now.std():.3f}",
            "training loss (MSE of standardized weight)": f"{self.run['loss'][index]:.3f}",
        }
