"""How to run JAX's training step: jit (the harness's way), eager, or jit with faster-compiling
XLA flags; the time per case run and whether the bits change.

Run by hand from the repository root:

    python benchmarks/jax_modes.py --count 100

Each mode runs in a fresh process (XLA flags are read once per process) over the same generated
cases through the harness's jax adapter; the tensors of every step are then compared bit for bit
with the jit mode's. The figures behind "JAX compilation" in docs/frameworks.md come from here.
"""
from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAST_FLAGS = "--xla_cpu_use_fusion_emitters=false --xla_backend_optimization_level=0"
MODES = {"jit": {}, "eager": {}, "jit with fast-compile flags": {"XLA_FLAGS": FAST_FLAGS},
         "jit with one XLA thread": {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false"}}

CHILD = """
import os, pickle, sys, time
sys.path.insert(0, {root!r})
from harness.adapters import adapter_names, known_parties
from harness.adapters import jax_adapter
from harness.format.loader import load_cases
jax = jax_adapter.import_jax()
if {eager!r}:  # the step and init run op by op: jit becomes the identity
    class Eager:
        def __getattr__(self, name):
            return getattr(jax, name)
        @staticmethod
        def jit(function):
            class Lowered:
                def __init__(self, *args): pass
                def lower(self, *args): return self
                def compile(self): return function
            return Lowered()
    jax_adapter.import_jax = lambda: Eager()
cases = load_cases([{folder!r}], known_parties())
adapter, out = jax_adapter.JaxAdapter(), {{}}
start = time.perf_counter()
for case in cases:
    for dtype in case.dtypes:
        trace = adapter.run(case.for_dtype(dtype), case.inputs(dtype))
        out[(case.name, dtype)] = [step.tensors() for step in trace.steps]
seconds = time.perf_counter() - start
pickle.dump((seconds, out), open({result!r}, "wb"))
"""


def run_mode(name: str, folder: str, scratch: str) -> tuple[float, dict]:
    result = os.path.join(scratch, f"{len(os.listdir(scratch))}.pkl")
    env = {**os.environ, **MODES[name]}
    code = CHILD.format(root=str(ROOT), eager=name == "eager", folder=folder, result=result)
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    with open(result, "rb") as handle:
        return pickle.load(handle)


def main() -> None:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from benchmarks import casegen

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated, from: " + ", ".join(MODES) + " (jit is always run)")
    args = parser.parse_args()
    chosen = ["jit"] + [m for m in args.modes.split(",") if m in MODES and m != "jit"]
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as scratch:
        casegen.write(casegen.generate(args.count, args.seed), folder)
        results = {name: run_mode(name, folder, scratch) for name in chosen}
    base = results["jit"][1]
    print(f"{args.count} generated cases (seed {args.seed}), {len(base)} case runs, "
          f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores\n")
    print("| mode | ms per case run | tensors | differing from jit | worst relative difference |")
    print("|---|---|---|---|---|")
    for name, (seconds, out) in results.items():
        tensors = differing = 0
        worst = 0.0
        for key, steps in base.items():
            for step, other in zip(steps, out[key]):
                for (_, _, a), (_, _, b) in zip(step, other):
                    tensors += 1
                    if not np.array_equal(a, b):
                        differing += 1
                        scale = np.maximum(np.abs(a), np.finfo(np.float64).tiny)
                        worst = max(worst, float(np.max(np.abs(a - b) / scale)))
        print(f"| {name} | {1000 * seconds / len(out):.0f} | {tensors} | "
              f"{differing} ({100 * differing / max(tensors, 1):.0f} %) | {worst:.1g} |")


if __name__ == "__main__":
    main()
