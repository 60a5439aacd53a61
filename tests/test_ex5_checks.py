"""Exercise 5's checks pass correct code however it is written, and name each mistake a learner makes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bnlib import ex5_checks as checks
from bnlib.checks import CheckFailed

forward_rows, backward_rows = checks.exercise_functions()


def hint_of(check, *args) -> str:
    """Run a check that must fail with exactly one hint; return it."""
    with pytest.raises(CheckFailed) as info:
        check(*args)
    result = info.value.result
    assert len(result.hints) == 1, result.feedback
    return result.hints[0]


def to_rows(x):
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def from_rows(rows, shape):
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def spatial_forward(x, gamma, beta, eps):
    out, cache = forward_rows(to_rows(x), gamma, beta, eps)
    return from_rows(out, x.shape), (cache, x.shape)


def spatial_backward(dout, cache):
    cache, shape = cache
    dx, dgamma, dbeta = backward_rows(to_rows(dout), cache)
    return from_rows(dx, shape), dgamma, dbeta


def spatial_forward_torch(x, gamma, beta, eps):
    out = F.batch_norm(
        torch.from_numpy(x),
        None,
        None,
        torch.from_numpy(gamma),
        torch.from_numpy(beta),
        training=True,
        eps=eps,
    )
    return out.numpy(), None


def statistics_forward(axes, ddof=0):
    """Batch or layer norm written directly, with statistics over ``axes`` (a learner's variants)."""

    def forward(x, gamma, beta, eps):
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=ddof)
        shape = (1, -1) + (1,) * (x.ndim - 2) if x.ndim > 2 else (-1,)
        return gamma.reshape(shape) * (x - mean) / np.sqrt(var + eps) + beta.reshape(shape), None

    return forward


def test_correct_spatial_batch_norm_passes_however_written(capsys):
    assert checks.check_spatial_batchnorm_forward(spatial_forward)
    assert checks.check_spatial_batchnorm_forward(spatial_forward_torch)
    assert checks.check_spatial_batchnorm_forward(statistics_forward((0, 2, 3)))
    assert checks.check_spatial_batchnorm_backward(spatial_backward, spatial_forward)
    assert capsys.readouterr().out.count("✔") == 4


def test_spatial_forward_mistakes_get_their_hints():
    def no_transpose(x, gamma, beta, eps):
        out, cache = forward_rows(x.reshape(-1, x.shape[1]), gamma, beta, eps)
        return out.reshape(x.shape), cache

    assert "mixes channels" in hint_of(checks.check_spatial_batchnorm_forward, no_transpose)
    assert "per channel *and position*" in hint_of(
        checks.check_spatial_batchnorm_forward, statistics_forward(0)
    )
    assert "instance norm" in hint_of(checks.check_spatial_batchnorm_forward, statistics_forward((2, 3)))
    assert "unbiased" in hint_of(
        checks.check_spatial_batchnorm_forward, statistics_forward((0, 2, 3), ddof=1)
    )
    swapped = lambda x, g, b, eps: spatial_forward(x, b, g, eps)
    assert "swapped" in hint_of(checks.check_spatial_batchnorm_forward, swapped)


def test_a_4d_array_given_to_exercise_1s_function_is_told_to_reshape():
    with pytest.raises(CheckFailed) as info:
        checks.check_spatial_batchnorm_forward(lambda x, g, b, eps: forward_rows(x, g, b, eps))
    assert "reshape to (N·H·W, C)" in info.value.result.feedback


def test_a_wrong_value_names_the_channel_and_the_position():
    def off_in_channel_1(x, gamma, beta, eps):
        out, cache = spatial_forward(x, gamma, beta, eps)
        out = out.copy()
        out[0, 1, 1, 2] += 1.0
        return out, cache

    with pytest.raises(CheckFailed) as info:
        checks.check_spatial_batchnorm_forward(off_in_channel_1)
    assert "channel(s) [1] of 3" in info.value.result.feedback
    assert "example 0, channel 1, position (1, 2)" in info.value.result.feedback


def test_spatial_backward_mistakes_get_their_hints():
    def no_transpose(dout, cache):
        cache, shape = cache
        dx, dgamma, dbeta = backward_rows(dout.reshape(-1, shape[1]), cache)
        return dx.reshape(shape), dgamma, dbeta

    def missing_term(which):
        def backward(dout, cache):
            (cache, shape), dy = cache, to_rows(dout)
            x_hat, invstd, gamma = cache["x_hat"], cache["invstd"], cache["gamma"]
            dx_hat = dy * gamma
            bracket = dx_hat - (0 if which == "mean" else dx_hat.mean(axis=0))
            if which != "variance":
                bracket = bracket - x_hat * (dx_hat * x_hat).mean(axis=0)
            return from_rows(invstd * bracket, shape), (dy * x_hat).sum(axis=0), dy.sum(axis=0)

        return backward

    check = checks.check_spatial_batchnorm_backward
    assert "transpose(0, 2, 3, 1)" in hint_of(check, no_transpose, spatial_forward)
    assert "through the variance" in hint_of(check, missing_term("variance"), spatial_forward)
    assert "through the mean" in hint_of(check, missing_term("mean"), spatial_forward)


def layer_backward_written(path_axis=1, drop=None):
    """Layer norm backward from a cache of (x_hat, invstd, gamma); ``drop`` leaves a term out."""

    def backward(dout, cache):
        x_hat, invstd, gamma = cache
        dx_hat = dout * gamma
        bracket = dx_hat
        if drop != "mean":
            bracket = bracket - dx_hat.mean(axis=path_axis, keepdims=True)
        if drop != "variance":
            bracket = bracket - x_hat * (dx_hat * x_hat).mean(axis=path_axis, keepdims=True)
        return invstd * bracket, (dout * x_hat).sum(axis=0), dout.sum(axis=0)

    return backward


def layer_forward_written(x, gamma, beta, eps):
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    invstd = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * invstd
    return gamma * x_hat + beta, (x_hat, invstd, gamma)


def test_correct_layer_norm_passes_however_written():
    def torch_forward(x, gamma, beta, eps):
        out = F.layer_norm(
            torch.from_numpy(x), (x.shape[1],), torch.from_numpy(gamma), torch.from_numpy(beta), eps
        )
        return out.numpy(), None

    assert checks.check_layernorm_forward(layer_forward_written)
    assert checks.check_layernorm_forward(torch_forward)
    assert checks.check_layernorm_backward(layer_backward_written(), layer_forward_written)


def test_layer_norm_mistakes_get_their_hints():
    forward_check, backward_check = checks.check_layernorm_forward, checks.check_layernorm_backward
    assert "that is batch norm" in hint_of(forward_check, statistics_forward(0))
    assert "÷(D − 1)" in hint_of(forward_check, statistics_forward(1, ddof=1))

    def eps_outside(x, gamma, beta, eps):
        centred = x - x.mean(axis=1, keepdims=True)
        return gamma * centred / (x.std(axis=1, keepdims=True) + eps) + beta, None

    assert "outside the square root" in hint_of(forward_check, eps_outside)
    assert "variance" in hint_of(
        backward_check, layer_backward_written(drop="variance"), layer_forward_written
    )
    assert "mean" in hint_of(backward_check, layer_backward_written(drop="mean"), layer_forward_written)
    assert "axis 1" in hint_of(backward_check, layer_backward_written(path_axis=0), layer_forward_written)
