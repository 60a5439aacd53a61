"""Input checks shared by bnlib's modules (normalization layers, toy data, gradient descent).

Every check raises a ``ValueError`` or ``TypeError`` whose message names the problem and says how to fix
it, so that a learner never has to decode a numpy broadcasting traceback. The checks only look at their
arguments; they never change any state, which is what lets a layer validate everything first and update
its running statistics only afterwards.
"""

import math
import numbers

import numpy as np

# The layouts batch norm understands, by number of dimensions.
LAYOUTS = {2: "(N, D)", 3: "(N, C, L)", 4: "(N, C, H, W)"}


def as_float_array(x, name="x"):
    """Return ``x`` as a floating-point numpy array (no copy when it already is one).

    Raises TypeError for integer, boolean, complex or non-numeric data: normalizing needs real floats, and
    silently converting would hide that the output dtype is the input dtype.
    """
    array = np.asarray(x)
    if array.dtype.kind != "f":
        kind = {"i": "integer", "u": "unsigned integer", "b": "boolean", "c": "complex"}.get(
            array.dtype.kind, "non-numeric"
        )
        hint = (
            "take the real part or magnitude first"
            if array.dtype.kind == "c"
            else f"convert with {name}.astype(np.float64) (or np.float32)"
        )
        raise TypeError(f"{name} has {kind} dtype {array.dtype}; normalization needs floats: {hint}.")
    return array


def check_batch(x, allowed_ndims=tuple(LAYOUTS), name="x", hint=None):
    """Check the layout of a batch: number of dimensions and no empty axis.

    x: floating array whose first axis is the batch axis. hint: what to do when the number of dimensions
    is wrong (a default suits batch norm).
    """
    if x.ndim not in allowed_ndims:
        layouts = " or ".join(LAYOUTS.get(n, f"{n}-D") for n in allowed_ndims)
        if hint is None:
            hint = (
                f"for a single example of shape {x.shape} add the batch axis with {name}[None]"
                if x.ndim == min(allowed_ndims) - 1
                else "reshape it to one of these layouts"
            )
        raise ValueError(f"{name} is {x.ndim}-D (shape {x.shape}); expected {layouts}: {hint}.")
    if x.shape[0] == 0:
        raise ValueError(
            f"empty batch: {name} has shape {x.shape} with 0 examples; pass at least one example."
        )
    if x.size == 0:
        raise ValueError(
            f"{name} has shape {x.shape} with an empty axis; every axis needs at least one entry."
        )


def check_num_features(x, num_features):
    """Check that x carries ``num_features`` features/channels on axis 1 (the layer's size)."""
    if x.shape[1] == num_features:
        return
    if x.ndim > 2 and x.shape[-1] == num_features:  # an image or sequence stored channels-last
        order = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))
        fix = f"x.transpose{order} moves channels from the last axis to axis 1"
    else:
        fix = f"pass channels on axis 1 or build BatchNorm({x.shape[1]})"
    raise ValueError(
        f"x has {x.shape[1]} features/channels on axis 1 (shape {x.shape}) but this layer was built with "
        f"num_features={num_features}; {fix}."
    )


def check_param(value, shape, name, dtype):
    """Check a learnable parameter (γ or β) against the shape it must have; return it in ``dtype``.

    Casting to the input's dtype keeps float32 in -> float32 out even when the parameter is float64.
    """
    array = as_float_array(value, name)
    if array.shape != shape:
        raise ValueError(
            f"{name} has shape {array.shape} but must have shape {shape} (one entry per normalized "
            f"feature/channel); create it with np.ones({shape}) for gamma or np.zeros({shape}) for beta."
        )
    return array.astype(dtype, copy=False)


def check_eps(eps, positive=False):
    """Check the variance offset eps: a finite real number, >= 0 (> 0 when ``positive``).

    With batch statistics a constant channel has variance 0, so eps must be positive there (PyTorch has the
    same rule); with fixed running statistics eps = 0 is allowed.
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps):
        raise TypeError(f"eps must be a finite real number such as 1e-5, got {eps!r}.")
    if eps < 0 or (positive and eps == 0):
        bound = "positive" if positive else "non-negative"
        raise ValueError(
            f"eps must be {bound}, got {eps!r}: it keeps the division by sqrt(var + eps) finite for a "
            "constant feature; use a small positive value such as eps=1e-5."
        )
    return float(eps)


def check_momentum(momentum):
    """Check the running-average momentum: None (cumulative average) or a number in [0, 1]."""
    if momentum is None:
        return None
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
        raise TypeError(f"momentum must be a number in [0, 1] or None, got {momentum!r}.")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(
            f"momentum must lie in [0, 1], got {momentum!r}: it is the weight of the new batch in "
            "running = (1 - momentum) * running + momentum * batch; use e.g. momentum=0.1, or None for a "
            "cumulative average."
        )
    return float(momentum)


def check_positive_int(value, name):
    """Check a count such as num_features or num_groups."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_more_than_one_value(x, axes, name="x"):
    """Training needs more than one value per channel, else the batch variance is 0 by construction.

    Same condition and wording as PyTorch's "Expected more than 1 value per channel when training".
    """
    values_per_channel = math.prod(x.shape[axis] for axis in axes)
    if values_per_channel == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {x.shape}: batch "
            "statistics of a single value are meaningless (the variance is 0). Pass a batch with N > 1, or "
            "call layer.eval() to use the running statistics for a single example."
        )


def raise_for_nonfinite(x, axes, name="x"):
    """Raise a ValueError naming the features/channels of ``x`` that hold NaN or inf.

    Called when a statistic came out non-finite: either the input holds NaN/inf (say where), or the input is
    finite but too large for its dtype (the sum or the squares overflowed).
    """
    bad = np.flatnonzero(~np.isfinite(x).all(axis=axes))
    unit = "feature" if x.ndim == 2 else "channel"
    if bad.size:
        listed = ", ".join(str(i) for i in bad[:10]) + (", ..." if bad.size > 10 else "")
        raise ValueError(
            f"{name} contains NaN or inf in {unit}(s) {listed}; remove or impute those values "
            f"(e.g. check np.isfinite({name}).all(axis={axes})) before normalizing."
        )
    raise ValueError(
        f"{name} is finite but its statistics overflow {x.dtype} (values up to {np.abs(x).max():.3g}); "
        f"convert with {name}.astype(np.float64) or rescale the input."
    )


def check_dout(dout, shape, dtype):
    """Check an upstream gradient against the shape of the forward output it belongs to."""
    dout = as_float_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(
            f"dout has shape {dout.shape} but the forward output had shape {shape}; pass the gradient of "
            "the loss with respect to that output (same shape), from the matching forward call."
        )
    return dout.astype(dtype, copy=False)


def check_choice(unit, allowed: dict, name: str):
    """Look ``unit`` up in ``allowed`` (a dict of the accepted names); an unknown name lists the choices."""
    if unit not in allowed:
        raise ValueError(f"unknown {name} {unit!r}; choose one of {', '.join(map(repr, allowed))}.")
    return allowed[unit]


def check_finite_real(value, name: str) -> float:
    """Check a finite real number (not a bool) and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite real number, got {value!r}.")
    return float(value)


def check_lr(lr) -> float:
    """Check a gradient-descent learning rate η: a positive finite number."""
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}.")
    return float(lr)


def check_descent_momentum(momentum) -> float:
    """Check heavy-ball momentum β of gradient descent (not the running-average momentum): in [0, 1)."""
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0.0 <= momentum < 1.0:
        raise ValueError(
            f"momentum must lie in [0, 1), got {momentum!r}: it is the fraction of the previous step kept in "
            "the next one (0 is plain gradient descent; 0.9 is a common choice)."
        )
    return float(momentum)


def check_step_count(steps, name="steps") -> int:
    """Check a number of descent steps: a non-negative integer."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"{name} must be a non-negative integer number of steps, got {steps!r}.")
    return int(steps)


def check_shape_2d_or_4d(shape):
    """Check a tensor shape (not a tensor): (N, D) or (N, C, H, W) with positive sizes; return it as ints."""
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 4) or min(shape) < 1:
        raise ValueError(f"shape must be (N, D) or (N, C, H, W) with positive sizes, got {shape}.")
    return shape


def check_spread(spread: np.ndarray, what: str) -> None:
    """Check that no feature of a fitted transform is constant: every entry of ``spread`` (d,) is above 0.

    what names the spread in the message ("standard deviation", "range max − min").
    """
    constant = np.flatnonzero(spread <= 0)
    if constant.size:
        columns = ", ".join(str(i) for i in constant)
        raise ValueError(
            f"feature(s) {columns} are constant ({what} 0), so dividing by the {what} is undefined; "
            "drop the constant feature(s) — they carry no information — or only center them."
        )


def check_matmul_shapes(x, W):
    """Check the input x (N, D_in) and weight W (D_in, D) of a product x·W; return both as float arrays."""
    x, W = np.asarray(x, dtype=float), np.asarray(W, dtype=float)
    if x.ndim != 2 or W.ndim != 2 or x.shape[1] != W.shape[0]:
        raise ValueError(
            f"need x of shape (N, D_in) and W of shape (D_in, D) with matching D_in, got {x.shape} and {W.shape}."
        )
    return x, W


def check_renorm_limits(r_max, d_max):
    """Check the clipping limits: r_max >= 1 (r lies in [1/r_max, r_max]) and d_max >= 0; return floats."""
    for name, value in (("r_max", r_max), ("d_max", d_max)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise TypeError(f"{name} must be a finite real number, got {value!r}.")
    if r_max < 1:
        raise ValueError(
            f"r_max must be at least 1, got {r_max}: r is clipped to [1/r_max, r_max], an empty interval "
            "below 1. Use r_max=1 for plain batch norm, or e.g. r_max=3."
        )
    if d_max < 0:
        raise ValueError(
            f"d_max must be >= 0, got {d_max}: d is clipped to [-d_max, d_max]. Use 0 or e.g. 5."
        )
    return float(r_max), float(d_max)
