"""Known discrepancies: failures a case declares, with their cause, become xfail; a declaration
whose comparisons all pass becomes xpass, so stale entries get noticed.

Trajectories run free, so a declared difference changes what is computed from it: failures later
in the same step (a wrong gradient moves the parameters) and at every later step of the same
framework and dtype are xfail as its consequence.
"""
from __future__ import annotations

from dataclasses import replace

from ..format.case import Case, KnownDiscrepancy
from ..format.catalog import QUANTITIES
from .compare import FAIL, INCONCLUSIVE, NON_FINITE_REFERENCE, PASS, XFAIL, XPASS, Context, Row


def _describe(known: KnownDiscrepancy) -> str:
    link = f" ({known.link})" if known.link else ""
    return f"known discrepancy: {known.reason}{link}"


def apply_known(case: Case, ctx: Context, rows: list[Row]) -> list[Row]:
    """Rows of one (case, dtype, framework, reference) with its declarations applied."""
    declared = [k for k in case.known_discrepancies
                if k.applies_to(ctx.framework) and k.dtype in (None, ctx.dtype)]
    # a party that was skipped or failed whole compared nothing: there is nothing to judge (a
    # GPU party on a machine without one must not turn its declarations into xpass)
    if not declared or not any(r.step is not None for r in rows):
        return rows
    rows = list(rows)
    for known in declared:
        matching = [i for i, r in enumerate(rows) if r.quantity and r.step is not None
                    and known.matches(ctx.framework, ctx.dtype, r.quantity, r.tensor, r.step)]
        # a declared difference where the reference is not finite is what the case expects
        failing = [i for i in matching if rows[i].status == FAIL or (
            rows[i].status == INCONCLUSIVE and rows[i].message.startswith(NON_FINITE_REFERENCE))]
        for i in failing:
            rows[i] = replace(rows[i], status=XFAIL,
                              message=f"{_describe(known)}; {rows[i].message}")
        if failing or (not matching and ctx.reference == "expected"):
            continue  # golden values cover a subset of tensors: the reference rows decide
        if not matching:
            rows.append(ctx.row(step=None, quantity=known.quantity or "", tensor=known.tensor or "",
                                status=XPASS, message=f"{_describe(known)}: declared, but it "
                                                      "matches no comparison of this run"))
            continue
        for i in matching:
            if rows[i].status == PASS:
                rows[i] = replace(rows[i], status=XPASS,
                                  message=f"{_describe(known)}: declared, but it did not occur")
    return _consequences(rows)


def _order(row: Row) -> tuple[int, int]:
    """Where a comparison stands in the training step: output, loss, grad, then param."""
    return row.step, QUANTITIES.index(row.quantity)


def _consequences(rows: list[Row]) -> list[Row]:
    """Failures after the first declared one follow from it: within its step, the quantities
    computed from it (a wrong gradient moves the parameters); and every later step, since
    trajectories run free."""
    declared = [r for r in rows if r.status == XFAIL and r.step is not None]
    if not declared:
        return rows
    cause = min(declared, key=_order)
    return [replace(r, status=XFAIL, message=f"follows from the known discrepancy in "
                                             f"{cause.quantity} {cause.tensor} at step "
                                             f"{cause.step}; {r.message}")
            if r.status == FAIL and r.step is not None and _order(r) > _order(cause) else r
            for r in rows]
