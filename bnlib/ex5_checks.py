"""Checks for exercise 5: spatial batch norm built from exercises 1 and 2 by a reshape, and layer norm.

Built on the machinery of :mod:`bnlib.checks` (cases, tolerances, known mistakes with their hints, the
learner's own line when their code raises), with the same promise: behaviour only, so any correct
implementation passes, and the hint is given only when the learner's output equals a known mistake's.

    spatial batch norm   x (N, C, H, W): one mean and variance per channel over (N, H, W) — exercise 1's
                         batch norm applied to the (N·H·W, C) rows of x moved to channels-last
    layer norm           x (N, D): one mean and variance per example over its D features

Used by notebooks/exercises/ex5_spatial_and_layer_norm.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bnlib.checks import (
    FLOAT32_TOL,
    FLOAT64_TOL,
    CheckResult,
    Mistake,
    Tolerance,
    _as_tuple,
    _call,
    _compare,
    _failure_hints,
    _finish,
    _run_cases,
    _StudentRaised,
    _unchanged_inputs_problem,
)

# ---------------------------------------------------------------------------------------------------------
# Exercise 1's and 2's functions, for (N, D) only


def rows_only(fn: Callable, name: str) -> Callable:
    """``fn`` restricted to (N, D) input, as exercises 1 and 2 wrote it: a 4-D array gets a clear error.

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


def exercise_functions():
    """(forward, backward) of exercises 1 and 2 — bnlib's reference versions, restricted to (N, D) rows."""
    from bnlib.batchnorm import batchnorm_backward_compact, batchnorm_forward

    return rows_only(batchnorm_forward, "batchnorm_forward"), rows_only(
        batchnorm_backward_compact, "batchnorm_backward"
    )


# ---------------------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class NormCase:
    """One input: x (N, C, H, W) with γ, β of shape (C,), or x (N, D) with γ, β of shape (D,); dout like x."""

    label: str
    x: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    dout: np.ndarray
    eps: float = 1e-5
    large_offset: bool = False

    @property
    def tol(self) -> Tolerance:
        return FLOAT32_TOL if self.x.dtype == np.float32 else FLOAT64_TOL


def _make(rng, label, shape, loc, scale, dtype=np.float64, **extra) -> NormCase:
    width = shape[1]
    return NormCase(
        label,
        (loc + scale * rng.standard_normal(shape)).astype(dtype),
        rng.uniform(0.5, 2.0, width).astype(dtype),
        rng.uniform(-1.0, 1.0, width).astype(dtype),
        rng.standard_normal(shape).astype(dtype),
        **extra,
    )


def spatial_cases(seed: int = 0) -> list[NormCase]:
    """Image-shaped cases: N, C, H, W all different (so a wrong axis shows), one example, awkward values."""
    rng = np.random.default_rng(seed)
    constant = _make(rng, "a constant channel (variance 0)", (3, 3, 2, 2), 1.0, 2.0)
    constant.x[:, 2] = -3.0
    return [
        _make(rng, "ordinary maps, (N, C, H, W) = (4, 3, 2, 5)", (4, 3, 2, 5), 2.0, 1.5),
        _make(rng, "one example, (1, 2, 3, 4): the H·W positions are the batch", (1, 2, 3, 4), -1.0, 2.0),
        _make(rng, "large offset, x ≈ 1e4 with std 1e-2", (2, 3, 3, 2), 1e4, 1e-2, large_offset=True),
        _make(rng, "float32 maps", (5, 2, 3, 3), 0.5, 3.0, dtype=np.float32),
        constant,
    ]


def layer_cases(seed: int = 0) -> list[NormCase]:
    """(N, D) cases with N ≠ D, including a single example and a constant example (variance 0)."""
    rng = np.random.default_rng(seed)
    constant = _make(rng, "a constant example (variance 0)", (3, 5), 1.0, 2.0)
    constant.x[1] = 4.0
    return [
        _make(rng, "ordinary batch, N=6, D=4", (6, 4), 3.0, 0.1),  # small spread: eps visible
        _make(rng, "one example, N=1", (1, 5), -1.0, 1.5),
        _make(rng, "large offset, x ≈ 1e4 with std 1e-2", (4, 3), 1e4, 1e-2, large_offset=True),
        _make(rng, "float32 inputs", (8, 6), 2.0, 3.0, dtype=np.float32),
        constant,
    ]


# ---------------------------------------------------------------------------------------------------------
# The reference and its known wrong variants, in float64


def _normalize(x, axes, eps, ddof=0, eps_inside=True):
    mean = x.mean(axis=axes, keepdims=True)
    count = np.prod([x.shape[a] for a in np.atleast_1d(axes)])
    var = ((x - mean) ** 2).sum(axis=axes, keepdims=True) / (count - ddof)
    return (x - mean) / (np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps)


def _per_channel(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2)) if ndim > 2 else v


def norm_forward_variant(case: NormCase, axes, *, ddof=0, eps_inside=True, swap=False, scramble=False):
    """out = γ·x̂ + β with statistics over ``axes``, one deliberate change at a time.

    scramble: the classic reshape bug, x.reshape(-1, C) straight from (N, C, H, W) without moving the
    channels last, which mixes values of different channels into one column.
    """
    x = case.x.astype(np.float64)
    gamma, beta = (case.beta, case.gamma) if swap else (case.gamma, case.beta)
    if scramble:
        c = x.shape[1]
        rows = x.reshape(-1, c)
        out = gamma * _normalize(rows, 0, case.eps) + beta
        return out.reshape(x.shape)
    x_hat = _normalize(x, axes, case.eps, ddof, eps_inside)
    return _per_channel(gamma, x.ndim) * x_hat + _per_channel(beta, x.ndim)


def norm_backward_variant(case: NormCase, axes, *, sum_term=True, mean_term=True, path_axes=None):
    """(dx, dgamma, dbeta) for statistics over ``axes`` and γ, β along axis 1, optionally missing a term.

    dx = invstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with dx̂ = dy·γ, the two means over ``path_axes`` (by
    default ``axes``, where the statistics came from).
    """
    x, dy = case.x.astype(np.float64), case.dout.astype(np.float64)
    path_axes = axes if path_axes is None else path_axes
    invstd = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + case.eps)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) * invstd
    dx_hat = dy * _per_channel(case.gamma, x.ndim)
    bracket = dx_hat.copy()
    if mean_term:
        bracket -= dx_hat.mean(axis=path_axes, keepdims=True)
    if sum_term:
        bracket -= x_hat * (dx_hat * x_hat).mean(axis=path_axes, keepdims=True)
    parameter_axes = (0,) + tuple(range(2, x.ndim))  # every axis but the one γ and β live on
    return invstd * bracket, (dy * x_hat).sum(axis=parameter_axes), dy.sum(axis=parameter_axes)


def scrambled_spatial_backward(case: NormCase):
    """The spatial backward of a learner whose forward moved the channels last correctly, but whose backward
    reshapes dout (and dx back) straight between (N, C, H, W) and (N·H·W, C)."""
    x, dy = case.x.astype(np.float64), case.dout.astype(np.float64)
    c = x.shape[1]
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
    invstd = 1.0 / np.sqrt(rows.var(axis=0) + case.eps)
    x_hat = (rows - rows.mean(axis=0)) * invstd
    dy_rows = dy.reshape(-1, c)  # the bug
    dx_hat = dy_rows * case.gamma
    dx_rows = invstd * (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0))
    return dx_rows.reshape(x.shape), (dy_rows * x_hat).sum(axis=0), dy_rows.sum(axis=0)


SPATIAL_AXES, LAYER_AXES = (0, 2, 3), 1

SPATIAL_FORWARD_MISTAKES = [
    Mistake(
        "x.reshape(-1, C) straight from (N, C, H, W) mixes channels: each row then holds values of several "
        "channels. Move the channels last first: x.transpose(0, 2, 3, 1).reshape(-1, C), and undo both "
        "(reshape to (N, H, W, C), then transpose(0, 3, 1, 2)) on the way back.",
        lambda case: (norm_forward_variant(case, None, scramble=True),),
    ),
    Mistake(
        "your statistics are per channel *and position*, over the batch only (x.mean(axis=0)): a convolution "
        "applies one filter everywhere, so spatial batch norm averages each channel over N, H and W (L7).",
        lambda case: (norm_forward_variant(case, 0),),
    ),
    Mistake(
        "your statistics are per example and channel, over H and W only (that is instance norm): batch norm "
        "also averages over the examples, axes (0, 2, 3).",
        lambda case: (norm_forward_variant(case, (2, 3)),),
    ),
    Mistake(
        "the variance is the unbiased one (÷(n − 1)); normalizing uses the biased variance, ÷n with n = N·H·W.",
        lambda case: (norm_forward_variant(case, SPATIAL_AXES, ddof=1),),
    ),
    Mistake(
        "γ and β are swapped: out = gamma * x_hat + beta (L1).",
        lambda case: (norm_forward_variant(case, SPATIAL_AXES, swap=True),),
    ),
]

SPATIAL_BACKWARD_MISTAKES = [
    Mistake(
        "the gradients were reshaped straight from (N, C, H, W) with reshape(-1, C), mixing channels: move the "
        "channels of dout last first, dout.transpose(0, 2, 3, 1).reshape(-1, C), as in the forward pass.",
        scrambled_spatial_backward,
    ),
    Mistake(
        "dx is missing the path through the variance, −x̂·mean(dy·γ·x̂): fine for x̂ alone, but the variance "
        "depends on every value of the channel (L11).",
        lambda case: norm_backward_variant(case, SPATIAL_AXES, sum_term=False),
    ),
    Mistake(
        "dx is missing the path through the mean, −mean(dy·γ): every value of a channel moves its mean (L11).",
        lambda case: norm_backward_variant(case, SPATIAL_AXES, mean_term=False),
    ),
]

LAYER_FORWARD_MISTAKES = [
    Mistake(
        "your statistics are per feature over the batch (axis 0): that is batch norm. Layer norm takes one "
        "mean and variance per example, over its features: axis 1, keepdims=True (L16).",
        lambda case: (norm_forward_variant(case, 0),),
    ),
    Mistake(
        "the variance is the unbiased one (÷(D − 1)); layer norm uses the biased variance, ÷D.",
        lambda case: (norm_forward_variant(case, LAYER_AXES, ddof=1),),
    ),
    Mistake(
        "eps is outside the square root: divide by np.sqrt(var + eps).",
        lambda case: (norm_forward_variant(case, LAYER_AXES, eps_inside=False),),
    ),
    Mistake(
        "γ and β are swapped: out = gamma * x_hat + beta (L1).",
        lambda case: (norm_forward_variant(case, LAYER_AXES, swap=True),),
    ),
]

LAYER_BACKWARD_MISTAKES = [
    Mistake(
        "dx is missing the path through the variance, −x̂·mean(dx̂·x̂) over each example's features.",
        lambda case: norm_backward_variant(case, LAYER_AXES, sum_term=False),
    ),
    Mistake(
        "dx is missing the path through the mean, −mean(dx̂) over each example's features.",
        lambda case: norm_backward_variant(case, LAYER_AXES, mean_term=False),
    ),
    Mistake(
        "the mean and the variance paths average over the batch (axis 0), as in batch norm; in layer norm "
        "they average over each example's features (axis 1), where its statistics came from.",
        lambda case: norm_backward_variant(case, LAYER_AXES, path_axes=0),
    ),
]


# ---------------------------------------------------------------------------------------------------------
# The checks


def _forward_check(name, student_fn, cases, axes, mistakes, layout) -> CheckResult:
    signature = f"{name}(x, gamma, beta, eps) -> (out, cache)"

    def run_one(case: NormCase):
        arrays = {"x": case.x.copy(), "gamma": case.gamma.copy(), "beta": case.beta.copy()}
        try:
            returned = _call(
                student_fn, arrays["x"], arrays["gamma"], arrays["beta"], case.eps, signature=signature
            )
            out, _ = _as_tuple(returned, ("out", "cache"), f"your {name}")
        except _StudentRaised as raised:
            return [raised.problem], raised.hints
        expected = norm_forward_variant(case, axes)
        problems = _channels_first_compare("out", out, expected, case, layout)
        problems += _unchanged_inputs_problem({"x": case.x, "gamma": case.gamma, "beta": case.beta}, arrays)
        if problems:
            return problems, _failure_hints((out,), case, mistakes, (expected,))
        return None

    return _finish(_run_cases(name, cases, run_one))


def _backward_check(name, student_fn, forward_fn, cases, axes, mistakes, layouts) -> CheckResult:
    signature = f"{name}(dout, cache) -> (dx, dgamma, dbeta)"
    names = ("dx", "dgamma", "dbeta")

    def run_one(case: NormCase):
        dout = case.dout.copy()
        try:
            returned = _call(
                forward_fn,
                case.x.copy(),
                case.gamma.copy(),
                case.beta.copy(),
                case.eps,
                signature="forward(x, gamma, beta, eps) -> (out, cache)",
            )
            out, cache = _as_tuple(returned, ("out", "cache"), "the forward function")
        except _StudentRaised as raised:
            return [f"in the forward function: {raised.problem}"], raised.hints
        if _channels_first_compare("out", out, norm_forward_variant(case, axes), case, layouts[0]):
            return (
                ["the forward function gives a wrong output, so its cache cannot be trusted."],
                ["fix the forward first and run its check."],
            )
        try:
            got = _as_tuple(_call(student_fn, dout, cache, signature=signature), names, f"your {name}")
        except _StudentRaised as raised:
            return [raised.problem], raised.hints
        expected = norm_backward_variant(case, axes)
        problems = _channels_first_compare("dx", got[0], expected[0], case, layouts[0])
        problems += [
            problem
            for part, g, e in zip(names[1:], got[1:], expected[1:], strict=True)
            for problem in _compare(
                part, g, e, case.tol, layout=layouts[1], feature_word=layouts[2], dtype=case.x.dtype
            )
        ]
        problems += _unchanged_inputs_problem({"dout": case.dout}, {"dout": dout})
        if problems:
            return problems, _failure_hints(got, case, mistakes, expected)
        return None

    return _finish(_run_cases(name, cases, run_one))


def _channels_first_compare(name, got, expected, case: NormCase, layout: str) -> list[str]:
    """Problems with one output, as bnlib.checks words them; for (N, C, H, W) the value sentence names the
    example, channel and position of the largest error (bnlib.checks would name a column of the last axis)."""
    problems = _compare(name, got, expected, case.tol, layout=layout, dtype=case.x.dtype)
    if expected.ndim == 2 or not problems:
        return problems
    value_sentence = f"{name} is wrong in"
    kept = [problem for problem in problems if not problem.startswith(value_sentence)]
    if len(kept) == len(problems):  # not a float array, or the wrong shape: nothing to locate
        return problems
    got = np.asarray(got, dtype=np.float64)
    allowed = case.tol.allowed(expected)
    with np.errstate(invalid="ignore"):
        ratio = np.where(np.isfinite(got), np.abs(got - expected) / allowed, np.inf)
    n, c, h, w = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    channels = np.flatnonzero((ratio > 1).any(axis=(0, 2, 3))).tolist()
    g, e = got[n, c, h, w], float(expected[n, c, h, w])
    return kept + [
        f"{name} is wrong in channel(s) {channels} of {expected.shape[1]}; the largest error is at example {n}, "
        f"channel {c}, position ({h}, {w}): got {g:.6g}, expected {e:.6g}, error {abs(g - e):.2e} > tolerance "
        f"{float(allowed[n, c, h, w]):.1e}."
    ]


def check_spatial_batchnorm_forward(student_fn: Callable):
    """Check ``student_fn(x, gamma, beta, eps) -> (out, cache)``: x (N, C, H, W), gamma and beta (C,); out is
    batch norm with one mean and (biased) variance per channel over (N, H, W), in x's dtype."""
    return _forward_check(
        "spatial_batchnorm_forward",
        student_fn,
        spatial_cases(),
        SPATIAL_AXES,
        SPATIAL_FORWARD_MISTAKES,
        "(N, C, H, W)",
    )


def check_spatial_batchnorm_backward(student_fn: Callable, forward_fn: Callable):
    """Check ``student_fn(dout, cache) -> (dx, dgamma, dbeta)`` against the cache of ``forward_fn`` (checked
    first): dx (N, C, H, W); dgamma, dbeta (C,), summed over (N, H, W)."""
    return _backward_check(
        "spatial_batchnorm_backward",
        student_fn,
        forward_fn,
        spatial_cases(),
        SPATIAL_AXES,
        SPATIAL_BACKWARD_MISTAKES,
        ("(N, C, H, W)", "(C,)", "channel"),
    )


def check_layernorm_forward(student_fn: Callable):
    """Check ``student_fn(x, gamma, beta, eps) -> (out, cache)``: x (N, D), gamma and beta (D,); out is
    normalized per example over its D features (biased variance), then γ·x̂ + β per feature."""
    return _forward_check(
        "layernorm_forward", student_fn, layer_cases(), LAYER_AXES, LAYER_FORWARD_MISTAKES, "(N, D)"
    )


def check_layernorm_backward(student_fn: Callable, forward_fn: Callable):
    """Check ``student_fn(dout, cache) -> (dx, dgamma, dbeta)`` against the cache of ``forward_fn`` (checked
    first): dx (N, D); dgamma, dbeta (D,), summed over the examples."""
    return _backward_check(
        "layernorm_backward",
        student_fn,
        forward_fn,
        layer_cases(),
        LAYER_AXES,
        LAYER_BACKWARD_MISTAKES,
        ("(N, D)", "(D,)", "feature"),
    )
