"""Live panels of notebooks/05_train_vs_inference.ipynb: running statistics, and batch statistics as noise.

RunningStatsPanel   batch size, momentum, steps → the running mean and variance of one feature chasing the
                    population's (L2, L8)
BatchNoisePanel     batch size, the example's position → how much one example's output jitters with the batch
                    it lands in (L20)
"""

import ipywidgets as widgets
import numpy as np

from bnlib.fast_path import static_legend
from bnlib.inference import batch_statistics, jitter_by_batch_size, outputs_in_batches, running_average
from bnlib.live import PALETTE, Panel, histogram, padded_range

# The feature the running-statistics panel samples: a pre-activation with known population statistics
# (activations have no unit).
POPULATION_MEAN = 3.0
POPULATION_STD = 2.0

MAX_BATCH = 256
MAX_STEPS = 500
MOMENTA = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def legend_above(fig, ax, handles=None, labels=None, ncols=3):
    """A legend in one row just above ``ax``, outside the data, as a figure legend.

    An axes legend is drawn over the data, so Panel repaints it on every update, and its text costs more
    than the data itself; a figure legend outside the axes never overlaps the data and stays in the cached
    background. Leave room for it at the top of the layout (``fig.tight_layout(rect=...)``).
    """
    return static_legend(
        ax,
        loc="lower center",
        anchor=(0.5, 1.0),
        handles=handles,
        labels=labels,
        ncols=ncols,
        frameon=False,
        borderaxespad=0.2,
        handlelength=1.5,  # compact, so three entries fit above one axes in projector mode
        handletextpad=0.4,
        columnspacing=1.0,
    )


# Batch sizes from each start value up to the next share one y-range, so moving the batch size inside a band
# keeps the axes (and their cached drawing); small batches get wider ranges than large ones.
BATCH_SIZE_BANDS = (2, 4, 16)


class RunningStatsPanel(Panel):
    """The exponential moving average of the batch statistics, step by step, against the population values."""

    title = "Running statistics vs the population"
    figsize = (7.6, 4.2)
    # Batch sizes come in bands with their own y-range (BATCH_SIZE_BANDS): crossing a band redraws the axes.
    full_redraw_controls = ("batch_size",)

    def __init__(self, seed=0, **values):
        # One seeded draw for the largest setting; each setting reads a corner (column t is step t's batch).
        rng = np.random.default_rng(seed)
        self.samples = rng.normal(POPULATION_MEAN, POPULATION_STD, size=(MAX_BATCH, MAX_STEPS))
        self._statistics = {}  # batch size -> batch means and variances of all MAX_STEPS steps
        self._band_limits = self._y_limits_by_band()
        super().__init__(**values)

    def _y_limits_by_band(self):
        """For each band of batch sizes, y-limits of the mean and variance axes that fit every setting in it.

        Every running estimate (exponential or cumulative) is a weighted average of the start value and the
        batch values so far, so it lies between their extremes: limits that hold the start values (0 and 1)
        and every batch statistic of the band, over all MAX_STEPS steps, fit any momentum and number of steps.
        Returns {band start: ((mean low, mean high), (variance low, variance high))}.
        """
        # Statistics of every batch size at once from prefix sums over the examples (row b: batch size b + 1).
        sums = np.cumsum(self.samples, axis=0)[1:]
        sums_of_squares = np.cumsum(self.samples**2, axis=0)[1:]
        sizes = np.arange(2, MAX_BATCH + 1)[:, None]
        means = sums / sizes
        variances = (sums_of_squares - sums * means) / (sizes - 1)  # unbiased, like the running variance
        limits = {}
        ends = (*BATCH_SIZE_BANDS[1:], MAX_BATCH + 1)
        for start, end in zip(BATCH_SIZE_BANDS, ends, strict=True):
            rows = slice(start - 2, end - 2)
            limits[start] = tuple(
                padded_range([min(values[rows].min(), initial), max(values[rows].max(), initial)])
                for values, initial in ((means, 0.0), (variances, 1.0))
            )
        return limits

    def controls(self):
        return {
            "batch_size": widgets.IntSlider(value=32, min=2, max=MAX_BATCH, description="batch size"),
            "momentum": widgets.SelectionSlider(options=MOMENTA, value=0.1, description="momentum"),
            "steps": widgets.IntSlider(value=100, min=1, max=MAX_STEPS, description="steps"),
            "cumulative": widgets.Checkbox(value=False, description="momentum=None: cumulative average"),
        }

    def setup(self, fig):
        self.axes = fig.subplots(2, 1, sharex=True)
        population = (POPULATION_MEAN, POPULATION_STD**2)
        self.dots, self.running = [], []
        for ax, name, value in zip(self.axes, ("mean", "variance"), population, strict=True):
            (line,) = ax.plot([], [], color=PALETTE["blue"], lw=2)
            # Markers of one Line2D draw several times faster than a scatter of the same points.
            (dots,) = ax.plot([], [], "o", ms=2.5, ls="none", color="#a0a0a0", zorder=line.get_zorder() - 0.1)
            self.running.append(line)
            self.dots.append(dots)
            self.fixed(ax.axhline(value, color=PALETTE["vermillion"], ls="--", lw=1.5))
            ax.set_ylabel(f"{name}\n(population {value:g})")
        # A fixed time axis: the steps slider plays the training forward, and curves compare across settings.
        self.axes[0].set_xlim(-0.01 * MAX_STEPS, 1.02 * MAX_STEPS)
        self.axes[1].set_xlabel("training step")
        dots, running, population = self.dots[0], self.running[0], self.axes[0].lines[-1]
        labels = ["batch statistic", "running estimate", "population"]
        legend_above(fig, self.axes[0], [dots, running, population], labels)
        fig.tight_layout(rect=(0, 0, 1, 0.93))

    def statistics(self, batch_size):
        """Batch means and unbiased variances of every step for this batch size (two arrays (MAX_STEPS,))."""
        if batch_size not in self._statistics:
            self._statistics[batch_size] = batch_statistics(self.samples[:batch_size])
        return self._statistics[batch_size]

    def render(self, batch_size, momentum, steps, cumulative):
        batch_means, batch_vars = (values[:steps] for values in self.statistics(batch_size))
        # Both statistics in one pass; PyTorch starts the running mean at 0 and the running variance at 1.
        estimates = running_average(
            np.column_stack([batch_means, batch_vars]), None if cumulative else momentum, np.array([0.0, 1.0])
        ).T
        step_numbers = np.arange(1, steps + 1)
        band = max(start for start in BATCH_SIZE_BANDS if start <= batch_size)
        artists = zip(self.axes, self.dots, self.running, self._band_limits[band], strict=True)
        for (ax, dots, line, limits), batch_values, estimate in zip(
            artists, (batch_means, batch_vars), estimates, strict=True
        ):
            dots.set_data(step_numbers, batch_values)
            line.set_data(step_numbers, estimate)
            ax.set_ylim(limits)  # the same limits for every setting in the band: the update is blitted
        mean_error = abs(estimates[0][-1] - POPULATION_MEAN)
        var_error = abs(estimates[1][-1] - POPULATION_STD**2) / POPULATION_STD**2
        readouts = {
            "running mean": f"{estimates[0][-1]:.3f} (population {POPULATION_MEAN:g})",
            "|error| of the mean": f"{mean_error:.3f}",
            "running variance": f"{estimates[1][-1]:.3f} (population {POPULATION_STD**2:g})",
            "|error| of the variance": f"{100 * var_error:.1f} %",
        }
        if not cumulative:
            # At equilibrium the EMA of the batch means wobbles with std σ/√B · √(m / (2 − m)).
            wobble = POPULATION_STD / np.sqrt(batch_size) * np.sqrt(momentum / (2 - momentum))
            readouts["memory ≈ 1/momentum"] = f"{1 / momentum:.0f} steps"
            readouts["expected wobble of the mean"] = f"±{wobble:.3f}"
        return readouts


# ----- batch noise --------------------------------------------------------------------------------

NUM_BATCHES = 300
NOISE_BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256)
HISTOGRAM_EDGES = np.linspace(-4.5, 4.5, 61)
JITTER_FLOOR = (
    0.02  # the log axis shows a jitter of 0 (an outlier in a batch of 2 is always +1) at this floor
)
# The jitter axis holds every curve: over the slider's positions the jitter stays below 1 and the 1/√B
# reference below 1.6 (render still widens the axis should a setting ever draw above it).
JITTER_LIMITS = (JITTER_FLOOR / 2, 2.5)


class BatchNoisePanel(Panel):
    """One example normalized inside many random batches: the spread of its output, and how it shrinks."""

    title = "Batch statistics as noise"
    figsize = (8.8, 3.8)

    def __init__(self, seed=0, **values):
        rng = np.random.default_rng(seed)
        # Batch mates in population-std units (mean 0, std 1): the normalized output does not depend on units.
        self.companions = rng.standard_normal((NUM_BATCHES, MAX_BATCH - 1, 1))
        self._jitter_curves = {}  # position -> jitter for every B in NOISE_BATCH_SIZES; reused while B moves
        super().__init__(**values)

    def controls(self):
        return {
            "batch_size": widgets.IntSlider(value=16, min=2, max=MAX_BATCH, description="batch size"),
            "position": widgets.FloatSlider(
                value=1.0,
                min=-3.0,
                max=3.0,
                step=0.1,
                description="example at (σ)",
                tooltip="the example's value, in population standard deviations from the population mean",
            ),
        }

    def setup(self, fig):
        self.hist_ax, self.trend_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})
        # A step line rather than 60 bars: one artist to update and draw.
        (self.histogram,) = self.hist_ax.plot(
            HISTOGRAM_EDGES, np.zeros(HISTOGRAM_EDGES.size), drawstyle="steps-post", color=PALETTE["blue"]
        )
        self.eval_line = self.hist_ax.axvline(
            0.0, color=PALETTE["vermillion"], ls="--", label="eval mode (population stats)"
        )
        self.hist_ax.set_xlabel(f"the example's x̂ in {NUM_BATCHES} random batches")
        self.hist_ax.set_ylabel("batches")
        # A fixed count axis (no bin can hold more than all the batches): the histogram grows taller and
        # narrower as the batch size grows, and the update is blitted.
        self.hist_ax.set_ylim(0, 1.05 * NUM_BATCHES)
        legend_above(fig, self.hist_ax, ncols=1)

        sizes = np.array(NOISE_BATCH_SIZES, dtype=float)
        (self.trend,) = self.trend_ax.plot(
            sizes, np.ones_like(sizes), "o-", color=PALETTE["blue"], label="measured"
        )
        (self.reference,) = self.trend_ax.plot(sizes, np.ones_like(sizes), ":", color="black", label="∝ 1/√B")
        (self.current,) = self.trend_ax.plot(
            [], [], "o", ms=12, mfc="none", mew=2, mec=PALETTE["vermillion"], label="this B"
        )
        self.trend_ax.set_xscale("log", base=2)
        self.trend_ax.set_yscale("log")
        self.trend_ax.set_xlabel("batch size B")
        self.trend_ax.set_ylabel("jitter (std of x̂)")
        self.trend_ax.set_ylim(JITTER_LIMITS)
        legend_above(fig, self.trend_ax)
        fig.tight_layout(rect=(0, 0, 1, 0.92))

    def render(self, batch_size, position):
        example = np.array([position])
        outputs = outputs_in_batches(example, self.companions[:, : batch_size - 1])[:, 0]
        _, counts = histogram(outputs, HISTOGRAM_EDGES, clip=True)
        self.histogram.set_ydata(np.append(counts, 0))
        # Population mean 0 and std 1: in eval mode the example's output is its position.
        self.eval_line.set_xdata([position, position])

        if position not in self._jitter_curves:
            self._jitter_curves[position] = jitter_by_batch_size(example, self.companions, NOISE_BATCH_SIZES)[
                :, 0
            ]
        jitter = self._jitter_curves[position]
        sizes = np.array(NOISE_BATCH_SIZES, dtype=float)
        reference = jitter[-1] * np.sqrt(sizes[-1] / sizes)  # ∝ 1/√B, anchored at the largest B
        spread = outputs.std()
        self.trend.set_data(sizes, np.maximum(jitter, JITTER_FLOOR))
        self.reference.set_data(sizes, reference)
        self.current.set_data([batch_size], [max(spread, JITTER_FLOOR)])
        highest = max(jitter.max(), reference.max(), spread)
        self.trend_ax.set_ylim(JITTER_LIMITS[0], max(JITTER_LIMITS[1], 1.5 * highest))
        return {
            "jitter (std over batches)": f"{spread:.3f}",
            "jitter · √B": f"{spread * np.sqrt(batch_size):.2f}",
            "eval-mode output": f"{position:.2f}",
            "mean training-mode output": f"{outputs.mean():.2f}",
            # In a batch of B, no normalized value can exceed √(B − 1): small batches also squash outliers.
            "largest possible |x̂| = √(B − 1)": f"{np.sqrt(batch_size - 1):.2f}",
        }
