"""What an adapter returns: per step, the output, loss, gradients and updated parameters."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Step:
    """One training step, all float64 NumPy arrays in canonical names and layouts.

    ``output`` and ``loss`` are computed at the parameters the step starts from, ``grads`` are the
    gradients of that loss, and ``params`` are the parameters after the optimizer's update.
    """

    output: np.ndarray
    loss: np.ndarray
    grads: dict[str, np.ndarray]
    params: dict[str, np.ndarray]

    def tensors(self) -> list[tuple[str, str, np.ndarray]]:
        """(quantity, tensor name, value) in report order."""
        out = [("output", "output", self.output), ("loss", "loss", self.loss)]
        out += [("grad", name, value) for name, value in self.grads.items()]
        out += [("param", name, value) for name, value in self.params.items()]
        return out


@dataclass(frozen=True)
class Trace:
    framework: str
    steps: list[Step]
    notes: tuple[str, ...] = field(default=())  # e.g. ops added to micrograd, dtype caveats
    # seconds by phase ("compile", …) for benchmarks/speed.py; never in a report, which must
    # not depend on which worker compiled a program first
    timings: dict[str, float] = field(default_factory=dict, compare=False)


def as_float64(value) -> np.ndarray:
    """A framework's array (or scalar) as a fresh float64 NumPy array."""
    return np.array(np.asarray(value), dtype=np.float64)  # np.array copies; asarray suits torch
