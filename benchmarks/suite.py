"""Wall time of the whole shipped suite, and how much of it is importing the frameworks.

Run by hand from the repository root:  python benchmarks/suite.py [--repeats 3]
Prints a Markdown table (the figures in the README come from it).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORTS = {
    "numpy": "import numpy",
    "pandas": "import pandas",
    "torch": "import torch",
    "jax (with the first array)": "import jax, jax.numpy as jnp; jnp.zeros(1).block_until_ready()",
    "micrograd": "import micrograd.engine",
    "all of them": "import numpy, pandas, torch, micrograd.engine, jax, jax.numpy as jnp; "
                   "jnp.zeros(1).block_until_ready()",
}

PER_FRAMEWORK = """
import time
from harness.adapters import adapter_names, known_parties
from harness.format.loader import load_cases
from harness.running.runner import run_case
cases = load_cases(["cases"], known_parties())
totals = {}
for name in adapter_names():
    start = time.perf_counter()
    for case in cases:
        for dtype in case.dtypes:
            run_case(case, dtype, [name])  # in this process, the reference and comparison included
    totals[name] = time.perf_counter() - start
print(totals)
"""


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=False, capture_output=True)
    return time.perf_counter() - start


def median_of(repeats: int, args: list[str]) -> float:
    return statistics.median(timed(args) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    python = [sys.executable]
    start_up = median_of(repeats, python + ["-c", "pass"])
    print(f"| what (median of {repeats}, fresh process each) | seconds |")
    print("|---|---|")
    print(f"| python start-up | {start_up:.2f} |")
    for name, code in IMPORTS.items():
        print(f"| import {name} | {median_of(repeats, python + ['-c', code]) - start_up:.2f} |")
    for isolation in ("process", "none"):
        with tempfile.TemporaryDirectory() as out:
            suite = median_of(repeats, python + ["-m", "harness", "run", "cases", "--out", out,
                                                 "-q", "--isolation", isolation])
        print(f"| `python -m harness run --isolation {isolation}` on the shipped cases "
              f"(whole process) | {suite:.2f} |")
    result = subprocess.run(python + ["-c", PER_FRAMEWORK], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    for name, seconds in eval(result.stdout).items():  # our own dict literal
        print(f"| {name}: every shipped case, in-process (first import included) | {seconds:.2f} |")


if __name__ == "__main__":
    main()
