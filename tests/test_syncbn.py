"""Synchronized batch norm over two local processes equals batch norm over the full batch, and the launcher
never leaves a child process behind (success, error or timeout)."""

import multiprocessing
import os

import numpy as np
import pytest

from bnlib import batchnorm_backward_compact, batchnorm_forward
from bnlib.syncbn import (
    compare_bn_task,
    failing_task,
    run_processes,
    sleeping_task,
    torch_sync_batch_norm,
)

torch = pytest.importorskip("torch")


def _assert_no_child_left(pids):
    assert multiprocessing.active_children() == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # signal 0 only asks whether the process exists


def _full_batch_reference(x, dout):
    channels = x.shape[1]
    out, cache = batchnorm_forward(x, np.ones(channels), np.zeros(channels))
    dx, _, _ = batchnorm_backward_compact(dout, cache)
    return out, dx


@pytest.mark.parametrize("shape", [(7, 3), (6, 2, 5)])  # an uneven split (4 + 3) and a (N, C, L) batch
def test_synced_batch_norm_over_two_processes_equals_full_batch_norm(shape):
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=shape) + np.linspace(-4, 4, shape[0]).reshape(-1, *[1] * (len(shape) - 1))
    dout = rng.normal(size=shape)
    run = run_processes(compare_bn_task, 2, (x, dout))
    full_out, full_dx = _full_batch_reference(x, dout)

    synced = np.concatenate([r["synced"] for r in run.results])
    local = np.concatenate([r["local"] for r in run.results])
    np.testing.assert_allclose(synced, full_out, atol=1e-10)
    np.testing.assert_allclose(np.concatenate([r["synced_dx"] for r in run.results]), full_dx, atol=1e-10)
    assert np.abs(local - full_out).max() > 0.1, "each process's own statistics differ from the full batch's"
    forgetful_dx = np.concatenate([r["synced_dx_local_backward"] for r in run.results])
    assert np.abs(forgetful_dx - full_dx).max() > 1e-3, (
        "without the backward all-reduce the gradient is wrong"
    )

    bn = torch.nn.BatchNorm1d(shape[1]).double()
    bn(torch.tensor(x))
    for result in run.results:  # both processes hold the full-batch running statistics
        np.testing.assert_allclose(result["running_mean"], bn.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(result["running_var"], bn.running_var.numpy(), rtol=1e-12)
    _assert_no_child_left(run.pids)


def test_a_failing_task_raises_with_the_child_traceback_and_stops_every_process():
    with pytest.raises(RuntimeError, match="fails on purpose"):
        run_processes(failing_task, 2)
    assert multiprocessing.active_children() == []


def test_a_task_past_the_timeout_is_stopped():
    with pytest.raises(TimeoutError, match="did not finish within"):
        run_processes(sleeping_task, 2, (600,), timeout=3)
    assert multiprocessing.active_children() == []


def test_spawn_works_with_the_importable_tasks():
    x = np.arange(12.0).reshape(6, 2) ** 1.5
    run = run_processes(compare_bn_task, 2, (x, np.ones_like(x)), timeout=150, start_method="spawn")
    np.testing.assert_allclose(
        np.concatenate([r["synced"] for r in run.results]), _full_batch_reference(x, x)[0]
    )
    _assert_no_child_left(run.pids)


def test_tasks_that_spawned_processes_cannot_import_are_refused():
    def local_task(rank, world_size):
        return rank

    with pytest.raises(ValueError, match="module level"):
        run_processes(local_task, 2)
    with pytest.raises(ValueError, match="world_size"):
        run_processes(compare_bn_task, 0)
    with pytest.raises(ValueError, match="start_method"):
        run_processes(compare_bn_task, 2, start_method="teleport")


def test_outside_a_process_group_the_module_is_plain_batch_norm():
    x = torch.randn(9, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3 + 1
    synced, plain = torch_sync_batch_norm(4).double(), torch.nn.BatchNorm1d(4).double()
    torch.testing.assert_close(synced(x), plain(x))
    torch.testing.assert_close(synced.running_var, plain.running_var)
    synced.eval(), plain.eval()
    torch.testing.assert_close(synced(x[:1]), plain(x[:1]))


def test_importing_syncbn_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, bnlib.syncbn; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
