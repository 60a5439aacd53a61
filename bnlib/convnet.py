"""Batch norm in a small convolutional network on the 8×8 digits (CS231n's spatial batch norm, d2l's LeNet
with BN, at laptop scale).

In a convolutional layer, x has shape (N, C, H, W): one feature map of H×W positions per channel.
BatchNorm2d keeps **one mean and one variance per channel**, taken over the N examples *and* the H×W
positions (N·H·W values), because a convolution applies the same filter at every position: normalizing
each position separately (BatchNorm1d on the flattened map, C·H·W statistics) would treat one feature
differently depending on where in the image it appears.

torch is imported inside the functions, so ``import bnlib`` stays instant.
Explained in notebooks/10_convolutions_and_today.ipynb, section "Batch norm in a convolutional network".
"""

from __future__ import annotations

IMAGE_SIDE = 8  # sklearn's digits are 8×8 pixels


def as_images(X):
    """Flat digits (N, 64) as one-channel images (N, 1, 8, 8); a view, nothing is copied."""
    if X.ndim != 2 or X.shape[1] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(f"expected flat 8×8 digits of shape (N, 64), got {tuple(X.shape)}.")
    return X.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)


def image_data(data):
    """(X_train, y_train, X_test, y_test) with X as images (N, 1, 8, 8): what :func:`make_cnn` takes."""
    X_train, y_train, X_test, y_test = data
    return as_images(X_train), y_train, as_images(X_test), y_test


def make_cnn(
    *,
    norm: str | None = "batch",
    channels=(8, 16),
    num_classes: int = 10,
    kernel_size: int = 3,
    seed: int = 0,
):
    """A small CNN: [Conv k×k → (BatchNorm2d) → ReLU] × 2 → MaxPool 2×2 → Linear, k = kernel_size (default 3).

    norm: "batch" (BatchNorm2d after each convolution, which then has no bias: β replaces it) or None.
    kernel_size: an odd filter size; the padding (kernel_size − 1)/2 keeps every feature map 8×8.
    Input (N, 1, 8, 8) → feature maps (N, c1, 8, 8), (N, c2, 8, 8) → pooled (N, c2, 4, 4) → logits (N, 10).
    """
    import torch
    from torch import nn

    if norm not in ("batch", None):
        raise ValueError(f"norm={norm!r}; use 'batch' or None.")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size={kernel_size}; use an odd size such as 3 or 5, so the maps stay 8×8.")
    torch.manual_seed(seed)
    layers, width_in = [], 1
    for width in channels:
        layers.append(nn.Conv2d(width_in, width, kernel_size, padding=kernel_size // 2, bias=norm is None))
        if norm == "batch":
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.ReLU())
        width_in = width
    side = IMAGE_SIDE // 2
    layers += [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(width_in * side * side, num_classes)]
    return nn.Sequential(*layers)


def channel_statistics(x):
    """BatchNorm2d's statistics of x (N, C, H, W): mean and biased variance per channel over (N, H, W).

    Returns two tensors of shape (C,).
    """
    if x.ndim != 4:
        raise ValueError(f"expected feature maps of shape (N, C, H, W), got {tuple(x.shape)}.")
    return x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)


def parameter_count(model) -> int:
    """The number of trained parameters (weights, biases, γ and β); running statistics are not counted."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def plot_accuracy_curves(curves, title: str = "", figsize=(6.0, 3.2)):
    """Test accuracy (%) against the training step, one line per network.

    curves: ``{label: (steps, accuracies in %)}``, labels like "CNN + BN", "MLP". A second cue besides hue:
    networks with BN are drawn solid, without dashed; CNNs with circles, MLPs with squares.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    for label, (steps, accuracies) in curves.items():
        cnn, with_bn = label.startswith("CNN"), "BN" in label
        ax.plot(
            steps,
            accuracies,
            ls="-" if with_bn else "--",
            marker="o" if cnn else "s",
            ms=3.5,
            color="#2563eb" if cnn else "#ea580c",
            label=label,
        )
    ax.set(xlabel="training step", ylabel="test accuracy (%)", ylim=(0, 100), title=title)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
