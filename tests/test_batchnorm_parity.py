"""bnlib's BatchNorm against torch.nn.BatchNorm1d/2d in float64, over hundreds of random configurations.

Each configuration draws a layout ((N, D), (N, C, L) or (N, C, H, W)), momentum (including None), affine,
track_running_stats and eps, then runs both layers through the same interleaved sequence of train and eval
calls, with batches of varying size, per-channel offsets and scales. After every call it compares the output,
the gradients (dx from ``backward``, dγ, dβ against autograd), the running buffers and num_batches_tracked.
A call torch rejects must be rejected by bnlib too, with the same message.

The worst errors over the whole run are printed at the end of the module (run with ``-s`` to see them).
"""

import numpy as np
import pytest
import torch

from bnlib.batchnorm import BatchNorm, reduction_axes
from bnlib.layernorm import groupnorm_forward, instancenorm_forward, layernorm_backward, layernorm_forward

NUM_CONFIGS = 300
STEPS_PER_CONFIG = 6
TOLERANCE = 1e-10

# Worst absolute error seen per compared quantity, and counts; filled by the tests, printed at teardown.
WORST = dict.fromkeys(["output", "running_mean", "running_var", "dx", "dgamma", "dbeta"], 0.0)
COUNTS = {"configurations": 0, "train calls": 0, "eval calls": 0, "rejected calls": 0}


@pytest.fixture(scope="module", autouse=True)
def summary():
    # Tiny tensors: one thread avoids thread start-up and spinning costs on a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    print(f"\nBatchNorm parity with torch over {COUNTS['configurations']} configurations ({COUNTS}):")
    for name, error in WORST.items():
        print(f"  worst |bnlib - torch| {name:13s} {error:.3e}")


def record(name, ours, theirs):
    """Compare an array with torch's, remember the worst error, and fail beyond the tolerance."""
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == theirs.shape, name
    error = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    WORST[name] = max(WORST[name], error)
    assert error <= TOLERANCE, f"{name} differs from torch by {error:.3e}"


def random_config(rng):
    ndim = int(rng.integers(2, 5))
    num_features = int(rng.integers(1, 6))
    momentum = [0.1, 0.5, 0.0, 1.0, None, float(rng.uniform(0.01, 0.99))][rng.integers(6)]
    return {
        "ndim": ndim,
        "num_features": num_features,
        "momentum": momentum,
        "affine": bool(rng.integers(2)),
        "track_running_stats": bool(rng.integers(2)),
        "eps": [1e-5, 1e-3, 0.1][rng.integers(3)],
        "offsets": rng.normal(0, 3, num_features),
        "scales": rng.uniform(0.2, 5, num_features),
    }


def random_batch(rng, config):
    """A batch with per-channel offset and scale, so that running statistics have something to track."""
    n = int(rng.integers(1, 7))
    positions = tuple(int(p) for p in rng.integers(1, 5, config["ndim"] - 2))
    shape_line = (1, config["num_features"]) + (1,) * (config["ndim"] - 2)
    x = rng.normal(size=(n, config["num_features"]) + positions)
    return x * config["scales"].reshape(shape_line) + config["offsets"].reshape(shape_line)


def make_layers(rng, config):
    torch_class = torch.nn.BatchNorm2d if config["ndim"] == 4 else torch.nn.BatchNorm1d
    options = {k: config[k] for k in ("eps", "momentum", "affine", "track_running_stats")}
    ours = BatchNorm(config["num_features"], **options)
    theirs = torch_class(config["num_features"], dtype=torch.float64, **options)
    if config["affine"]:
        ours.gamma = rng.normal(1, 0.5, config["num_features"])
        ours.beta = rng.normal(0, 0.5, config["num_features"])
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(ours.gamma))
            theirs.bias.copy_(torch.from_numpy(ours.beta))
    return ours, theirs


def snapshot(layer):
    return (
        None if layer.running_mean is None else layer.running_mean.copy(),
        None if layer.running_var is None else layer.running_var.copy(),
        layer.num_batches_tracked,
    )


def compare_buffers(ours, theirs):
    if theirs.running_mean is None:
        assert ours.running_mean is None and ours.running_var is None and ours.num_batches_tracked is None
        return
    record("running_mean", ours.running_mean, theirs.running_mean)
    record("running_var", ours.running_var, theirs.running_var)
    assert ours.num_batches_tracked == int(theirs.num_batches_tracked)


def run_step(rng, config, ours, theirs, training):
    ours.train(training)
    theirs.train(training)
    x = random_batch(rng, config)
    x_torch = torch.from_numpy(x.copy()).requires_grad_(True)
    counter_before = None if theirs.num_batches_tracked is None else theirs.num_batches_tracked.clone()
    try:
        out_torch = theirs(x_torch)
    except ValueError as torch_error:
        # torch bumps num_batches_tracked before it rejects the batch; bnlib leaves its state untouched.
        if counter_before is not None:
            theirs.num_batches_tracked.copy_(counter_before)
        state = snapshot(ours)
        with pytest.raises(ValueError, match=str(torch_error).split(",")[0]):
            ours(x)
        after = snapshot(ours)
        for before_item, after_item in zip(state, after, strict=True):
            np.testing.assert_array_equal(before_item, after_item)
        COUNTS["rejected calls"] += 1
        return
    out = ours(x)
    record("output", out, out_torch)

    dout = rng.normal(size=x.shape)
    out_torch.backward(torch.from_numpy(dout))
    record("dx", ours.backward(dout), x_torch.grad)
    if config["affine"]:
        record("dgamma", ours.dgamma, theirs.weight.grad)
        record("dbeta", ours.dbeta, theirs.bias.grad)
        theirs.zero_grad()
    compare_buffers(ours, theirs)
    COUNTS["train calls" if training else "eval calls"] += 1


@pytest.mark.parametrize("seed", range(NUM_CONFIGS))
def test_batchnorm_layer_matches_torch(seed):
    rng = np.random.default_rng(seed)
    config = random_config(rng)
    ours, theirs = make_layers(rng, config)
    # Start in training (so eval has something to use), then interleave at random.
    modes = [True] + [bool(m) for m in rng.integers(0, 2, STEPS_PER_CONFIG - 1)]
    for training in modes:
        run_step(rng, config, ours, theirs, training)
    COUNTS["configurations"] += 1


def test_parity_run_covers_every_option():
    """The random configurations above exercise every layout and option (checked, not assumed)."""
    seen = {"ndim": set(), "momentum_none": set(), "affine": set(), "track_running_stats": set()}
    for seed in range(NUM_CONFIGS):
        config = random_config(np.random.default_rng(seed))
        seen["ndim"].add(config["ndim"])
        seen["momentum_none"].add(config["momentum"] is None)
        seen["affine"].add(config["affine"])
        seen["track_running_stats"].add(config["track_running_stats"])
    assert seen == {
        "ndim": {2, 3, 4},
        "momentum_none": {True, False},
        "affine": {True, False},
        "track_running_stats": {True, False},
    }


def test_reduction_axes_are_every_axis_but_the_channel_axis():
    assert reduction_axes(2) == (0,)
    assert reduction_axes(3) == (0, 2)
    assert reduction_axes(4) == (0, 2, 3)


@pytest.mark.parametrize("seed", range(60))
def test_layer_group_instance_norm_match_torch(seed):
    """The contrast norms agree with torch.nn.functional (forward; layer norm also backward)."""
    functional = torch.nn.functional
    rng = np.random.default_rng(1000 + seed)
    ndim = int(rng.integers(2, 5))
    num_groups = int(rng.integers(1, 4))
    shape = (int(rng.integers(2, 5)), num_groups * int(rng.integers(1, 3))) + tuple(
        int(p) for p in rng.integers(2, 5, ndim - 2)
    )
    x = rng.normal(size=shape) * 3 + 1
    gamma, beta = rng.normal(size=shape[1:]), rng.normal(size=shape[1:])

    out, cache = layernorm_forward(x, gamma, beta)
    x_torch, gamma_torch, beta_torch = (torch.from_numpy(a).requires_grad_(True) for a in (x, gamma, beta))
    out_torch = functional.layer_norm(x_torch, shape[1:], gamma_torch, beta_torch, eps=1e-5)
    dout = rng.normal(size=shape)
    out_torch.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, out_torch.detach().numpy(), rtol=0, atol=TOLERANCE)
    for ours, theirs in zip(layernorm_backward(dout, cache), (x_torch, gamma_torch, beta_torch), strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=0, atol=TOLERANCE)

    channel_gamma, channel_beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    group_out, _ = groupnorm_forward(x, num_groups, channel_gamma, channel_beta)
    group_torch = functional.group_norm(
        torch.from_numpy(x), num_groups, torch.from_numpy(channel_gamma), torch.from_numpy(channel_beta)
    )
    np.testing.assert_allclose(group_out, group_torch.numpy(), rtol=0, atol=TOLERANCE)

    if ndim > 2:
        instance_out, _ = instancenorm_forward(x)
        instance_torch = functional.instance_norm(torch.from_numpy(x))
        np.testing.assert_allclose(instance_out, instance_torch.numpy(), rtol=0, atol=TOLERANCE)
