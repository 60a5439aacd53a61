"""The small CNN's batch norm takes its statistics per channel over (N, H, W), as bnlib's numpy batch norm."""

import numpy as np
import pytest
import torch

from bnlib.batchnorm import batchnorm_forward
from bnlib.convnet import as_images, channel_statistics, make_cnn, parameter_count


def test_shapes_and_the_per_channel_statistics():
    torch.manual_seed(0)
    X = torch.rand(12, 64)
    model = make_cnn(norm="batch", channels=(4, 6))
    assert model(as_images(X)).shape == (12, 10)
    maps = model[0](as_images(X)).detach()
    mean, var = channel_statistics(maps)
    out, cache = batchnorm_forward(maps.numpy().astype(np.float64), np.ones(4), np.zeros(4))
    np.testing.assert_allclose(mean.numpy(), cache["mean"].ravel(), rtol=1e-5)
    np.testing.assert_allclose(var.numpy(), cache["var"].ravel(), rtol=1e-4)
    np.testing.assert_allclose(model[1](maps).detach().numpy(), out, atol=1e-5)


def test_the_norm_choice_and_the_parameter_count():
    plain, with_bn = make_cnn(norm=None, channels=(4, 6)), make_cnn(norm="batch", channels=(4, 6))
    # BN drops the convolutions' biases (4 + 6) and adds γ and β per channel (2·(4 + 6)).
    assert parameter_count(with_bn) - parameter_count(plain) == 10
    with pytest.raises(ValueError, match="'batch' or None"):
        make_cnn(norm="layer")
    with pytest.raises(ValueError, match=r"\(N, 64\)"):
        as_images(torch.zeros(3, 65))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        channel_statistics(torch.zeros(3, 4))


def test_the_filter_size_keeps_the_maps_eight_by_eight():
    five = make_cnn(norm="batch", channels=(4, 6), kernel_size=5)
    assert five[0].weight.shape == (4, 1, 5, 5) and five(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert five[0](torch.zeros(2, 1, 8, 8)).shape == (2, 4, 8, 8)
    with pytest.raises(ValueError, match="odd size"):
        make_cnn(kernel_size=4)


def test_accuracy_curves_carry_a_second_cue_besides_hue():
    from bnlib.convnet import plot_accuracy_curves

    curves = {name: ([10, 20], [50.0, 90.0]) for name in ("CNN + BN", "CNN", "MLP + BN", "MLP")}
    lines = plot_accuracy_curves(curves).axes[0].get_lines()
    assert [(line.get_linestyle(), line.get_marker()) for line in lines] == [
        ("-", "o"),
        ("--", "o"),
        ("-", "s"),
        ("--", "s"),
    ]
