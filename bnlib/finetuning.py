"""Fine-tuning a network that has batch norm on a small new data set: keep its running statistics frozen, or
let them update?

The pretrained network learned its running statistics on the old data. Fine-tuning on a few new images,
one chooses per BN layer:

    frozen     BN stays in eval mode: it normalizes with the *old* running statistics and never changes
               them (γ and β still learn). Batch size does not matter; the old statistics may not fit.
    updating   BN in training mode, as usual: it normalizes with each small batch's statistics and moves
               the running statistics toward the new data (forgetting the old).

The new data here is a "new camera": the same digits with a dimmer, grey background (pixels ·0.5 + 0.4).
torch is imported inside the functions, so ``import bnlib`` stays instant.
Explained in notebooks/10_convolutions_and_today.ipynb, section "Fine-tuning with batch norm".
"""

from __future__ import annotations

import copy

BN_MODES = ("frozen", "updating")


def new_camera(X, contrast: float = 0.5, background: float = 0.4):
    """The same images seen by another camera: X·contrast + background (pixels stay in [0, 1] for the
    defaults). X: (N, 64) or (N, 1, 8, 8); returns the same shape."""
    return X * contrast + background


def few_per_class(y, per_class: int, seed: int = 0):
    """Indices of ``per_class`` examples of every class of y (N,), seeded: a small, balanced new data set.

    Returns a LongTensor of shape (per_class · number of classes,).
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    picked = []
    for label in torch.unique(y):
        where = torch.nonzero(y == label).flatten()
        if len(where) < per_class:
            raise ValueError(f"class {int(label)} has only {len(where)} examples; ask for at most that many.")
        picked.append(where[torch.randperm(len(where), generator=generator)[:per_class]])
    return torch.cat(picked)


def set_bn_mode(model, mode: str) -> None:
    """Put every BN layer of ``model`` into eval mode ("frozen") or leave it following the model ("updating").

    Call it after ``model.train()``, which switches every layer back to training mode.
    """
    from torch import nn

    if mode not in BN_MODES:
        raise ValueError(f"mode={mode!r}; use one of {BN_MODES}.")
    if mode == "frozen":
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def fine_tune(pretrained, X, y, *, bn_mode: str, steps: int, lr: float, batch_size: int, seed: int = 0):
    """A copy of ``pretrained`` fine-tuned with SGD on (X, y) for ``steps`` steps, BN layers ``bn_mode``.

    X: (n, ...) inputs, y: (n,) labels; the pretrained model is not changed. Returns the fine-tuned copy.
    """
    import torch
    import torch.nn.functional as F

    from bnlib.experiments import minibatches

    model = copy.deepcopy(pretrained)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for batch in minibatches(len(X), batch_size, steps, seed):
        model.train()
        set_bn_mode(model, bn_mode)
        loss = F.cross_entropy(model(X[batch]), y[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    return model
