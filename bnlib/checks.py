"""Checks for the exercises: run a learner's code on several cases and say precisely what is wrong.

Each ``check_*`` function calls the learner's function (or class) on a handful of cases, including awkward
ones (a batch of two, features at 1e4 with a spread of 1e-2, float32, a constant feature), and compares
what comes back with bnlib's reference. It tests behaviour only: any correct implementation passes,
however it is written.

On success it prints a one-line ✔ summary and returns a :class:`CheckResult`. On failure it raises
:class:`CheckFailed` (an ``AssertionError``, so nbgrader scores the cell as failed) whose message says which
case failed, which output and which feature is off, by how much against the tolerance, and a hint. The
hint is specific because it is earned: the learner's output is compared with the output of each known
mistake (unbiased variance, eps outside the square root, momentum reversed, …) and the hint of the mistake
it matches is given. An exception raised by the learner's code is reported the same way, with the line of
their code that raised it, never as a crash of the check.

Used by notebooks/exercises/ex1_… to ex4_….
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# ---------------------------------------------------------------------------------------------------------
# Results


@dataclass
class CheckResult:
    """What a check found.

    name: the check's name; passed: True when every case matched; cases_passed: labels of the cases that
    matched before the first failure (all of them on success); problems: sentences about the first failing
    case; hints: what the problems point to (known mistakes, or what to look at).
    """

    name: str
    passed: bool
    cases_passed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    failed_case: str | None = None

    def __bool__(self) -> bool:
        return self.passed

    @property
    def feedback(self) -> str:
        """The text a learner reads: a ✔ line on success, otherwise what failed, where, and a hint."""
        if self.passed and len(self.cases_passed) == 1:
            return f"✔ {self.name}: {self.cases_passed[0]}."
        if self.passed:
            return f"✔ {self.name}: all {len(self.cases_passed)} cases pass ({'; '.join(self.cases_passed)})."
        lines = [f"✘ {self.name} failed on case: {self.failed_case}"]
        if self.cases_passed:
            lines.append(f"  (passed before it: {'; '.join(self.cases_passed)})")
        lines += [f"  - {problem}" for problem in self.problems]
        lines += [f"  Hint: {hint}" for hint in self.hints]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.feedback


class CheckFailed(AssertionError):
    """Raised by a check whose case failed; ``.result`` holds the :class:`CheckResult`."""

    def __init__(self, result: CheckResult):
        super().__init__("\n" + result.feedback)
        self.result = result


def _finish(result: CheckResult) -> CheckResult:
    if not result.passed:
        raise CheckFailed(result)
    print(result.feedback)
    return result


# ---------------------------------------------------------------------------------------------------------
# Calling the learner's code


class _StudentRaised(Exception):
    """The learner's code raised; carries a sentence about it and hints."""

    def __init__(self, problem: str, hints: list[str]):
        super().__init__(problem)
        self.problem = problem
        self.hints = hints


# Frames from these folders are libraries (numpy, the standard library, bnlib); the learner's line is the
# deepest frame outside them.
_LIBRARY_DIRS = tuple(
    os.path.realpath(path) + os.sep
    for path in {
        os.path.dirname(np.__file__),
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["purelib"],
        os.path.dirname(os.path.abspath(__file__)),
    }
)


def _student_line(exc: BaseException) -> str:
    """'line 7 in batchnorm_forward: var = x.var(axis=1)' for the learner's own line that raised."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # the first frame is _call, in this file
    own = [f for f in frames if not os.path.realpath(f.filename).startswith(_LIBRARY_DIRS)]
    frame = (own or frames or [None])[-1]
    if frame is None:
        return ""
    return f"line {frame.lineno} in {frame.name}: {(frame.line or '').strip()}"


def _exception_hints(exc: BaseException, signature: str) -> list[str]:
    """Hints for the exceptions learners meet most, keyed on the exception itself."""
    message = str(exc)
    if isinstance(exc, NotImplementedError):
        return [
            "the function still raises NotImplementedError: replace `raise NotImplementedError()` with code."
        ]
    if isinstance(exc, ValueError) and "broadcast" in message:
        return [
            "numpy could not line two arrays up: a per-feature statistic probably has the wrong shape. "
            "Average over the batch axis, x.mean(axis=0), giving one value per feature, shape (D,) "
            "(or keepdims=True for shape (1, D)), so it broadcasts against x of shape (N, D)."
        ]
    if isinstance(exc, TypeError) and ("argument" in message or "positional" in message):
        return [f"the check calls your code as {signature}; make the signature match."]
    if isinstance(exc, (ZeroDivisionError, FloatingPointError)):
        return [
            "a division by zero: add eps inside the square root, sqrt(var + eps),"
            " so constant features are safe."
        ]
    return []


def _call(fn: Callable, *args, signature: str, **kwargs):
    """Call the learner's fn; turn any exception into _StudentRaised with their line and a hint."""
    try:
        with np.errstate(all="ignore"):  # NaN and inf are reported by the comparison, not as warnings
            return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any error in the learner's code becomes feedback
        line = _student_line(exc)
        where = f" at {line}" if line else ""
        message = f": {exc}" if str(exc) else ""
        problem = f"your code raised {type(exc).__name__}{message}{where}"
        raise _StudentRaised(problem, _exception_hints(exc, signature)) from None


def _as_tuple(value, names: tuple[str, ...], fn_name: str) -> tuple:
    """Check that the learner returned a tuple of len(names) values; return it."""
    if value is None:
        raise _StudentRaised(
            f"{fn_name} returned None",
            [f"did you forget the return statement? It must return {', '.join(names)}."],
        )
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        got = f"a {type(value).__name__}" + (
            f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""
        )
        raise _StudentRaised(
            f"{fn_name} returned {got}",
            [f"it must return a tuple of {len(names)}: ({', '.join(names)})."],
        )
    return tuple(value)


# ---------------------------------------------------------------------------------------------------------
# Comparing outputs


@dataclass(frozen=True)
class Tolerance:
    """|got − expected| <= atol + rtol·|expected|, elementwise."""

    rtol: float
    atol: float

    def allowed(self, expected: np.ndarray) -> np.ndarray:
        return self.atol + self.rtol * np.abs(expected)


FLOAT64_TOL = Tolerance(rtol=1e-6, atol=1e-7)
FLOAT32_TOL = Tolerance(rtol=1e-4, atol=1e-4)
# A learner computes a known mistake in their own order of operations; match it a little more loosely.
MISTAKE_MATCH_FACTOR = 20.0


def _shape_problem(name: str, got: np.ndarray, expected: np.ndarray, layout: str) -> str:
    problem = f"{name} has shape {got.shape} but should have shape {expected.shape} {layout}".rstrip()
    if expected.ndim == 1 and got.ndim == 2 and got.shape[1] == expected.shape[0]:
        problem += "; it still has the batch axis: sum (or average) over axis 0"
    elif expected.ndim == 1 and got.shape not in (expected.shape, ()) and got.ndim == 1:
        problem += "; it has one entry per example instead of one per feature: reduce over axis 0, not axis 1"
    elif got.shape == (1,) + expected.shape:
        problem += f"; drop the kept axis with .reshape({expected.shape[0]},) or without keepdims"
    return problem + "."


def _as_float_output(name: str, got) -> np.ndarray | str:
    """The learner's output as a float array, or a sentence saying why it is not one."""
    if got is None:
        return f"{name} is None"
    try:
        array = np.asarray(got)
    except Exception:  # noqa: BLE001 - ragged lists and odd objects
        return f"{name} is a {type(got).__name__} that numpy cannot turn into an array"
    if array.dtype.kind not in "fiu":
        return f"{name} has dtype {array.dtype}; expected an array of floats"
    return array


def _value_problem(
    name: str, got: np.ndarray, expected: np.ndarray, tol: Tolerance, feature_word: str
) -> str | None:
    """Where got and expected disagree: the worst feature, its largest error and the tolerance."""
    expected = np.asarray(expected, dtype=np.float64)
    got64 = got.astype(np.float64)
    allowed = tol.allowed(expected)
    with np.errstate(invalid="ignore"):
        error = np.abs(got64 - expected)
        ratio = np.where(np.isfinite(got64), error / allowed, np.inf)
    if np.all(ratio <= 1.0):
        return None
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    g, e = got64[worst], expected[worst]
    if expected.ndim == 0:
        tolerance = float(allowed)
        return f"{name} is {g:.6g} but should be {e:.6g} (error {abs(g - e):.2e}, tolerance {tolerance:.1e})."
    feature = worst[-1]
    features_off = np.flatnonzero((ratio > 1.0).any(axis=0) if expected.ndim == 2 else ratio > 1.0)
    where = (
        f"example {worst[0]}, {feature_word} {feature}" if expected.ndim == 2 else f"{feature_word} {feature}"
    )
    nonfinite = "" if np.isfinite(g) else " (not a finite number: a division by zero or an overflow?)"
    return (
        f"{name} is wrong in {feature_word}(s) {features_off.tolist()} of {expected.shape[-1]}; the largest "
        f"error is at {where}: got {g:.6g}, expected {e:.6g}, error {abs(g - e):.2e} > tolerance "
        f"{float(allowed[worst]):.1e}{nonfinite}."
    )


def _compare(
    name, got, expected, tol: Tolerance, *, layout="", feature_word="feature", dtype=None
) -> list[str]:
    """Problems with one output (empty list when it matches)."""
    array = _as_float_output(name, got)
    if isinstance(array, str):
        return [array + "."]
    expected = np.asarray(expected)
    if array.shape != expected.shape:
        return [_shape_problem(name, array, expected, layout)]
    problems = []
    if dtype is not None and array.dtype != dtype:
        problems.append(
            f"{name} has dtype {array.dtype} but the inputs were {np.dtype(dtype).name}: keep the input "
            "dtype (an array made with np.zeros(shape), or an np.float64 constant, turns float32 into "
            "float64; use np.zeros_like(x) or dtype=x.dtype)."
        )
    value = _value_problem(name, array, expected, tol, feature_word)
    return problems + ([value] if value else [])


def _close(got, candidate, tol: Tolerance) -> bool:
    """True when got equals a candidate (a known mistake's output) up to a loose tolerance."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    candidate = np.asarray(candidate, dtype=np.float64)
    if got.shape != candidate.shape:
        return False
    loose = Tolerance(tol.rtol * MISTAKE_MATCH_FACTOR, tol.atol * MISTAKE_MATCH_FACTOR)
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(got - candidate) <= loose.allowed(candidate)))


@dataclass(frozen=True)
class Mistake:
    """A known wrong variant of the computation and the hint that goes with it.

    variant: computes the wrong outputs for a case (same structure as the reference's).
    """

    hint: str
    variant: Callable


def _matched_hints(got: tuple, case, mistakes: list[Mistake], tol: Tolerance, expected: tuple) -> list[str]:
    """Hints of the mistakes whose outputs equal the learner's on this case.

    A mistake that makes no visible difference on this case (its outputs equal the right ones) says nothing
    about the learner's code, so it is never matched.
    """
    hints = []
    for mistake in mistakes:
        with np.errstate(all="ignore"):
            wrong = mistake.variant(case)
        if all(_close(e, w, tol) for e, w in zip(expected, wrong, strict=True)):
            continue
        if all(_close(g, w, tol) for g, w in zip(got, wrong, strict=True)):
            hints.append(mistake.hint)
    return hints


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
    cases = [
        ValuesCase("hours of sleep 4, 5, 7", np.array([4.0, 5.0, 7.0])),
        ValuesCase("two values", np.array([1.5, -0.5])),
        ValuesCase(
            "large offset, 1e4 + a spread of 1e-2", 1e4 + np.array([0.01, -0.02, 0.015, 0.0, -0.005]), True
        ),
        ValuesCase("float32 values", np.array([2.0, 3.5, -1.0, 0.25], dtype=np.float32)),
    ]

    def run_one(case: ValuesCase):
        values = case.values.copy()
        try:
            got = _call(student_fn, values, signature="variance(values) -> float")
        except _StudentRaised as raised:
            return [raised.problem], raised.hints
        expected = _variance_variant(case)
        problems = _compare("the variance", got, expected[0], case.tol)
        problems += _unchanged_inputs_problem({"values": case.values}, {"values": values})
        if problems:
            return problems, _failure_hints((got,), case, VARIANCE_MISTAKES, expected)
        return None

    return _finish(_run_cases(getattr(student_fn, "__name__", "variance"), cases, run_one))


# ---------------------------------------------------------------------------------------------------------
# Cases for batch norm


@dataclass(frozen=True)
class BatchCase:
    """One input to batch norm: x of shape (N, D) and the per-feature γ, β of shape (D,)."""

    label: str
    x: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: float = 1e-5
    dout: np.ndarray | None = None
    large_offset: bool = False

    @property
    def tol(self) -> Tolerance:
        return FLOAT32_TOL if self.x.dtype == np.float32 else FLOAT64_TOL


def batch_cases(seed: int = 0) -> list[BatchCase]:
    """The cases every batch-norm check runs, from ordinary to awkward.

    Each has N ≠ D (so a statistic over the wrong axis shows in its shape), non-trivial γ and β (so a
    swapped γ/β shows), and an upstream gradient dout for the backward checks.
    """
    rng = np.random.default_rng(seed)

    def make(label, n, d, loc, scale, dtype=np.float64, **extra):
        x = (loc + scale * rng.standard_normal((n, d))).astype(dtype)
        gamma = rng.uniform(0.5, 2.0, d).astype(dtype)
        beta = rng.uniform(-1.0, 1.0, d).astype(dtype)
        dout = rng.standard_normal((n, d)).astype(dtype)
        return BatchCase(label, x, gamma, beta, dout=dout, **extra)

    constant = make("a constant feature (variance 0)", 6, 3, 1.0, 2.0)
    constant.x[:, 1] = 4.0  # every example has the same value: only eps keeps the division finite
    return [
        make("ordinary batch, N=8, D=5", 8, 5, 3.0, 2.0),
        make("batch of two, N=2", 2, 4, -1.0, 1.5),
        make("tiny spread, std 1e-3", 7, 3, 0.5, 1e-3),
        make("large offset, x ≈ 1e4 with std 1e-2", 6, 3, 1e4, 1e-2, large_offset=True),
        make("float32 inputs", 16, 3, 2.0, 3.0, dtype=np.float32),
        constant,
    ]


def _reference_forward(case: BatchCase):
    from bnlib.batchnorm import batchnorm_forward

    return batchnorm_forward(case.x, case.gamma, case.beta, case.eps)


def _forward_variant(
    case: BatchCase, *, ddof=0, eps_inside=True, axis=0, power=0.5, swap=False, affine=True, naive_var=False
) -> np.ndarray:
    """Batch norm forward in float64 with one deliberate change (the defaults give the right answer)."""
    x = case.x.astype(np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    if naive_var:
        var = (x**2).mean(axis=axis, keepdims=True) - mean**2
    else:
        var = (
            ((x - mean) ** 2).sum(axis=axis, keepdims=True) / (x.shape[axis] - ddof)
            if axis is not None
            else (x.var())
        )
    denominator = (var + case.eps) ** power if eps_inside else var**power + case.eps
    x_hat = (x - mean) / denominator
    if not affine:
        return x_hat
    gamma, beta = (case.beta, case.gamma) if swap else (case.gamma, case.beta)
    return gamma * x_hat + beta


FORWARD_MISTAKES = [
    Mistake(
        "you used the unbiased variance (divide by N − 1). Normalizing uses the batch's own, biased variance "
        "(divide by N): np.var(x, axis=0), ddof=0. The unbiased one belongs to the running estimate (L8).",
        lambda case: (_forward_variant(case, ddof=1),),
    ),
    Mistake(
        "eps is outside the square root: divide by np.sqrt(var + eps), not np.sqrt(var) + eps.",
        lambda case: (_forward_variant(case, eps_inside=False),),
    ),
    Mistake(
        "you divided by the variance, not the standard deviation: x̂ = (x − mean) / np.sqrt(var + eps).",
        lambda case: (_forward_variant(case, power=1.0),),
    ),
    Mistake(
        "the statistics were taken over the wrong axis: across the features of each example (axis 1). Batch "
        "norm averages each feature over the mini-batch, axis 0 (L7).",
        lambda case: (_forward_variant(case, axis=1),),
    ),
    Mistake(
        "one mean and one variance for the whole batch: batch norm keeps one per feature, averaged over "
        "axis 0 (L7).",
        lambda case: (_forward_variant(case, axis=None),),
    ),
    Mistake(
        "γ and β are swapped: γ scales x̂ (it sets the spread), β is added (it sets the centre): "
        "out = gamma * x_hat + beta (L1).",
        lambda case: (_forward_variant(case, swap=True),),
    ),
    Mistake(
        "you returned x̂ without γ and β: out = gamma * x_hat + beta.",
        lambda case: (_forward_variant(case, affine=False),),
    ),
    Mistake(
        "var = mean(x²) − mean(x)² loses every digit when the values are large and their spread small "
        "(catastrophic cancellation); take the mean of the squared deviations, ((x − mean)**2).mean(axis=0).",
        lambda case: (_forward_variant(case, naive_var=True),),
    ),
]
# Raised for a failure on the large-offset case that matched no known mistake exactly.
LARGE_OFFSET_HINT = (
    "only the large-offset case fails, so the formula is right but it loses precision: with values near 1e4 "
    "and a spread of 1e-2, mean(x²) − mean(x)² cancels catastrophically. Subtract the mean first, then "
    "square: var = ((x − mean)**2).mean(axis=0)."
)


def _run_cases(name: str, cases: list, run_one: Callable[[object], CheckResult | None]) -> CheckResult:
    """Run cases in order; stop at the first failure, which run_one reports as (problems, hints)."""
    result = CheckResult(name, passed=True)
    for case in cases:
        outcome = run_one(case)
        if outcome is not None:
            problems, hints = outcome
            result.passed, result.failed_case, result.problems, result.hints = (
                False,
                case.label,
                problems,
                hints,
            )
            return result
        result.cases_passed.append(case.label)
    return result


def _failure_hints(got: tuple, case, mistakes: list[Mistake], expected: tuple) -> list[str]:
    hints = _matched_hints(got, case, mistakes, case.tol, expected)
    if not hints and getattr(case, "large_offset", False):
        hints = [LARGE_OFFSET_HINT]
    return hints


def _unchanged_inputs_problem(originals: dict[str, np.ndarray], arrays: dict) -> list[str]:
    changed = [name for name, original in originals.items() if not np.array_equal(arrays[name], original)]
    if not changed:
        return []
    return [
        f"your code changed its input(s) {', '.join(changed)} in place; the caller still needs them. "
        "Use x - mean (a new array), not x -= mean."
    ]


def check_batchnorm_forward(student_fn: Callable) -> CheckResult:
    """Check a batch-norm forward pass ``student_fn(x, gamma, beta, eps) -> (out, cache)``.

    x: (N, D); gamma, beta: (D,); out must equal γ·(x − mean)/sqrt(var + eps) + β with per-feature batch
    statistics (biased variance), in x's dtype. The cache is yours and is not inspected.
    """
    signature = "batchnorm_forward(x, gamma, beta, eps) -> (out, cache)"

    def run_one(case: BatchCase):
        arrays = {"x": case.x.copy(), "gamma": case.gamma.copy(), "beta": case.beta.copy()}
        try:
            returned = _call(
                student_fn, arrays["x"], arrays["gamma"], arrays["beta"], case.eps, signature=signature
            )
            out, _ = _as_tuple(returned, ("out", "cache"), "your forward")
        except _StudentRaised as raised:
            return [raised.problem], raised.hints
        expected, _ = _reference_forward(case)
        problems = _compare("out", out, expected, case.tol, layout="(N, D)", dtype=case.x.dtype)
        problems += _unchanged_inputs_problem({"x": case.x, "gamma": case.gamma, "beta": case.beta}, arrays)
        if problems:
            return problems, _failure_hints((out,), case, FORWARD_MISTAKES, (expected,))
        return None

    return _finish(_run_cases("batchnorm_forward", batch_cases(), run_one))


# ---------------------------------------------------------------------------------------------------------
# Backward


def _reference_backward(case: BatchCase):
    from bnlib.batchnorm import batchnorm_backward_compact

    _, cache = _reference_forward(case)
    return batchnorm_backward_compact(case.dout, cache)


def _backward_variant(
    case: BatchCase,
    *,
    sum_term=True,
    mean_term=True,
    gamma_in_dx=True,
    n_minus_one=False,
    swap_param_grads=False,
    dgamma_from_x=False,
):
    """(dx, dgamma, dbeta) in float64 with one deliberate change (the defaults give the right answer).

    dx = (γ·invstd) · (dy − mean(dy) − x̂·Σ(dy·x̂)/n) per feature, n = N.
    """
    x = case.x.astype(np.float64)
    dy = case.dout.astype(np.float64)
    n = x.shape[0]
    mean = x.mean(axis=0)
    invstd = 1.0 / np.sqrt(x.var(axis=0) + case.eps)
    x_hat = (x - mean) * invstd
    bracket = dy.copy()
    if mean_term:
        bracket -= dy.mean(axis=0)
    if sum_term:
        bracket -= x_hat * (dy * x_hat).sum(axis=0) / (n - 1 if n_minus_one else n)
    dx = (case.gamma if gamma_in_dx else 1.0) * invstd * bracket
    dgamma = (dy * (x if dgamma_from_x else x_hat)).sum(axis=0)
    dbeta = dy.sum(axis=0)
    if swap_param_grads:
        dgamma, dbeta = dbeta, dgamma
    return dx, dgamma, dbeta


BACKWARD_MISTAKES = [
    Mistake(
        "dx is missing the term −x̂·Σ(dy·x̂)/N, the path through the variance: x̂ depends on every example "
        "of the batch through var as well as through the mean (L11).",
        lambda case: _backward_variant(case, sum_term=False),
    ),
    Mistake(
        "dx is missing the term −mean(dy), the path through the mean: every x_i moves the batch mean (L11).",
        lambda case: _backward_variant(case, mean_term=False),
    ),
    Mistake(
        "dx treats the mean and the variance as constants (dx = γ·dy/sqrt(var + eps)); in training they are "
        "computed from the batch, so the gradient flows through them too (L11).",
        lambda case: _backward_variant(case, mean_term=False, sum_term=False),
    ),
    Mistake(
        "dx is missing the factor γ: the gradient reaching x̂ is dout·γ.",
        lambda case: _backward_variant(case, gamma_in_dx=False),
    ),
    Mistake(
        "the variance path divides by N − 1: the forward pass uses the biased variance (divide by N), so its "
        "derivative has 2/N: d var/d x_i = 2·(x_i − mean)/N.",
        lambda case: _backward_variant(case, n_minus_one=True),
    ),
    Mistake(
        "dgamma and dbeta are swapped: out = γ·x̂ + β, so dβ = Σ dout (a shift gets the plain sum) and "
        "dγ = Σ dout·x̂ (L12).",
        lambda case: _backward_variant(case, swap_param_grads=True),
    ),
    Mistake(
        "dgamma uses x instead of x̂: γ multiplies the normalized x̂, so dγ = Σ dout·x̂ (L12).",
        lambda case: _backward_variant(case, dgamma_from_x=True),
    ),
]


def check_batchnorm_backward(student_fn: Callable, forward_fn: Callable | None = None) -> CheckResult:
    """Check a batch-norm backward pass ``student_fn(dout, cache) -> (dx, dgamma, dbeta)``, staged or compact.

    forward_fn(x, gamma, beta, eps) -> (out, cache) makes the cache your backward reads; by default
    bnlib.batchnorm_forward, whose cache is a dict with ``mean``, ``centered``, ``var``, ``invstd``,
    ``x_hat``, ``gamma`` (statistics of shape (1, D)), ``eps`` and ``axes``. The forward is checked
    first, so a wrong forward is not blamed on the backward. dx: (N, D); dgamma, dbeta: (D,).
    """
    if forward_fn is None:
        from bnlib.batchnorm import batchnorm_forward as forward_fn
    signature = "backward(dout, cache) -> (dx, dgamma, dbeta)"
    names = ("dx", "dgamma", "dbeta")

    def run_one(case: BatchCase):
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
        expected_out, _ = _reference_forward(case)
        if _compare("out", out, expected_out, case.tol):
            return (
                ["the forward function gives a wrong output, so its cache cannot be trusted."],
                ["fix the forward first: run check_batchnorm_forward on it."],
            )
        try:
            got = _as_tuple(_call(student_fn, dout, cache, signature=signature), names, "your backward")
        except _StudentRaised as raised:
            return [raised.problem], raised.hints
        expected = _reference_backward(case)
        layouts = ("(N, D)", "(D,)", "(D,)")
        problems = [
            problem
            for name, g, e, layout in zip(names, got, expected, layouts, strict=True)
            for problem in _compare(name, g, e, case.tol, layout=layout, dtype=case.x.dtype)
        ]
        problems += _unchanged_inputs_problem({"dout": case.dout}, {"dout": dout})
        if problems:
            return problems, _failure_hints(got, case, BACKWARD_MISTAKES, expected)
        return None

    return _finish(_run_cases(getattr(student_fn, "__name__", "backward"), batch_cases(), run_one))


# ---------------------------------------------------------------------------------------------------------
# The layer: running statistics and eval mode


@dataclass(frozen=True)
class LayerStep:
    """One step of the layer scenario: a mode, an input, and what to read back."""

    label: str
    mode: str  # "train" or "eval"
    x: np.ndarray
    tol: Tolerance = FLOAT64_TOL


LAYER_FEATURES = 3
LAYER_MOMENTUM = 0.2  # not 0.5, so that a reversed momentum convention shows


def layer_scenario(seed: int = 1) -> tuple[np.ndarray, np.ndarray, list[LayerStep]]:
    """γ, β and the steps every layer check runs: train on two batches (one of N=2), eval, train again."""
    rng = np.random.default_rng(seed)
    gamma = rng.uniform(0.5, 2.0, LAYER_FEATURES)
    beta = rng.uniform(-1.0, 1.0, LAYER_FEATURES)

    def batch(n, loc=5.0, scale=3.0):
        return loc + scale * rng.standard_normal((n, LAYER_FEATURES))

    steps = [
        LayerStep("training batch 1 (N=8)", "train", batch(8)),
        LayerStep("training batch 2 (N=2)", "train", batch(2, loc=-2.0)),
        LayerStep("eval() on a batch (N=4)", "eval", batch(4)),
        LayerStep("eval() on a single example (N=1)", "eval", batch(1)),
        LayerStep("train() again (N=5)", "train", batch(5, loc=1.0)),
    ]
    return gamma, beta, steps


def _simulate_layer(
    gamma,
    beta,
    steps,
    *,
    momentum=LAYER_MOMENTUM,
    eps=1e-5,
    reverse_momentum=False,
    biased_running_var=False,
    eval_uses_batch=False,
    update_in_eval=False,
    no_update=False,
):
    """(out, running_mean, running_var) after each step, with one deliberate change (defaults are right)."""
    running_mean, running_var = np.zeros(len(gamma)), np.ones(len(gamma))
    weight_new = 1.0 - momentum if reverse_momentum else momentum
    outputs = []
    for step in steps:
        x = step.x
        use_batch = step.mode == "train" or eval_uses_batch
        mean, var = (x.mean(axis=0), x.var(axis=0)) if use_batch else (running_mean, running_var)
        out = gamma * (x - mean) / np.sqrt(var + eps) + beta
        if (step.mode == "train" or update_in_eval) and not no_update and len(x) > 1:  # N=1: no variance
            batch_var = x.var(axis=0, ddof=0 if biased_running_var else 1)
            running_mean = (1 - weight_new) * running_mean + weight_new * x.mean(axis=0)
            running_var = (1 - weight_new) * running_var + weight_new * batch_var
        outputs.append((out, running_mean.copy(), running_var.copy()))
    return outputs


def _layer_mistake(hint, **change):
    def variant(case):
        index, gamma, beta, steps = case.context
        return _simulate_layer(gamma, beta, steps, **change)[index]

    return Mistake(hint, variant)


LAYER_MISTAKES = [
    _layer_mistake(
        "the momentum convention is reversed: momentum is the weight of the *new* batch, "
        "running = (1 − momentum)·running + momentum·batch (PyTorch's convention).",
        reverse_momentum=True,
    ),
    _layer_mistake(
        "running_var uses the biased batch variance; the running estimate takes the unbiased one, "
        "var·N/(N − 1), as PyTorch does (L8). The normalization itself still uses the biased one.",
        biased_running_var=True,
    ),
    _layer_mistake(
        "in eval mode the layer still normalizes with the batch's statistics; it must use running_mean and "
        "running_var, so that one example on its own gets a meaningful output (L2).",
        eval_uses_batch=True,
    ),
    _layer_mistake(
        "the running statistics change in eval mode; only training batches update them.",
        update_in_eval=True,
    ),
    _layer_mistake(
        "the running statistics never change: update them on every training batch, "
        "running = (1 − momentum)·running + momentum·batch.",
        no_update=True,
    ),
]


class _LayerCase:
    """Adapts a layer step to _run_cases/_matched_hints: label, tolerance, and what a mistake needs."""

    def __init__(self, index, step, gamma, beta, steps):
        self.label, self.tol, self.context = step.label, step.tol, (index, gamma, beta, steps)


def check_batchnorm_layer(StudentClass) -> CheckResult:  # noqa: N803 - it is a class
    """Check a batch-norm layer class with running statistics and a train/eval switch.

    The check builds ``StudentClass(num_features, eps=1e-5, momentum=0.2)``, sets ``layer.gamma`` and
    ``layer.beta`` (arrays of shape (D,)), and then calls ``layer.train()`` / ``layer.eval()`` and
    ``layer(x)`` (or ``layer.forward(x)``) for x of shape (N, D), reading ``layer.running_mean`` and
    ``layer.running_var`` after each call. It expects PyTorch's semantics: running statistics start at 0 and
    1; each training batch updates them with running = (1 − momentum)·running + momentum·batch, running_var
    taking the unbiased batch variance; eval mode normalizes with the running statistics and changes nothing.
    """
    gamma, beta, steps = layer_scenario()
    expected_outputs = _reference_layer_outputs(gamma, beta, steps)
    names = ("output", "running_mean", "running_var")
    layouts = ("(N, D)", "(D,)", "(D,)")
    result = CheckResult(getattr(StudentClass, "__name__", "layer"), passed=True)

    def fail(label, problems, hints):
        result.passed, result.failed_case, result.problems, result.hints = False, label, problems, hints
        return _finish(result)

    try:
        layer = _call(
            StudentClass,
            LAYER_FEATURES,
            eps=1e-5,
            momentum=LAYER_MOMENTUM,
            signature=f"{StudentClass.__name__}(num_features, eps=1e-5, momentum=0.2)",
        )
        initial = [_read_attribute(layer, name) for name in ("running_mean", "running_var")]
    except _StudentRaised as raised:
        return fail("building the layer", [raised.problem], raised.hints)
    problems = [
        problem
        for name, got, start in zip(("running_mean", "running_var"), initial, (0.0, 1.0), strict=True)
        for problem in _compare(
            f"{name} of a new layer", got, np.full(LAYER_FEATURES, start), FLOAT64_TOL, layout="(D,)"
        )
    ]
    if problems:
        return fail(
            "building the layer", problems, ["a new layer starts with running_mean = 0 and running_var = 1."]
        )
    result.cases_passed.append("a new layer")
    layer.gamma, layer.beta = gamma.copy(), beta.copy()

    for index, step in enumerate(steps):
        try:
            _call(getattr(layer, step.mode), signature=f"layer.{step.mode}()")
            forward = layer if callable(layer) else _read_attribute(layer, "forward")
            out = _call(forward, step.x.copy(), signature="layer(x) -> out")
            got = (out, *(_read_attribute(layer, name) for name in ("running_mean", "running_var")))
        except _StudentRaised as raised:
            hints = raised.hints
            if step.mode == "eval" and len(step.x) == 1:
                hints = hints + [
                    "in eval mode use running_mean and running_var: one example has no batch statistics."
                ]
            return fail(step.label, [raised.problem], hints)
        problems = [
            problem
            for name, g, e, layout in zip(names, got, expected_outputs[index], layouts, strict=True)
            for problem in _compare(name, g, e, step.tol, layout=layout)
        ]
        if problems:
            case = _LayerCase(index, step, gamma, beta, steps)
            return fail(
                step.label,
                problems,
                _matched_hints(got, case, LAYER_MISTAKES, step.tol, expected_outputs[index]),
            )
        result.cases_passed.append(step.label)
    return _finish(result)


def _read_attribute(layer, name):
    try:
        return getattr(layer, name)
    except AttributeError:
        raise _StudentRaised(
            f"the layer has no attribute {name!r}",
            [
                f"store it on the layer as self.{name} (the check uses gamma, beta, "
                "running_mean, running_var)."
            ],
        ) from None


def _reference_layer_outputs(gamma, beta, steps):
    from bnlib.batchnorm import BatchNorm

    layer = BatchNorm(len(gamma), eps=1e-5, momentum=LAYER_MOMENTUM)
    layer.gamma, layer.beta = gamma.copy(), beta.copy()
    outputs = []
    for step in steps:
        getattr(layer, step.mode)()
        out = layer(step.x)
        outputs.append((out, layer.running_mean.copy(), layer.running_var.copy()))
    return outputs


# ---------------------------------------------------------------------------------------------------------
# Conditioning: κ of a data set, a learning rate that converges, the effect of standardizing


@dataclass(frozen=True)
class DataCase:
    """A design matrix X of shape (n, d) for the model ŷ = X·w (no intercept)."""

    label: str
    X: np.ndarray
    tol: Tolerance = Tolerance(rtol=1e-5, atol=0.0)


def _loss_of(X, y=None):
    from bnlib.surface import QuadraticLoss

    return QuadraticLoss.from_data(X, np.zeros(len(X)) if y is None else y)


def conditioning_cases() -> list[DataCase]:
    """Height/age data sets whose κ differ for different reasons: units, correlation, scales."""
    from bnlib.data import height_age
    from bnlib.transforms import standardize

    rng = np.random.default_rng(2)
    three = np.column_stack([rng.normal(170, 10, 50), rng.normal(45, 15, 50), rng.normal(0.0, 0.1, 50)])
    return [
        DataCase("height in cm, age in years", height_age().X),
        DataCase("height in m, age in years", height_age(height_unit="m").X),
        DataCase("correlated: correlation(height, age) = 0.6", height_age(correlation=0.6).X),
        DataCase("standardized, correlation 0.8", standardize(height_age(correlation=0.8).X)[0]),
        DataCase("three features of different scales", three),
    ]


def _kappa(matrix: np.ndarray) -> float:
    eigenvalues = np.linalg.eigvalsh(matrix)
    return float(eigenvalues[-1] / eigenvalues[0])


def _second_moments(case: DataCase) -> np.ndarray:
    return case.X.T @ case.X / len(case.X)


KAPPA_MISTAKES = [
    Mistake(
        "κ is λ_max / λ_min, at least 1; yours is its inverse.",
        lambda case: (1.0 / _loss_of(case.X).condition_number,),
    ),
    Mistake(
        "np.linalg.cond(X) is the ratio of X's singular values; the Hessian 2·XᵀX/n has their squares as "
        "eigenvalues, so κ = cond(X)².",
        lambda case: (np.sqrt(_loss_of(case.X).condition_number),),
    ),
    Mistake(
        "you centered the data (np.cov subtracts the means). The model ŷ = X·w has no intercept, so the "
        "Hessian is 2·XᵀX/n of the raw data: the feature means are part of what"
        " tilts and stretches the bowl.",
        lambda case: (_kappa(np.cov(case.X.T, bias=True)),),
    ),
    Mistake(
        "you took the ratio of the diagonal of XᵀX/n (each feature's own second moment): it ignores how the "
        "features vary together, which tilts the bowl. Use the eigenvalues of the whole matrix "
        "(np.linalg.eigvalsh) (L13).",
        lambda case: (float(np.diag(_second_moments(case)).max() / np.diag(_second_moments(case)).min()),),
    ),
]


def check_condition_number(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(X) -> κ``: the condition number of the mean-squared-error loss of ŷ = X·w.

    X: (n, d). κ = λ_max / λ_min of the Hessian 2·XᵀX/n (the same at every w, whatever y is).
    """

    def run_one(case: DataCase):
        X = case.X.copy()
        try:
            got = _call(student_fn, X, signature="condition_number(X) -> float")
        except _StudentRaised as raised:
            return [raised.problem], raised.hints
        expected = _loss_of(case.X).condition_number
        problems = _compare("κ", got, expected, case.tol)
        problems += _unchanged_inputs_problem({"X": case.X}, {"X": X})
        if problems:
            return problems, _matched_hints((got,), case, KAPPA_MISTAKES, case.tol, (expected,))
        return None

    return _finish(
        _run_cases(getattr(student_fn, "__name__", "condition_number"), conditioning_cases(), run_one)
    )


def check_learning_rate(lr, X, y, *, max_steps: int = 2000, rtol: float = 1e-6) -> CheckResult:
    """Check that gradient descent with step ``lr`` on the loss of ŷ = X·w, from w = 0, converges.

    lr: a positive number, or a function ``choose_learning_rate(X) -> lr`` (called with a copy of X).
    Converges means: the excess loss L(w) − L(w*) falls below rtol times its starting value within
    ``max_steps`` steps and stays there. X: (n, d); y: (n,).
    """
    from bnlib.surface import steps_to_converge

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    loss = _loss_of(X, y)
    label = f"gradient descent from w = 0, at most {max_steps} steps"
    name = getattr(lr, "__name__", "learning rate")

    def fail(problem, hint):
        return _finish(CheckResult(name, False, failed_case=label, problems=[problem], hints=[hint]))

    if callable(lr):
        try:
            lr = _call(lr, X.copy(), signature="choose_learning_rate(X) -> float")
        except _StudentRaised as raised:
            return fail(raised.problem, (raised.hints or ["see the traceback line above."])[0])
    if (
        isinstance(lr, bool)
        or not isinstance(lr, (int, float, np.floating, np.integer))
        or not np.isfinite(lr)
    ):
        return fail(f"the learning rate is {lr!r}, not a finite number.", "return a positive float.")
    if lr <= 0:
        return fail(f"η = {lr} is not positive.", "a step goes downhill only for η > 0.")
    steps = steps_to_converge(loss, np.zeros(loss.dim), float(lr), rtol=rtol, max_steps=max_steps)
    if steps is not None:
        return _finish(CheckResult(name, True, cases_passed=[f"η = {lr:.4g} converges in {steps} steps"]))
    lam_min, lam_max = loss.eigenvalues[0], loss.eigenvalues[-1]
    factor_steep, factor_flat = abs(1 - lr * lam_max), abs(1 - lr * lam_min)
    if factor_steep >= 1.0:
        return fail(
            f"η = {lr:.4g} diverges: along the steepest direction (λ_max = {lam_max:.4g}) the error is "
            f"multiplied by |1 − η·λ_max| = {factor_steep:.4g} ≥ 1 at every step.",
            "gradient descent is stable only for η < 2/λ_max; compute λ_max from the Hessian 2·XᵀX/n.",
        )
    return fail(
        f"η = {lr:.4g} is stable but too slow: along the flattest direction (λ_min = {lam_min:.4g}) the "
        f"error shrinks only by |1 − η·λ_min| = {factor_flat:.6f} per step: too little in {max_steps} steps.",
        "take a larger step, up to just below 2/λ_max; 2/(λ_min + λ_max) balances both directions.",
    )


@dataclass(frozen=True)
class CorrelationCase:
    """Height/age data with an exact sample correlation ρ, standardized."""

    label: str
    rho: float
    tol: Tolerance = Tolerance(rtol=1e-6, atol=0.0)


STANDARDIZED_KAPPA_MISTAKES = [
    Mistake(
        "standardizing makes each feature's variance 1 but keeps their correlation ρ: the bowl "
        "stays tilted, an "
        "ellipse (L13). XᵀX/n becomes [[1, ρ], [ρ, 1]], with eigenvalues 1 + ρ and 1 − ρ.",
        lambda case: (1.0,),
    ),
    Mistake(
        "for a negative correlation the eigenvalues 1 + ρ and 1 − ρ swap roles; κ = (1 + |ρ|)/(1 − |ρ|) ≥ 1.",
        lambda case: ((1 + case.rho) / (1 - case.rho),),
    ),
]


def check_kappa_after_standardizing(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(rho) -> κ``: the predicted κ of ŷ = Z·w once two features with correlation ρ are
    standardized, compared with κ measured on standardized height/age data whose correlation is exactly ρ.
    """
    from bnlib.data import height_age
    from bnlib.transforms import standardize

    cases = [CorrelationCase(f"ρ = {rho:+.2f}", rho) for rho in (0.0, 0.6, -0.8, 0.95)]

    def run_one(case: CorrelationCase):
        try:
            got = _call(student_fn, case.rho, signature="kappa_after_standardizing(rho) -> float")
        except _StudentRaised as raised:
            return [raised.problem], raised.hints
        measured = _loss_of(standardize(height_age(correlation=case.rho).X)[0]).condition_number
        problems = _compare("predicted κ", got, measured, case.tol)
        if problems:
            return problems, _matched_hints((got,), case, STANDARDIZED_KAPPA_MISTAKES, case.tol, (measured,))
        return None

    name = getattr(student_fn, "__name__", "kappa_after_standardizing")
    return _finish(_run_cases(name, cases, run_one))
