"""Tolerances: what "agrees" means, per dtype.

An element passes when |a − r| ≤ atol + rtol·|r| + scale_rtol·scale, where scale is the largest
finite |r| among the reference tensors of the same quantity and step (all gradients of a step
together; all updated parameters together; the output; the loss). That last term scales the
absolute allowance with the numbers involved, so a tiny gradient is not passed by a fixed floor
(torch.testing's float32 atol of 1e-5 would pass anything on gradients of 1e-8). It also keeps a
small element honest about where its rounding comes from: a bias gradient that is a near-cancelling
sum over the batch carries the rounding error of its terms, which are as large as the gradients
around it, not as small as the result.

Measured agreement (shared design notes): float32 frameworks agree within ~2e-7 of a tensor's
largest value, float64 within ~1e-16; the defaults leave one to two orders of margin for deeper
networks and multi-step trajectories, and are still far below any real derivative bug.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    scale_rtol: float

    def allowed(self, reference: np.ndarray, scale: float | None = None) -> tuple[float, np.ndarray]:
        """(effective absolute allowance, per-element allowance) for a reference tensor.

        ``scale`` defaults to the tensor's own largest finite magnitude.
        """
        if scale is None:
            scale = magnitude(reference)
        atol = self.atol + self.scale_rtol * scale
        return atol, atol + self.rtol * np.abs(reference)

    def updated(self, overrides: dict[str, float]) -> "Tolerance":
        return replace(self, **overrides)


def magnitude(*tensors: np.ndarray) -> float:
    """The largest finite |value| over ``tensors`` (0 when there is none)."""
    finite = [np.abs(t[np.isfinite(t)]) for t in map(np.asarray, tensors)]
    return max((float(f.max()) for f in finite if f.size), default=0.0)


DEFAULTS: dict[str, Tolerance] = {
    "float32": Tolerance(atol=float(np.finfo(np.float32).tiny), rtol=1e-5, scale_rtol=1e-5),
    "float64": Tolerance(atol=float(np.finfo(np.float64).tiny), rtol=1e-10, scale_rtol=1e-12),
}

KEYS = ("atol", "rtol", "scale_rtol")
