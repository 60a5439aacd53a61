"""Looking inside a tanh network while it trains: the diagnostics of Karpathy's makemore, part 3.

For every hidden layer, at chosen training steps:

    activation histogram   the tanh outputs; a pile-up at ±1 means saturated units
    saturated share        the fraction of tanh outputs with |t| > 0.97 (their local gradient 1 − t² < 0.06)
    gradient histogram     log10 |∂L/∂t| of the tanh outputs: layers whose histograms sit far apart learn at
                           very different speeds (vanishing or exploding gradients)
and for every linear layer's weight W, at every step:
    update-to-data ratio   log10( std(lr·∂L/∂W) / std(W) ): about −3 is healthy; far below, the layer barely
                           moves; far above, each step rewrites it

and the initial loss against the loss of a network that knows nothing: ln(number of classes).
The networks: Linear → (BatchNorm1d) → tanh per hidden layer, weights drawn with std gain/√fan_in
("Kaiming" with a gain; 5/3 is the gain recommended for tanh), the last layer scaled by ``last_layer_scale``.

torch is imported inside the functions, so ``import bnlib`` stays instant.
Explained in notebooks/09_training_diagnostics.ipynb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SATURATION = 0.97  # |tanh| above this counts as saturated (as in makemore)
ACTIVATION_BINS = np.linspace(-1.0, 1.0, 41)  # tanh outputs
GRADIENT_BINS = np.linspace(-10.0, 0.0, 41)  # log10 |∂L/∂t|; smaller values are counted in the first bin
TANH_GAIN = 5.0 / 3.0  # torch.nn.init.calculate_gain("tanh")


def expected_initial_loss(num_classes: int) -> float:
    """The cross-entropy of a network that gives every class the same probability: ln(num_classes) nats."""
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes}: a classifier needs at least 2 classes.")
    return math.log(num_classes)


def standardized(data):
    """``data`` = (X_train, y_train, X_test, y_test) tensors with every pixel standardized by the training
    set's mean and std (pixels that are constant in training are only centred). Same shapes as ``data``."""
    X_train, y_train, X_test, y_test = data
    mean, std = X_train.mean(dim=0), X_train.std(dim=0)
    std[std == 0] = 1.0
    return (X_train - mean) / std, y_train, (X_test - mean) / std, y_test


def make_tanh_mlp(
    gain: float,
    *,
    norm: str | None = None,
    last_layer_scale: float = 1.0,
    in_features: int = 64,
    hidden_sizes=(64, 64, 64, 64),
    out_features: int = 10,
    seed: int = 0,
):
    """A tanh MLP initialised with a chosen gain: hidden weights ~ N(0, (gain/√fan_in)²), biases 0, the last
    layer's weights ~ N(0, (last_layer_scale/√fan_in)²).

    norm: None or "batch" (BatchNorm1d between each hidden Linear and its tanh; the Linear then has no bias).
    Returns torch.nn.Sequential: input (N, in_features) → logits (N, out_features).
    """
    import torch

    from bnlib.experiments import linear_layers, make_mlp

    if gain <= 0 or last_layer_scale <= 0:
        raise ValueError(f"gain={gain} and last_layer_scale={last_layer_scale} must both be positive.")
    model = make_mlp(in_features, list(hidden_sizes), out_features, activation="tanh", norm=norm, seed=seed)
    linears = linear_layers(model)
    with torch.no_grad():
        for index, layer in enumerate(linears):
            scale = last_layer_scale if index == len(linears) - 1 else gain
            layer.weight.normal_(0.0, scale / math.sqrt(layer.in_features))
            if layer.bias is not None:
                layer.bias.zero_()
    return model


@dataclass
class Diagnostics:
    """What :func:`diagnose` measured.

    steps: (R,) the recorded steps (number of updates done before the measurement; 0 = at initialisation).
    losses: (S + 1,) the mini-batch loss at steps 0..S.
    initial_loss: the loss on the whole training set at initialisation (training mode, nothing updated).
    activation_hist: (R, L, 40) fraction of tanh outputs per bin of ACTIVATION_BINS, per hidden layer.
    gradient_hist: (R, L, 40) fraction of log10|∂L/∂t| per bin of GRADIENT_BINS.
    saturated: (R, L) share of tanh outputs with |t| > SATURATION.
    gradient_std: (R, L) std of ∂L/∂t per hidden layer.
    update_ratio: (S, L + 1) log10(std(lr·∂L/∂W) / std(W)) per linear layer (the last is the output layer),
        for the updates 1..S.
    """

    gain: float
    norm: str | None
    lr: float
    steps: list
    losses: np.ndarray
    initial_loss: float
    activation_hist: np.ndarray
    gradient_hist: np.ndarray
    saturated: np.ndarray
    gradient_std: np.ndarray
    update_ratio: np.ndarray

    def at(self, step: int) -> int:
        """The index into the recorded arrays of ``step``."""
        if step not in self.steps:
            raise ValueError(f"step {step} was not recorded; recorded steps: {self.steps}.")
        return self.steps.index(step)


def _fractions(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(np.clip(values, bins[0], bins[-1]), bins=bins)
    return counts / max(values.size, 1)


def diagnose(
    data,
    *,
    gain: float,
    norm: str | None = None,
    last_layer_scale: float = 1.0,
    lr: float = 0.1,
    steps: int = 100,
    record_every: int = 10,
    batch_size: int = 60,
    hidden_sizes=(64, 64, 64, 64),
    seed: int = 0,
) -> Diagnostics:
    """Train a :func:`make_tanh_mlp` with plain SGD on ``data`` = (X_train, y_train, X_test, y_test) tensors,
    measuring at steps 0, record_every, 2·record_every, … and at ``steps``.

    At step t the network, after t updates, runs forward and backward on the t-th mini-batch; the
    measurements are taken on that batch, then the update is applied (none after the last step).
    A loss that overflows raises a ValueError naming the gain and learning rate.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    from bnlib.experiments import linear_layers, minibatches, preserved_buffers

    if steps < 1 or record_every < 1 or lr <= 0:
        raise ValueError(
            f"steps={steps} and record_every={record_every} must be at least 1 and lr={lr} positive; "
            "e.g. steps=100, record_every=10, lr=0.1."
        )
    X_train, y_train = data[0], data[1]
    num_classes = int(y_train.max()) + 1
    model = make_tanh_mlp(
        gain,
        norm=norm,
        last_layer_scale=last_layer_scale,
        in_features=X_train.shape[1],
        hidden_sizes=hidden_sizes,
        out_features=num_classes,
        seed=seed,
    )
    tanhs = [m for m in model if isinstance(m, nn.Tanh)]
    weights = [layer.weight for layer in linear_layers(model)]
    outputs: dict[int, torch.Tensor] = {}

    def keep_output(index):
        def hook(_module, _inputs, output):
            if output.requires_grad:  # not under no_grad
                output.retain_grad()
            outputs[index] = output

        return hook

    handles = [tanh.register_forward_hook(keep_output(i)) for i, tanh in enumerate(tanhs)]
    recorded = sorted({*range(0, steps + 1, record_every), steps})
    hist_a, hist_g, saturated, grad_std, ratios, losses = [], [], [], [], [], []
    try:
        model.train()
        with torch.no_grad(), preserved_buffers(model):
            initial_loss = float(F.cross_entropy(model(X_train), y_train))
        for step, batch in enumerate(minibatches(len(X_train), batch_size, steps + 1, seed)):
            loss = F.cross_entropy(model(X_train[batch]), y_train[batch])
            if not torch.isfinite(loss):
                raise ValueError(f"the loss overflowed at step {step} (gain {gain}, lr {lr}); lower either.")
            model.zero_grad(set_to_none=True)
            loss.backward()
            losses.append(loss.item())
            if step in recorded:
                t = [outputs[i].detach().numpy() for i in range(len(tanhs))]
                g = [outputs[i].grad.numpy() for i in range(len(tanhs))]
                hist_a.append([_fractions(a.ravel(), ACTIVATION_BINS) for a in t])
                magnitudes = [np.log10(np.abs(grad.ravel()) + 1e-30) for grad in g]
                hist_g.append([_fractions(m, GRADIENT_BINS) for m in magnitudes])
                saturated.append([float(np.mean(np.abs(a) > SATURATION)) for a in t])
                grad_std.append([float(grad.std()) for grad in g])
            if step == steps:
                break
            with torch.no_grad():
                ratios.append([math.log10(float((lr * w.grad).std() / w.std()) + 1e-30) for w in weights])
                for parameter in model.parameters():
                    parameter -= lr * parameter.grad
    finally:
        for handle in handles:
            handle.remove()
    return Diagnostics(
        gain=gain,
        norm=norm,
        lr=lr,
        steps=recorded,
        losses=np.array(losses),
        initial_loss=initial_loss,
        activation_hist=np.array(hist_a),
        gradient_hist=np.array(hist_g),
        saturated=np.array(saturated),
        gradient_std=np.array(grad_std),
        update_ratio=np.array(ratios),
    )


# What a healthy start looks like (the targets of the notebook's "fix it by hand" exercise).
LOSS_TOLERANCE = 0.15  # nats from ln(number of classes)
MAX_SATURATED = 0.2  # share of saturated tanh outputs, in every layer
MAX_GRADIENT_SPREAD = 2.0  # std of ∂L/∂t, first layer over last layer (or its inverse)


def initialisation_problems(run: Diagnostics, num_classes: int = 10) -> list[str]:
    """What is wrong with the network's start, as sentences (an empty list: a healthy start).

    Looks at step 0 of ``run``: the initial loss against ln(num_classes), the saturated share of every layer,
    and the spread of the gradient's std between the first and the last hidden layer.
    """
    problems = []
    expected = expected_initial_loss(num_classes)
    if abs(run.initial_loss - expected) > LOSS_TOLERANCE:
        problems.append(
            f"initial loss {run.initial_loss:.2f} nats, expected ln {num_classes} = {expected:.2f}: the output "
            "layer starts too confident; shrink its weights"
            if run.initial_loss > expected
            else f"initial loss {run.initial_loss:.2f} nats is below ln {num_classes} = {expected:.2f}"
        )
    saturated = run.saturated[0]
    if saturated.max() > MAX_SATURATED:
        worst = int(saturated.argmax())
        problems.append(
            f"{100 * saturated[worst]:.0f} % of layer {worst + 1}'s tanh outputs are saturated (target below "
            f"{100 * MAX_SATURATED:.0f} %): lower the gain or normalize the layer's input"
        )
    spread = run.gradient_std[0, 0] / run.gradient_std[0, -1]
    if not 1 / MAX_GRADIENT_SPREAD <= spread <= MAX_GRADIENT_SPREAD:
        problems.append(
            f"the first layer's gradient is {spread:.2g}× the last layer's (target within "
            f"{MAX_GRADIENT_SPREAD:g}×): the gradient {'vanishes' if spread < 1 else 'grows'} on its way back"
        )
    return problems
