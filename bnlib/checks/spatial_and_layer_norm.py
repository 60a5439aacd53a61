"""Exercise 5 (ex5_spatial_and_layer_norm): spatial batch norm built from exercises 1 and 2 by a reshape, and
layer norm, forward and backward.

    spatial batch norm   x (N, C, H, W): one mean and variance per channel over (N, H, W) — exercise 1's
                         batch norm on the (N·H·W, C) rows of x with its channels moved last
    layer norm           x (N, D): one mean and variance per example over its D features

The references are bnlib's (``batchnorm_forward`` takes (N, C, H, W) itself; ``layernorm_forward``); the
known mistakes are simulated in float64 by :func:`norm_forward_variant` and :func:`norm_backward_variant`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bnlib.checks.backward import backward_check
from bnlib.checks.calling import call_learner, changed_in_place
from bnlib.checks.engine import (
    FLOAT32_TOL,
    FLOAT64_TOL,
    Check,
    CheckResult,
    Got,
    Mistake,
    Output,
    Tolerance,
    Variation,
    run_check,
)
from bnlib.checks.reading import unpack

# ---------------------------------------------------------------------------------------------------------
# Exercise 1's and 2's functions, for (N, D) rows only


def rows_only(fn: Callable, name: str) -> Callable:
    """``fn`` restricted to (N, D) input, as exercises 1 and 2 wrote it: anything else gets a clear error.

    bnlib's own batch norm also accepts (N, C, H, W); the exercise is to get there by a reshape.
    """

    def restricted(first, *args, **kwargs):
        if np.ndim(first) != 2:
            raise ValueError(
                f"{name} takes rows of shape (N, D), as in exercises 1 and 2, got shape {np.shape(first)}: "
                "move the channels last and reshape to (N·H·W, C) first."
            )
        return fn(first, *args, **kwargs)

    restricted.__name__ = name
    return restricted


def exercise_functions() -> tuple[Callable, Callable]:
    """(batchnorm_forward, batchnorm_backward) of exercises 1 and 2: bnlib's, restricted to (N, D) rows."""
    from bnlib.batchnorm import batchnorm_backward_compact, batchnorm_forward

    return (
        rows_only(batchnorm_forward, "batchnorm_forward"),
        rows_only(batchnorm_backward_compact, "batchnorm_backward"),
    )


# ---------------------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class NormCase:
    """x (N, C, H, W) with γ, β of shape (C,), or x (N, D) with γ, β of shape (D,); dout of x's shape."""

    label: str
    x: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    dout: np.ndarray
    eps: float = 1e-5
    large_offset: bool = False
    varies: Variation | None = None

    @property
    def tol(self) -> Tolerance:
        return FLOAT32_TOL if self.x.dtype == np.float32 else FLOAT64_TOL

    @property
    def batch_shape(self) -> tuple:
        return self.x.shape

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype


def _cases(rng, shapes: dict, constant_label: str, constant_index) -> list[NormCase]:
    """The notebook-like case first, the same with eps = 0.1, then one example, a large offset, float32 and
    a constant slice (``constant_index`` of x set to one value)."""

    def make(label, shape, loc, scale, dtype=np.float64, **extra):
        width = shape[1]
        return NormCase(
            label,
            (loc + scale * rng.standard_normal(shape)).astype(dtype),
            rng.uniform(0.5, 2.0, width).astype(dtype),
            rng.uniform(-1.0, 1.0, width).astype(dtype),
            rng.standard_normal(shape).astype(dtype),
            **extra,
        )

    ordinary = make(*shapes["ordinary"])
    other_eps = dataclasses.replace(
        ordinary,
        label="the same input with eps = 0.1",
        eps=0.1,
        varies=Variation("eps", ordinary.label, 1e-5, 0.1),
    )
    constant = make(constant_label, shapes["constant"], 1.0, 2.0)
    constant.x[constant_index] = -3.0  # one value throughout: only eps keeps the division finite
    return [
        ordinary,
        other_eps,
        make(*shapes["one example"]),
        make(*shapes["large offset"], large_offset=True),
        make(*shapes["float32"], dtype=np.float32),
        constant,
    ]


def spatial_cases(seed: int = 0) -> list[NormCase]:
    """Image-shaped cases: N, C, H, W all different (so a wrong axis shows), one example, awkward values."""
    shapes = {
        "ordinary": ("ordinary maps, (N, C, H, W) = (4, 3, 2, 5)", (4, 3, 2, 5), 2.0, 1.5),
        "one example": (
            "one example, (1, 2, 3, 4): its H·W positions are the batch",
            (1, 2, 3, 4),
            -1.0,
            2.0,
        ),
        "large offset": ("large offset, x ≈ 1e4 with std 1e-2", (2, 3, 3, 2), 1e4, 1e-2),
        "float32": ("float32 maps", (5, 2, 3, 3), 0.5, 3.0),
        "constant": (3, 3, 2, 2),
    }
    return _cases(np.random.default_rng(seed), shapes, "a constant channel (variance 0)", (slice(None), 2))


def layer_cases(seed: int = 0) -> list[NormCase]:
    """(N, D) cases with N ≠ D: a single example, and an example whose features are all equal."""
    shapes = {
        # A small spread, so that eps placed wrongly shows on the first case.
        "ordinary": ("ordinary batch, N=6, D=4", (6, 4), 3.0, 0.1),
        "one example": ("one example, N=1", (1, 5), -1.0, 1.5),
        "large offset": ("large offset, x ≈ 1e4 with std 1e-2", (4, 3), 1e4, 1e-2),
        "float32": ("float32 inputs", (8, 6), 2.0, 3.0),
        "constant": (3, 5),
    }
    return _cases(np.random.default_rng(seed), shapes, "a constant example (variance 0)", 1)


# ---------------------------------------------------------------------------------------------------------
# References and known mistakes

SPATIAL_AXES, LAYER_AXES = (0, 2, 3), 1


def _along_axis_1(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-channel (or per-feature) vector shaped to broadcast along axis 1 of an ndim-array."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def norm_forward_variant(case: NormCase, axes, *, ddof=0, eps_inside=True, swap=False, no_transpose=False):
    """out = γ·x̂ + β in float64, statistics over ``axes``, with one deliberate change.

    no_transpose: the classic reshape bug, x.reshape(-1, C) straight from (N, C, H, W), which puts values of
    several channels into one column.
    """
    x = case.x.astype(np.float64)
    gamma, beta = (case.beta, case.gamma) if swap else (case.gamma, case.beta)
    if no_transpose:
        x, axes = x.reshape(-1, x.shape[1]), 0
    mean = x.mean(axis=axes, keepdims=True)
    count = np.prod([x.shape[a] for a in np.atleast_1d(axes)])
    var = ((x - mean) ** 2).sum(axis=axes, keepdims=True) / (count - ddof)
    x_hat = (x - mean) / (np.sqrt(var + case.eps) if eps_inside else np.sqrt(var) + case.eps)
    out = _along_axis_1(gamma, x.ndim) * x_hat + _along_axis_1(beta, x.ndim)
    return out.reshape(case.x.shape)


def norm_backward_variant(case: NormCase, axes, *, sum_term=True, mean_term=True, path_axes=None, rows=False):
    """(dx, dgamma, dbeta) in float64 for statistics over ``axes`` and γ, β along axis 1, with one change.

    dx = invstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dout·γ, the means over ``path_axes`` (by default
    ``axes``, where the statistics came from). rows: a spatial backward whose forward moved the channels
    last correctly but which reshapes dout (and dx back) straight between (N, C, H, W) and (N·H·W, C).
    """
    x, dy = case.x.astype(np.float64), case.dout.astype(np.float64)
    if rows:
        x, dy, axes = x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1]), dy.reshape(-1, x.shape[1]), 0
    path_axes = axes if path_axes is None else path_axes
    invstd = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + case.eps)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) * invstd
    dx_hat = dy * _along_axis_1(case.gamma, x.ndim)
    bracket = dx_hat.copy()
    if mean_term:
        bracket -= dx_hat.mean(axis=path_axes, keepdims=True)
    if sum_term:
        bracket -= x_hat * (dx_hat * x_hat).mean(axis=path_axes, keepdims=True)
    parameter_axes = (0,) + tuple(range(2, x.ndim))  # every axis but the one γ and β live on
    dgamma, dbeta = (dy * x_hat).sum(axis=parameter_axes), dy.sum(axis=parameter_axes)
    return (invstd * bracket).reshape(case.x.shape), dgamma, dbeta


def _forward(axes, hint, **change) -> Mistake:
    return Mistake(hint, lambda case: (norm_forward_variant(case, axes, **change),))


def _backward(axes, hint, **change) -> Mistake:
    return Mistake(hint, lambda case: norm_backward_variant(case, axes, **change))


SPATIAL_FORWARD_MISTAKES = [
    _forward(
        None,
        "x.reshape(-1, C) straight from (N, C, H, W) mixes channels: each row then holds values of several "
        "channels. Move the channels last first, x.transpose(0, 2, 3, 1).reshape(-1, C), and undo both on the "
        "way back: reshape to (N, H, W, C), then transpose(0, 3, 1, 2).",
        no_transpose=True,
    ),
    _forward(
        0,
        "your statistics are per channel *and position*, over the batch only: a convolution applies one filter "
        "everywhere, so spatial batch norm averages each channel over N, H and W, axes (0, 2, 3) (L7).",
    ),
    _forward(
        (2, 3),
        "your statistics are per example and channel, over H and W only (that is instance norm): batch norm "
        "also averages over the examples, axes (0, 2, 3).",
    ),
    _forward(
        SPATIAL_AXES,
        "the variance is the unbiased one, ÷(n − 1); normalizing uses the biased variance, ÷n with n = N·H·W.",
        ddof=1,
    ),
    _forward(
        SPATIAL_AXES,
        "γ and β are swapped: γ scales each channel's x̂, β shifts it: out = gamma * x_hat + beta, both of "
        "shape (C,) (L1).",
        swap=True,
    ),
]

SPATIAL_BACKWARD_MISTAKES = [
    _backward(
        SPATIAL_AXES,
        "dout was reshaped straight from (N, C, H, W) with reshape(-1, C), mixing channels: move its channels "
        "last first, dout.transpose(0, 2, 3, 1).reshape(-1, C), exactly as the forward pass did with x.",
        rows=True,
    ),
    _backward(
        SPATIAL_AXES,
        "dx is missing the path through the channel's variance, −x̂·mean(dx̂·x̂) over (N, H, W): the variance "
        "depends on every value of the channel (L11).",
        sum_term=False,
    ),
    _backward(
        SPATIAL_AXES,
        "dx is missing the path through the channel's mean, −mean(dx̂) over (N, H, W): every value of a "
        "channel moves its mean (L11).",
        mean_term=False,
    ),
]

LAYER_FORWARD_MISTAKES = [
    _forward(
        0,
        "your statistics are per feature over the batch (axis 0): that is batch norm. Layer norm takes one "
        "mean and variance per example, over its features: axis 1, keepdims=True (L16).",
    ),
    _forward(
        LAYER_AXES, "the variance is the unbiased one, ÷(D − 1); layer norm uses the biased one, ÷D.", ddof=1
    ),
    _forward(
        LAYER_AXES,
        "eps is outside the square root of each example's variance: divide by np.sqrt(var + eps).",
        eps_inside=False,
    ),
    _forward(
        LAYER_AXES,
        "γ and β are swapped: in layer norm too, γ scales x̂ and β shifts it, one of each per feature, shape "
        "(D,): out = gamma * x_hat + beta (L1).",
        swap=True,
    ),
]

LAYER_BACKWARD_MISTAKES = [
    _backward(
        LAYER_AXES,
        "dx is missing the path through each example's variance, −x̂·mean(dx̂·x̂) over its features (axis 1).",
        sum_term=False,
    ),
    _backward(
        LAYER_AXES,
        "dx is missing the path through each example's mean, −mean(dx̂) over its features (axis 1).",
        mean_term=False,
    ),
    _backward(
        LAYER_AXES,
        "the mean and variance paths average over the batch (axis 0), as in batch norm; in layer norm they "
        "average over each example's features (axis 1), where its statistics came from.",
        path_axes=0,
    ),
]


def _spatial_reference(case: NormCase):
    from bnlib.batchnorm import batchnorm_forward

    return batchnorm_forward(case.x, case.gamma, case.beta, case.eps)


def _layer_reference(case: NormCase):
    from bnlib.layernorm import layernorm_forward

    return layernorm_forward(case.x, case.gamma, case.beta, case.eps)


def _spatial_backward_reference(case: NormCase):
    from bnlib.batchnorm import batchnorm_backward_compact

    return batchnorm_backward_compact(case.dout, _spatial_reference(case)[1])


def _layer_backward_reference(case: NormCase):
    from bnlib.layernorm import layernorm_backward

    return layernorm_backward(case.dout, _layer_reference(case)[1])


# ---------------------------------------------------------------------------------------------------------
# The checks


def _forward_check(name, student_fn, cases, reference, mistakes, layout) -> CheckResult:
    def run(case: NormCase) -> Got:
        originals = {"x": case.x, "gamma": case.gamma, "beta": case.beta}
        passed = {key: array.copy() for key, array in originals.items()}
        returned = call_learner(
            student_fn,
            passed["x"],
            passed["gamma"],
            passed["beta"],
            case.eps,
            signature=f"{name}(x, gamma, beta, eps) -> (out, cache)",
            batch_shape=case.batch_shape,
        )
        out, _ = unpack(returned, ("out", "cache"), f"your {name}")
        return Got((out,), changed_in_place(originals, passed))

    check = Check(
        name=name,
        outputs=(Output("out", layout, keep_dtype=True),),
        run=run,
        expected=lambda case: (reference(case)[0],),
        mistakes=mistakes,
    )
    return run_check(check, cases)


def _backward_check(name, student_fn, forward_fn, cases, references, mistakes, layouts) -> CheckResult:
    return backward_check(
        student_fn,
        forward_fn,
        cases,
        references,
        mistakes,
        layouts=layouts,
        label=name,
        name=name,
        fix_forward_hint="fix the forward first and run its check.",
    )


def check_spatial_batchnorm_forward(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(x, gamma, beta, eps) -> (out, cache)``: x (N, C, H, W), gamma and beta (C,); out is
    batch norm with one mean and (biased) variance per channel over (N, H, W), in x's dtype."""
    return _forward_check(
        "spatial_batchnorm_forward",
        student_fn,
        spatial_cases(),
        _spatial_reference,
        SPATIAL_FORWARD_MISTAKES,
        "(N, C, H, W)",
    )


def check_spatial_batchnorm_backward(student_fn: Callable, forward_fn: Callable) -> CheckResult:
    """Check ``student_fn(dout, cache) -> (dx, dgamma, dbeta)`` on the cache of ``forward_fn`` (whose output
    is checked first): dx (N, C, H, W); dgamma and dbeta (C,), summed over (N, H, W)."""
    return _backward_check(
        "spatial_batchnorm_backward",
        student_fn,
        forward_fn,
        spatial_cases(),
        (_spatial_reference, _spatial_backward_reference),
        SPATIAL_BACKWARD_MISTAKES,
        ("(N, C, H, W)", "(C,)"),
    )


def check_layernorm_forward(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(x, gamma, beta, eps) -> (out, cache)``: x (N, D), gamma and beta (D,); out is
    normalized per example over its D features (biased variance), then γ·x̂ + β per feature."""
    return _forward_check(
        "layernorm_forward", student_fn, layer_cases(), _layer_reference, LAYER_FORWARD_MISTAKES, "(N, D)"
    )


def check_layernorm_backward(student_fn: Callable, forward_fn: Callable) -> CheckResult:
    """Check ``student_fn(dout, cache) -> (dx, dgamma, dbeta)`` on the cache of ``forward_fn`` (whose output
    is checked first): dx (N, D); dgamma and dbeta (D,), summed over the examples."""
    return _backward_check(
        "layernorm_backward",
        student_fn,
        forward_fn,
        layer_cases(),
        (_layer_reference, _layer_backward_reference),
        LAYER_BACKWARD_MISTAKES,
        ("(N, D)", "(D,)"),
    )
