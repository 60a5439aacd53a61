"""Which values share a mean and a variance? The axis picker for batch norm and its relatives.

Every normalization here subtracts a mean and divides by a standard deviation; they differ only in *which*
values are pooled into one mean and one variance:

    batch norm     per feature/channel c, over the examples (and positions):    N       or  N·H·W values
    layer norm     per example n, over all its features (and positions):        D       or  C·H·W values
    instance norm  per example n and channel c, over the positions:                         H·W values
    group norm     per example n and group of C/G channels:                     D/G     or  (C/G)·H·W values

``bnlib.layernorm.group_ids`` labels every entry of a tensor with its group; ``NormAxesPanel`` lets the
learner pick one entry and highlights every entry that shares its statistics.

Explained in notebooks/03_batchnorm_layer.ipynb, section "Which axis? (L7, L16)".
"""

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import ListedColormap

from bnlib._validation import check_shape_2d_or_4d
from bnlib.layernorm import count_formula, group_ids
from bnlib.live import PALETTE, Panel

_PIXELS = 8  # image pixels per drawn value, the last one blank (the grid line)
NORM_LABELS = {
    "batch": "batch norm",
    "layer": "layer norm",
    "instance": "instance norm",
    "group": "group norm",
}


class NormAxesPanel(Panel):
    """Pick one entry of a batch; every entry that shares its mean and variance lights up.

    The batch is drawn as a grid: one row per example n, one column block per channel c (for an (N, C, H, W)
    input each block is that channel's H×W feature map). Readouts: how many values share the statistics, the
    formula for that count, their mean and standard deviation, and the picked value after normalizing.
    """

    title = "Which values share a mean and a variance?"
    figsize = (5.6, 4.2)

    def __init__(self, shape=(4, 6, 3, 3), num_groups=2, **values):
        self.shape = check_shape_2d_or_4d(shape)
        self.norms = ["batch", "layer", "group"] if len(self.shape) == 2 else list(NORM_LABELS)
        self.num_groups = num_groups
        self.ids = {norm: group_ids(self.shape, norm, num_groups) for norm in self.norms}
        # A fixed batch with a different offset per channel, so the groups' means visibly differ.
        rng = np.random.default_rng(0)
        offsets = np.arange(self.shape[1]).reshape((1, -1) + (1,) * (len(self.shape) - 2))
        self.x = rng.normal(size=self.shape) + offsets
        self.stats = {norm: self._group_stats(ids) for norm, ids in self.ids.items()}
        super().__init__(**values)

    def _group_stats(self, ids):
        """Per-group (counts, means, stds) via bincount; the std is the biased one that normalizing uses."""
        labels, values = ids.ravel(), self.x.ravel()
        counts = np.bincount(labels)
        means = np.bincount(labels, weights=values) / counts
        variances = np.bincount(labels, weights=(values - means[labels]) ** 2) / counts
        return counts, means, np.sqrt(variances)

    def controls(self):
        names = ("n", "d") if len(self.shape) == 2 else ("n", "c", "h", "w")
        sliders = {
            name: widgets.IntSlider(value=0, min=0, max=size - 1, description=name)
            for name, size in zip(names, self.shape, strict=True)
        }
        options = [
            (NORM_LABELS[norm] + (f" (G={self.num_groups})" if norm == "group" else ""), norm)
            for norm in self.norms
        ]
        return {**sliders, "norm": widgets.Dropdown(options=options, value="batch", description="norm")}

    def setup(self, fig):
        n, c = self.shape[:2]
        h, w = self.shape[2:] if len(self.shape) == 4 else (1, 1)
        # Each value is a PIXELS×PIXELS square with a blank line on its right and bottom, and a wider blank
        # between feature maps: the grid is drawn into the image itself (tick marks would cost a text draw
        # per line on every update).
        gap = 1 if h * w > 1 else 0
        grid_rows = n * (h + gap) - gap
        grid_cols = c * (w + gap) - gap
        n_i, c_i, h_i, w_i = np.indices((n, c, h, w))
        rows = (n_i * (h + gap) + h_i).reshape(self.shape)
        cols = (c_i * (w + gap) + w_i).reshape(self.shape)
        inner = np.arange(_PIXELS - 1)  # the last pixel of each square stays blank
        self._pixel_rows = (rows[..., None, None] * _PIXELS + inner[:, None]).astype(np.intp)
        self._pixel_cols = (cols[..., None, None] * _PIXELS + inner[None, :]).astype(np.intp)
        self._canvas = np.full((grid_rows * _PIXELS, grid_cols * _PIXELS), np.nan)

        self.ax = fig.add_subplot()
        # Light, middle and dark (so they differ in greyscale and for every colour vision), and the picked
        # value also carries a cross.
        cmap = ListedColormap(["#e3e3e3", PALETTE["sky"], PALETTE["vermillion"]]).with_extremes(bad="white")
        # Nearest-neighbour resampling of the codes before colouring draws the same pixels as colouring
        # first, several times faster than the RGBA stage matplotlib picks for this size.
        self.image = self.ax.imshow(
            self._canvas, cmap=cmap, vmin=0, vmax=2, interpolation="nearest", interpolation_stage="data"
        )

        def block_centres(count, size):  # pixel coordinate of the middle of each example's / channel's block
            first_cell = np.arange(count) * (size + gap)
            return (first_cell + (size - 1) / 2) * _PIXELS + (_PIXELS - 2) / 2

        self.ax.set_xticks(block_centres(c, w), [str(i) for i in range(c)])
        self.ax.set_yticks(block_centres(n, h), [str(i) for i in range(n)])
        self.ax.tick_params(length=0)
        for spine in self.ax.spines.values():
            spine.set_visible(False)
        self.ax.xaxis.tick_top()
        self.ax.xaxis.set_label_position("top")
        if len(self.shape) == 2:
            self.ax.set_xlabel(f"feature d  (D = {c})")
        else:
            self.ax.set_xlabel(f"channel c  (C = {c}; each block is one {h}×{w} feature map, H×W)")
        self.ax.set_ylabel(f"example n  (N = {n})")
        # The caption changes with the norm: an axes text is repainted with the data, whereas a changed
        # title would force a full redraw of the figure.
        (self.cross,) = self.ax.plot([], [], "x", color="black", ms=7, mew=2)
        self.caption = self.ax.text(0.5, -0.1, "", transform=self.ax.transAxes, ha="center")
        key = "× dark: picked    middle: shares its statistics    light: others"
        fig.text(0.5, 0.02, key, ha="center", color="#333333")
        fig.subplots_adjust(left=0.09, right=0.99, top=0.86, bottom=0.17)

    def picked_index(self, values):
        """The picked entry's index tuple, from the slider values."""
        names = ("n", "d") if len(self.shape) == 2 else ("n", "c", "h", "w")
        return tuple(values[name] for name in names)

    def render(self, norm, **index_values):
        index = self.picked_index(index_values)
        ids = self.ids[norm]
        label = ids[index]
        codes = (ids == label).astype(float)
        codes[index] = 2.0
        self._canvas[self._pixel_rows, self._pixel_cols] = codes[..., None, None]
        self.image.set_data(self._canvas)
        centre = (_PIXELS - 2) / 2  # of the picked value's square, in image pixels
        self.cross.set_data(
            [self._pixel_cols[index][0, 0] + centre], [self._pixel_rows[index][0, 0] + centre]
        )

        counts, means, stds = self.stats[norm]
        count = int(codes.astype(bool).sum())
        unit = "feature" if len(self.shape) == 2 else "channel"
        per = {
            "batch": f"per {unit}, across the batch",
            "layer": "per example, across its features",
            "instance": "per example and channel",
            "group": f"per example and {unit} group",
        }[norm]
        self.caption.set_text(f"{NORM_LABELS[norm]}: statistics {per}")
        x_hat = (self.x[index] - means[label]) / np.sqrt(stds[label] ** 2 + 1e-5)
        return {
            "values sharing the statistics": str(count),
            "count": count_formula(self.shape, norm, self.num_groups),
            "their mean": f"{means[label]:+.3f}",
            "their std": f"{stds[label]:.3f}",
            "picked value x → x̂": f"{self.x[index]:+.3f} → {x_hat:+.3f}",
        }
