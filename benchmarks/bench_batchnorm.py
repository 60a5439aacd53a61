"""Benchmark: bnlib's batch norm (staged and compact backward) against PyTorch on the CPU.

Run with ``python benchmarks/bench_batchnorm.py``. For x of shape (N, D) = (256, 512) in float32 it times
one training step (forward + backward) three ways, takes the median over repeated runs after a warm-up,
and prints a Markdown table whose ratios all come from this one run:

    bnlib forward + staged backward     (the node-by-node graph, written for reading)
    bnlib forward + compact backward    (the closed form)
    torch forward + autograd backward   (torch.nn.functional.batch_norm, default thread count)

Forward and backward are also timed separately for bnlib, so the backward-only speed-up is visible too.
"""

import statistics
import timeit

import numpy as np

from bnlib.batchnorm import batchnorm_backward, batchnorm_backward_compact, batchnorm_forward

N, D = 256, 512
REPEATS = 200  # timed runs per measurement, after the warm-up
WARMUP = 20


def median_seconds(step, repeats=REPEATS, warmup=WARMUP):
    """Median wall time of ``step()`` in seconds over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        step()
    return statistics.median(timeit.repeat(step, number=1, repeat=repeats))


def _bnlib_rows(x, gamma, beta, dout):
    _, cache = batchnorm_forward(x, gamma, beta)
    forward = median_seconds(lambda: batchnorm_forward(x, gamma, beta))
    rows = []
    for name, backward in (("staged", batchnorm_backward), ("compact", batchnorm_backward_compact)):
        backward_only = median_seconds(lambda backward=backward: backward(dout, cache))
        step = median_seconds(lambda backward=backward: backward(dout, batchnorm_forward(x, gamma, beta)[1]))
        rows.append(
            {
                "method": f"bnlib forward + {name} backward",
                "forward_ms": forward * 1e3,
                "backward_ms": backward_only * 1e3,
                "step_ms": step * 1e3,
            }
        )
    return rows


def _torch_row(x, gamma, beta, dout):
    import torch  # imported here so the module stays importable without torch

    xt = torch.from_numpy(x).requires_grad_(True)
    gt = torch.from_numpy(gamma).requires_grad_(True)
    bt = torch.from_numpy(beta).requires_grad_(True)
    dt = torch.from_numpy(dout)

    def forward():
        return torch.nn.functional.batch_norm(xt, None, None, gt, bt, training=True)

    def step():
        # Fresh gradients each run, as an optimizer's zero_grad would give.
        xt.grad = gt.grad = bt.grad = None
        forward().backward(dt)

    with torch.no_grad():
        forward_only = median_seconds(forward)
    return {
        "method": f"torch forward + autograd backward ({torch.get_num_threads()} threads)",
        "forward_ms": forward_only * 1e3,
        "backward_ms": float("nan"),
        "step_ms": median_seconds(step) * 1e3,
    }


def main(seed=0):
    """Time the three methods; print a Markdown table and return its rows as a list of dicts.

    Each row: method, forward_ms, backward_ms (NaN for torch, whose backward is not run alone),
    step_ms (forward + backward), and step_vs_compact = step_ms / compact's step_ms.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(np.float32)
    gamma = rng.normal(size=D).astype(np.float32)
    beta = rng.normal(size=D).astype(np.float32)
    dout = rng.normal(size=(N, D)).astype(np.float32)

    rows = _bnlib_rows(x, gamma, beta, dout) + [_torch_row(x, gamma, beta, dout)]
    compact = rows[1]
    for row in rows:
        row["step_vs_compact"] = row["step_ms"] / compact["step_ms"]

    staged, torch_row = rows[0], rows[2]
    print(f"Batch norm training step, x of shape ({N}, {D}) float32, median of {REPEATS} runs\n")
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
    print(f"compact vs torch,  forward + backward: {compact['step_ms'] / torch_row['step_ms']:.2f}x torch's")
    return rows


if __name__ == "__main__":
    main()
