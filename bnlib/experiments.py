"""Small torch experiments on the digits data: build an MLP with or without a norm layer, train it, score it.

torch is imported inside the functions, so ``import bnlib`` stays instant.
Used by notebooks 05–08, which rerun the papers' experiments at laptop scale.
"""

from __future__ import annotations

from collections.abc import Callable
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
        return nn.GroupNorm(num_groups=min(8, width), num_channels=width)
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
        raise ValueError(f"batch_size={batch_size} must be between 1 and the number of examples ({num_examples}).")
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
    eval_every: int | None = None,
    seed: int = 0,
    on_step: Callable[[int, object], None] | None = None,
) -> TrainLog:
    """Train ``model`` with SGD and cross-entropy on ``data`` = (X_train, y_train, X_test, y_test) tensors.

    Stops early, with ``log.diverged_at`` set, when the loss becomes NaN or infinite (a too-large learning
    rate), instead of training on garbage. ``on_step(step, model)`` is called after every update, for
    recording activations or gradients. Test accuracy is taken every ``eval_every`` steps and at the end.
    """
    import torch
    import torch.nn.functional as F

    X_train, y_train, X_test, y_test = data
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
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
        log.losses.append(float(loss))
        if on_step is not None:
            on_step(step, model)
        if (eval_every and step % eval_every == 0) or step == steps:
            log.evaluated_steps.append(step)
            log.test_accuracy.append(accuracy(model, X_test, y_test))
    return log
