"""Live panel of notebooks/09_training_diagnostics.ipynb: inside a tanh network while it trains (L9, L19).

DiagnosticsPanel   initial gain, batch norm on/off, last layer ÷10, training step → per-layer histograms of the
                   tanh outputs and of log10|∂L/∂t|, the saturated share and the update-to-data ratio per layer
                   over training, and the initial loss against ln 10

The runs are precomputed by :func:`panel_grid` (in the notebook, or a default grid
trained here in about two seconds); the panel only browses them, so every control costs a repaint.
"""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np

from bnlib.diagnostics import (
    ACTIVATION_BINS,
    GRADIENT_BINS,
    SATURATION,
    TANH_GAIN,
    diagnose,
    expected_initial_loss,
    standardized,
)
from bnlib.live import Panel, Unstable

GAINS = (0.2, 0.5, 1.0, TANH_GAIN, 3.0, 8.0)  # 8 = √64: weights drawn from N(0, 1), as torch.randn gives
LAST_LAYER_SHRINK = 0.1
# One colour and one line style per layer (a second cue besides hue); the legend names them.
LAYER_STYLES = (("#1d4ed8", "-"), ("#16a34a", "--"), ("#ea580c", "-."), ("#9333ea", ":"))


def run_key(norm, shrink_last: bool) -> str:
    """The grid key of one network configuration: norm and whether its last layer starts ÷10."""
    return f"{norm or 'none'}, last {'÷10' if shrink_last else '×1'}"


def panel_grid(data, gains=GAINS, **options) -> dict:
    """Every run the panel browses: ``{run_key(norm, shrink_last): {gain: Diagnostics}}``.

    The last layer starts with the hidden layers' gain, or that gain ÷10. data: (X_train, y_train, X_test,
    y_test) tensors (standardize them first); options go to :func:`bnlib.diagnostics.diagnose`.
    """
    grid = {}
    for shrink_last in (False, True):
        scale = LAST_LAYER_SHRINK if shrink_last else 1.0
        for norm in (None, "batch"):
            grid[run_key(norm, shrink_last)] = {
                gain: diagnose(data, gain=gain, norm=norm, last_layer_scale=scale * gain, **options)
                for gain in gains
            }
    return grid


@functools.lru_cache(maxsize=1)
def _default_grid():
    """The grid of the notebook, trained once per process when a panel is built without one (read-only)."""
    import torch

    from bnlib.data import digits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is fastest, and a shared CPU stays responsive
    try:
        return panel_grid(standardized(digits(as_torch=True)))
    finally:
        torch.set_num_threads(threads)


class DiagnosticsPanel(Panel):
    """Histograms per layer at one training step, saturation and update-to-data ratio over training."""

    title = "Inside the network: activations, gradients, updates"
    figsize = (5.4, 4.4)  # beside its controls on a 1366-pixel laptop screen with the file browser open

    def __init__(self, grid=None, **values):
        """grid: ``{run_key(norm, shrink_last): {gain: Diagnostics}}`` from :func:`panel_grid`, every run with
        the same gains and recorded steps; by default the notebook's grid is trained here."""
        self.grid = _default_grid() if grid is None else grid
        expected = {run_key(n, s) for n in (None, "batch") for s in (False, True)}
        if set(self.grid) != expected:
            raise ValueError(f"the grid needs the runs {sorted(expected)}; build it with panel_grid(data).")
        gain_sets = {tuple(sorted(runs)) for runs in self.grid.values()}
        step_sets = {tuple(run.steps) for runs in self.grid.values() for run in runs.values()}
        if len(gain_sets) != 1 or len(step_sets) != 1:
            raise ValueError(
                "every run of the grid needs the same gains and recorded steps; rebuild it with one call."
            )
        self.gains, self.steps = list(gain_sets.pop()), list(step_sets.pop())
        first = next(iter(next(iter(self.grid.values())).values()))
        self.layers = first.saturated.shape[1]
        super().__init__(**values)

    def controls(self):
        default_gain = min(self.gains, key=lambda g: abs(g - 8.0))
        return {
            "gain": widgets.SelectionSlider(
                options=[(f"{g:.3g}", g) for g in self.gains], value=default_gain, description="initial gain"
            ),
            "batch_norm": widgets.Checkbox(value=False, description="batch norm"),
            "shrink_last": widgets.Checkbox(value=False, description="last layer ÷10"),
            "step": widgets.SelectionSlider(
                options=[(str(s), s) for s in self.steps], value=self.steps[0], description="step"
            ),
        }

    def setup(self, fig):
        (self.act_ax, self.grad_ax), (self.sat_ax, self.ratio_ax) = fig.subplots(2, 2)
        runs = [run for runs in self.grid.values() for run in runs.values()]
        act_centres = (ACTIVATION_BINS[:-1] + ACTIVATION_BINS[1:]) / 2
        grad_centres = (GRADIENT_BINS[:-1] + GRADIENT_BINS[1:]) / 2
        self.act_lines, self.grad_lines, self.sat_lines, self.ratio_lines = [], [], [], []
        for layer in range(self.layers):
            color, style = LAYER_STYLES[layer % len(LAYER_STYLES)]
            line = dict(color=color, ls=style, lw=1.3)
            self.act_lines.append(self.act_ax.plot(act_centres, np.zeros_like(act_centres), **line)[0])
            self.grad_lines.append(self.grad_ax.plot(grad_centres, np.zeros_like(grad_centres), **line)[0])
            self.sat_lines.append(self.sat_ax.plot([], [], **line, label=f"layer {layer + 1}")[0])
            self.ratio_lines.append(self.ratio_ax.plot([], [], **line)[0])
        color, style = "#6b7280", (0, (1, 2))
        (self.output_ratio,) = self.ratio_ax.plot([], [], color="#111827", lw=1.0, label="output layer")
        self.ratio_ax.axhline(-3, color=color, ls=style, lw=1)
        self.ratio_ax.text(
            0.99,
            -3,
            "−3",
            transform=self.ratio_ax.get_yaxis_transform(),
            ha="right",
            va="bottom",
            color="#374151",
        )
        (self.sat_now,) = self.sat_ax.plot([], [], color=color, ls="--", lw=1)
        (self.ratio_now,) = self.ratio_ax.plot([], [], color=color, ls="--", lw=1)
        # Fixed limits over every run of the grid: each control is a repaint, never a redraw of the axes.
        act_top = max(float(run.activation_hist.max()) for run in runs)
        grad_top = max(float(run.gradient_hist.max()) for run in runs)
        ratios = np.concatenate([run.update_ratio.ravel() for run in runs])
        self.act_ax.set(
            xlim=(-1, 1),
            ylim=(0, 1.05 * act_top),
            xlabel="tanh output t",
            ylabel="fraction",
            title=f"activations\n(|t| > {SATURATION}: saturated)",
        )
        self.grad_ax.set(
            xlim=(GRADIENT_BINS[0], GRADIENT_BINS[-1]),
            ylim=(0, 1.05 * grad_top),
            xlabel="log10 |∂L/∂t|",
            title="gradients at the\ntanh outputs",
        )
        self.sat_ax.set(
            xlim=(0, self.steps[-1]),
            ylim=(0, 1),
            xlabel="training step",
            ylabel="saturated share",
            title="saturated units",
        )
        self.ratio_ax.set(
            xlim=(0, self.steps[-1]),
            ylim=(min(ratios.min(), -4) - 0.2, max(ratios.max(), -1) + 0.2),
            xlabel="training step",
            ylabel="log10 ratio",
            title="update-to-data ratio",
        )
        handles = self.sat_lines + [self.output_ratio]
        # Text at the panel's base size (10 pt, 12 on a projector), laid out with it: a legend of two rows.
        fig.legend(
            handles,
            [h.get_label() for h in handles],
            loc="lower center",
            ncols=3,
            frameon=False,
            handlelength=1.8,
            columnspacing=1.0,
        )
        fig.tight_layout(rect=(0, 0.12, 1, 1), h_pad=0.8)

    def render(self, gain, batch_norm, shrink_last, step):
        run = self.grid[run_key("batch" if batch_norm else None, shrink_last)][gain]
        at = run.at(step)
        for layer in range(self.layers):
            self.act_lines[layer].set_ydata(run.activation_hist[at, layer])
            self.grad_lines[layer].set_ydata(run.gradient_hist[at, layer])
            self.sat_lines[layer].set_data(run.steps, run.saturated[:, layer])
            self.ratio_lines[layer].set_data(
                np.arange(1, len(run.update_ratio) + 1), run.update_ratio[:, layer]
            )
        self.output_ratio.set_data(np.arange(1, len(run.update_ratio) + 1), run.update_ratio[:, -1])
        self.sat_now.set_data([step, step], [0, 1])
        self.ratio_now.set_data([step, step], self.ratio_ax.get_ylim())
        if not np.isfinite(run.losses[at]):
            raise Unstable(f"the loss overflowed by step {step}; pick a smaller gain.")
        excess = run.initial_loss - expected_initial_loss(10)
        spread = run.gradient_std[at, 0] / run.gradient_std[at, -1]
        return {
            "initial loss (ln 10 = 2.30)": f"{run.initial_loss:.2f} nats ({excess:+.2f})",
            f"loss at step {step}": f"{run.losses[at]:.3f} nats",
            "saturated, per layer": " · ".join(f"{100 * s:.0f} %" for s in run.saturated[at]),
            "gradient std, layer 1 / last": f"{spread:.2g}",
        }
