"""The training loop written out, and a hook that shows what each batch-norm layer does at every forward pass.

A torch training loop calls the model in two modes:

    model.train()   each BN layer normalizes with the *batch's* mean and variance, and moves its running
                    statistics toward them:  running = (1 − momentum)·running + momentum·batch
                    (the running variance takes the unbiased batch variance, ÷(n − 1))
    model.eval()    each BN layer normalizes with its *running* statistics and leaves them untouched

:class:`BatchNormWatch` records (and can print) both at every call, so a learner sees the difference on the
screen instead of reading about it. torch is imported inside the functions, so ``import bnlib`` stays instant.
Explained in notebooks/09_training_diagnostics.ipynb, section "The training loop, written out".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchNormCall:
    """One forward call of a watched BN layer, for the first ``features`` features.

    batch_mean, batch_var: the statistics of the input batch (var biased, ÷n, as used to normalize).
    running_mean_before/after, running_var_before/after: the layer's buffers around the call.
    All are numpy arrays of shape (features,).
    """

    layer: str
    training: bool
    batch_size: int
    batch_mean: object
    batch_var: object
    running_mean_before: object
    running_mean_after: object
    running_var_before: object
    running_var_after: object

    @property
    def used(self) -> str:
        """Which statistics normalized this call: "batch" in training mode, "running" in eval mode."""
        return "batch" if self.training else "running"

    def line(self, label: str = "") -> str:
        """One printable line: mode, statistics used, and how the running mean moved (feature 0)."""
        moved = float(self.running_mean_after[0] - self.running_mean_before[0])
        return (
            f"{label:<14} BN {self.layer}: {'train' if self.training else 'eval '} n={self.batch_size:<4}"
            f"normalizes with {self.used:<7} | batch mean[0] {float(self.batch_mean[0]):+.4f} "
            f"var[0] {float(self.batch_var[0]):.4f} | running mean[0] {float(self.running_mean_before[0]):+.4f}"
            f" → {float(self.running_mean_after[0]):+.4f} (moved {moved:+.4f})"
        )


class BatchNormWatch:
    """Forward hooks on every BatchNorm1d/2d of ``model`` that record a :class:`BatchNormCall` per call.

    Use as a context manager so the hooks are removed afterwards::

        with BatchNormWatch(model, printing=True) as watch:
            ... the training loop ...
        watch.calls   # every call, in order

    features: how many features (channels) to record per layer. ``label`` (a str) is printed in front of
    each line; set it in the loop (``watch.label = f"epoch {e} step {s}"``) to say where the call happened.
    """

    def __init__(self, model, *, printing: bool = False, features: int = 4):
        from torch import nn

        layers = [
            (name, m) for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
        ]
        if not layers:
            raise ValueError("the model has no batch-norm layer to watch; build it with norm='batch'.")
        self.printing = printing
        self.features = features
        self.label = ""
        self.calls: list[BatchNormCall] = []
        self._before: dict[str, tuple] = {}
        self._handles = []
        for name, layer in layers:
            self._handles.append(layer.register_forward_pre_hook(self._pre_hook(name)))
            self._handles.append(layer.register_forward_hook(self._post_hook(name)))

    def _pre_hook(self, name):
        def hook(layer, inputs):
            k = self.features
            self._before[name] = (layer.running_mean[:k].clone(), layer.running_var[:k].clone())

        return hook

    def _post_hook(self, name):
        def hook(layer, inputs, _output):
            x = inputs[0].detach()
            axes = [0, *range(2, x.ndim)]  # every axis but the channel axis
            k = self.features
            mean_before, var_before = self._before.pop(name)
            call = BatchNormCall(
                layer=name,
                training=layer.training,
                batch_size=x.shape[0],
                batch_mean=x.mean(dim=axes)[:k].numpy(),
                batch_var=x.var(dim=axes, unbiased=False)[:k].numpy(),
                running_mean_before=mean_before.numpy(),
                running_mean_after=layer.running_mean[:k].detach().clone().numpy(),
                running_var_before=var_before.numpy(),
                running_var_after=layer.running_var[:k].detach().clone().numpy(),
            )
            self.calls.append(call)
            if self.printing:
                print(call.line(self.label))

        return hook

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.remove()


def epoch_batches(num_examples: int, batch_size: int, epoch: int, seed: int = 0):
    """The mini-batches of one epoch: index tensors of length batch_size, a fresh seeded shuffle per epoch.

    The last partial batch is dropped (a batch of one would leave batch norm nothing to average).
    Returns a list of LongTensors of shape (batch_size,).
    """
    import torch

    if not 2 <= batch_size <= num_examples:
        raise ValueError(
            f"batch_size={batch_size} must lie between 2 and the number of examples ({num_examples})."
        )
    order = torch.randperm(num_examples, generator=torch.Generator().manual_seed(1000 * seed + epoch))
    return [
        order[start : start + batch_size] for start in range(0, num_examples - batch_size + 1, batch_size)
    ]


def running_update(running, batch_var_or_mean, momentum: float):
    """PyTorch's running-statistics rule: (1 − momentum)·running + momentum·batch (arrays of one shape)."""
    return (1.0 - momentum) * running + momentum * batch_var_or_mean
