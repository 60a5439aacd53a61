"""Exercise 2 (ex2_batchnorm_backward): the batch-norm backward pass, staged or compact.

Runs on the forward check's batch cases; the learner's own forward makes the cache their backward reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from bnlib.checks.calling import call_learner, changed_in_place
from bnlib.checks.engine import (
    Check,
    CheckResult,
    Got,
    Mistake,
    Output,
    close,
    run_check,
)
from bnlib.checks.forward import BatchCase, batch_cases, reference_forward
from bnlib.checks.reading import LearnerError, unpack


def reference_backward(case: BatchCase):
    """bnlib's (dx, dgamma, dbeta) for a case."""
    from bnlib.batchnorm import batchnorm_backward_compact

    _, cache = reference_forward(case)
    return batchnorm_backward_compact(case.dout, cache)


def backward_variant(
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


def _backward_mistake(hint: str, **change) -> Mistake:
    return Mistake(hint, lambda case: backward_variant(case, **change))


BACKWARD_MISTAKES = [
    _backward_mistake(
        "dx is missing the term −x̂·Σ(dy·x̂)/N, the path through the variance: x̂ depends on every example "
        "of the batch through var as well as through the mean (L11).",
        sum_term=False,
    ),
    _backward_mistake(
        "dx is missing the term −mean(dy), the path through the mean: every x_i moves the batch mean (L11).",
        mean_term=False,
    ),
    _backward_mistake(
        "dx treats the mean and the variance as constants (dx = γ·dy/sqrt(var + eps)); in training they are "
        "computed from the batch, so the gradient flows through them too (L11).",
        mean_term=False,
        sum_term=False,
    ),
    _backward_mistake("dx is missing the factor γ: the gradient reaching x̂ is dout·γ.", gamma_in_dx=False),
    _backward_mistake(
        "the variance path divides by N − 1: the forward pass uses the biased variance (divide by N), so its "
        "derivative has 2/N: d var/d x_i = 2·(x_i − mean)/N.",
        n_minus_one=True,
    ),
    _backward_mistake(
        "dgamma and dbeta are swapped: out = γ·x̂ + β, so dβ = Σ dout (a shift gets the plain sum) and "
        "dγ = Σ dout·x̂ (L12).",
        swap_param_grads=True,
    ),
    _backward_mistake(
        "dgamma uses x instead of x̂: γ multiplies the normalized x̂, so dγ = Σ dout·x̂ (L12).",
        dgamma_from_x=True,
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
    return backward_check(
        student_fn,
        forward_fn,
        batch_cases(),
        (reference_forward, reference_backward),
        BACKWARD_MISTAKES,
        layouts=("(N, D)", "(D,)"),
        label="backward",
        name=getattr(student_fn, "__name__", "backward"),
        fix_forward_hint="fix the forward first: run check_batchnorm_forward on it.",
    )


def backward_check(
    student_fn: Callable,
    forward_fn: Callable,
    cases,
    references,
    mistakes,
    *,
    layouts: tuple[str, str],
    label: str,
    name: str,
    fix_forward_hint: str,
) -> CheckResult:
    """Check a learner's ``backward(dout, cache) -> (dx, dgamma, dbeta)`` on the cache their own forward makes.

    The forward runs first on each case and must give the reference output (``references``: the forward and
    the backward reference, each taking a case), so a wrong forward is not blamed on the backward.
    ``layouts``: the shapes of dx and of dgamma/dbeta, e.g. ("(N, D)", "(D,)"); ``label``: how messages
    name the learner's function; ``name``: the check's name.
    """
    forward_reference, backward_reference = references

    def run(case) -> Got:
        try:
            returned = call_learner(
                forward_fn,
                case.x.copy(),
                case.gamma.copy(),
                case.beta.copy(),
                case.eps,
                signature="forward(x, gamma, beta, eps) -> (out, cache)",
                batch_shape=case.batch_shape,
            )
            out, cache = unpack(returned, ("out", "cache"), "the forward function")
        except LearnerError as error:
            raise LearnerError(f"in the forward function: {error.problem}", error.hints) from None
        if not close(out, forward_reference(case)[0], case.tol):
            raise LearnerError(
                "the forward function gives a wrong output, so its cache cannot be trusted",
                [fix_forward_hint],
            )
        dout = case.dout.copy()
        returned = call_learner(
            student_fn,
            dout,
            cache,
            signature=f"{label}(dout, cache) -> (dx, dgamma, dbeta)",
            batch_shape=case.batch_shape,
        )
        got = unpack(returned, ("dx", "dgamma", "dbeta"), f"your {label}")
        return Got(got, changed_in_place({"dout": case.dout}, {"dout": dout}))

    x_layout, parameter_layout = layouts
    check = Check(
        name=name,
        outputs=(
            Output("dx", x_layout, keep_dtype=True),
            Output("dgamma", parameter_layout, keep_dtype=True),
            Output("dbeta", parameter_layout, keep_dtype=True),
        ),
        run=run,
        expected=backward_reference,
        mistakes=mistakes,
    )
    # The backward finds eps in the cache, not among its arguments.
    cases = [
        dataclasses.replace(case, varies=dataclasses.replace(case.varies, given="its cache holds"))
        if case.varies
        else case
        for case in cases
    ]
    return run_check(check, cases)
