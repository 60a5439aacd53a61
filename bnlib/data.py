"""Toy data for the course: a height/age regression with units, and sklearn's bundled 8×8 digits.

``height_age`` is the running example of notebooks 01 and 02: predict an adult's body weight (kg) from
height and age. The units of the features are a parameter, because the unit alone changes how hard the
problem is to train by gradient descent ("Peter is 1.9 m" and "Peter is 6'3"" are the same man, but not the
same optimization problem). ``digits`` is the small image dataset the torch experiments train on; it ships
with scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, field

import numpy as np

from bnlib._validation import check_choice, check_finite_real

# How many of each unit make one base unit (cm for height, years for age).
HEIGHT_UNITS = {"cm": 1.0, "m": 0.01, "in": 1 / 2.54}
AGE_UNITS = {"years": 1.0, "months": 12.0}
# "kg per year", not "kg per years".
UNIT_SINGULAR = {"cm": "cm", "m": "m", "in": "inch", "years": "year", "months": "month"}

# The population the examples are drawn from, in base units (adults).
HEIGHT_MEAN_CM, HEIGHT_STD_CM = 170.0, 10.0
AGE_MEAN_YEARS, AGE_STD_YEARS = 45.0, 15.0
# The generating model, in base units:
#   weight_kg = WEIGHT_AT_MEAN_KG + KG_PER_CM·(height − mean) + KG_PER_YEAR·(age − mean) + noise
WEIGHT_AT_MEAN_KG = 72.0
KG_PER_CM = 0.9
KG_PER_YEAR = 0.2


@dataclass(frozen=True, repr=False)
class HeightAgeData:
    """A height/age → body-weight regression sample.

    X: array of shape (n, 2), columns height and age, in ``feature_units``.
    y: array of shape (n,), body weight in kg.
    true_coef: array of shape (2,), the generating model's kg per feature unit (before noise).
    true_intercept: the generating model's weight in kg where both features are 0, in the stated units
        (offsets included).
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, str]
    feature_units: tuple[str, str]
    target_name: str
    target_unit: str
    true_coef: np.ndarray
    true_intercept: float
    correlation: float
    noise_std: float
    seed: int
    settings: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.y)

    def describe(self) -> str:
        """A few lines a learner can read: what each column means, its unit, mean, std, min and max."""
        lines = [f"{self.n} adults; target: {self.target_name} in {self.target_unit}"]
        columns = [
            *zip(self.feature_names, self.feature_units, self.X.T, strict=True),
            (self.target_name, self.target_unit, self.y),
        ]
        for name, unit, values in columns:
            numbers = {"mean": values.mean(), "std": values.std(), "min": values.min(), "max": values.max()}
            row = "".join(f"  {key} {value:7.4g} {unit:<6}" for key, value in numbers.items())
            lines.append(f"  {name:<12}{row}".rstrip())
        lines.append(
            f"  model: {self.target_name} = {self.true_intercept:.4g} {self.target_unit}"
            + "".join(
                f" + {c:.4g} {self.target_unit}/{UNIT_SINGULAR[u]}·{name}"
                for c, name, u in zip(self.true_coef, self.feature_names, self.feature_units, strict=True)
            )
            + f" + noise (std {self.noise_std:g} {self.target_unit}); correlation(height, age) = "
            f"{self.correlation:+.2f}"
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        units = ", ".join(f"{n} [{u}]" for n, u in zip(self.feature_names, self.feature_units, strict=True))
        return (
            f"HeightAgeData(n={self.n}, features: {units}; target: {self.target_name} [{self.target_unit}])"
        )


def _standard_features(n: int, correlation: float, rng: np.random.Generator) -> np.ndarray:
    """n rows of (age, height) scores whose *sample* means are exactly 0, stds exactly 1 and correlation
    exactly ``correlation`` (population convention, dividing by n).

    Age scores are uniform (adults of every age between about 19 and 71 years, none negative); height
    scores are normal, mixed with the age score to get the correlation. Pinning the sample moments makes
    the stated numbers true of the data itself, not only on average: κ computed from the sample then
    matches the formula in the notebook exactly.
    """
    z = np.column_stack([rng.uniform(-1.0, 1.0, n), rng.standard_normal(n)])
    z -= z.mean(axis=0)
    # Whiten the sample (its covariance becomes the identity; the lower-triangular map only rescales the
    # first column, so ages stay uniform), then mix in the wanted correlation.
    cov = z.T @ z / n
    z = z @ np.linalg.inv(np.linalg.cholesky(cov)).T
    target = np.array([[1.0, correlation], [correlation, 1.0]])
    return z @ np.linalg.cholesky(target).T


def height_age(
    n: int = 200,
    *,
    height_unit: str = "cm",
    age_unit: str = "years",
    correlation: float = 0.0,
    noise_std: float = 4.0,
    seed: int = 0,
    height_offset: float = 0.0,
    age_offset: float = 0.0,
) -> HeightAgeData:
    """Adults' height and age (features) and body weight in kg (target), in the units you choose.

    n: number of adults (at least 3: two features need three points to have a spread and a correlation).
    height_unit: "cm" (default), "m" or "in". age_unit: "years" (default) or "months".
    correlation: the sample correlation between height and age, exactly; in (-1, 1), sliders use ±0.95.
    noise_std: standard deviation of the weight not explained by height and age, in kg.
    seed: the data is a deterministic function of all arguments.
    height_offset, age_offset: added to every height/age, in the stated unit, e.g. height_offset=-100 with
        height_unit="cm" measures height above 1 m. The offset moves the mean and leaves the spread alone.

    Height is bell-shaped with mean 170 cm and std 10 cm; age is spread evenly over about 19–71 years, with
    mean 45 years and std 15 years (means and population stds exact, not just on average). The weight is
        weight = 72 kg + 0.9 kg/cm·(height − 170 cm) + 0.2 kg/year·(age − 45 years) + noise;
    ``true_coef`` and ``true_intercept`` restate this model in the chosen units.
    Explained in notebooks/01_normalizing_inputs.ipynb, section "The data, with its units".
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer number of adults, got {n!r}.")
    if n < 3:
        raise ValueError(f"n must be at least 3 to give two features a spread and a correlation, got {n}.")
    height_per_cm = check_choice(height_unit, HEIGHT_UNITS, "height_unit")
    age_per_year = check_choice(age_unit, AGE_UNITS, "age_unit")
    correlation = check_finite_real(correlation, "correlation")
    if not -1.0 < correlation < 1.0:
        raise ValueError(
            f"correlation must lie strictly between -1 and 1, got {correlation}: at ±1 height would be a "
            "fixed linear function of age and the two weights could not be told apart. Try e.g. 0.9."
        )
    noise_std = check_finite_real(noise_std, "noise_std")
    if noise_std < 0:
        raise ValueError(f"noise_std is a standard deviation in kg and must be >= 0, got {noise_std}.")
    height_offset = check_finite_real(height_offset, "height_offset")
    age_offset = check_finite_real(age_offset, "age_offset")

    rng = np.random.default_rng(seed)
    z = _standard_features(n, correlation, rng)
    age_years = AGE_MEAN_YEARS + AGE_STD_YEARS * z[:, 0]
    height_cm = HEIGHT_MEAN_CM + HEIGHT_STD_CM * z[:, 1]
    weight_kg = (
        WEIGHT_AT_MEAN_KG
        + KG_PER_CM * (height_cm - HEIGHT_MEAN_CM)
        + KG_PER_YEAR * (age_years - AGE_MEAN_YEARS)
        + noise_std * rng.standard_normal(n)
    )
    X = np.column_stack([height_cm * height_per_cm + height_offset, age_years * age_per_year + age_offset])

    # The same model in the stated units: one unit of height is 1/height_per_cm cm, and so on.
    true_coef = np.array([KG_PER_CM / height_per_cm, KG_PER_YEAR / age_per_year])
    feature_at_zero = np.array(
        [HEIGHT_MEAN_CM * height_per_cm + height_offset, AGE_MEAN_YEARS * age_per_year + age_offset]
    )
    true_intercept = WEIGHT_AT_MEAN_KG - float(true_coef @ feature_at_zero)
    for array in (X, weight_kg, true_coef):
        array.setflags(write=False)  # the dataclass is frozen; so are its arrays
    return HeightAgeData(
        X=X,
        y=weight_kg,
        feature_names=("height", "age"),
        feature_units=(height_unit, age_unit),
        target_name="body weight",
        target_unit="kg",
        true_coef=true_coef,
        true_intercept=true_intercept,
        correlation=correlation,
        noise_std=noise_std,
        seed=seed,
        settings={"height_offset": height_offset, "age_offset": age_offset},
    )


@functools.lru_cache(maxsize=4)
def _digits_split(test_fraction: float, seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images = load_digits()
    X = images.data / 16.0  # pixel intensities are 0..16 in this dataset
    y = images.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    for array in (X_train, y_train, X_test, y_test):
        array.setflags(write=False)  # cached: callers get copies, the cache stays pristine
    return X_train, y_train, X_test, y_test


def digits(*, as_torch: bool = False, test_fraction: float = 0.25, seed: int = 0, dtype: str = "float32"):
    """sklearn's bundled 8×8 handwritten digits (1797 images), pixels scaled to [0, 1], fixed split.

    Returns (X_train, y_train, X_test, y_test): X of shape (N, 64) in ``dtype``, y of shape (N,) int64 labels
    0–9. The train/test split is stratified (every digit in the same proportion on both sides) and fixed by
    ``seed``. ``as_torch=True`` returns torch tensors instead of numpy arrays. Nothing is downloaded.
    """
    test_fraction = check_finite_real(test_fraction, "test_fraction")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}; e.g. 0.25.")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.")
    X_train, y_train, X_test, y_test = _digits_split(test_fraction, int(seed))
    arrays = (X_train.astype(dtype), y_train.copy(), X_test.astype(dtype), y_test.copy())
    if as_torch:
        import torch

        return tuple(torch.from_numpy(array) for array in arrays)
    return arrays
