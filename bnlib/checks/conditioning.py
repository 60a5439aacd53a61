"""Exercise 4 (ex4_conditioning): κ of a data set, a learning rate that converges, κ after standardizing.

Each check runs the notebook's own data first and then other data sets, so that a number typed in from
the notebook fails on the second one, with a hint that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bnlib.checks.calling import call_learner, changed_in_place
from bnlib.checks.engine import (
    Check,
    CheckResult,
    Got,
    Mistake,
    Output,
    Tolerance,
    run_check,
    two_numbers,
)
from bnlib.checks.reading import as_output, shape_problem


def _loss_of(X, y=None):
    from bnlib.surface import QuadraticLoss

    return QuadraticLoss.from_data(X, np.zeros(len(X)) if y is None else y)


# ---------------------------------------------------------------------------------------------------------
# κ of a data set


@dataclass(frozen=True)
class DataCase:
    """A design matrix X of shape (n, d) for the model ŷ = X·w (no intercept)."""

    label: str
    X: np.ndarray
    tol: Tolerance = Tolerance(rtol=1e-5, atol=0.0)


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


def _diagonal_ratio(X: np.ndarray) -> float:
    second_moments = (X**2).mean(axis=0)
    return float(second_moments.max() / second_moments.min())


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
        "Hessian is 2·XᵀX/n of the raw data: the feature means are part of what tilts and stretches the bowl.",
        lambda case: (_kappa(np.cov(case.X.T, bias=True)),),
    ),
    Mistake(
        "you took the ratio of the diagonal of XᵀX/n (each feature's own second moment): it ignores how the "
        "features vary together, which tilts the bowl. Use the eigenvalues of the whole matrix "
        "(np.linalg.eigvalsh) (L13).",
        lambda case: (_diagonal_ratio(case.X),),
    ),
]


def check_condition_number(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(X) -> κ``: the condition number of the mean-squared-error loss of ŷ = X·w.

    X: (n, d). κ = λ_max / λ_min of the Hessian 2·XᵀX/n (the same at every w, whatever y is).
    """

    def run(case: DataCase) -> Got:
        X = case.X.copy()
        got = call_learner(student_fn, X, signature="condition_number(X) -> float")
        return Got((got,), changed_in_place({"X": case.X}, {"X": X}))

    check = Check(
        name=getattr(student_fn, "__name__", "condition_number"),
        outputs=(Output("κ"),),
        run=run,
        expected=lambda case: (_loss_of(case.X).condition_number,),
        mistakes=KAPPA_MISTAKES,
    )
    return run_check(check, conditioning_cases())


# ---------------------------------------------------------------------------------------------------------
# A learning rate that converges


@dataclass
class LearningRateCase:
    """Data X (n, d), y (n,) on which gradient descent from w = 0 must converge; the label grows the result."""

    label: str
    X: np.ndarray
    y: np.ndarray


def _second_learning_rate_case() -> LearningRateCase:
    """Standardized, correlated height and age: its best η is ~10⁵ times the raw data's."""
    from bnlib.data import height_age
    from bnlib.transforms import standardize

    data = height_age(correlation=0.6)
    return LearningRateCase(
        "a second data set: height and age standardized, correlation 0.6",
        standardize(data.X)[0],
        data.y - data.y.mean(),
    )


def _as_learning_rate(value) -> tuple[float | None, str | None, str | None]:
    """(η, None, None) for a usable learning rate, else (None, problem, hint)."""
    array, problem, hint = as_output("the learning rate", value, ())
    if problem:
        return None, problem, hint or "return one positive number, computed from X."
    if array.shape != ():
        problem, _ = shape_problem("the learning rate", array.shape, ())
        return None, problem, "η is one number: return it as a float, e.g. float(eta) or eta.item()."
    lr = float(array)
    if not np.isfinite(lr):
        return None, f"the learning rate is {lr}, not a finite number.", "a division by zero, or an overflow?"
    if lr <= 0:
        return None, f"η = {lr} is not positive.", "a step goes downhill only for η > 0."
    return lr, None, None


def check_learning_rate(lr, X, y, *, max_steps: int = 2000, rtol: float = 1e-6) -> CheckResult:
    """Check that gradient descent with step ``lr`` on the loss of ŷ = X·w, from w = 0, converges.

    lr: a positive number, or a function ``choose_learning_rate(X) -> lr`` (called with a copy of X, and
    then on a second data set of very different curvature, so that a number typed in fails).
    Converges means: the excess loss L(w) − L(w*) falls below rtol times its starting value within
    ``max_steps`` steps and stays there. X: (n, d); y: (n,).
    """
    from bnlib.surface import steps_to_converge

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    cases = [LearningRateCase(f"your data, gradient descent from w = 0, at most {max_steps} steps", X, y)]
    if callable(lr):
        cases.append(_second_learning_rate_case())
    chosen: dict[str, float] = {}

    def run(case: LearningRateCase) -> Got:
        if not callable(lr):
            return Got((lr,))
        return Got((call_learner(lr, case.X.copy(), signature="choose_learning_rate(X) -> float"),))

    def judge(case: LearningRateCase, got: Got) -> tuple[list[str], list[str]]:
        value, problem, hint = _as_learning_rate(got.outputs[0])
        if problem:
            return [problem], [hint]
        loss = _loss_of(case.X, case.y)
        steps = steps_to_converge(loss, np.zeros(loss.dim), value, rtol=rtol, max_steps=max_steps)
        if steps is not None:
            chosen[case.label] = value
            case.label += f": η = {value:.5g} converges in {steps} steps"
            return [], []
        problem, hint = _why_not_converging(loss, value, max_steps)
        same = [label for label, earlier in chosen.items() if earlier == value]
        if same:
            hint = (
                f"your function returned the same η = {value:.5g} for this data set as for '{same[0]}', whose "
                "curvatures are very different: compute η from X (its Hessian 2·XᵀX/n), do not type in a number."
            )
        return [problem], [hint]

    check = Check(name=getattr(lr, "__name__", "learning rate"), outputs=(Output("η"),), run=run, judge=judge)
    return run_check(check, cases)


def _why_not_converging(loss, lr: float, max_steps: int) -> tuple[str, str]:
    lam_min, lam_max = loss.eigenvalues[0], loss.eigenvalues[-1]
    factor_steep, factor_flat = abs(1 - lr * lam_max), abs(1 - lr * lam_min)
    if factor_steep >= 1.0:
        shown_lr, shown_limit = two_numbers(lr, 2 / lam_max)
        return (
            f"η = {shown_lr} diverges: it is above the stability limit 2/λ_max = {shown_limit} "
            f"(λ_max = {lam_max:.5g}), so along the steepest direction the error is multiplied by "
            f"|1 − η·λ_max| = {two_numbers(factor_steep, 1.0)[0]} ≥ 1 at every step.",
            "gradient descent is stable only for η < 2/λ_max; compute λ_max from the Hessian 2·XᵀX/n.",
        )
    return (
        f"η = {lr:.5g} is stable but too slow: along the flattest direction (λ_min = {lam_min:.5g}) the "
        f"error shrinks only by |1 − η·λ_min| = {two_numbers(factor_flat, 1.0)[0]} per step: too little in "
        f"{max_steps} steps.",
        "take a larger step, up to just below 2/λ_max; 2/(λ_min + λ_max) balances both directions.",
    )


# ---------------------------------------------------------------------------------------------------------
# κ after standardizing, predicted from the correlation alone


@dataclass(frozen=True)
class CorrelationCase:
    """Height/age data with an exact sample correlation ρ, standardized."""

    label: str
    rho: float
    tol: Tolerance = Tolerance(rtol=1e-6, atol=0.0)


STANDARDIZED_KAPPA_MISTAKES = [
    Mistake(
        "standardizing makes each feature's variance 1 but keeps their correlation ρ: the bowl stays tilted, an "
        "ellipse (L13). XᵀX/n becomes [[1, ρ], [ρ, 1]], with eigenvalues 1 + ρ and 1 − ρ.",
        lambda case: (1.0,),
    ),
    Mistake(
        "for a negative correlation the eigenvalues 1 + ρ and 1 − ρ swap roles; κ = (1 + |ρ|)/(1 − |ρ|) ≥ 1.",
        lambda case: ((1 + case.rho) / (1 - case.rho),),
    ),
]


def _measured_kappa(case: CorrelationCase) -> tuple[float]:
    from bnlib.data import height_age
    from bnlib.transforms import standardize

    return (_loss_of(standardize(height_age(correlation=case.rho).X)[0]).condition_number,)


def check_kappa_after_standardizing(student_fn: Callable) -> CheckResult:
    """Check ``student_fn(rho) -> κ``: the predicted κ of ŷ = Z·w once two features with correlation ρ are
    standardized, compared with κ measured on standardized height/age data whose correlation is exactly ρ.
    The notebook's ρ = 0.6 comes first, so that a value typed in from it fails on the next ρ.
    """

    def run(case: CorrelationCase) -> Got:
        return Got((call_learner(student_fn, case.rho, signature="kappa_after_standardizing(rho) -> float"),))

    check = Check(
        name=getattr(student_fn, "__name__", "kappa_after_standardizing"),
        outputs=(Output("predicted κ"),),
        run=run,
        expected=_measured_kappa,
        mistakes=STANDARDIZED_KAPPA_MISTAKES,
    )
    return run_check(check, [CorrelationCase(f"ρ = {rho:+.2f}", rho) for rho in (0.6, 0.0, -0.8, 0.95)])
