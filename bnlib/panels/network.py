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
from bnlib.figures import COLORS, LABELS, LINESTYLES, MARKERS
from bnlib.live import Panel, Unstable


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
