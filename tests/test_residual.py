"""Zero-initialized γ makes every residual block start as the identity; γ = 1 does not."""

import pytest
import torch

from bnlib.residual import block_outputs, make_residual_net


def test_zero_gamma_blocks_start_as_the_identity():
    X = torch.rand(20, 64)
    net = make_residual_net(blocks=5, width=8, zero_init_gamma=True)
    outputs = block_outputs(net, X)
    assert len(outputs) == 6 and all(torch.equal(h, outputs[0]) for h in outputs)
    grown = block_outputs(make_residual_net(blocks=5, width=8, zero_init_gamma=False), X)
    assert grown[-1].std() > 2 * grown[0].std()


def test_block_outputs_leave_running_statistics_alone():
    net = make_residual_net(blocks=2, width=8, zero_init_gamma=False)
    before = [b.clone() for b in net.buffers()]
    block_outputs(net, torch.rand(10, 64))
    assert all(torch.equal(a, b) for a, b in zip(before, net.buffers(), strict=True))
    with pytest.raises(ValueError, match="blocks"):
        make_residual_net(blocks=-1, zero_init_gamma=True)
