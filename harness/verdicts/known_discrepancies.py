"""Known discrepancies: failures a case declares, with their cause, become xfail; a declaration
whose comparisons all pass becomes xpass, "fixed upstream: remove this declaration" with its
file and line, so stale entries get noticed.

Trajectories run free, so a declared difference changes what is computed from it: failures later
in the same step (a wrong gradient moves the parameters) and at every later step of the same
framework and dtype are xfail as its consequence.

A declaration with a version range (``versions: "torch<2.15"``; harness.format.versions) holds
only where the installed version is in it: elsewhere it is not applied, and the run's record
says so (:func:`outcomes`).
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import replace

from ..format.case import Case, KnownDiscrepancy
from ..format.catalog import QUANTITIES
from ..format.parties import SELF
from .compare import FAIL, INCONCLUSIVE, NON_FINITE_REFERENCE, PASS, XFAIL, XPASS, Context, Row

# a declaration's status in a run (run.json's declarations; python -m harness known)
OCCURRED, FIXED, NOT_APPLIED, NOT_RUN, UNDECIDED = (
    "occurred", "fixed", "not applied", "not run", "inconclusive")
STATUSES = (OCCURRED, FIXED, NOT_APPLIED, NOT_RUN, UNDECIDED)
FIXED_UPSTREAM = "fixed upstream: remove this declaration"


def installed(package: str) -> str | None:
    """The installed version of a package, or of the framework a party names (its adapter says:
    a plug-in's framework may be packaged under another name); None when it is not installed.
    Looked up, never imported."""
    from ..adapters import FRAMEWORKS, get_adapter

    if package in FRAMEWORKS:
        available = get_adapter(package).availability()
        return available.version if available.available else None
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def out_of_range(known: KnownDiscrepancy) -> str | None:
    """Why a declaration is not applied here, naming the installed version ("torch 2.13.0 is
    outside torch<2.13"); None when it is (no range, or the installed version within it)."""
    if known.versions is None:
        return None
    package = known.versions.package or known.framework
    version = installed(package)
    if version is None:
        return f"{package} is not installed here, so its range {known.versions} cannot be judged"
    inside = known.versions.contains(version)
    if inside is None:
        return f"{package} {version} has no release number to compare with {known.versions}"
    return None if inside else f"{package} {version} is outside {known.versions}"


def where(case: Case, known: KnownDiscrepancy) -> str:
    """file:line of a declaration (the file alone when its line is not known)."""
    return f"{case.file}:{known.line}" if known.line else case.file


def _describe(known: KnownDiscrepancy) -> str:
    link = f" ({known.link})" if known.link else ""
    return f"known discrepancy: {known.reason}{link}"


def applied(case: Case, party: str, dtype: str) -> list[KnownDiscrepancy]:
    """The declarations that hold for a party in a dtype here: theirs, and within range."""
    return [k for k in case.known_discrepancies if k.applies_to(party)
            and k.dtype in (None, dtype) and out_of_range(k) is None]


def apply_known(case: Case, ctx: Context, rows: list[Row]) -> list[Row]:
    """Rows of one (case, dtype, framework, reference) with its declarations applied."""
    declared = applied(case, ctx.framework, ctx.dtype)
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
                                status=XPASS, message=(
                                    f"remove this declaration ({where(case, known)}): "
                                    f"{_describe(known)}: declared, but it matches no "
                                    "comparison of this run")))
            continue
        for i in matching:
            if rows[i].status == PASS:
                rows[i] = replace(rows[i], status=XPASS, message=(
                    f"{FIXED_UPSTREAM} ({where(case, known)}): {_describe(known)}: declared, "
                    "but it did not occur"))
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


def scope(known: KnownDiscrepancy) -> str:
    """What a declaration covers, in words: "grad layers.0.*, float32, steps 2, 3"."""
    said = [" ".join(x for x in (known.quantity, known.tensor) if x)]
    if known.dtype:
        said.append(known.dtype)
    if known.steps:
        said.append("step" + ("s " if len(known.steps) > 1 else " ") +
                    ", ".join(map(str, known.steps)))
    if known.from_step:
        said.append(f"from step {known.from_step}")
    return ", ".join(said)


def _status(known: KnownDiscrepancy, party: str, dtype: str, rows: list[Row]) -> str:
    if not any(r.step is not None for r in rows):
        return NOT_RUN  # skipped, or failed whole: it compared nothing
    matching = [r for r in rows if (r.step is not None and r.quantity and known.matches(
        party, dtype, r.quantity, r.tensor, r.step)) or (r.step is None and r.status == XPASS
                                                         and r.quantity == (known.quantity or "")
                                                         and r.tensor == (known.tensor or ""))]
    if any(r.status == XFAIL for r in matching):
        return OCCURRED
    if any(r.status == XPASS for r in matching):
        return FIXED
    return UNDECIDED


def outcomes(case: Case, dtype: str, rows: list[Row]) -> list[dict]:
    """Each declaration of a (case, dtype) run, once per party of the run it covers (or once,
    under its own name, when the run had none): where it is, what it covers, and its status
    (occurred, fixed, not applied, not run, inconclusive) with what to say about it. Plain
    data, for run.json (harness.reports.record) and ``python -m harness known``."""
    parties = list(dict.fromkeys(r.framework for r in rows if r.reference != SELF))
    out = []
    for known in case.known_discrepancies:
        if known.dtype not in (None, dtype):
            continue
        why = out_of_range(known)
        for party in [p for p in parties if known.applies_to(p)] or [known.party]:
            mine = [r for r in rows if r.framework == party and r.reference != SELF]
            status = NOT_APPLIED if why else _status(known, party, dtype, mine)
            said = next((r.message for r in mine if r.step is None and r.message), "")
            detail = why or {FIXED: f"{FIXED_UPSTREAM} ({where(case, known)})",
                             NOT_RUN: f"{party} did not run" + (f": {said}" if said else "")
                             if mine else f"{party} was not in the run"}.get(status, "")
            out.append({"line": known.line, "party": party, "declared": known.party,
                        "scope": scope(known), "reason": known.reason, "link": known.link,
                        "versions": None if known.versions is None else str(known.versions),
                        "status": status, "detail": detail})
    return out


def xpasses(rows: list[Row]) -> list[str]:
    """Each declaration that did not occur (xpass) once per case, dtype and party, with what its
    rows say ("fixed upstream: remove this declaration (FILE:LINE): …"): the terminal's lines,
    pytest's summary, and what --strict-known fails on."""
    return list(dict.fromkeys(f"{r.case} [{r.dtype}-{r.framework}]: {r.message}"
                              for r in rows if r.status == XPASS))
