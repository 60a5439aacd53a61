"""Bad input: a clear ValueError/TypeError naming the problem and the fix, and the layer left untouched.

Each case below is one mistake a learner can make. The test checks the exception type, that the message
names the problem and says what to do (``match``), and that the layer the call went through kept its running
buffers, counter, parameters, settings and cached forward pass exactly as before.
"""

import numpy as np
import pytest

from bnlib.batchnorm import BatchNorm, batchnorm_backward, batchnorm_backward_compact, batchnorm_forward
from bnlib.layernorm import groupnorm_forward, instancenorm_forward, layernorm_backward, layernorm_forward

RNG = np.random.default_rng(0)
GOOD_X = RNG.normal(size=(8, 3))
GOOD_X4 = RNG.normal(size=(4, 3, 2, 2))
ONES, ZEROS = np.ones(3), np.zeros(3)


def with_nonfinite(x, index, value):
    x = x.copy()
    x[index] = value
    return x


def set_attribute(name, value):
    return lambda layer: setattr(layer, name, value)


def forward(x):
    return lambda layer: layer(x)


def forward_in_eval(x):
    return lambda layer: layer.eval()(x)


def with_params(gamma, beta):
    def call(layer):
        layer.gamma, layer.beta = gamma, beta
        return layer(GOOD_X)

    call.assigns_params = True  # the assignment is the learner's own; the failing call is the forward
    return call


def functional(function, *args, **kwargs):
    return lambda layer: function(*args, **kwargs)


def backward_with(dout):
    return lambda layer: layer.backward(dout)


_, CACHE = batchnorm_forward(GOOD_X, ONES, ZEROS)
_, LN_CACHE = layernorm_forward(GOOD_X, ONES, ZEROS)

# (id, action on a trained layer, exception type, regex the message must match)
CASES = [
    # One value per channel in training (PyTorch's condition and wording), 2-D and 4-D.
    (
        "one_example_training",
        forward(GOOD_X[:1]),
        ValueError,
        r"more than 1 value per channel.*layer\.eval\(\)",
    ),
    (
        "one_value_per_channel_4d",
        forward(GOOD_X4[:1, :, :1, :1]),
        ValueError,
        "more than 1 value per channel",
    ),
    (
        "one_example_eval_without_running_stats",
        lambda layer: BatchNorm(3, track_running_stats=False).eval()(GOOD_X[:1]),
        ValueError,
        "more than 1 value per channel",
    ),
    ("functional_one_example", functional(batchnorm_forward, GOOD_X[:1], ONES, ZEROS), ValueError, "N > 1"),
    # Wrong number of dimensions.
    ("single_example_1d", forward(GOOD_X[0]), ValueError, r"is 1-D.*add the batch axis with x\[None\]"),
    ("scalar", forward(np.float64(1.0)), ValueError, r"is 0-D .*expected \(N, D\)"),
    ("five_dimensions", forward(np.zeros((2, 3, 2, 2, 2))), ValueError, r"is 5-D.*reshape"),
    # Features/channels not on axis 1 or layer built for another size.
    (
        "num_features_mismatch",
        forward(np.zeros((4, 5))),
        ValueError,
        r"5 features.*num_features=3.*BatchNorm\(5\)",
    ),
    ("channels_last_image", forward(np.zeros((4, 2, 2, 3))), ValueError, r"x\.transpose\(0, 3, 1, 2\)"),
    # γ and β of the wrong shape.
    (
        "gamma_wrong_shape",
        with_params(np.ones(4), ZEROS),
        ValueError,
        r"gamma has shape \(4,\).*np\.ones\(\(3,\)\)",
    ),
    (
        "beta_wrong_shape",
        with_params(ONES, np.zeros((1, 3))),
        ValueError,
        r"beta has shape \(1, 3\).*np\.zeros",
    ),
    (
        "functional_gamma_wrong_shape",
        functional(batchnorm_forward, GOOD_X, np.ones(2), ZEROS),
        ValueError,
        r"gamma has shape \(2,\) but must have shape \(3,\)",
    ),
    ("gamma_integer", with_params(np.ones(3, dtype=int), ZEROS), TypeError, r"gamma has integer dtype"),
    # Dtype.
    (
        "integer_input",
        forward(np.arange(12).reshape(4, 3)),
        TypeError,
        r"integer dtype.*x\.astype\(np\.float64\)",
    ),
    ("boolean_input", forward(GOOD_X > 0), TypeError, r"boolean dtype.*x\.astype\(np\.float64\)"),
    ("string_input", forward(np.array([["a", "b", "c"]] * 2)), TypeError, r"non-numeric dtype.*astype"),
    ("object_input", forward(np.array([[None] * 3] * 2)), TypeError, "non-numeric dtype"),
    ("complex_input", forward(GOOD_X + 1j), TypeError, "complex dtype.*real part"),
    # Empty batch or empty axis.
    ("empty_batch", forward(np.zeros((0, 3))), ValueError, r"empty batch.*0 examples.*at least one example"),
    ("empty_batch_eval", forward_in_eval(np.zeros((0, 3, 4))), ValueError, "empty batch"),
    ("empty_positions", forward(np.zeros((4, 3, 0))), ValueError, "empty axis"),
    # NaN / inf, with the feature or channel named.
    (
        "nan_in_feature",
        forward(with_nonfinite(GOOD_X, (2, 1), np.nan)),
        ValueError,
        r"NaN or inf in feature\(s\) 1;",
    ),
    (
        "inf_in_channel",
        forward(with_nonfinite(GOOD_X4, (0, 2, 1, 1), np.inf)),
        ValueError,
        r"channel\(s\) 2;",
    ),
    (
        "nan_in_two_channels",
        forward(with_nonfinite(with_nonfinite(GOOD_X, (0, 0), np.nan), (1, 2), -np.inf)),
        ValueError,
        r"feature\(s\) 0, 2;.*np\.isfinite",
    ),
    ("nan_in_eval", forward_in_eval(with_nonfinite(GOOD_X, (0, 2), np.nan)), ValueError, r"feature\(s\) 2"),
    (
        "float32_overflow",
        forward(GOOD_X.astype(np.float32) * np.float32(1e37)),
        ValueError,
        r"overflow float32.*x\.astype\(np\.float64\)",
    ),
    # eps and momentum.
    ("negative_eps", set_attribute("eps", -1e-5), ValueError, r"eps must be non-negative.*eps=1e-5"),
    ("eps_not_a_number", set_attribute("eps", "small"), TypeError, "eps must be a finite real number"),
    ("eps_nan", set_attribute("eps", float("nan")), TypeError, "finite real number"),
    (
        "zero_eps_with_batch_stats",
        functional(batchnorm_forward, GOOD_X, ONES, ZEROS, eps=0.0),
        ValueError,
        "eps must be positive",
    ),
    ("momentum_above_1", set_attribute("momentum", 1.5), ValueError, r"momentum must lie in \[0, 1\].*None"),
    ("momentum_negative", set_attribute("momentum", -0.1), ValueError, r"\[0, 1\]"),
    (
        "momentum_string",
        set_attribute("momentum", "0.1"),
        TypeError,
        r"momentum must be a number in \[0, 1\]",
    ),
    ("constructor_momentum", lambda layer: BatchNorm(3, momentum=2), ValueError, r"\[0, 1\]"),
    ("constructor_eps", lambda layer: BatchNorm(3, eps=-1.0), ValueError, "non-negative"),
    (
        "constructor_num_features",
        lambda layer: BatchNorm(0),
        ValueError,
        "num_features must be a positive integer",
    ),
    ("constructor_integer_dtype", lambda layer: BatchNorm(3, dtype=np.int64), TypeError, "np.float64"),
    # dout not matching the cache.
    ("layer_dout_shape", backward_with(np.ones((5, 3))), ValueError, r"dout has shape \(5, 3\).*\(8, 3\)"),
    ("layer_dout_integer", backward_with(np.ones((8, 3), dtype=int)), TypeError, r"dout\.astype"),
    (
        "staged_dout_shape",
        functional(batchnorm_backward, np.ones((8, 2)), CACHE),
        ValueError,
        "dout has shape",
    ),
    (
        "compact_dout_shape",
        functional(batchnorm_backward_compact, np.ones(3), CACHE),
        ValueError,
        "same shape",
    ),
    (
        "layernorm_dout_shape",
        functional(layernorm_backward, np.ones((3, 8)), LN_CACHE),
        ValueError,
        "dout has",
    ),
    (
        "backward_before_forward",
        lambda layer: BatchNorm(3).backward(GOOD_X),
        RuntimeError,
        r"call layer\(x\)",
    ),
    # The contrast norms share the checks.
    (
        "layernorm_gamma_shape",
        functional(layernorm_forward, GOOD_X4, np.ones(3), np.zeros(3)),
        ValueError,
        r"gamma has shape \(3,\) but must have shape \(3, 2, 2\)",
    ),
    (
        "layernorm_integer",
        functional(layernorm_forward, np.ones((2, 3), int), ONES, ZEROS),
        TypeError,
        "astype",
    ),
    ("groupnorm_groups", functional(groupnorm_forward, GOOD_X4, 2), ValueError, r"does not divide.*\[1, 3\]"),
    ("groupnorm_zero_groups", functional(groupnorm_forward, GOOD_X4, 0), ValueError, "positive integer"),
    (
        "instancenorm_2d",
        functional(instancenorm_forward, GOOD_X),
        ValueError,
        r"is 2-D.*\(N, C, L\).*use layer norm",
    ),
    (
        "instancenorm_one_position",
        functional(instancenorm_forward, GOOD_X4[:, :, :1, :1]),
        ValueError,
        "more than 1 spatial element",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def summary():
    yield
    print(f"\nBad-input cases checked: {len(CASES)}")


def trained_layer():
    """A layer with non-trivial state: momentum=None so that the counter matters, a cached forward pass."""
    layer = BatchNorm(3, momentum=None)
    layer.gamma, layer.beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 1.0])
    for scale in (1.0, 2.0, 3.0):
        layer(GOOD_X * scale + scale)
    layer.backward(np.ones_like(GOOD_X))
    return layer


def state_of(layer):
    return {
        "running_mean": layer.running_mean.copy(),
        "running_var": layer.running_var.copy(),
        "num_batches_tracked": layer.num_batches_tracked,
        "gamma": np.array(layer.gamma, copy=True),
        "beta": np.array(layer.beta, copy=True),
        "dgamma": layer.dgamma.copy(),
        "eps": layer.eps,
        "momentum": layer.momentum,
        "cache": layer._cache,
    }


@pytest.mark.parametrize(
    ("action", "error", "match"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_raises_a_clear_error_and_changes_nothing(action, error, match):
    layer = trained_layer()
    before = state_of(layer)
    with pytest.raises(error, match=match):
        action(layer)
    after = state_of(layer)
    # Parameters a case assigns on purpose (to pass them in) are not state the call changed.
    if getattr(action, "assigns_params", False):
        after["gamma"], after["beta"] = before["gamma"], before["beta"]
    assert after.keys() == before.keys()
    for key, value in before.items():
        if key == "cache":
            assert after[key] is value, "a failed call replaced the cached forward pass"
        else:
            np.testing.assert_array_equal(after[key], value, err_msg=f"{key} changed by a failed call")


def test_failed_training_call_leaves_the_next_update_as_if_it_never_happened():
    """After a rejected batch the layer continues exactly like a twin that never saw it."""
    layer, twin = trained_layer(), trained_layer()
    with pytest.raises(ValueError):
        layer(with_nonfinite(GOOD_X, (0, 0), np.nan))
    with pytest.raises(ValueError):
        layer(GOOD_X[:1])
    batch = GOOD_X * 5 - 2
    np.testing.assert_array_equal(layer(batch), twin(batch))
    np.testing.assert_array_equal(layer.running_var, twin.running_var)
    assert layer.num_batches_tracked == twin.num_batches_tracked == 4


def test_eval_mode_accepts_a_single_example():
    layer = trained_layer().eval()
    out = layer(GOOD_X[:1])
    assert out.shape == (1, 3) and np.isfinite(out).all()
