"""bnlib.experiments: the small torch networks, the training loop and the probes that notebooks 06 and 07 use."""

import math

import numpy as np
import pytest
import torch

from bnlib.experiments import (
    LayerInputTrace,
    TrainLog,
    accuracy,
    chain,
    final_accuracy,
    layer_input,
    learning_rate_sweep,
    linear_layers,
    make_mlp,
    minibatches,
    noisy_batchnorm,
    normalized_weights,
    preserved_buffers,
    record_layer_input,
    same_noise,
    train,
    weight_gradient_norms,
)


@pytest.fixture(scope="module")
def small_data():
    """400 training and 100 test digits: enough to learn something in a few dozen steps."""
    from bnlib.data import digits

    X_train, y_train, X_test, y_test = digits(as_torch=True)
    return X_train[:400], y_train[:400], X_test[:100], y_test[:100]


def test_make_mlp_layout_and_bias_default():
    model = make_mlp(64, [16, 8], 10, activation="sigmoid", norm="batch")
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "BatchNorm1d", "Sigmoid", "Linear", "BatchNorm1d", "Sigmoid", "Linear"]
    hidden = linear_layers(model)[:-1]
    assert all(layer.bias is None for layer in hidden)  # BN's β replaces the bias
    after = make_mlp(64, [16], 10, norm="batch", norm_position="after")
    assert [type(m).__name__ for m in after] == ["Linear", "ReLU", "BatchNorm1d", "Linear"]
    assert linear_layers(after)[0].bias is not None


def test_make_mlp_initial_weights_are_seeded_gaussians():
    model = make_mlp(64, [200, 200], 10, init_std=0.3, seed=3)
    weight = linear_layers(model)[1].weight.detach()
    assert abs(float(weight.std()) - 0.3) < 0.01 and abs(float(weight.mean())) < 0.01
    assert all(layer.bias.abs().max().item() == 0.0 for layer in linear_layers(model))
    again = make_mlp(64, [200, 200], 10, init_std=0.3, seed=3)
    assert torch.equal(linear_layers(again)[1].weight, weight)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"norm": "instance"}, "norm='instance' is not known"),
        ({"activation": "gelu"}, "activation='gelu' is not known"),
        ({"norm_position": "middle"}, "norm_position='middle'"),
        ({"dropout": 1.0}, "dropout=1.0"),
    ],
)
def test_make_mlp_rejects_unknown_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_mlp(64, [8], 10, **kwargs)


def test_minibatches_are_seeded_epochs():
    batches = list(minibatches(10, 3, steps=7, seed=1))
    assert len(batches) == 7 and all(len(b) == 3 for b in batches)
    first_epoch = torch.cat(batches[:3])
    # 3 full batches per epoch, no repeats, the 10th example dropped
    assert len(set(first_epoch.tolist())) == 9
    assert all(torch.equal(a, b) for a, b in zip(batches, minibatches(10, 3, steps=7, seed=1), strict=True))
    with pytest.raises(ValueError, match="batch_size=11"):
        list(minibatches(10, 11, steps=1))


def test_train_learns_and_is_deterministic(small_data):
    logs = [
        train(make_mlp(64, [32], 10, norm="batch", seed=0), small_data, steps=60, lr=0.5, eval_every=20)
        for _ in range(2)
    ]
    log = logs[0]
    assert log.evaluated_steps == [20, 40, 60] and not log.diverged
    assert np.mean(log.losses[-10:]) < 0.5 * np.mean(log.losses[:5])
    assert log.test_accuracy[-1] > 0.6
    assert logs[0].losses == logs[1].losses


def test_train_stops_when_the_loss_overflows(small_data):
    log = train(make_mlp(64, [64] * 4, 10, init_std=1.0), small_data, steps=50, lr=10.0)
    assert log.diverged and log.diverged_at <= 50 and len(log.losses) == log.diverged_at - 1
    assert math.isnan(final_accuracy(log))
    assert final_accuracy(TrainLog(test_accuracy=[0.5])) == 0.5


def test_accuracy_restores_the_mode(small_data):
    model = make_mlp(64, [8], 10, norm="batch")
    model.train()
    value = accuracy(model, small_data[2], small_data[3])
    assert 0.0 <= value <= 1.0 and model.training


def test_preserved_buffers_undo_running_statistics(small_data):
    model = make_mlp(64, [8], 10, norm="batch")
    before = [b.clone() for b in model.buffers()]
    with preserved_buffers(model):
        model(small_data[0])
        assert not torch.equal(next(model.buffers()), before[0])
    assert all(torch.equal(a, b) for a, b in zip(model.buffers(), before, strict=True))


def test_layer_input_sees_batch_normalized_values(small_data):
    model = make_mlp(64, [16], 10, activation="sigmoid", norm="batch")
    sigmoid = model[2]
    x = layer_input(model, sigmoid, small_data[0])
    assert x.shape == (400, 16)
    # γ = 1, β = 0 at the start: the sigmoid's input is the standardized pre-activation.
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=0), 1.0, atol=1e-3)
    with pytest.raises(ValueError, match="not called by the model"):
        layer_input(model, torch.nn.Sigmoid(), small_data[0])


def test_trace_drift_and_shift_by_hand():
    constant = np.zeros((5, 3))
    trace = LayerInputTrace(steps=[0, 10, 20], inputs=[constant, constant + 1.0, constant + 3.0])
    assert trace.drift(unit=0) == pytest.approx(3.0)  # every percentile moves from 0 to 3
    assert trace.step_to_step_shift() == pytest.approx(1.5)  # |Δ mean| = 1 then 2, the std never changes
    np.testing.assert_allclose(trace.shifts(), [1.0, 2.0])
    assert trace.percentiles(unit=1).shape == (3, 3)


def test_record_layer_input_every_few_steps(small_data):
    model = make_mlp(64, [8], 10, norm="batch")
    on_step, trace = record_layer_input(model, model[2], small_data[2][:20], every=5)
    calls = []
    train(model, small_data, steps=12, lr=0.1, on_step=chain(on_step, lambda step, m: calls.append(step)))
    assert trace.steps == [0, 5, 10] and trace.as_array().shape == (3, 20, 8)
    assert calls == list(range(1, 13))
    with pytest.raises(ValueError, match="every=0"):
        record_layer_input(model, model[2], small_data[2], every=0)


def test_weight_gradient_norms_match_autograd(small_data):
    model = make_mlp(64, [16, 16], 10, norm="batch", seed=2)
    X, y = small_data[0][:60], small_data[1][:60]
    norms = weight_gradient_norms(model, X, y)
    assert all(p.grad is None for p in model.parameters())  # cleared afterwards
    torch.nn.functional.cross_entropy(model(X), y).backward()
    expected = [float(layer.weight.grad.norm()) for layer in linear_layers(model)]
    np.testing.assert_allclose(norms, expected, rtol=1e-6)


def test_noisy_batchnorm_moves_mean_and_spread_every_step():
    layer = noisy_batchnorm(max_shift=1.0, max_scale=2.0, seed=0)(32)
    x = torch.randn(500, 32) * 3 + 5
    with torch.no_grad():  # only the outputs are compared here
        first, second = layer(x), layer(x)
    for out in (first, second):
        means, stds = out.mean(dim=0), out.std(dim=0, unbiased=False)
        assert float(means.abs().max()) <= 1.0 + 1e-4 and float(means.abs().max()) > 0.5
        assert float(stds.min()) >= 1.0 - 1e-3 and float(stds.max()) <= 2.0 + 1e-3
    assert not torch.allclose(first, second)  # fresh noise each training step
    layer.eval()
    plain = torch.nn.BatchNorm1d(32)
    plain.load_state_dict(layer.state_dict())
    plain.eval()
    torch.testing.assert_close(layer(x), 1.5 * plain(x))  # the average noise: scale (1 + 2)/2, shift 0
    with pytest.raises(ValueError, match="max_scale >= 1"):
        noisy_batchnorm(max_scale=0.5)


def test_same_noise_reuses_one_draw_also_in_a_copy_and_ends_with_fresh_draws():
    import copy

    model = make_mlp(8, [16, 16], 3, norm=noisy_batchnorm(seed=0), seed=0)
    x = torch.randn(20, 8)
    with torch.no_grad():
        with same_noise(model):
            first, copied = model(x), copy.deepcopy(model)
            assert torch.equal(model(x), first) and torch.equal(copied(x), first)
        assert not torch.allclose(model(x), first)  # drawn afresh once the context is left
    plain = make_mlp(8, [16], 3, norm="batch", seed=0)
    with torch.no_grad(), same_noise(plain):  # no noisy layer: nothing to hold, nothing breaks
        torch.testing.assert_close(plain(x), plain(x))


def test_weight_decay_on_the_listed_parameters_only(small_data):
    model = make_mlp(64, [16, 16], 10, norm="batch", seed=0)
    invariant = normalized_weights(model)
    assert invariant == [linear_layers(model)[0].weight, linear_layers(model)[1].weight]
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    # lr 1, weight decay 0.5, and a zero gradient except through decay: compare with plain SGD steps.
    train(model, small_data, steps=1, lr=1e-9, weight_decay=0.5e9, decayed=invariant, seed=0)
    for name, param in model.named_parameters():
        shrunk = any(param is p for p in invariant)
        expected = 0.5 * start[name] if shrunk else start[name]
        torch.testing.assert_close(param.detach(), expected, atol=1e-6, rtol=1e-5, msg=name)
    with pytest.raises(ValueError, match="not the model's"):
        train(
            model, small_data, steps=1, lr=0.1, weight_decay=0.1, decayed=[torch.nn.Parameter(torch.ones(1))]
        )


def test_learning_rate_sweep_shares_the_start(small_data):
    sweep = learning_rate_sweep(small_data, (0.01, 0.1), hidden_sizes=(8,), steps=3)
    assert set(sweep) == {None, "batch"} and all(set(runs) == {0.01, 0.1} for runs in sweep.values())
    # Same initial weights and batches: the first loss depends on neither the learning rate nor the step.
    assert sweep[None][0.01].losses[0] == sweep[None][0.1].losses[0]
    # The optimizer's momentum reaches every run: same first loss, different later ones.
    heavy = learning_rate_sweep(small_data, (0.1,), norms=(None,), hidden_sizes=(8,), steps=3, momentum=0.9)
    assert heavy[None][0.1].losses[0] == sweep[None][0.1].losses[0]
    assert heavy[None][0.1].losses[-1] != sweep[None][0.1].losses[-1]


def test_group_norm_works_for_widths_not_divisible_by_eight():
    import torch

    model = make_mlp(64, [100, 30, 7], 10, norm="group")
    groups = [m.num_groups for m in model if isinstance(m, torch.nn.GroupNorm)]
    assert groups == [5, 6, 7]
    assert model(torch.randn(3, 64)).shape == (3, 10)
