"""Live panel of notebooks/06_bn_in_a_network.ipynb: one network with and without batch norm, across learning rates.

LearningRatePanel   learning rate → training loss of both networks over the steps, and their final test
                    accuracy against the learning rate (L19)

Training runs are precomputed (by :func:`bnlib.experiments.learning_rate_sweep`, in the notebook); the panel
only browses them, so moving the slider costs a redraw, not a training run.
"""

import functools

import ipywidgets as widgets
import numpy as np

from bnlib.experiments import final_accuracy, learning_rate_sweep
from bnlib.live import PALETTE, Panel, Unstable

LABELS = {None: "no BN", "batch": "BN"}
COLORS = {None: PALETTE["vermillion"], "batch": PALETTE["blue"]}
# The second cue: without BN dashed with square markers, with BN solid with round ones.
LINESTYLES = {None: "--", "batch": "-"}
MARKERS = {None: "s", "batch": "o"}


@functools.lru_cache(maxsize=1)
def _default_sweep():
    """A small, quick sweep so the panel works with no arguments: 3 hidden ReLU layers of 16, 30 steps.

    Cached: every panel built without a sweep shares it (treat it as read-only).
    """
    import torch

    from bnlib.data import digits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: one thread is many times faster on a busy machine
    try:
        return learning_rate_sweep(digits(as_torch=True), (0.03, 0.3, 3.0), hidden_sizes=(16,) * 3, steps=30)
    finally:
        torch.set_num_threads(threads)


class LearningRatePanel(Panel):
    """Loss curves at the chosen learning rate, and final accuracy against the learning rate, with and without BN."""

    title = "Higher learning rates, with and without batch norm"
    figsize = (8.0, 3.4)

    def __init__(self, sweep=None, **values):
        """sweep: ``{norm: {lr: TrainLog}}`` from :func:`bnlib.experiments.learning_rate_sweep`, with the same
        learning rates for every norm (None and "batch"); by default a small sweep is trained here."""
        self.sweep = _default_sweep() if sweep is None else sweep
        self.norms = list(self.sweep)
        unknown = [norm for norm in self.norms if norm not in LABELS]
        if unknown:
            raise ValueError(f"the panel compares {list(LABELS)}; the sweep has norms {unknown}.")
        lr_sets = {tuple(sorted(runs)) for runs in self.sweep.values()}
        if len(lr_sets) != 1:
            raise ValueError(
                "every norm in the sweep needs the same learning rates; rerun the sweep with one list."
            )
        self.lrs = list(lr_sets.pop())
        super().__init__(**values)

    def controls(self):
        return {
            "lr": widgets.SelectionSlider(
                options=[(f"{lr:g}", lr) for lr in self.lrs],
                value=self.lrs[len(self.lrs) // 2],
                description="learning rate",
            )
        }

    def setup(self, fig):
        self.loss_ax, self.accuracy_ax = fig.subplots(1, 2)
        self.loss_lines, self.end_marks = {}, {}
        for norm in self.norms:
            (self.loss_lines[norm],) = self.loss_ax.plot(
                [], [], color=COLORS[norm], ls=LINESTYLES[norm], lw=1.5
            )
            (self.end_marks[norm],) = self.loss_ax.plot(
                [], [], "x", color=COLORS[norm], ms=9, mew=2, clip_on=False
            )
            accuracies = [final_accuracy(self.sweep[norm][lr]) for lr in self.lrs]
            # A diverged run has no accuracy: drawn at 0 with a cross, so the curve stays finite.
            shown = np.nan_to_num(np.array(accuracies) * 100, nan=0.0)
            self.fixed(
                *self.accuracy_ax.plot(
                    self.lrs, shown, marker=MARKERS[norm], ls=LINESTYLES[norm], color=COLORS[norm]
                )
            )
        self.loss_ax.set(xlabel="training step", ylabel="training loss (nats)", yscale="log")
        (self.current,) = self.accuracy_ax.plot([], [], color="#6b7280", ls="--", lw=1)
        self.accuracy_ax.set(
            xscale="log", xlabel="learning rate", ylabel="final test accuracy (%)", ylim=(0, 100)
        )
        # One legend for both axes, outside them: drawn once with the axes instead of over the data on
        # every update.
        fig.legend(
            [self.loss_lines[norm] for norm in self.norms],
            [LABELS[norm] for norm in self.norms],
            loc="lower center",
            ncols=len(self.norms),
            frameon=False,
            borderaxespad=0.1,
        )
        fig.tight_layout(rect=(0, 0.08, 1, 1))
        # Fixed limits, so moving the slider only repaints the curves: up to ten times the loss training
        # starts from. A run that blows up leaves through the top edge, where a cross marks a divergence.
        runs = [self.sweep[norm][lr] for norm in self.norms for lr in self.lrs]
        self.steps_shown = max(max(len(run.losses), run.diverged_at or 0) for run in runs) + 1
        starting_losses = [run.losses[0] for run in runs if len(run.losses) and np.isfinite(run.losses[0])]
        self.loss_top = 10 * max(starting_losses, default=1.0)
        self.loss_ax.set_xlim(0, self.steps_shown)
        self.loss_ax.set_ylim(1e-2, self.loss_top)

    def render(self, lr):
        readouts, overflowed = {}, False
        for norm in self.norms:
            log = self.sweep[norm][lr]
            losses = np.asarray(log.losses, dtype=float)
            steps = np.arange(1, len(losses) + 1)
            self.loss_lines[norm].set_data(steps, losses)
            if log.diverged and len(losses):  # a cross where the loss overflowed, at the top edge if above it
                self.end_marks[norm].set_data([steps[-1]], [min(losses[-1], self.loss_top)])
            else:
                self.end_marks[norm].set_data([], [])
            overflowed |= not np.isfinite(losses).all()
            readouts[f"{LABELS[norm]}: final test accuracy"] = (
                f"diverged at step {log.diverged_at}"
                if log.diverged
                else f"{100 * final_accuracy(log):.1f} %"
            )
        if overflowed:
            raise Unstable("the loss overflowed before the run stopped; pick a smaller learning rate.")
        self.current.set_data([lr, lr], [0, 100])
        return readouts


# ----- static figures of notebooks 06 and 07 (each one call from the notebook) ------------------------------

# Okabe–Ito colours, each with its own line style in the figures below, so no line is told by hue alone.
FIGURE_COLORS = (PALETTE["vermillion"], PALETTE["blue"], PALETTE["green"], PALETTE["purple"])
FIGURE_LINESTYLES = ("--", "-", "-.", ":")


def plot_figure_1(runs, unit: int = 0, figsize=(10.0, 3.2)):
    """The paper's Figure 1 on digits. runs: ``{label: (TrainLog, LayerInputTrace)}``, e.g. {"no BN": …, "BN": …}.

    (a) test accuracy against the training step; then, for each run, the 15th, 50th and 85th percentiles of
    one unit's input to its sigmoid over training. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(runs), figsize=figsize)
    low, high = np.inf, -np.inf
    for color, line, (label, (log, trace)) in zip(
        FIGURE_COLORS, FIGURE_LINESTYLES, runs.items(), strict=False
    ):
        axes[0].plot(log.evaluated_steps, 100 * np.array(log.test_accuracy), line, color=color, label=label)
        percentiles = trace.percentiles(unit)
        low, high = min(low, percentiles.min()), max(high, percentiles.max())
    axes[0].set(xlabel="training step", ylabel="test accuracy (%)", title="(a) test accuracy")
    axes[0].legend(fontsize=10)
    for ax, letter, color, (label, (_, trace)) in zip(
        axes[1:], "bcd", FIGURE_COLORS, runs.items(), strict=False
    ):
        percentiles = trace.percentiles(unit)
        for column, style in zip(range(3), (":", "-", ":"), strict=True):
            ax.plot(trace.steps, percentiles[:, column], style, color=color)
        ax.set(
            xlabel="training step",
            ylim=(low - 0.2, high + 0.2),
            title=f"({letter}) {label}: input to a sigmoid",
        )
    axes[1].set_ylabel("15th, 50th, 85th percentile")
    fig.tight_layout()
    return fig


def plot_sweep(sweep, xlabel: str, figsize=(5.0, 3.2)):
    """Final test accuracy against the swept value (log axis), one line per norm; a cross at 0 marks a run
    that diverged. sweep: ``{norm: {value: TrainLog}}``. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    for norm, runs in sweep.items():
        values = sorted(runs)
        accuracies = np.array([final_accuracy(runs[v]) for v in values]) * 100
        ax.plot(
            values,
            np.nan_to_num(accuracies, nan=0.0),
            marker=MARKERS[norm],
            ls=LINESTYLES[norm],
            color=COLORS[norm],
            label=LABELS[norm],
        )
        diverged = [v for v in values if runs[v].diverged]
        ax.plot(diverged, [0] * len(diverged), "x", color=COLORS[norm], ms=10, mew=2)
    ax.set(xscale="log", xlabel=xlabel, ylabel="final test accuracy (%)", ylim=(-3, 100))
    ax.legend(fontsize=10, title="× = diverged", title_fontsize=10)
    fig.tight_layout()
    return fig


def plot_gradient_norms(norms, title: str = "", figsize=(5.0, 3.2)):
    """‖∂L/∂W‖ per linear layer on a log axis. norms: ``{label: [norm of layer 1, …]}``. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    for color, line, (label, values) in zip(FIGURE_COLORS, FIGURE_LINESTYLES, norms.items(), strict=False):
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", ls=line, color=color, label=label)
    ax.set(yscale="log", xlabel="linear layer (1 = first)", ylabel="‖∂L/∂W‖", title=title)
    ax.legend(fontsize=10)
    fig.tight_layout()
    return fig


def plot_traces(panels, figsize=None):
    """Small multiples of measurements over training. panels: ``{title: {label: (steps, values)}}``, one axis
    per title, one line per label (log y-axis when every value is positive). Returns the figure."""
    import matplotlib.pyplot as plt

    figsize = figsize or (3.3 * len(panels), 3.0)
    fig, axes = plt.subplots(1, len(panels), figsize=figsize, squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels.items(), strict=True):
        all_positive = True
        for color, line, (label, (steps, values)) in zip(
            FIGURE_COLORS, FIGURE_LINESTYLES, lines.items(), strict=False
        ):
            values = np.asarray(values, dtype=float)
            all_positive &= bool(np.all(values > 0))
            marker = "o" if len(values) <= 30 else None
            ax.plot(steps, values, marker=marker, ls=line, ms=3, color=color, label=label)
        if all_positive:
            ax.set_yscale("log")
        ax.set(xlabel="training step", title=title)
        ax.title.set_fontsize(10)
    axes[0][0].legend(fontsize=10)
    fig.tight_layout()
    return fig
