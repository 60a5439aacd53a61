"""Static figures of the notebooks, each one call from its notebook (the live ones are in bnlib/panels).

    plot_data_vs_loss    the data over (height, age) beside the loss over the weights (notebook 02, L3)
    plot_figure_1        the paper's Figure 1 on digits: accuracy and a sigmoid's input over training (06)
    plot_sweep           final test accuracy against a swept value, with and without BN (06)
    plot_gradient_norms  ‖∂L/∂W‖ per linear layer (06)
    plot_traces          small multiples of measurements over training (07)

matplotlib is imported inside the functions, so importing this module stays light.
"""

import numpy as np

from bnlib.data import UNIT_SINGULAR, height_age
from bnlib.experiments import final_accuracy
from bnlib.live import PALETTE
from bnlib.surface import QuadraticLoss

LOSS_IMAGE_SAMPLES = 144  # samples per side of the loss image, as in the live loss-surface figure

LABELS = {None: "no BN", "batch": "BN"}
COLORS = {None: PALETTE["vermillion"], "batch": PALETTE["blue"]}
# The second cue: without BN dashed with square markers, with BN solid with round ones.
LINESTYLES = {None: "--", "batch": "-"}
MARKERS = {None: "s", "batch": "o"}

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


def plot_data_vs_loss(data=None, figsize=(9.0, 3.8)):
    """Two pictures side by side that are easy to confuse (L3): the data over (height, age), colored by body
    weight, and the loss over the weights (w_height, w_age). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    data = height_age() if data is None else data
    loss = QuadraticLoss.from_data(data.X, data.y)
    fig, (ax_data, ax_loss) = plt.subplots(1, 2, figsize=figsize)
    points = ax_data.scatter(data.X[:, 0], data.X[:, 1], c=data.y, s=12, cmap="plasma")
    fig.colorbar(points, ax=ax_data, label=f"{data.target_name} ({data.target_unit})")
    ax_data.set_xlabel(f"height ({data.feature_units[0]})")
    ax_data.set_ylabel(f"age ({data.feature_units[1]})")
    ax_data.set_title("the DATA: one dot per person (not a loss)", fontsize=10)

    w0 = np.zeros(2)
    start_excess = float(loss.excess_loss(w0))
    centre, half = (w0 + loss.minimizer) / 2, float(np.abs(loss.minimizer - w0).max())
    x0, x1, y0, y1 = centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half
    w1, w2 = np.meshgrid(np.linspace(x0, x1, LOSS_IMAGE_SAMPLES), np.linspace(y0, y1, LOSS_IMAGE_SAMPLES))
    field = np.log10(loss.loss_grid(w1, w2, excess=True) / start_excess + 1e-12)
    image = ax_loss.imshow(field, origin="lower", extent=(x0, x1, y0, y1), cmap="viridis_r", vmin=-6, vmax=1)
    for k in range(6):
        ax_loss.plot(*loss.level_set(start_excess * 4.0**-k).T, color="white", lw=0.8, alpha=0.7)
    ax_loss.plot(*loss.minimizer, "*", color="#facc15", mec="black", ms=13)
    ax_loss.set_xlim(x0, x1)
    ax_loss.set_ylim(y0, y1)
    ax_loss.set_box_aspect(1)
    fig.colorbar(image, ax=ax_loss, label="log₁₀ (L − L*) / (L(0) − L*)")
    ax_loss.set_xlabel(f"w_height (kg per {UNIT_SINGULAR[data.feature_units[0]]})")
    ax_loss.set_ylabel(f"w_age (kg per {UNIT_SINGULAR[data.feature_units[1]]})")
    ax_loss.set_title("the LOSS: one point per model (w_height, w_age)", fontsize=10)
    fig.tight_layout()
    return fig
