"""The batch-norm watch records what each BN layer did at every call, and the epoch batches are a true shuffle."""

import numpy as np
import pytest
import torch
from torch import nn

from bnlib.training_loop import BatchNormWatch, epoch_batches, running_update


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(48, 5), nn.BatchNorm1d(5)
    )


def test_the_watch_records_the_running_update_in_training_and_nothing_in_eval():
    model, x = small_net(), torch.randn(6, 1, 4, 4) * 3 + 1
    with BatchNormWatch(model, features=3) as watch:
        model.train()
        model(x)
        model.eval()
        model(x)
    assert [(c.layer, c.training) for c in watch.calls] == [
        ("1", True),
        ("4", True),
        ("1", False),
        ("4", False),
    ]
    conv_call = watch.calls[0]
    per_channel = x.new_tensor(0)  # the input of BatchNorm2d: the conv's output, statistics over (N, H, W)
    per_channel = model[0](x).detach()
    np.testing.assert_allclose(conv_call.batch_mean, per_channel.mean(dim=(0, 2, 3)).numpy(), atol=1e-6)
    n = 6 * 4 * 4
    expected_var = running_update(
        np.ones(3), per_channel.var(dim=(0, 2, 3)).numpy(), 0.1
    )  # unbiased: ÷(n − 1)
    np.testing.assert_allclose(conv_call.running_var_after, expected_var, rtol=1e-5)
    np.testing.assert_allclose(
        conv_call.batch_var * n / (n - 1), per_channel.var(dim=(0, 2, 3)).numpy(), rtol=1e-5
    )
    for call in watch.calls[2:]:
        assert call.used == "running"
        np.testing.assert_array_equal(call.running_mean_after, call.running_mean_before)
    assert (
        "normalizes with running" in watch.calls[2].line("test") and "moved +0.0000" in watch.calls[2].line()
    )


def test_the_watch_prints_when_asked_and_its_hooks_go_away(capsys):
    model = small_net()
    with BatchNormWatch(model, printing=True) as watch:
        watch.label = "step 1"
        model(torch.randn(4, 1, 4, 4))
    assert capsys.readouterr().out.count("step 1") == 2
    model(torch.randn(4, 1, 4, 4))
    assert len(watch.calls) == 2, "the hooks must be removed when the block ends"


def test_a_model_without_batch_norm_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="norm='batch'"):
        BatchNormWatch(nn.Sequential(nn.Linear(3, 2)))


def test_epoch_batches_cover_the_data_once_and_reshuffle_each_epoch():
    first, second = epoch_batches(10, 3, epoch=1), epoch_batches(10, 3, epoch=2)
    assert [len(b) for b in first] == [3, 3, 3]  # the partial batch of one is dropped
    assert len(set(torch.cat(first).tolist())) == 9
    assert not torch.equal(torch.cat(first), torch.cat(second))
    assert torch.equal(torch.cat(first), torch.cat(epoch_batches(10, 3, epoch=1)))
    with pytest.raises(ValueError, match="between 2 and the number of examples"):
        epoch_batches(10, 1, epoch=1)
