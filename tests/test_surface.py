"""bnlib.surface against brute force (the loss summed over examples) and closed forms."""

import numpy as np
import pytest

from bnlib.data import height_age
from bnlib.surface import (
    QuadraticLoss,
    excess_loss_curve,
    gradient_descent,
    steps_to_converge,
    steps_vs_lr,
)
from bnlib.transforms import center, standardize, whiten


def brute_force_loss(X, y, w):
    return np.mean((X @ w - y) ** 2)


@pytest.fixture
def data():
    return height_age(n=150, correlation=0.4, seed=2)


@pytest.mark.parametrize("intercept", [False, True])
def test_loss_grad_hessian_match_brute_force(data, intercept):
    loss = QuadraticLoss.from_data(data.X, data.y, intercept=intercept)
    X = np.column_stack([data.X, np.ones(data.n)]) if intercept else data.X
    rng = np.random.default_rng(0)
    for w in rng.normal(size=(5, loss.dim)):
        assert loss.loss(w) == pytest.approx(brute_force_loss(X, data.y, w), rel=1e-10)
        # Central differences are exact for a quadratic, up to rounding.
        h = 1e-4
        numeric = [
            (brute_force_loss(X, data.y, w + h * e) - brute_force_loss(X, data.y, w - h * e)) / (2 * h)
            for e in np.eye(loss.dim)
        ]
        np.testing.assert_allclose(loss.grad(w), numeric, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loss.hessian, 2 * X.T @ X / data.n)
    np.testing.assert_allclose(loss.minimizer, np.linalg.lstsq(X, data.y, rcond=None)[0], rtol=1e-8)
    np.testing.assert_allclose(loss.grad(loss.minimizer), 0.0, atol=1e-8)
    assert loss.min_loss == pytest.approx(brute_force_loss(X, data.y, loss.minimizer), rel=1e-10)


def test_loss_grid_matches_pointwise_and_level_sets_are_exact(data):
    loss = QuadraticLoss.from_data(*standardize(data.X)[:1], data.y)
    w1, w2 = np.meshgrid(np.linspace(-5, 15, 7), np.linspace(-3, 9, 5))
    grid = loss.loss_grid(w1, w2)
    assert grid.shape == (5, 7)
    assert grid[3, 2] == pytest.approx(loss.loss([w1[3, 2], w2[3, 2]]))
    np.testing.assert_allclose(loss.loss_grid(w1, w2, excess=True), grid - loss.min_loss, atol=1e-9)
    ellipse = loss.level_set(2.5)
    np.testing.assert_allclose(loss.excess_loss(ellipse), 2.5, rtol=1e-10)
    with_bias = QuadraticLoss.from_data(data.X, data.y, intercept=True)
    with pytest.raises(ValueError, match="bias"):
        with_bias.loss_grid(w1, w2)
    b = with_bias.minimizer[2]
    assert with_bias.loss_grid(0.5, 0.1, bias=b) == pytest.approx(with_bias.loss([0.5, 0.1, b]))


def test_condition_number_closed_forms():
    for rho in (0.0, 0.5, -0.8):
        data = height_age(correlation=rho)
        standardized = QuadraticLoss.from_data(standardize(data.X)[0], data.y)
        # Standardized features have correlation matrix [[1, ρ], [ρ, 1]]: eigenvalues 1 ± ρ.
        assert standardized.condition_number == pytest.approx((1 + abs(rho)) / (1 - abs(rho)), rel=1e-9)
        whitened = QuadraticLoss.from_data(whiten(data.X)[0], data.y)
        assert abs(whitened.condition_number - 1.0) < 1e-9
    raw = QuadraticLoss.from_data(height_age().X, height_age().y)
    assert raw.condition_number > 100  # the mean of height (170 cm) dominates XᵀX


def test_uncorrelated_standardized_features_are_round_for_random_samples():
    # Without pinned moments the sample correlation is small but not zero: κ ≈ 1.
    rng = np.random.default_rng(5)
    X = rng.normal([170.0, 45.0], [10.0, 15.0], size=(20_000, 2))
    loss = QuadraticLoss.from_data(standardize(X)[0], X @ [0.9, 0.2])
    assert 1.0 <= loss.condition_number < 1.05


def test_gradient_descent_path_matches_the_update_rule(data):
    loss = QuadraticLoss.from_data(center(data.X)[0], data.y)
    lr, beta = 0.5 * loss.max_stable_lr, 0.7
    path = gradient_descent(loss, [0.0, 0.0], lr, steps=30, momentum=beta)
    w, v = np.zeros(2), np.zeros(2)
    for step in range(1, 31):
        v = beta * v - lr * loss.grad(w)
        w = w + v
        np.testing.assert_allclose(path.weights[step], w)
    assert not path.diverged and path.steps == 30
    np.testing.assert_allclose(path.losses, loss.loss(path.weights))
    curve = excess_loss_curve(loss, [0.0, 0.0], lr, 30, momentum=beta)
    np.testing.assert_allclose(curve, loss.excess_loss(path.weights), rtol=1e-9, atol=1e-12)


def test_stability_edge_is_two_over_lambda_max(data):
    loss = QuadraticLoss.from_data(data.X, data.y)
    edge = loss.max_stable_lr
    assert edge == pytest.approx(2 / np.linalg.eigvalsh(loss.hessian).max())
    below = gradient_descent(loss, [0.0, 0.0], 0.99 * edge, steps=3000)
    above = gradient_descent(loss, [0.0, 0.0], 1.01 * edge, steps=3000)
    assert not below.diverged and loss.excess_loss(below.weights[-1]) < loss.excess_loss(below.weights[0])
    assert above.diverged and 0 < above.diverged_at <= 3000
    assert np.all(np.isfinite(above.weights)) and np.all(np.isfinite(above.losses))
    assert loss.convergence_rate(0.99 * edge) < 1 < loss.convergence_rate(1.01 * edge)
    # Momentum moves the edge to 2(1 + β)/λ_max.
    assert (
        loss.convergence_rate(1.5 * edge, momentum=0.6) < 1 < loss.convergence_rate(1.7 * edge, momentum=0.6)
    )
    assert steps_to_converge(loss, [0.0, 0.0], 1.01 * edge) is None


def test_steps_to_converge_is_exact_and_shrinks_with_kappa():
    steps_by_kappa = []
    for rho in (0.0, 0.5, 0.8, 0.95):
        data = height_age(correlation=rho)
        loss = QuadraticLoss.from_data(standardize(data.X)[0], data.y)
        steps = steps_to_converge(loss, [0.0, 0.0], loss.optimal_lr)
        curve = excess_loss_curve(loss, [0.0, 0.0], loss.optimal_lr, steps)
        assert curve[-1] <= 1e-6 * curve[0] < curve[-2]  # the first step below the tolerance, exactly
        steps_by_kappa.append((loss.condition_number, steps))
    kappas, steps = zip(*steps_by_kappa, strict=True)
    assert list(kappas) == sorted(kappas) and list(steps) == sorted(steps) and steps[0] < steps[-1]


def test_momentum_steps_stay_converged_and_beat_gd_on_ill_conditioned_bowls():
    data = height_age(height_unit="m")
    loss = QuadraticLoss.from_data(center(data.X)[0], data.y)
    lr, beta = loss.optimal_momentum()
    steps = steps_to_converge(loss, [0.0, 0.0], lr, momentum=beta)
    curve = excess_loss_curve(loss, [0.0, 0.0], lr, 3 * steps, momentum=beta)
    assert curve[steps - 1] > 1e-6 * curve[0] and np.all(curve[steps:] <= 1e-6 * curve[0])
    assert steps < steps_to_converge(loss, [0.0, 0.0], loss.optimal_lr) / 10


def test_steps_vs_lr_marks_divergence_with_nan(data):
    loss = QuadraticLoss.from_data(standardize(data.X)[0], data.y)
    steps = steps_vs_lr(loss, [0.0, 0.0], np.array([0.2, 0.5, 1.2]) * loss.max_stable_lr)
    assert steps[0] > steps[1] and np.isnan(steps[2])


def test_bad_arguments_raise_clear_errors(data):
    loss = QuadraticLoss.from_data(data.X, data.y)
    with pytest.raises(ValueError, match="learning rate"):
        gradient_descent(loss, [0, 0], -0.1, 5)
    with pytest.raises(ValueError, match="momentum"):
        gradient_descent(loss, [0, 0], 0.1, 5, momentum=1.0)
    with pytest.raises(ValueError, match="2 weights"):
        loss.loss([1.0, 2.0, 3.0])
    singular = QuadraticLoss.from_data(np.column_stack([data.X[:, 0], 2 * data.X[:, 0]]), data.y)
    assert singular.condition_number == np.inf
    with pytest.raises(ValueError, match="singular"):
        _ = singular.minimizer


def test_loss_surface_panel_shows_the_numbers_of_its_bowl():
    pytest.importorskip("ipywidgets")
    from bnlib.panels.conditioning import LossSurfacePanel
    from bnlib.surface import surface_setting

    panel = LossSurfacePanel(transform="standardized", correlation=0.8, lr_ratio=0.5, steps=40)
    _, _, bowl = surface_setting("standardized", correlation=0.8)
    assert panel.readouts["condition number κ = λ_max/λ_min"] == f"{bowl.condition_number:,.4g}"
    steps = steps_to_converge(bowl, [0.0, 0.0], 0.5 * bowl.max_stable_lr, rtol=1e-6)
    assert panel.readouts["steps until L − L* shrinks 10⁶×"] == f"{steps:,}"
    drawn_path = panel.drawn()["ax0.line6"]  # six contour lines, then the path
    expected = gradient_descent(bowl, [0.0, 0.0], 0.5 * bowl.max_stable_lr, 40).weights
    np.testing.assert_allclose(drawn_path, expected)
    panel.set(lr_ratio=1.2)  # past 2/λ_max without momentum: a message, not a crash
    assert "stability edge" in panel.message
    panel.set(momentum=0.5)  # heavy ball is stable up to (1 + β)·η_max
    assert not panel.message
