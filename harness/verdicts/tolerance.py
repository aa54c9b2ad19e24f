"""Tolerances: what "agrees" means, per dtype.

An element passes when

    |a − r| ≤ atol + rtol·|r| + scale_rtol·scale + sum_rtol·magnitude

- ``rtol·|r|`` is the rounding of the result itself;
- ``scale`` is the largest finite |r| among the reference tensors of the same quantity and step
  (all gradients of a step together, …): a tiny gradient is judged against the sizes around it,
  not passed by a fixed absolute floor (torch.testing's float32 atol of 1e-5 would pass anything
  on gradients of 1e-8);
- ``magnitude`` is the size of what was summed to make this element, carried through the whole
  computation (harness.verdicts.magnitude): a sum of terms near 0.5 that cancels to 5e-4 carries the
  rounding of its terms, not of its result. It is the a-priori bound of floating-point summation,
  |fl(Σx) − Σx| ≤ γ_n·Σ|x|, applied along the network (Higham, Accuracy and Stability of
  Numerical Algorithms, §3.1 and §3.5), with a constant measured rather than the worst case n·u.

Measured agreement (benchmarks/calibrate.py over generated cases): float32 frameworks differ by
at most a few units of 6e-8 times the magnitude, float64 by a few units of 1.1e-16; the defaults
leave an order of magnitude of margin, and are still far below any real derivative bug.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ..format import numerics


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    scale_rtol: float
    sum_rtol: float = 0.0
    rounding: float = 0.0  # times the low-precision rounding bound (harness.verdicts.rounding)

    def allowed(self, reference: np.ndarray, scale: float | None = None,
                magnitude: np.ndarray | None = None,
                extra: np.ndarray | None = None,
                bound: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """(effective absolute allowance, per-element allowance) for a reference tensor: the one
        place the terms are added up.

        ``scale`` defaults to the tensor's own largest finite magnitude; ``magnitude`` (per
        element, the size of what was summed to make it) adds sum_rtol·magnitude; ``extra`` (per
        element: what a step inherits, an oracle's own error bound) is added as it is;
        ``bound`` (per element, the rounding a low-precision computation adds) adds
        rounding·bound.
        """
        if scale is None:
            scale = largest(reference)
        atol = self.atol + self.scale_rtol * scale
        per_element = atol + self.rtol * np.abs(reference)
        if magnitude is not None and self.sum_rtol:
            per_element = per_element + self.sum_rtol * np.where(np.isfinite(magnitude),
                                                                 magnitude, 0.0)
        if extra is not None:
            per_element = per_element + np.where(np.isfinite(extra), extra, 0.0)
        if bound is not None and self.rounding:
            per_element = per_element + self.rounding * np.where(np.isfinite(bound), bound, 0.0)
        return atol, per_element

    def updated(self, overrides: dict[str, float]) -> "Tolerance":
        return replace(self, **overrides)

    def loosest(self, other: "Tolerance") -> "Tolerance":
        """Each key the larger of the two: what two parties with their own tolerances share."""
        return Tolerance(*(max(getattr(self, k), getattr(other, k)) for k in KEYS))


def largest(*tensors: np.ndarray) -> float:
    """The largest finite |value| over ``tensors`` (0 when there is none)."""
    finite = [np.abs(t[np.isfinite(t)]) for t in map(np.asarray, tensors)]
    return max((float(f.max()) for f in finite if f.size), default=0.0)


DEFAULTS: dict[str, Tolerance] = {
    "float32": Tolerance(atol=float(np.finfo(np.float32).tiny), rtol=5e-6, scale_rtol=5e-6,
                         sum_rtol=1e-6),
    "float64": Tolerance(atol=float(np.finfo(np.float64).tiny), rtol=1e-10, scale_rtol=1e-12,
                         sum_rtol=4e-15),
}

# Low precision: no per-dtype constants. Each element's allowance is ROUNDING_SIGMAS times the
# root-sum-square S of every rounding the computation makes on the way to it
# (harness.verdicts.rounding), plus the rounding of the result itself; float32 accumulation is
# inside S. A sum of independent roundings of mean zero has a standard deviation of at most
# S/√3, so 4·S is about 7 standard deviations. Mixed precision keeps float32's keys for its
# float32 parameters, and adds the same.
ROUNDING_SIGMAS = 4.0
for _low in numerics.LOW:
    DEFAULTS[_low] = Tolerance(atol=float(np.finfo(np.float32).tiny),
                               rtol=numerics.unit_roundoff(_low), scale_rtol=0.0, sum_rtol=0.0,
                               rounding=ROUNDING_SIGMAS)
    DEFAULTS[numerics.MIXED_PREFIX + _low] = replace(DEFAULTS["float32"], rounding=ROUNDING_SIGMAS)

KEYS = tuple(f.name for f in fields(Tolerance))  # as the case format's TOLERANCE_KEYS


# the words of report.csv's tolerance_source column, written and read back here alone
_FOR = "case, for "
_DEFAULT = " default"
_PLUS_EXPECTED = " + expected"
SELF_CHECK_SOURCE = "self-check default: finite differences of its own loss"


@dataclass(frozen=True)
class ToleranceSource:
    """Where a tolerance came from: the dtype's defaults, then the case's own keys, then a
    party's own keys (``party``), then the golden values' own (``expected``)."""

    dtype: str
    case: bool = False  # the case sets keys for this dtype, for every party or for this one
    party: str | None = None  # the party whose own keys apply, as it was asked for
    expected: bool = False  # golden values' own tolerance on top
    self_check: bool = False  # a self-check's own tolerance (harness.oracles.selfcheck)

    @property
    def overridden(self) -> bool:
        """Whether the case, rather than the defaults, set the tolerance of a framework's
        verdicts (report.md marks those †). Golden values' own tolerance does not count: it
        says how many digits a hand calculation carries, not how close frameworks must be."""
        return self.case or self.party is not None

    def __str__(self) -> str:
        """The words of report.csv's ``tolerance_source`` column."""
        if self.self_check:
            return SELF_CHECK_SOURCE
        text = f"{_FOR}{self.party}" if self.party else "case" if self.case \
            else f"{self.dtype}{_DEFAULT}"
        return text + (_PLUS_EXPECTED if self.expected else "")

    @classmethod
    def parse(cls, text: str, dtype: str) -> "ToleranceSource | None":
        """The source a report.csv's words say (a report folder read back); None for none."""
        if not text:
            return None
        if text == SELF_CHECK_SOURCE:
            return cls(dtype, self_check=True)
        expected = text.endswith(_PLUS_EXPECTED)
        base = text[:-len(_PLUS_EXPECTED)] if expected else text
        if base.startswith(_FOR):
            return cls(dtype, case=True, party=base[len(_FOR):], expected=expected)
        return cls(dtype, case=base == "case", expected=expected)
