"""Synchronized batch norm across processes, on CPU, and a launcher that runs a function on local processes.

With data-parallel training each process (each GPU) holds a slice of the batch, and a plain batch-norm layer
normalizes with the statistics of its own slice only. Synchronized batch norm gathers the statistics of the
whole batch first. Per channel, every process contributes three numbers, which are summed over processes
(one all-reduce):

    n   = number of values in the slice        (N_local, or N_local · L)
    s1  = Σ x                                   s2 = Σ x²
    mean = S1 / N        var = S2 / N − mean²   (biased, as batch norm; S, N summed over all processes)

and each process normalizes its slice with these global statistics: the result is exactly batch norm over
the full batch. torch.nn.SyncBatchNorm does the same but accepts only GPU tensors; ``sync_batch_norm`` here
works on CPU with the gloo backend. The all-reduce is differentiable (its backward all-reduces
the gradients), so gradients flow through the global statistics as well, as in nn.SyncBatchNorm.

``run_processes(task, world_size, args)`` starts ``world_size`` local processes (fork, or spawn), joins
them into a gloo process group on 127.0.0.1 and a free port, calls ``task(rank, world_size, *args)`` in each,
and returns their results. It always cleans up: on success, error or timeout no child process is left.
``task`` must be importable (a module-level function, e.g. ``bnlib.syncbn.compare_bn_task``), which is what
lets spawn work from a notebook.

torch is imported only inside the functions, so ``import bnlib`` stays instant.
Explained in notebooks/08_bn_in_practice.ipynb, section "Several devices".
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import socket
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

DEFAULT_TIMEOUT_SECONDS = 90.0


# ----- synchronized batch norm ---------------------------------------------------------------------------


def _all_reduce_sum(tensor, reduce_backward: bool = True):
    """Sum ``tensor`` over all processes, differentiably; the identity when no process group is running.

    ``reduce_backward=False`` keeps the forward sum but passes only this process's gradient back: the
    mistake of synchronizing the statistics and forgetting that the backward needs an all-reduce too.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    return _all_reduce_function(reduce_backward).apply(tensor)


_ALL_REDUCE: dict = {}


def _all_reduce_function(reduce_backward: bool = True):
    """An autograd Function: forward sums over processes; backward sums the gradients over processes too.

    Every process's loss depends on the summed statistics, so the gradient reaching one process's local sums
    is the sum of all processes' gradients with respect to the global sums (what nn.SyncBatchNorm's backward
    all-reduces). With ``reduce_backward=False`` the backward returns the local gradient unchanged (wrong on
    purpose, to show what the second all-reduce is for).
    """
    if reduce_backward not in _ALL_REDUCE:
        import torch
        import torch.distributed as dist

        class AllReduceSum(torch.autograd.Function):
            @staticmethod
            def forward(ctx, tensor):
                total = tensor.clone()
                dist.all_reduce(total, op=dist.ReduceOp.SUM)
                return total

            @staticmethod
            def backward(ctx, grad):
                total = grad.clone()
                if reduce_backward:
                    dist.all_reduce(total, op=dist.ReduceOp.SUM)
                return total

        _ALL_REDUCE[reduce_backward] = AllReduceSum
    return _ALL_REDUCE[reduce_backward]


def global_batch_stats(x, reduce_backward: bool = True):
    """Mean, biased variance and number of values per channel of the batch spread over all processes.

    x: this process's slice, a tensor of shape (N_local, C) or (N_local, C, L).
    Returns (mean, var, count): tensors of shape (C,), and the total count as a Python int. The sums are
    taken in float64 so that S2/N − mean² keeps its precision: it subtracts two nearly equal numbers when
    the mean is large next to the spread (in float32, a mean of 10⁴ and a std of 1 leave no correct digit).
    ``reduce_backward``: see ``_all_reduce_sum``.
    """
    import torch

    if x.dim() not in (2, 3):
        raise ValueError(
            f"x has shape {tuple(x.shape)}; expected (N, C) or (N, C, L). For an LSTM's (N, L, C) output "
            "use x.permute(0, 2, 1)."
        )
    axes = [0] + list(range(2, x.dim()))
    values = x.to(torch.float64)
    local_count = torch.full((x.shape[1],), float(x.numel() // x.shape[1]), dtype=torch.float64)
    local = torch.stack([local_count, values.sum(dim=axes), (values * values).sum(dim=axes)])  # (3, C)
    count, total, total_sq = _all_reduce_sum(local, reduce_backward)
    mean = total / count
    var = (total_sq / count - mean * mean).clamp_min(0.0)  # rounding can leave a tiny negative number
    return mean.to(x.dtype), var.to(x.dtype), int(count[0])


def sync_batch_norm(x, weight=None, bias=None, eps=1e-5, reduce_backward: bool = True):
    """Batch norm of this process's slice x, (N_local, C) or (N_local, C, L), with all slices' statistics.

    weight, bias: tensors of shape (C,) or None (γ = 1, β = 0). Returns (out, mean, var, count) where out has
    x's shape and mean, var, count are those of ``global_batch_stats``. ``reduce_backward=False`` leaves out
    the backward all-reduce (wrong on purpose; see ``_all_reduce_sum``).
    """
    mean, var, count = global_batch_stats(x, reduce_backward)
    if count < 2:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got {count} over all processes."
        )
    shape = (1, -1) + (1,) * (x.dim() - 2)
    out = (x - mean.view(shape)) / (var.view(shape) + eps).sqrt()
    if weight is not None:
        out = out * weight.view(shape)
    if bias is not None:
        out = out + bias.view(shape)
    return out, mean, var, count


def torch_sync_batch_norm(num_features, eps=1e-5, momentum=0.1):
    """An nn.Module like nn.BatchNorm1d whose training statistics are those of the batch over all processes.

    Running statistics follow PyTorch's rule with the global batch (unbiased variance, N/(N − 1) with the
    global N), so every process holds the same buffers. Outside a process group it is plain batch norm.
    """
    return _torch_sync_batch_norm_class()(num_features, eps, momentum)


_SYNC_CLASS = None


def _torch_sync_batch_norm_class():
    """The nn.Module class, built on first use so that importing bnlib never imports torch."""
    global _SYNC_CLASS
    if _SYNC_CLASS is not None:
        return _SYNC_CLASS
    import torch
    from torch import nn

    class SyncBatchNorm1d(nn.BatchNorm1d):
        def forward(self, x):
            if not self.training:
                return super().forward(x)
            out, mean, var, count = sync_batch_norm(x, self.weight, self.bias, self.eps)
            with torch.no_grad():
                self.num_batches_tracked += 1
                # PyTorch's rule: momentum=None is the cumulative average over the batches so far.
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(var.detach() * (count / (count - 1)), factor)
            return out

    _SYNC_CLASS = SyncBatchNorm1d
    return _SYNC_CLASS


# ----- the launcher ---------------------------------------------------------------------------------------


@dataclass
class ProcessRun:
    """What ``run_processes`` returns: ``results[rank]`` is what task returned in that process."""

    results: list
    pids: list[int] = field(default_factory=list)
    seconds: float = 0.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that no one is listening on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _loopback_interface() -> str | None:
    """The name of the loopback network interface ("lo" on Linux, "lo0" on macOS), for gloo."""
    names = [name for _, name in socket.if_nameindex() if name.startswith("lo")]
    return names[0] if names else None


def _process_entry(rank, world_size, port, task, args, results, timeout):
    """Body of each child process: join the gloo group on 127.0.0.1, run the task, report, leave the group."""
    loopback = _loopback_interface()
    if loopback:
        os.environ.setdefault("GLOO_SOCKET_IFNAME", loopback)  # stay on the loopback device, offline
    try:
        from datetime import timedelta

        import torch
        import torch.distributed as dist

        torch.set_num_threads(1)  # the processes share the machine's cores
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout),
        )
        try:
            results.put((rank, True, task(rank, world_size, *args)))
        finally:
            dist.destroy_process_group()
    except BaseException:  # report every failure to the parent instead of dying silently
        results.put((rank, False, traceback.format_exc()))


def _stop(processes):
    """Terminate, then kill, every process still alive, and reap them all."""
    processes = [process for process in processes if process.pid is not None]  # the started ones
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=3)
        if process.is_alive():
            process.kill()
            process.join(timeout=3)


def default_start_method() -> str:
    """ "fork" where the platform has it (Linux), else "spawn".

    A spawned process starts a fresh interpreter and imports torch again, which takes seconds per process on
    a small machine; a forked one starts as a copy of the parent, torch already loaded, in a fraction of a
    second. The tasks are importable functions either way, so "spawn" works too (macOS, Windows).
    """
    return "fork" if "fork" in multiprocessing.get_all_start_methods() and os.name == "posix" else "spawn"


def run_processes(
    task, world_size=2, args=(), timeout=DEFAULT_TIMEOUT_SECONDS, start_method: str | None = None
) -> ProcessRun:
    """Run ``task(rank, world_size, *args)`` in ``world_size`` local processes joined in a gloo process group.

    task: a module-level (importable) function whose return value can be pickled (numpy arrays, numbers).
    timeout: seconds for the whole run (process start-up included); then every process is stopped and a
        TimeoutError is raised. A task that raises makes this raise RuntimeError with the child's traceback.
    start_method: "fork" or "spawn" (or "forkserver"); None picks ``default_start_method()``.
    Returns a ProcessRun with the results in rank order, the children's pids and the wall time in seconds.
    No child process is left behind, whatever happens.
    """
    if (
        not callable(task)
        or "<locals>" in getattr(task, "__qualname__", "<locals>")
        or task.__module__ == "__main__"
    ):
        raise ValueError(
            f"task {task!r} must be a function defined at module level in an importable module (for example "
            "bnlib.syncbn.compare_bn_task): spawned processes import it by name."
        )
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive integer number of processes, got {world_size!r}.")
    method = default_start_method() if start_method is None else start_method
    available = multiprocessing.get_all_start_methods()
    if method not in available:
        raise ValueError(f"start_method={method!r} is not available here; use one of {available}.")
    context = multiprocessing.get_context(method)
    results = context.Queue()
    port = free_port()
    processes = [
        context.Process(
            target=_process_entry,
            args=(rank, world_size, port, task, tuple(args), results, timeout),
            daemon=True,
        )
        for rank in range(world_size)
    ]
    start = time.perf_counter()
    deadline = start + timeout
    try:
        for process in processes:
            process.start()
        collected = {}
        while len(collected) < world_size:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(
                    f"the {world_size} processes did not finish within {timeout:g} s; they were stopped. "
                    "Raise timeout= on a slow machine."
                )
            try:
                rank, ok, payload = results.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                dead = [p for r, p in enumerate(processes) if r not in collected and p.exitcode is not None]
                if dead:
                    raise RuntimeError(
                        f"a process exited (exit code {dead[0].exitcode}) without reporting a result."
                    ) from None
                continue
            if not ok:
                raise RuntimeError(f"process {rank} of {world_size} failed:\n{payload}")
            collected[rank] = payload
        for process in processes:
            process.join(timeout=max(0.1, deadline - time.perf_counter()))
        return ProcessRun(
            [collected[r] for r in range(world_size)], [p.pid for p in processes], time.perf_counter() - start
        )
    finally:
        _stop(processes)
        results.close()
        results.cancel_join_thread()


# ----- tasks for the notebook (importable, so spawned processes find them) --------------------------------


def compare_bn_task(rank, world_size, x_full, dout_full, eps=1e-5):
    """In process ``rank``: batch norm of its slice of x_full, with the local and with the global statistics.

    x_full, dout_full: numpy arrays of shape (N, C) (or (N, C, L)), the whole batch and an upstream gradient;
    the batch is split into ``world_size`` consecutive slices (np.array_split) and this process takes one.
    Returns a dict of numpy arrays: ``local`` (batch norm with this slice's own statistics), ``synced``
    (``sync_batch_norm``), ``synced_dx`` (gradient of Σ dout · synced with respect to the slice, through the
    global statistics), ``synced_dx_local_backward`` (the same gradient when the backward skips its
    all-reduce: wrong), ``mean``/``var`` (the global statistics), ``running_mean``/``running_var`` of a
    ``torch_sync_batch_norm`` layer after one training step.
    """
    import torch
    import torch.nn.functional as F

    x_slice = torch.tensor(np.array_split(x_full, world_size)[rank], requires_grad=True)
    dout_slice = torch.tensor(np.array_split(dout_full, world_size)[rank])
    local = F.batch_norm(x_slice.detach(), None, None, training=True, eps=eps)
    synced, mean, var, _ = sync_batch_norm(x_slice, eps=eps)
    (synced * dout_slice).sum().backward()
    x_again = x_slice.detach().clone().requires_grad_(True)
    forgetful, *_ = sync_batch_norm(x_again, eps=eps, reduce_backward=False)
    (forgetful * dout_slice).sum().backward()
    layer = torch_sync_batch_norm(x_full.shape[1], eps=eps).to(x_slice.dtype)
    layer(x_slice.detach())
    return {
        "local": local.numpy(),
        "synced": synced.detach().numpy(),
        "synced_dx": x_slice.grad.numpy(),
        "synced_dx_local_backward": x_again.grad.numpy(),
        "mean": mean.detach().numpy(),
        "var": var.detach().numpy(),
        "running_mean": layer.running_mean.numpy(),
        "running_var": layer.running_var.numpy(),
    }


def failing_task(rank, world_size, message="this task fails on purpose"):
    """A task that raises in rank 0 (to show and test that errors reach the parent and processes stop)."""
    if rank == 0:
        raise ValueError(message)
    return rank


def sleeping_task(rank, world_size, seconds):
    """A task that sleeps (used to test the timeout: processes must be stopped)."""
    time.sleep(seconds)
    return rank
