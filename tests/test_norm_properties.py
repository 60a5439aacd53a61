"""Properties of the normalizations, checked on inputs that hypothesis draws (deterministically).

- with γ = 1, β = 0 each feature/channel comes out with mean 0 and variance var/(var + eps) (≈ 1 unless the
  feature is nearly constant); layer norm does the same per example;
- the output does not change when a feature is scaled by a positive factor and shifted;
- the output does not depend on the order of the examples in the batch (it is permuted with them);
- in eval mode the layer is an affine map: f(a·x1 + (1 − a)·x2) = a·f(x1) + (1 − a)·f(x2);
- float32 in gives float32 out (and float32 gradients), close to the float64 result.
"""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bnlib.batchnorm import (
    BatchNorm,
    batchnorm_backward,
    batchnorm_backward_compact,
    batchnorm_forward,
    reduction_axes,
)
from bnlib.layernorm import groupnorm_forward, instancenorm_forward, layernorm_backward, layernorm_forward

# Deterministic and bounded: the same examples on every run.
SETTINGS = settings(derandomize=True, max_examples=100, deadline=None)
EPS = 1e-5


@st.composite
def shapes(draw, min_batch=2):
    ndim = draw(st.integers(2, 4))
    batch = draw(st.integers(min_batch, 6))
    channels = draw(st.integers(1, 4))
    return (batch, channels) + tuple(draw(st.integers(1, 3)) for _ in range(ndim - 2))


@st.composite
def batches(draw, min_batch=2, spread=0.0):
    """x of a drawn layout with entries in [-100, 100].

    With ``spread`` > 0 the entries shrink to [-0.1, 0.1] and ride on a per-channel ramp over the batch axis
    with slope >= spread, so neighbouring examples differ by >= 0.8·spread and no channel is constant.
    """
    shape = draw(shapes(min_batch))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-100, 100)))
    if spread:
        slopes = draw(hnp.arrays(np.float64, shape[1], elements=st.floats(spread, 10 * spread)))
        ramp = np.arange(shape[0]).reshape((-1, 1) + (1,) * (len(shape) - 2))
        x = x * 0.001 + ramp * slopes.reshape((1, -1) + (1,) * (len(shape) - 2))
    return x


def identity_params(x):
    return np.ones(x.shape[1]), np.zeros(x.shape[1])


@SETTINGS
@given(x=batches())
@example(x=np.array([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]]))  # one varying, one constant feature
def test_each_feature_comes_out_with_mean_0_and_variance_near_1(x):
    out, _ = batchnorm_forward(x, *identity_params(x), eps=EPS)
    axes = reduction_axes(x.ndim)
    var_in = x.var(axis=axes)
    np.testing.assert_allclose(out.mean(axis=axes), 0, atol=1e-9)
    # Exactly var / (var + eps): 1 up to eps for a varying feature, 0 for a constant one.
    np.testing.assert_allclose(out.var(axis=axes), var_in / (var_in + EPS), rtol=1e-9, atol=1e-9)
    varying = var_in > 1e-2
    np.testing.assert_allclose(out.var(axis=axes)[varying], 1, atol=1e-3)


@SETTINGS
@given(x=batches(spread=1.0))
def test_varying_features_come_out_with_variance_1(x):
    """The same with no constant feature, so the 'variance ≈ 1' case is exercised on every example."""
    out, _ = batchnorm_forward(x, *identity_params(x), eps=EPS)
    np.testing.assert_allclose(out.var(axis=reduction_axes(x.ndim)), 1, atol=1e-4)


@SETTINGS
@given(x=batches(min_batch=1))
def test_layernorm_normalizes_each_example_instead(x):
    out, _ = layernorm_forward(x, np.ones(x.shape[1:]), np.zeros(x.shape[1:]), eps=EPS)
    example_axes = tuple(range(1, x.ndim))
    var_in = x.var(axis=example_axes)
    np.testing.assert_allclose(out.mean(axis=example_axes), 0, atol=1e-9)
    np.testing.assert_allclose(out.var(axis=example_axes), var_in / (var_in + EPS), rtol=1e-9, atol=1e-9)


@st.composite
def scaled_and_shifted(draw):
    x = draw(batches(spread=1.0))
    channels = x.shape[1]
    scale = draw(hnp.arrays(np.float64, channels, elements=st.floats(0.1, 10)))
    shift = draw(hnp.arrays(np.float64, channels, elements=st.floats(-100, 100)))
    return x, scale, shift


@SETTINGS
@given(data=scaled_and_shifted())
def test_output_is_invariant_to_a_positive_scale_and_shift_per_feature(data):
    x, scale, shift = data
    line_up = (1, -1) + (1,) * (x.ndim - 2)
    # eps this small is negligible next to every feature's variance (> 1e-3 here), so invariance is exact
    # up to rounding; with eps = 1e-5 it would hold only to about eps / var.
    out, _ = batchnorm_forward(x, *identity_params(x), eps=1e-12)
    moved, _ = batchnorm_forward(
        x * scale.reshape(line_up) + shift.reshape(line_up), *identity_params(x), eps=1e-12
    )
    np.testing.assert_allclose(moved, out, rtol=0, atol=1e-8)


@SETTINGS
@given(x=batches(), seed=st.integers(0, 2**16))
def test_output_follows_a_permutation_of_the_batch(x, seed):
    permutation = np.random.default_rng(seed).permutation(x.shape[0])
    gamma, beta = np.linspace(0.5, 2, x.shape[1]), np.linspace(-1, 1, x.shape[1])
    out, _ = batchnorm_forward(x, gamma, beta)
    out_permuted, _ = batchnorm_forward(x[permutation], gamma, beta)
    np.testing.assert_allclose(out_permuted, out[permutation], rtol=0, atol=1e-9)


@st.composite
def eval_problem(draw):
    shape = draw(shapes(min_batch=1))
    arrays = st.floats(-10, 10)
    training_batches = [
        draw(hnp.arrays(np.float64, (shape[0] + 1,) + shape[1:], elements=arrays)) for _ in range(2)
    ]
    x1, x2 = (draw(hnp.arrays(np.float64, shape, elements=arrays)) for _ in range(2))
    return training_batches, x1, x2, draw(st.floats(-2, 3))


@SETTINGS
@given(problem=eval_problem())
def test_eval_mode_is_an_affine_map(problem):
    training_batches, x1, x2, a = problem
    layer = BatchNorm(x1.shape[1], momentum=0.5)
    layer.gamma = np.linspace(0.5, 2, x1.shape[1])
    layer.beta = np.linspace(-1, 1, x1.shape[1])
    for batch in training_batches:  # running statistics away from their initial 0 and 1
        layer(batch)
    layer.eval()
    state = (layer.running_mean.copy(), layer.running_var.copy(), layer.num_batches_tracked)
    mixed = layer(a * x1 + (1 - a) * x2)
    np.testing.assert_allclose(mixed, a * layer(x1) + (1 - a) * layer(x2), rtol=1e-9, atol=1e-6)
    # Eval calls do not touch the running statistics.
    np.testing.assert_array_equal(layer.running_mean, state[0])
    np.testing.assert_array_equal(layer.running_var, state[1])
    assert layer.num_batches_tracked == state[2]


@SETTINGS
@given(x=batches(spread=1.0))
def test_float32_in_gives_float32_out(x):
    x32 = x.astype(np.float32)
    gamma, beta = identity_params(x)  # float64 parameters must not promote the output
    dout = np.ones_like(x32)

    out32, cache32 = batchnorm_forward(x32, gamma, beta)
    out64, _ = batchnorm_forward(x, gamma, beta)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=0, atol=1e-3)
    for backward in (batchnorm_backward, batchnorm_backward_compact):
        assert all(grad.dtype == np.float32 for grad in backward(dout, cache32))

    layer = BatchNorm(x.shape[1])  # float64 parameters and buffers
    assert layer(x32).dtype == np.float32
    assert layer.backward(dout).dtype == np.float32
    assert layer.eval()(x32).dtype == np.float32
    assert layer.running_mean.dtype == np.float64

    ln_out, ln_cache = layernorm_forward(x32, np.ones(x.shape[1:]), np.zeros(x.shape[1:]))
    assert ln_out.dtype == np.float32
    assert all(grad.dtype == np.float32 for grad in layernorm_backward(dout, ln_cache))
    assert groupnorm_forward(x32, 1, gamma, beta)[0].dtype == np.float32
    if x.ndim > 2 and np.prod(x.shape[2:]) > 1:
        assert instancenorm_forward(x32)[0].dtype == np.float32


@SETTINGS
@given(x=batches(min_batch=1))
def test_group_norm_spans_layer_norm_and_instance_norm(x):
    """One group is layer norm without affine; one channel per group is instance norm."""
    ones, zeros = np.ones(x.shape[1:]), np.zeros(x.shape[1:])
    np.testing.assert_allclose(groupnorm_forward(x, 1)[0], layernorm_forward(x, ones, zeros)[0], atol=1e-12)
    if x.ndim > 2 and np.prod(x.shape[2:]) > 1:
        np.testing.assert_array_equal(groupnorm_forward(x, x.shape[1])[0], instancenorm_forward(x)[0])
