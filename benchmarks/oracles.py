"""The cost of the oracles: on the largest shipped case, and over the whole suite.

Run by hand from the repository root:  python benchmarks/oracles.py
Prints a Markdown table (the figures in the README come from it).
"""
from __future__ import annotations

import time

from harness.adapters import known_parties
from harness.format.loader import load_cases
from harness.running.runner import run_case

ORACLES = ["fd", "jax-fwd", "torch-fwd"]


def main() -> None:
    cases = load_cases(["cases"], known_parties())
    largest = max(cases, key=lambda c: sum(p.size for p in c.initial_params.values()) * c.batch)
    params = sum(p.size for p in largest.initial_params.values())
    print(f"largest case: {largest.name} ({params:,} parameters, batch {largest.batch}, "
          f"{largest.steps} steps, {largest.finite_differences['samples']} sampled elements per "
          "tensor)")
    print()
    print("| oracle | largest case (s) | comparisons | whole suite (s) |")
    print("|---|---|---|---|")
    for oracle in ORACLES:
        start = time.perf_counter()
        rows = [r for dtype in largest.dtypes for r in run_case(largest, dtype, [oracle]).rows]
        one = time.perf_counter() - start
        start = time.perf_counter()
        for case in cases:
            for dtype in case.dtypes:
                run_case(case, dtype, [oracle])
        print(f"| {oracle} | {one:.2f} | {len(rows)} | {time.perf_counter() - start:.1f} |")


if __name__ == "__main__":
    main()
