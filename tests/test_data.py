"""bnlib.data: the height/age toy regression (units, correlation, validation) and the digits split."""

import numpy as np
import pytest

from bnlib.data import digits, height_age


def test_height_age_is_deterministic_and_documented():
    first, second = height_age(seed=3), height_age(seed=3)
    np.testing.assert_array_equal(first.X, second.X)
    np.testing.assert_array_equal(first.y, second.y)
    assert not np.array_equal(first.X, height_age(seed=4).X)
    assert first.X.shape == (200, 2) and first.y.shape == (200,)
    assert first.feature_names == ("height", "age") and first.feature_units == ("cm", "years")
    assert (first.target_name, first.target_unit) == ("body weight", "kg")
    text = first.describe()
    for word in ("height", "cm", "age", "years", "body weight", "kg"):
        assert word in text
    assert "cm" in repr(first)


def test_sample_moments_are_exact():
    data = height_age(n=500, correlation=0.6, seed=1)
    np.testing.assert_allclose(data.X.mean(axis=0), [170.0, 45.0])
    np.testing.assert_allclose(data.X.std(axis=0), [10.0, 15.0])
    np.testing.assert_allclose(np.corrcoef(data.X.T)[0, 1], 0.6)
    assert data.X[:, 1].min() > 18.0, "ages are adults' ages"


@pytest.mark.parametrize("height_unit, per_cm", [("cm", 1.0), ("m", 0.01), ("in", 1 / 2.54)])
@pytest.mark.parametrize("age_unit, per_year", [("years", 1.0), ("months", 12.0)])
def test_units_rescale_the_same_people(height_unit, per_cm, age_unit, per_year):
    base = height_age()
    data = height_age(height_unit=height_unit, age_unit=age_unit)
    np.testing.assert_allclose(data.X, base.X * [per_cm, per_year])
    np.testing.assert_array_equal(data.y, base.y)  # the target does not depend on how we measure
    assert data.feature_units == (height_unit, age_unit)
    # The generating model restated in the new units predicts the same weights.
    np.testing.assert_allclose(
        data.X @ data.true_coef + data.true_intercept, base.X @ base.true_coef + base.true_intercept
    )


def test_offsets_move_the_mean_only():
    base, shifted = height_age(), height_age(height_offset=-100.0, age_offset=5.0)
    np.testing.assert_allclose(shifted.X, base.X + [-100.0, 5.0])
    np.testing.assert_allclose(shifted.X.std(axis=0), base.X.std(axis=0))


def test_noise_free_target_is_the_model():
    data = height_age(noise_std=0.0, height_unit="m", height_offset=-1.0)
    np.testing.assert_allclose(data.y, data.X @ data.true_coef + data.true_intercept)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"height_unit": "ft"}, "'cm', 'm', 'in'"),
        ({"age_unit": "days"}, "'years', 'months'"),
        ({"n": 2}, "at least 3"),
        ({"correlation": 1.0}, "strictly between -1 and 1"),
        ({"correlation": -1.5}, "strictly between -1 and 1"),
        ({"noise_std": -1.0}, ">= 0"),
    ],
)
def test_height_age_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        height_age(**kwargs)


def test_height_age_rejects_non_numbers():
    with pytest.raises(TypeError):
        height_age(correlation="high")
    with pytest.raises(TypeError):
        height_age(n=10.5)


def test_digits_split_is_fixed_scaled_and_stratified():
    X_train, y_train, X_test, y_test = digits()
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert X_train.shape[1] == 64 and len(X_train) + len(X_test) == 1797
    assert abs(len(X_test) / 1797 - 0.25) < 0.01
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    train_share = np.bincount(y_train) / len(y_train)
    test_share = np.bincount(y_test) / len(y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)
    again = digits()
    np.testing.assert_array_equal(X_train, again[0])
    X_train[0, 0] = 5.0  # callers own their copies; the cache is untouched
    assert digits()[0][0, 0] != 5.0
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.0)


def test_digits_as_torch():
    torch = pytest.importorskip("torch")
    X_train, y_train, _, _ = digits(as_torch=True)
    assert isinstance(X_train, torch.Tensor) and X_train.dtype == torch.float32
    assert y_train.dtype == torch.int64
