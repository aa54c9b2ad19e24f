"""PyTorch's training step in each execution mode, and what each mode needs to run.

Modes are parties (``torch+compile``, ``torch+fused``; harness.format.parties):

- ``compile``: the forward and loss under ``torch.compile`` (default inductor backend,
  ``fullgraph=True``; AOTAutograd compiles the backward with it) and the optimizer's step under
  ``torch.compile``, as torch's tutorial on compiling the optimizer does. torch's compile state
  is reset before each case, so a case compiles on its own (inductor's on-disk cache still
  serves a structure compiled before).
- ``forloop``, ``foreach``, ``fused``: torch.optim's implementation asked for by name. The bare
  ``torch`` leaves it to torch, which takes the for-loop on the CPU and foreach on CUDA.

Under mixed precision (harness.format.numerics) the forward runs in ``torch.autocast`` with
the low dtype, and its output is cast to float32 for the loss, outside autocast; the backward
follows autocast's casts back to the float32 parameters, which the optimizer updates.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
from functools import lru_cache

from ..format import numerics
from ..format.case import Case
from .torch_ops import lacking, optimizer_of

COMPILE = "compile"
IMPLEMENTATIONS = ("forloop", "foreach", "fused")
MODES = (COMPILE,) + IMPLEMENTATIONS


def make_step(forward, loss, optimizer, autocast_dtype=None, device_type: str = "cpu",
              compiled: bool = False):
    """(forward_backward(params, x, y) -> (loss, output), update()) for one training step:
    gradients land in each parameter's ``.grad``. Pasted verbatim into repro folders."""
    import torch

    def loss_and_output(params, x, y):
        cast = contextlib.nullcontext() if autocast_dtype is None else \
            torch.autocast(device_type, dtype=autocast_dtype)
        with cast:
            out = forward(params, x)
        if autocast_dtype is not None:
            out = out.float()  # the loss in float32, outside autocast
        return loss(out, y), out

    def update():
        optimizer.step()

    if compiled:
        # torch.optim's step opens a profiler range, which dynamo drops with a warning on
        # every new graph: noise in a report, nothing to do with the numbers
        logging.getLogger("torch._dynamo.variables.ctx_manager").setLevel(logging.ERROR)
        loss_and_output = torch.compile(loss_and_output, fullgraph=True)
        update = torch.compile(update)

    def forward_backward(params, x, y):
        optimizer.zero_grad()
        value, out = loss_and_output(params, x, y)
        value.backward()
        return value, out
    return forward_backward, update


def compiler_problem(device_type: str) -> str | None:
    """Why torch.compile's inductor cannot build kernels here; None when it can."""
    if device_type == "cuda":
        import torch.utils._triton as triton

        return None if triton.has_triton() else \
            "torch.compile on CUDA needs triton, which is not installed (pip install triton)"
    wanted = os.environ.get("CXX")
    found = [c for c in ([wanted] if wanted else ["g++", "c++", "clang++"]) if shutil.which(c)]
    if found:
        return None
    return ("torch.compile's inductor needs a C++ compiler on the CPU, and none was found "
            f"({'CXX=' + wanted if wanted else 'no g++, c++ or clang++ on PATH'}); install "
            "g++ or set CXX")


@lru_cache(maxsize=None)
def implementation_problem(optimizer: str, settings: tuple, implementation: str,
                           device: str, dtype: str) -> str | None:
    """Why torch.optim has no ``implementation`` of the optimizer with these settings on the
    device and dtype; None when it has. Asked of torch by building it and taking one step on a
    small tensor: what torch refuses is a skip with torch's own words."""
    import torch

    from ..format.case import OptimizerSpec

    spec = OptimizerSpec(optimizer, dict(settings))
    param = torch.zeros(2, dtype=getattr(torch, dtype), device=device, requires_grad=True)
    param.grad = torch.ones_like(param)
    try:
        optimizer_of(spec, [param], implementation).step()
    except (TypeError, RuntimeError, ValueError) as exc:
        said = (str(exc).splitlines() or [""])[0][:240]
        return (f"torch.optim has no {implementation} {optimizer} for {dtype} on {device} in "
                f"torch {torch.__version__}: {type(exc).__name__}: {said}")
    return None


def mode_problem(mode: str | None, case: Case, device_type: str) -> str | None:
    """Why the mode cannot run the case here (a skip); None when it can. First in any mode: a
    function this torch lacks (harness.adapters.torch_ops.lacking)."""
    missing = lacking(case)
    if missing:
        return missing
    if mode == COMPILE:
        return compiler_problem(device_type)
    if mode in IMPLEMENTATIONS:
        form = numerics.of(case.dtype)
        settings = tuple(sorted(case.optimizer.settings.items()))
        return implementation_problem(case.optimizer.name, settings, mode, device_type,
                                      form.storage)
    return None


def autocast_dtype(case: Case):
    """The torch dtype autocast computes in under mixed precision; None otherwise."""
    import torch

    form = numerics.of(case.dtype)
    return getattr(torch, form.compute) if form.mixed else None


def describe(mode: str | None, case: Case, device_type: str) -> tuple[str, ...]:
    """What the step ran as, for the trace's notes (and so run.json and report.md)."""
    import torch

    form = numerics.of(case.dtype)
    default = "foreach" if device_type == "cuda" else "for-loop"
    how = {None: f"eager; torch.optim's default implementation (the {default} one here)",
           COMPILE: ("torch.compile (inductor, fullgraph) of the forward and loss, its backward "
                     "by AOTAutograd, and of the optimizer's step"),
           "forloop": "eager; torch.optim's for-loop implementation (foreach=False)",
           "foreach": "eager; torch.optim's foreach implementation (foreach=True)",
           "fused": "eager; torch.optim's fused implementation (fused=True)"}[mode]
    if form.mixed:
        numbers = (f"{form.name}: float32 parameters and optimizer state; the forward under "
                   f"torch.autocast({device_type!r}, dtype=torch.{form.compute}), the output "
                   f"cast to float32 for the loss")
    elif form.low:
        numbers = (f"{form.name}: parameters, data and optimizer state in {form.compute}; "
                   f"torch accumulates its matrix products and reductions in float32")
    else:
        numbers = f"{form.name} throughout"
    return (f"torch {torch.__version__}: {how}", numbers)

