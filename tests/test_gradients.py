"""Hand-written backward passes against centred differences (float64), and staged against compact.

The loss is L = Σ out · dout for a random dout; ``bnlib.gradcheck.numerical_gradient`` approximates dL/dx,
dL/dγ and dL/dβ, and every analytic gradient must agree to a relative error of 1e-7 or better. The worst
relative errors are printed at the end of the module (run with ``-s``).
"""

import numpy as np
import pytest

from bnlib.batchnorm import (
    BatchNorm,
    batchnorm_backward,
    batchnorm_backward_compact,
    batchnorm_forward,
)
from bnlib.gradcheck import numerical_gradient, relative_error
from bnlib.layernorm import layernorm_backward, layernorm_forward

MAX_RELATIVE_ERROR = 1e-7
# Not N = 2 for (N, D): two values always normalize to ±1, so dx is ~0 (set by eps alone) and a relative
# error of a near-zero gradient measures rounding, not correctness.
SHAPES = [(5, 4), (4, 3, 5), (3, 2, 3, 4), (3, 6)]
WORST = {}


@pytest.fixture(scope="module", autouse=True)
def summary():
    yield
    print("\nWorst relative error, analytic vs centred differences:")
    for name, error in sorted(WORST.items()):
        print(f"  {name:42s} {error:.3e}")


def check(name, analytic, numeric):
    error = relative_error(analytic, numeric)
    WORST[name] = max(WORST.get(name, 0.0), error)
    assert error <= MAX_RELATIVE_ERROR, f"{name}: relative error {error:.3e}"


def random_problem(shape, param_shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape) * rng.uniform(0.5, 3) + rng.normal()
    gamma = rng.normal(1, 0.5, param_shape)
    beta = rng.normal(0, 0.5, param_shape)
    dout = rng.normal(size=shape)
    return x, gamma, beta, dout


def numeric_grads(forward, x, gamma, beta, dout):
    """dL/dx, dL/dγ, dL/dβ by centred differences for a forward(x, gamma, beta) -> (out, cache)."""
    return (
        numerical_gradient(lambda v: forward(v, gamma, beta)[0], x, dout),
        numerical_gradient(lambda v: forward(x, v, beta)[0], gamma, dout),
        numerical_gradient(lambda v: forward(x, gamma, v)[0], beta, dout),
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "backward", [batchnorm_backward, batchnorm_backward_compact], ids=["staged", "compact"]
)
def test_batchnorm_backward_matches_centred_differences(shape, backward):
    x, gamma, beta, dout = random_problem(shape, shape[1], seed=len(shape))
    _, cache = batchnorm_forward(x, gamma, beta)
    analytic = backward(dout, cache)
    numeric = numeric_grads(batchnorm_forward, x, gamma, beta, dout)
    for name, a, n in zip(("dx", "dgamma", "dbeta"), analytic, numeric, strict=True):
        check(f"batchnorm {backward.__name__} {name}", a, n)


@pytest.mark.parametrize("shape", SHAPES)
def test_layernorm_backward_matches_centred_differences(shape):
    x, gamma, beta, dout = random_problem(shape, shape[1:], seed=10 + len(shape))
    _, cache = layernorm_forward(x, gamma, beta)
    numeric = numeric_grads(layernorm_forward, x, gamma, beta, dout)
    for name, a, n in zip(("dx", "dgamma", "dbeta"), layernorm_backward(dout, cache), numeric, strict=True):
        check(f"layernorm_backward {name}", a, n)


@pytest.mark.parametrize("track_running_stats", [True, False])
def test_layer_backward_in_eval_mode_matches_centred_differences(track_running_stats):
    """In eval mode the layer is an affine map (or, without running stats, batch norm again)."""
    x, gamma, beta, dout = random_problem((6, 3, 4), 3, seed=3)
    layer = BatchNorm(3, track_running_stats=track_running_stats)
    layer.gamma, layer.beta = gamma, beta
    for _ in range(3):  # give the running statistics values other than 0 and 1
        layer(x * 2 + 1)
    layer.eval()
    layer(x)
    dx = layer.backward(dout)
    check(f"BatchNorm eval (tracking={track_running_stats}) dx", dx, numerical_gradient(layer, x, dout))

    def with_gamma(value):
        layer.gamma = value
        return layer(x)

    numeric_dgamma = numerical_gradient(with_gamma, gamma.copy(), dout)
    check(f"BatchNorm eval (tracking={track_running_stats}) dgamma", layer.dgamma, numeric_dgamma)


@pytest.mark.parametrize("seed", range(50))
def test_staged_and_compact_backward_agree(seed):
    rng = np.random.default_rng(seed)
    shape = SHAPES[seed % len(SHAPES)][:1] + (int(rng.integers(1, 6)),) + SHAPES[seed % len(SHAPES)][2:]
    x, gamma, beta, dout = random_problem(shape, shape[1], seed=100 + seed)
    _, cache = batchnorm_forward(x, gamma, beta)
    for staged, compact in zip(
        batchnorm_backward(dout, cache), batchnorm_backward_compact(dout, cache), strict=True
    ):
        np.testing.assert_allclose(staged, compact, rtol=0, atol=1e-10)


def test_gradient_check_catches_a_wrong_backward():
    """The check above has teeth: dropping the mean term of dx makes it fail by orders of magnitude."""
    x, gamma, beta, dout = random_problem((5, 4), 4, seed=0)
    _, cache = batchnorm_forward(x, gamma, beta)
    dx_without_mean_term = dout * gamma * cache["invstd"]
    numeric = numerical_gradient(lambda v: batchnorm_forward(v, gamma, beta)[0], x, dout)
    assert relative_error(dx_without_mean_term, numeric) > 1e3 * MAX_RELATIVE_ERROR
