"""Batch renormalization (Ioffe, 2017, arXiv 1702.03275): batch norm that trains on what it will test with.

Batch norm normalizes with the batch's mean and std in training and with running averages at test time.
With small or non-i.i.d. batches the two differ, and the network is tested on a function it never trained.
Batch renormalization corrects the batch statistics toward the running ones inside training, per channel:

    σ_B = sqrt(var_B + eps)                              (batch std, biased variance, as batch norm)
    r   = clip(σ_B / σ,        1/r_max, r_max)           (treated as a constant: no gradient flows into r, d)
    d   = clip((μ_B − μ) / σ,  −d_max,  d_max)
    x̂   = (x − μ_B) / σ_B · r + d
    out = γ x̂ + β
    μ  ← μ + momentum·(μ_B − μ),   σ ← σ + momentum·(σ_B − σ)    (the running mean and std)

Without clipping, x̂ = (x − μ) / σ exactly: the test-time normalization. With r_max = 1 and d_max = 0 it is
batch norm. The paper starts at r_max = 1, d_max = 0 and relaxes them to 3 and 5 (``relaxed_limits``).
At test time: out = γ (x − μ) / σ + β, as batch norm with running statistics.

Here: ``batch_renorm_forward`` / ``batch_renorm_backward`` (numpy), the numpy layer ``BatchRenorm``, and
``torch_batch_renorm`` (an nn.Module for the torch experiments; torch is imported only when it is called).

Explained in notebooks/08_bn_in_practice.ipynb, section "Small batches".
"""

from __future__ import annotations

import functools

import numpy as np

from bnlib._validation import (
    as_float_array,
    check_batch,
    check_dout,
    check_eps,
    check_momentum,
    check_param,
    check_positive_int,
    check_renorm_limits,
)
from bnlib.batchnorm import batchnorm_backward_compact, batchnorm_forward, channel_shape, reduction_axes


def relaxed_limits(step, r_max=3.0, d_max=5.0, warmup_steps=0, ramp_steps=0):
    """The paper's schedule: (1, 0) — plain batch norm — for ``warmup_steps``, then linear to (r_max, d_max)
    over ``ramp_steps`` steps, then constant. step counts from 0. Returns (r_max_now, d_max_now)."""
    r_max, d_max = check_renorm_limits(r_max, d_max)
    if step < warmup_steps:
        return 1.0, 0.0
    progress = 1.0 if ramp_steps <= 0 else min(1.0, (step - warmup_steps) / ramp_steps)
    return 1.0 + progress * (r_max - 1.0), progress * d_max


def renorm_correction(batch_mean, batch_std, running_mean, running_std, r_max, d_max):
    """r = clip(σ_B/σ, 1/r_max, r_max) and d = clip((μ_B − μ)/σ, −d_max, d_max), per channel (arrays)."""
    r = np.clip(batch_std / running_std, 1.0 / r_max, r_max)
    d = np.clip((batch_mean - running_mean) / running_std, -d_max, d_max)
    return r, d


def batch_renorm_forward(x, gamma, beta, running_mean, running_std, r_max=3.0, d_max=5.0, eps=1e-5):
    """Batch renormalization forward pass (training mode); does not change the running statistics.

    x: array of shape (N, D), (N, C, L) or (N, C, H, W).
    gamma, beta, running_mean, running_std: arrays of shape (D,) or (C,); running_std > 0.
    r_max >= 1, d_max >= 0: the clipping limits of r and d.
    Returns (out, cache): out has x's shape; cache["r"], cache["d"] (shape (C,)) are the corrections used,
    cache["mean"], cache["std"] (shape (C,)) the batch statistics, cache["x_renorm"] the renormalized x̂.
    """
    x = as_float_array(x)
    check_batch(x)
    # Batch norm's graph with γ = 1, β = 0 gives x̂ = (x − μ_B) / σ_B and validates x and eps.
    _, cache = batchnorm_forward(x, np.ones(x.shape[1]), np.zeros(x.shape[1]), eps)
    r_max, d_max = check_renorm_limits(r_max, d_max)
    shape = channel_shape(x.ndim, x.shape[1])
    gamma, beta = (
        check_param(p, (x.shape[1],), name, x.dtype).reshape(shape)
        for p, name in ((gamma, "gamma"), (beta, "beta"))
    )
    running_mean, running_std = _running_stats(x, running_mean, running_std)

    batch_mean = cache["mean"].reshape(-1)
    batch_std = np.sqrt(cache["var"].reshape(-1) + cache["eps"])
    r, d = renorm_correction(batch_mean, batch_std, running_mean, running_std, r_max, d_max)
    x_renorm = cache["x_hat"] * r.reshape(shape) + d.reshape(shape)
    out = x_renorm * gamma + beta
    cache.update(gamma=gamma, r=r, d=d, std=batch_std, x_renorm=x_renorm)
    cache["mean"] = batch_mean
    return out, cache


def batch_renorm_backward(dout, cache):
    """Backward pass of ``batch_renorm_forward``, with r and d held constant (as the paper prescribes).

    out = γ (x̂·r + d) + β is batch norm with γ·r in place of γ, so dx is batch norm's dx with that scale;
    dγ = Σ dout · x̂_renorm, dβ = Σ dout. Returns (dx, dgamma, dbeta) with the shapes of x, γ, β.
    """
    x_hat = cache["x_hat"]
    scaled = dict(cache, gamma=cache["gamma"] * cache["r"].reshape(channel_shape(x_hat.ndim, x_hat.shape[1])))
    dx, _, dbeta = batchnorm_backward_compact(dout, scaled)
    dgamma = (check_dout(dout, x_hat.shape, x_hat.dtype) * cache["x_renorm"]).sum(axis=cache["axes"])
    return dx, dgamma, dbeta


def _running_stats(x, running_mean, running_std):
    """Check the running mean and std against x's channels; return them as arrays of x's dtype."""
    num_channels = x.shape[1]
    arrays = []
    for name, value in (("running_mean", running_mean), ("running_std", running_std)):
        array = np.asarray(value, dtype=x.dtype)
        if array.shape != (num_channels,):
            raise ValueError(
                f"{name} has shape {array.shape} but x has {num_channels} channels; pass an array of shape "
                f"({num_channels},) (start from zeros for the mean and ones for the std)."
            )
        arrays.append(array)
    if not np.all(arrays[1] > 0):
        raise ValueError("running_std must be positive in every channel (it divides); start from ones.")
    return arrays


class BatchRenorm:
    """Batch renormalization layer in numpy, with running mean and std, ``train()``/``eval()`` and backward.

    Works for inputs of shape (N, D), (N, C, L) or (N, C, H, W); num_features is D or C. In training it
    normalizes with ``batch_renorm_forward`` and then moves ``running_mean`` and ``running_std`` toward the
    batch's μ_B and σ_B by ``momentum``; in eval mode it computes γ (x − running_mean) / running_std + β.
    ``r_max``/``d_max`` may be changed between steps (e.g. following ``relaxed_limits``).
    After a training forward, ``last_r`` and ``last_d`` hold the corrections used.
    """

    def __init__(self, num_features, r_max=3.0, d_max=5.0, momentum=0.01, eps=1e-5):
        self.num_features = check_positive_int(num_features, "num_features")
        self.r_max, self.d_max = check_renorm_limits(r_max, d_max)
        self.momentum = check_momentum(momentum)
        if self.momentum is None:
            raise ValueError(
                "momentum=None (cumulative average) is not defined for batch renorm; use e.g. 0.01."
            )
        self.eps = check_eps(eps, positive=True)
        self.gamma = np.ones(self.num_features)
        self.beta = np.zeros(self.num_features)
        self.running_mean = np.zeros(self.num_features)
        self.running_std = np.ones(self.num_features)
        self.training = True
        self.last_r = self.last_d = None
        self.dgamma = self.dbeta = None
        self._cache = None

    def train(self, mode=True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        """Normalize x of shape (N, C, ...); returns an array of x's shape."""
        x = as_float_array(x)
        if x.ndim not in (2, 3, 4) or x.shape[1] != self.num_features:
            raise ValueError(
                f"x has shape {x.shape}; this layer expects (N, {self.num_features}) or (N, "
                f"{self.num_features}, ...) with the channels on axis 1 (or build BatchRenorm(channels))."
            )
        if not self.training:
            # Test time: the fixed affine map γ (x − μ) / σ + β, valid for a single example.
            shape = channel_shape(x.ndim, x.shape[1])
            x_hat = (x - self.running_mean.reshape(shape)) / self.running_std.reshape(shape)
            self._cache = {"mode": "fixed", "x_hat": x_hat, "shape": shape, "axes": reduction_axes(x.ndim)}
            return x_hat * self.gamma.reshape(shape) + self.beta.reshape(shape)
        r_max, d_max = check_renorm_limits(self.r_max, self.d_max)
        out, cache = batch_renorm_forward(
            x, self.gamma, self.beta, self.running_mean, self.running_std, r_max, d_max, self.eps
        )
        self.last_r, self.last_d = cache["r"], cache["d"]
        self.running_mean = self.running_mean + self.momentum * (cache["mean"] - self.running_mean)
        self.running_std = self.running_std + self.momentum * (cache["std"] - self.running_std)
        self._cache = dict(cache, mode="batch")
        return out

    def backward(self, dout):
        """dL/dx for the last forward; sets ``dgamma`` and ``dbeta``."""
        if self._cache is None:
            raise RuntimeError(
                "backward needs a forward pass first: call layer(x) before layer.backward(dout)."
            )
        if self._cache["mode"] == "batch":
            dx, self.dgamma, self.dbeta = batch_renorm_backward(dout, self._cache)
        else:
            cache = self._cache
            dout = check_dout(dout, cache["x_hat"].shape, cache["x_hat"].dtype)
            dx = dout * (self.gamma / self.running_std).reshape(cache["shape"])
            self.dgamma = (dout * cache["x_hat"]).sum(axis=cache["axes"])
            self.dbeta = dout.sum(axis=cache["axes"])
        return dx


@functools.cache
def _torch_batch_renorm_class():
    """The nn.Module class, built on first use so that importing bnlib never imports torch."""
    import torch
    from torch import nn

    class BatchRenorm1d(nn.Module):
        """Batch renormalization for (N, C) or (N, C, L) tensors, a drop-in for nn.BatchNorm1d in training
        experiments. Buffers: running_mean, running_std, num_batches_tracked. The clipping limits follow
        ``relaxed_limits(num_batches_tracked, r_max, d_max, warmup_steps, ramp_steps)``."""

        def __init__(
            self, num_features, r_max=3.0, d_max=5.0, momentum=0.01, eps=1e-5, warmup_steps=0, ramp_steps=0
        ):
            super().__init__()
            self.num_features = check_positive_int(num_features, "num_features")
            self.r_max, self.d_max = check_renorm_limits(r_max, d_max)
            self.momentum = check_momentum(momentum)
            if self.momentum is None:
                raise ValueError("momentum=None is not defined for batch renorm; use e.g. 0.01.")
            self.eps = check_eps(eps, positive=True)
            self.warmup_steps, self.ramp_steps = int(warmup_steps), int(ramp_steps)
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_std", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

        def extra_repr(self):
            return f"{self.num_features}, r_max={self.r_max}, d_max={self.d_max}, momentum={self.momentum}"

        def forward(self, x):
            if x.dim() not in (2, 3) or x.shape[1] != self.num_features:
                raise ValueError(
                    f"expected input of shape (N, {self.num_features}) or (N, {self.num_features}, L), got "
                    f"{tuple(x.shape)}; for an LSTM's (N, L, C) output use x.permute(0, 2, 1)."
                )
            shape = (1, -1) + (1,) * (x.dim() - 2)
            if not self.training:
                x_hat = (x - self.running_mean.view(shape)) / self.running_std.view(shape)
            else:
                axes = [0] + list(range(2, x.dim()))
                if x.numel() // x.shape[1] < 2:
                    raise ValueError(
                        f"Expected more than 1 value per channel when training, got {tuple(x.shape)}."
                    )
                var, mean = torch.var_mean(x, dim=axes, unbiased=False)
                std = torch.sqrt(var + self.eps)
                r_max, d_max = relaxed_limits(
                    int(self.num_batches_tracked), self.r_max, self.d_max, self.warmup_steps, self.ramp_steps
                )
                with torch.no_grad():  # r and d are constants for the gradient
                    r = (std / self.running_std).clamp(1.0 / r_max, r_max)
                    d = ((mean - self.running_mean) / self.running_std).clamp(-d_max, d_max)
                    self.running_mean += self.momentum * (mean - self.running_mean)
                    self.running_std += self.momentum * (std - self.running_std)
                    self.num_batches_tracked += 1
                # γ ((x − μ_B)/σ_B · r + d) + β as one per-channel scale and shift: two passes over x, not six.
                scale = self.weight * r / std
                shift = self.bias + self.weight * d - mean * scale
                return x * scale.view(shape) + shift.view(shape)
            return x_hat * self.weight.view(shape) + self.bias.view(shape)

    return BatchRenorm1d


def torch_batch_renorm(
    num_features, r_max=3.0, d_max=5.0, momentum=0.01, eps=1e-5, warmup_steps=0, ramp_steps=0
):
    """A torch nn.Module doing batch renormalization on (N, C) or (N, C, L) tensors.

    Use it where nn.BatchNorm1d would go, e.g. ``make_mlp(..., norm=torch_batch_renorm)`` (the ``norm``
    callable takes the width). The running statistics are updated inside training forward passes.
    """
    return _torch_batch_renorm_class()(num_features, r_max, d_max, momentum, eps, warmup_steps, ramp_steps)
