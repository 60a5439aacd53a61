"""Numeric gradients by centred differences, to check a hand-written backward pass.

For a function f of an array x and an upstream gradient dout (the gradient of the loss with respect to f's
output), the loss is L(x) = Σ f(x) · dout, and its gradient with respect to one entry x_i is approximated by

    dL/dx_i ≈ (L(x + h e_i) − L(x − h e_i)) / (2h)

The error of this centred difference shrinks like h², so in float64 with h = 1e-5 it agrees with a correct
analytic gradient to about 1e-9 relative; a wrong backward pass is off by far more.

Functions: ``numerical_gradient`` (the approximation) and ``relative_error`` (how far two gradients are
apart).

Explained in notebooks/03_batchnorm_layer.ipynb, section "Check it numerically".
"""

import numbers

import numpy as np


def numerical_gradient(f, x, dout=None, h=1e-5):
    """Centred-difference gradient of L(x) = Σ f(x) · dout with respect to x.

    f: callable taking an array of x's shape and returning an array (or, with dout=None, a scalar). It is
       called on a private copy of x, perturbed one entry at a time; x itself is never changed.
    x: float64 array of any shape.
    dout: array of f(x)'s shape, the upstream gradient; None when f returns a scalar loss.
    h: step, a positive float (1e-5 suits float64 inputs of order 1).
    Returns an array of x's shape: the approximate dL/dx. Costs 2 · x.size calls of f.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise TypeError(
            f"x has dtype {x.dtype}; centred differences need float64 to be accurate: "
            "pass x.astype(np.float64)."
        )
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not h > 0:
        raise ValueError(f"h must be a positive step such as 1e-5, got {h!r}.")
    dout = None if dout is None else np.asarray(dout, dtype=np.float64)

    def loss():
        value = np.asarray(f(x), dtype=np.float64)
        if dout is None:
            if value.size != 1:
                raise ValueError(
                    f"f returned an array of shape {value.shape}; pass dout of that shape (the upstream "
                    "gradient), or make f return a scalar loss."
                )
            return float(value.reshape(()))
        if value.shape != dout.shape:
            raise ValueError(
                f"dout has shape {dout.shape} but f(x) has shape {value.shape}; they must match, since the "
                "loss is sum(f(x) * dout)."
            )
        return float(np.sum(value * dout))

    x = x.copy()  # C-contiguous, and the caller's array stays untouched
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)  # views: writing them writes x and grad
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + h
        loss_plus = loss()
        flat_x[i] = original - h
        loss_minus = loss()
        flat_x[i] = original  # restore before the next entry
        flat_grad[i] = (loss_plus - loss_minus) / (2 * h)
    return grad


def relative_error(a, b):
    """How far two gradients are apart, relative to their size: ‖a − b‖ / (‖a‖ + ‖b‖), a float in [0, 1].

    a, b: arrays of the same shape. Two zero arrays are 0 apart. Whole-array norms (not entry by entry) keep
    entries that are zero up to rounding from inflating the error.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"the gradients have shapes {a.shape} and {b.shape}; compare arrays of one shape.")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)
