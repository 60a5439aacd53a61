"""Checks for the exercises: run a learner's code on several cases and say precisely what is wrong.

Each ``check_*`` function calls the learner's function (or class) on a handful of cases, including awkward
ones (a batch of two, features at 1e4 with a spread of 1e-2, float32, a constant feature, a second data set,
the same input with one argument changed), and compares what comes back with bnlib's reference. It tests
behaviour only: any correct implementation passes, however it is written.

On success it prints a one-line ✔ summary and returns a :class:`CheckResult`. On failure it raises
:class:`CheckFailed` (an ``AssertionError``, so nbgrader scores the cell as failed) whose message says which
case failed, which output and which feature is off, by how much against the tolerance (with enough digits
to see the difference), and a hint. The hint is earned: the learner's output is compared with the output of
each known mistake (unbiased variance, eps outside the square root, momentum reversed, …), and with their
own output on earlier cases (an ignored argument, a number typed in). Whatever the learner's code does —
raise, return None, a tuple of the wrong length, a list, an array of the wrong shape — the answer is a
sentence about their code, never a crash of the check.

Modules:
    engine        CheckResult, CheckFailed, Check, run_check: runs cases, compares, picks the hint
    reading       turns whatever came back into an array or a sentence (types, tuples, shapes)
    forward       exercise 1: check_variance, check_batchnorm_forward, and the batch cases
    backward      exercise 2: check_batchnorm_backward
    layer         exercise 3: check_batchnorm_layer
    conditioning  exercise 4: check_condition_number, check_learning_rate, check_kappa_after_standardizing
    spatial_and_layer_norm  exercise 5: check_spatial_batchnorm_forward/backward, check_layernorm_forward/backward

Adding the checks of a new exercise is one new module here, say ``spatial.py``:

1. Cases: a dataclass with ``label`` and ``tol`` (a :class:`Tolerance`); add ``batch_shape`` ((N, D), for
   shape feedback), ``dtype`` (when the output must keep the input's dtype) and ``large_offset`` as they
   apply. Put the notebook's own example first, then a second data set; and for every argument the
   learner's function takes, a case that repeats an earlier one with only that argument changed,
   ``varies=Variation("eps", base_label, 1e-5, 0.1)``, so that code ignoring it fails with a hint naming it.
2. The reference: ``expected(case) -> tuple`` of the right outputs, from bnlib.
3. Known mistakes: ``Mistake(hint, variant)``, where ``variant(case)`` computes the outputs of one
   wrong-but-plausible version (write one simulator with switches, defaults right, as forward.py does).
4. The check: ``run(case) -> Got`` calls the learner through ``call_learner(fn, *args, signature=…)``
   (never directly: it turns exceptions into feedback) and unpacks tuples with ``reading.unpack``; then
   ``return run_check(Check(name, outputs, run, expected, mistakes), cases)``. No try/except of your own:
   the engine handles everything the learner's code can do.
5. Export the ``check_*`` functions below, and add at least one entry per mistake and per rule to the
   catalogue of wrong implementations, tests/wrong_implementations.py.

Used by notebooks/exercises/ex1_… to ex5_….
"""

from bnlib.checks.backward import check_batchnorm_backward
from bnlib.checks.conditioning import (
    check_condition_number,
    check_kappa_after_standardizing,
    check_learning_rate,
    conditioning_cases,
)
from bnlib.checks.engine import FLOAT32_TOL, FLOAT64_TOL, CheckFailed, CheckResult, Mistake, Tolerance
from bnlib.checks.forward import batch_cases, check_batchnorm_forward, check_variance
from bnlib.checks.layer import check_batchnorm_layer, layer_steps
from bnlib.checks.spatial_and_layer_norm import (
    check_layernorm_backward,
    check_layernorm_forward,
    check_spatial_batchnorm_backward,
    check_spatial_batchnorm_forward,
)

__all__ = [
    "FLOAT32_TOL",
    "FLOAT64_TOL",
    "CheckFailed",
    "CheckResult",
    "Mistake",
    "Tolerance",
    "batch_cases",
    "check_batchnorm_backward",
    "check_batchnorm_forward",
    "check_batchnorm_layer",
    "check_condition_number",
    "check_kappa_after_standardizing",
    "check_layernorm_backward",
    "check_layernorm_forward",
    "check_learning_rate",
    "check_spatial_batchnorm_backward",
    "check_spatial_batchnorm_forward",
    "check_variance",
    "conditioning_cases",
    "layer_steps",
]
