"""The record of a run: what a report needs beyond its rows, as plain JSON-able data.

Reports are made from rows plus this record and never from live adapters, so a report folder
can be re-rendered (``python -m harness report DIR``) or compared on a machine without the
frameworks. This module is the only one that looks the frameworks up for it.
"""
from __future__ import annotations

import platform
from dataclasses import asdict
from datetime import datetime, timezone

from .. import __version__
from ..adapters import adapter_names, get_adapter
from ..format.parties import EXPECTED
from ..verdicts.judge import Judges
from ..verdicts.known_discrepancies import out_of_range, outcomes


def environment() -> list[list[str]]:
    """[component, version] for the report header; frameworks are looked up, not imported."""
    items = [["harness", __version__], ["python", platform.python_version()]]
    for name in adapter_names():
        available = get_adapter(name).availability()
        items.append([name, available.version if available.available else "not installed"])
    items.append(["platform", platform.platform()])
    return items


def run_entry(run) -> dict:
    """What the report needs to know about one (case, dtype) besides its rows."""
    case = run.case
    known: dict[str, list[str]] = {}
    for k in case.known_discrepancies:
        # one outside its version range is not applied: its cause is not listed
        if k.dtype in (None, run.dtype) and out_of_range(k) is None:
            # under the declaration's own name, and under each party of the run it covers
            # (a declaration for jax covers jax@gpu too)
            for party in dict.fromkeys([k.party] + [p for p in run.notes if k.applies_to(p)]):
                known.setdefault(party, []).append(k.reason + (f" ({k.link})" if k.link else ""))
    entry = {"case": case.name, "file": case.file, "dtype": run.dtype, "steps": case.steps,
             "warnings": list(case.warnings), "known": known,
             "notes": {framework: list(notes) for framework, notes in run.notes.items()}}
    if case.known_discrepancies:  # each with its status: python -m harness known reads them
        entry["declarations"] = outcomes(case, run.dtype, run.rows)
    # the whole tolerance of each party the case set one for (report.md lists them): rows
    # carry atol only with the scale term added
    judges = Judges(case, run.dtype)
    judged = dict.fromkeys((r.framework, r.reference == EXPECTED) for r in run.rows
                           if r.reference in (run.reference, EXPECTED))
    entry["tolerances"] = []
    for party, golden in judged:
        judge = judges.of(party, golden)
        if judge.source.overridden:
            entry["tolerances"].append({"party": party, "source": str(judge.source),
                                        **asdict(judge.tolerance)})
    if case.variant_of:  # a variant (harness.running.variants): what it varies and how
        entry["variant_of"], entry["origin"] = case.variant_of
        entry["description"] = case.description
    return entry


def make_record(entries: list[dict], *, reference: str, frameworks: list[str],
                options: dict | None = None) -> dict:
    """The record of a run from its per-(case, dtype) entries (see :func:`run_entry`).
    ``frameworks``: the reference first, then the parties; each once (the reference is often a
    party too, checked against golden values)."""
    return {"format": 2, "generated": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
            "environment": environment(), "reference": reference,
            "frameworks": list(dict.fromkeys(frameworks)), "options": dict(options or {}),
            "runs": entries}
