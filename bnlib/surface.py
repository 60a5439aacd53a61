"""The loss of linear regression as a function of its *weights*, and gradient descent on it.

For a model ŷ = X w (+ b) and the mean squared error L(w) = (1/n)·Σ (ŷ_i − y_i)², the loss is a quadratic
bowl over the weights:

    L(w) = wᵀ S w − 2 wᵀ r + q,   S = XᵀX / n,  r = Xᵀy / n,  q = yᵀy / n,
    ∇L(w) = 2 (S w − r),          Hessian H = 2 S (the same at every w).

So three small sufficient statistics describe the whole surface, whatever the number of examples. The shape
of the bowl is set by the eigenvalues λ_min ≤ … ≤ λ_max of H: gradient descent with step η multiplies the
error along each eigenvector by (1 − η λ) per step, so it is stable only for η < 2/λ_max, and then the flat
direction shrinks by only (1 − 2 λ_min/λ_max) per step. The condition number κ = λ_max / λ_min therefore
decides how many steps training takes. Explained in notebooks/02_loss_surface_conditioning.ipynb, whose
height/age bowls (one per unit, offset, correlation and transform) come from ``surface_setting``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bnlib._validation import check_descent_momentum, check_lr, check_step_count
from bnlib.data import AGE_UNITS, HEIGHT_UNITS, height_age
from bnlib.transforms import transform_by_name

# The iterates count as diverged once their excess loss grows this many times past the start's.
DIVERGENCE_FACTOR = 1e8


class QuadraticLoss:
    """Mean squared error of a linear model, as an exact quadratic function of the weights.

    Build it with :meth:`from_data`. The weight vector w has one entry per feature, plus a last entry for
    the intercept b when ``intercept=True``.
    """

    def __init__(self, second_moment, cross_moment, target_moment, *, intercept=False, n=None):
        """second_moment S: (d, d) = XᵀX/n; cross_moment r: (d,) = Xᵀy/n; target_moment q = yᵀy/n."""
        self.S = np.array(second_moment, dtype=float)
        self.r = np.array(cross_moment, dtype=float)
        self.q = float(target_moment)
        self.intercept = bool(intercept)
        self.n = n
        d = self.r.shape[0]
        if self.S.shape != (d, d):
            raise ValueError(
                f"second_moment has shape {self.S.shape}; expected ({d}, {d}) to match cross_moment."
            )
        self.eigenvalues = np.linalg.eigvalsh(self.hessian)  # ascending
        self._minimizer = None

    @classmethod
    def from_data(cls, X, y, *, intercept: bool = False) -> QuadraticLoss:
        """The MSE surface of ŷ = X w (+ b) on data X: (n, d), y: (n,).

        With ``intercept=True`` a column of ones is appended, so w = (w_1, …, w_d, b).
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"X must have shape (n, d) and y shape (n,); got X {X.shape} and y {y.shape}.")
        if X.shape[0] < 1:
            raise ValueError("X has no rows; pass at least one example.")
        if intercept:
            X = np.column_stack([X, np.ones(len(X))])
        n = len(X)
        return cls(X.T @ X / n, X.T @ y / n, y @ y / n, intercept=intercept, n=n)

    @property
    def dim(self) -> int:
        return self.r.shape[0]

    @property
    def hessian(self) -> np.ndarray:
        """The (d, d) matrix of second derivatives, 2 XᵀX/n; the same at every w."""
        return 2.0 * self.S

    @property
    def condition_number(self) -> float:
        """κ = λ_max / λ_min of the Hessian (inf when the bowl has a flat direction)."""
        lam_min, lam_max = self.eigenvalues[0], self.eigenvalues[-1]
        return float(lam_max / lam_min) if lam_min > lam_max * 1e-15 else float("inf")

    @property
    def minimizer(self) -> np.ndarray:
        """w* solving S w = r (the normal equations)."""
        if self._minimizer is None:
            if not np.isfinite(self.condition_number):
                raise ValueError(
                    "the Hessian is singular (a feature is constant zero or two features are proportional), "
                    "so the minimizer is not unique; drop or decorrelate a feature."
                )
            self._minimizer = np.linalg.solve(self.S, self.r)
        return self._minimizer

    @property
    def min_loss(self) -> float:
        """L(w*) = q − w*ᵀ r."""
        return float(self.q - self.minimizer @ self.r)

    @property
    def max_stable_lr(self) -> float:
        """2 / λ_max: gradient descent converges for every smaller learning rate and diverges above it."""
        return 2.0 / float(self.eigenvalues[-1])

    @property
    def optimal_lr(self) -> float:
        """2 / (λ_min + λ_max): the gradient-descent step with the fastest worst-case convergence."""
        return 2.0 / float(self.eigenvalues[0] + self.eigenvalues[-1])

    def optimal_momentum(self) -> tuple[float, float]:
        """(η, β) of the fastest heavy-ball method on this bowl (Polyak):

        η = 4/(√λ_max + √λ_min)²,  β = ((√κ − 1)/(√κ + 1))².
        """
        root_min, root_max = np.sqrt(self.eigenvalues[0]), np.sqrt(self.eigenvalues[-1])
        return 4.0 / (root_max + root_min) ** 2, float(((root_max - root_min) / (root_max + root_min)) ** 2)

    def _weights(self, w) -> np.ndarray:
        w = np.asarray(w, dtype=float)
        if w.shape[-1] != self.dim:
            raise ValueError(
                f"w has {w.shape[-1]} entries in its last axis; this loss has {self.dim} weights."
            )
        return w

    def loss(self, w) -> np.ndarray:
        """L(w) for w of shape (..., d); returns shape (...)."""
        w = self._weights(w)
        return np.einsum("...i,ij,...j->...", w, self.S, w) - 2.0 * w @ self.r + self.q

    def excess_loss(self, w) -> np.ndarray:
        """L(w) − L(w*) = (w − w*)ᵀ S (w − w*), computed without subtracting two large numbers."""
        delta = self._weights(w) - self.minimizer
        return np.einsum("...i,ij,...j->...", delta, self.S, delta)

    def grad(self, w) -> np.ndarray:
        """∇L(w) = 2 (S w − r) for w of shape (..., d)."""
        return 2.0 * (self._weights(w) @ self.S - self.r)  # S is symmetric

    def loss_grid(self, w1, w2, *, bias: float | None = None, excess: bool = False) -> np.ndarray:
        """The loss at every (w1, w2) of broadcastable arrays, e.g. a meshgrid; returns their broadcast shape.

        For a model with an intercept, pass the ``bias`` at which to slice the 3-D bowl. ``excess=True``
        returns L − L(w*) instead of L.
        """
        w1, w2 = np.broadcast_arrays(np.asarray(w1, dtype=float), np.asarray(w2, dtype=float))
        coordinates = [w1, w2]
        if self.dim == 3:
            if bias is None:
                raise ValueError(
                    "this loss has an intercept: pass bias=… to choose the slice (e.g. the minimizer's)."
                )
            coordinates.append(np.full_like(w1, float(bias)))
        elif self.dim != 2:
            raise ValueError(f"loss_grid draws two weights; this loss has {self.dim}.")
        w = np.stack(coordinates, axis=-1)
        return self.excess_loss(w) if excess else self.loss(w)

    def level_set(self, excess: float, n_points: int = 96) -> np.ndarray:
        """Points (n_points, 2) of the ellipse {w : L(w) − L(w*) = excess} of a two-weight loss.

        Exact, with no grid: w = w* + √excess · S^(-1/2) (cos t, sin t). The contour lines of the figures.
        """
        if self.dim != 2:
            raise ValueError(f"level_set draws the ellipse of a two-weight loss; this one has {self.dim}.")
        lam, vectors = np.linalg.eigh(self.S)
        angle = np.linspace(0.0, 2.0 * np.pi, n_points)
        circle = np.stack([np.cos(angle), np.sin(angle)], axis=-1)
        return self.minimizer + np.sqrt(excess) * (circle / np.sqrt(lam)) @ vectors.T

    def convergence_rate(self, lr: float, momentum: float = 0.0) -> float:
        """Per-step factor by which the distance to w* eventually shrinks (< 1 converges, >= 1 does not).

        The spectral radius of the iteration: max |1 − η λ| for gradient descent; for heavy-ball momentum the
        largest root modulus of z² − (1 + β − η λ) z + β = 0 over the eigenvalues λ.
        """
        lr, momentum = check_lr(lr), check_descent_momentum(momentum)
        trace = 1.0 + momentum - lr * self.eigenvalues
        roots = [np.roots([1.0, -t, momentum]) for t in trace]
        return float(max(np.abs(r).max() for r in roots))

    def __repr__(self) -> str:
        kind = "with intercept" if self.intercept else "no intercept"
        lam = np.array2string(self.eigenvalues, precision=4)
        return f"QuadraticLoss({self.dim} weights, {kind}; λ = {lam}, κ = {self.condition_number:.4g})"


@dataclass(frozen=True)
class Trajectory:
    """The iterates of an optimizer.

    weights: array (T+1, d), the start then one row per step (fewer rows if it diverged);
    losses: array (T+1,) of L at each row; diverged: True if the run stopped because the loss blew up,
    at step ``diverged_at``.
    """

    weights: np.ndarray
    losses: np.ndarray
    diverged: bool
    diverged_at: int | None
    lr: float
    momentum: float

    @property
    def steps(self) -> int:
        return len(self.weights) - 1


def gradient_descent(loss: QuadraticLoss, w0, lr: float, steps: int, momentum: float = 0.0) -> Trajectory:
    """Gradient descent (momentum=0) or heavy-ball momentum on ``loss`` from w0, for ``steps`` steps:

        v ← β v − η ∇L(w),   w ← w + v        (β = momentum; v starts at 0)

    Stops early, with ``diverged=True``, once the excess loss exceeds DIVERGENCE_FACTOR times the start's,
    so the returned arrays are always finite.
    """
    lr, momentum, steps = check_lr(lr), check_descent_momentum(momentum), check_step_count(steps)
    w = np.array(loss._weights(w0), dtype=float)
    velocity = np.zeros_like(w)
    limit = DIVERGENCE_FACTOR * max(float(loss.excess_loss(w)), np.finfo(float).tiny)
    weights = [w.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, steps + 1):
            velocity = momentum * velocity - lr * loss.grad(w)
            w = w + velocity
            excess = loss.excess_loss(w)
            if not np.isfinite(excess) or excess > limit:
                weights_array = np.array(weights)
                return Trajectory(weights_array, loss.loss(weights_array), True, step, lr, momentum)
            weights.append(w.copy())
    weights_array = np.array(weights)
    return Trajectory(weights_array, loss.loss(weights_array), False, None, lr, momentum)


CHUNK = 512  # steps per block of the closed-form iteration below


def _heavy_ball_error_chunks(loss: QuadraticLoss, w0, lr: float, momentum: float):
    """Yield the errors e_t = w_t − w* of heavy ball (gradient descent when β = 0), CHUNK steps at a time.

    The error obeys the linear recurrence e_{t+1} = ((1+β) I − η H) e_t − β e_{t−1} (e_{−1} = e_0), so the
    state s_t = (e_t, e_{t−1}) is s_t = Aᵗ s_0. The first chunk is built by doubling (block [k, 2k) is
    A^k applied to block [0, k)); each later chunk is the previous one times A^CHUNK. A few small matrix
    products per chunk instead of a Python iteration per step: cheap enough to follow a slider.
    """
    d = loss.dim
    identity, zeros = np.eye(d), np.zeros((d, d))
    A = np.block([[(1.0 + momentum) * identity - lr * loss.hessian, -momentum * identity], [identity, zeros]])
    e0 = loss._weights(w0) - loss.minimizer
    chunk = np.empty((CHUNK, 2 * d))
    chunk[0] = np.concatenate([e0, e0])
    # Entries this far below the start are zero for any tolerance; flushing them keeps numpy away from
    # subnormal numbers, which are many times slower to multiply.
    floor = 1e-200 * max(float(np.abs(e0).max()), np.finfo(float).tiny)
    filled, power = 1, A  # invariant: power = A ** filled
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows to inf: that is the answer
        while filled < CHUNK:
            chunk[filled : 2 * filled] = chunk[:filled] @ power.T
            filled, power = 2 * filled, power @ power
    while True:
        yield chunk[:, :d]
        with np.errstate(over="ignore", invalid="ignore"):  # not held across the yield: callers keep theirs
            chunk = chunk @ power.T
            chunk[np.abs(chunk) < floor] = 0.0


def excess_loss_curve(loss: QuadraticLoss, w0, lr: float, steps: int, momentum: float = 0.0) -> np.ndarray:
    """L(w_t) − L(w*) for t = 0 … steps of :func:`gradient_descent`, computed in closed form (no loop over
    steps). Entries are inf once the run overflows."""
    lr, momentum, steps = check_lr(lr), check_descent_momentum(momentum), check_step_count(steps)
    curves, total = [], 0
    for errors in _heavy_ball_error_chunks(loss, w0, lr, momentum):
        with np.errstate(over="ignore", invalid="ignore"):
            curves.append(((errors @ loss.S) * errors).sum(axis=1))
        total += len(errors)
        if total > steps:
            break
    curve = np.concatenate(curves)[: steps + 1]
    curve[~np.isfinite(curve)] = np.inf
    return curve


def _gradient_descent_steps(
    loss: QuadraticLoss, w0, lr: float, tolerance: float, max_steps: int
) -> int | None:
    """First t with excess loss <= tolerance, for stable gradient descent, by bisection on the closed form.

    Along eigenvector v_i of S (eigenvalue s_i) the error shrinks by (1 − η·2s_i) per step, so
    L(w_t) − L(w*) = Σ_i s_i (v_iᵀ e_0)² (1 − 2η s_i)^(2t): decreasing in t, and cheap at any t.
    """
    s_eigenvalues, vectors = np.linalg.eigh(loss.S)
    weights = s_eigenvalues * (vectors.T @ (loss._weights(w0) - loss.minimizer)) ** 2
    log_factors = 2.0 * np.log(np.abs(1.0 - 2.0 * lr * s_eigenvalues) + 1e-300)

    def excess(t: int) -> float:
        return float(weights @ np.exp(t * log_factors))

    if excess(max_steps) > tolerance:
        return None
    low, high = -1, max_steps  # excess(low) > tolerance >= excess(high), with excess(-1) read as +inf
    while high - low > 1:
        middle = (low + high) // 2
        if excess(middle) > tolerance:
            low = middle
        else:
            high = middle
    return high


def steps_to_converge(
    loss: QuadraticLoss, w0, lr: float, *, momentum: float = 0.0, rtol: float = 1e-6, max_steps: int = 200_000
) -> int | None:
    """Steps until the excess loss L − L(w*) falls below rtol × its starting value and stays there.

    Returns None when that does not happen within ``max_steps`` (too slow, on the stability edge, or
    diverging). For gradient descent the first step below the tolerance is the answer, exactly: below the
    stability edge its excess loss only decreases. Momentum's excess loss oscillates, so "stays there" is
    checked over a horizon at least twice the answer.
    """
    lr, momentum = check_lr(lr), check_descent_momentum(momentum)
    max_steps = check_step_count(max_steps, "max_steps")
    if loss.convergence_rate(lr, momentum) >= 1.0:
        return None
    tolerance = rtol * float(loss.excess_loss(w0))
    if momentum == 0.0:
        return _gradient_descent_steps(loss, w0, lr, tolerance, max_steps)
    start, last_above = 0, -1
    for errors in _heavy_ball_error_chunks(loss, w0, lr, momentum):
        excess = ((errors @ loss.S) * errors).sum(axis=1)
        above = np.flatnonzero(excess > tolerance)
        if above.size:
            last_above = start + int(above[-1])
        start += len(errors)
        settled = start >= 2 * (last_above + 1)
        if settled or start > max_steps:
            break
    steps = last_above + 1
    return steps if steps <= max_steps else None


def steps_vs_lr(
    loss: QuadraticLoss, w0, lrs, *, momentum: float = 0.0, rtol: float = 1e-6, max_steps: int = 200_000
):
    """Steps to converge for each learning rate in ``lrs``; array of floats, nan where it never converges."""
    results = [
        steps_to_converge(loss, w0, lr, momentum=momentum, rtol=rtol, max_steps=max_steps) for lr in lrs
    ]
    return np.array([np.nan if steps is None else steps for steps in results], dtype=float)


# The height/age bowl of notebook 02, one setting of its loss-surface figure at a time.


def surface_setting(
    transform="raw",
    height_unit="cm",
    age_unit="years",
    height_offset_cm=0.0,
    age_offset_years=0.0,
    correlation=0.0,
    n=200,
    seed=0,
):
    """The data and its loss bowl for one setting of the panel: (data, transformed X, QuadraticLoss).

    Offsets are given in cm and years whatever the display unit, so moving the unit does not move the
    people. The model has no intercept, so the picture has exactly the two weights as axes.
    """
    data = height_age(
        n,
        height_unit=height_unit,
        age_unit=age_unit,
        correlation=correlation,
        seed=seed,
        height_offset=height_offset_cm * HEIGHT_UNITS[height_unit],
        age_offset=age_offset_years * AGE_UNITS[age_unit],
    )
    X, _ = transform_by_name(data.X, transform)
    return data, X, QuadraticLoss.from_data(X, data.y)


@lru_cache(maxsize=64)
def bowl_with_contours(transform, height_unit, age_unit, height_offset_cm, age_offset_years, correlation):
    """The pieces of one setting's loss bowl that η, β and the step count do not change, cached so that a
    live figure recomputes them only when the data changes:
    (data, QuadraticLoss, excess loss at w = 0, contour lines: list of (K, 2) arrays, each half the size)."""
    data, _, loss = surface_setting(
        transform, height_unit, age_unit, height_offset_cm, age_offset_years, correlation
    )
    start_excess = float(loss.excess_loss(np.zeros(2)))
    contours = [loss.level_set(start_excess * 4.0**-k) for k in range(6)]  # each contour half the size
    return data, loss, start_excess, contours


# What η/η_max, β and the step count do on one bowl: the numbers behind the loss-surface figure.

RTOL = 1e-6  # "converged": the excess loss has shrunk a million-fold
MAX_STEPS = 100_000
EDGE_TOLERANCE = 1e-9  # a convergence rate within this of 1 counts as on the stability edge


def format_steps(steps, max_steps=MAX_STEPS):
    """A step count as the readouts print it: "1,234", or "more than 100,000" for None (never converged)."""
    return f"more than {max_steps:,}" if steps is None else f"{steps:,}"


def loss_surface_numbers(loss: QuadraticLoss, lr_ratio: float, momentum: float, steps: int) -> dict:
    """What η/η_max, momentum β and the step count change on one bowl, from w = 0, and the readouts.

    Returns {"lr", "path": Trajectory, "curve": (steps + 1,) excess losses, "message": "" or why the run
    does not converge, "readouts": {label: text}}. The browser computes the same numbers and texts with
    surfaceNumbers in loss_surface.js (tests/browser/test_loss_surface_browser.py compares them).
    """
    w0 = np.zeros(2)
    lr = lr_ratio * loss.max_stable_lr
    path = gradient_descent(loss, w0, lr, steps, momentum)
    curve = excess_loss_curve(loss, w0, lr, steps, momentum)
    numbers = {"lr": lr, "path": path, "curve": curve, "message": "", "readouts": {}}
    edge_ratio = 1.0 + momentum  # heavy ball is stable up to 2(1 + β)/λ_max
    # On the edge itself (η/η_max = 1 + β, a slider position) the rate is 1 up to rounding, which numpy and
    # the browser may round either way: both call it "at the edge".
    if loss.convergence_rate(lr, momentum) >= 1.0 - EDGE_TOLERANCE:
        numbers["message"] = (
            f"η = {lr_ratio:.2f}·η_max is at or past the stability edge 2(1+β)/λ_max = {edge_ratio:.2f}·η_max: "
            "every step overshoots the steep direction by at least as much as it corrects, and the path never "
            "settles. Lower η / η_max."
        )
        return numbers
    steps_needed = steps_to_converge(loss, w0, lr, momentum=momentum, rtol=RTOL, max_steps=MAX_STEPS)
    numbers["readouts"] = {
        "condition number κ = λ_max/λ_min": f"{loss.condition_number:,.4g}",
        "largest stable η: η_max = 2/λ_max": f"{loss.max_stable_lr:.3g}",
        "η used": f"{lr:.3g}  (= {lr_ratio:.2f}·η_max)",
        "best η for plain GD": f"{loss.optimal_lr / loss.max_stable_lr:.3f}·η_max = 2/(λ_min+λ_max)",
        "steps until L − L* shrinks 10⁶×": format_steps(steps_needed),
        f"L − L* after {steps} steps": f"{curve[-1]:.3g} kg²",
    }
    return numbers
