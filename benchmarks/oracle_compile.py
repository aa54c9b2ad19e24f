"""XLA compiler options for the jax-fwd oracle's program: time, and what they change in its rows.

Run by hand from the repository root:

    python benchmarks/oracle_compile.py --count 300 --seed 7

The oracle (harness.oracles.ForwardMode with the jax adapter) runs over the same generated cases
once per set of options, each in a fresh process with no compilation cache; its report.csv rows
are then compared with those of XLA's defaults: how many changed, the verdicts, and the share of
the tolerance used (worst, 99th percentile, mean) per dtype. The choice of
harness.adapters.jax_adapter.CHECK_COMPILER_OPTIONS and the figures under "Oracles" in
docs/benchmarks.md come from here.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = {
    "XLA's defaults": {},
    "no fusion emitters": {"xla_cpu_use_fusion_emitters": False},
    "no fusion emitters, LLVM -O0": {"xla_cpu_use_fusion_emitters": False,
                                     "xla_backend_optimization_level": 0},
}

CHILD = """
import os, sys
sys.path.insert(0, {root!r})
os.environ["HARNESS_COMPILE_CACHE"] = "off"
from harness.adapters import jax_adapter
jax_adapter.CHECK_COMPILER_OPTIONS = {options!r}
from harness.cli import main
sys.exit(main(["run", {cases!r}, "-f", "numpy,jax-fwd", "--isolation", "none", "-q",
               "--out", {out!r}]))
"""


def run(options: dict, cases: str, out: str) -> tuple[float, dict]:
    start = time.perf_counter()
    code = CHILD.format(root=str(ROOT), options=options, cases=cases, out=out)
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(Path(out) / "report.csv", newline="") as handle:
        rows = {(r["case"], r["dtype"], r["step"], r["tensor"]): r
                for r in csv.DictReader(handle) if r["framework"] == "jax-fwd"}
    return seconds, rows


def share(row: dict) -> float:
    try:
        return float(row["tol_used"])
    except ValueError:
        return 0.0


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks import casegen

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        cases = str(Path(scratch) / "cases")
        casegen.write(casegen.generate(args.count, args.seed), cases)
        results = {name: run(options, cases, str(Path(scratch) / f"out{i}"))
                   for i, (name, options) in enumerate(OPTIONS.items())}
    base = results["XLA's defaults"][1]
    print(f"jax-fwd over {args.count} generated cases (seed {args.seed}), one process, no "
          f"compilation cache, {time.strftime('%Y-%m-%d')}\n")
    print("| compiler options | run s | rows changed | verdicts | dtype: worst / p99 / mean "
          "share of the tolerance |")
    print("|---|---|---|---|---|")
    for name, (seconds, rows) in results.items():
        changed = sum(1 for k, r in rows.items()
                      if (r["value"], r["reference_value"]) != (base[k]["value"],
                                                                base[k]["reference_value"]))
        verdicts = "same" if all(rows[k]["status"] == base[k]["status"] for k in base) \
            else "DIFFERENT"
        shares = []
        for dtype in sorted({k[1] for k in rows}):
            used = sorted(share(r) for k, r in rows.items() if k[1] == dtype)
            shares.append(f"{dtype}: {used[-1]:.3g} / {used[int(0.99 * (len(used) - 1))]:.2g} / "
                          f"{sum(used) / len(used):.2g}")
        print(f"| {name} | {seconds:.1f} | {changed} of {len(rows)} | {verdicts} | "
              f"{'; '.join(shares)} |")


if __name__ == "__main__":
    main()
