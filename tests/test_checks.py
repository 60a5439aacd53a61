"""The exercise checks pass correct code however it is written, and name the mistake in wrong code.

Each common mistake is written here as a learner would write it, and the check must give exactly the hint
for that mistake. The alternative correct implementations are independent of bnlib (torch, loops, other
numpy calls), so a check that compared internals instead of behaviour would fail them.
"""

import numpy as np
import pytest

from bnlib import checks
from bnlib.checks import CheckFailed
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
        torch.from_numpy(x), None, None, torch.from_numpy(gamma), torch.from_numpy(beta), training=True, eps=eps
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


def _forward_mistake(statistics=lambda x: (x.mean(0), x.var(0)), normalize=None, affine=None):
    def forward(x, gamma, beta, eps):
        mean, var = statistics(x)
        x_hat = (x - mean) / np.sqrt(var + eps) if normalize is None else normalize(x, mean, var, eps)
        return (gamma * x_hat + beta if affine is None else affine(x_hat, gamma, beta)), None

    return forward


FORWARD_MISTAKES = {
    "unbiased variance": (_forward_mistake(statistics=lambda x: (x.mean(0), x.var(0, ddof=1))), "unbiased"),
    "eps outside the root": (
        _forward_mistake(normalize=lambda x, m, v, eps: (x - m) / (np.sqrt(v) + eps)),
        "eps is outside the square root",
    ),
    "divided by the variance": (
        _forward_mistake(normalize=lambda x, m, v, eps: (x - m) / (v + eps)),
        "divided by the variance",
    ),
    "axis 1 with keepdims": (
        _forward_mistake(statistics=lambda x: (x.mean(1, keepdims=True), x.var(1, keepdims=True))),
        "wrong axis",
    ),
    "one mean for the whole batch": (_forward_mistake(statistics=lambda x: (x.mean(), x.var())), "whole batch"),
    "gamma and beta swapped": (_forward_mistake(affine=lambda x_hat, g, b: b * x_hat + g), "swapped"),
    "no gamma and beta": (_forward_mistake(affine=lambda x_hat, g, b: x_hat), "without γ and β"),
    "E[x²] − E[x]²": (
        _forward_mistake(statistics=lambda x: (x.mean(0), (x * x).mean(0) - x.mean(0) ** 2)),
        "catastrophic",
    ),
}


@pytest.mark.parametrize("name", FORWARD_MISTAKES)
def test_each_forward_mistake_gets_its_hint(name):
    forward, hint = FORWARD_MISTAKES[name]
    assert_single_hint(failure(checks.check_batchnorm_forward, forward), hint)


def test_wrong_output_says_which_output_feature_and_tolerance():
    forward, _ = FORWARD_MISTAKES["unbiased variance"]
    result = failure(checks.check_batchnorm_forward, forward)
    assert result.failed_case == checks.batch_cases()[0].label
    (problem,) = result.problems
    assert problem.startswith("out is wrong in feature(s) [")
    assert "largest error is at example" in problem and "> tolerance" in problem


def test_axis_without_keepdims_is_reported_with_the_learners_line():
    def forward(x, gamma, beta, eps):
        mean = x.mean(axis=1)
        return (x - mean) / np.sqrt(x.var(axis=1) + eps), None

    result = failure(checks.check_batchnorm_forward, forward)
    assert "ValueError" in result.problems[0] and "return (x - mean) / np.sqrt(x.var(axis=1) + eps), None" in (
        result.problems[0]
    )
    assert "x.mean(axis=0)" in result.hints[0]


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


def test_forgotten_return_and_wrong_dtype_and_in_place_edit_are_named():
    result = failure(checks.check_batchnorm_forward, lambda x, gamma, beta, eps: None)
    assert "returned None" in result.problems[0] and "return statement" in result.hints[0]

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


def _backward_mistake(**change):
    def backward(dout, cache):
        x, gamma, _, eps = cache
        n, mean = len(x), x.mean(0)
        invstd = 1 / np.sqrt(x.var(0) + eps)
        x_hat = (x - mean) * invstd
        bracket = dout.copy()
        if change.get("mean_term", True):
            bracket -= dout.mean(0)
        if change.get("sum_term", True):
            bracket -= x_hat * (dout * x_hat).sum(0) / (n - 1 if change.get("n_minus_one") else n)
        dx = (1.0 if change.get("no_gamma") else gamma) * invstd * bracket
        dgamma = (dout * (x if change.get("dgamma_from_x") else x_hat)).sum(axis=change.get("param_axis", 0))
        dbeta = dout.sum(0)
        return (dx, dbeta, dgamma) if change.get("swap") else (dx, dgamma, dbeta)

    return backward


BACKWARD_MISTAKES = {
    "forgot Σ(dy·x̂)": (dict(sum_term=False), "Σ(dy·x̂)"),
    "forgot the mean term": (dict(mean_term=False), "−mean(dy)"),
    "statistics as constants": (dict(mean_term=False, sum_term=False), "as constants"),
    "no gamma in dx": (dict(no_gamma=True), "missing the factor γ"),
    "N − 1 in the variance path": (dict(n_minus_one=True), "divides by N − 1"),
    "dgamma and dbeta swapped": (dict(swap=True), "swapped"),
    "dgamma from x": (dict(dgamma_from_x=True), "x instead of x̂"),
}


@pytest.mark.parametrize("name", BACKWARD_MISTAKES)
def test_each_backward_mistake_gets_its_hint(name):
    change, hint = BACKWARD_MISTAKES[name]
    result = failure(checks.check_batchnorm_backward, _backward_mistake(**change), forward_keeping_inputs)
    assert_single_hint(result, hint)


def test_backward_summed_over_the_wrong_axis_says_so_in_the_shape_message():
    result = failure(checks.check_batchnorm_backward, _backward_mistake(param_axis=1), forward_keeping_inputs)
    assert "dgamma has shape (8,) but should have shape (5,)" in result.problems[0]
    assert "reduce over axis 0, not axis 1" in result.problems[0]


def test_a_wrong_forward_is_not_blamed_on_the_backward():
    wrong_forward, _ = FORWARD_MISTAKES["unbiased variance"]

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


def _layer_with(*, reverse_momentum=False, biased=False, eval_uses_batch=False, update_in_eval=False, frozen=False):
    class Layer:
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            self.eps, self.momentum, self.training = eps, momentum, True
            self.gamma, self.beta = np.ones(num_features), np.zeros(num_features)
            self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)

        def train(self):
            self.training = True

        def eval(self):
            self.training = False

        def __call__(self, x):
            batch_stats = self.training or eval_uses_batch
            mean, var = (x.mean(0), x.var(0)) if batch_stats else (self.running_mean, self.running_var)
            out = self.gamma * (x - mean) / np.sqrt(var + self.eps) + self.beta
            if (self.training or update_in_eval) and not frozen:
                m = 1 - self.momentum if reverse_momentum else self.momentum
                self.running_mean = (1 - m) * self.running_mean + m * x.mean(0)
                self.running_var = (1 - m) * self.running_var + m * x.var(0, ddof=0 if biased else 1)
            return out

    return Layer


def test_the_layer_template_is_right_when_no_mistake_is_switched_on():
    assert checks.check_batchnorm_layer(_layer_with()).passed


LAYER_MISTAKES = {
    "momentum reversed": (dict(reverse_momentum=True), "momentum convention is reversed"),
    "running_var biased": (dict(biased=True), "biased batch variance"),
    "eval uses batch statistics": (dict(eval_uses_batch=True), "still normalizes with the batch"),
    "running stats updated in eval": (dict(update_in_eval=True), "change in eval mode"),
    "running stats never updated": (dict(frozen=True), "never change"),
}


@pytest.mark.parametrize("name", LAYER_MISTAKES)
def test_each_layer_mistake_gets_its_hint(name):
    change, hint = LAYER_MISTAKES[name]
    assert_single_hint(failure(checks.check_batchnorm_layer, _layer_with(**change)), hint)


def test_layer_that_cannot_be_built_or_lacks_an_attribute_gets_feedback():
    class Unfilled:
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            raise NotImplementedError()

    result = failure(checks.check_batchnorm_layer, Unfilled)
    assert result.failed_case == "building the layer" and "NotImplementedError" in result.problems[0]

    class NoRunningVar:
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            self.running_mean = np.zeros(num_features)

    result = failure(checks.check_batchnorm_layer, NoRunningVar)
    assert "no attribute 'running_var'" in result.problems[0]


# ------------------------------------------------------------------------------------------ variance, conditioning


@pytest.mark.parametrize(
    "variance, hint",
    [
        (lambda v: (v[0] - v.mean()) ** 2 / len(v) + ((v[1:] - v.mean()) ** 2).sum(), "whole sum"),
        (lambda v: np.var(v, ddof=1), "N − 1"),
        (lambda v: np.std(v), "standard deviation"),
        (lambda v: (v**2).mean() - v.mean() ** 2, "cancels catastrophically"),
    ],
)
def test_variance_mistakes(variance, hint):
    assert_single_hint(failure(checks.check_variance, variance), hint)


def test_variance_written_differently_passes():
    assert checks.check_variance(lambda v: float(np.mean(np.square(v - np.mean(v)))))
    assert checks.check_variance(lambda v: sum((value - sum(v) / len(v)) ** 2 for value in v) / len(v))


def kappa_correct(X):
    eigenvalues = np.linalg.eigvalsh(X.T @ X)
    return eigenvalues[-1] / eigenvalues[0]


@pytest.mark.parametrize(
    "kappa, hint",
    [
        (lambda X: 1 / kappa_correct(X), "inverse"),
        (lambda X: np.linalg.cond(X), "cond(X)²"),
        (lambda X: kappa_correct(X - X.mean(axis=0)), "centered the data"),
        (lambda X: (X**2).mean(0).max() / (X**2).mean(0).min(), "diagonal"),
    ],
)
def test_condition_number_mistakes(kappa, hint):
    assert_single_hint(failure(checks.check_condition_number, kappa), hint)


def test_condition_number_written_differently_passes():
    assert checks.check_condition_number(kappa_correct)
    assert checks.check_condition_number(lambda X: np.linalg.cond(X) ** 2)  # κ of XᵀX is cond(X) squared


def test_learning_rate_feedback_names_divergence_and_slowness():
    data = height_age()
    lam_max = np.linalg.eigvalsh(2 * data.X.T @ data.X / data.n)[-1]
    assert checks.check_learning_rate(1.9 / lam_max, data.X, data.y)
    assert checks.check_learning_rate(lambda X: 1.9 / lam_max, data.X, data.y)
    result = failure(checks.check_learning_rate, 2.1 / lam_max, data.X, data.y)
    assert "diverges" in result.problems[0] and "2/λ_max" in result.hints[0]
    result = failure(checks.check_learning_rate, 1e-3 / lam_max, data.X, data.y)
    assert "too slow" in result.problems[0]


def test_kappa_after_standardizing():
    assert checks.check_kappa_after_standardizing(lambda rho: (1 + abs(rho)) / (1 - abs(rho)))
    assert_single_hint(failure(checks.check_kappa_after_standardizing, lambda rho: 1.0), "tilted")
    assert_single_hint(failure(checks.check_kappa_after_standardizing, lambda rho: (1 + rho) / (1 - rho)), "negative")


# ------------------------------------------------------------------------------------------ the mistakes themselves


def test_known_mistakes_differ_from_the_reference_only_where_they_should():
    """With every switch off, the mistake simulators equal bnlib, so each hint is earned by one change."""
    import bnlib

    for case in checks.batch_cases():
        expected_out, cache = bnlib.batchnorm_forward(case.x, case.gamma, case.beta, case.eps)
        np.testing.assert_allclose(checks._forward_variant(case), expected_out, rtol=1e-4, atol=1e-4)
        expected_grads = bnlib.batchnorm_backward(case.dout, cache)
        for got, expected in zip(checks._backward_variant(case), expected_grads, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    gamma, beta, steps = checks.layer_scenario()
    for simulated, reference in zip(
        checks._simulate_layer(gamma, beta, steps), checks._reference_layer_outputs(gamma, beta, steps), strict=True
    ):
        for got, expected in zip(simulated, reference, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
