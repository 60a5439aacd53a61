"""γ sets the spread, β the centre: a normalized feature, scaled and shifted, fed into three nonlinearities.

Batch norm's output is y = γ x̂ + β, where x̂ has mean 0 and standard deviation 1 over the batch; so y has
mean β and standard deviation |γ|. Where y lands on a nonlinearity decides how that unit behaves:

    saturated     the slope f'(y) is below SATURATED_BELOW (10 %) of the function's largest slope: almost no
                  gradient flows back (for ReLU: y ≤ 0, the output is 0 and the unit is dead for that input)
    near-linear   the slope is at least NEAR_LINEAR_ABOVE (75 %) of its largest: the unit acts like a line

``bnlib.activations.activation_fractions`` computes both fractions for sigmoid, tanh and ReLU;
``GammaBetaPanel`` shows them live.

Explained in notebooks/04_gamma_and_beta.ipynb, section "γ is the spread, β the centre (L1)".
"""

import ipywidgets as widgets
import numpy as np

from bnlib.activations import ACTIVATIONS, NEAR_LINEAR_ABOVE, SATURATED_BELOW, activation_fractions
from bnlib.live import PALETTE, Panel, histogram


def _regions(relative_slope, grid):
    """(saturated mask, near-linear mask) of the activation on a grid of y, for shading."""
    slope = relative_slope(grid)
    return slope < SATURATED_BELOW, slope >= NEAR_LINEAR_ABOVE


class GammaBetaPanel(Panel):
    """Sliders for γ and β on one normalized feature; histograms of y = γ x̂ + β over each nonlinearity.

    Top row: the distribution of y (tallest bar scaled to 1) over the activation curve, with its saturated
    region hatched (orange) and its near-linear region plain (pale blue), each labelled on the figure: told
    apart by pattern and by name, not by hue alone. Bottom row: the distribution of the outputs f(y).
    Readouts: mean and std of y, and per activation the fractions saturated and near-linear.
    """

    title = "γ sets the spread, β the centre"
    figsize = (8.8, 4.2)
    Y_RANGE = (-8.0, 8.0)  # pre-activation axis; values beyond it are counted in the edge bins
    SAMPLES = 10_000  # enough for smooth histograms; the update time grows with it

    def __init__(self, **values):
        from bnlib.batchnorm import batchnorm_forward

        # One feature over a large batch, skewed on purpose, normalized by batch norm with γ = 1, β = 0.
        rng = np.random.default_rng(0)
        raw = rng.gamma(shape=4.0, scale=2.0, size=(self.SAMPLES, 1))  # e.g. a hidden unit's input, any units
        x_hat, _ = batchnorm_forward(raw, np.ones(1), np.zeros(1))
        self.x_hat = x_hat[:, 0]
        self.y_edges = np.linspace(*self.Y_RANGE, 81)
        super().__init__(**values)

    def controls(self):
        return {
            "gamma": widgets.FloatSlider(value=1.0, min=0.0, max=4.0, step=0.05, description="γ (spread)"),
            "beta": widgets.FloatSlider(value=0.0, min=-4.0, max=4.0, step=0.05, description="β (centre)"),
        }

    def setup(self, fig):
        grid = 0.5 * (self.y_edges[:-1] + self.y_edges[1:])
        axes = fig.subplots(2, 3)
        self.input_lines, self.output_lines, self.output_edges = {}, {}, {}
        for column, (name, (f, relative_slope)) in enumerate(ACTIVATIONS.items()):
            top, bottom = axes[0, column], axes[1, column]
            saturated, near_linear = _regions(relative_slope, grid)
            # Drawn once into the kept background: the regions, their labels and the activation curve.
            self.fixed(
                top.fill_between(
                    grid,
                    0,
                    1.05,
                    where=saturated,
                    step="mid",
                    facecolor="#fde9cc",
                    hatch="///",
                    edgecolor=PALETTE["orange"],
                    linewidth=0,
                ),
                top.fill_between(grid, 0, 1.05, where=near_linear, step="mid", color="#d6ecfa", linewidth=0),
            )
            (self.input_lines[name],) = top.step([], [], where="mid", color="black", linewidth=1.4)
            # The activation curve, rescaled into [0, 1] so it shares the axes with the histogram.
            curve = f(grid)
            scaled_curve = (curve - curve.min()) / (curve.max() - curve.min())
            self.fixed(*top.plot(grid, scaled_curve, color=PALETTE["blue"], linewidth=1.5, ls="--"))
            self._label_regions(top, grid, saturated, near_linear)
            # Few tick labels: text is what costs most when the figure redraws.
            top.set(xlim=self.Y_RANGE, ylim=(0, 1.05), xticks=[-6, 0, 6])
            top.set_title(f"γx̂ + β into {name}")
            (self.output_lines[name],) = bottom.step(
                [], [], where="mid", color=PALETTE["blue"], linewidth=1.4
            )
            low, high = np.round([curve.min(), curve.max()])  # the output's range: (0, 1), (-1, 1), (0, 8)
            bottom.set(xlim=(low, high), ylim=(0, 1.05), xticks=[low, (low + high) / 2, high])
            bottom.xaxis.set_major_formatter("{x:g}")
            self.output_edges[name] = np.linspace(low, high, 61)
            bottom.set_xlabel(f"{name}(y)", labelpad=1)
            for ax in (top, bottom):
                ax.tick_params(pad=1)
                ax.yaxis.set_visible(
                    False
                )  # heights are relative (tallest = 1); an axis would only cost time
        key = "sat. (hatched): slope < 10 % of its largest     lin. (plain): slope ≥ 75 %     dashed: the activation"
        fig.text(0.5, 0.01, key, ha="center", color="#333333")
        fig.subplots_adjust(left=0.02, right=0.98, top=0.92, bottom=0.16, hspace=0.42, wspace=0.12)

    def _label_regions(self, ax, grid, saturated, near_linear):
        """Direct labels on the shading: 'sat.' at the left end of the saturated region, 'lin.' in the middle
        of the near-linear one where it is wide enough (a label besides the hatching)."""
        label = {"ha": "center", "va": "top", "color": "#333333"}
        if saturated.any():
            left_end = grid[saturated][0] + 1.6
            self.fixed(ax.text(left_end, 1.02, "sat.", **label))
        if (
            near_linear.any() and np.ptp(grid[near_linear]) > 4.0
        ):  # wide enough for its label (ReLU: half a line)
            middle = grid[near_linear].mean() + 0.8
            self.fixed(ax.text(middle, 1.02, "lin.", **label))

    def render(self, gamma, beta):
        y = gamma * self.x_hat + beta
        self.input_lines["sigmoid"].set_data(*_tallest_is_one(*histogram(y, self.y_edges, clip=True)))
        for name, (f, _) in ACTIVATIONS.items():
            if name != "sigmoid":
                self.input_lines[name].set_data(self.input_lines["sigmoid"].get_data())  # the same y
            self.output_lines[name].set_data(
                *_tallest_is_one(*histogram(f(y), self.output_edges[name], clip=True))
            )
        fractions = activation_fractions(y)
        return {
            "mean of y (= β)": f"{y.mean():+.2f}",
            "std of y (= γ)": f"{y.std():.2f}",
            "sigmoid: saturated / near-linear": _percentages(fractions["sigmoid"]),
            "tanh: saturated / near-linear": _percentages(fractions["tanh"]),
            "ReLU: zero output (dead for these inputs)": f"{100 * fractions['ReLU']['saturated']:.1f} %",
        }


def _tallest_is_one(centres, counts):
    """A histogram's heights scaled so its tallest bin is 1: the curves share the axes with the activation."""
    return centres, counts / counts.max()


def _percentages(fraction):
    return f"{100 * fraction['saturated']:.1f} % / {100 * fraction['near_linear']:.1f} %"
