"""The numeric gradient matches known derivatives, catches a wrong one and checks batch norm's backward."""

import numpy as np
import pytest

from bnlib.batchnorm import batchnorm_backward, batchnorm_backward_compact, batchnorm_forward
from bnlib.gradcheck import numerical_gradient, relative_error


def test_known_derivatives():
    x = np.linspace(-2.0, 2.0, 7)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**3), x), 3 * x**2, rtol=1e-8, atol=1e-9)
    dout = np.arange(7.0)
    np.testing.assert_allclose(numerical_gradient(np.sin, x, dout), np.cos(x) * dout, rtol=1e-8, atol=1e-9)


def test_x_is_untouched_and_the_shape_kept():
    x = np.random.default_rng(0).normal(size=(3, 8))[:, ::2]  # a non-contiguous view works too
    before = x.copy()
    grad = numerical_gradient(lambda v: np.sum(v**2), x)
    assert grad.shape == (3, 4)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, 2 * before, rtol=1e-8)


def test_a_wrong_gradient_is_far_off():
    x = np.random.default_rng(1).normal(size=10)
    numeric = numerical_gradient(lambda v: np.sum(np.exp(v)), x)
    assert relative_error(numeric, np.exp(x)) < 1e-8
    wrong = np.exp(x) * 1.01  # one percent off
    assert relative_error(numeric, wrong) > 1e-3


def test_relative_error_is_symmetric_and_scale_free():
    a, b = np.array([1.0, 2.0]), np.array([1.0, 2.2])
    assert relative_error(a, b) == relative_error(b, a)
    assert relative_error(1e6 * a, 1e6 * b) == pytest.approx(relative_error(a, b))
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3), (2, 3, 2, 2)])
@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_compact])
def test_batchnorm_backward_matches_numeric(shape, backward):
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 2.0, size=shape)
    channels = shape[1]
    gamma, beta = rng.normal(size=channels), rng.normal(size=channels)
    dout = rng.normal(size=shape)
    _, cache = batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = backward(dout, cache)
    numeric_dx = numerical_gradient(lambda v: batchnorm_forward(v, gamma, beta)[0], x, dout)
    numeric_dgamma = numerical_gradient(lambda g: batchnorm_forward(x, g, beta)[0], gamma, dout)
    numeric_dbeta = numerical_gradient(lambda b: batchnorm_forward(x, gamma, b)[0], beta, dout)
    assert relative_error(dx, numeric_dx) < 1e-7
    assert relative_error(dgamma, numeric_dgamma) < 1e-7
    assert relative_error(dbeta, numeric_dbeta) < 1e-7


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(np.sin, np.ones(3, np.float32), np.ones(3))
    with pytest.raises(ValueError, match="positive step"):
        numerical_gradient(np.sin, np.ones(3), np.ones(3), h=0)
    with pytest.raises(ValueError, match="pass dout"):
        numerical_gradient(np.sin, np.ones(3))
    with pytest.raises(ValueError, match="dout has shape"):
        numerical_gradient(np.sin, np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="one shape"):
        relative_error(np.ones(2), np.ones(3))
