"""Reading what a learner's code gave back: whatever it is, either an array to compare or a sentence.

None, a tuple of the wrong length, a list, text, a torch tensor, an array of shape (1,) where one number was
expected: each gets a sentence that names what came back and what was expected, with the fix. Shape
feedback names both shapes and reasons from the shape received (never "use axis 0" to someone who did).
"""

from __future__ import annotations

import numpy as np


class LearnerError(Exception):
    """The learner's code raised, or gave back something unusable: a sentence about it, and hints."""

    def __init__(self, problem: str, hints: list[str] | None = None):
        super().__init__(problem)
        self.problem = problem
        self.hints = list(hints or [])


def describe(value) -> str:
    """A few words for any object: 'None', 'the number 0.5', 'an array of shape (8, 5)', 'a Tensor'."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return f"{value!r}, a bool"
    if isinstance(value, (int, np.integer)):
        return f"the number {int(value)}"
    if isinstance(value, (float, np.floating)):
        return f"the number {float(value):.6g}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {text!r}"
    if isinstance(value, np.ndarray):
        kind = "" if value.dtype.kind in "fiu" else f" of dtype {value.dtype}"
        return f"an array of shape {value.shape}{kind}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    return f"a {type(value).__name__}"


def unpack(value, names: tuple[str, ...], who: str) -> tuple:
    """The learner's returned value as a tuple of len(names) items, or a LearnerError saying what it is."""
    wanted = f"({', '.join(names)})"
    if value is None:
        raise LearnerError(
            f"{who} returned None",
            [f"did you forget the return statement? It must end with: return {', '.join(names)}."],
        )
    if isinstance(value, (tuple, list)):
        if len(value) == len(names):
            return tuple(value)
        raise LearnerError(
            f"{who} returned {describe(value)}; it must return {len(names)}: {wanted}",
            [f"return exactly {len(names)} values, in this order: return {', '.join(names)}."],
        )
    raise LearnerError(
        f"{who} returned {describe(value)}, not the tuple {wanted}",
        [f"return all {len(names)} values, separated by commas: return {', '.join(names)}."],
    )


_TYPE_HINTS = {
    "list": "make it a numpy array: compute it with numpy operations, or wrap it in np.array(...).",
    "tuple": "make it a numpy array: compute it with numpy operations, or wrap it in np.array(...).",
    "Tensor": "this exercise works in numpy: convert with tensor.detach().numpy(), or compute it with numpy.",
    "str": "return the number itself, not text: str() and f-strings make text.",
}


def as_output(name: str, got, expected_shape: tuple) -> tuple[np.ndarray | None, str | None, str | None]:
    """(array, None, None) when got can be compared with an expected array of expected_shape, else
    (None, problem, hint): a sentence about what got is, and the fix.

    A number is expected when expected_shape is (): Python and numpy numbers and 0-d arrays pass, and an
    array of any other shape is returned for the shape comparison to explain. Otherwise got must be a numpy
    array.
    """
    wanted = "a number" if expected_shape == () else f"a numpy array of shape {expected_shape}"
    type_name = type(got).__name__
    if got is None:
        return (
            None,
            f"{name} is None; expected {wanted}.",
            (f"{name} was never given a value: is a return statement or an assignment to {name} missing?"),
        )
    if isinstance(got, (bool, np.bool_)) or isinstance(got, str):
        return None, f"{name} is {describe(got)}; expected {wanted}.", _TYPE_HINTS.get(type_name)
    if expected_shape != () and not isinstance(got, np.ndarray):
        return None, f"{name} is {describe(got)}; expected {wanted}.", _TYPE_HINTS.get(type_name)
    try:
        array = np.asarray(got)
    except Exception:  # noqa: BLE001 - ragged lists, tensors that need grad, odd objects
        return (
            None,
            f"{name} is {describe(got)}, which numpy cannot read as numbers; expected {wanted}.",
            (_TYPE_HINTS.get(type_name)),
        )
    if array.dtype.kind not in "fiu":
        problem = f"{name} is {describe(got)}, of dtype {array.dtype}; expected {wanted} of floats."
        if array.dtype.kind == "c":
            return None, problem, "complex numbers come from a square root or power of a negative number."
        return None, problem, _TYPE_HINTS.get(type_name)
    return array, None, None


def shape_problem(name: str, got: tuple, expected: tuple, layout: str = "", batch_shape=None):
    """('dgamma has shape (8,) but should have shape (5,) (D,).', what the shape received says, or None).

    batch_shape: (N, D) of the input batch, to tell a sum over the wrong axis from other shapes.
    """
    if expected == ():
        size = int(np.prod(got))
        problem = f"{name} has shape {got} but should be a single number (shape ())."
        if size == 1:
            return problem, (
                "it is one number inside an array: return the number itself, e.g. float(value) or value.item() "
                "(a reduction with keepdims=True, or np.array([...]), wraps it in an array)."
            )
        return problem, f"it holds {size} numbers; the answer is one number for the whole input."
    problem = f"{name} has shape {got} but should have shape {expected}{' ' + layout if layout else ''}."
    return problem, _shape_advice(got, expected, batch_shape)


def _shape_advice(got: tuple, expected: tuple, batch_shape) -> str | None:
    """What the received shape means, and the fix; None when the shape says nothing more."""
    if batch_shape is None or len(batch_shape) != 2:
        return None
    n, d = batch_shape
    if expected == (d,):
        if got == (n, d):
            return "it still has one row per example: sum (or average) it over the batch, axis 0."
        if got == (n,):
            return (
                f"that is one value per example (N = {n}): the sum ran across the features, axis 1. One value "
                "per feature comes from a sum over the batch, axis 0."
            )
        if got == (1, d):
            return (
                f"it has a leading axis of length 1 (a sum with keepdims=True, or a (1, D) statistic, gives "
                f"this shape): make it shape ({d},), e.g. with .reshape({d})."
            )
        if got == (d, 1):
            return f"it is a column: make it shape ({d},), e.g. with .reshape({d})."
        if got == ():
            return (
                "it is one number for the whole batch: batch norm keeps one value per feature (axis 0 only)."
            )
    if expected == (n, d):
        if got == (d, n):
            return "it is transposed: rows must be the examples and columns the features, like x."
        if len(got) < 2 or got[0] == 1 or got[-1] == 1:
            return "it must have one value per example and feature: the shape of x."
    return None
