"""Calling the learner's code: any exception becomes a sentence naming their own line, with a hint.

Every check calls learner code only through :func:`call_learner`, so no check needs a try/except of its own.
"""

from __future__ import annotations

import os
import re
import sysconfig
import traceback
from collections.abc import Callable

import numpy as np

try:
    from numpy.exceptions import AxisError
except ImportError:  # numpy < 1.25
    from numpy import AxisError

from bnlib.checks.reading import LearnerError, describe

# Frames from these folders are libraries (numpy, the standard library, bnlib); the learner's line is the
# deepest frame outside them.
_LIBRARY_DIRS = tuple(
    os.path.realpath(path) + os.sep
    for path in {
        os.path.dirname(np.__file__),
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["purelib"],
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),  # bnlib/
    }
)


def _learner_line(exc: BaseException) -> str:
    """'line 7 in batchnorm_forward: var = x.var(axis=1)' for the learner's own line that raised."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # the first frame is call_learner's own
    own = [f for f in frames if not os.path.realpath(f.filename).startswith(_LIBRARY_DIRS)]
    frame = (own or frames or [None])[-1]
    if frame is None:
        return ""
    return f"line {frame.lineno} in {frame.name}: {(frame.line or '').strip()}"


_SHAPES_IN_MESSAGE = re.compile(r"\(([\d,\s]*)\)")


def _broadcast_hint(message: str, batch_shape: tuple | None) -> str:
    """What a numpy broadcast error says about the learner's shapes, from the shapes in its message."""
    shapes = [
        tuple(int(n) for n in group.replace(" ", "").split(",") if n)
        for group in _SHAPES_IN_MESSAGE.findall(message.split("shapes", 1)[-1])
    ]
    shown = " and ".join(str(s) for s in shapes) or "two arrays"
    if batch_shape is not None and len(batch_shape) == 2:  # (N, D); other layouts get the shapes only
        n, d = batch_shape
        if (n,) in shapes:
            return (
                f"numpy could not line up arrays of shapes {shown}. An array of shape ({n},) has one value per "
                f"example (N = {n}): a statistic taken across the features, axis 1. Batch norm takes each "
                f"feature's statistics across the batch, axis 0, giving one per feature: shape ({d},)."
            )
        if (d, n) in shapes:
            return f"numpy could not line up arrays of shapes {shown}: one of them is transposed, (D, N)."
    return f"numpy could not line up arrays of shapes {shown}: print the shape of each array in that line."


def _exception_hints(exc: BaseException, signature: str, batch_shape: tuple | None) -> list[str]:
    """Hints for the exceptions learners meet most, keyed on the exception itself."""
    message = str(exc).strip()
    if isinstance(exc, NotImplementedError):
        return [
            "the function still raises NotImplementedError: replace `raise NotImplementedError()` with code."
        ]
    if isinstance(exc, AxisError) and batch_shape is not None:
        axes = (
            "0 (the examples) and 1 (the features)"
            if len(batch_shape) == 2
            else f"0 to {len(batch_shape) - 1}"
        )
        return [f"{message}: x of shape {batch_shape} has axes {axes}, nothing more."]
    if isinstance(exc, ValueError) and "broadcast" in message:
        return [_broadcast_hint(message, batch_shape)]
    if isinstance(exc, TypeError) and ("argument" in message or "positional" in message):
        return [f"the check calls your code as {signature}; make the signature match."]
    if isinstance(exc, (ZeroDivisionError, FloatingPointError)):
        return [
            "a division by zero: add eps inside the square root, sqrt(var + eps), so constant features are safe."
        ]
    return []


def call_learner(fn: Callable, *args, signature: str, batch_shape: tuple | None = None, **kwargs):
    """Call the learner's fn; any exception becomes a LearnerError naming their line, with a hint.

    batch_shape: (N, D) of the batch being passed, so that a broadcast error can be explained in its terms.
    """
    if not callable(fn):
        name = signature.split("(")[0]
        raise LearnerError(
            f"the check was given {describe(fn)}, which cannot be called as {signature}",
            [
                f"pass {name} itself, without calling it (no parentheses after {name}): the check calls it for you."
            ],
        )
    try:
        with np.errstate(all="ignore"):  # NaN and inf are reported by the comparison, not as warnings
            return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any error in the learner's code becomes feedback
        line = _learner_line(exc)
        where = f" at {line}" if line else ""
        text = f": {str(exc).strip()}" if str(exc).strip() else ""
        raise LearnerError(
            f"your code raised {type(exc).__name__}{text}{where}",
            _safe_hints(exc, signature, batch_shape),
        ) from None


def _safe_hints(exc: BaseException, signature: str, batch_shape: tuple | None) -> list[str]:
    try:  # reading an odd exception's message must not crash the check
        return _exception_hints(exc, signature, batch_shape)
    except Exception:  # noqa: BLE001
        return []


def changed_in_place(originals: dict[str, np.ndarray], passed: dict[str, np.ndarray]) -> list[str]:
    """Names of the input arrays the learner's code changed in place (passed are the copies it received)."""
    return [name for name, original in originals.items() if not np.array_equal(passed[name], original)]
