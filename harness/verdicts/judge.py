"""The judge of each party in a case run: its tolerance, where that came from, and the evidence.

A plan makes one :class:`Judges` per (case, dtype). It knows, for every party (against the
reference's trajectory, or against golden values), the tolerance that party is judged with and where it came from (:class:`ToleranceSource`, data,
not words). Once the reference has run, it holds the :class:`Evidence` of the reference's
trajectory: per step, the scale of each quantity, the magnitudes (harness.verdicts.magnitude)
and the inherited allowances (harness.verdicts.inherited). The comparator, consensus, the
oracles, golden values, repro folders and report.md all read these; nothing works them out again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..format import numerics
from ..format.case import Case, Inputs
from ..format.trace import Trace
from .inherited import Allowances, trajectory_allowances
from .magnitude import Magnitudes, trace_magnitudes
from .rounding import Bounds, TrajectoryRounding
from .tolerance import DEFAULTS, Tolerance, ToleranceSource, largest

def source_of(case: Case, dtype: str, party: str | None = None,
              expected: bool = False) -> ToleranceSource:
    """Where ``party``'s tolerance in ``case`` comes from (the case's alone without a party)."""
    own = party is not None and bool(case.party_overrides(party, dtype))
    return ToleranceSource(dtype, case=bool(case.tolerance.get(dtype)) or own,
                           party=party if own else None,
                           expected=expected and bool(case.expected and case.expected.tolerance))


def tolerance_of(case: Case, dtype: str, party: str | None = None,
                 expected: bool = False) -> Tolerance:
    """Defaults for the dtype, then the case's keys, then the party's own, then (``expected``)
    the golden values' own."""
    tolerance = DEFAULTS[dtype].updated(case.tolerance.get(dtype, {}))
    if party is not None:
        tolerance = tolerance.updated(case.party_overrides(party, dtype))
    if expected and case.expected is not None:
        tolerance = tolerance.updated(case.expected.tolerance)
    return tolerance


def scales_of(tensors: Iterable[tuple[str, str, np.ndarray]]) -> dict[str, float]:
    """quantity -> the largest finite |value| over its tensors: the scale of a step."""
    groups: dict[str, list[np.ndarray]] = {}
    for quantity, _, value in tensors:
        groups.setdefault(quantity, []).append(value)
    return {quantity: largest(*values) for quantity, values in groups.items()}


@dataclass(frozen=True)
class Evidence:
    """What a reference (a trajectory, or golden values) says about the size of each tensor,
    per step: the scale of each quantity, magnitudes, and inherited allowances."""

    scales: tuple[dict[str, float], ...]
    magnitudes: tuple[Magnitudes, ...] = ()
    inherited: tuple[Allowances, ...] = ()
    rounding: tuple[Bounds, ...] = ()  # low precision only (harness.verdicts.rounding)

    @classmethod
    def of_trajectory(cls, case: Case, inputs: Inputs, reference: Trace,
                      tolerance: Tolerance) -> "Evidence":
        """The evidence of the reference's trajectory (``case`` narrowed to one dtype);
        ``tolerance`` sizes what later steps inherit."""
        magnitudes = trace_magnitudes(case, inputs, reference)
        rounding = TrajectoryRounding(case, inputs) if numerics.of(case.dtype).low else None
        inherited = trajectory_allowances(case, inputs, reference, magnitudes, tolerance,
                                          rounding)
        return cls(tuple(scales_of(step.tensors()) for step in reference.steps),
                   tuple(magnitudes), tuple(inherited),
                   tuple(rounding.bounds) if rounding is not None else ())

    @classmethod
    def of_golden(cls, tensors: list[tuple[str, str, np.ndarray]],
                  first_step: Magnitudes | None) -> "Evidence":
        """Golden first-step values: their own scales, the trajectory's first magnitudes."""
        return cls((scales_of(tensors),), (first_step,) if first_step is not None else ())

    def scale(self, step: int, quantity: str) -> float | None:
        return self.scales[step - 1].get(quantity) if step <= len(self.scales) else None

    def magnitude(self, step: int, quantity: str, tensor: str) -> np.ndarray | None:
        return self.magnitudes[step - 1].get((quantity, tensor)) \
            if step <= len(self.magnitudes) else None

    def inherited_at(self, step: int, quantity: str, tensor: str) -> np.ndarray | None:
        return self.inherited[step - 1].get((quantity, tensor)) \
            if step <= len(self.inherited) else None

    def rounding_at(self, step: int, quantity: str, tensor: str) -> np.ndarray | None:
        return self.rounding[step - 1].get((quantity, tensor)) \
            if step <= len(self.rounding) else None


@dataclass(frozen=True)
class Judge:
    """How one party's tensors are judged against one other party in one case run."""

    tolerance: Tolerance
    source: ToleranceSource
    evidence: Evidence | None = field(default=None, compare=False, repr=False)

    def allowance(self, step: int, quantity: str, tensor: str,
                  reference: np.ndarray) -> tuple[float, np.ndarray]:
        """(absolute part, per-element allowance) of one reference tensor at one step, every
        term together, as the comparator uses it."""
        evidence = self.evidence
        if evidence is None:
            return self.tolerance.allowed(reference)
        return self.tolerance.allowed(reference, evidence.scale(step, quantity),
                                      evidence.magnitude(step, quantity, tensor),
                                      evidence.inherited_at(step, quantity, tensor),
                                      evidence.rounding_at(step, quantity, tensor))


class Judges:
    """Every judge of one (case, dtype): made when the plan is made; the evidence joins once
    the reference has run (:meth:`weigh`)."""

    def __init__(self, case: Case, dtype: str):
        self.case, self.dtype = case, dtype
        self.trajectory: Evidence | None = None
        self.golden: Evidence | None = None
        self._judges: dict[tuple[str | None, bool], Judge] = {}  # each made once

    def weigh(self, inputs: Inputs, reference: Trace) -> None:
        """Take the evidence of the reference's trajectory (and of any golden values)."""
        case = self.case.for_dtype(self.dtype)
        self.trajectory = Evidence.of_trajectory(case, inputs, reference,
                                                 tolerance_of(self.case, self.dtype))
        if self.case.expected is not None:
            first = self.trajectory.magnitudes[0] if self.trajectory.magnitudes else None
            self.golden = Evidence.of_golden(self.case.expected.tensors(), first)
        self._judges.clear()  # made again once, with the evidence

    def of(self, party: str, golden: bool = False) -> Judge:
        """The judge of ``party``: against the reference's trajectory, or (``golden``) against
        the case's golden values. An oracle is judged under its own name."""
        return self._judge(party, golden)

    def of_golden_values(self) -> Judge:
        """The golden values' own judge, as one party among others (consensus)."""
        return self._judge(None, True)

    def _judge(self, party: str | None, golden: bool) -> Judge:
        key = (party, golden)
        if key not in self._judges:
            self._judges[key] = Judge(tolerance_of(self.case, self.dtype, party, golden),
                                      source_of(self.case, self.dtype, party, golden),
                                      self.golden if golden else self.trajectory)
        return self._judges[key]
