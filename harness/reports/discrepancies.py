"""report.md's Discrepancies and Inconclusive sections, as lines.

A discrepancy is told verdict first, as on the terminal (harness.reports.findings): who is
suspect and why, where in the step and in the network, then the failing tensors (the first
wrong step first), then the pattern of each failing tensor of that step. The comparisons that
could not be decided are listed by reason, so a run that "passed" with 31 of them says which.
"""
from __future__ import annotations

import re

from ..format.parties import EXPECTED, SELF
from ..verdicts.compare import ERROR, FAIL, INCONCLUSIVE, NON_FINITE_REFERENCE, Row
from ..verdicts.diagnose import tensor_hints, verdict
from ..verdicts.numbers import share
from .text import figures, md_code, md_text

INCONCLUSIVE_LINES = 20  # parties listed per reason; the rest are counted


def _against(reference: str) -> str:
    return "golden values" if reference == EXPECTED else \
        "finite differences" if reference == "fd" else \
        "finite differences of its own loss (self-check)" if reference == SELF else \
        f"the {md_text(reference)} reference"


def _table(group: list[Row]) -> list[str]:
    lines = ["| step | quantity | tensor | status | suspect | mismatched | worst index | "
             "reference | value | max abs | max rel | ULP | allowed | tolerance used |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in group:
        mismatched = "" if r.size is None else f"{r.mismatched}/{r.size}"
        lines.append(
            f"| {'' if r.step is None else r.step} | {md_text(r.quantity)} | "
            f"{md_text(r.tensor)} | {r.status} | {md_text(r.suspect)} | {mismatched} | "
            f"{md_text(r.worst_index)} | "
            f"{'' if r.reference_value is None else repr(r.reference_value)} | "
            f"{'' if r.value is None else repr(r.value)} | {figures(r.max_abs)} | "
            f"{figures(r.max_rel)} | {figures(r.ulp)} | {figures(r.allowed)} | "
            f"{share(r.tol_used)} |")
    return lines


def discrepancies_section(runs: list[dict], by_run: dict, frameworks: list[str]) -> list[str]:
    """## Discrepancies: per (case, dtype, party, compared against), verdict first."""
    lines = ["## Discrepancies", ""]
    told = False
    for entry in runs:
        run_rows = by_run.get((entry["case"], entry["dtype"]), [])
        for framework in frameworks:
            mine = [r for r in run_rows if r.framework == framework]
            for against in dict.fromkeys(r.reference for r in mine):
                group = [r for r in mine if r.reference == against and r.status in (FAIL, ERROR)]
                if group:
                    told = True
                    lines += _discrepancy(entry, framework, against, group, mine)
    if not told:
        lines += ["None.", ""]
    return lines


def _discrepancy(entry: dict, framework: str, against: str, group: list[Row],
                 mine: list[Row]) -> list[str]:
    lines = [f"### {md_text(entry['case'])} [{entry['dtype']}-{md_text(framework)}] "
             f"against {_against(against)}", "", f"File: {md_code(entry['file'])}", ""]
    if entry.get("variant_of"):
        lines += [md_text(entry.get("description", "")), ""]
    against_rows = [r for r in mine if r.reference == against]
    said = verdict(against_rows, [r for r in mine if r.reference == SELF])
    if said:
        lines += [f"Suspect: **{md_text(group[0].suspect or framework)}**. {md_text(said[0])}",
                  ""]
    if said[1:]:  # where in the step, where in the network: before the numbers
        lines += [f"- {md_text(sentence)}" for sentence in said[1:]] + [""]
    lines += _table(group)
    notes = [f"- error: {md_text(r.message)}" for r in group if r.status == ERROR]
    notes += [f"- {md_text(hint)}" for hint in tensor_hints(against_rows)]
    if notes:
        lines += [""] + notes
    return lines + [""]


def reason_of(row: Row) -> str:
    """Why a comparison is inconclusive, without its counts: the grouping of the section."""
    message = row.message
    if message.startswith(NON_FINITE_REFERENCE):
        return "the reference is NaN or infinite there, so there is nothing to compare against"
    if "inconclusive: " in message:
        message = message.split("inconclusive: ", 1)[1]
    return re.sub(r"\s+", " ", message.split(";", 1)[0]).strip() or "no reason given"


def _detail(message: str) -> str:
    """A message without its reason (which heads its group): the counts and places left."""
    if message.startswith(NON_FINITE_REFERENCE):
        counted = re.search(r"\d+/\d+ elements", message)
        return counted.group() if counted else ""
    if " inconclusive: " in message:
        head, _, rest = message.partition(" inconclusive: ")
        return "; ".join([head] + [p.strip() for p in rest.split(";")[1:] if p.strip()])
    return "; ".join(p.strip() for p in message.split(";")[1:] if p.strip())


def inconclusive_section(rows: list[Row]) -> list[str]:
    """## Inconclusive: every comparison that could not be decided, grouped by reason."""
    undecided = [r for r in rows if r.status == INCONCLUSIVE]
    if not undecided:
        return []
    groups: dict[str, list[Row]] = {}
    for row in undecided:
        groups.setdefault(reason_of(row), []).append(row)
    lines = ["## Inconclusive", "",
             f"{len(undecided)} comparisons could not be decided, neither pass nor fail; by "
             "reason, most first:", ""]
    for reason, group in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        lines += [f"### {md_text(reason)} ({len(group)})", ""]
        parties: dict[tuple[str, str, str, str], list[str]] = {}
        for r in group:  # one line per party of a case run, its tensors listed
            detail = _detail(r.message)
            parties.setdefault((r.case, r.dtype, r.framework, r.reference), []).append(
                r.location + (f" ({detail})" if detail else ""))
        for (case, dtype, framework, reference), places in list(parties.items())[
                :INCONCLUSIVE_LINES]:
            lines.append(f"- {md_text(case)} [{dtype}-{md_text(framework)}] against "
                         f"{md_text(reference)}: {md_text('; '.join(places))}")
        if len(parties) > INCONCLUSIVE_LINES:
            lines.append(f"- … and {len(parties) - INCONCLUSIVE_LINES} more (report.csv)")
        lines.append("")
    return lines
