"""bnlib.landscape (internal covariate shift, the loss along the gradient) and bnlib.scale_invariance."""

import numpy as np
import pytest
import torch

from bnlib.experiments import make_mlp
from bnlib.landscape import internal_covariate_shift, probe_landscape, record_every
from bnlib.scale_invariance import angle_turned, bn_of_linear, bn_of_linear_weight_gradient, unit_cosines


@pytest.fixture(scope="module")
def batch():
    from bnlib.data import digits

    X_train, y_train, _, _ = digits(as_torch=True)
    return X_train[:60], y_train[:60]


def snapshot(model):
    return [t.clone() for t in list(model.parameters()) + list(model.buffers())]


def unchanged(model, saved):
    return all(
        torch.equal(a, b)
        for a, b in zip(list(model.parameters()) + list(model.buffers()), saved, strict=True)
    )


@pytest.mark.parametrize("norm", [None, "batch"])
def test_covariate_shift_vanishes_without_an_update(batch, norm):
    model = make_mlp(64, [16, 16, 16], 10, norm=norm, seed=1)
    saved = snapshot(model)
    still = internal_covariate_shift(model, *batch, lr=0.0, layer_index=2)
    assert still.difference == 0.0 and still.cosine == pytest.approx(1.0)
    moved = internal_covariate_shift(model, *batch, lr=0.5, layer_index=2)
    assert moved.difference > 0 and moved.cosine < 1.0
    assert moved.relative == pytest.approx(moved.difference / moved.gradient_norm)
    assert unchanged(model, saved)  # measured on a copy


def test_covariate_shift_of_the_first_layer_is_refused(batch):
    model = make_mlp(64, [16], 10)
    with pytest.raises(ValueError, match="no earlier layers"):
        internal_covariate_shift(model, *batch, lr=0.1, layer_index=0)
    with pytest.raises(ValueError, match="2 linear layers"):
        internal_covariate_shift(model, *batch, lr=0.1, layer_index=5)


@pytest.mark.parametrize("norm", [None, "batch"])
def test_landscape_probe_is_first_order_correct_and_leaves_the_model(batch, norm):
    model = make_mlp(64, [16, 16], 10, norm=norm, seed=0)
    saved = snapshot(model)
    tiny = np.array([1e-4, 2e-4])
    probe = probe_landscape(model, *batch, tiny)
    # For small η, L(w − η·g) ≈ L(w) − η‖g‖²: the loss falls at rate ‖g‖² along the negative gradient.
    slope = (probe.losses[0] - probe.losses[1]) / (tiny[1] - tiny[0])
    assert slope == pytest.approx(probe.gradient_norm**2, rel=0.05)
    assert unchanged(model, saved)
    wide = probe_landscape(model, *batch, [0.1, 0.5, 1.0])
    assert wide.loss_range >= 0 and wide.max_gradient_change > 0
    assert wide.beta_smoothness == pytest.approx(
        max(
            c / (eta * wide.gradient_norm)
            for c, eta in zip(wide.gradient_changes, wide.step_sizes, strict=True)
        )
    )


def test_landscape_probe_rejects_bad_step_sizes(batch):
    with pytest.raises(ValueError, match="positive η"):
        probe_landscape(make_mlp(64, [8], 10), *batch, [0.1, -0.1])


def test_record_every():
    on_step, trace = record_every(3, lambda model: model * 2)
    for step in range(1, 10):
        on_step(step, step)
    assert trace.steps == [3, 6, 9] and trace.values == [6, 12, 18]
    with pytest.raises(ValueError, match="every=0"):
        record_every(0, len)


@pytest.fixture
def layer():
    rng = np.random.default_rng(4)
    return rng.normal(size=(40, 6)), rng.normal(size=(6, 5)), rng.normal(size=(40, 5))


def test_batch_norm_ignores_the_weight_scale(layer):
    x, W, _ = layer
    for a in (0.5, 3.0, 50.0):
        np.testing.assert_allclose(bn_of_linear(x, a * W), bn_of_linear(x, W), atol=1e-4)


def test_weight_gradient_is_orthogonal_and_scales_as_one_over_a(layer):
    x, W, dout = layer
    G = bn_of_linear_weight_gradient(x, W, dout)
    np.testing.assert_allclose(unit_cosines(W, G), 0.0, atol=1e-5)
    np.testing.assert_allclose(bn_of_linear_weight_gradient(x, 4.0 * W, dout), G / 4.0, rtol=1e-4, atol=1e-9)


def test_weight_gradient_matches_finite_differences(layer):
    x, W, dout = layer
    G = bn_of_linear_weight_gradient(x, W, dout)
    h = 1e-6
    for i, j in [(0, 0), (3, 2), (5, 4)]:
        step = np.zeros_like(W)
        step[i, j] = h
        numeric = (np.sum(dout * bn_of_linear(x, W + step)) - np.sum(dout * bn_of_linear(x, W - step))) / (
            2 * h
        )
        assert numeric == pytest.approx(G[i, j], rel=1e-4, abs=1e-8)


def test_angles_and_shape_errors(layer):
    x, W, _ = layer
    np.testing.assert_allclose(angle_turned(W, 7.0 * W), 0.0, atol=1e-7)
    quarter_turn = angle_turned(np.array([[1.0], [0.0]]), np.array([[0.0], [2.0]]))
    assert quarter_turn[0] == pytest.approx(np.pi / 2)
    with pytest.raises(ValueError, match="same shape"):
        unit_cosines(W, W[:, :2])
    with pytest.raises(ValueError, match="matching D_in"):
        bn_of_linear(x, W.T)
