"""Exercise 3 (ex3_batchnorm_layer): a batch-norm layer with running statistics and a train/eval switch.

The cases are steps of a scenario run on one learner's layer after another: build it, train on two
batches, eval on a batch and on one example, train again. Three more layers repeat the first batch with
another momentum, another eps, and another number of features, so a layer that ignores a constructor
argument fails with a hint that names it.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass

import numpy as np

from bnlib.checks.calling import call_learner
from bnlib.checks.engine import (
    FLOAT64_TOL,
    Check,
    CheckResult,
    Got,
    Mistake,
    Output,
    Tolerance,
    Variation,
    run_check,
)
from bnlib.checks.reading import LearnerError

BUILD_OUTPUTS = tuple(
    Output(f"{name} of a new layer", "(D,)") for name in ("gamma", "beta", "running_mean", "running_var")
)
STEP_OUTPUTS = (Output("output", "(N, D)"), Output("running_mean", "(D,)"), Output("running_var", "(D,)"))


@dataclass(frozen=True)
class LayerConfig:
    """The constructor's arguments, and the γ, β (D,) the check sets on the new layer."""

    num_features: int
    eps: float
    momentum: float
    gamma: np.ndarray
    beta: np.ndarray

    @property
    def call(self) -> str:
        return f"num_features={self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}"


@dataclass(frozen=True)
class LayerStep:
    """One step: build a layer from config, or call train()/eval() and then the layer on x (N, D).

    history: (mode, x) of every step since the layer was built, this one included (what a simulation
    of the layer needs to reach this step).
    """

    label: str
    action: str  # "build", "train" or "eval"
    config: LayerConfig
    x: np.ndarray | None = None
    history: tuple = ()
    varies: Variation | None = None
    tol: Tolerance = FLOAT64_TOL

    @property
    def outputs(self) -> tuple[Output, ...]:
        return BUILD_OUTPUTS if self.action == "build" else STEP_OUTPUTS

    @property
    def batch_shape(self):
        return None if self.x is None else self.x.shape


def layer_steps(seed: int = 1) -> list[LayerStep]:
    """Every step the layer check runs, in order."""
    rng = np.random.default_rng(seed)

    def params(d):
        return rng.uniform(0.5, 2.0, d), rng.uniform(-1.0, 1.0, d)

    def batch(n, loc=5.0, scale=3.0, d=3):
        return loc + scale * rng.standard_normal((n, d))

    main = LayerConfig(
        3, 1e-5, 0.1, *params(3)
    )  # the defaults; momentum 0.1, not 0.5, so a reversed one shows
    first = batch(8)
    runs = [
        (
            main,
            None,
            [
                ("training batch 1 (N=8)", "train", first),
                ("training batch 2 (N=2)", "train", batch(2, loc=-2.0)),
                ("eval() on a batch (N=4)", "eval", batch(4)),
                ("eval() on a single example (N=1)", "eval", batch(1)),
                ("train() again (N=5)", "train", batch(5, loc=1.0)),
            ],
        ),
        (
            dataclasses.replace(main, momentum=0.2),
            "momentum",
            [("training batch 1, momentum=0.2", "train", first)],
        ),
        (dataclasses.replace(main, eps=0.1), "eps", [("training batch 1, eps=0.1", "train", first)]),
        (LayerConfig(5, 1e-5, 0.1, *params(5)), "num_features", []),
    ]
    steps = []
    for config, varied, run in runs:
        build = LayerStep(f"a new layer ({config.call})", "build", config)
        if varied == "num_features":
            build = dataclasses.replace(build, varies=Variation(varied, steps[0].label, main.num_features, 5))
        steps.append(build)
        history = ()
        for label, mode, x in run:
            history += ((mode, x),)
            varies = (
                Variation(varied, steps[1].label, getattr(main, varied), getattr(config, varied))
                if varied
                else None
            )
            steps.append(LayerStep(label, mode, config, x, history, varies))
    return steps


def simulate_layer(
    config: LayerConfig,
    history,
    *,
    reverse_momentum=False,
    biased_running_var=False,
    eval_uses_batch=False,
    update_in_eval=False,
    no_update=False,
):
    """(out, running_mean, running_var) after the last step of history, with one deliberate change
    (the defaults are right: PyTorch's semantics)."""
    gamma, beta, eps = config.gamma, config.beta, config.eps
    running_mean, running_var = np.zeros(config.num_features), np.ones(config.num_features)
    weight_new = 1.0 - config.momentum if reverse_momentum else config.momentum
    for mode, x in history:
        use_batch = mode == "train" or eval_uses_batch
        mean, var = (x.mean(axis=0), x.var(axis=0)) if use_batch else (running_mean, running_var)
        out = gamma * (x - mean) / np.sqrt(var + eps) + beta
        if (mode == "train" or update_in_eval) and not no_update and len(x) > 1:  # N=1: no variance
            batch_var = x.var(axis=0, ddof=0 if biased_running_var else 1)
            running_mean = (1 - weight_new) * running_mean + weight_new * x.mean(axis=0)
            running_var = (1 - weight_new) * running_var + weight_new * batch_var
    return out, running_mean, running_var


def reference_layer(step: LayerStep) -> tuple:
    """What a right layer gives at a step, by bnlib's BatchNorm (PyTorch's semantics)."""
    from bnlib.batchnorm import BatchNorm

    d = step.config.num_features
    if step.action == "build":
        return np.ones(d), np.zeros(d), np.zeros(d), np.ones(d)
    layer = BatchNorm(d, eps=step.config.eps, momentum=step.config.momentum)
    layer.gamma, layer.beta = step.config.gamma.copy(), step.config.beta.copy()
    for mode, x in step.history:
        getattr(layer, mode)()
        out = layer(x)
    return out, layer.running_mean.copy(), layer.running_var.copy()


def _layer_mistake(hint: str, **change) -> Mistake:
    def variant(step: LayerStep):
        return None if step.action == "build" else simulate_layer(step.config, step.history, **change)

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
        "the running statistics change in eval mode; only training batches update them.", update_in_eval=True
    ),
    _layer_mistake(
        "the running statistics never change: update them on every training batch, "
        "running = (1 − momentum)·running + momentum·batch.",
        no_update=True,
    ),
]

_SETS = "the check sets layer.gamma and layer.beta (arrays of shape (D,)) right after building the layer"
_SETS_NOT_TORCH = f"{_SETS}, and never touches weight or bias"


def _torch_names(layer) -> list[str]:
    return [name for name in ("weight", "bias") if name in getattr(layer, "__dict__", {})]


def _read(layer, name: str):
    """layer.<name>, or a LearnerError saying it is missing (and what PyTorch's names have to do with it)."""
    missing = object()
    value = call_learner(getattr, layer, name, missing, signature=f"layer.{name}")
    if value is not missing:
        return value.copy() if isinstance(value, np.ndarray) else value
    torch_names = _torch_names(layer)
    if name in ("gamma", "beta") and torch_names:
        hint = (
            f"your layer has {' and '.join(torch_names)}, PyTorch's names; this exercise calls them gamma and "
            f"beta: {_SETS_NOT_TORCH}. Name them self.gamma and self.beta and use those in the forward pass."
        )
    elif name in ("train", "eval"):
        hint = f"give the class a method {name}(self) that switches the mode (e.g. sets self.training)."
    else:
        hint = f"set it in __init__ as self.{name} (the check reads gamma, beta, running_mean, running_var)."
    raise LearnerError(f"your layer has no attribute {name!r}", [hint])


def _set(layer, name: str, value: np.ndarray) -> None:
    try:
        setattr(layer, name, value)
    except Exception as exc:  # noqa: BLE001 - __slots__, read-only properties
        raise LearnerError(
            f"the check could not set layer.{name}: {type(exc).__name__}: {exc}",
            [f"{_SETS}: make them plain attributes, set in __init__."],
        ) from None


def _momentum_used(step: LayerStep, got: Got | None) -> float | None:
    """The momentum by which running_mean moved on a layer's first training batch, when it is not the
    layer's own (from zero, running_mean = momentum · batch mean, feature by feature)."""
    if got is None or step.action != "train" or len(step.history) != 1:
        return None
    running_mean, batch_mean = np.asarray(got.outputs[1], dtype=np.float64), step.x.mean(axis=0)
    if running_mean.shape != batch_mean.shape:
        return None
    used = running_mean / batch_mean
    if np.ptp(used) > 1e-9 or abs(used[0] - step.config.momentum) < 1e-9:
        return None
    return float(used[0])


def check_batchnorm_layer(StudentClass) -> CheckResult:  # noqa: N803 - it is a class
    """Check a batch-norm layer class with running statistics and a train/eval switch.

    The check builds ``StudentClass(num_features, eps=…, momentum=…)``, reads its ``gamma``, ``beta`` (ones
    and zeros), ``running_mean`` and ``running_var`` (zeros and ones), sets ``layer.gamma`` and
    ``layer.beta`` (arrays of shape (D,)), and then calls ``layer.train()`` / ``layer.eval()`` and
    ``layer(x)`` (or ``layer.forward(x)``) for x of shape (N, D), reading ``layer.running_mean`` and
    ``layer.running_var`` after each call. It expects PyTorch's semantics: each training batch updates the
    running statistics with running = (1 − momentum)·running + momentum·batch, running_var taking the
    unbiased batch variance; eval mode normalizes with the running statistics and changes nothing.
    """
    name = getattr(StudentClass, "__name__", type(StudentClass).__name__)
    state = {}

    def run(step: LayerStep) -> Got:
        if step.action == "build":
            if not isinstance(StudentClass, type) and not inspect.isroutine(StudentClass):
                raise LearnerError(
                    f"check_batchnorm_layer was given a {name} object, not the class",
                    [f"pass the class itself, without calling it: check_batchnorm_layer({name})."],
                )
            config = step.config
            layer = call_learner(
                StudentClass,
                config.num_features,
                eps=config.eps,
                momentum=config.momentum,
                signature=f"{name}(num_features, eps=1e-5, momentum=0.1)",
            )
            state["layer"] = layer
            got = tuple(
                _read(layer, attribute) for attribute in ("gamma", "beta", "running_mean", "running_var")
            )
            _set(layer, "gamma", config.gamma.copy())
            _set(layer, "beta", config.beta.copy())
            return Got(got)
        layer = state["layer"]
        call_learner(_read(layer, step.action), signature=f"layer.{step.action}()")
        forward = layer if callable(layer) else _read(layer, "forward")
        out = call_learner(forward, step.x.copy(), signature="layer(x) -> out", batch_shape=step.batch_shape)
        return Got((out, _read(layer, "running_mean"), _read(layer, "running_var")))

    def advice(step: LayerStep, got: Got | None) -> list[str]:
        hints = []
        torch_names = _torch_names(state.get("layer"))
        if torch_names and step.action != "build":
            hints.append(
                f"your layer also has {' and '.join(torch_names)}, PyTorch's names: {_SETS_NOT_TORCH}. If your forward "
                f"pass uses self.{torch_names[0]}, it never sees the γ and β the check set; use self.gamma and "
                "self.beta."
            )
        used = _momentum_used(step, got)
        if used is not None:
            hints.append(
                f"your running_mean moved as if momentum were {used:.6g}, but this layer was built with "
                f"momentum={step.config.momentum:g}: use the momentum passed to __init__ (self.momentum = momentum)."
            )
        if got is None and step.action == "eval" and len(step.x) == 1:
            hints.append(
                "in eval mode use running_mean and running_var: one example has no batch statistics."
            )
        return hints

    check = Check(
        name=name,
        outputs=STEP_OUTPUTS,
        run=run,
        expected=reference_layer,
        mistakes=LAYER_MISTAKES,
        advice=advice,
    )
    return run_check(check, layer_steps())
