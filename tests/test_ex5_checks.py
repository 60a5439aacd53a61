"""Exercise 5's checks pass correct code however it is written, tell a learner who skips the reshape what to
do, and locate a wrong value in a 4-D output. Its wrong implementations are in the catalogue
(tests/wrong_implementations.py), run by tests/test_checks.py."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from wrong_implementations import (
    layer_backward,
    layer_forward_right,
    norm_forward,
    spatial_backward,
    spatial_forward_right,
)

from bnlib import checks
from bnlib.checks import CheckFailed
from bnlib.checks.spatial_and_layer_norm import exercise_functions

forward_rows, backward_rows = exercise_functions()


def spatial_forward_by_exercise_1(x, gamma, beta, eps):
    n, c, h, w = x.shape
    out, cache = forward_rows(x.transpose(0, 2, 3, 1).reshape(-1, c), gamma, beta, eps)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), (cache, x.shape)


def spatial_backward_by_exercise_2(dout, cache):
    cache, (n, c, h, w) = cache
    dx, dgamma, dbeta = backward_rows(dout.transpose(0, 2, 3, 1).reshape(-1, c), cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def torch_norm(kind):
    def forward(x, gamma, beta, eps):
        x_, g, b = (torch.from_numpy(a) for a in (x, gamma, beta))
        if kind == "batch":
            return F.batch_norm(x_, None, None, g, b, training=True, eps=eps).numpy(), None
        return F.layer_norm(x_, (x.shape[1],), g, b, eps).numpy(), None

    return forward


def test_correct_code_passes_however_written(capsys):
    assert checks.check_spatial_batchnorm_forward(spatial_forward_by_exercise_1)
    assert checks.check_spatial_batchnorm_forward(torch_norm("batch"))
    assert checks.check_spatial_batchnorm_forward(norm_forward((0, 2, 3)))
    assert checks.check_spatial_batchnorm_backward(
        spatial_backward_by_exercise_2, spatial_forward_by_exercise_1
    )
    assert checks.check_spatial_batchnorm_backward(spatial_backward(), spatial_forward_right)
    assert checks.check_layernorm_forward(layer_forward_right)
    assert checks.check_layernorm_forward(torch_norm("layer"))
    assert checks.check_layernorm_backward(layer_backward(), layer_forward_right)
    assert capsys.readouterr().out.count("✔") == 8


def test_exercise_1s_function_given_images_says_to_reshape():
    with pytest.raises(CheckFailed) as info:
        checks.check_spatial_batchnorm_forward(lambda x, gamma, beta, eps: forward_rows(x, gamma, beta, eps))
    assert "reshape to (N·H·W, C)" in info.value.result.feedback


def test_a_wrong_value_in_an_image_is_located_by_its_index():
    def off_at_one_entry(x, gamma, beta, eps):
        out, cache = spatial_forward_by_exercise_1(x, gamma, beta, eps)
        out = out.copy()
        out[0, 1, 1, 2] += 1.0
        return out, cache

    with pytest.raises(CheckFailed) as info:
        checks.check_spatial_batchnorm_forward(off_at_one_entry)
    assert (
        "index (0, 1, 1, 2)" in info.value.result.feedback
        and "1 of 120 entries" in info.value.result.feedback
    )


def test_the_reference_variants_agree_with_bnlib():
    from bnlib.batchnorm import batchnorm_forward
    from bnlib.checks.spatial_and_layer_norm import (
        LAYER_AXES,
        SPATIAL_AXES,
        _layer_backward_reference,
        _spatial_backward_reference,
        layer_cases,
        norm_backward_variant,
        norm_forward_variant,
        spatial_cases,
    )
    from bnlib.layernorm import layernorm_forward

    checked = [
        (spatial_cases(), SPATIAL_AXES, batchnorm_forward, _spatial_backward_reference),
        (layer_cases(), LAYER_AXES, layernorm_forward, _layer_backward_reference),
    ]
    for cases, axes, forward, backward_reference in checked:
        for case in cases:
            np.testing.assert_allclose(
                norm_forward_variant(case, axes),
                forward(case.x.astype(float), case.gamma, case.beta, case.eps)[0],
                atol=1e-6,
            )
            for mine, reference in zip(
                norm_backward_variant(case, axes), backward_reference(case), strict=True
            ):
                np.testing.assert_allclose(mine, reference, atol=1e-4)
