"""Input transforms: center, standardize (z-score), min–max scale, whiten (PCA or ZCA).

Each function takes data X of shape (n, d) and returns ``(X_new, transform)``: the transformed data and the
fitted transform, an affine map z = (x − shift) @ matrix + offset that remembers what was learned from X, so
that it can be applied unchanged to new data (the test set, a single example) and can say its mean, scale
and matrix. Statistics use the population convention (divide by n), as batch norm does for its batch.

The names get mixed up: "standardize" here means subtract the mean and divide by the standard deviation;
"min–max scaling" (often called "normalization") maps each feature's range onto [0, 1]. Explained in
notebooks/01_normalizing_inputs.ipynb, section "Standardization vs min–max".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnlib._validation import check_spread


@dataclass(frozen=True)
class FittedTransform:
    """z = (x − shift) @ matrix + offset, fitted on some data.

    name: "center", "standardize", "minmax", "whiten-pca" or "whiten-zca".
    mean: (d,) the fitted data's feature means, in the input units.
    shift: (d,) what is subtracted first; matrix: (d, d); offset: (d,) added last.
    """

    name: str
    mean: np.ndarray
    shift: np.ndarray
    matrix: np.ndarray
    offset: np.ndarray

    @property
    def is_diagonal(self) -> bool:
        """True when each output feature depends on one input feature only (no mixing)."""
        return bool(np.all(self.matrix == np.diag(np.diag(self.matrix))))

    @property
    def scale(self) -> np.ndarray:
        """(d,) what each feature is divided by (the std for "standardize", max − min for "minmax")."""
        if not self.is_diagonal:
            raise ValueError(
                f"{self.name} mixes the features, so it has no per-feature scale; read .matrix instead."
            )
        return 1.0 / np.diag(self.matrix)

    def apply(self, X) -> np.ndarray:
        """Transform X of shape (m, d) (or one example of shape (d,)) with the fitted statistics."""
        X = np.asarray(X, dtype=float)
        if X.shape[-1] != len(self.shift):
            raise ValueError(
                f"X has {X.shape[-1]} features but this transform was fitted on {len(self.shift)}; "
                "pass data with the same columns."
            )
        return (X - self.shift) @ self.matrix + self.offset

    def inverse(self, Z) -> np.ndarray:
        """Map transformed data back to the input units."""
        return (np.asarray(Z, dtype=float) - self.offset) @ np.linalg.inv(self.matrix) + self.shift


def _as_data(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(
            f"X must have shape (n, d) with n >= 2 examples to have a spread; got shape {X.shape}. "
            "For one feature use X[:, None]."
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf; remove or impute those values first.")
    return X


def _fit(name, X, shift, matrix, offset=None):
    d = X.shape[1]
    transform = FittedTransform(
        name=name,
        mean=X.mean(axis=0),
        shift=np.asarray(shift, dtype=float),
        matrix=np.asarray(matrix, dtype=float),
        offset=np.zeros(d) if offset is None else np.asarray(offset, dtype=float),
    )
    return transform.apply(X), transform


def center(X):
    """Subtract each feature's mean: x − μ. X: (n, d). Returns (X_centered, transform)."""
    X = _as_data(X)
    return _fit("center", X, X.mean(axis=0), np.eye(X.shape[1]))


def standardize(X):
    """z-score each feature: (x − μ) / σ with σ the population std. X: (n, d). Returns (Z, transform)."""
    X = _as_data(X)
    std = X.std(axis=0)
    check_spread(std, "standard deviation")
    return _fit("standardize", X, X.mean(axis=0), np.diag(1.0 / std))


def minmax_scale(X, feature_range=(0.0, 1.0)):
    """Map each feature's [min, max] onto ``feature_range``: low + (x − min)/(max − min)·(high − low)."""
    X = _as_data(X)
    low, high = map(float, feature_range)
    if not high > low:
        raise ValueError(f"feature_range must be (low, high) with high > low, got {feature_range}.")
    data_min, data_range = X.min(axis=0), np.ptp(X, axis=0)
    check_spread(data_range, "range max − min")
    return _fit("minmax", X, data_min, np.diag((high - low) / data_range), np.full(X.shape[1], low))


def whiten(X, method: str = "zca", eps: float = 0.0):
    """Decorrelate and scale the features so their covariance is the identity matrix.

    With Σ = U Λ Uᵀ the (population) covariance of X: PCA whitening rotates onto the principal axes,
    z = (x − μ) U Λ^(−1/2); ZCA whitening rotates back, z = (x − μ) U Λ^(−1/2) Uᵀ, which keeps each output
    feature as close as possible to its input feature. ``eps`` is added to Λ to tame near-zero variances.
    X: (n, d). Returns (Z, transform).
    """
    if method not in ("pca", "zca"):
        raise ValueError(f"method must be 'pca' or 'zca', got {method!r}.")
    X = _as_data(X)
    check_spread(X.std(axis=0), "standard deviation")
    mean = X.mean(axis=0)
    centered = X - mean
    variances, axes = np.linalg.eigh(centered.T @ centered / len(X))
    if variances[0] + eps <= variances[-1] * 1e-12:
        raise ValueError(
            "the features are (almost) perfectly correlated: the covariance has a zero eigenvalue, and "
            "whitening would divide by it. Drop one of the redundant features, or pass eps > 0."
        )
    # Fix each axis' sign (largest entry positive) so the result does not depend on the eigen-solver.
    axes = axes * np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(axes.shape[1])])
    matrix = axes / np.sqrt(variances + eps)
    if method == "zca":
        matrix = matrix @ axes.T
    return _fit(f"whiten-{method}", X, mean, matrix)


TRANSFORMS = {
    "raw": None,
    "centered": center,
    "standardized": standardize,
    "min–max": minmax_scale,
    "whitened (PCA)": lambda X: whiten(X, "pca"),
    "whitened (ZCA)": lambda X: whiten(X, "zca"),
}


def transform_by_name(X, name: str):
    """Apply one of TRANSFORMS by its label; "raw" returns X unchanged (and transform None)."""
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}; choose one of {', '.join(map(repr, TRANSFORMS))}.")
    function = TRANSFORMS[name]
    return (np.asarray(X, dtype=float), None) if function is None else function(X)


def variance_estimates(n: int, trials: int = 4000, sigma: float = 10.0, seed: int = 0):
    """Biased and unbiased variance estimates from ``trials`` samples of n heights (std ``sigma`` cm).

    Returns (biased, unbiased), each of shape (trials,), in cm²: Σ(x − x̄)²/n and Σ(x − x̄)²/(n − 1).
    """
    if n < 2:
        raise ValueError(f"a sample needs n >= 2 values to have a spread, got n = {n}.")
    samples = 170.0 + sigma * np.random.default_rng([seed, n]).standard_normal((trials, n))
    squared_deviations = ((samples - samples.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    return squared_deviations / n, squared_deviations / (n - 1)
