"""Exercise 1 (ex1_batchnorm_forward): the variance of a list of numbers, and the batch-norm forward pass.

Also the batch cases the backward check (exercise 2) reuses: each batch comes with an upstream gradient.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
# The variance of a list of numbers (L4)


@dataclass(frozen=True)
class ValuesCase:
    """A 1-D array of values whose (biased) variance the learner computes."""

    label: str
    values: np.ndarray
    large_offset: bool = False

    @property
    def tol(self) -> Tolerance:
        # Relative only: a variance of 1e-4 must be right to 1e-6 of itself, not to 1e-7 in absolute terms.
        return Tolerance(rtol=1e-4 if self.values.dtype == np.float32 else 1e-6, atol=1e-12)


def variance_cases() -> list[ValuesCase]:
    """The notebook's own example first, so that a value typed in from it fails on the second data set."""
    return [
        ValuesCase("hours of sleep 4, 5, 7", np.array([4.0, 5.0, 7.0])),
        ValuesCase("two values", np.array([1.5, -0.5])),
        ValuesCase(
            "large offset, 1e4 + a spread of 1e-2", 1e4 + np.array([0.01, -0.02, 0.015, 0.0, -0.005]), True
        ),
        ValuesCase("float32 values", np.array([2.0, 3.5, -1.0, 0.25], dtype=np.float32)),
    ]


def _variance_variant(case: ValuesCase, *, ddof=0, brackets=True, naive=False, root=False) -> tuple[float]:
    """The variance in float64 with one deliberate change (the defaults give the right answer)."""
    v = case.values.astype(np.float64)
    n, mean = len(v), v.mean()
    if naive:
        var = (v**2).mean() - mean**2
    elif not brackets:  # 1/n multiplies the first square only, as written on the video's slide
        var = (v[0] - mean) ** 2 / n + ((v[1:] - mean) ** 2).sum()
    else:
        var = ((v - mean) ** 2).sum() / (n - ddof)
    return (float(np.sqrt(var)) if root else float(var),)


VARIANCE_MISTAKES = [
    Mistake(
        "1/N multiplies only the first square: it must multiply the whole sum, "
        "(1/N)·[(x₁ − μ)² + … + (x_N − μ)²] (L4).",
        lambda case: _variance_variant(case, brackets=False),
    ),
    Mistake(
        "you divided by N − 1 (the unbiased estimate); batch norm normalizes with the batch's own variance, "
        "dividing by N (L8).",
        lambda case: _variance_variant(case, ddof=1),
    ),
    Mistake(
        "that is the standard deviation; the variance is its square.",
        lambda case: _variance_variant(case, root=True),
    ),
    Mistake(
        "mean(x²) − mean(x)² cancels catastrophically for large values with a small spread; average the "
        "squared deviations from the mean instead.",
        lambda case: _variance_variant(case, naive=True),
    ),
]


def check_variance(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(values) -> float``: the biased variance (1/N)·Σ(x − μ)² of a 1-D array."""

    def run(case: ValuesCase) -> Got:
        values = case.values.copy()
        got = call_learner(student_fn, values, signature="variance(values) -> float")
        return Got((got,), changed_in_place({"values": case.values}, {"values": values}))

    check = Check(
        name=getattr(student_fn, "__name__", "variance"),
        outputs=(Output("the variance"),),
        run=run,
        expected=_variance_variant,
        mistakes=VARIANCE_MISTAKES,
    )
    return run_check(check, variance_cases())


# ---------------------------------------------------------------------------------------------------------
# Cases for batch norm


@dataclass(frozen=True)
class BatchCase:
    """One input to batch norm: x of shape (N, D), the per-feature γ, β of shape (D,), eps, and dout (N, D)."""

    label: str
    x: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: float = 1e-5
    dout: np.ndarray | None = None
    large_offset: bool = False
    varies: Variation | None = None

    @property
    def tol(self) -> Tolerance:
        return FLOAT32_TOL if self.x.dtype == np.float32 else FLOAT64_TOL

    @property
    def batch_shape(self) -> tuple[int, int]:
        return self.x.shape

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype


def batch_cases(seed: int = 0) -> list[BatchCase]:
    """The cases every batch-norm check runs, from ordinary to awkward.

    Each has N ≠ D (so a statistic over the wrong axis shows in its shape), non-trivial γ and β (so a
    swapped γ/β shows), and an upstream gradient dout for the backward checks. The second repeats the first
    with another eps, so that code ignoring its eps fails.
    """
    rng = np.random.default_rng(seed)

    def make(label, n, d, loc, scale, dtype=np.float64, **extra):
        x = (loc + scale * rng.standard_normal((n, d))).astype(dtype)
        gamma = rng.uniform(0.5, 2.0, d).astype(dtype)
        beta = rng.uniform(-1.0, 1.0, d).astype(dtype)
        dout = rng.standard_normal((n, d)).astype(dtype)
        return BatchCase(label, x, gamma, beta, dout=dout, **extra)

    ordinary = make("ordinary batch, N=8, D=5", 8, 5, 3.0, 2.0)
    other_eps = dataclasses.replace(
        ordinary,
        label="the same batch with eps = 0.1",
        eps=0.1,
        varies=Variation("eps", ordinary.label, 1e-5, 0.1),
    )
    constant = make("a constant feature (variance 0)", 6, 3, 1.0, 2.0)
    constant.x[:, 1] = 4.0  # every example has the same value: only eps keeps the division finite
    return [
        ordinary,
        other_eps,
        make("batch of two, N=2", 2, 4, -1.0, 1.5),
        make("tiny spread, std 1e-3", 7, 3, 0.5, 1e-3),
        make("large offset, x ≈ 1e4 with std 1e-2", 6, 3, 1e4, 1e-2, large_offset=True),
        make("float32 inputs", 16, 3, 2.0, 3.0, dtype=np.float32),
        constant,
    ]


def reference_forward(case: BatchCase):
    """bnlib's (out, cache) for a case."""
    from bnlib.batchnorm import batchnorm_forward

    return batchnorm_forward(case.x, case.gamma, case.beta, case.eps)


def forward_variant(
    case: BatchCase,
    *,
    ddof=0,
    eps_inside=True,
    axis=0,
    power=0.5,
    swap=False,
    use_gamma=True,
    use_beta=True,
    naive_var=False,
) -> np.ndarray:
    """Batch norm forward in float64 with one deliberate change (the defaults give the right answer)."""
    x = case.x.astype(np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    if naive_var:
        var = (x**2).mean(axis=axis, keepdims=True) - mean**2
    elif axis is None:
        var = x.var()
    else:
        var = ((x - mean) ** 2).sum(axis=axis, keepdims=True) / (x.shape[axis] - ddof)
    denominator = (var + case.eps) ** power if eps_inside else var**power + case.eps
    x_hat = (x - mean) / denominator
    gamma, beta = (case.beta, case.gamma) if swap else (case.gamma, case.beta)
    return (gamma if use_gamma else 1.0) * x_hat + (beta if use_beta else 0.0)


def _forward_mistake(hint: str, **change) -> Mistake:
    return Mistake(hint, lambda case: (forward_variant(case, **change),))


FORWARD_MISTAKES = [
    _forward_mistake(
        "you used the unbiased variance (divide by N − 1). Normalizing uses the batch's own, biased variance "
        "(divide by N): np.var(x, axis=0), ddof=0. The unbiased one belongs to the running estimate (L8).",
        ddof=1,
    ),
    _forward_mistake(
        "eps is outside the square root: divide by np.sqrt(var + eps), not np.sqrt(var) + eps.",
        eps_inside=False,
    ),
    _forward_mistake(
        "you divided by the variance, not the standard deviation: x̂ = (x − mean) / np.sqrt(var + eps).",
        power=1.0,
    ),
    _forward_mistake(
        "the statistics were taken over the wrong axis: across the features of each example (axis 1). Batch "
        "norm averages each feature over the mini-batch, axis 0 (L7).",
        axis=1,
    ),
    _forward_mistake(
        "one mean and one variance for the whole batch: batch norm keeps one per feature, averaged over "
        "axis 0 (L7).",
        axis=None,
    ),
    _forward_mistake(
        "γ and β are swapped: γ scales x̂ (it sets the spread), β is added (it sets the centre): "
        "out = gamma * x_hat + beta (L1).",
        swap=True,
    ),
    _forward_mistake(
        "you returned x̂ without γ and β: out = gamma * x_hat + beta.", use_gamma=False, use_beta=False
    ),
    _forward_mistake(
        "γ never multiplies x̂: your output is x̂ + β. γ sets each feature's spread: out = gamma * x_hat + beta.",
        use_gamma=False,
    ),
    _forward_mistake(
        "β is never added: your output is γ·x̂. β sets each feature's centre: out = gamma * x_hat + beta.",
        use_beta=False,
    ),
    _forward_mistake(
        "var = mean(x²) − mean(x)² loses every digit when the values are large and their spread small "
        "(catastrophic cancellation); take the mean of the squared deviations, ((x − mean)**2).mean(axis=0).",
        naive_var=True,
    ),
]


def check_batchnorm_forward(student_fn: Callable) -> CheckResult:
    """Check a batch-norm forward pass ``student_fn(x, gamma, beta, eps) -> (out, cache)``.

    x: (N, D); gamma, beta: (D,); out must equal γ·(x − mean)/sqrt(var + eps) + β with per-feature batch
    statistics (biased variance), in x's dtype. The cache is yours and is not inspected.
    """

    def run(case: BatchCase) -> Got:
        originals = {"x": case.x, "gamma": case.gamma, "beta": case.beta}
        passed = {name: array.copy() for name, array in originals.items()}
        returned = call_learner(
            student_fn,
            passed["x"],
            passed["gamma"],
            passed["beta"],
            case.eps,
            signature="batchnorm_forward(x, gamma, beta, eps) -> (out, cache)",
            batch_shape=case.batch_shape,
        )
        out, _ = unpack(returned, ("out", "cache"), "your forward")
        return Got((out,), changed_in_place(originals, passed))

    check = Check(
        name="batchnorm_forward",
        outputs=(Output("out", "(N, D)", keep_dtype=True),),
        run=run,
        expected=lambda case: (reference_forward(case)[0],),
        mistakes=FORWARD_MISTAKES,
    )
    return run_check(check, batch_cases())
