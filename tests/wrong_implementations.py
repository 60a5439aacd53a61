"""A catalogue of wrong learner code, each entry written as a learner would write it, with the hint it must get.

Every known mistake of every check has an entry, and so has every rule the checks keep: an ignored argument
fails and is named; a value typed in from the notebook fails on the second data set; a wrong shape, a
(1,)-shaped array, a wrong type, None and a tuple of the wrong length get a sentence, never a crash; shape
feedback names both shapes and never tells the learner to do what they did; the layer check tells a class
with PyTorch's names what it sets; numbers carry the digits that show the difference. tests/test_checks.py
runs them all. Add an entry with each new mistake or rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bnlib import checks

RULES = {
    "known mistake": "a common mistake gets the hint written for it",
    "ignored argument": "a function ignoring one of its arguments fails, and the hint names the argument",
    "typed-in value": "a value typed in from the notebook fails on a second data set",
    "wrong shape": "shape feedback names the shape received and the one expected",
    "(1,)-shaped array": "one number in an array where a number is expected gets a sentence",
    "wrong type": "a list, text, an object where numbers are expected get a sentence",
    "None": "None gets a sentence",
    "tuple of the wrong length": "a tuple of the wrong length, or no tuple, gets a sentence",
    "PyTorch names": "a layer with weight and bias is told what the check sets",
    "digits": "numbers carry the digits that show the difference",
    "exception": "an exception in the learner's code is feedback naming their line",
}


@dataclass(frozen=True)
class Wrong:
    """One wrong implementation. hint: a phrase its hint alone contains; not_said: phrases the feedback
    must not contain (advice to do what the code already does); shapes: (received, expected) named."""

    rule: str
    check: Any
    code: Any
    hint: str
    args: tuple = ()
    case: str | None = None
    not_said: tuple[str, ...] = ()
    shapes: tuple | None = None


# ------------------------------------------------------------------------------------------ ex1: variance, forward


def forward_right(x, gamma, beta, eps):
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def forward(stats=lambda x: (x.mean(0), x.var(0)), normalize=None, affine=None, returns=None):
    """A learner's forward; each argument swaps in one wrong step."""

    def batchnorm_forward(x, gamma, beta, eps):
        mean, var = stats(x)
        x_hat = (x - mean) / np.sqrt(var + eps) if normalize is None else normalize(x, mean, var, eps)
        out = gamma * x_hat + beta if affine is None else affine(x_hat, gamma, beta)
        return (out, None) if returns is None else returns(out)

    return batchnorm_forward


def forward_mean0_var1(x, gamma, beta, eps):
    mean = x.mean(axis=0)
    var = x.var(axis=1)  # across the features: one per example, shape (N,)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta, None


def forward_raising_axis_error(x, gamma, beta, eps):
    return np.mean(x, axis=2), None  # numpy raises AxisError from its own code


F, V = checks.check_batchnorm_forward, checks.check_variance
EX1 = {
    "variance: 1/N on the first square only": Wrong(
        "known mistake",
        V,
        lambda v: (v[0] - v.mean()) ** 2 / len(v) + ((v[1:] - v.mean()) ** 2).sum(),
        "whole sum",
    ),
    "variance: divided by N − 1": Wrong(
        "known mistake", V, lambda v: np.var(v, ddof=1), "dividing by N (L8)"
    ),
    "variance: the standard deviation": Wrong("known mistake", V, np.std, "standard deviation"),
    "variance: E[x²] − E[x]²": Wrong("known mistake", V, lambda v: (v**2).mean() - v.mean() ** 2, "cancels"),
    "variance: the notebook's answer typed in": Wrong(
        "typed-in value",
        V,
        lambda v: 1.5555555555555556,
        "same answer here as for case 'hours of sleep",
        case="two values",
    ),
    "variance: keepdims=True": Wrong(
        "(1,)-shaped array",
        V,
        lambda v: np.var(v, keepdims=True),
        "one number inside an array",
        shapes=((1,), ()),
    ),
    "variance: returned as text": Wrong("wrong type", V, lambda v: f"{np.var(v):.4f}", "not text"),
    "variance: no return": Wrong("None", V, lambda v: None, "never given a value"),
    "variance: the check given a number": Wrong("wrong type", V, 1.5556, "without calling it"),
    "variance: off in the 7th digit": Wrong("digits", V, lambda v: np.var(v) * (1 + 2e-6), "nearly right"),
    "forward: unbiased variance": Wrong(
        "known mistake", F, forward(lambda x: (x.mean(0), x.var(0, ddof=1))), "unbiased"
    ),
    "forward: eps outside the root": Wrong(
        "known mistake",
        F,
        forward(normalize=lambda x, m, v, eps: (x - m) / (np.sqrt(v) + eps)),
        "outside the square",
    ),
    "forward: divided by the variance": Wrong(
        "known mistake",
        F,
        forward(normalize=lambda x, m, v, eps: (x - m) / (v + eps)),
        "divided by the variance",
    ),
    "forward: axis 1 with keepdims": Wrong(
        "known mistake",
        F,
        forward(lambda x: (x.mean(1, keepdims=True), x.var(1, keepdims=True))),
        "wrong axis",
    ),
    "forward: one mean for the whole batch": Wrong(
        "known mistake", F, forward(lambda x: (x.mean(), x.var())), "whole batch"
    ),
    "forward: γ and β swapped": Wrong(
        "known mistake", F, forward(affine=lambda x_hat, g, b: b * x_hat + g), "swapped"
    ),
    "forward: no γ, no β": Wrong(
        "known mistake", F, forward(affine=lambda x_hat, g, b: x_hat), "without γ and β"
    ),
    "forward: γ ignored": Wrong(
        "known mistake", F, forward(affine=lambda x_hat, g, b: x_hat + b), "γ never multiplies"
    ),
    "forward: β ignored": Wrong(
        "known mistake", F, forward(affine=lambda x_hat, g, b: g * x_hat), "β is never added"
    ),
    "forward: E[x²] − E[x]²": Wrong(
        "known mistake", F, forward(lambda x: (x.mean(0), (x * x).mean(0) - x.mean(0) ** 2)), "catastrophic"
    ),
    "forward: eps ignored (1e-5 typed in)": Wrong(
        "ignored argument",
        F,
        forward(normalize=lambda x, m, v, eps: (x - m) / np.sqrt(v + 1e-5)),
        "does not use the eps it is given",
        case="the same batch with eps = 0.1",
    ),
    "forward: variance across the features, mean right": Wrong(
        "wrong shape", F, forward_mean0_var1, "one value per example (N = 8)", not_said=("x.mean(axis=0)",)
    ),
    "forward: output transposed": Wrong(
        "wrong shape", F, forward(returns=lambda out: (out.T, None)), "transposed", shapes=((5, 8), (8, 5))
    ),
    "forward: out as a list": Wrong(
        "wrong type", F, forward(returns=lambda out: (out.tolist(), None)), "np.array(...)"
    ),
    "forward: no return": Wrong("None", F, forward(returns=lambda out: None), "forget the return statement"),
    "forward: out without the cache": Wrong(
        "tuple of the wrong length", F, forward(returns=lambda out: out), "separated by commas"
    ),
    "forward: a tuple of one": Wrong(
        "tuple of the wrong length", F, forward(returns=lambda out: (out,)), "return exactly 2"
    ),
    "forward: AxisError inside numpy": Wrong("exception", F, forward_raising_axis_error, "has axes 0"),
}


# ------------------------------------------------------------------------------------------ ex2: backward


def forward_keeping_inputs(x, gamma, beta, eps):
    return forward_right(x, gamma, beta, eps), (x, gamma, beta, eps)


def backward(returns=None, eps_used=None, **change):
    """A learner's compact backward reading the cache (x, gamma, beta, eps); each switch is one mistake."""

    def batchnorm_backward(dout, cache):
        x, gamma, _, eps = cache
        n, mean = len(x), x.mean(0)
        invstd = 1 / np.sqrt(x.var(0) + (eps if eps_used is None else eps_used))
        x_hat = (x - mean) * invstd
        bracket = dout.copy()
        if change.get("mean_term", True):
            bracket -= dout.mean(0)
        if change.get("sum_term", True):
            bracket -= x_hat * (dout * x_hat).sum(0) / (n - 1 if change.get("n_minus_one") else n)
        dx = (1.0 if change.get("no_gamma") else gamma) * invstd * bracket
        dgamma = (dout * (x if change.get("dgamma_from_x") else x_hat)).sum(0)
        dbeta = dout.sum(0)
        grads = (dx, dbeta, dgamma) if change.get("swap") else (dx, dgamma, dbeta)
        return grads if returns is None else returns(*grads, dout * x_hat)

    return batchnorm_backward


def B(rule, hint, **kwargs):
    case = kwargs.pop("case", None)
    shapes, not_said = kwargs.pop("shapes", None), kwargs.pop("not_said", ())
    code = backward(**kwargs)
    return Wrong(
        rule, checks.check_batchnorm_backward, code, hint, (forward_keeping_inputs,), case, not_said, shapes
    )


EX2 = {
    "backward: forgot Σ(dy·x̂)": B("known mistake", "Σ(dy·x̂)", sum_term=False),
    "backward: forgot the mean term": B("known mistake", "−mean(dy)", mean_term=False),
    "backward: statistics as constants": B("known mistake", "as constants", mean_term=False, sum_term=False),
    "backward: no γ in dx": B("known mistake", "missing the factor γ", no_gamma=True),
    "backward: N − 1 in the variance path": B("known mistake", "divides by N − 1", n_minus_one=True),
    "backward: dγ and dβ swapped": B("known mistake", "swapped", swap=True),
    "backward: dγ from x": B("known mistake", "x instead of x̂", dgamma_from_x=True),
    "backward: eps from the cache ignored": B(
        "ignored argument",
        "does not use the eps its cache holds",
        eps_used=1e-5,
        case="the same batch with eps = 0.1",
    ),
    "backward: dγ summed over axis 1": B(
        "wrong shape",
        "one value per example",
        returns=lambda dx, dg, db, prod: (dx, prod.sum(1), db),
        shapes=((8,), (5,)),
        not_said=("not axis 1",),
    ),
    "backward: dγ with keepdims=True": B(
        "wrong shape",
        "leading axis of length 1",
        returns=lambda dx, dg, db, prod: (dx, dg[None, :], db),
        shapes=((1, 5), (5,)),
    ),
    "backward: dγ not summed": B(
        "wrong shape",
        "one row per example",
        returns=lambda dx, dg, db, prod: (dx, prod, db),
        shapes=((8, 5), (5,)),
    ),
    "backward: dγ still None": B(
        "None", "never given a value", returns=lambda dx, dg, db, prod: (dx, None, db)
    ),
    "backward: two of three": B(
        "tuple of the wrong length", "return exactly 3", returns=lambda dx, dg, db, prod: (dx, dg)
    ),
}


# ------------------------------------------------------------------------------------------ ex3: the layer


def layer(**wrong):
    """A learner's layer class; each keyword switches on one mistake."""

    class BatchNorm1d:
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            d = 3 if wrong.get("features_fixed") else num_features
            self.eps = 1e-5 if wrong.get("eps_fixed") else eps
            self.momentum = wrong.get("momentum_fixed", momentum)
            self.training = True
            if wrong.get("torch_names"):
                self.weight, self.bias = np.ones(d), np.zeros(d)
            if wrong.get("torch_names") != "only":
                self.gamma, self.beta = np.ones(d), np.zeros(d)
            self.running_mean, self.running_var = np.zeros(d), np.ones(d)

        def train(self):
            self.training = True

        def eval(self):
            self.training = False

        def __call__(self, x):
            batch_stats = self.training or wrong.get("eval_uses_batch")
            mean, var = (x.mean(0), x.var(0)) if batch_stats else (self.running_mean, self.running_var)
            gamma, beta = (self.weight, self.bias) if wrong.get("torch_names") else (self.gamma, self.beta)
            out = gamma * (x - mean) / np.sqrt(var + self.eps) + beta
            if (self.training or wrong.get("update_in_eval")) and not wrong.get("frozen"):
                m = 1 - self.momentum if wrong.get("reverse_momentum") else self.momentum
                unbiased = x.var(0, ddof=0 if wrong.get("biased") else 1)
                self.running_mean = (1 - m) * self.running_mean + m * x.mean(0)
                self.running_var = (1 - m) * self.running_var + m * unbiased
            if wrong.get("keepdims"):
                self.running_mean = self.running_mean.reshape(1, -1)
            if wrong.get("running_as_list"):
                self.running_mean = list(self.running_mean)
            return None if wrong.get("no_return") else out

    if wrong.get("no_eval"):
        del BatchNorm1d.eval
    return BatchNorm1d


class ReadOnlyGamma:
    """A layer whose gamma is a property without a setter."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.beta, self.running_mean, self.running_var = (
            np.zeros(num_features),
            np.zeros(num_features),
            np.ones(num_features),
        )
        self._d = num_features

    gamma = property(lambda self: np.ones(self._d))


def L(rule, hint, case=None, **wrong):
    return Wrong(rule, checks.check_batchnorm_layer, layer(**wrong), hint, case=case)


EX3 = {
    "layer: momentum reversed": L("known mistake", "momentum convention is reversed", reverse_momentum=True),
    "layer: biased running_var": L("known mistake", "biased batch variance", biased=True),
    "layer: eval uses batch statistics": L(
        "known mistake", "still normalizes with the batch", eval_uses_batch=True
    ),
    "layer: running stats updated in eval": L("known mistake", "change in eval mode", update_in_eval=True),
    "layer: running stats never updated": L("known mistake", "never change", frozen=True),
    "layer: momentum ignored": L(
        "ignored argument",
        "does not use the momentum",
        "training batch 1, momentum=0.2",
        momentum_fixed=0.1,
    ),
    "layer: momentum 0.5 typed in": L("ignored argument", "as if momentum were 0.5,", momentum_fixed=0.5),
    "layer: eps ignored": L(
        "ignored argument", "does not use the eps", "training batch 1, eps=0.1", eps_fixed=True
    ),
    "layer: num_features ignored": L(
        "ignored argument", "does not use the num_features", features_fixed=True
    ),
    "layer: weight and bias only": L(
        "PyTorch names", "this exercise calls them gamma and beta", torch_names="only"
    ),
    "layer: forward uses weight and bias": L("PyTorch names", "never sees the γ and β", torch_names="also"),
    "layer: running_mean kept as (1, D)": L("wrong shape", "leading axis of length 1", keepdims=True),
    "layer: running_mean as a list": L("wrong type", "np.array(...)", running_as_list=True),
    "layer: forward without return": L("None", "never given a value", no_return=True),
    "layer: no eval method": L("exception", "method eval(self)", no_eval=True),
    "layer: gamma cannot be set": Wrong(
        "exception", checks.check_batchnorm_layer, ReadOnlyGamma, "plain attributes"
    ),
    "layer: an instance, not the class": Wrong(
        "wrong type", checks.check_batchnorm_layer, layer()(3), "pass the class itself"
    ),
}


# ------------------------------------------------------------------------------------------ ex4: conditioning


def kappa_right(X):
    eigenvalues = np.linalg.eigvalsh(X.T @ X)
    return eigenvalues[-1] / eigenvalues[0]


def optimal_lr(X):
    curvatures = np.linalg.eigvalsh(2 * X.T @ X / len(X))
    return 2 / (curvatures[0] + curvatures[-1])


K, S, LR = checks.check_condition_number, checks.check_kappa_after_standardizing, checks.check_learning_rate
KAPPA_OF_THE_NOTEBOOK = 143.1528063565108  # printed by the notebook for height in cm, age in years
LR_OF_THE_NOTEBOOK = 3.2e-05  # 2/(λ_min + λ_max) of the notebook's data


def ETA(rule, code, hint):
    """An entry for the learning-rate check, which also takes the notebook's data."""
    from bnlib.data import height_age

    data = height_age()
    return Wrong(rule, LR, code, hint, (data.X, data.y))


EX4 = {
    "κ: the inverse": Wrong("known mistake", K, lambda X: 1 / kappa_right(X), "inverse"),
    "κ: cond(X)": Wrong("known mistake", K, np.linalg.cond, "cond(X)²"),
    "κ: centered data": Wrong(
        "known mistake", K, lambda X: kappa_right(X - X.mean(axis=0)), "centered the data"
    ),
    "κ: the diagonal only": Wrong(
        "known mistake", K, lambda X: (X**2).mean(0).max() / (X**2).mean(0).min(), "diagonal"
    ),
    "κ: the notebook's κ typed in": Wrong(
        "typed-in value", K, lambda X: KAPPA_OF_THE_NOTEBOOK, "same answer here as for case 'height in cm"
    ),
    "κ: both eigenvalues": Wrong("wrong shape", K, lambda X: np.linalg.eigvalsh(X.T @ X), "holds 2 numbers"),
    "κ: in an array of one": Wrong(
        "(1,)-shaped array", K, lambda X: np.array([kappa_right(X)]), "value.item()"
    ),
    "κ after standardizing: 1": Wrong("known mistake", S, lambda rho: 1.0, "tilted"),
    "κ after standardizing: ρ signed": Wrong(
        "known mistake", S, lambda rho: (1 + rho) / (1 - rho), "negative"
    ),
    "κ after standardizing: 4 typed in": Wrong(
        "typed-in value", S, lambda rho: 4.0, "same answer here as for case 'ρ = +0.60'"
    ),
    "κ after standardizing: a tiny term in the denominator": Wrong(
        "digits", S, lambda rho: (1 + abs(rho)) / (1 - abs(rho) + 2e-6), "nearly right"
    ),
    "η: above 2/λ_max": ETA(
        "known mistake", lambda X: 2.1 / np.linalg.eigvalsh(2 * X.T @ X / len(X))[-1], "η < 2/λ_max"
    ),
    "η: far too small": ETA("known mistake", lambda X: optimal_lr(X) / 1000, "take a larger step"),
    "η: the notebook's η typed in": ETA("typed-in value", lambda X: LR_OF_THE_NOTEBOOK, "same η = 3.2e-05"),
    "η: in an array of one": ETA("(1,)-shaped array", lambda X: np.array([optimal_lr(X)]), "float(eta)"),
    "η: None": ETA("None", lambda X: None, "never given a value"),
}


# ------------------------------------------------------------------------------------------ ex5: spatial, layer norm


def to_rows(x):
    """(N, C, H, W) → (N·H·W, C), channels last: the reshape exercise 5 is about."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def from_rows(rows, shape):
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def norm_forward(axes, ddof=0, swap=False, eps_outside=False):
    """A learner's batch or layer norm written directly, statistics over ``axes``; switches are mistakes."""

    def forward(x, gamma, beta, eps):
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=ddof)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        gamma, beta = (beta, gamma) if swap else (gamma, beta)
        spread = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        out = gamma.reshape(shape) * (x - mean) / spread + beta.reshape(shape)
        return out, (x, gamma, beta, eps, axes)

    return forward


def spatial_forward_right(x, gamma, beta, eps):
    """Exercise 1's forward on the rows; the cache keeps the rows and x's shape."""
    rows = to_rows(x)
    mean, var = rows.mean(0), rows.var(0)
    x_hat = (rows - mean) / np.sqrt(var + eps)
    return from_rows(gamma * x_hat + beta, x.shape), (x_hat, 1 / np.sqrt(var + eps), gamma, x.shape)


def spatial_forward_no_transpose(x, gamma, beta, eps):
    rows = x.reshape(-1, x.shape[1])  # mixes channels
    x_hat = (rows - rows.mean(0)) / np.sqrt(rows.var(0) + eps)
    return (gamma * x_hat + beta).reshape(x.shape), None


def spatial_backward(straight_reshape=False, drop=None):
    """A learner's spatial backward on the rows of spatial_forward_right's cache; switches are mistakes."""

    def backward(dout, cache):
        x_hat, invstd, gamma, shape = cache
        dy = dout.reshape(-1, shape[1]) if straight_reshape else to_rows(dout)
        dx_hat = dy * gamma
        bracket = dx_hat - (0 if drop == "mean" else dx_hat.mean(0))
        if drop != "variance":
            bracket = bracket - x_hat * (dx_hat * x_hat).mean(0)
        dx = invstd * bracket
        dx = dx.reshape(shape) if straight_reshape else from_rows(dx, shape)
        return dx, (dy * x_hat).sum(0), dy.sum(0)

    return backward


def layer_forward_right(x, gamma, beta, eps):
    invstd = 1 / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    x_hat = (x - x.mean(axis=1, keepdims=True)) * invstd
    return gamma * x_hat + beta, (x_hat, invstd, gamma)


def layer_backward(path_axis=1, drop=None):
    """A learner's layer-norm backward; ``drop`` leaves one term out, ``path_axis`` averages its terms there."""

    def backward(dout, cache):
        x_hat, invstd, gamma = cache
        dx_hat = dout * gamma
        bracket = dx_hat - (0 if drop == "mean" else dx_hat.mean(axis=path_axis, keepdims=True))
        if drop != "variance":
            bracket = bracket - x_hat * (dx_hat * x_hat).mean(axis=path_axis, keepdims=True)
        return invstd * bracket, (dout * x_hat).sum(0), dout.sum(0)

    return backward


SF, SB = checks.check_spatial_batchnorm_forward, checks.check_spatial_batchnorm_backward
LF, LB = checks.check_layernorm_forward, checks.check_layernorm_backward

EX5 = {
    "spatial forward: reshape without moving the channels": Wrong(
        "known mistake", SF, spatial_forward_no_transpose, "mixes channels"
    ),
    "spatial forward: per channel and position": Wrong(
        "known mistake", SF, norm_forward(0), "per channel *and position*"
    ),
    "spatial forward: instance norm": Wrong("known mistake", SF, norm_forward((2, 3)), "instance norm"),
    "spatial forward: unbiased variance": Wrong(
        "known mistake", SF, norm_forward((0, 2, 3), ddof=1), "n = N·H·W"
    ),
    "spatial forward: γ and β swapped": Wrong(
        "known mistake", SF, norm_forward((0, 2, 3), swap=True), "each channel's x̂"
    ),
    "spatial backward: dout reshaped without moving the channels": Wrong(
        "known mistake",
        SB,
        spatial_backward(straight_reshape=True),
        "as the forward pass did",
        (spatial_forward_right,),
    ),
    "spatial backward: forgot the variance path": Wrong(
        "known mistake", SB, spatial_backward(drop="variance"), "channel's variance", (spatial_forward_right,)
    ),
    "spatial backward: forgot the mean path": Wrong(
        "known mistake", SB, spatial_backward(drop="mean"), "channel's mean", (spatial_forward_right,)
    ),
    "layer forward: batch norm's axis": Wrong("known mistake", LF, norm_forward(0), "that is batch norm"),
    "layer forward: unbiased variance": Wrong("known mistake", LF, norm_forward(1, ddof=1), "÷(D − 1)"),
    "layer forward: eps outside the root": Wrong(
        "known mistake", LF, norm_forward(1, eps_outside=True), "each example's variance: divide"
    ),
    "layer forward: γ and β swapped": Wrong(
        "known mistake", LF, norm_forward(1, swap=True), "in layer norm too"
    ),
    "layer backward: forgot the variance path": Wrong(
        "known mistake",
        LB,
        layer_backward(drop="variance"),
        "each example's variance",
        (layer_forward_right,),
    ),
    "layer backward: forgot the mean path": Wrong(
        "known mistake", LB, layer_backward(drop="mean"), "each example's mean", (layer_forward_right,)
    ),
    "layer backward: paths averaged over the batch": Wrong(
        "known mistake",
        LB,
        layer_backward(path_axis=0),
        "where its statistics came from",
        (layer_forward_right,),
    ),
}

CATALOGUE: dict[str, Wrong] = {**EX1, **EX2, **EX3, **EX4, **EX5}
