"""The layer notebooks' panels draw what they claim: the right cells light up, readouts are the statistics."""

import numpy as np
import pytest

from bnlib.activations import activation_fractions
from bnlib.batchnorm import batchnorm_forward
from bnlib.layernorm import count_formula, group_ids
from bnlib.panels.axes import _PIXELS, NormAxesPanel
from bnlib.panels.gamma_beta import GammaBetaPanel

SHAPE = (4, 6, 3, 3)


def highlighted_cells(panel):
    """Per tensor entry, the code drawn in its square: 0 other, 1 shares the statistics, 2 picked."""
    image = panel.drawn()["ax0.image0"]
    # The top-left pixel of each entry's square carries its code.
    return image[panel._pixel_rows[..., 0, 0], panel._pixel_cols[..., 0, 0]]


@pytest.mark.parametrize(
    ("norm", "expected"),
    [
        ("batch", lambda idx: idx[1] == 2),  # channel 2, every example and position
        ("layer", lambda idx: idx[0] == 1),  # example 1, every channel and position
        ("instance", lambda idx: (idx[0] == 1) & (idx[1] == 2)),
        ("group", lambda idx: (idx[0] == 1) & (idx[1] // 3 == 0)),  # G = 2: channels 0-2 form one group
    ],
)
def test_the_picked_cell_and_its_group_light_up(norm, expected):
    panel = NormAxesPanel(shape=SHAPE).set(n=1, c=2, h=0, w=2, norm=norm)
    codes = highlighted_cells(panel)
    idx = np.indices(SHAPE)
    np.testing.assert_array_equal(codes > 0, expected(idx))
    assert codes[1, 2, 0, 2] == 2 and (codes == 2).sum() == 1
    assert panel.readouts["values sharing the statistics"] == str(expected(idx).sum())


def test_counts_match_the_layouts():
    panel = NormAxesPanel(shape=SHAPE)
    n, c, h, w = SHAPE
    counts = {"batch": n * h * w, "layer": c * h * w, "instance": h * w, "group": c // 2 * h * w}
    for norm, count in counts.items():
        panel.set(norm=norm)
        assert panel.readouts["values sharing the statistics"] == str(count)
        assert panel.readouts["count"].endswith(f"= {count}")
    assert count_formula(SHAPE, "batch") == "N·H·W = 4·3·3 = 36"
    assert count_formula((8, 6), "layer") == "D = 6"


def test_readout_statistics_are_the_normalizations_own():
    panel = NormAxesPanel(shape=SHAPE).set(n=3, c=4, h=1, w=1)
    x = panel.x
    _, cache = batchnorm_forward(x, np.ones(SHAPE[1]), np.zeros(SHAPE[1]))
    assert panel.readouts["their mean"] == f"{cache['mean'][0, 4, 0, 0]:+.3f}"
    assert panel.readouts["their std"] == f"{np.sqrt(cache['var'][0, 4, 0, 0]):.3f}"
    assert panel.readouts["picked value x → x̂"].endswith(f"{cache['x_hat'][3, 4, 1, 1]:+.3f}")
    panel.set(norm="layer")
    assert panel.readouts["their mean"] == f"{x[3].mean():+.3f}"
    panel.set(norm="group")
    assert panel.readouts["their std"] == f"{x[3, 3:].std():.3f}"


def test_a_feature_matrix_gets_n_d_sliders_and_no_instance_norm():
    panel = NormAxesPanel(shape=(8, 6)).set(n=5, d=3)
    assert set(panel.control_widgets) == {"n", "d", "norm"}
    assert "instance" not in panel.control_widgets["norm"]._options_values
    codes = highlighted_cells(panel)
    assert codes.shape == (8, 6) and (codes[:, 3] > 0).all() and (codes > 0).sum() == 8
    assert _PIXELS > 1


def test_group_ids_reject_what_cannot_be_normalized():
    with pytest.raises(ValueError, match="positive divisor of the 6 channels"):
        group_ids(SHAPE, "group", num_groups=4)
    with pytest.raises(ValueError, match="instance norm needs positions"):
        group_ids((8, 6), "instance")
    with pytest.raises(ValueError, match="unknown norm 'batchnorm'"):
        group_ids(SHAPE, "batchnorm")
    with pytest.raises(ValueError, match=r"\(N, D\) or \(N, C, H, W\)"):
        NormAxesPanel(shape=(2, 3, 4))


def test_gamma_is_the_spread_and_beta_the_centre():
    panel = GammaBetaPanel().set(gamma=2.5, beta=-1.5)
    assert panel.readouts["mean of y (= β)"] == "-1.50"
    assert panel.readouts["std of y (= γ)"] == "2.50"
    x, height = panel.drawn()["ax0.line0"].T  # the top-left histogram of y
    assert abs(np.sum(x * height) / np.sum(height) - (-1.5)) < 0.1  # its centre of mass sits at β


def test_fractions_follow_the_slope_thresholds():
    # sigmoid: slope ≥ 75 % of its largest for |y| ≤ ln 3; tanh: below 10 % for |y| > artanh(√0.9).
    near, far = np.log(3) - 1e-3, np.log(3) + 1e-3
    assert activation_fractions([near])["sigmoid"]["near_linear"] == 1.0
    assert activation_fractions([far])["sigmoid"]["near_linear"] == 0.0
    edge = np.arctanh(np.sqrt(0.9))
    assert activation_fractions([edge - 1e-3, edge + 1e-3])["tanh"]["saturated"] == 0.5
    assert activation_fractions([-1.0, 0.0, 2.0])["ReLU"] == {"saturated": 2 / 3, "near_linear": 1 / 3}
    with pytest.raises(ValueError, match="empty"):
        activation_fractions([])


def test_normalized_sigmoids_sit_in_their_linear_middle_until_gamma_grows():
    panel = GammaBetaPanel()
    fractions = activation_fractions(panel.x_hat)
    assert fractions["sigmoid"]["near_linear"] > 0.7 and fractions["sigmoid"]["saturated"] < 0.01
    wide = activation_fractions(4 * panel.x_hat)
    assert wide["sigmoid"]["saturated"] > 0.2 and wide["sigmoid"]["near_linear"] < 0.3
    shifted_left = activation_fractions(panel.x_hat - 4)
    assert shifted_left["ReLU"]["saturated"] > 0.99  # β far below zero: almost every ReLU output is 0
