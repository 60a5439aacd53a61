"""Measurements behind "why does batch norm work?": internal covariate shift and the loss landscape.

Two ways to look at a network during training, both from Santurkar et al. 2018 ("How does batch
normalization help optimization?", arXiv 1805.11604), rerun here on small digits networks:

* internal covariate shift (their Definition 2.1): how much layer i's gradient G changes when the layers
  before it take their SGD step first, G′. Small ‖G − G′‖ and cosine(G, G′) near 1 mean the layer can trust
  its gradient although the earlier layers move;
* the loss landscape along the gradient: from the current weights w, step to w − η·g for several step
  sizes η, and look at the loss there (how much it varies), at how much the gradient changes ("gradient
  predictiveness") and at the largest ratio ‖∇L(w) − ∇L(w − η·g)‖ / ‖η·g‖ ("effective β-smoothness").

``train_two_layer`` (numpy, no torch) shows the drift itself: a tiny network's hidden-layer inputs move
while it trains although its own inputs stay standardized (notebook 01's HiddenDriftPanel).

All measurements leave the model unchanged: weights, gradients and BN running statistics are restored.
torch is imported inside the functions, so ``import bnlib`` stays instant.
Explained in notebooks/07_why_does_bn_work.ipynb.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from bnlib.experiments import linear_layers, preserved_buffers


def _loss_and_gradient(model, params, X, y):
    """Cross-entropy on (X, y) in training mode and its gradient w.r.t. ``params``, as one flat vector."""
    import torch
    import torch.nn.functional as F

    with preserved_buffers(model):
        loss = F.cross_entropy(model(X), y)
        grads = torch.autograd.grad(loss, params)
    return loss.item(), torch.cat([g.reshape(-1) for g in grads])


def _params_before(model, layer):
    """Parameters of the modules that come before ``layer`` in the model's forward order (nn.Sequential)."""
    earlier = []
    for module in model:
        if module is layer:
            return earlier
        earlier.extend(module.parameters())
    raise ValueError("layer is not a direct child of the model; pass one of model's nn.Linear layers.")


@dataclass
class CovariateShift:
    """Internal covariate shift of one layer at one step: ‖G − G′‖, ‖G‖ and cos(G, G′)."""

    difference: float
    gradient_norm: float
    cosine: float

    @property
    def relative(self) -> float:
        """‖G − G′‖ / ‖G‖: the change as a fraction of the gradient itself (comparable across networks)."""
        return self.difference / self.gradient_norm


def internal_covariate_shift(model, X, y, *, lr: float, layer_index: int) -> CovariateShift:
    """‖G − G′‖ and cos(G, G′) for the weight of the ``layer_index``-th nn.Linear layer of ``model``.

    G: gradient of the loss on the batch X (N, D), y (N,) w.r.t. that weight at the current parameters.
    G′: the same gradient after every earlier layer (its weights, biases, BN γ and β) has taken its own SGD
    step of size ``lr`` on the same batch, while this layer and the later ones stay where they are.
    The model is not changed (the update happens on a copy). ‖G − G′‖ is in the units of the gradient.
    """
    import torch

    layers = linear_layers(model)
    if not 0 <= layer_index < len(layers):
        raise ValueError(
            f"layer_index={layer_index}; the model has {len(layers)} linear layers (0 … {len(layers) - 1})."
        )
    if layer_index == 0:
        raise ValueError("layer_index=0 has no earlier layers to move; pick 1 or later.")
    shifted = copy.deepcopy(model)  # the update happens on a copy; the model itself is never touched
    shifted.train()
    target = linear_layers(shifted)[layer_index].weight
    earlier = _params_before(shifted, linear_layers(shifted)[layer_index])
    _, gradients = _loss_and_gradient(shifted, earlier + [target], X, y)
    G = gradients[-target.numel() :]
    with torch.no_grad():
        offset = 0
        # Every earlier layer takes its SGD step, with its gradient at the current point.
        for param in earlier:
            size = param.numel()
            param -= lr * gradients[offset : offset + size].reshape(param.shape)
            offset += size
    _, G_shifted = _loss_and_gradient(shifted, [target], X, y)
    cosine = float(torch.nn.functional.cosine_similarity(G, G_shifted, dim=0))
    return CovariateShift(float((G - G_shifted).norm()), float(G.norm()), cosine)


@dataclass
class LandscapeProbe:
    """The loss landscape along the negative gradient at one point of training.

    step_sizes: the η values probed (learning-rate units); losses[k] = L(w − η_k·g);
    gradient_changes[k] = ‖∇L(w) − ∇L(w − η_k·g)‖; gradient_norm = ‖g‖ = ‖∇L(w)‖.
    """

    step_sizes: np.ndarray
    losses: np.ndarray
    gradient_changes: np.ndarray
    gradient_norm: float

    @property
    def loss_range(self) -> float:
        """max − min of the loss over the probed steps (nats): how much the loss varies along the gradient."""
        return float(self.losses.max() - self.losses.min())

    @property
    def max_gradient_change(self) -> float:
        """The largest ‖∇L(w) − ∇L(w − η·g)‖: small means the gradient stays predictive along the step."""
        return float(self.gradient_changes.max())

    @property
    def beta_smoothness(self) -> float:
        """max over η of ‖∇L(w) − ∇L(w − η·g)‖ / ‖η·g‖: the effective Lipschitz constant of the gradient."""
        return float((self.gradient_changes / (self.step_sizes * self.gradient_norm)).max())


def probe_landscape(model, X, y, step_sizes) -> LandscapeProbe:
    """Walk from the current weights w along −g (g = ∇L(w) on the batch X, y) and measure loss and gradient.

    step_sizes: positive η values (e.g. the learning rate times 0.25 … 4). Every parameter moves (weights,
    biases, BN γ and β). The model's parameters and running statistics are restored afterwards.
    """
    import torch
    from torch.nn.utils import parameters_to_vector, vector_to_parameters

    step_sizes = np.asarray(step_sizes, dtype=float)
    if step_sizes.ndim != 1 or step_sizes.size == 0 or np.any(step_sizes <= 0):
        raise ValueError(f"step_sizes must be a non-empty 1-D list of positive η values, got {step_sizes!r}.")
    params = list(model.parameters())
    was_training = model.training
    model.train()
    start = parameters_to_vector(params).detach().clone()
    _, g = _loss_and_gradient(model, params, X, y)
    losses, changes = [], []
    try:
        with torch.no_grad():
            for eta in step_sizes:
                vector_to_parameters(start - float(eta) * g, params)
                with torch.enable_grad():
                    loss, g_there = _loss_and_gradient(model, params, X, y)
                losses.append(loss)
                changes.append(float((g - g_there).norm()))
    finally:
        with torch.no_grad():
            vector_to_parameters(start, params)
        model.train(was_training)
    return LandscapeProbe(step_sizes, np.array(losses), np.array(changes), float(g.norm()))


@dataclass
class ProbeTrace:
    """Measurements taken every few steps of a training run: ``steps[i]`` is when ``values[i]`` was taken."""

    steps: list[int] = field(default_factory=list)
    values: list = field(default_factory=list)


def record_every(every: int, measure):
    """An ``on_step`` callback for :func:`bnlib.experiments.train` that stores ``measure(model)`` every
    ``every`` steps. Returns (on_step, trace)."""
    if every < 1:
        raise ValueError(f"every={every} must be a positive number of steps.")
    trace = ProbeTrace()

    def on_step(step, model):
        if step % every == 0:
            trace.steps.append(step)
            trace.values.append(measure(model))

    return on_step, trace


def train_two_layer(
    X, y, *, hidden: int = 8, steps: int = 200, lr: float = 0.3, seed: int = 0, record_every: int = 5
):
    """Train ŷ = relu(X W1 + b1) W2 + b2 on the MSE with full-batch gradient descent; record the hidden
    layer's inputs (pre-activations) on the way.

    X: (n, d) inputs, y: (n,) targets. Returns a dict with
        "steps":  (S,) the recorded step numbers (0, record_every, …, steps),
        "hidden": (S, n, hidden) the pre-activations X W1 + b1 at each recorded step,
        "inputs": (n, d) X itself (it never changes), "loss": (S,) the MSE at each recorded step.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    n, d = X.shape
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((d, hidden)) * np.sqrt(2.0 / d)  # He initialization for ReLU
    b1 = np.zeros(hidden)
    W2 = rng.standard_normal(hidden) * np.sqrt(1.0 / hidden)
    b2 = 0.0
    recorded_steps, hidden_inputs, losses = [], [], []
    for step in range(steps + 1):
        pre = X @ W1 + b1  # (n, hidden): what the hidden layer receives
        act = np.maximum(pre, 0.0)
        error = act @ W2 + b2 - y  # (n,)
        if step % record_every == 0:
            recorded_steps.append(step)
            hidden_inputs.append(pre)
            losses.append(np.mean(error**2))
        if step == steps:
            break
        # Backward pass of the MSE, then one gradient step on every parameter.
        d_out = 2.0 * error / n
        d_pre = np.outer(d_out, W2) * (pre > 0)
        W2 = W2 - lr * act.T @ d_out
        b2 = b2 - lr * d_out.sum()
        W1 = W1 - lr * X.T @ d_pre
        b1 = b1 - lr * d_pre.sum(axis=0)
    return {
        "steps": np.array(recorded_steps),
        "hidden": np.array(hidden_inputs),
        "inputs": X,
        "loss": np.array(losses),
    }
