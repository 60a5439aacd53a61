"""The diagnostics measure what they say (checked against an independent forward/backward), and the panel
shows the runs it browses."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bnlib.data import digits
from bnlib.diagnostics import (
    diagnose,
    expected_initial_loss,
    initialisation_problems,
    make_tanh_mlp,
    standardized,
)
from bnlib.experiments import minibatches


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)
    return standardized(digits(as_torch=True))


def test_expected_initial_loss_is_ln_of_the_classes():
    assert expected_initial_loss(10) == pytest.approx(2.302585, abs=1e-6)
    with pytest.raises(ValueError, match="at least 2 classes"):
        expected_initial_loss(1)


def test_standardized_pixels(data):
    X_train = data[0]
    std = X_train.std(dim=0)
    assert X_train.mean(dim=0).abs().max() < 1e-5
    assert torch.allclose(std[std > 0.5], torch.ones(1), atol=1e-5)


def test_weights_start_with_std_gain_over_root_fan_in():
    model = make_tanh_mlp(3.0, last_layer_scale=0.1, hidden_sizes=(400, 400), in_features=400, seed=0)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert float(linears[1].weight.detach().std()) == pytest.approx(3.0 / 20, rel=0.01)
    assert float(linears[-1].weight.detach().std()) == pytest.approx(0.1 / 20, rel=0.05)
    with pytest.raises(ValueError, match="positive"):
        make_tanh_mlp(0.0)


def test_step_zero_matches_an_independent_forward_and_backward(data):
    run = diagnose(data, gain=3.0, lr=0.1, steps=3, record_every=1, hidden_sizes=(32, 32))
    model = make_tanh_mlp(3.0, hidden_sizes=(32, 32), seed=0)
    batch = next(iter(minibatches(len(data[0]), 60, 1, 0)))
    h, tanh_outputs = data[0][batch], []
    for module in model:
        h = module(h)
        if isinstance(module, nn.Tanh):
            h.retain_grad()
            tanh_outputs.append(h)
    loss = F.cross_entropy(h, data[1][batch])
    loss.backward()
    assert run.losses[0] == pytest.approx(loss.item(), rel=1e-6)
    for layer, t in enumerate(tanh_outputs):
        assert run.saturated[0, layer] == pytest.approx(float((t.abs() > 0.97).float().mean()))
        assert run.gradient_std[0, layer] == pytest.approx(float(t.grad.numpy().std()), rel=1e-5)
    first = model[0].weight
    ratio = float((0.1 * first.grad).std() / first.detach().std())  # lr·∂L/∂W against W
    assert run.update_ratio[0, 0] == pytest.approx(math.log10(ratio), rel=1e-5)
    assert run.steps == [0, 1, 2, 3] and run.update_ratio.shape == (3, 3) and len(run.losses) == 4
    np.testing.assert_allclose(run.activation_hist.sum(axis=-1), 1.0)
    np.testing.assert_allclose(run.gradient_hist.sum(axis=-1), 1.0)
    with pytest.raises(ValueError, match="not recorded"):
        run.at(7)
    with pytest.raises(ValueError, match="record_every=0"):
        diagnose(data, gain=1.0, record_every=0)


def test_initialisation_problems_name_each_fault(data):
    bad = diagnose(data, gain=8.0, last_layer_scale=8.0, steps=1)
    problems = initialisation_problems(bad)
    assert len(problems) == 3 and "shrink its weights" in problems[0] and "saturated" in problems[1]
    assert "vanishes" in initialisation_problems(diagnose(data, gain=0.2, last_layer_scale=0.2, steps=1))[0]
    assert initialisation_problems(diagnose(data, gain=5 / 3, last_layer_scale=1 / 6, steps=1)) == []


def test_the_panel_shows_the_run_it_names():
    from bnlib.panels.diagnostics import DiagnosticsPanel, run_key

    panel = DiagnosticsPanel().set(gain=0.2, batch_norm=True, shrink_last=False, step=50)
    run = panel.grid[run_key("batch", False)][0.2]
    drawn = panel.drawn()
    np.testing.assert_array_equal(drawn["ax0.line0"][:, 1], run.activation_hist[run.at(50), 0])
    np.testing.assert_array_equal(drawn["ax1.line3"][:, 1], run.gradient_hist[run.at(50), 3])
    assert panel.readouts["initial loss (ln 10 = 2.30)"].startswith(f"{run.initial_loss:.2f} nats")
    with pytest.raises(ValueError, match="panel_grid"):
        DiagnosticsPanel(grid={"none": {}})
