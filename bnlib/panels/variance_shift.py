"""Live panel of notebooks/08_bn_in_practice.ipynb: dropout before a batch-norm layer (L18).

VarianceShiftPanel   dropout rate, where dropout goes, recomputed statistics → the running variance a BN
                     layer collects in training against the variance it meets at test time, and what its
                     test-time output looks like then
"""

import ipywidgets as widgets
import numpy as np

from bnlib.live import PALETTE, Panel, histogram

NUM_EXAMPLES = 1200
HIDDEN = 64  # units of the previous block (ReLU outputs), each dropped out with probability p
FEATURES = 16  # features of the linear layer in front of the BN layer
PLACEMENTS = ("before this BN", "after the last BN")
HISTOGRAM_EDGES = np.linspace(-4.0, 4.0, 41)


def _density(values):
    """Density over HISTOGRAM_EDGES (values outside are left out), as (bin centres, heights)."""
    centres, counts = histogram(values, HISTOGRAM_EDGES)
    width = HISTOGRAM_EDGES[1] - HISTOGRAM_EDGES[0]
    return centres, counts / (values.size * width)


class VarianceShiftPanel(Panel):
    """Inverted dropout keeps the mean of a unit and raises its second moment by 1/(1 − p); the BN layer
    behind it stores that larger variance and, at test time, divides by too large a std."""

    title = "Dropout before batch norm: the variance shift"
    figsize = (8.6, 3.6)

    def __init__(self, seed=0, **values):
        rng = np.random.default_rng(seed)
        # The previous block's outputs: ReLU of correlated Gaussian pre-activations (no unit: activations).
        mixing = rng.normal(size=(HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)
        self.hidden = np.maximum(rng.normal(size=(NUM_EXAMPLES, HIDDEN)) @ mixing + 0.3, 0.0)
        self.weights = rng.normal(size=(HIDDEN, FEATURES)) / np.sqrt(HIDDEN)
        self.keep_draws = rng.uniform(size=(NUM_EXAMPLES, HIDDEN))  # unit kept when draw >= p
        self.test_inputs = (
            self.hidden @ self.weights
        )  # what the BN layer receives at test time, (N, FEATURES)
        self.test_var = self.test_inputs.var(axis=0, ddof=1)
        self.test_mean = self.test_inputs.mean(axis=0)
        # Exact expected extra variance from dropout, per feature: Σ_j w_jf² E[a_j²] · p/(1 − p).
        self.extra_per_rate = (self.hidden**2).mean(axis=0) @ self.weights**2
        super().__init__(**values)

    def controls(self):
        return {
            "rate": widgets.FloatSlider(value=0.5, min=0.0, max=0.9, step=0.05, description="dropout p"),
            "placement": widgets.Dropdown(options=PLACEMENTS, value=PLACEMENTS[0], description="dropout"),
            "recompute": widgets.Checkbox(value=False, description="recompute statistics, dropout off"),
        }

    def setup(self, fig):
        self.ax_input, self.ax_output = fig.subplots(1, 2)
        # Training dashed vermillion, test time solid blue: told apart by line style as well as colour.
        (self.train_line,) = self.ax_input.plot(
            [], [], drawstyle="steps-mid", color=PALETTE["vermillion"], ls="--", lw=1.8
        )
        scale = np.sqrt(self.test_var[0])
        (self.test_line,) = self.ax_input.plot(
            *_density((self.test_inputs[:, 0] - self.test_mean[0]) / scale),
            drawstyle="steps-mid",
            color=PALETTE["blue"],
        )
        self.fixed(self.test_line)
        self.ax_input.set(title="BN input, feature 0\n(in test-time standard units)", xlim=(-4, 4))
        self.ax_input.set_xlabel("value")
        grid = np.linspace(-4, 4, 161)
        (promise,) = self.ax_output.plot(
            grid, np.exp(-(grid**2) / 2) / np.sqrt(2 * np.pi), color="black", ls=":", lw=1.2
        )
        self.fixed(promise)
        (self.output_line,) = self.ax_output.plot([], [], drawstyle="steps-mid", color=PALETTE["blue"])
        self.ax_output.set(title="BN output at test time,\nall features", xlim=(-4, 4))
        self.ax_output.set_xlabel("x̂ (running statistics)")
        for ax in (self.ax_input, self.ax_output):
            ax.set_yticks([])  # densities: the shapes matter, not the numbers (and fewer labels draw faster)
            ax.set_xticks([-4, -2, 0, 2, 4])
        # One legend for both axes, outside them: drawn once with the axes instead of over the data on
        # every update.
        fig.legend(
            [self.train_line, self.test_line, promise],
            ["training", "test time", "N(0, 1): what BN promises"],
            loc="lower center",
            ncols=3,
            frameon=False,
            borderaxespad=0.1,
        )
        fig.tight_layout(rect=(0, 0.08, 1, 1))
        # Fixed heights that fit every dropout rate the slider offers, so moving it repaints only the curves
        # (and the curves' heights can be compared from one rate to the next).
        rate_slider = self.control_widgets["rate"]
        rates = np.arange(rate_slider.min, rate_slider.max + 1e-9, rate_slider.step)
        peaks = np.array(
            [[hist[1].max() for hist in self._layer(rate, rate > 0, False)[2:]] for rate in rates]
        )
        self.ax_input.set_ylim(0, 1.1 * max(peaks[:, 0].max(), self.test_line.get_ydata().max()))
        self.ax_output.set_ylim(0, max(0.75, 1.1 * peaks[:, 1].max()))

    def _layer(self, rate, dropout_before, recompute):
        """What the BN layer collects and outputs at one setting.

        Returns (running_var of shape (FEATURES,), x_hat: its test-time output of shape (N, FEATURES),
        the histogram of its training input of feature 0 standardized by the test-time statistics, and the
        histogram of x_hat), each histogram as (bin centres, densities).
        """
        if dropout_before:
            kept = self.keep_draws >= rate
            # einsum rather than @: a product this small is fastest on one thread, and BLAS would spread it
            # over every core (which stalls on a busy machine).
            train_inputs = np.einsum("nh,hf->nf", self.hidden * kept / (1.0 - rate), self.weights)
        else:
            train_inputs = self.test_inputs
        # The running statistics are the training-time ones (their long-run limit), unless recomputed with
        # dropout off, which gives exactly the test-time ones.
        source = self.test_inputs if recompute else train_inputs
        running_mean, running_var = source.mean(axis=0), source.var(axis=0, ddof=1)
        x_hat = (self.test_inputs - running_mean) / np.sqrt(running_var + 1e-5)
        train_standardized = (train_inputs[:, 0] - self.test_mean[0]) / np.sqrt(self.test_var[0])
        return running_var, x_hat, _density(train_standardized), _density(x_hat.ravel())

    def render(self, rate, placement, recompute):
        dropout_before = placement == PLACEMENTS[0] and rate > 0
        running_var, x_hat, train_histogram, output_histogram = self._layer(rate, dropout_before, recompute)
        self.train_line.set_data(*train_histogram)
        self.output_line.set_data(*output_histogram)
        for line in (self.train_line, self.output_line):  # a rate between the slider's steps may go higher
            self.keep_in_view(line.axes, y=[0, 1.1 * line.get_ydata().max()], margin=0.0, shrink_below=0.0)

        ratio = running_var / self.test_var
        predicted = (
            1.0 + (self.extra_per_rate * rate / (1.0 - rate)) / self.test_var if dropout_before else 1.0
        )
        if recompute:
            predicted = np.ones(FEATURES)
        return {
            "running_var / test variance": f"{ratio.mean():.3f} (mean over {FEATURES} features)",
            "predicted from p": f"{np.mean(predicted):.3f}",
            "std of the test-time BN output": f"{x_hat.std(axis=0).mean():.3f} (BN promises 1)",
        }
