"""Who is wrong: which parties agree with each other on each compared tensor.

Every party computes independently (the reference, each framework, each --impl file; golden
values for the first step), so when one comparison fails the others can say which side is
wrong. For a tensor at a step, each pair of parties agrees when every element is within the
looser of their two tolerances, judged symmetrically. The *majority* is the largest group of
parties that agree with one party, when it holds more than half of them and at least two. A
failing row's suspect is whichever of its two sides lies outside that majority: the framework,
the reference, ``expected`` (a golden value), or ``unclear`` when there is no majority (two
parties alone can never settle it) or both sides are inside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..format.parties import UNCLEAR
from .tolerance import Tolerance


@dataclass(frozen=True)
class Vote:
    """One party's value of one tensor at one step, and the tolerance it is judged with."""

    party: str
    value: np.ndarray
    tolerance: Tolerance


def agree(a: Vote, b: Vote, scale: float, magnitude: np.ndarray | None,
          bound: np.ndarray | None = None) -> bool:
    """Symmetric agreement: |a − b| within the looser tolerance, relative to the larger side.
    Non-finite values agree only with the very same non-finite values. Two low-precision
    parties may each be off the exact value by the rounding ``bound``: twice it between them."""
    x, y = np.asarray(a.value, dtype=np.float64), np.asarray(b.value, dtype=np.float64)
    if x.shape != y.shape:
        return False
    tol = a.tolerance.loosest(b.tolerance)
    finite = np.isfinite(x) & np.isfinite(y)
    same_nonfinite = ~finite & ((x == y) | (np.isnan(x) & np.isnan(y)))
    if not np.all(finite | same_nonfinite):
        return False
    x, y = np.where(finite, x, 0.0), np.where(finite, y, 0.0)
    _, allowed = tol.allowed(np.maximum(np.abs(x), np.abs(y)), scale, magnitude,
                             bound=None if bound is None else 2 * bound)
    return bool(np.all(np.abs(x - y) <= allowed))


def majority(votes: list[Vote], scale: float, magnitude: np.ndarray | None,
             bound: np.ndarray | None = None) -> list[str] | None:
    """The parties agreeing with the best-connected party, when they are more than half of all
    (and at least two); None when no group is."""
    if len(votes) < 2:
        return None
    agrees = {(a.party, b.party): agree(a, b, scale, magnitude, bound)
              for i, a in enumerate(votes) for b in votes[i + 1:]}
    groups = []
    for a in votes:
        group = [b.party for b in votes if b.party == a.party
                 or agrees.get((a.party, b.party), agrees.get((b.party, a.party)))]
        groups.append(group)
    best = max(groups, key=len)  # the first of the largest: parties come in a fixed order
    return best if len(best) >= 2 and len(best) > len(votes) / 2 else None


def blame(subject: str, against: str, agreeing: list[str] | None) -> str:
    """The suspect of a failed comparison of ``subject`` against ``against``."""
    if agreeing is None:
        return UNCLEAR
    inside = subject in agreeing, against in agreeing
    if inside == (True, False):
        return against
    if inside == (False, True):
        return subject
    if inside == (False, False):
        return f"{subject} {against}"  # both differ from the majority
    return UNCLEAR  # both agree with the majority, not with each other: a borderline case
