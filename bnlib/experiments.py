"""Small torch experiments on the digits data: build an MLP with or without a norm layer, train it, score it.

torch is imported inside the functions, so ``import bnlib`` stays instant.
Used by notebooks 05–08, which rerun the papers' experiments at laptop scale.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

NORM_CHOICES = ("batch", "layer", "group", None)
NORM_POSITIONS = ("before", "after")


def _norm_layer(norm, width: int):
    import torch.nn as nn

    if callable(norm) and not isinstance(norm, str):
        return norm(width)
    if norm == "batch":
        return nn.BatchNorm1d(width)
    if norm == "layer":
        return nn.LayerNorm(width)
    if norm == "group":
        # Up to 8 groups; the count must divide the width (e.g. 100 units -> 5 groups of 20).
        groups = max(g for g in range(1, 9) if width % g == 0)
        return nn.GroupNorm(num_groups=groups, num_channels=width)
    raise ValueError(f"norm={norm!r} is not known; use one of {NORM_CHOICES} or a callable width -> module.")


def _activation(name: str):
    import torch.nn as nn

    activations = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    if name not in activations:
        raise ValueError(f"activation={name!r} is not known; use one of {sorted(activations)}.")
    return activations[name]()


def make_mlp(
    in_features: int,
    hidden_sizes: list[int] | tuple[int, ...],
    out_features: int,
    *,
    activation: str = "relu",
    norm=None,
    norm_position: str = "before",
    bias: bool | None = None,
    init_std: float | None = None,
    dropout: float = 0.0,
    seed: int = 0,
):
    """A multilayer perceptron: [Linear → (norm) → activation → (norm) → (dropout)] per hidden layer, then Linear.

    Args:
        in_features, hidden_sizes, out_features: layer widths, e.g. 64, [100, 100, 100], 10 for digits.
        activation: "relu", "sigmoid" or "tanh".
        norm: None, "batch", "layer", "group", or a callable ``width -> nn.Module`` (e.g. a custom BN).
        norm_position: "before" the activation (as in the original paper, on W·x) or "after" it.
        bias: bias of the hidden Linear layers; by default off when a norm comes right after the Linear
            (the norm's β takes its place), on otherwise.
        init_std: if given, hidden and output weights start as N(0, init_std²) and biases at 0 (the
            paper's "small Gaussian" start); else PyTorch's default initialisation.
        dropout: dropout rate after each hidden block (0 = none).
        seed: seeds the initial weights.
    Returns:
        torch.nn.Sequential; input of shape (N, in_features), output logits of shape (N, out_features).
    """
    import torch
    import torch.nn as nn

    if norm_position not in NORM_POSITIONS:
        raise ValueError(f"norm_position={norm_position!r}; use 'before' or 'after' the activation.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout} must lie in [0, 1).")
    if bias is None:
        bias = not (norm is not None and norm_position == "before")
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width_in = in_features
    for width in hidden_sizes:
        layers.append(nn.Linear(width_in, width, bias=bias))
        if norm is not None and norm_position == "before":
            layers.append(_norm_layer(norm, width))
        layers.append(_activation(activation))
        if norm is not None and norm_position == "after":
            layers.append(_norm_layer(norm, width))
        if dropout:
            layers.append(nn.Dropout(dropout))
        width_in = width
    layers.append(nn.Linear(width_in, out_features))
    model = nn.Sequential(*layers)
    if init_std is not None:
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, nn.Linear):
                    module.weight.normal_(0.0, init_std)
                    if module.bias is not None:
                        module.bias.zero_()
    return model


def linear_layers(model) -> list:
    """The model's nn.Linear layers, first to last."""
    import torch.nn as nn

    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def normalized_weights(model) -> list:
    """The weights of the nn.Linear layers that a norm layer follows directly (Linear → BN → …).

    The loss does not depend on the scale of these weights (BN(c·W·x) = BN(W·x) for c > 0); γ, β, biases and
    the output layer are not among them. A list of parameters, first layer to last.
    """
    import torch.nn as nn

    norms = (nn.BatchNorm1d, nn.LayerNorm, nn.GroupNorm)
    children = list(model.children())
    return [
        layer.weight
        for layer, following in zip(children, children[1:], strict=False)
        if isinstance(layer, nn.Linear) and isinstance(following, norms)
    ]


def accuracy(model, X, y) -> float:
    """Fraction of rows of X (N, D) whose arg-max logit equals y (N,), computed in eval mode.

    The model's train/eval mode is restored afterwards.
    """
    import torch

    was_training = model.training
    model.eval()
    with torch.no_grad():
        predictions = model(X).argmax(dim=1)
    model.train(was_training)
    return float((predictions == y).float().mean())


@dataclass
class TrainLog:
    """What a training run recorded. ``evaluated_steps[i]`` is the step at which ``test_accuracy[i]`` was taken."""

    losses: list[float] = field(default_factory=list)
    evaluated_steps: list[int] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


def minibatches(num_examples: int, batch_size: int, steps: int, seed: int = 0):
    """Yield ``steps`` index tensors of length batch_size: shuffled epochs, seeded, the last partial batch dropped."""
    import torch

    if not 1 <= batch_size <= num_examples:
        raise ValueError(
            f"batch_size={batch_size} must be between 1 and the number of examples ({num_examples})."
        )
    generator = torch.Generator().manual_seed(seed)
    produced = 0
    while produced < steps:
        order = torch.randperm(num_examples, generator=generator)
        for start in range(0, num_examples - batch_size + 1, batch_size):
            if produced == steps:
                return
            yield order[start : start + batch_size]
            produced += 1


def train(
    model,
    data,
    *,
    steps: int,
    lr: float,
    batch_size: int = 60,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    decayed=None,
    eval_every: int | None = None,
    seed: int = 0,
    on_step: Callable[[int, object], None] | None = None,
) -> TrainLog:
    """Train ``model`` with SGD and cross-entropy on ``data`` = (X_train, y_train, X_test, y_test) tensors.

    ``momentum`` is the optimizer's (heavy-ball) momentum, unrelated to a BN layer's ``momentum`` (the weight
    of the newest batch in its running statistics). ``weight_decay`` applies to every parameter, as
    ``torch.optim.SGD`` does, unless ``decayed`` lists the parameters it applies to (e.g.
    ``normalized_weights(model)``: only the weights followed by a norm layer; γ, β and the output layer free).
    Stops early, with ``log.diverged_at`` set, when the loss becomes NaN or infinite (a too-large learning
    rate), instead of training on garbage. ``on_step(step, model)`` is called after every update, for
    recording activations or gradients. Test accuracy is taken every ``eval_every`` steps and at the end.
    """
    import torch
    import torch.nn.functional as F

    X_train, y_train, X_test, y_test = data
    if decayed is None:
        groups = [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    else:
        decayed_ids = {id(param) for param in decayed}
        groups = [
            {"params": [p for p in model.parameters() if id(p) in decayed_ids], "weight_decay": weight_decay},
            {"params": [p for p in model.parameters() if id(p) not in decayed_ids], "weight_decay": 0.0},
        ]
        if len(groups[0]["params"]) != len(decayed_ids):
            raise ValueError(
                "decayed lists parameters that are not the model's; pass some of model.parameters()."
            )
    optimizer = torch.optim.SGD([g for g in groups if g["params"]], lr=lr, momentum=momentum)
    log = TrainLog()
    model.train()
    for step, batch in enumerate(minibatches(len(X_train), batch_size, steps, seed), start=1):
        loss = F.cross_entropy(model(X_train[batch]), y_train[batch])
        if not torch.isfinite(loss):
            log.diverged_at = step
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        log.losses.append(loss.item())
        if on_step is not None:
            on_step(step, model)
        if (eval_every and step % eval_every == 0) or step == steps:
            log.evaluated_steps.append(step)
            log.test_accuracy.append(accuracy(model, X_test, y_test))
    return log


# ----- probing a network while it trains -------------------------------------------------------------------


@contextmanager
def preserved_buffers(model):
    """Context manager: run extra forward passes in training mode without touching BN's running statistics.

    A probe (a look at the activations, a gradient on a side batch) must not change the network it measures;
    in training mode every BN forward would otherwise move ``running_mean``/``running_var``.
    """
    import torch

    saved = [buffer.clone() for buffer in model.buffers()]
    try:
        yield model
    finally:
        with torch.no_grad():
            for buffer, value in zip(model.buffers(), saved, strict=True):
                buffer.copy_(value)


def layer_input(model, module, X):
    """The input that ``module`` (a layer inside ``model``) receives when ``model`` runs on X (N, in_features).

    Runs in training mode (BN normalizes with the probe batch's own statistics, as during training), without
    gradients and without changing running statistics. Returns a numpy array of shape (N, width).
    """
    import torch

    captured = {}
    handle = module.register_forward_hook(lambda _m, inputs, _out: captured.__setitem__("x", inputs[0]))
    was_training = model.training
    try:
        model.train()
        with torch.no_grad(), preserved_buffers(model):
            model(X)
    finally:
        handle.remove()
        model.train(was_training)
    if "x" not in captured:
        raise ValueError(
            f"{type(module).__name__} is not called by the model's forward pass; pass one of its layers."
        )
    return captured["x"].numpy().copy()


@dataclass
class LayerInputTrace:
    """What a layer received on a fixed probe batch during training.

    steps: the training steps at which the probe ran (step 0 = before training).
    inputs: array of shape (len(steps), N_probe, width), the layer's input on the probe batch at each step.
    """

    steps: list[int] = field(default_factory=list)
    inputs: list = field(default_factory=list)

    def as_array(self):
        import numpy as np

        return np.stack(self.inputs)

    def percentiles(self, unit: int = 0, q=(15, 50, 85)):
        """Array of shape (len(steps), len(q)): percentiles of one unit's input over the probe batch."""
        import numpy as np

        return np.percentile(self.as_array()[:, :, unit], q, axis=1).T

    def drift(self, unit: int = 0, q=(15, 50, 85)) -> float:
        """How far one unit's input distribution wanders: the range (max − min over the recorded steps) of each
        percentile, averaged over the percentiles. Same unit as the layer input."""
        trace = self.percentiles(unit, q)
        return float((trace.max(axis=0) - trace.min(axis=0)).mean())

    def shifts(self):
        """How much the layer's input distribution changes between consecutive probes: array of shape
        (len(steps) − 1,), per pair of probes |Δ mean| + |Δ std| of each unit over the probe batch, averaged
        over the units."""
        import numpy as np

        inputs = self.as_array()
        means, stds = inputs.mean(axis=1), inputs.std(axis=1)
        return (np.abs(np.diff(means, axis=0)) + np.abs(np.diff(stds, axis=0))).mean(axis=1)

    def step_to_step_shift(self) -> float:
        """The average of :meth:`shifts` over training: one number for how unstable the layer's input is."""
        return float(self.shifts().mean())


def record_layer_input(model, module, X_probe, every: int = 10):
    """An ``on_step`` callback for :func:`train` that records ``module``'s input on X_probe every ``every`` steps.

    Returns (on_step, trace); the trace starts with the input before training (step 0).
    """
    if every < 1:
        raise ValueError(f"every={every} must be a positive number of steps.")
    trace = LayerInputTrace(steps=[0], inputs=[layer_input(model, module, X_probe)])

    def on_step(step, model):
        if step % every == 0:
            trace.steps.append(step)
            trace.inputs.append(layer_input(model, module, X_probe))

    return on_step, trace


def chain(*callbacks):
    """One ``on_step`` callback that calls each given callback in turn (None entries are skipped)."""
    active = [callback for callback in callbacks if callback is not None]

    def on_step(step, model):
        for callback in active:
            callback(step, model)

    return on_step


def weight_gradient_norms(model, X, y) -> list[float]:
    """‖∂L/∂W‖ (Frobenius) for every nn.Linear weight, first layer to last, on one batch X (N, D), y (N,).

    Cross-entropy loss, training mode, running statistics left untouched, the model's gradients cleared.
    """
    import torch.nn.functional as F

    was_training = model.training
    model.train()
    with preserved_buffers(model):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(X), y).backward()
    norms = [float(layer.weight.grad.norm()) for layer in linear_layers(model)]
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return norms


# ----- batch norm with injected noise (Santurkar et al. 2018, section 2.1) -----------------------------------


def noisy_batchnorm(*, max_shift: float = 1.0, max_scale: float = 2.0, seed: int = 0):
    """A factory ``width -> module`` (pass it as ``make_mlp(norm=...)``): batch norm followed by noise.

    After normalizing, every feature j is scaled by s_j ~ U(1, max_scale) and shifted by a_j ~ U(−max_shift,
    max_shift); s and a are drawn afresh at every training-mode forward pass (every step), so the next layer
    sees a distribution with a random, moving mean and spread: *less* stable than with no batch norm at all.
    In eval mode the noise is replaced by its average (scale (1 + max_scale)/2, shift 0), as dropout does.
    All layers built by one factory share one seeded generator.

    One draw per feature is shared by every example of the batch, so the whole batch's distribution moves.
    (Santurkar et al. perturb each activation of each example with i.i.d. noise whose distribution changes at
    every step; a per-example draw from a fixed distribution would mostly average out of the next layer's
    batch statistics.) Inside ``same_noise(model)`` every forward pass reuses the layer's last draw: the
    control that separates the shift caused by the weights' update from the shift the noise itself adds.
    Explained in notebooks/07_why_does_bn_work.ipynb, section "Noisy batch norm".
    """
    import torch
    import torch.nn as nn

    if max_shift < 0 or max_scale < 1:
        raise ValueError(f"need max_shift >= 0 and max_scale >= 1, got {max_shift} and {max_scale}.")
    generator = torch.Generator().manual_seed(seed)

    class NoisyBatchNorm1d(nn.BatchNorm1d):
        hold_noise = False  # set by same_noise(): reuse the last draw instead of drawing afresh
        held = None

        def forward(self, x):
            out = super().forward(x)
            if not self.training:
                return out * ((1.0 + max_scale) / 2.0)
            if not (self.hold_noise and self.held is not None):
                width = out.shape[1]
                scale = 1.0 + (max_scale - 1.0) * torch.rand(width, generator=generator)
                shift = max_shift * (2.0 * torch.rand(width, generator=generator) - 1.0)
                self.held = (scale, shift)
            scale, shift = self.held
            return out * scale + shift

    return NoisyBatchNorm1d


@contextmanager
def same_noise(model):
    """Context manager: the noisy BN layers of ``model`` draw their noise once, then reuse it.

    Inside, the first training-mode forward pass of each noisy layer draws its scale and shift and every
    later pass (also in a deep copy of the model) reuses them; afterwards each layer draws afresh again.
    Layers without noise are not affected.
    """
    noisy = [module for module in model.modules() if hasattr(module, "hold_noise")]
    for module in noisy:
        module.hold_noise, module.held = True, None
    try:
        yield model
    finally:
        for module in noisy:
            module.hold_noise, module.held = False, None


# ----- sweeps: the same network with and without a norm layer, over one setting ----------------------------


def _sweep(
    data,
    setting: str,
    values,
    *,
    norms,
    hidden_sizes,
    activation,
    lr,
    init_std,
    steps,
    batch_size,
    eval_every,
    seed,
    momentum=0.0,
) -> dict:
    runs: dict = {}
    num_classes = int(max(int(data[1].max()), int(data[3].max()))) + 1
    for norm in norms:
        runs[norm] = {}
        for value in values:
            model_lr, model_std = (value, init_std) if setting == "lr" else (lr, value)
            model = make_mlp(
                data[0].shape[1],
                list(hidden_sizes),
                num_classes,
                activation=activation,
                norm=norm,
                init_std=model_std,
                seed=seed,
            )
            runs[norm][value] = train(
                model,
                data,
                steps=steps,
                lr=model_lr,
                batch_size=batch_size,
                eval_every=eval_every,
                seed=seed,
                momentum=momentum,
            )
    return runs


def learning_rate_sweep(
    data,
    lrs,
    *,
    norms=(None, "batch"),
    hidden_sizes=(64,) * 6,
    activation="relu",
    init_std=None,
    steps=150,
    batch_size=60,
    eval_every=None,
    seed=0,
    momentum=0.0,
) -> dict:
    """Train one MLP per (norm, learning rate) on ``data``; returns ``{norm: {lr: TrainLog}}``.

    Every run starts from the same initial weights (``seed``) and sees the same mini-batches, so runs differ
    only in the norm layer and the learning rate. A run whose loss overflows stops (``log.diverged``).
    ``momentum``: the optimizer's heavy-ball momentum (0 = plain SGD), not the BN layers' running-statistics one.
    """
    return _sweep(
        data,
        "lr",
        lrs,
        norms=norms,
        hidden_sizes=hidden_sizes,
        activation=activation,
        lr=None,
        init_std=init_std,
        steps=steps,
        batch_size=batch_size,
        eval_every=eval_every,
        seed=seed,
        momentum=momentum,
    )


def init_scale_sweep(
    data,
    init_stds,
    *,
    lr,
    norms=(None, "batch"),
    hidden_sizes=(64,) * 6,
    activation="relu",
    steps=150,
    batch_size=60,
    eval_every=None,
    seed=0,
) -> dict:
    """Train one MLP per (norm, initial weight std) at learning rate ``lr``; returns ``{norm: {std: TrainLog}}``."""
    return _sweep(
        data,
        "init_std",
        init_stds,
        norms=norms,
        hidden_sizes=hidden_sizes,
        activation=activation,
        lr=lr,
        init_std=None,
        steps=steps,
        batch_size=batch_size,
        eval_every=eval_every,
        seed=seed,
    )


def final_accuracy(log: TrainLog) -> float:
    """The last test accuracy of a run (a fraction), or NaN for a run that diverged and has none."""
    if log.diverged or not log.test_accuracy:
        return float("nan")
    return log.test_accuracy[-1]
