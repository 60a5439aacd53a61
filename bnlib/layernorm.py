"""Layer norm, group norm and instance norm: the same standardization as batch norm over other axes.

Which values share one mean and one variance, for x of shape (N, C, H, W):

    batch norm      one statistic per channel c,         over (N, H, W)     -> depends on the other examples
    layer norm      one statistic per example n,         over (C, H, W)     -> each example on its own
    group norm      one per example and group of C/G channels, over (C/G, H, W)
    instance norm   one per example and channel,         over (H, W)        (group norm with G = C)

Layer, group and instance norm never mix examples, so they behave the same in training and at test time,
need no running statistics, and work with a batch of one (which is why recurrent nets and transformers
use layer norm). Results match torch.nn.functional.layer_norm (normalized_shape = x.shape[1:]),
group_norm and instance_norm. ``group_ids`` labels which entries of a tensor share one statistic under
each norm (the axis picker of notebook 03 draws it).
"""

import math

import numpy as np

from bnlib._validation import (
    as_float_array,
    check_batch,
    check_dout,
    check_eps,
    check_param,
    check_positive_int,
    check_shape_2d_or_4d,
)
from bnlib.batchnorm import channel_shape, normalize_over_axes, values_per_channel


def _example_axes(ndim):
    """Axes of one example: every axis but the batch axis 0."""
    return tuple(range(1, ndim))


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer norm forward: normalize each example over all its features.

    x: array of shape (N, D), (N, C, L) or (N, C, H, W).
    gamma, beta: arrays of shape x.shape[1:] (one scale and shift per feature/position, like PyTorch's
    elementwise affine with normalized_shape = x.shape[1:]).
    Returns (out, cache): out has x's shape and dtype; cache["mean"], cache["var"] have shape (N, 1, ...).
    """
    x = as_float_array(x)
    check_batch(x)
    eps = check_eps(eps, positive=True)
    gamma = check_param(gamma, x.shape[1:], "gamma", x.dtype)
    beta = check_param(beta, x.shape[1:], "beta", x.dtype)
    axes = _example_axes(x.ndim)
    cache = normalize_over_axes(x, axes, eps)
    out = cache["x_hat"] * gamma
    out += beta
    cache.update(gamma=gamma, eps=eps, axes=axes)
    return out, cache


def layernorm_backward(dout, cache):
    """Layer norm backward in closed form.

    dout: upstream gradient of the forward output's shape; cache: from ``layernorm_forward``.
    Returns (dx, dgamma, dbeta): dx of x's shape, dgamma and dbeta of shape x.shape[1:].

    Same formula as batch norm's compact backward with the roles of the axes swapped: per example, with
    M values and g = γ·dout (γ now varies inside the normalized group, so it enters before the sums),
        dx = (invstd / M) · (M·g − Σ g − x̂ · Σ (g · x̂)).
    """
    x_hat, invstd, gamma, axes = (cache[k] for k in ("x_hat", "invstd", "gamma", "axes"))
    dout = check_dout(dout, x_hat.shape, x_hat.dtype)
    m = values_per_channel(x_hat.shape, axes)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    g = dout * gamma
    dx = m * g
    dx -= g.sum(axis=axes, keepdims=True)
    dx -= x_hat * (g * x_hat).sum(axis=axes, keepdims=True)
    dx *= invstd / m
    return dx, dgamma, dbeta


def _channel_affine(out, gamma, beta):
    """Apply optional per-channel γ, β of shape (C,) to out of shape (N, C, ...), in place."""
    num_channels = out.shape[1]
    shape = channel_shape(out.ndim, num_channels)
    if gamma is not None:
        out *= check_param(gamma, (num_channels,), "gamma", out.dtype).reshape(shape)
    if beta is not None:
        out += check_param(beta, (num_channels,), "beta", out.dtype).reshape(shape)
    return out


def groupnorm_forward(x, num_groups, gamma=None, beta=None, eps=1e-5):
    """Group norm forward: per example, normalize each group of C / num_groups consecutive channels.

    x: array of shape (N, C), (N, C, L) or (N, C, H, W); num_groups must divide C.
    gamma, beta: optional arrays of shape (C,) (per channel, as in torch.nn.GroupNorm); None means 1 and 0.
    Returns (out, cache): out has x's shape and dtype; cache["mean"], cache["var"] have shape (N, G, 1).
    num_groups=1 is layer norm without affine; num_groups=C is instance norm.
    """
    x = as_float_array(x)
    check_batch(x)
    eps = check_eps(eps, positive=True)
    num_groups = check_positive_int(num_groups, "num_groups")
    num_channels = x.shape[1]
    if num_channels % num_groups:
        divisors = [g for g in range(1, num_channels + 1) if num_channels % g == 0]
        raise ValueError(
            f"num_groups={num_groups} does not divide the {num_channels} channels of x (shape {x.shape}); "
            f"choose one of {divisors}."
        )
    grouped = x.reshape(x.shape[0], num_groups, -1)  # (N, G, C/G · positions)
    cache = normalize_over_axes(grouped, (2,), eps)
    out = _channel_affine(cache["x_hat"].reshape(x.shape).copy(), gamma, beta)
    cache.update(eps=eps, axes=(2,), num_groups=num_groups)
    return out, cache


def instancenorm_forward(x, eps=1e-5):
    """Instance norm forward: per example and channel, normalize over the positions (no affine).

    x: array of shape (N, C, L) or (N, C, H, W) with more than one position.
    Returns (out, cache) as ``groupnorm_forward`` with one channel per group (cache["mean"]: (N, C, 1)).
    """
    x = as_float_array(x)
    check_batch(
        x,
        allowed_ndims=(3, 4),
        hint="instance norm averages over positions (L or H, W); use layer norm for (N, D)",
    )
    positions = math.prod(x.shape[2:])
    if positions == 1:
        raise ValueError(
            f"Expected more than 1 spatial element, got input size {x.shape}: instance norm over one "
            "position is always 0; use a longer sequence / larger image, or layer norm."
        )
    return groupnorm_forward(x, x.shape[1], eps=eps)


# Which entries share one mean and one variance, for the axis picker of notebook 03 (bnlib.panels.axes).

NORMS = ("batch", "layer", "instance", "group")


def group_ids(shape, norm, num_groups=2):
    """Label every entry of a tensor with the statistics group it belongs to.

    shape: (N, D) or (N, C, H, W). norm: "batch", "layer", "instance" (4-D only) or "group".
    num_groups: G for group norm; it must divide the number of channels (features) C.
    Returns an int array of ``shape``: entries with equal labels share one mean and one variance.
    """
    shape = check_shape_2d_or_4d(shape)
    n_idx, c_idx = np.indices(shape)[:2]  # example index and channel index of every entry
    channels = shape[1]
    if norm == "batch":
        return c_idx
    if norm == "layer":
        return n_idx
    if norm == "instance":
        if len(shape) == 2:
            raise ValueError(
                "instance norm needs positions to average over, an (N, C, H, W) input; on (N, D) every "
                "group would hold a single value."
            )
        return n_idx * channels + c_idx
    if norm == "group":
        valid = isinstance(num_groups, int) and not isinstance(num_groups, bool) and num_groups >= 1
        if not valid or channels % num_groups:
            raise ValueError(
                f"num_groups must be a positive divisor of the {channels} channels, got {num_groups!r}."
            )
        return n_idx * num_groups + c_idx // (channels // num_groups)
    raise ValueError(f"unknown norm {norm!r}; choose one of {list(NORMS)}.")


def count_formula(shape, norm, num_groups=2):
    """How many values one group pools, as a learner would write it, e.g. 'N·H·W = 4·3·3 = 36'."""
    shape = check_shape_2d_or_4d(shape)
    sizes = dict(zip(("N", "D") if len(shape) == 2 else ("N", "C", "H", "W"), shape, strict=True))
    channel = "D" if len(shape) == 2 else "C"
    # (symbol, size) factors; group norm pools C/G channels of one example.
    per_group = (f"{channel}/G", f"{shape[1]}/{num_groups}", shape[1] // num_groups)
    factors = {
        "batch": ["N"],
        "layer": [channel],
        "instance": [],
        "group": [per_group],
    }[norm] + (["H", "W"] if len(shape) == 4 else [])
    factors = [f if isinstance(f, tuple) else (f, str(sizes[f]), sizes[f]) for f in factors]
    if len(factors) > 1:  # brackets only where a quotient is multiplied
        factors = [(f"({s})", f"({v})", n) if "/" in s else (s, v, n) for s, v, n in factors]
    count = int(np.prod([n for _, _, n in factors]))
    symbols, values = "·".join(s for s, _, _ in factors), "·".join(v for _, v, _ in factors)
    return f"{symbols} = {count}" if values == str(count) else f"{symbols} = {values} = {count}"
