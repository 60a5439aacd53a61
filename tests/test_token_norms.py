"""Per-token norms ignore the rest of the batch and the padding; batch norm does not."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bnlib.token_norms import batch_norm_tokens, layer_norm_tokens, padded_batch, rms_norm_tokens


def test_padded_batch_pads_with_zeros_and_keeps_each_sequence():
    x, mask = padded_batch([3, 1], features=4, pad_to=5)
    assert x.shape == (2, 5, 4) and mask.sum(axis=1).tolist() == [3, 1]
    assert np.all(x[~mask] == 0)
    np.testing.assert_array_equal(padded_batch([3, 2], features=4)[0][0], x[0, :3])
    with pytest.raises(ValueError, match="fit in pad_to"):
        padded_batch([4], pad_to=3)


def test_the_norms_match_torch():
    x, mask = padded_batch([5, 3, 2], features=6)
    t = torch.from_numpy(x)
    np.testing.assert_allclose(layer_norm_tokens(x), F.layer_norm(t, (6,)).numpy(), atol=1e-10)
    np.testing.assert_allclose(rms_norm_tokens(x), F.rms_norm(t, (6,), eps=1e-5).numpy(), atol=1e-10)
    bn = F.batch_norm(t.permute(0, 2, 1), None, None, training=True).permute(0, 2, 1)  # over N·T per feature
    np.testing.assert_allclose(batch_norm_tokens(x), bn.numpy(), atol=1e-10)
    masked = batch_norm_tokens(x, mask)
    assert np.all(masked[~mask] == 0)
    np.testing.assert_allclose(masked[mask].mean(axis=0), 0, atol=1e-12)


def test_a_token_alone_and_in_a_batch():
    batch, _ = padded_batch([4, 2, 2], pad_to=9)
    alone, _ = padded_batch([4])
    assert np.array_equal(layer_norm_tokens(batch)[0, 1], layer_norm_tokens(alone)[0, 1])
    assert np.abs(batch_norm_tokens(batch)[0, 1] - batch_norm_tokens(alone)[0, 1]).max() > 0.1
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        batch_norm_tokens(np.zeros((3, 4)))
