"""Fine-tuning keeps BN frozen or updating as asked, and never touches the pretrained network."""

import pytest
import torch

from bnlib.convnet import make_cnn
from bnlib.finetuning import few_per_class, fine_tune, new_camera, set_bn_mode


def test_frozen_statistics_stay_and_updating_ones_move():
    torch.manual_seed(0)
    pretrained = make_cnn(channels=(3, 4))
    X, y = torch.rand(20, 1, 8, 8), torch.arange(20) % 10
    before = pretrained[1].running_mean.clone()
    frozen = fine_tune(pretrained, new_camera(X), y, bn_mode="frozen", steps=3, lr=0.1, batch_size=5)
    updating = fine_tune(pretrained, new_camera(X), y, bn_mode="updating", steps=3, lr=0.1, batch_size=5)
    assert torch.equal(frozen[1].running_mean, before) and torch.equal(pretrained[1].running_mean, before)
    assert not torch.equal(updating[1].running_mean, before)
    assert not torch.equal(frozen[0].weight, pretrained[0].weight)  # the weights still learn
    assert not frozen.training


def test_set_bn_mode_and_few_per_class():
    model = make_cnn(channels=(3, 4))
    model.train()
    set_bn_mode(model, "frozen")
    assert not model[1].training and model[0].training
    with pytest.raises(ValueError, match="frozen"):
        set_bn_mode(model, "thawed")
    y = torch.tensor([0, 1, 0, 1, 0, 1, 2, 2])
    picked = few_per_class(y, 2)
    assert sorted(y[picked].tolist()) == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="class 2 has only 2"):
        few_per_class(y, 3)
