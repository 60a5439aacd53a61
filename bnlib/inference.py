"""Batch norm at inference time: running statistics, folding, recalibration, and batch statistics as noise.

At training time batch norm normalizes each feature with the statistics of the current mini-batch. At test
time there may be a single example, so the layer uses statistics fixed in advance (the running averages kept
during training, or statistics recomputed over the training set). With fixed statistics the layer is an
affine map per feature,

    out = γ (x − running_mean) / sqrt(running_var + eps) + β  =  scale · x + shift,

which can be folded into the linear layer before it. This module holds the helpers for that story:

    running_average          the exponential moving average PyTorch keeps (or the cumulative one)
    population_statistics    the original paper's Algorithm 2: statistics over all training batches
    eval_affine              the (scale, shift) of a batch-norm layer in eval mode
    fold_batchnorm           fold that affine map into the weight and bias of the preceding layer
    fold_into_linear, fold_sequential    the same for torch modules
    recalibrate, recalibrate_batchnorm   recompute running statistics (numpy layer / torch model)
    outputs_in_batches       one example's training-mode output in many different batches (batch noise)
    batch_statistics         the mean and unbiased variance of each step's batch, as BatchNorm computes them
    jitter_by_batch_size     how much one example's output jitters over batches, per batch size

torch is imported inside the torch helpers only, so ``import bnlib`` stays instant.

Explained in notebooks/05_train_vs_inference.ipynb
"""

from __future__ import annotations

import numpy as np

from bnlib._validation import as_float_array, check_eps, check_momentum
from bnlib.batchnorm import BatchNorm, batchnorm_forward


def running_average(batch_values, momentum=0.1, initial=0.0):
    """The running estimate after every step, in PyTorch's convention.

    batch_values: array of shape (T, D): one statistic (e.g. the batch mean of D features) at each of T steps.
    momentum: weight of the new batch, ``running = (1 − momentum)·running + momentum·batch``; None for the
        cumulative average (weight 1/t at step t, so the result is the plain mean of the batches so far).
    initial: the estimate before the first step, a number or an array of shape (D,) (PyTorch: 0 for the mean,
        1 for the variance).
    Returns an array of shape (T, D): row t is the estimate after step t + 1.

    Keras/TensorFlow write the same recurrence with the weight on the *old* value: their momentum is
    1 − PyTorch's (Keras momentum=0.99 is PyTorch momentum=0.01).
    """
    values = as_float_array(batch_values, "batch_values")
    if values.ndim != 2:
        raise ValueError(
            f"batch_values has shape {values.shape}; expected (T, D), one row per step: for a single feature "
            "pass values[:, None]."
        )
    momentum = check_momentum(momentum)
    running = np.broadcast_to(np.asarray(initial, dtype=values.dtype), values.shape[1:]).copy()
    estimates = np.empty_like(values)
    for step, batch in enumerate(values):
        weight = 1.0 / (step + 1) if momentum is None else momentum
        running = (1.0 - weight) * running + weight * batch
        estimates[step] = running
    return estimates


def population_statistics(batches):
    """Inference statistics as in the original paper's Algorithm 2, from equal-size training mini-batches.

    batches: array of shape (B, m, D): B mini-batches of m examples with D features (m ≥ 2).
    Returns (mean, var), each of shape (D,):
        mean = E_B[μ_B]                   the average of the batch means
        var  = m/(m − 1) · E_B[σ²_B]      the average biased batch variance, made unbiased
    This is exactly what a batch-norm layer with momentum=None stores after seeing those batches.
    """
    batches = as_float_array(batches, "batches")
    if batches.ndim != 3 or batches.shape[1] < 2:
        raise ValueError(
            f"batches has shape {batches.shape}; expected (B, m, D) with m ≥ 2 examples per batch "
            "(a variance needs two values); e.g. x[: B * m].reshape(B, m, D)."
        )
    m = batches.shape[1]
    mean = batches.mean(axis=1).mean(axis=0)
    var = m / (m - 1) * batches.var(axis=1).mean(axis=0)
    return mean, var


def eval_affine(running_mean, running_var, gamma=None, beta=None, eps=1e-5):
    """Batch norm in eval mode as an affine map per feature: ``out = scale · x + shift``.

    running_mean, running_var: arrays of shape (D,); gamma, beta: arrays of shape (D,), or None for 1 and 0
    (a layer built with affine=False). eps: the layer's eps, ≥ 0.
    Returns (scale, shift), each of shape (D,):  scale = γ / sqrt(running_var + eps),
    shift = β − scale · running_mean.
    """
    mean = as_float_array(running_mean, "running_mean")
    var = as_float_array(running_var, "running_var")
    if mean.ndim != 1 or var.shape != mean.shape:
        raise ValueError(
            f"running_mean {mean.shape} and running_var {var.shape} must both have shape (D,), one entry per "
            "feature; pass the layer's running_mean and running_var."
        )
    gamma = np.ones_like(mean) if gamma is None else _per_feature(gamma, mean.shape, "gamma")
    beta = np.zeros_like(mean) if beta is None else _per_feature(beta, mean.shape, "beta")
    eps = check_eps(eps)
    if np.any(var + eps <= 0):
        raise ValueError("running_var + eps must be positive in every feature; use eps > 0 (e.g. eps=1e-5).")
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - scale * mean


def fold_batchnorm(weight, bias, running_mean, running_var, gamma=None, beta=None, eps=1e-5):
    """Fold an eval-mode batch-norm layer into the linear (or convolution) layer that feeds it.

    weight: array of shape (D_out, D_in) in PyTorch's layout (the layer computes x @ weight.T + bias), or a
        convolution kernel of shape (C_out, C_in, kH, kW); bias: array of shape (D_out,), or None for no bias.
    running_mean, running_var, gamma, beta: arrays of shape (D_out,) from the batch-norm layer (gamma and beta
        None for affine=False); eps: the layer's eps.
    Returns (folded_weight, folded_bias), shapes (D_out, D_in) [or the kernel's shape] and (D_out,), such that
    ``batchnorm_eval(x @ weight.T + bias) == x @ folded_weight.T + folded_bias``:

        folded_weight = scale[:, None] · weight        folded_bias = scale · (bias − running_mean) + β
        with scale = γ / sqrt(running_var + eps).
    """
    weight = as_float_array(weight, "weight")
    if weight.ndim < 2:
        raise ValueError(
            f"weight has shape {weight.shape}; expected (D_out, D_in) as in torch.nn.Linear.weight "
            "(or a convolution kernel (C_out, C_in, kH, kW))."
        )
    scale, shift = eval_affine(running_mean, running_var, gamma, beta, eps)
    if scale.shape[0] != weight.shape[0]:
        raise ValueError(
            f"weight has {weight.shape[0]} output features (shape {weight.shape}) but the batch-norm layer "
            f"has {scale.shape[0]}; fold the layer into the one that feeds it directly."
        )
    bias = np.zeros(weight.shape[0]) if bias is None else _per_feature(bias, scale.shape, "bias")
    folded_weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    return folded_weight, scale * bias + shift


def _per_feature(value, shape, name):
    array = as_float_array(value, name)
    if array.shape != shape:
        raise ValueError(
            f"{name} has shape {array.shape} but must have shape {shape}, one entry per feature."
        )
    return array


# ----- torch --------------------------------------------------------------------------------------


def _numpy(tensor):
    return None if tensor is None else tensor.detach().cpu().double().numpy()


def fold_into_linear(linear, batchnorm):
    """A new ``torch.nn.Linear`` equal to ``batchnorm.eval()(linear(x))``: the batch norm folded in.

    linear: torch.nn.Linear(D_in, D_out); batchnorm: torch.nn.BatchNorm1d(D_out) with running statistics.
    The new layer has the linear layer's dtype; computed in float64, then cast.
    """
    import torch

    if not isinstance(linear, torch.nn.Linear) or not isinstance(batchnorm, torch.nn.BatchNorm1d):
        raise TypeError(
            f"expected (nn.Linear, nn.BatchNorm1d), got "
            f"({type(linear).__name__}, {type(batchnorm).__name__})."
        )
    if not batchnorm.track_running_stats:
        raise ValueError(
            "this batch-norm layer keeps no running statistics (track_running_stats=False), so it always "
            "normalizes with batch statistics and is not a fixed affine map; it cannot be folded."
        )
    weight, bias = fold_batchnorm(
        _numpy(linear.weight),
        _numpy(linear.bias),
        _numpy(batchnorm.running_mean),
        _numpy(batchnorm.running_var),
        _numpy(batchnorm.weight),
        _numpy(batchnorm.bias),
        batchnorm.eps,
    )
    folded = torch.nn.Linear(linear.in_features, linear.out_features, dtype=linear.weight.dtype)
    with torch.no_grad():
        folded.weight.copy_(torch.from_numpy(weight))
        folded.bias.copy_(torch.from_numpy(bias))
    return folded


def fold_sequential(model):
    """A copy of a ``torch.nn.Sequential`` with every Linear → BatchNorm1d pair replaced by one folded Linear.

    The copy has no batch-norm layers and computes what ``model.eval()`` computes (up to rounding); other
    layers are deep-copied. The original model is not changed.
    """
    import copy

    import torch

    if not isinstance(model, torch.nn.Sequential):
        raise TypeError(f"expected a torch.nn.Sequential, got {type(model).__name__}.")
    layers, modules, i = [], list(model), 0
    while i < len(modules):
        pair = modules[i : i + 2]
        if (
            len(pair) == 2
            and isinstance(pair[0], torch.nn.Linear)
            and isinstance(pair[1], torch.nn.BatchNorm1d)
        ):
            layers.append(fold_into_linear(*pair))
            i += 2
        else:
            layers.append(copy.deepcopy(modules[i]))
            i += 1
    return torch.nn.Sequential(*layers).eval()


def recalibrate(layer, batches):
    """Recompute a numpy ``bnlib.BatchNorm`` layer's running statistics from ``batches``, as Algorithm 2 does.

    layer: a bnlib.BatchNorm; batches: an iterable of arrays of shape (N, D) (or the layer's layout), N ≥ 2.
    The statistics are reset and then averaged cumulatively (momentum=None) over the batches, so every batch
    counts equally; the layer's momentum and train/eval mode are restored afterwards (and its statistics too,
    if a batch is rejected). Returns the layer.
    """
    if not layer.track_running_stats:
        raise ValueError(
            "the layer keeps no running statistics (track_running_stats=False): nothing to recalibrate."
        )
    batches = list(batches)
    if not batches:
        raise ValueError("batches is empty: pass at least one batch to recalibrate from.")
    saved = (layer.running_mean, layer.running_var, layer.num_batches_tracked)
    momentum, training = layer.momentum, layer.training
    layer.reset_running_stats()
    layer.momentum = None
    layer.train()
    try:
        for batch in batches:
            layer(batch)
    except Exception:
        # A failed call changes nothing.
        layer.running_mean, layer.running_var, layer.num_batches_tracked = saved
        raise
    finally:
        layer.momentum = momentum
        layer.train(training)
    return layer


def recalibrate_batchnorm(model, X, batch_size=None):
    """Recompute every batch-norm layer's running statistics of a torch model from the inputs ``X``.

    model: a torch.nn.Module; X: tensor of shape (N, D_in) (inputs only, no labels needed).
    batch_size: None to pass all of X as one batch (the exact population statistics of X, with the unbiased
        variance), or a size: X is cut into equal batches (a last partial batch is dropped so every batch
        counts equally) whose statistics are averaged cumulatively (momentum=None).
    Runs in training mode under torch.no_grad() (the weights do not change; dropout, if any, is active as it
    was when the statistics were first collected), then restores each layer's momentum and the model's mode.
    Returns the number of batch-norm layers recalibrated.

    Use it after training (replace the exponential average by statistics of the final weights) or after the
    inputs' distribution shifts (recompute on unlabeled inputs from the new distribution).
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ValueError("the model has no batch-norm layers: nothing to recalibrate.")
    if any(not m.track_running_stats for m in norms):
        raise ValueError(
            "a batch-norm layer has track_running_stats=False: it keeps no statistics to recalibrate."
        )
    size = len(X) if batch_size is None else int(batch_size)
    if not 2 <= size <= len(X):
        raise ValueError(
            f"batch_size={batch_size} must be between 2 and len(X)={len(X)} (or None for all of X)."
        )
    saved_momenta, was_training = [m.momentum for m in norms], model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    try:
        with torch.no_grad():
            for start in range(0, len(X) - size + 1, size):
                model(X[start : start + size])
    finally:
        for m, momentum in zip(norms, saved_momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)
    return len(norms)


# ----- batch noise --------------------------------------------------------------------------------


def outputs_in_batches(example, companions, eps=1e-5):
    """One example's training-mode batch-norm output (γ = 1, β = 0) in many different mini-batches.

    example: array of shape (D,); companions: array of shape (K, B − 1, D): for each of K batches, the other
        B − 1 examples that share the batch with it (B ≥ 2).
    Returns an array of shape (K, D): the example's normalized features x̂ in each batch. Their spread over
    the K batches is the noise that batch statistics add (it shrinks roughly like 1/√B).
    """
    example = as_float_array(example, "example")
    companions = as_float_array(companions, "companions")
    if example.ndim != 1 or companions.ndim != 3 or companions.shape[2] != example.shape[0]:
        raise ValueError(
            f"example {example.shape} and companions {companions.shape} must have shapes (D,) and "
            "(K, B − 1, D) with the same D; for one batch use companions[None]."
        )
    if companions.shape[1] < 1:
        raise ValueError("each batch needs at least one companion (B ≥ 2): a batch of one has variance 0.")

    num_batches, others, features = companions.shape
    batch = np.concatenate([np.broadcast_to(example, (num_batches, 1, features)), companions], axis=1)
    # All K batches in one call: the columns of the (B, K·D) array are the (batch, feature) pairs.
    columns = batch.transpose(1, 0, 2).reshape(others + 1, num_batches * features)
    ones = np.ones(columns.shape[1], columns.dtype)
    out, _ = batchnorm_forward(columns, ones, np.zeros_like(ones), eps)
    return out[0].reshape(num_batches, features)


def batch_statistics(samples):
    """Mean and unbiased variance of every column of ``samples`` (shape (B, T): column t is step t's batch).

    Computed by a bnlib.BatchNorm with momentum=1, whose running statistics are then exactly the last batch's:
    the batch mean and the unbiased batch variance (n/(n − 1) times the biased one). Returns two arrays (T,).
    """
    layer = BatchNorm(samples.shape[1], momentum=1.0)
    layer(samples)
    return layer.running_mean, layer.running_var


def jitter_by_batch_size(example, companions, batch_sizes):
    """Std over batches of one example's normalized output, for each batch size.

    example: array (D,); companions: array (K, max(batch_sizes) − 1, D), the pool of batch mates (batch size B
    uses the first B − 1 of each row). Returns an array of shape (len(batch_sizes), D).
    """
    return np.array(
        [outputs_in_batches(example, companions[:, : size - 1]).std(axis=0) for size in batch_sizes]
    )
