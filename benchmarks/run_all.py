"""`make bench`: every benchmark of the course in one run, printed as Markdown tables for the README.

python -m benchmarks.run_all            # everything
python -m benchmarks.run_all panels     # only some: import, batchnorm, panels, notebooks, browser
"""

from __future__ import annotations

import statistics
import subprocess
import sys


def bench_import(repeats: int = 7) -> None:
    """Time of `import bnlib` in a fresh interpreter, and of first touching a numpy-backed name."""

    def seconds(statement: str) -> float:
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        return float(output.stdout)

    for statement in ("import bnlib", "import bnlib; bnlib.batchnorm_forward"):
        median_ms = 1e3 * statistics.median(seconds(statement) for _ in range(repeats))
        print(f"`{statement}`: {median_ms:.0f} ms (median of {repeats} fresh interpreters; target < 300 ms)")
    print()


def main(selected: list[str]) -> None:
    from benchmarks import bench_batchnorm, bench_browser, bench_notebooks, bench_panels

    benchmarks = {
        "import": bench_import,
        "batchnorm": bench_batchnorm.main,
        "panels": bench_panels.main,
        "notebooks": bench_notebooks.main,
        "browser": bench_browser.main,
    }
    unknown = set(selected) - set(benchmarks)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; choose from {list(benchmarks)}")
    for name in selected or benchmarks:
        print(f"\n## {name}\n", flush=True)
        benchmarks[name]()
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
