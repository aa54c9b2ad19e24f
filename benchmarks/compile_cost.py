"""What torch.compile costs in the harness, against torch.compile's own compile and run of the
same training step written by hand outside it.

Run by hand from the repository root:

    python benchmarks/compile_cost.py            # the optimizer cases in float32, bfloat16
    python benchmarks/compile_cost.py --markdown benchmarks/results/compile-cost.md

Each side runs in a process of its own with an empty inductor cache (TORCHINDUCTOR_CACHE_DIR),
so both compile every kernel from nothing, in the same order of cases:

- ``eager``: the torch party, no mode (torch.optim's default implementation);
- ``harness``: the torch+compile party (harness/adapters/torch_step.py: the forward and loss
  compiled fullgraph, the optimizer's step compiled, torch's compile state reset per case);
- ``own``: the same step as a torch user writes it: an nn.Sequential of nn.Linear layers and
  the activations, the loss, torch.optim's optimizer, ``torch.compile(model)`` and
  ``torch.compile(optimizer.step)``, compiled and run for the case's steps.

Seconds per case are wall-clock, first run of each case (compiling included): what a user
waits for. The ratio harness/own is the harness's overhead on a compiled party.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES = [("optimizers/" + name, dtype) for name in ("adam.yaml", "adamw.yaml", "rmsprop.yaml",
                                                  "sgd-momentum.yaml", "sgd-nesterov.yaml")
         for dtype in ("float32", "bfloat16")]


def _load(relative: str, dtype: str):
    from harness.adapters import known_parties
    from harness.format.loader import load_cases

    case = load_cases([ROOT / "cases" / relative], known_parties())[0].for_dtype(dtype)
    return case, case.inputs(dtype)


def _own_step(case, inputs) -> None:
    """The case's training step as a torch user writes it, compiled and run."""
    import torch

    from harness.adapters.torch_ops import activation_of, loss_of, optimizer_of, to_tensor

    class Activation(torch.nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, z):
            return self.fn(z)

    dtype = getattr(torch, "bfloat16" if case.dtype == "bfloat16" else case.dtype)
    layers, fan_in = [], inputs.x.shape[1]
    for i, layer in enumerate(case.layers):
        linear = torch.nn.Linear(fan_in, layer.units, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(to_tensor(inputs.params[f"layers.{i}.weight"]))
            linear.bias.copy_(to_tensor(inputs.params[f"layers.{i}.bias"]))
        layers += [linear, Activation(activation_of(layer.activation, layer.settings))]
        fan_in = layer.units
    model = torch.compile(torch.nn.Sequential(*layers))
    optimizer = optimizer_of(case.optimizer, list(model.parameters()))
    step = torch.compile(optimizer.step)
    x, y = to_tensor(inputs.x), None if inputs.y is None else to_tensor(inputs.y)
    for _ in range(case.steps):
        optimizer.zero_grad()
        loss = loss_of(case.loss, case.loss_settings, model(x), y)
        loss.backward()
        step()


def _side(side: str) -> dict[str, float]:
    """Seconds per case for one side, in this process."""
    import torch

    from harness.adapters import get_adapter

    out = {}
    for relative, dtype in CASES:
        case, inputs = _load(relative, dtype)
        torch._dynamo.reset()
        start = time.perf_counter()
        if side == "own":
            _own_step(case, inputs)
        else:
            get_adapter("torch" if side == "eager" else "torch+compile").run(case, inputs)
        out[f"{relative} {dtype}"] = time.perf_counter() - start
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=["eager", "harness", "own"], help=argparse.SUPPRESS)
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.side:  # a child: one side, printed as JSON
        import harness.adapters.torch_ops as ops

        ops.import_torch()
        print(json.dumps(_side(args.side)))
        return 0
    sides = {}
    for side in ("eager", "harness", "own"):
        with tempfile.TemporaryDirectory(prefix="inductor-") as cache:
            env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache)
            done = subprocess.run([sys.executable, __file__, "--side", side], env=env,
                                  capture_output=True, text=True, check=True)
            sides[side] = json.loads(done.stdout.strip().splitlines()[-1])
    lines = ["| case | eager s | harness torch+compile s | own torch.compile s | harness / own |",
             "|---|---|---|---|---|"]
    for key in sides["eager"]:
        e, h, o = sides["eager"][key], sides["harness"][key], sides["own"][key]
        lines.append(f"| {key} | {e:.2f} | {h:.2f} | {o:.2f} | {h / o:.2f} |")
    total = {s: sum(v.values()) for s, v in sides.items()}
    lines.append(f"| all {len(CASES)} | {total['eager']:.2f} | {total['harness']:.2f} | "
                 f"{total['own']:.2f} | {total['harness'] / total['own']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
