"""Batch renormalization: numpy forward and backward, the numpy layer and the torch module agree with the
paper's definition, reduce to batch norm with r_max = 1 and d_max = 0, and clip r and d where they must."""

import numpy as np
import pytest

from bnlib import batchnorm_forward
from bnlib.renorm import (
    BatchRenorm,
    batch_renorm_backward,
    batch_renorm_forward,
    relaxed_limits,
    renorm_correction,
    torch_batch_renorm,
)

RNG = np.random.default_rng(0)


def _inputs(shape=(6, 4), scale=3.0, shift=2.0):
    x = RNG.normal(shift, scale, size=shape)
    c = shape[1]
    return x, RNG.normal(1, 0.2, c), RNG.normal(0, 0.2, c), RNG.normal(0, 1, c), RNG.uniform(0.5, 2, c)


@pytest.mark.parametrize("shape", [(6, 4), (5, 3, 7), (4, 2, 3, 3)])
def test_without_clipping_renorm_equals_normalizing_with_the_running_statistics(shape):
    x, gamma, beta, mu, sigma = _inputs(shape)
    out, _ = batch_renorm_forward(x, gamma, beta, mu, sigma, r_max=1e6, d_max=1e6)
    view = (1, -1) + (1,) * (x.ndim - 2)
    expected = gamma.reshape(view) * (x - mu.reshape(view)) / sigma.reshape(view) + beta.reshape(view)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_with_r_max_one_and_d_max_zero_renorm_is_batch_norm():
    x, gamma, beta, mu, sigma = _inputs((8, 5))
    out, cache = batch_renorm_forward(x, gamma, beta, mu, sigma, r_max=1.0, d_max=0.0)
    np.testing.assert_allclose(out, batchnorm_forward(x, gamma, beta)[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(cache["r"], 1.0)
    np.testing.assert_array_equal(cache["d"], 0.0)


def test_r_and_d_are_clipped_to_their_limits():
    batch_mean, batch_std = np.array([10.0, -10.0, 0.1]), np.array([100.0, 0.001, 1.2])
    r, d = renorm_correction(batch_mean, batch_std, np.zeros(3), np.ones(3), r_max=3.0, d_max=5.0)
    np.testing.assert_allclose(r, [3.0, 1 / 3, 1.2])
    np.testing.assert_allclose(d, [5.0, -5.0, 0.1])


def test_backward_matches_torch_autograd_with_r_and_d_held_constant():
    torch = pytest.importorskip("torch")
    x, gamma, beta, mu, sigma = _inputs((7, 3), scale=5.0, shift=4.0)  # far from (mu, sigma): clipping active
    out, cache = batch_renorm_forward(x, gamma, beta, mu, sigma, r_max=1.5, d_max=0.5)
    assert np.any(cache["r"] == 1.5) or np.any(cache["d"] == 0.5), "the test should exercise the clipping"
    dout = RNG.normal(size=out.shape)
    dx, dgamma, dbeta = batch_renorm_backward(dout, cache)

    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    mean, std = xt.mean(0), torch.sqrt(xt.var(0, unbiased=False) + 1e-5)
    r, d = torch.tensor(cache["r"]), torch.tensor(cache["d"])
    out_t = gt * ((xt - mean) / std * r + d) + bt
    np.testing.assert_allclose(out_t.detach().numpy(), out, rtol=1e-12)
    out_t.backward(torch.tensor(dout))
    for ours, theirs in ((dx, xt), (dgamma, gt), (dbeta, bt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_numpy_layer_updates_running_mean_and_std_and_uses_them_in_eval():
    layer = BatchRenorm(3, momentum=0.5)
    x = RNG.normal(4.0, 2.0, size=(10, 3))
    layer(x)
    batch_std = np.sqrt(x.var(0) + layer.eps)
    np.testing.assert_allclose(layer.running_mean, 0.5 * x.mean(0))
    np.testing.assert_allclose(layer.running_std, 0.5 + 0.5 * batch_std)
    out = layer.eval()(x)
    np.testing.assert_allclose(out, (x - layer.running_mean) / layer.running_std)
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_allclose(dx, np.ones_like(x) / layer.running_std)


def test_torch_module_matches_numpy_layer_over_several_steps():
    torch = pytest.importorskip("torch")
    numpy_layer, torch_layer = (
        BatchRenorm(4, r_max=2.0, d_max=1.0, momentum=0.2),
        torch_batch_renorm(4, r_max=2.0, d_max=1.0, momentum=0.2),
    )
    torch_layer.double()
    for step in range(5):
        x = RNG.normal(step, 1 + step, size=(6, 4))
        np.testing.assert_allclose(
            torch_layer(torch.tensor(x)).detach().numpy(), numpy_layer(x), rtol=1e-10, atol=1e-12
        )
    np.testing.assert_allclose(torch_layer.running_mean.numpy(), numpy_layer.running_mean, rtol=1e-12)
    np.testing.assert_allclose(torch_layer.running_std.numpy(), numpy_layer.running_std, rtol=1e-12)
    torch_layer.eval(), numpy_layer.eval()
    x = RNG.normal(size=(1, 4))  # a single example works at test time
    np.testing.assert_allclose(torch_layer(torch.tensor(x)).detach().numpy(), numpy_layer(x), rtol=1e-10)


def test_torch_module_follows_the_relaxation_schedule():
    torch = pytest.importorskip("torch")
    layer = torch_batch_renorm(2, r_max=3.0, d_max=5.0, warmup_steps=2, ramp_steps=4)
    bn = torch.nn.BatchNorm1d(2)
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(0)) * 10 + 3
    # During warm-up the module is batch norm, whatever its running statistics say.
    torch.testing.assert_close(layer(x), bn(x))
    assert relaxed_limits(0, 3.0, 5.0, 2, 4) == (1.0, 0.0)
    assert relaxed_limits(4, 3.0, 5.0, 2, 4) == (2.0, 2.5)
    assert relaxed_limits(100, 3.0, 5.0, 2, 4) == (3.0, 5.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"r_max": 0.5}, "r_max must be at least 1"), ({"d_max": -1.0}, "d_max must be >= 0")],
)
def test_bad_limits_raise_a_clear_error(kwargs, match):
    x, gamma, beta, mu, sigma = _inputs()
    with pytest.raises(ValueError, match=match):
        batch_renorm_forward(x, gamma, beta, mu, sigma, **kwargs)
    with pytest.raises(ValueError, match=match):
        BatchRenorm(4, **kwargs)


def test_bad_running_statistics_raise_a_clear_error():
    x, gamma, beta, mu, _ = _inputs()
    with pytest.raises(ValueError, match="running_std must be positive"):
        batch_renorm_forward(x, gamma, beta, mu, np.zeros(4))
    with pytest.raises(ValueError, match=r"running_mean has shape \(3,\)"):
        batch_renorm_forward(x, gamma, beta, mu[:3], np.ones(4))


def test_importing_renorm_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, bnlib.renorm; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
