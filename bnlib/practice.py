"""Measurements for the practical questions about batch norm: dropout's variance shift, the scale of the
weights under weight decay, small batches, and how far one device's statistics are from the whole batch's.

The torch helpers take models built by ``bnlib.experiments.make_mlp``; torch is imported inside the
functions, so ``import bnlib`` stays instant.
Explained in notebooks/08_bn_in_practice.ipynb.
"""

from __future__ import annotations

import numpy as np

from bnlib.batchnorm import batchnorm_forward


def bn_layers(model) -> list:
    """The model's nn.BatchNorm1d layers, first to last."""
    from torch import nn

    return [module for module in model.modules() if isinstance(module, nn.BatchNorm1d)]


def bn_inputs(model, X) -> list:
    """What each batch-norm layer receives when the model runs on X (N, D) at test time (eval mode, so
    dropout is off): one tensor of shape (N, C) per layer. The model's mode is restored afterwards."""
    import torch

    captured = []
    hooks = [
        bn.register_forward_hook(lambda _, inputs, __: captured.append(inputs[0])) for bn in bn_layers(model)
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(X)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return captured


def variance_shift(model, X) -> np.ndarray:
    """For each batch-norm layer: mean over its features of running_var / (variance of its input at test time).

    X: test inputs (N, D); features that are constant on X are left out. 1 means the running variance is
    what the layer will meet at test time; above 1 means it will divide by too large a std (the "variance
    shift" of Li et al., arXiv 1801.05134).
    Returns an array of shape (number of BN layers,).
    """
    ratios = []
    for bn, inputs in zip(bn_layers(model), bn_inputs(model, X), strict=True):
        test_var = inputs.var(dim=0)
        alive = test_var > 0  # a unit that is constant on X (a dead ReLU) has no variance to compare
        ratios.append(float((bn.running_var[alive] / test_var[alive]).mean()))
    return np.array(ratios)


def recompute_bn_statistics(model, X) -> None:
    """Replace every BN layer's running statistics by those of X (N, D) with dropout off.

    The BN layers see X in training mode (they compute batch statistics; momentum=None makes one pass the
    exact average) while every other layer — dropout in particular — is in eval mode. Modes and momentum
    are restored afterwards; the weights are not touched.
    """
    import torch

    layers = bn_layers(model)
    was_training, momenta = model.training, [bn.momentum for bn in layers]
    model.eval()
    try:
        for bn in layers:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        with torch.no_grad():
            model(X)
    finally:
        for bn, momentum in zip(layers, momenta, strict=True):
            bn.momentum = momentum
        model.train(was_training)


def without_dropout_before_bn(model):
    """The same model with every dropout layer that some batch-norm layer comes after replaced by nn.Identity:
    dropout then acts only after the last BN (in a make_mlp model, just before the output layer).
    Changes the model in place and returns it."""
    from torch import nn

    modules = list(model.named_modules())
    last_bn = max((i for i, (_, m) in enumerate(modules) if isinstance(m, nn.BatchNorm1d)), default=-1)
    for index, (name, module) in enumerate(modules):
        if isinstance(module, nn.Dropout) and index < last_bn:
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, nn.Identity())
    return model


def record_weight_norm(layer) -> tuple[list[float], object]:
    """A list that gets ‖W‖ (Frobenius norm of ``layer.weight``) now and after each training step, and the
    ``on_step`` callback for ``bnlib.experiments.train`` that appends to it."""
    norms = [float(layer.weight.detach().norm())]

    def on_step(step, model):
        norms.append(float(layer.weight.detach().norm()))

    return norms, on_step


def l1_proximal_step(parameters, threshold: float):
    """An ``on_step`` callback for ``bnlib.experiments.train``: L1 regularization as a proximal step.

    After each SGD step every entry of the given parameters is soft-thresholded,
    w ← sign(w)·max(|w| − threshold, 0), with threshold = learning rate × L1 strength λ: the exact minimizer
    of λ‖w‖₁ + ‖w − w_SGD‖²/(2η), which (unlike adding λ·sign(w) to the gradient) sets entries exactly to 0.
    Unlike L2 weight decay, which multiplies W by (1 − ηλ) and so keeps its direction, it changes the
    direction of W: on weights a norm layer follows, it changes the function.
    """
    import torch

    if threshold < 0:
        raise ValueError(
            f"threshold={threshold} must be ≥ 0 (it is the learning rate times the L1 strength)."
        )
    parameters = list(parameters)

    def on_step(step, model):
        with torch.no_grad():
            for param in parameters:
                param.copy_(param.sign() * (param.abs() - threshold).clamp_min(0.0))

    return on_step


def small_batch_sweep(
    norms: dict,
    batch_sizes,
    data,
    *,
    hidden_sizes=(64, 64),
    lr_per_example=0.01,
    max_lr=0.1,
    epochs=1.0,
    min_steps=200,
    seed=0,
) -> dict:
    """Test accuracy of one small MLP per (norm, batch size), trained for ``epochs`` passes over the training
    set or ``min_steps`` steps, whichever is more.

    norms: name -> ``norm`` argument of make_mlp ("batch", "layer", "group" or a callable width -> module).
    The learning rate grows with the batch, lr = min(max_lr, lr_per_example · batch size), the usual linear
    scaling (a batch of 2 carries a noisier gradient and needs smaller steps).
    Returns name -> list of test accuracies (fractions), in the order of ``batch_sizes``.
    """
    from bnlib.experiments import make_mlp, train

    num_train = len(data[0])
    results = {}
    for name, norm in norms.items():
        results[name] = []
        for batch_size in batch_sizes:
            model = make_mlp(data[0].shape[1], list(hidden_sizes), 10, norm=norm, seed=seed)
            steps = max(min_steps, int(epochs * num_train) // batch_size)
            lr = min(max_lr, lr_per_example * batch_size)
            log = train(model, data, steps=steps, lr=lr, batch_size=batch_size, seed=seed)
            results[name].append(log.test_accuracy[-1])
    return results


def local_statistics_error(per_device_batch_sizes, devices=8, channels=16, seed=0) -> np.ndarray:
    """How far batch norm on one device's slice is from batch norm on the whole batch, by slice size.

    For each size b, a batch of devices·b examples with ``channels`` features (normal, mean 3, std 2) is
    split into ``devices`` slices; returns, per b, the mean absolute difference between the outputs of batch
    norm with each slice's own statistics and with the whole batch's (in units of the normalized output).
    """
    rng = np.random.default_rng(seed)
    gamma, beta = np.ones(channels), np.zeros(channels)
    errors = []
    for size in per_device_batch_sizes:
        x = rng.normal(3.0, 2.0, size=(devices * size, channels))
        whole, _ = batchnorm_forward(x, gamma, beta)
        local = np.concatenate([batchnorm_forward(part, gamma, beta)[0] for part in np.split(x, devices)])
        errors.append(float(np.abs(local - whole).mean()))
    return np.array(errors)
