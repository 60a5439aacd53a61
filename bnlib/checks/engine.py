"""The engine under every exercise check: call the learner's code, compare, and explain in one sentence.

:func:`run_check` runs a :class:`Check` on its cases in order and stops at the first failing case. It is the
one place where anything the learner's code does — raise, return None, a tuple of the wrong length, an array
of the wrong shape or type, NaN — becomes a sentence about their code instead of a crash of the check.
Hints are earned, never guessed, and come in this order of preference:

1. a known mistake (:class:`Mistake`) whose output equals the learner's on this case;
2. the learner's results equal their results on an earlier case whose right answer differs: an ignored
   argument (when the case :class:`Variation` changes a single argument) or a value typed in;
3. on the large-offset case, loss of precision (mean(x²) − mean(x)² cancels);
4. the check's own advice for the case (e.g. the layer check's note on PyTorch's names);
5. "nearly right" when every error is small, with the relative error.

Numbers in feedback carry as many significant digits as it takes to tell the two apart (:func:`two_numbers`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnlib.checks.reading import LearnerError, as_output, shape_problem

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
    """Raised by a check whose case failed (an AssertionError, so nbgrader scores the cell as failed)."""

    def __init__(self, result: CheckResult):
        super().__init__("\n" + result.feedback)
        self.result = result


def finish(result: CheckResult) -> CheckResult:
    """Print the ✔ line and return the result, or raise CheckFailed with the feedback."""
    if not result.passed:
        raise CheckFailed(result)
    print(result.feedback)
    return result


# ---------------------------------------------------------------------------------------------------------
# Comparing


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
# Below this relative error a failing output is "nearly right" (a rounded constant, float32 arithmetic).
NEARLY_RIGHT = 1e-3


def two_numbers(got: float, expected: float, least: int = 5) -> tuple[str, str]:
    """got and expected with the same number of significant digits, as few as show them apart (≥ least).

    two_numbers(0.30012, 0.3) == ("0.30012", "0.30000"); 6 digits would show 1.0000012 and 1.0 both as "1".
    """
    for digits in range(least, 18):
        shown = tuple("0" if value == 0 else f"{value:#.{digits}g}" for value in (got, expected))
        if shown[0] != shown[1]:
            break
    return shown


def _value_problem(name: str, got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> str | None:
    """Where got and expected disagree: the worst entry, its error and the tolerance (None if they agree)."""
    got = got.astype(np.float64)
    allowed = tol.allowed(expected)
    with np.errstate(all="ignore"):
        error = np.abs(got - expected)
        ratio = np.where(error <= allowed, 0.0, np.where(np.isfinite(got), error / allowed, np.inf))
    if np.all(ratio <= 1.0):
        return None
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    g, e = float(got[worst]), float(expected[worst])
    shown_got, shown_expected = two_numbers(g, e)
    error = f"error {abs(g - e):.2e} > tolerance {float(allowed[worst]):.1e}"
    nonfinite = "" if np.isfinite(g) else " (not a finite number: a division by zero or an overflow?)"
    if expected.ndim == 0:
        return f"{name} is {shown_got} but should be {shown_expected} ({error}){nonfinite}."
    if expected.ndim <= 2:  # (D,) or (N, D): say which features
        off = np.flatnonzero((ratio > 1.0).reshape(-1, expected.shape[-1]).any(axis=0))
        where = f"example {worst[0]}, feature {worst[-1]}" if expected.ndim == 2 else f"feature {worst[-1]}"
        wrong = f"wrong in feature(s) {off.tolist()} of {expected.shape[-1]}"
    else:
        where = f"index {tuple(int(i) for i in worst)}"
        wrong = f"wrong in {int((ratio > 1.0).sum())} of {expected.size} entries"
    return (
        f"{name} is {wrong}; the largest error is at {where}: got {shown_got}, expected {shown_expected}, "
        f"{error}{nonfinite}."
    )


@dataclass(frozen=True)
class Output:
    """One thing a learner's code gives back. layout: the shape in words, e.g. "(N, D)"."""

    name: str
    layout: str = ""
    keep_dtype: bool = False  # float32 inputs must give float32 out


def compare(
    output: Output, got, expected, tol: Tolerance, *, batch_shape=None, dtype=None
) -> tuple[list[str], list[str]]:
    """(problems, hints) about one output: empty lists when it matches."""
    expected = np.asarray(expected, dtype=np.float64)
    array, problem, hint = as_output(output.name, got, expected.shape)
    if problem:
        return [problem], [hint] if hint else []
    if array.shape != expected.shape:
        problem, hint = shape_problem(output.name, array.shape, expected.shape, output.layout, batch_shape)
        return [problem], [hint] if hint else []
    problems = []
    if output.keep_dtype and dtype is not None and array.dtype != dtype:
        problems.append(
            f"{output.name} has dtype {array.dtype} but the inputs were {np.dtype(dtype).name}: keep the input "
            "dtype (an array made with np.zeros(shape), or an np.float64 constant, turns float32 into "
            "float64; use np.zeros_like(x) or dtype=x.dtype)."
        )
    value = _value_problem(output.name, array, expected, tol)
    return problems + ([value] if value else []), []


def close(got, reference, tol: Tolerance, factor: float = 1.0) -> bool:
    """True when got equals reference (same shape, values within factor × tol); False for anything odd."""
    try:
        got = np.asarray(got, dtype=np.float64)
        reference = np.asarray(reference, dtype=np.float64)
    except Exception:  # noqa: BLE001 - the learner's objects: ragged lists, tensors that need grad, …
        return False
    if got.shape != reference.shape:
        return False
    loose = Tolerance(tol.rtol * factor, tol.atol * factor)
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(got - reference) <= loose.allowed(reference)))


def _all_close(got: tuple, reference: tuple, tol: Tolerance, factor: float = 1.0) -> bool:
    return len(got) == len(reference) and all(
        close(g, r, tol, factor) for g, r in zip(got, reference, strict=True)
    )


# ---------------------------------------------------------------------------------------------------------
# Checks and their cases


@dataclass(frozen=True)
class Mistake:
    """A known wrong variant of the computation and the hint that goes with it.

    variant(case) computes the wrong outputs for a case, a tuple like the reference's (or None where the
    mistake does not apply).
    """

    hint: str
    variant: Callable


@dataclass(frozen=True)
class Variation:
    """A case that repeats an earlier case (base, its label) with one argument changed from before to after."""

    argument: str
    base: str
    before: Any
    after: Any
    given: str = "it is given"  # where the code finds the argument, for the hint


@dataclass
class Got:
    """What one case gave back: the outputs (a tuple) and the names of inputs the learner changed in place."""

    outputs: tuple
    changed_inputs: list[str] = field(default_factory=list)


@dataclass
class Check:
    """One exercise check: how to run the learner's code on a case, and what is right.

    Cases are objects with ``label`` and ``tol`` (a Tolerance) and optionally ``varies`` (a Variation),
    ``batch_shape`` ((N, D) of the batch passed), ``dtype`` (of the inputs), ``large_offset`` (values near
    1e4 with a small spread) and ``outputs`` (their own Output tuple, instead of the check's).

    run(case) -> Got: calls the learner's code (through call_learner, which raises LearnerError).
    expected(case) -> tuple of the right outputs.
    advice(case, got) -> hints the check adds when nothing more specific explains a failure (got is None
    when the learner's code raised).
    judge(case, got) -> (problems, hints) replaces the comparison with expected, for checks whose answer is
    not a value (a learning rate that must converge).
    """

    name: str
    outputs: tuple[Output, ...]
    run: Callable[[Any], Got]
    expected: Callable[[Any], tuple] | None = None
    mistakes: Sequence[Mistake] = ()
    advice: Callable[[Any, Got | None], list[str]] | None = None
    judge: Callable[[Any, Got], tuple[list[str], list[str]]] | None = None


LARGE_OFFSET_HINT = (
    "only the large-offset case fails, so the formula is right but it loses precision: with values near 1e4 "
    "and a spread of 1e-2, mean(x²) − mean(x)² cancels catastrophically. Subtract the mean first, then "
    "square: var = ((x − mean)**2).mean(axis=0)."
)


def run_check(check: Check, cases: Sequence) -> CheckResult:
    """Run the cases in order; print ✔ and return the result, or raise CheckFailed at the first failure."""
    result = CheckResult(check.name, passed=True)
    earlier: dict[str, tuple[tuple, tuple]] = {}  # label -> (the learner's outputs, the right ones)
    for case in cases:
        problems, hints, record = _run_case(check, case, earlier)
        if problems:
            result.passed, result.failed_case = False, case.label
            result.problems, result.hints = problems, list(dict.fromkeys(hints))
            break
        result.cases_passed.append(case.label)
        earlier[case.label] = record
    return finish(result)


def _run_case(check: Check, case, earlier: dict) -> tuple[list[str], list[str], tuple]:
    """(problems, hints, (outputs, expected)) for one case; empty problems when it passes."""
    try:
        got = check.run(case)
    except LearnerError as error:  # the one place where the learner's code failing becomes feedback
        return [error.problem], error.hints + _advice(check, case, None), ((), ())
    if check.judge is not None:
        problems, hints = check.judge(case, got)
        return problems, hints, (got.outputs, ())
    expected = check.expected(case)
    outputs = getattr(case, "outputs", None) or check.outputs
    if len(got.outputs) != len(outputs):
        raise RuntimeError(f"the check {check.name} read {len(got.outputs)} outputs, expected {len(outputs)}")
    problems, hints = [], []
    for output, g, e in zip(outputs, got.outputs, expected, strict=True):
        more_problems, more_hints = compare(
            output,
            g,
            e,
            case.tol,
            batch_shape=getattr(case, "batch_shape", None),
            dtype=getattr(case, "dtype", None),
        )
        problems += more_problems
        hints += more_hints
    if got.changed_inputs:
        problems.append(
            f"your code changed its input(s) {', '.join(got.changed_inputs)} in place; the caller still needs "
            "them. Use x - mean (a new array), not x -= mean."
        )
    if problems and not hints:
        hints = _explain(check, case, got, expected, earlier)
    return problems, hints, (got.outputs, expected)


def _explain(check: Check, case, got: Got, expected: tuple, earlier: dict) -> list[str]:
    """The most specific earned hint for a failing case (see the module docstring for the order)."""
    hints = []
    for mistake in check.mistakes:
        with np.errstate(all="ignore"):
            wrong = mistake.variant(case)
        # A mistake that changes nothing on this case says nothing about the learner's code.
        if wrong is None or _all_close(expected, wrong, case.tol, MISTAKE_MATCH_FACTOR):
            continue
        if _all_close(got.outputs, wrong, case.tol, MISTAKE_MATCH_FACTOR):
            hints.append(mistake.hint)
    if hints:
        return hints
    repeat = _repeated_answer_hint(case, got, expected, earlier)
    if repeat:
        return [repeat]
    if getattr(case, "large_offset", False):
        return [LARGE_OFFSET_HINT]
    advice = _advice(check, case, got)
    if advice:
        return advice
    return _nearly_right_hint(got, expected, case.tol)


def _repeated_answer_hint(case, got: Got, expected: tuple, earlier: dict) -> str | None:
    """The learner's outputs equal those of an earlier case whose right answer differs."""
    variation: Variation | None = getattr(case, "varies", None)
    for label, (earlier_got, earlier_expected) in earlier.items():
        if variation is not None and label != variation.base:
            continue
        if not _all_close(got.outputs, earlier_got, case.tol) or _all_close(
            expected, earlier_expected, case.tol
        ):
            continue
        if variation is not None:
            return (
                f"your results did not change when only {variation.argument} changed, from {variation.before!r} "
                f"(case '{label}') to {variation.after!r}: your code does not use the {variation.argument} "
                f"{variation.given} (is a constant standing in for it?)."
            )
        return (
            f"your code gave the same answer here as for case '{label}', whose right answer is different: "
            "compute it from the input instead of typing in a value (one copied from an earlier run?)."
        )
    return None


def _advice(check: Check, case, got: Got | None) -> list[str]:
    try:
        return check.advice(case, got) if check.advice else []
    except Exception:  # noqa: BLE001 - advice reads the learner's objects; it must never crash the check
        return []


def _nearly_right_hint(got: Got, expected: tuple, tol: Tolerance) -> list[str]:
    if _all_close(got.outputs, expected, tol):  # the values are right; the problem is elsewhere (dtype, …)
        return []
    worst = 0.0
    for g, e in zip(got.outputs, expected, strict=True):
        if not close(g, e, Tolerance(NEARLY_RIGHT, tol.atol)):
            return []
        e = np.asarray(e, dtype=np.float64)
        scale = np.maximum(np.abs(e), tol.atol / NEARLY_RIGHT)
        with np.errstate(all="ignore"):
            worst = max(
                worst, float(np.max(np.abs(np.asarray(g, dtype=np.float64) - e) / scale, initial=0.0))
            )
    return [
        f"nearly right: the largest relative error is {worst:.1e}, above the tolerance {tol.rtol:.0e}. Look "
        "for a rounded constant, a step done in float32, or a small term (such as eps) in the wrong place."
    ]
