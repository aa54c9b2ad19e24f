"""Matrix-product precision: the setting that most changes float32 results on a GPU.

``default`` leaves each framework's own defaults, what its users get (on a GPU, JAX's float32
matrix products are reduced-precision; torch's are full precision unless TF32 is allowed).
``highest`` asks for full float32 products: torch's float32 matmul precision "highest" with TF32
off, and JAX's ``jax.default_matmul_precision("highest")`` while the step is traced and compiled.
torch's settings are global to the process: they are set around one run and restored, so
nothing leaks into the next case a worker runs. Each adapter records what was in force in its
trace's notes, which reach run.json and report.md.

A case may set ``precision:``; ``--precision`` (``--harness-precision``) applies to the cases
that do not, so a case written about one precision keeps it.
"""
from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Iterator

from ..format.case import DEFAULT, HIGHEST



def effective(case) -> str:
    return getattr(case, "precision", None) or DEFAULT


def apply_option(cases: list, option: str | None) -> list:
    """The cases with ``option`` filled in where a case does not set its own precision."""
    if option is None:
        return cases
    return [c if c.precision else replace(c, precision=option) for c in cases]


@contextlib.contextmanager
def torch_precision(precision: str) -> Iterator[None]:
    """torch's float32 matmul precision and TF32 switches for one run, restored after."""
    import torch

    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = (torch.get_float32_matmul_precision(), matmul.allow_tf32, cudnn.allow_tf32)
    try:
        if precision == HIGHEST:
            # "highest" also turns matmul.allow_tf32 off; setting that flag by hand after the
            # new API mixes the two, which torch >= 2.9 refuses on the next read
            torch.set_float32_matmul_precision("highest")
            cudnn.allow_tf32 = False
        yield
    finally:
        cudnn.allow_tf32 = saved[2]
        torch.set_float32_matmul_precision(saved[0])
        if matmul.allow_tf32 != saved[1]:  # set by hand apart from the precision
            matmul.allow_tf32 = saved[1]


def torch_notes(device) -> str:
    """What changes torch's results, as in force now."""
    import torch

    where = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    return (f"device {device}{where}; torch.get_float32_matmul_precision()="
            f"{torch.get_float32_matmul_precision()}, torch.backends.cuda.matmul.allow_tf32="
            f"{torch.backends.cuda.matmul.allow_tf32}, torch.backends.cudnn.allow_tf32="
            f"{torch.backends.cudnn.allow_tf32}")


def jax_precision(precision: str):
    """A context in which JAX traces and compiles at ``precision`` (nothing for default)."""
    import jax

    if precision == HIGHEST:
        return jax.default_matmul_precision("highest")
    return contextlib.nullcontext()


def jax_notes(device) -> str:
    import jax

    kind = "" if device.device_kind == device.platform else f" ({device.device_kind})"
    return (f"device {device.platform}{kind}; "
            f"jax_default_matmul_precision={jax.config.jax_default_matmul_precision}")
