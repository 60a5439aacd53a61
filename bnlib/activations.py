"""Where a pre-activation lands on a nonlinearity: the saturated and the near-linear regions.

A unit's slope f'(y) decides how it behaves at y:

    saturated     the slope is below SATURATED_BELOW (10 %) of the function's largest slope: almost no
                  gradient flows back (for ReLU: y ≤ 0, the output is 0 and the unit is dead for that input)
    near-linear   the slope is at least NEAR_LINEAR_ABOVE (75 %) of its largest: the unit acts like a line

``activation_fractions`` measures both fractions of a set of pre-activations for sigmoid, tanh and ReLU.
Explained in notebooks/04_gamma_and_beta.ipynb, section "γ is the spread, β the centre (L1)", where batch
norm's γ and β move the pre-activations across these regions.
"""

import numpy as np

SATURATED_BELOW = 0.10  # slope / largest slope below this: saturated
NEAR_LINEAR_ABOVE = 0.75  # slope / largest slope at least this: near-linear


def _sigmoid(y):
    return 0.5 * (1.0 + np.tanh(0.5 * y))  # the same function as 1/(1+e^-y), without overflow for large |y|


# name -> (f, slope relative to the largest slope f'(0)); every slope here peaks at y = 0.
ACTIVATIONS = {
    "sigmoid": (_sigmoid, lambda y: 4.0 * _sigmoid(y) * (1.0 - _sigmoid(y))),  # σ' = σ(1 − σ) ≤ 1/4
    "tanh": (np.tanh, lambda y: 1.0 - np.tanh(y) ** 2),  # tanh' = 1 − tanh² ≤ 1
    "ReLU": (lambda y: np.maximum(y, 0.0), lambda y: (y > 0).astype(float)),  # slope 1 or 0 (0 at y = 0)
}


def activation_fractions(y):
    """Fractions of the values y that land in each activation's saturated and near-linear regions.

    y: array of pre-activations (any shape). Returns {name: {"saturated": float, "near_linear": float}} for
    "sigmoid", "tanh" and "ReLU", with the thresholds SATURATED_BELOW and NEAR_LINEAR_ABOVE on the slope
    relative to its largest value. For ReLU "saturated" is the fraction with output 0 (no gradient).
    """
    y = np.asarray(y, dtype=float)
    if y.size == 0:
        raise ValueError("y is empty; pass at least one pre-activation value.")
    fractions = {}
    for name, (_, relative_slope) in ACTIVATIONS.items():
        slope = relative_slope(y)
        fractions[name] = {
            "saturated": float(np.mean(slope < SATURATED_BELOW)),
            "near_linear": float(np.mean(slope >= NEAR_LINEAR_ABOVE)),
        }
    return fractions
