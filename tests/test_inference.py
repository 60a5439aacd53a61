"""Inference-time batch norm: running averages, Algorithm 2, folding, recalibration, batch noise.

Each helper in bnlib.inference is checked against an independent route to the same number: a bnlib.BatchNorm
stepped batch by batch, torch.nn.BatchNorm1d, or the formula written out.
"""

import numpy as np
import pytest

from bnlib import BatchNorm
from bnlib.inference import (
    eval_affine,
    fold_batchnorm,
    fold_into_linear,
    fold_sequential,
    outputs_in_batches,
    population_statistics,
    recalibrate,
    recalibrate_batchnorm,
    running_average,
)


def seeded_batches(num_batches=12, batch_size=16, features=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(
        loc=[1.0, -2.0, 5.0][:features],
        scale=[0.5, 2.0, 3.0][:features],
        size=(num_batches, batch_size, features),
    )


def stepped_layer(batches, momentum):
    """A bnlib.BatchNorm that has seen ``batches`` one after another in training mode."""
    layer = BatchNorm(batches.shape[2], momentum=momentum)
    for batch in batches:
        layer(batch)
    return layer


# ----- running statistics -------------------------------------------------------------------------


@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0, None])
def test_running_average_is_what_the_layer_keeps(momentum):
    batches = seeded_batches()
    layer = stepped_layer(batches, momentum)
    n = batches.shape[1]
    mean_path = running_average(batches.mean(axis=1), momentum, initial=0.0)
    var_path = running_average(batches.var(axis=1, ddof=1), momentum, initial=1.0)
    np.testing.assert_allclose(mean_path[-1], layer.running_mean, rtol=1e-12)
    np.testing.assert_allclose(var_path[-1], layer.running_var, rtol=1e-12)
    # The layer stores the unbiased variance: n/(n − 1) times the biased one it normalizes with.
    np.testing.assert_allclose(batches.var(axis=1, ddof=1), n / (n - 1) * batches.var(axis=1))


def test_keras_convention_is_the_same_average():
    values = seeded_batches().mean(axis=1)
    keras_momentum = 0.99  # weight on the old value
    running = np.zeros(values.shape[1])
    for batch in values:
        running = keras_momentum * running + (1 - keras_momentum) * batch
    np.testing.assert_allclose(running_average(values, momentum=1 - keras_momentum)[-1], running, rtol=1e-12)


def test_cumulative_average_is_the_plain_mean():
    values = seeded_batches().mean(axis=1)
    path = running_average(values, momentum=None, initial=123.0)  # the initial value is forgotten at step 1
    np.testing.assert_allclose(path, np.cumsum(values, axis=0) / np.arange(1, len(values) + 1)[:, None])


def test_running_average_rejects_bad_input():
    with pytest.raises(ValueError, match=r"expected \(T, D\)"):
        running_average(np.ones(5))
    with pytest.raises(ValueError, match="momentum must lie in"):
        running_average(np.ones((5, 1)), momentum=1.5)
    with pytest.raises(TypeError, match="integer dtype"):
        running_average(np.ones((5, 1), dtype=int))


def test_population_statistics_is_algorithm_2_and_the_cumulative_layer():
    batches = seeded_batches()
    mean, var = population_statistics(batches)
    m = batches.shape[1]
    np.testing.assert_allclose(mean, batches.reshape(-1, 3).mean(axis=0))  # equal sizes: mean of means
    np.testing.assert_allclose(var, np.mean([b.var(axis=0) * m / (m - 1) for b in batches], axis=0))
    layer = stepped_layer(batches, momentum=None)
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)
    with pytest.raises(ValueError, match="m ≥ 2"):
        population_statistics(batches[:, :1])


def test_population_statistics_matches_torch_cumulative_average():
    torch = pytest.importorskip("torch")
    batches = seeded_batches()
    layer = torch.nn.BatchNorm1d(3, momentum=None).double()
    for batch in batches:
        layer(torch.from_numpy(batch))
    mean, var = population_statistics(batches)
    np.testing.assert_allclose(layer.running_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(), var, rtol=1e-12)


# ----- eval mode as an affine map, and folding ----------------------------------------------------


def trained_layer():
    layer = stepped_layer(seeded_batches(), momentum=0.1)
    layer.gamma = np.array([0.5, 2.0, -1.0])
    layer.beta = np.array([0.1, -0.3, 2.0])
    return layer


def test_eval_affine_is_the_eval_mode_layer():
    layer = trained_layer().eval()
    x = np.random.default_rng(1).normal(size=(1, 3))  # a single example is fine in eval mode
    scale, shift = eval_affine(layer.running_mean, layer.running_var, layer.gamma, layer.beta, layer.eps)
    np.testing.assert_allclose(layer(x), scale * x + shift, rtol=1e-12)
    plain_scale, _ = eval_affine(layer.running_mean, layer.running_var, eps=layer.eps)  # affine=False
    np.testing.assert_allclose(plain_scale, 1 / np.sqrt(layer.running_var + layer.eps))


def test_fold_batchnorm_into_a_linear_layer():
    layer = trained_layer().eval()
    rng = np.random.default_rng(2)
    weight, bias, x = rng.normal(size=(3, 5)), rng.normal(size=3), rng.normal(size=(7, 5))
    folded_weight, folded_bias = fold_batchnorm(
        weight, bias, layer.running_mean, layer.running_var, layer.gamma, layer.beta, layer.eps
    )
    assert folded_weight.shape == (3, 5) and folded_bias.shape == (3,)
    np.testing.assert_allclose(x @ folded_weight.T + folded_bias, layer(x @ weight.T + bias), rtol=1e-12)
    # No bias in the linear layer (the usual choice before BN): β and the mean still give a bias.
    _, bias_only = fold_batchnorm(
        weight, None, layer.running_mean, layer.running_var, layer.gamma, layer.beta
    )
    np.testing.assert_allclose(x @ folded_weight.T + bias_only, layer(x @ weight.T), rtol=1e-12)


def test_fold_batchnorm_into_a_convolution_kernel_scales_each_output_channel():
    layer = trained_layer()
    kernel = np.random.default_rng(3).normal(size=(3, 2, 3, 3))
    folded, _ = fold_batchnorm(kernel, None, layer.running_mean, layer.running_var, layer.gamma, layer.beta)
    scale = layer.gamma / np.sqrt(layer.running_var + 1e-5)
    np.testing.assert_allclose(folded, kernel * scale[:, None, None, None])


def test_fold_batchnorm_names_shape_mistakes():
    layer = trained_layer()
    stats = (layer.running_mean, layer.running_var, layer.gamma, layer.beta)
    with pytest.raises(ValueError, match="weight has 4 output features"):
        fold_batchnorm(np.ones((4, 5)), None, *stats)
    with pytest.raises(ValueError, match=r"expected \(D_out, D_in\)"):
        fold_batchnorm(np.ones(3), None, *stats)
    with pytest.raises(ValueError, match="bias has shape"):
        fold_batchnorm(np.ones((3, 5)), np.ones(5), *stats)
    with pytest.raises(ValueError, match="running_mean .* and running_var"):
        fold_batchnorm(np.ones((3, 5)), None, layer.running_mean, layer.running_var[:2])
    with pytest.raises(ValueError, match="eps must be non-negative"):
        eval_affine(layer.running_mean, layer.running_var, eps=-1.0)


def small_torch_model():
    """A digits-sized MLP with batch norm whose running statistics and γ, β are not the defaults."""
    torch = pytest.importorskip("torch")
    from bnlib.experiments import make_mlp

    model = make_mlp(8, [6, 5], 3, norm="batch", seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.weight.uniform_(0.5, 2.0, generator=generator)
                module.bias.normal_(generator=generator)
        for _ in range(5):
            model(torch.randn(16, 8, generator=generator) * 3 + 1)  # training mode: updates the statistics
    return model.eval(), torch.randn(10, 8, generator=generator)


def test_fold_into_linear_and_fold_sequential_match_the_eval_model():
    torch = pytest.importorskip("torch")
    model, x = small_torch_model()
    folded_first = fold_into_linear(model[0], model[1])
    torch.testing.assert_close(folded_first(x), model[1](model[0](x)), rtol=1e-5, atol=1e-5)
    folded = fold_sequential(model)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in folded.modules())
    assert len(folded) == len(model) - 2
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="expected \\(nn.Linear, nn.BatchNorm1d\\)"):
        fold_into_linear(model[1], model[0])
    with pytest.raises(ValueError, match="cannot be folded"):
        fold_into_linear(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2, track_running_stats=False))


# ----- recalibration ------------------------------------------------------------------------------


def test_recalibrate_numpy_layer_is_algorithm_2_and_restores_the_settings():
    batches = seeded_batches()
    layer = trained_layer().eval()
    recalibrate(layer, batches)
    mean, var = population_statistics(batches)
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)
    assert layer.momentum == 0.1 and not layer.training and layer.num_batches_tracked == len(batches)


def test_recalibrate_rejects_a_bad_batch_and_changes_nothing():
    layer = trained_layer()
    before = (layer.running_mean.copy(), layer.running_var.copy(), layer.num_batches_tracked)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        recalibrate(layer, [np.ones((4, 3)), np.ones((1, 3))])
    np.testing.assert_array_equal(layer.running_mean, before[0])
    np.testing.assert_array_equal(layer.running_var, before[1])
    assert layer.num_batches_tracked == before[2] and layer.momentum == 0.1
    with pytest.raises(ValueError, match="batches is empty"):
        recalibrate(layer, [])


def test_recalibrate_batchnorm_gives_the_population_statistics_of_the_inputs():
    torch = pytest.importorskip("torch")
    model, _ = small_torch_model()
    x = (
        torch.randn(64, 8, generator=torch.Generator().manual_seed(1)) * 0.5 - 2
    )  # a shifted input distribution
    weights_before = [p.detach().clone() for p in model.parameters()]
    assert recalibrate_batchnorm(model, x) == 2
    with torch.no_grad():
        first_hidden = model[0](x)  # the first BN sees the first Linear's outputs
    torch.testing.assert_close(model[1].running_mean, first_hidden.mean(dim=0))
    torch.testing.assert_close(model[1].running_var, first_hidden.var(dim=0, unbiased=True))
    assert not model.training and all(m.momentum == 0.1 for m in model if isinstance(m, torch.nn.BatchNorm1d))
    assert all(torch.equal(a, b) for a, b in zip(weights_before, model.parameters(), strict=True))
    # In batches: the cumulative average of equal batches (the partial last batch of 64 % 24 is dropped).
    recalibrate_batchnorm(model, x, batch_size=24)
    assert model[1].num_batches_tracked == 2
    torch.testing.assert_close(model[1].running_mean, first_hidden[:48].mean(dim=0))
    with pytest.raises(ValueError, match="must be between 2 and len"):
        recalibrate_batchnorm(model, x, batch_size=1)
    with pytest.raises(ValueError, match="no batch-norm layers"):
        recalibrate_batchnorm(torch.nn.Linear(8, 3), x)


# ----- batch noise --------------------------------------------------------------------------------


def test_outputs_in_batches_is_the_example_normalized_in_each_batch():
    rng = np.random.default_rng(4)
    example, companions = rng.normal(size=2), rng.normal(size=(5, 7, 2))
    outputs = outputs_in_batches(example, companions)
    for k in range(5):
        batch = np.vstack([example, companions[k]])
        expected = (example - batch.mean(axis=0)) / np.sqrt(batch.var(axis=0) + 1e-5)
        np.testing.assert_allclose(outputs[k], expected, rtol=1e-12)
    with pytest.raises(ValueError, match="same D"):
        outputs_in_batches(example, companions[:, :, :1])
    with pytest.raises(ValueError, match="at least one companion"):
        outputs_in_batches(example, companions[:, :0])


def test_batch_noise_shrinks_like_one_over_root_batch_size():
    from bnlib.inference import jitter_by_batch_size

    companions = np.random.default_rng(5).standard_normal((400, 255, 1))
    sizes = (8, 32, 128)
    jitter = jitter_by_batch_size(np.array([1.0]), companions, sizes)[:, 0]
    assert np.all(np.diff(jitter) < 0)
    scaled = jitter * np.sqrt(sizes)
    assert scaled.max() / scaled.min() < 1.3, scaled  # ∝ 1/√B: jitter·√B roughly constant


# ----- panels -------------------------------------------------------------------------------------


def test_running_stats_panel_draws_what_a_stepped_layer_keeps():
    from bnlib.panels.running_stats import RunningStatsPanel

    panel = RunningStatsPanel().set(batch_size=8, momentum=0.3, steps=40)
    layer = BatchNorm(1, momentum=0.3)
    means, variances = [], []
    for t in range(40):
        layer(panel.samples[:8, t : t + 1])
        means.append(layer.running_mean[0])
        variances.append(layer.running_var[0])
    drawn = panel.drawn()
    np.testing.assert_allclose(drawn["ax0.line0"][:, 1], means, rtol=1e-12)
    np.testing.assert_allclose(drawn["ax1.line0"][:, 1], variances, rtol=1e-12)


def test_running_stats_panel_converges_with_large_batches_and_long_averages():
    from bnlib.panels.running_stats import RunningStatsPanel

    def error(**setting):
        panel = RunningStatsPanel().set(**setting)
        return float(panel.readouts["|error| of the variance"].rstrip(" %"))

    assert error(batch_size=256, momentum=0.03, steps=500) < 3.0
    assert error(batch_size=2, momentum=0.001, steps=50) > 50.0  # far from converged: memory 1000 steps
