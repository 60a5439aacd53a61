"""Benchmark: each notebook executed headless top to bottom (as Restart & Run All), and the total.

Budgets: each notebook ≤ 60 s, the whole collection ≤ 180 s, on a 2-core machine.
"""

from __future__ import annotations

from coursetools.notebook_runner import execute
from coursetools.paths import ROOT, runnable_notebooks

EACH_BUDGET_S, TOTAL_BUDGET_S = 60, 180


def main() -> list[dict]:
    rows = [
        {"notebook": p.relative_to(ROOT).as_posix(), "seconds": execute(p).seconds}
        for p in runnable_notebooks()
    ]
    print("Notebooks executed headless (nbclient), seconds\n")
    print("| notebook | seconds | within 60 s |")
    print("|---|---:|:---:|")
    for row in rows:
        print(
            f"| {row['notebook']} | {row['seconds']:.1f} | {'yes' if row['seconds'] <= EACH_BUDGET_S else 'NO'} |"
        )
    course = [r["seconds"] for r in rows if "exercises/" not in r["notebook"]]
    print(
        f"\ncourse notebooks total: {sum(course):.0f} s (budget {TOTAL_BUDGET_S} s); "
        f"with exercises: {sum(r['seconds'] for r in rows):.0f} s"
    )
    return rows


if __name__ == "__main__":
    main()
