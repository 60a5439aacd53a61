"""bnlib.transforms: each transform's defining property, its fitted state, and its errors."""

import numpy as np
import pytest

from bnlib.data import height_age
from bnlib.transforms import center, minmax_scale, standardize, transform_by_name, whiten


@pytest.fixture
def X():
    return height_age(n=300, correlation=0.7, seed=1).X


def test_center_and_standardize(X):
    centered, fitted = center(X)
    np.testing.assert_allclose(centered.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(centered.std(axis=0), X.std(axis=0))
    Z, fitted = standardize(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)
    np.testing.assert_allclose(fitted.mean, X.mean(axis=0))
    np.testing.assert_allclose(fitted.scale, X.std(axis=0))
    # Standardizing keeps the correlation: it only shifts and rescales each feature.
    np.testing.assert_allclose(np.corrcoef(Z.T), np.corrcoef(X.T))


def test_minmax(X):
    scaled, fitted = minmax_scale(X)
    np.testing.assert_allclose(scaled.min(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaled.max(axis=0), 1.0)
    np.testing.assert_allclose(fitted.scale, X.max(axis=0) - X.min(axis=0))
    other, _ = minmax_scale(X, feature_range=(-1, 1))
    np.testing.assert_allclose([other.min(axis=0), other.max(axis=0)], [[-1, -1], [1, 1]], atol=1e-12)


@pytest.mark.parametrize("method", ["pca", "zca"])
def test_whitening_gives_identity_covariance(X, method):
    Z, fitted = whiten(X, method)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(Z.T @ Z / len(Z), np.eye(2), atol=1e-10)
    assert not fitted.is_diagonal
    with pytest.raises(ValueError, match="matrix"):
        _ = fitted.scale


def test_zca_is_symmetric_and_stays_close_to_the_features(X):
    standardized = standardize(X)[0]
    zca, fitted = whiten(X, "zca")
    pca, _ = whiten(X, "pca")
    np.testing.assert_allclose(fitted.matrix, fitted.matrix.T, atol=1e-12)
    # ZCA is the whitening that moves the (standardized) data least.
    assert np.sum((zca - standardized) ** 2) < np.sum((pca - standardized) ** 2)


@pytest.mark.parametrize("name", ["centered", "standardized", "min–max", "whitened (PCA)", "whitened (ZCA)"])
def test_fitted_transforms_apply_to_new_data_and_invert(X, name):
    train, test = X[:200], X[200:]
    transformed, fitted = transform_by_name(train, name)
    np.testing.assert_allclose(fitted.apply(train), transformed)
    np.testing.assert_allclose(fitted.inverse(fitted.apply(test)), test)
    # New data uses the *training* statistics: one example transforms the same alone or in a batch.
    np.testing.assert_allclose(fitted.apply(test[0]), fitted.apply(test)[0])
    with pytest.raises(ValueError, match="features"):
        fitted.apply(np.ones((3, 5)))


def test_raw_is_the_identity(X):
    same, fitted = transform_by_name(X, "raw")
    np.testing.assert_array_equal(same, X)
    assert fitted is None
    with pytest.raises(ValueError, match="choose one of"):
        transform_by_name(X, "normalized")


@pytest.mark.parametrize("transform", [standardize, minmax_scale, whiten])
def test_constant_feature_is_a_clear_error(X, transform):
    constant = X.copy()
    constant[:, 1] = 42.0
    with pytest.raises(ValueError, match="feature\\(s\\) 1 are constant"):
        transform(constant)


def test_perfectly_correlated_features_cannot_be_whitened(X):
    redundant = np.column_stack([X[:, 0], 3 * X[:, 0] + 1])
    with pytest.raises(ValueError, match="perfectly correlated"):
        whiten(redundant)
    Z, _ = whiten(redundant, eps=1e-3)
    assert np.all(np.isfinite(Z))


def test_bad_shapes(X):
    with pytest.raises(ValueError, match="shape"):
        standardize(X[:, 0])
    with pytest.raises(ValueError, match="NaN"):
        standardize(np.array([[1.0, np.nan], [2.0, 3.0]]))
