"""A tiny residual network, and zero-initialized γ in the last batch norm of each residual branch
(Goyal et al. 2017, "Accurate, large minibatch SGD", section 5.1).

One block:   x → ReLU(x + branch(x)),   branch = Linear → BN → ReLU → Linear → BN
With the last BN's γ started at 0 the branch outputs exactly 0, so every block starts as the identity on
its (non-negative) input: a deep network starts as a shallow one and its activations do not grow with depth.
With γ = 1 every block adds a unit-variance branch, and the signal's variance grows with the number of blocks.

torch is imported inside the functions, so ``import bnlib`` stays instant.
Explained in notebooks/10_convolutions_and_today.ipynb, section "Zero-initialized γ".
"""

from __future__ import annotations


def make_residual_net(
    *,
    blocks: int,
    width: int = 32,
    zero_init_gamma: bool,
    in_features: int = 64,
    num_classes: int = 10,
    seed: int = 0,
):
    """stem (Linear → ReLU) → ``blocks`` residual blocks → Linear head.

    Input (N, in_features) → hidden (N, width) → logits (N, num_classes). The model keeps its blocks in
    ``model.blocks`` (an nn.ModuleList) and the stem and head in ``model.stem``, ``model.head``.
    """
    import torch
    from torch import nn

    if blocks < 0 or width < 1:
        raise ValueError(f"blocks={blocks} must be ≥ 0 and width={width} ≥ 1.")

    class ResidualBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.branch = nn.Sequential(
                nn.Linear(width, width, bias=False),
                nn.BatchNorm1d(width),
                nn.ReLU(),
                nn.Linear(width, width, bias=False),
                nn.BatchNorm1d(width),
            )
            if zero_init_gamma:
                nn.init.zeros_(self.branch[-1].weight)  # γ of the branch's last BN

        def forward(self, x):
            return torch.relu(x + self.branch(x))

    class ResidualNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Linear(in_features, width), nn.ReLU())
            self.blocks = nn.ModuleList(ResidualBlock() for _ in range(blocks))
            self.head = nn.Linear(width, num_classes)

        def forward(self, x):
            h = self.stem(x)
            for block in self.blocks:
                h = block(h)
            return self.head(h)

    torch.manual_seed(seed)
    return ResidualNet()


def block_outputs(model, X) -> list:
    """The hidden signal after the stem and after every block, in training mode without touching running
    statistics: a list of tensors of shape (N, width), len(model.blocks) + 1 of them."""
    import torch

    from bnlib.experiments import preserved_buffers

    was_training = model.training
    model.train()
    with torch.no_grad(), preserved_buffers(model):
        h = model.stem(X)
        outputs = [h]
        for block in model.blocks:
            h = block(h)
            outputs.append(h)
    model.train(was_training)
    return outputs
