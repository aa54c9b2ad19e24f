"""``--shard K/N``: the (case, dtype) plans split into N parts, the same way on every machine.

The partition is a function of each case alone, never of the other cases, so that adding a
case (or running a checkout that has one more) moves no other plan, and shard runs from two
checkouts of a pull request still merge without overlap (harness.reports.merge):

- the case's name is hashed (SHA-256, then Lamping and Veach's jump consistent hash) to a base
  shard; going from N to N+1 shards moves about 1/(N+1) of the bases, all to the new shard;
- the case's dtypes, in name order, go to the base shard and the ones after it, round the
  circle: a case's plans cost alike (a large network is large in each dtype), and two heavy
  plans of one case never share a shard while another has neither;
- an ``--impl`` file's seeded variants of a (case, dtype) run in that plan's shard (the command
  line makes them after running it; pytest keys them by the case they were made from).

What it does not do is balance by cost. Whatever costs are known, a rule that places each
case from the case alone gives every shard 1/N of the expected cost, and the spread around it
(the sum of the squared plan costs) cannot be narrowed without looking at the other cases:
that is a greedy, cost-sorted assignment, which balances the shipped suite's 4 shards to
within a percent and moves 60 of its 136 plans when one case is added. :func:`estimated_cost`
(fitted to measured plan times) measures the balance instead; docs/ci.md gives the figures.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from ..format.case import Case
from ..format.errors import UsageError
from ..format.parties import mode_of

MAX_SHARDS = 10_000  # more shards than any CI matrix runs; beyond it, a mistake
_FORM = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*\Z")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, case: Case, dtype: str) -> bool:
        """Whether the plan (case, dtype) is this shard's: a variant's is the plan it was made
        from."""
        return plan_shards(origin(case), case.dtypes, self.count).get(dtype) == self.index


def parse(text: str | None, option: str = "--shard") -> Shard | None:
    """``K/N`` with 1 <= K <= N, or None when not given; a UsageError naming ``option``."""
    if text is None:
        return None
    found = _FORM.match(str(text))
    index, count = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    if not 1 <= index <= count:  # the words of `fuzz --shard` (harness.tools.fuzz)
        raise UsageError(f"{option} {text}: expected K/N, whole numbers with 1 ≤ K ≤ N, such "
                         "as 2/4 (shard K of N)")
    if count > MAX_SHARDS:
        raise UsageError(f"{option} {text}: expected at most {MAX_SHARDS:,} shards")
    return Shard(index, count)


def origin(case: Case) -> str:
    """The name a case is placed by: its own, or the case a variant was made from."""
    return case.variant_of[0] if case.variant_of else case.name


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def jump(key: int, count: int) -> int:
    """Jump consistent hash (Lamping and Veach, 2014): a bucket in [0, count) for a 64-bit key;
    from ``count`` to ``count + 1`` buckets, a key moves only to the new bucket, with
    probability 1/(count + 1). Integer and double arithmetic alike on every machine."""
    bucket, step = -1, 0
    while step < count:
        bucket = step
        key = (key * 2862933555777941757 + 1) & 0xFFFF_FFFF_FFFF_FFFF
        step = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def plan_shards(name: str, dtypes: Iterable[str], count: int) -> dict[str, int]:
    """The shard (1-based) of each plan (``name``, dtype): from a base shard hashed from the
    name, the dtypes in name order one shard apart."""
    base = jump(_key(name), count)
    return {dtype: (base + offset) % count + 1
            for offset, dtype in enumerate(sorted(set(dtypes)))}


def select(cases: Sequence[Case], shard: Shard | None) -> list[Case]:
    """The cases narrowed to the dtypes whose plans are ``shard``'s (a case with none is left
    out); every case as it is without a shard."""
    if shard is None:
        return list(cases)
    chosen = []
    for case in cases:
        dtypes = tuple(d for d in case.dtypes if shard.holds(case, d))
        if dtypes:
            chosen.append(case if dtypes == case.dtypes else replace(case, dtypes=dtypes))
    return chosen


# -- balance --------------------------------------------------------------------------------
def estimated_cost(case: Case, parties: Sequence[str]) -> float:
    """Seconds one plan of ``case`` with these parties (and the reference) takes on the 2-core
    development machine, JAX compiling afresh: a non-negative least-squares fit to the shipped
    suite's measured plan times, which it explains to R² 0.57 (docs/ci.md). For measuring the
    balance only: no plan is placed by it."""
    from ..adapters.micrograd_adapter import MAX_NODES, estimated_nodes

    widths = [case.x.shape[1]] + [layer.units for layer in case.layers]
    weights = sum(fan_in * units + units for fan_in, units in zip(widths, widths[1:]))
    runs = len(parties) + 1
    nodes = estimated_nodes(case) if "micrograd" in parties else 0
    return (1.6 * sum(mode_of(p) == "compile" for p in parties)
            + 6.7e-6 * (nodes if nodes <= MAX_NODES else 0)
            + 0.39e-7 * case.steps * case.batch * weights * runs
            + 0.28 * runs * (2 in case.orders) + 0.056 * len(case.layers) * runs)


def loads(plans: Iterable[tuple[Case, str, float]], count: int) -> list[float]:
    """Each shard's summed cost of ``(case, dtype, cost)`` plans."""
    totals = [0.0] * count
    for case, dtype, cost in plans:
        totals[plan_shards(origin(case), case.dtypes, count)[dtype] - 1] += cost
    return totals
