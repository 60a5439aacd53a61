"""Batch norm after a linear layer does not see the scale of the weights: BN(a·x·W) = BN(x·W) for a > 0.

Consequences, for the weight W of shape (D_in, D) of a layer followed by batch norm:

* the loss is unchanged along the ray a·W, so its gradient has no component along W: for every unit j,
  W[:, j] · ∂L/∂W[:, j] = 0 (the gradient is orthogonal to that unit's weight vector);
* the gradient at a·W is the gradient at W divided by a: larger weights get *smaller* gradients;
* a plain SGD step W ← W − η·g therefore only grows ‖W‖ (Pythagoras: ‖W − η·g‖² = ‖W‖² + η²‖g‖²) and turns
  W by an angle of about η‖g‖/‖W‖ ∝ η/‖W‖²: a too-large learning rate inflates the weights, which shrinks
  the effective step. That self-correction is one reason higher learning rates are safe with batch norm.

Numpy only, using the exact forward and backward of :mod:`bnlib.batchnorm`.
Explained in notebooks/07_why_does_bn_work.ipynb, section "Scale invariance".
"""

from __future__ import annotations

import numpy as np

from bnlib._validation import check_matmul_shapes
from bnlib.batchnorm import batchnorm_backward_compact, batchnorm_forward


def bn_of_linear(x, W, eps: float = 1e-5):
    """BN(x·W) with γ = 1, β = 0. x: array of shape (N, D_in); W: (D_in, D). Returns an array of shape (N, D)."""
    x, W = check_matmul_shapes(x, W)
    width = W.shape[1]
    out, _ = batchnorm_forward(x @ W, np.ones(width), np.zeros(width), eps=eps)
    return out


def bn_of_linear_weight_gradient(x, W, dout, eps: float = 1e-5):
    """∂L/∂W for L with ∂L/∂BN(x·W) = dout (N, D), through batch norm (γ = 1, β = 0) and the matrix product.

    x: array of shape (N, D_in); W: (D_in, D). Returns an array of shape (D_in, D).
    """
    x, W = check_matmul_shapes(x, W)
    width = W.shape[1]
    _, cache = batchnorm_forward(x @ W, np.ones(width), np.zeros(width), eps=eps)
    dz, _, _ = batchnorm_backward_compact(np.asarray(dout, dtype=float), cache)
    return x.T @ dz


def unit_cosines(W, G):
    """cos(W[:, j], G[:, j]) for every unit j: array of shape (D,). 0 means G[:, j] is orthogonal to W[:, j]."""
    W, G = np.asarray(W, dtype=float), np.asarray(G, dtype=float)
    if W.shape != G.shape:
        raise ValueError(f"W and G must have the same shape, got {W.shape} and {G.shape}.")
    return (W * G).sum(axis=0) / (np.linalg.norm(W, axis=0) * np.linalg.norm(G, axis=0))


def angle_turned(W_before, W_after):
    """Angle in radians between each unit's weight vector before and after an update: array of shape (D,)."""
    cosines = unit_cosines(W_before, W_after)
    return np.arccos(np.clip(cosines, -1.0, 1.0))
