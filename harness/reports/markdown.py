"""report.md: the report for people, made from rows and the run's record alone.

Nothing here imports the runner or an adapter (see harness.reports.files for the files around it).
"""
from __future__ import annotations

import io
import math
import re

from ..verdicts.compare import (DECIDED, ERROR, FAIL, INCONCLUSIVE, NON_FINITE_REFERENCE, PASS,
                                SKIP, XFAIL, XPASS, Row)
from ..verdicts.numbers import share
from .discrepancies import discrepancies_section, inconclusive_section
from .text import md_code, md_text
from .tolerances import overridden, tolerance_section

_SEVERITY = {ERROR: 6, FAIL: 5, XPASS: 4, XFAIL: 3, INCONCLUSIVE: 2, PASS: 1, SKIP: 0}
STATUSES = (PASS, FAIL, ERROR, SKIP, XFAIL, XPASS, INCONCLUSIVE)


def rollup(rows: list[Row]) -> str:
    """The verdict of a group of rows: the most severe status among them."""
    return max((r.status for r in rows), key=_SEVERITY.__getitem__, default=SKIP)


def ordered(rows: list[Row], record: dict) -> tuple[list[Row], list[dict]]:
    """Rows and runs in a deterministic order whatever the scheduling: runs by file, case and
    dtype; within a run, rows by the record's framework order, each framework's as produced."""
    # a variant (harness.running.variants) sorts right after the case it was made from
    runs = sorted(record["runs"], key=lambda e: (e.get("origin", e["file"]), e["case"],
                                                 e["dtype"]))
    position = {(e["case"], e["dtype"]): i for i, e in enumerate(runs)}
    frameworks = {name: i for i, name in enumerate(record["frameworks"])}
    indexed = sorted(enumerate(rows), key=lambda item: (
        position.get((item[1].case, item[1].dtype), len(position)),
        frameworks.get(item[1].framework, len(frameworks)), item[0]))
    return [row for _, row in indexed], runs


def _cell(rows: list[Row]) -> str:
    """The verdict of a case × framework cell and the share of the tolerance it used."""
    if not rows:
        return "—"
    status = rollup(rows)
    label = {PASS: "pass", FAIL: "**FAIL**", ERROR: "**ERROR**", SKIP: "skip", XFAIL: "xfail",
             XPASS: "**XPASS**", INCONCLUSIVE: "inconclusive"}[status]
    if any(overridden(r) for r in rows):
        label += "†"
    used = [r.tol_used for r in rows if r.tol_used is not None and r.status in DECIDED
            and math.isfinite(r.tol_used)]
    others = sorted({r.suspect for r in rows if r.status in (FAIL, ERROR) and r.suspect
                     and r.suspect != r.framework})
    blame = f" (suspect: {', '.join(md_text(s) for s in others)})" if others else ""
    if status in (ERROR, SKIP) or not used:
        return label + blame
    return f"{label} {share(max(used))}{blame}"


def verdict_line(rows: list[Row], runs: int) -> str:
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    if not any(r.status in DECIDED for r in rows):
        verdict = "NOTHING COMPARED"
    elif counts[FAIL] or counts[ERROR]:
        verdict = "DISCREPANCIES"
    elif counts[INCONCLUSIVE]:
        verdict = f"no discrepancies, but {counts[INCONCLUSIVE]} comparisons inconclusive"
    else:
        verdict = "everything conforms"
    return (f"**{verdict}**: {runs} case runs, {len(rows)} comparisons: "
            + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".")


def divergences(rows: list[Row]) -> list[str]:
    """"diverged at step k" for each run where a party's numbers stopped being finite."""
    first: dict[tuple[str, str, str], tuple[int, str]] = {}

    def note(key, step, where):
        if key not in first or step < first[key][0]:
            first[key] = (step, where)
    for r in rows:
        if r.step is None:
            continue
        where = f"{r.quantity} {r.tensor}" if r.quantity != r.tensor else r.quantity
        if NON_FINITE_REFERENCE in r.message:
            note((r.case, r.dtype, f"the {r.reference} reference"), r.step, where)
        elif r.status in (FAIL, XFAIL) and r.value is not None and not math.isfinite(r.value) \
                and r.reference_value is not None and math.isfinite(r.reference_value):
            note((r.case, r.dtype, r.framework), r.step, where)
    return [f"- {md_text(case)} [{dtype}]: {who} diverged at step {step} (first non-finite: "
            f"{md_text(where)}); comparisons against non-finite reference values are inconclusive"
            for (case, dtype, who), (step, where) in sorted(first.items())]


def markdown_text(rows: list[Row], record: dict, *, partial: bool = False,
                  picture: str | None = None) -> str:
    """report.md; ``picture`` names the heatmap written beside it (harness.reports.heatmap), if any."""
    rows, runs = ordered(rows, record)
    reference = record.get("reference", "numpy")
    present = {r.framework for r in rows}
    # each once: an older run.json may list the reference twice
    frameworks = list(dict.fromkeys(n for n in record["frameworks"] if n in present))
    frameworks += sorted(present - set(frameworks))
    out = io.StringIO()
    w = lambda line="": out.write(line + "\n")  # noqa: E731
    w("# Gradient conformance report")
    w()
    if partial:
        w("**PARTIAL: the run was interrupted; only the cases below were finished.**")
        w()
    header = " · ".join(f"{md_text(k)} {md_text(v)}" for k, v in record.get("environment", []))
    generated = record.get("generated")
    w((f"Generated {generated}. " if generated else "") + header)
    w()
    w(f"Reference: {md_text(reference)}.")
    w()
    w(verdict_line(rows, len(runs)))
    w()
    if not any(r.status in DECIDED for r in rows):
        reasons = sorted({f"{r.framework}: {r.message}" for r in rows if r.status == SKIP})
        w("Nothing was compared" + (": " + "; ".join(md_text(x) for x in reasons[:10]) if reasons
                                    else ": no framework besides the reference ran.") + "")
        w()
    xpass = [r for r in rows if r.status == XPASS]
    if xpass:
        w("## Declared discrepancies that did not occur (xpass)")
        w()
        w("Each entry below is declared in its case as a known discrepancy but passed: remove it "
          "from the case, or find out why it no longer differs.")
        w()
        told: dict[tuple, list[str]] = {}  # a declaration once per run and party, where it held
        for r in xpass:
            told.setdefault((r.case, r.dtype, r.framework, r.message), []).append(r.location)
        for (case, dtype, framework, message), where in told.items():
            at = ", ".join(where[:3]) + (f" … ({len(where)} comparisons)" if len(where) > 3 else "")
            w(f"- {md_text(case)} [{dtype}-{md_text(framework)}] {md_text(at)}: {md_text(message)}")
        w()
    diverged = divergences(rows)
    if diverged:
        w("## Diverged runs")
        w()
        for line in diverged:
            w(line)
        w()
    w("## Matrix")
    w()
    w("Each cell: the verdict of every comparison of that case, dtype and framework against the "
      f"reference ({md_text(reference)}) and any golden values, and the share of the tolerance its "
      "worst element used (above 1 fails). The reference's own column checks it against golden "
      "values only. † marks a verdict under a tolerance the case sets (see Tolerances).")
    w()
    if picture:
        w(f"![The worst share of the tolerance used per case and framework, log scale]({picture})")
        w()
    w("| case | dtype | " + " | ".join(md_text(f) for f in frameworks) + " |")
    w("|---|---|" + "---|" * len(frameworks))
    by_run: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        by_run.setdefault((r.case, r.dtype), []).append(r)
    for entry in runs:
        run_rows = by_run.get((entry["case"], entry["dtype"]), [])
        cells = [_cell([r for r in run_rows if r.framework == f]) for f in frameworks]
        w(f"| {md_text(entry['case'])} | {entry['dtype']} | " + " | ".join(cells) + " |")
    w()
    for line in discrepancies_section(runs, by_run, frameworks):
        w(line)
    _repro(w, record.get("repro", []))
    _variants(w, runs, by_run)
    _known(w, rows, runs, by_run, frameworks)
    trajectories = list(_trajectory_lines(runs, by_run, frameworks, reference))
    if trajectories:
        w("## Trajectories")
        w()
        w("For each multi-step case: the share of the tolerance its worst tensor used at the first "
          "and last step (above 1 fails), the growth per step, and the first step over tolerance.")
        w()
        for line in trajectories:
            w(line)
        w()
    for line in tolerance_section(rows, runs):
        w(line)
    for line in inconclusive_section(rows):
        w(line)
    skips = [r for r in rows if r.status == SKIP]
    if skips:
        w("## Skipped")
        w()
        for r in skips:
            w(f"- {md_text(r.case)} [{r.dtype}-{md_text(r.framework)}]: {md_text(r.message)}")
        w()
    notes = _merge_notes({(f, n) for e in runs for f, ns in e.get("notes", {}).items()
                          for n in ns})
    warnings = sorted({(e["case"], msg) for e in runs for msg in e.get("warnings", [])})
    unapplied = _not_applied(runs)
    if notes or warnings or unapplied:
        w("## Notes")
        w()
        for framework, note in notes:
            w(f"- {md_text(framework)}: {md_text(note)}")
        for case, message in warnings:
            w(f"- case {md_text(case)}: warning: {md_text(message)}")
        for line in unapplied:
            w(line)
        w()
    return out.getvalue()


def _not_applied(runs: list[dict]) -> list[str]:
    """A line per known discrepancy left out for its version range (harness.verdicts.
    known_discrepancies.outcomes): where it is declared and the version installed."""
    said: dict[tuple, None] = {}
    for entry in runs:
        for d in entry.get("declarations", []):
            if d.get("status") == "not applied":
                at = f"{entry['file']}:{d['line']}" if d.get("line") else entry["file"]
                said[(at, d.get("party", ""), d.get("detail", ""), entry["case"])] = None
    return [f"- {md_text(at)}: the known discrepancy for {md_text(party)} in case "
            f"{md_text(case)} is not applied: {md_text(detail)}"
            for at, party, detail, case in said]


REPRO_LINES = 20  # repro folders listed in report.md; the rest are counted


def _repro(w, entries: list[dict]) -> None:
    """The repro folders harness.reports.repro wrote, one line each."""
    if not entries:
        return
    w("## Repro folders")
    w()
    w("Each folder reproduces one failing framework without the harness: `cd` into it and run "
      "`python repro.py` (exit 1 while the discrepancy remains, 0 once it is gone).")
    w()
    for e in entries[:REPRO_LINES]:
        note = "" if e.get("available", True) else " (data only: no repro script for this framework)"
        w(f"- {md_code(e['folder'])}: {md_text(e['case'])} "
          f"[{e['dtype']}-{md_text(e['framework'])}]{note}")
    if len(entries) > REPRO_LINES:
        w(f"- … and {len(entries) - REPRO_LINES} more under `repro/`")
    w()


def _variants(w, runs, by_run) -> None:
    """Each variant: what it changed, its verdict, and its case file to run again."""
    seen: dict[str, dict] = {}
    for entry in runs:
        if entry.get("variant_of"):
            seen.setdefault(entry["case"], entry)
    if not seen:
        return
    w("## Variants")
    w()
    w("Each case an --impl file ran was run again at variants that break the coincidences of its "
      "own point (other parameters, a batch of several samples, other input scales), each a case "
      "of its own, written out to be run again: `python -m harness run FILE --impl YOURS.py`.")
    w()
    for name, entry in seen.items():
        verdicts = ", ".join(f"{dtype} {rollup(by_run.get((name, dtype), []))}" for dtype in
                             [e["dtype"] for e in runs if e["case"] == name])
        written = entry["file"] != entry.get("origin")  # pytest makes variants in memory
        where = md_code(entry['file']) if written else \
            (f"made from {md_code(entry.get('origin', ''))} in memory (pytest); "
             "`python -m harness run` writes each variant under OUT/variants/")
        w(f"- {md_text(name)} ({verdicts}): {md_text(entry.get('description', ''))} {where}")
    w()


def _known(w, rows, runs, by_run, frameworks) -> None:
    if not any(r.status == XFAIL for r in rows):
        return
    w("## Known discrepancies (xfail)")
    w()
    for entry in runs:
        for framework in frameworks:
            group = [r for r in by_run.get((entry["case"], entry["dtype"]), [])
                     if r.framework == framework and r.status == XFAIL]
            if group:
                reasons = []  # declarations that share a cause say it once (with its link)
                for reason in entry.get("known", {}).get(framework, []):
                    if not any(kept == reason or kept.startswith(reason + " (")
                               for kept in reasons):
                        reasons.append(reason)
                tensors = ", ".join(sorted({f"{r.quantity} {r.tensor}" for r in group}))
                first = min(r.step for r in group)
                w(f"- {md_text(entry['case'])} [{entry['dtype']}-{md_text(framework)}]: "
                  f"{len(group)} comparisons from step {first} ({md_text(tensors)}). "
                  "Declared cause: " + " / ".join(md_text(x) for x in reasons))
    w()


_NAME_LIST = re.compile(r"^[a-z_]+(, [a-z_]+)*$")


def _merge_notes(notes: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """One line per note; notes that end in a list of names ("ops added …: exp, log") are merged
    into one line per framework with the union of the names."""
    merged: dict[tuple[str, str], set[str]] = {}
    plain = set()
    for framework, note in notes:
        head, _, tail = note.rpartition(": ")
        if head and _NAME_LIST.match(tail):
            merged.setdefault((framework, head), set()).update(tail.split(", "))
        else:
            plain.add((framework, note))
    plain |= {(f, f"{head}: {', '.join(sorted(names))}") for (f, head), names in merged.items()}
    return sorted(plain)


def _trajectory_lines(runs, by_run, frameworks, reference):
    for entry in runs:
        if entry.get("steps", 1) < 2:
            continue
        parts = []
        for framework in frameworks:
            per_step = {r.step: r.step_tol_used for r in by_run.get((entry["case"], entry["dtype"]), [])
                        if r.framework == framework and r.reference == reference
                        and r.step_tol_used is not None}
            if len(per_step) < 2:
                continue
            steps = sorted(per_step)
            first, last = per_step[steps[0]], per_step[steps[-1]]
            growth = (last / first) ** (1 / (steps[-1] - steps[0])) \
                if 0 < first < math.inf and 0 < last < math.inf else None
            over = next((k for k in steps if per_step[k] > 1), None)
            text = f"{md_text(framework)} {share(first)} → {share(last)}"
            if growth is not None:
                text += f" (×{growth:.2f}/step)"
            text += f", over from step {over}" if over else ""
            parts.append(text)
        if parts:
            yield (f"- {md_text(entry['case'])} [{entry['dtype']}], {entry['steps']} steps: "
                   + "; ".join(parts))
