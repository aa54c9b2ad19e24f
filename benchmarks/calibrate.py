"""Tolerances measured, not guessed: generated cases through every framework, then the figures.

Run by hand from the repository root (one process, no workers):

    python benchmarks/calibrate.py --count 1000 --seed 0
    python benchmarks/calibrate.py --count 1000 --seed 0 --dtype bfloat16 \
        --frameworks numpy,torch,jax,micrograd,torch+forloop,torch+foreach,torch+fused,jax+nojit

It generates ``--count`` small random cases (benchmarks/casegen.py; ``--dtype`` gives every
case that numeric format), runs each through ``--frameworks`` (numpy, torch, jax and micrograd
by default; execution modes too when named), and prints

- the false alarms: every fail or error row (there should be none: the cases are correct);
- how much of the tolerance the frameworks used, per dtype, quantity and party: the largest
  share of the allowance any element used (tol_used), and for float32 and float64 the largest
  difference in units of the dtype's rounding (u = 2⁻²⁴ float32, 2⁻⁵³ float64) times the
  element's magnitude;
- the sensitivity: the smallest relative error in one gradient element that the tolerance
  catches, for the largest element of every gradient tensor (median and 90th percentile).
  ``allowed / |reference|`` at that element is exactly the relative error that would fail.

Under bfloat16, float16 and mixed precision it adds the same figures for torch.testing's
per-dtype table (assert_close's default rtol and atol for the dtype the network computes in:
bfloat16 1.6e-2 and 1e-5, float16 1e-3 and 1e-5) on the same torch gradients of the first
step: how many tensors that table fails (its false alarms: every case is correct), and the
relative error it would catch at the same elements, over every element and at each tensor's
largest one. ``--json FILE`` writes every figure for docs/verdicts.md's tests.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import casegen  # noqa: E402
from harness.adapters import get_adapter, known_parties  # noqa: E402
from harness.format import numerics  # noqa: E402
from harness.format.loader import load_cases  # noqa: E402
from harness.running.spec import Run, Settings, make_spec  # noqa: E402
from harness.verdicts.judge import Judges  # noqa: E402

FRAMEWORKS = ["numpy", "torch", "jax", "micrograd"]
# fails of generated cases looked at by hand and found to be real differences of a framework,
# each with the shipped case that shows it: not false alarms, but findings (by case, dtype and
# framework, a mode included; the case name holds the seed)
_SIGMOID_TAIL = ("jax.nn.sigmoid in float16 is 0 below z ≈ −11.09 "
                 "(cases/precision/sigmoid-tail-float16.yaml)")
EXPLAINED = {("gen-0-0978", dtype, "jax"): _SIGMOID_TAIL
             for dtype in ("float16", "mixed-float16")}
UNIT = {"float32": 2.0 ** -24, "float64": 2.0 ** -53}
# torch.testing.assert_close's defaults per dtype (rtol, atol), its documented table
ASSERT_CLOSE = {"bfloat16": (1.6e-2, 1e-5), "float16": (1e-3, 1e-5),
                "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def sensitivity(runs) -> dict[str, list[float]]:
    """Per dtype, allowed / |r| at the largest element of each gradient tensor (a pass row of
    any framework carries the allowance at its worst element; the largest element is taken
    from the reference trace through the magnitudes the row used)."""
    out: dict[str, list[float]] = {}
    for run in runs:
        for r in run.rows:
            if r.quantity == "grad" and r.reference == run.reference and r.framework == "torch" \
                    and r.status == "pass" and r.reference_value and r.allowed is not None \
                    and abs(r.reference_value) > 0:
                out.setdefault(r.dtype, []).append(r.allowed / abs(r.reference_value))
    return out


def against_assert_close(cases, dtype: str) -> dict:
    """torch's first-step gradients judged by this harness and by assert_close's table."""
    rtol, atol = ASSERT_CLOSE[numerics.of(dtype).compute]
    numpy, torch = get_adapter("numpy"), get_adapter("torch")
    table_fails = tensors = 0
    ours_largest, table_largest, ours_all, table_all, noise = [], [], [], [], []
    for case in cases:
        if dtype not in case.dtypes or torch.supports(case.for_dtype(dtype)):
            continue
        narrowed = case.for_dtype(dtype)
        inputs = narrowed.inputs(dtype)
        reference = numpy.run(narrowed, inputs)
        try:
            got = torch.run(narrowed, inputs)
        except Exception:  # counted by the run's own rows
            continue
        judges = Judges(case, dtype)
        judges.weigh(inputs, reference)
        judge = judges.of("torch")
        for name, exact in reference.steps[0].grads.items():
            value = got.steps[0].grads[name]
            if not np.all(np.isfinite(value)):
                continue
            tensors += 1
            _, allowed = judge.allowance(1, "grad", name, exact)
            size = np.abs(exact)
            if np.any(np.abs(value - exact) > atol + rtol * size):
                table_fails += 1
            nonzero = size > 0
            if not nonzero.any():
                continue
            ours_all += list((allowed / np.where(nonzero, size, 1))[nonzero])
            table_all += list(((atol + rtol * size) / np.where(nonzero, size, 1))[nonzero])
            top = np.unravel_index(np.argmax(size), size.shape)
            noise.append(float(abs(value[top] - exact[top]) / size[top]))
            ours_largest.append(float(allowed[top] / size[top]))
            table_largest.append(float((atol + rtol * size[top]) / size[top]))

    def summary(values):
        return {"median": float(np.median(values)), "p90": float(np.percentile(values, 90)),
                "p99": float(np.percentile(values, 99)), "max": float(np.max(values))} \
            if values else {}
    return {"tensors": tensors, "table_fails": table_fails, "rtol": rtol, "atol": atol,
            "ours_largest": summary(ours_largest), "table_largest": summary(table_largest),
            "ours_all": summary(ours_all), "table_all": summary(table_all),
            "noise_largest": summary(noise)}


FORMATS = ("bfloat16", "float16", "mixed-bfloat16", "mixed-float16")


def render(results: Path) -> str:
    """docs/verdicts.md's calibration block, from the saved figures in ``results``
    (calibrate-<dtype>.json, calibrate-modes-<dtype>.json); tests/test_docs.py checks the page
    against it."""
    lines = []
    for dtype in FORMATS:
        main_run = results / f"calibrate-{dtype}.json"
        if not main_run.is_file():
            continue
        f = json.loads(main_run.read_text(encoding="utf-8"))
        shares = {party: max(q.values()) for party, q in f["share"].get(dtype, {}).items()}
        worst = max(shares, key=shares.get)
        table = f.get("assert_close", {})
        line = (f"- **{dtype}**: {f['count']:,} generated cases (seed {f['seed']}; "
                f"{', '.join(f['frameworks'][1:])}), {f['comparisons']:,} comparisons, "
                f"{f['false_alarms']} false alarms"
                + (f" ({len(f['findings'])} real difference found: "
                   f"{'; '.join(f['findings'])})" if f.get("findings") else "")
                + "; largest share of the allowance used "
                f"{shares[worst]:.2g} ({worst})")
        if table:
            line += (f". On torch's {table['tensors']:,} first-step gradient tensors "
                     f"assert_close's table (rtol {table['rtol']:g}, atol {table['atol']:g}) "
                     f"fails {table['table_fails']:,} "
                     f"({100 * table['table_fails'] / max(table['tensors'], 1):.0f} %); the "
                     f"relative error caught at each tensor's largest element: this harness "
                     f"median {table['ours_largest']['median']:.2g}, the table "
                     f"{table['table_largest']['median']:.2g}; over every element: this "
                     f"harness median {table['ours_all']['median']:.2g}, the table "
                     f"{table['table_all']['median']:.2g}")
            if table.get("noise_largest"):
                n = table["noise_largest"]
                line += (f"; the rounding itself moves that largest element by a median "
                         f"{n['median']:.2g}, 99th percentile {n['p99']:.2g}, at most "
                         f"{n['max']:.2g} (relative)")
        modes = results / f"calibrate-modes-{dtype}.json"
        if modes.is_file():
            m = json.loads(modes.read_text(encoding="utf-8"))
            shares = {party: max(q.values()) for party, q in m["share"].get(dtype, {}).items()}
            line += (f". With {', '.join(p for p in m['frameworks'] if '+' in p)} on "
                     f"{m['count']:,} more (seed {m['seed']}): {m['false_alarms']} false alarms, "
                     f"largest share " + ", ".join(f"{shares[p]:.2g} ({p})" for p in shares
                                                   if "+" in p))
        lines.append(line + ".")
    return "\n".join(lines) + ("\n" if lines else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=[*numerics.DTYPES, "any"],
                        help="every generated case's numeric format (default: float32, float64)")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    frameworks = args.frameworks.split(",")
    folder = Path(tempfile.mkdtemp(prefix="calibrate-"))
    modes = any("+" in name for name in frameworks)  # and the known discrepancies of modes
    casegen.write(casegen.generate(args.count, args.seed, args.dtype, modes), folder)
    cases = load_cases([folder], known_parties())
    start = time.perf_counter()
    runs = Run(make_spec(Settings(frameworks=",".join(frameworks), isolation="none"))).cases(cases)
    seconds = time.perf_counter() - start
    rows = [r for run in runs for r in run.rows]
    failed = [r for r in rows if r.status in ("fail", "error")]
    def key(r):
        return r.case, r.dtype, r.framework.split("+")[0]
    found = {key(r) for r in failed} & set(EXPLAINED)
    bad = [r for r in failed if key(r) not in found]
    figures: dict = {"count": len(cases), "seed": args.seed, "dtype": args.dtype,
                     "frameworks": frameworks, "runs": len(runs), "comparisons": len(rows),
                     "seconds": round(seconds), "false_alarms": len(bad), "share": {},
                     "failing": sorted({f"{r.case} {r.dtype} {r.framework}" for r in bad}),
                     "findings": sorted(f"{case} {party}: {EXPLAINED[(case, dtype, party)]}"
                                        for case, dtype, party in found)}
    print(f"{len(cases)} generated cases (seed {args.seed}{', ' + args.dtype if args.dtype else ''}),"
          f" {len(runs)} case-dtype runs, {len(rows)} comparisons in {seconds:.0f} s: "
          f"{len(bad)} fail or error")
    for case, dtype, party in sorted(found):
        print(f"  finding, not a false alarm: {case} [{dtype}] {party}: "
              f"{EXPLAINED[(case, dtype, party)]}")
    for r in bad[:20]:
        print(f"  {r.status} {r.case} [{r.dtype}-{r.framework}] vs {r.reference} step {r.step} "
              f"{r.quantity} {r.tensor}: tol_used {r.tol_used}, suspect {r.suspect}: {r.message}")
    skipped = sorted({(r.framework, r.message) for r in rows if r.status == "skip"})
    figures["skips"] = sorted({f for f, _ in skipped})
    for framework, message in skipped[:10]:
        print(f"  skip {framework}: {message}")
    # a declaration covers its party's trajectory: those rows are set aside, not the case's
    declared = {(c.name, name) for c in cases for name in frameworks
                if any(k.applies_to(name) for k in c.known_discrepancies)}
    print("\nlargest share of the tolerance used, and |a - r| / (u * magnitude) at that element")
    print("(a party a case declares a known discrepancy for is set aside there: its trajectory")
    print(f"differs by definition; {len(declared)} case-party pairs)")
    print(f"  {'dtype':<15} {'quantity':<8} {'party':<14} {'tol_used':>9} {'diff/(u*M)':>11}")
    for dtype in sorted({r.dtype for r in rows}, key=numerics.DTYPES.index):
        for quantity in ("output", "loss", "grad", "param"):
            for framework in frameworks[1:]:
                group = [r for r in rows if r.dtype == dtype and r.quantity == quantity
                         and r.framework == framework and r.reference == "numpy"
                         and r.status in ("pass", "fail") and r.tol_used is not None
                         and (r.case, r.framework) not in declared]
                if not group:
                    continue
                worst = max(group, key=lambda r: r.tol_used)
                figures["share"].setdefault(dtype, {}).setdefault(framework, {})[quantity] = \
                    worst.tol_used
                per_m = max((r.max_abs / (UNIT[dtype] * r.magnitude) for r in group
                             if r.magnitude), default=0.0) if dtype in UNIT else float("nan")
                print(f"  {dtype:<15} {quantity:<8} {framework:<14} {worst.tol_used:>9.3g} "
                      f"{per_m:>11.3g}")
    print("\nsmallest relative error caught in one gradient element (its tensor's largest):")
    for dtype, values in sensitivity(runs).items():
        if values:
            print(f"  {dtype}: median {np.median(values):.2g}, 90th percentile "
                  f"{np.percentile(values, 90):.2g}, best {min(values):.2g} "
                  f"({len(values)} tensors)")
    if args.dtype in numerics.DTYPES and numerics.of(args.dtype).low and "torch" in frameworks:
        table = figures["assert_close"] = against_assert_close(cases, args.dtype)
        print(f"\ntorch's first-step gradients, this harness against assert_close's table "
              f"(rtol {table['rtol']}, atol {table['atol']}), {table['tensors']} tensors:")
        print(f"  tensors the table fails (false alarms): {table['table_fails']}")
        if table.get("noise_largest"):
            n = table["noise_largest"]
            print(f"  the rounding's own relative error at each tensor's largest element: median "
                  f"{n['median']:.2g}, p99 {n['p99']:.2g}, max {n['max']:.2g}")
        for what in ("largest", "all"):
            ours, theirs = table[f"ours_{what}"], table[f"table_{what}"]
            if ours:
                print(f"  relative error caught, {what} elements: harness median "
                      f"{ours['median']:.2g} (p90 {ours['p90']:.2g}); table median "
                      f"{theirs['median']:.2g} (p90 {theirs['p90']:.2g})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n",
                                   encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
