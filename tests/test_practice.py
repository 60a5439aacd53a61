"""The measurements behind notebook 08: variance shift, recomputed statistics, dropout placement, weight
norms, the small-batch sweep and the error of per-device statistics."""

import numpy as np
import pytest

from bnlib.practice import (
    bn_inputs,
    local_statistics_error,
    recompute_bn_statistics,
    record_weight_norm,
    small_batch_sweep,
    variance_shift,
    without_dropout_before_bn,
)

torch = pytest.importorskip("torch")
from bnlib.experiments import make_mlp  # noqa: E402  (needs torch)


def _inputs(n=256, seed=0):
    return torch.randn(n, 12, generator=torch.Generator().manual_seed(seed))


def _run_in_training_mode(model, X, batch_size=32):
    """Forward passes in training mode (dropout on): the BN layers collect their running statistics."""
    model.train()
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            model(X[start : start + batch_size])


def test_recomputed_statistics_give_no_variance_shift_on_the_same_data():
    model = make_mlp(12, [16, 16], 3, norm="batch", dropout=0.5, seed=0)
    X = _inputs()
    recompute_bn_statistics(model, X)
    # BN 1 matches exactly. BN 2's input differs by the ratio of the first layer's two variances: in the
    # recomputing pass BN 1 divides by the biased batch std, at test time by the unbiased running one.
    n = len(X)
    np.testing.assert_allclose(variance_shift(model, X), [1.0, n / (n - 1)], rtol=1e-4)
    assert model.training, "the model's mode is restored"
    assert all(bn.momentum == 0.1 for bn in model.modules() if isinstance(bn, torch.nn.BatchNorm1d))


def test_dropout_before_a_bn_layer_inflates_its_running_variance():
    X = _inputs(1024)
    shifts = []
    for rate in (0.0, 0.5):
        model = make_mlp(12, [16, 16], 3, norm="batch", dropout=rate, seed=0)
        for bn in model.modules():
            if isinstance(bn, torch.nn.BatchNorm1d):
                bn.momentum = None  # average over all batches
        _run_in_training_mode(model, X)
        shifts.append(variance_shift(model, X))
    assert abs(shifts[0][1] - 1) < 0.1 and shifts[1][1] > 1.3
    assert abs(shifts[1][0] - 1) < 0.1, "the first BN layer has no dropout before it"


def test_without_dropout_before_bn_keeps_only_the_dropout_after_the_last_bn():
    model = without_dropout_before_bn(make_mlp(12, [16, 16, 16], 3, norm="batch", dropout=0.3))
    kinds = [type(m).__name__ for m in model]
    assert kinds.count("Dropout") == 1 and kinds.index("Dropout") > max(
        i for i, k in enumerate(kinds) if k == "BatchNorm1d"
    )


def test_bn_inputs_are_taken_in_eval_mode_and_the_mode_is_restored():
    model = make_mlp(12, [16], 3, norm="batch", dropout=0.5)
    X = _inputs(8)
    first, second = bn_inputs(model, X), bn_inputs(model, X)
    assert model.training and len(first) == 1 and first[0].shape == (8, 16)
    torch.testing.assert_close(first[0], second[0])  # dropout was off: the same both times


def test_record_weight_norm_appends_after_every_step():
    layer = torch.nn.Linear(3, 2)
    norms, on_step = record_weight_norm(layer)
    with torch.no_grad():
        layer.weight.mul_(2)
    on_step(1, None)
    assert norms[1] == pytest.approx(2 * norms[0])


def test_l1_proximal_step_soft_thresholds_only_the_given_parameters():
    from bnlib.practice import l1_proximal_step

    kept, other = torch.nn.Parameter(torch.tensor([0.5, -0.05, -2.0, 0.0])), torch.nn.Parameter(torch.ones(2))
    l1_proximal_step([kept], 0.1)(1, None)
    torch.testing.assert_close(kept.detach(), torch.tensor([0.4, 0.0, -1.9, 0.0]))
    torch.testing.assert_close(other.detach(), torch.ones(2))
    with pytest.raises(ValueError, match="must be ≥ 0"):
        l1_proximal_step([kept], -1.0)


def test_small_batch_sweep_returns_one_accuracy_per_norm_and_batch_size():
    from bnlib import digits

    data = digits(as_torch=True)
    results = small_batch_sweep({"layer": "layer", "batch": "batch"}, (4, 16), data, epochs=0.0, min_steps=3)
    assert set(results) == {"layer", "batch"} and all(len(v) == 2 for v in results.values())
    assert all(0.0 <= a <= 1.0 for v in results.values() for a in v)


def test_per_device_statistics_err_less_with_larger_slices():
    errors = local_statistics_error((2, 8, 32, 128), devices=4)
    assert np.all(np.diff(errors) < 0)
    assert local_statistics_error((16,), devices=1)[0] < 1e-12  # one device: its slice is the whole batch
