"""The exercise checks pass correct code however it is written, and fail wrong code with its own hint.

The wrong code is the catalogue in wrong_implementations.py: every known mistake and every rule the checks
keep, each written as a learner would write it. The correct implementations here are independent of bnlib
(torch, loops, other numpy calls), so a check that compared internals instead of behaviour would fail them.
"""

import re
from functools import cache

import numpy as np
import pytest
from wrong_implementations import CATALOGUE, RULES

from bnlib import checks
from bnlib.checks import CheckFailed, backward, conditioning, forward, layer, spatial_and_layer_norm
from bnlib.data import height_age


def failure(check, *args):
    """Run a check that must fail; return its CheckResult."""
    with pytest.raises(CheckFailed) as info:
        check(*args)
    assert isinstance(info.value, AssertionError)  # nbgrader scores an AssertionError as a failed test
    return info.value.result


def assert_single_hint(result, expected_hint):
    assert not result.passed
    assert len(result.hints) == 1, f"expected one hint about {expected_hint!r}, got:\n{result.feedback}"
    assert expected_hint in result.hints[0], result.feedback


# ------------------------------------------------------------------------------------------ forward


def forward_correct(x, gamma, beta, eps):
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta, None


def forward_with_loops(x, gamma, beta, eps):
    """Correct, written feature by feature with Python loops and keepdims-free statistics."""
    out = np.empty_like(x)
    for j in range(x.shape[1]):
        column = x[:, j]
        centered = column - np.mean(column)
        out[:, j] = gamma[j] * centered / np.sqrt(np.var(column) + eps) + beta[j]
    return out, {"anything": "the cache is the learner's own"}


def forward_with_torch(x, gamma, beta, eps):
    """Correct, by PyTorch's own batch norm."""
    import torch

    out = torch.nn.functional.batch_norm(
        torch.from_numpy(x),
        None,
        None,
        torch.from_numpy(gamma),
        torch.from_numpy(beta),
        training=True,
        eps=eps,
    )
    return out.numpy(), None


@pytest.mark.parametrize("forward", [forward_correct, forward_with_loops, forward_with_torch])
def test_correct_forwards_pass_however_written(forward, capsys):
    result = checks.check_batchnorm_forward(forward)
    assert result.passed and len(result.cases_passed) == len(checks.batch_cases())
    assert "✔" in capsys.readouterr().out


def test_bnlib_reference_passes_every_batchnorm_check(capsys):
    import bnlib

    assert checks.check_batchnorm_forward(bnlib.batchnorm_forward)
    assert checks.check_batchnorm_backward(bnlib.batchnorm_backward)
    assert checks.check_batchnorm_backward(bnlib.batchnorm_backward_compact)
    assert checks.check_batchnorm_layer(bnlib.BatchNorm)


def test_wrong_output_says_which_output_feature_and_tolerance():
    result = outcome("forward: unbiased variance")
    assert result.failed_case == checks.batch_cases()[0].label
    (problem,) = result.problems
    assert problem.startswith("out is wrong in feature(s) [")
    assert "largest error is at example" in problem and "> tolerance" in problem


def test_axis_without_keepdims_is_reported_with_the_learners_line():
    result = outcome("forward: variance across the features, mean right")
    assert "ValueError" in result.problems[0]
    assert (
        "in forward_mean0_var1: return gamma * (x - mean) / np.sqrt(var + eps) + beta, None"
        in result.problems[0]
    )
    assert "shapes (8, 5) and (8,)" in result.hints[0]


def test_unfilled_function_gets_feedback_not_a_crash():
    def forward(x, gamma, beta, eps=1e-5):
        # YOUR CODE HERE
        raise NotImplementedError()

    result = failure(checks.check_batchnorm_forward, forward)
    assert "NotImplementedError" in result.problems[0] and "raise NotImplementedError()" in result.problems[0]
    assert "replace `raise NotImplementedError()`" in result.hints[0]
    assert "Hint:" in result.feedback


def test_an_exception_inside_numpy_points_at_the_learners_own_line():
    def statistics(x):
        return np.mean(x, axis=2)  # numpy raises AxisError from its own code

    def forward(x, gamma, beta, eps):
        return statistics(x), None

    result = failure(checks.check_batchnorm_forward, forward)
    assert "AxisError" in result.problems[0]
    assert "in statistics: return np.mean(x, axis=2)" in result.problems[0]


def test_wrong_dtype_and_in_place_edit_are_named():
    def float64_out(x, gamma, beta, eps):
        out = np.zeros(x.shape)
        out[:] = forward_correct(x, gamma, beta, eps)[0]
        return out, None

    result = failure(checks.check_batchnorm_forward, float64_out)
    assert result.failed_case == "float32 inputs" and "dtype float64" in result.problems[0]
    assert result.hints == []  # no known mistake is claimed when none explains the values

    def in_place(x, gamma, beta, eps):
        x -= x.mean(axis=0)
        return gamma * x / np.sqrt(x.var(axis=0) + eps) + beta, None

    result = failure(checks.check_batchnorm_forward, in_place)
    assert any("changed its input(s) x in place" in problem for problem in result.problems)


# ------------------------------------------------------------------------------------------ backward


def backward_with_torch_autograd(dout, cache):
    """Correct, by autograd through PyTorch's batch norm; the cache is this test's own (x, gamma, beta, eps)."""
    import torch

    x, gamma, beta = (torch.tensor(value, requires_grad=True) for value in cache[:3])
    eps = cache[3]
    out = torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    out.backward(torch.from_numpy(dout))
    return x.grad.numpy(), gamma.grad.numpy(), beta.grad.numpy()


def forward_keeping_inputs(x, gamma, beta, eps):
    return forward_correct(x, gamma, beta, eps)[0], (x, gamma, beta, eps)


def test_independent_backward_passes():
    result = checks.check_batchnorm_backward(backward_with_torch_autograd, forward_fn=forward_keeping_inputs)
    assert result.passed


def test_a_wrong_forward_is_not_blamed_on_the_backward():
    wrong_forward = CATALOGUE["forward: unbiased variance"].code

    def forward(x, gamma, beta, eps):
        return wrong_forward(x, gamma, beta, eps)[0], (x, gamma, beta, eps)

    result = failure(checks.check_batchnorm_backward, backward_with_torch_autograd, forward)
    assert "forward function gives a wrong output" in result.problems[0]
    assert "check_batchnorm_forward" in result.hints[0]


# ------------------------------------------------------------------------------------------ layer


class TorchBackedLayer:
    """Correct, by wrapping torch.nn.BatchNorm1d behind the exercise's attribute names."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        import torch

        self.torch = torch
        self.module = torch.nn.BatchNorm1d(num_features, eps=eps, momentum=momentum, dtype=torch.float64)

    def _parameter(self, name):
        return getattr(self.module, name).detach().numpy().copy()

    def _set_parameter(self, name, value):
        with self.torch.no_grad():
            getattr(self.module, name).copy_(self.torch.from_numpy(np.asarray(value, dtype=np.float64)))

    gamma = property(lambda self: self._parameter("weight"), lambda self, v: self._set_parameter("weight", v))
    beta = property(lambda self: self._parameter("bias"), lambda self, v: self._set_parameter("bias", v))
    running_mean = property(lambda self: self.module.running_mean.numpy().copy())
    running_var = property(lambda self: self.module.running_var.numpy().copy())

    def train(self):
        self.module.train()

    def eval(self):
        self.module.eval()

    def __call__(self, x):
        with self.torch.no_grad():
            return self.module(self.torch.from_numpy(x)).numpy()


def test_torch_backed_layer_passes():
    assert checks.check_batchnorm_layer(TorchBackedLayer).passed


def test_layer_that_cannot_be_built_or_lacks_an_attribute_gets_feedback():
    class Unfilled:
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            raise NotImplementedError()

    result = failure(checks.check_batchnorm_layer, Unfilled)
    assert result.failed_case.startswith("a new layer") and "NotImplementedError" in result.problems[0]

    class NoRunningVar:
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            self.gamma, self.beta = np.ones(num_features), np.zeros(num_features)
            self.running_mean = np.zeros(num_features)

    result = failure(checks.check_batchnorm_layer, NoRunningVar)
    assert "no attribute 'running_var'" in result.problems[0]


# ------------------------------------------------------------------------------------------ variance, conditioning


def test_variance_written_differently_passes():
    assert checks.check_variance(lambda v: float(np.mean(np.square(v - np.mean(v)))))
    assert checks.check_variance(lambda v: sum((value - sum(v) / len(v)) ** 2 for value in v) / len(v))


def kappa_correct(X):
    eigenvalues = np.linalg.eigvalsh(X.T @ X)
    return eigenvalues[-1] / eigenvalues[0]


def test_condition_number_written_differently_passes():
    assert checks.check_condition_number(kappa_correct)
    assert checks.check_condition_number(lambda X: np.linalg.cond(X) ** 2)  # κ of XᵀX is cond(X) squared


def test_learning_rate_feedback_names_divergence_and_slowness():
    data = height_age()
    lam_max = np.linalg.eigvalsh(2 * data.X.T @ data.X / data.n)[-1]
    assert checks.check_learning_rate(1.9 / lam_max, data.X, data.y)  # a number: the notebook's data only
    assert checks.check_learning_rate(
        lambda X: 1.9 / np.linalg.eigvalsh(2 * X.T @ X / len(X))[-1], data.X, data.y
    )
    result = failure(checks.check_learning_rate, 2.1 / lam_max, data.X, data.y)
    assert "diverges" in result.problems[0] and "2/λ_max" in result.hints[0]
    result = failure(checks.check_learning_rate, 1e-3 / lam_max, data.X, data.y)
    assert "too slow" in result.problems[0]


def test_kappa_after_standardizing_passes_when_right():
    assert checks.check_kappa_after_standardizing(lambda rho: (1 + abs(rho)) / (1 - abs(rho)))


# ------------------------------------------------------------------------------------------ the catalogue


@cache
def outcome(name):
    """The CheckResult of a catalogue entry (each entry runs once per test run)."""
    entry = CATALOGUE[name]
    return failure(entry.check, entry.code, *entry.args)


@pytest.mark.parametrize("name", CATALOGUE)
def test_each_wrong_implementation_fails_with_its_own_hint(name):
    entry, result = CATALOGUE[name], outcome(name)
    assert_single_hint(result, entry.hint)
    assert result.problems and all(problem.strip() for problem in result.problems)
    if entry.case is not None:
        assert result.failed_case == entry.case, result.feedback
    for phrase in entry.not_said:
        assert phrase not in result.feedback, (
            f"the feedback tells the learner to do what they did:\n{result.feedback}"
        )
    if entry.shapes is not None:
        received, expected = entry.shapes
        assert f"shape {received} but should" in result.problems[0] and f"{expected}" in result.problems[0]


def test_the_catalogue_covers_every_rule_and_every_known_mistake():
    assert {entry.rule for entry in CATALOGUE.values()} == set(RULES)
    given = {hint for name in CATALOGUE for hint in outcome(name).hints}
    mistakes = [
        *forward.VARIANCE_MISTAKES,
        *forward.FORWARD_MISTAKES,
        *backward.BACKWARD_MISTAKES,
        *layer.LAYER_MISTAKES,
        *conditioning.KAPPA_MISTAKES,
        *conditioning.STANDARDIZED_KAPPA_MISTAKES,
        *spatial_and_layer_norm.SPATIAL_FORWARD_MISTAKES,
        *spatial_and_layer_norm.SPATIAL_BACKWARD_MISTAKES,
        *spatial_and_layer_norm.LAYER_FORWARD_MISTAKES,
        *spatial_and_layer_norm.LAYER_BACKWARD_MISTAKES,
    ]
    missing = [mistake.hint for mistake in mistakes if mistake.hint not in given]
    assert not missing, f"known mistakes without a wrong implementation in the catalogue: {missing}"


def test_no_two_wrong_implementations_get_the_same_hint():
    """Only the same slip in two exercises (a list for an array, one number in an array) shares a sentence."""
    by_hint = {}
    for name in CATALOGUE:
        by_hint.setdefault(outcome(name).hints[0], []).append(name)
    for names in by_hint.values():
        rules = {CATALOGUE[name].rule for name in names}
        assert len(names) == 1 or rules <= {"wrong type", "(1,)-shaped array"}, names


NUMBER = r"(-?[0-9.]+(?:e[-+][0-9]+)?)"
NUMBER_PAIRS = re.compile(rf"(?:got|is) {NUMBER},? (?:expected|but should be) {NUMBER}")


def significant_digits(number: str) -> int:
    return len(number.lstrip("-").split("e")[0].replace(".", "").lstrip("0"))


def test_numbers_in_feedback_show_the_difference():
    pairs = [pair for name in CATALOGUE for pair in NUMBER_PAIRS.findall(outcome(name).feedback)]
    assert len(pairs) > 20
    for got, expected in pairs:
        assert got != expected, (got, expected)
        if float(got) != 0 and float(expected) != 0:
            assert significant_digits(got) == significant_digits(expected) >= 5, (got, expected)
    # The digits entries differ in the 6th or 7th significant digit, which six digits would hide.
    for name in ("variance: off in the 7th digit", "κ after standardizing: a tiny term in the denominator"):
        ((got, expected),) = NUMBER_PAIRS.findall(outcome(name).feedback)
        assert float(got) != float(expected)
        assert f"{float(got):.5g}" == f"{float(expected):.5g}", (got, expected)


def test_no_wrong_implementation_crashes_a_check():
    """A check raises only CheckFailed, whatever the code gives back (outcome() would let anything else out)."""
    assert all(isinstance(outcome(name), checks.CheckResult) for name in CATALOGUE)


class Unreadable:
    """An object numpy cannot read: its __array__ raises."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array here")


ODD_VALUES = {
    "None": None,
    "a bool": True,
    "text": "0.5",
    "a dict": {"out": 1.0},
    "an object": object(),
    "an unreadable object": Unreadable(),
    "a ragged list": [[1.0], [1.0, 2.0]],
    "a tuple of three numbers": (1.0, 2.0, 3.0),
    "an empty tuple": (),
    "a (1,)-shaped array": np.array([1.0]),
    "an array of text": np.array(["a", "b"]),
    "complex numbers": np.array([1 + 1j]),
    "NaN": float("nan"),
    "a generator": (value for value in range(3)),
}


def _odd_layer(value):
    class OddLayer:
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            self.gamma, self.beta = value, value
            self.running_mean, self.running_var = np.zeros(num_features), value

        def train(self):
            return value

        eval = train

        def __call__(self, x):
            return value

    return OddLayer


@pytest.mark.parametrize("name", ODD_VALUES)
def test_no_check_crashes_whatever_comes_back(name):
    """Each check answers an odd return value with a sentence (CheckFailed), on its own or inside a tuple."""
    value, data = ODD_VALUES[name], height_age()
    calls = [
        (checks.check_variance, lambda v: value),
        (checks.check_batchnorm_forward, lambda x, gamma, beta, eps: value),
        (checks.check_batchnorm_forward, lambda x, gamma, beta, eps: (value, None)),
        (checks.check_batchnorm_backward, lambda dout, cache: value),
        (checks.check_batchnorm_backward, lambda dout, cache: (value, value, value)),
        (checks.check_batchnorm_layer, _odd_layer(value)),
        (checks.check_condition_number, lambda X: value),
        (checks.check_kappa_after_standardizing, lambda rho: value),
        (lambda fn: checks.check_learning_rate(fn, data.X, data.y), lambda X: value),
        (lambda fn: checks.check_learning_rate(value, data.X, data.y), None),
        (checks.check_variance, value),  # given the value instead of a function
    ]
    for check, code in calls:
        result = failure(check, code)
        assert result.problems and result.problems[0].strip(), result.feedback


# ------------------------------------------------------------------------------------------ the mistakes themselves


def test_known_mistakes_differ_from_the_reference_only_where_they_should():
    """With every switch off, the mistake simulators equal bnlib, so each hint is earned by one change."""
    import bnlib

    for case in checks.batch_cases():
        expected_out, cache_ = bnlib.batchnorm_forward(case.x, case.gamma, case.beta, case.eps)
        np.testing.assert_allclose(forward.forward_variant(case), expected_out, rtol=1e-4, atol=1e-4)
        expected_grads = bnlib.batchnorm_backward(case.dout, cache_)
        for got, expected in zip(backward.backward_variant(case), expected_grads, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    for step in checks.layer_steps():
        if step.action == "build":
            continue
        simulated, reference = layer.simulate_layer(step.config, step.history), layer.reference_layer(step)
        for got, expected in zip(simulated, reference, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
