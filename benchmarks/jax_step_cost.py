"""Where a JAX case run's time goes: tracing, lowering and compiling its training step, and
running it, per case run, with no compilation cache (the process's first case run, which pays
JAX's own start, apart).

Run by hand from the repository root:

    python benchmarks/jax_step_cost.py --count 40

The step is built as harness.adapters.jax_adapter builds it (its network, loss and optimizer
functions), then jax.jit(...).trace(), .lower() and .compile() are timed one by one; the
optimizer's state is made outside jit, as the adapter makes it, and, for comparison, by a
compiled init, as the adapter made it before. The figures behind "the goal of
30 s cannot be reached" in docs/benchmarks.md come from here.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ["HARNESS_COMPILE_CACHE"] = "off"  # every program compiled, none loaded
    sys.path.insert(0, str(ROOT))
    import optax

    from benchmarks import casegen
    from harness.adapters import known_parties
    from harness.adapters import jax_adapter as adapter
    from harness.format.loader import load_cases

    jax = adapter.import_jax()
    with tempfile.TemporaryDirectory() as folder:
        casegen.write(casegen.generate(args.count, args.seed), folder)
        cases = load_cases([folder], known_parties())
    seconds = dict.fromkeys(("optimizer init, compiled (the adapter's way until 2026-11-28)",
                             "optimizer init, outside jit (the adapter's way)", "trace", "lower",
                             "compile", "run every step"), 0.0)
    runs, first = 0, None
    for case in cases:
        for dtype in case.dtypes:
            narrowed, inputs = case.for_dtype(dtype), case.inputs(dtype)
            params = {k: jax.device_put(v) for k, v in inputs.params.items()}
            x = jax.device_put(inputs.x)
            y = None if inputs.y is None else jax.device_put(inputs.y)
            forward, optimizer = adapter._network(narrowed), adapter.optimizer_of(narrowed.optimizer)

            def loss_fn(params, x, y, forward=forward, narrowed=narrowed):
                out = forward(params, x)
                return adapter.loss_of(narrowed.loss, narrowed.loss_settings, out, y), out

            value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)

            def train_step(params, state, x, y, value_and_grad=value_and_grad,
                           optimizer=optimizer):
                (loss, out), grads = value_and_grad(params, x, y)
                updates, state = optimizer.update(grads, state, params)
                return loss, out, grads, optax.apply_updates(params, updates), state

            marks = [time.perf_counter()]
            jax.block_until_ready(jax.jit(optimizer.init).lower(params).compile()(params))
            marks.append(time.perf_counter())
            state = jax.block_until_ready(optimizer.init(params))
            marks.append(time.perf_counter())
            traced = jax.jit(train_step).trace(params, state, x, y)
            marks.append(time.perf_counter())
            lowered = traced.lower()
            marks.append(time.perf_counter())
            step = lowered.compile()
            marks.append(time.perf_counter())
            for _ in range(narrowed.steps):
                result = step(params, state, x, y)
                params, state = result[3], result[4]
            jax.block_until_ready(result)
            marks.append(time.perf_counter())
            if first is None:  # JAX's first dispatch and compile in the process: apart
                first = {key: end - begin for key, begin, end in zip(seconds, marks, marks[1:])}
                continue
            for key, begin, end in zip(seconds, marks, marks[1:]):
                seconds[key] += end - begin
            runs += 1
    print(f"{args.count} generated cases (seed {args.seed}), {runs + 1} case runs, jax "
          f"{jax.__version__}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
    print("| what | ms per case run (the first apart) | the first case run, ms |\n|---|---|---|")
    for key, total in seconds.items():
        print(f"| {key} | {1000 * total / runs:.1f} | {1000 * first[key]:.1f} |")
    kept = [key for key in seconds if "until" not in key]  # what a case run costs now
    print(f"| all but the compiled init | {1000 * sum(seconds[k] for k in kept) / runs:.1f} | "
          f"{1000 * sum(first[k] for k in kept):.1f} |")


if __name__ == "__main__":
    main()
