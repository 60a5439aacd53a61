"""Why transformers normalize each token on its own: layer norm and RMSNorm against batch norm on padded
sequences.

A batch of sequences is x of shape (N, T, D): N sequences, T positions (shorter sequences padded with zeros
up to T), D features per token; mask (N, T) is True at real tokens.

    layer norm   per token: mean and variance over its D features          → x̂ = (x − mean)/√(var + ε)
    RMSNorm      per token: root mean square over its D features, no mean  → x̂ = x/√(mean(x²) + ε)
    batch norm   per feature: mean and variance over all N·T positions (or only the real tokens, masked)

A token's layer-norm or RMSNorm output depends on that token alone: not on the other sequences in the
batch, not on how much padding there is. Its batch-norm output depends on both. No learned γ, β here:
they do not change which values share statistics.
Explained in notebooks/10_convolutions_and_today.ipynb, section "Why transformers use layer norm".
"""

from __future__ import annotations

import numpy as np


def padded_batch(lengths, *, features: int = 8, pad_to: int | None = None, seed: int = 0):
    """Random token vectors for sequences of the given lengths, padded with zeros to ``pad_to`` positions.

    Token t of sequence i is drawn from a generator seeded by (seed, i), so a sequence is the same whatever
    batch it is put in. Features have different offsets and scales, as real embeddings do.
    Returns (x, mask): x of shape (N, T, features) float64, mask of shape (N, T) bool.
    """
    lengths = [int(n) for n in lengths]
    pad_to = max(lengths) if pad_to is None else int(pad_to)
    if min(lengths) < 1 or pad_to < max(lengths):
        raise ValueError(f"lengths {lengths} must be ≥ 1 and fit in pad_to={pad_to} positions.")
    offsets = np.linspace(-2.0, 2.0, features)
    scales = np.linspace(0.5, 3.0, features)
    x = np.zeros((len(lengths), pad_to, features))
    mask = np.zeros((len(lengths), pad_to), dtype=bool)
    for i, n in enumerate(lengths):
        rng = np.random.default_rng([seed, i])
        x[i, :n] = offsets + scales * rng.standard_normal((n, features))
        mask[i, :n] = True
    return x, mask


def layer_norm_tokens(x, eps: float = 1e-5):
    """Layer norm of every token over its features: x (..., D) → same shape."""
    x = np.asarray(x, dtype=float)
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)


def rms_norm_tokens(x, eps: float = 1e-5):
    """RMSNorm of every token (Zhang & Sennrich 2019): x / √(mean(x²) + ε) over its features; no centring."""
    x = np.asarray(x, dtype=float)
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def batch_norm_tokens(x, mask=None, eps: float = 1e-5):
    """Batch norm of every feature over the batch's positions: x (N, T, D) → same shape.

    mask None: over all N·T positions, padding included (what BatchNorm1d does to a padded batch laid out
    as (N, D, T)). mask (N, T): over the real tokens only; padded positions are returned as 0.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 3:
        raise ValueError(f"expected a batch of sequences (N, T, D), got shape {x.shape}.")
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    tokens = x[mask]  # (number of real tokens, D)
    out = np.zeros_like(x)
    out[mask] = (tokens - tokens.mean(axis=0)) / np.sqrt(tokens.var(axis=0) + eps)
    return out
