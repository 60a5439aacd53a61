"""Benchmark: bnlib's batch norm (staged and compact backward) against PyTorch on the CPU.

Run with ``python -m benchmarks.bench_batchnorm``. For x of shape (N, D) = (256, 512) in float32 it times
one training step (forward + backward) three ways and prints a Markdown table whose ratios all come from
this one run:

    bnlib forward + staged backward     (the node-by-node graph, written for reading)
    bnlib forward + compact backward    (the closed form, written for speed)
    torch forward + autograd backward   (torch.nn.functional.batch_norm, default thread count, and
                                         again on one thread like numpy's elementwise work)

Forward and backward are also timed on their own for bnlib, so the backward-only speed-up is visible.
The calls take turns in short blocks (round robin, first run of each block untimed), and the table shows
medians: on a shared machine a burst of load then hits all methods alike instead of skewing one ratio.

Much of the staged backward's cost on some machines is memory, not arithmetic: it allocates about ten
temporary arrays per call, and when the allocator hands freed memory back to the operating system every
new array pays page faults again. The compact backward allocates one array.
"""

import statistics
import time

import numpy as np

from bnlib.batchnorm import batchnorm_backward, batchnorm_backward_compact, batchnorm_forward

N, D = 256, 512
ROUNDS = 20  # each round runs every call in a block of BLOCK runs
BLOCK = 6  # the first run of a block is a warm-up (caches, torch's worker threads), the rest are timed
REPEATS = ROUNDS * (BLOCK - 1)  # timed runs per call


def interleaved_medians(calls, rounds=ROUNDS, block=BLOCK):
    """Median wall time in seconds of each call in ``calls`` (name -> no-argument callable).

    The calls take turns in blocks: each of ``rounds`` rounds runs every call ``block`` times in a row and
    times all but the first run of the block.
    """
    timings = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            call()
            for _ in range(block - 1):
                start = time.perf_counter()
                call()
                timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def _bnlib_calls(x, gamma, beta, dout):
    _, cache = batchnorm_forward(x, gamma, beta)
    return {
        "forward": lambda: batchnorm_forward(x, gamma, beta),
        "staged backward": lambda: batchnorm_backward(dout, cache),
        "compact backward": lambda: batchnorm_backward_compact(dout, cache),
        "staged step": lambda: batchnorm_backward(dout, batchnorm_forward(x, gamma, beta)[1]),
        "compact step": lambda: batchnorm_backward_compact(dout, batchnorm_forward(x, gamma, beta)[1]),
    }


def _torch_calls(x, gamma, beta, dout):
    import torch  # imported here so the module stays importable without torch

    x_t, gamma_t, beta_t = (torch.from_numpy(a).requires_grad_(True) for a in (x, gamma, beta))
    dout_t = torch.from_numpy(dout)

    def forward():
        return torch.nn.functional.batch_norm(x_t, None, None, gamma_t, beta_t, training=True)

    def forward_only():
        with torch.no_grad():
            forward()

    def step():
        x_t.grad = gamma_t.grad = beta_t.grad = None  # fresh gradients, as zero_grad would give
        forward().backward(dout_t)

    threads = torch.get_num_threads()

    def single_threaded(call):
        # numpy's elementwise work runs on one core; this row compares like with like.
        def run():
            torch.set_num_threads(1)
            try:
                call()
            finally:
                torch.set_num_threads(threads)

        return run

    calls = {
        "torch forward": forward_only,
        "torch step": step,
        "torch forward, 1 thread": single_threaded(forward_only),
        "torch step, 1 thread": single_threaded(step),
    }
    return calls, threads


def main(seed=0):
    """Time bnlib (staged, compact) and torch; print a Markdown table and return its rows as a list of dicts.

    Rows: staged, compact, torch (default threads), torch (1 thread). Each row: method, forward_ms,
    backward_ms (NaN for torch, whose backward is not run alone),
    step_ms (forward + backward) and step_vs_compact = step_ms / the compact row's step_ms.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(np.float32)
    gamma = rng.normal(size=D).astype(np.float32)
    beta = rng.normal(size=D).astype(np.float32)
    dout = rng.normal(size=(N, D)).astype(np.float32)

    torch_calls, threads = _torch_calls(x, gamma, beta, dout)
    ms = {
        name: t * 1e3
        for name, t in interleaved_medians(_bnlib_calls(x, gamma, beta, dout) | torch_calls).items()
    }
    rows = [
        {
            "method": f"bnlib forward + {kind} backward",
            "forward_ms": ms["forward"],
            "backward_ms": ms[f"{kind} backward"],
            "step_ms": ms[f"{kind} step"],
        }
        for kind in ("staged", "compact")
    ]
    for suffix, label in (("", f"{threads} threads (default)"), (", 1 thread", "1 thread")):
        rows.append(
            {
                "method": f"torch forward + autograd backward, {label}",
                "forward_ms": ms[f"torch forward{suffix}"],
                "backward_ms": float("nan"),
                "step_ms": ms[f"torch step{suffix}"],
            }
        )
    staged, compact, torch_row, torch_single = rows
    for row in rows:
        row["step_vs_compact"] = row["step_ms"] / compact["step_ms"]

    print(f"Batch norm training step, x of shape ({N}, {D}) float32, median of {REPEATS} interleaved runs\n")
    print("| method | forward (ms) | backward (ms) | forward + backward (ms) | step / compact step |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['method']} | {row['forward_ms']:.3f} | {row['backward_ms']:.3f} | {row['step_ms']:.3f} "
            f"| {row['step_vs_compact']:.2f} |"
        )
    print()
    print(
        f"compact vs staged, backward only:      {staged['backward_ms'] / compact['backward_ms']:.2f}x faster"
    )
    print(f"compact vs staged, forward + backward: {staged['step_ms'] / compact['step_ms']:.2f}x faster")
    for label, row in ((f"torch ({threads} threads)", torch_row), ("torch (1 thread)", torch_single)):
        print(
            f"compact vs {label + ',':17s} forward + backward: {compact['step_ms'] / row['step_ms']:.2f}x its time"
        )
    return rows


if __name__ == "__main__":
    main()
