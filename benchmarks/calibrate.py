"""Tolerances measured, not guessed: generated cases through every framework, then the figures.

Run by hand from the repository root (one process, no workers):

    python benchmarks/calibrate.py --count 1000 --seed 0

It generates ``--count`` small random cases (benchmarks/casegen.py), runs each through numpy,
torch, jax and micrograd, and prints

- the false alarms: every fail or error row (there should be none: the cases are correct);
- how much of the tolerance the frameworks used, per dtype and quantity: the largest share of
  the allowance any element used (tol_used), and the largest difference in units of the
  dtype's rounding (u = 2⁻²⁴ float32, 2⁻⁵³ float64) times the element's magnitude;
- the sensitivity: the smallest relative error in one gradient element that the tolerance
  catches, for the largest element of every gradient tensor (median and 90th percentile).
  ``allowed / |reference|`` at that element is exactly the relative error that would fail.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import casegen  # noqa: E402
from harness.adapters import known_parties  # noqa: E402
from harness.format.loader import load_cases  # noqa: E402
from harness.running.spec import Run, Settings, make_spec  # noqa: E402

FRAMEWORKS = ["numpy", "torch", "jax", "micrograd"]
UNIT = {"float32": 2.0 ** -24, "float64": 2.0 ** -53}


def sensitivity(runs) -> dict[str, list[float]]:
    """Per dtype, allowed / |r| at the largest element of each gradient tensor (a pass row of
    any framework carries the allowance at its worst element; the largest element is taken
    from the reference trace through the magnitudes the row used)."""
    out: dict[str, list[float]] = {"float32": [], "float64": []}
    for run in runs:
        for r in run.rows:
            if r.quantity == "grad" and r.reference == run.reference and r.framework == "torch" \
                    and r.status == "pass" and r.reference_value and r.allowed is not None \
                    and abs(r.reference_value) > 0:
                out[r.dtype].append(r.allowed / abs(r.reference_value))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="calibrate-"))
    casegen.write(casegen.generate(args.count, args.seed), folder)
    cases = load_cases([folder], known_parties())
    start = time.perf_counter()
    runs = Run(make_spec(Settings(frameworks=",".join(FRAMEWORKS), isolation="none"))).cases(cases)
    seconds = time.perf_counter() - start
    rows = [r for run in runs for r in run.rows]
    bad = [r for r in rows if r.status in ("fail", "error")]
    print(f"{len(cases)} generated cases (seed {args.seed}), {len(runs)} case-dtype runs, "
          f"{len(rows)} comparisons in {seconds:.0f} s: {len(bad)} fail or error")
    for r in bad[:20]:
        print(f"  {r.status} {r.case} [{r.dtype}-{r.framework}] vs {r.reference} step {r.step} "
              f"{r.quantity} {r.tensor}: tol_used {r.tol_used}, suspect {r.suspect}: {r.message}")
    declared = {c.name for c in cases if c.known_discrepancies}
    print("\nlargest share of the tolerance used, and |a - r| / (u * magnitude) at that element")
    print("(cases that declare a known discrepancy are set aside: their trajectories differ by")
    print(f"definition; {len(declared)} of them)")
    print(f"  {'dtype':<8} {'quantity':<8} {'framework':<10} {'tol_used':>9} {'diff/(u*M)':>11}")
    for dtype in ("float32", "float64"):
        for quantity in ("output", "loss", "grad", "param"):
            for framework in FRAMEWORKS[1:]:
                group = [r for r in rows if r.dtype == dtype and r.quantity == quantity
                         and r.framework == framework and r.reference == "numpy"
                         and r.status in ("pass", "fail") and r.tol_used is not None
                         and r.case not in declared]
                if not group:
                    continue
                worst = max(group, key=lambda r: r.tol_used)
                per_m = max((r.max_abs / (UNIT[dtype] * r.magnitude) for r in group
                             if r.magnitude), default=0.0)
                print(f"  {dtype:<8} {quantity:<8} {framework:<10} {worst.tol_used:>9.3g} "
                      f"{per_m:>11.3g}")
    print("\nsmallest relative error caught in one gradient element (its tensor's largest):")
    for dtype, values in sensitivity(runs).items():
        if values:
            print(f"  {dtype}: median {np.median(values):.2g}, 90th percentile "
                  f"{np.percentile(values, 90):.2g}, best {min(values):.2g} "
                  f"({len(values)} tensors)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
