"""report.csv (one tidy row per comparison) and report.md (for people), written whole or not at all."""
from __future__ import annotations

import io
import os
import re
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .adapters import REFERENCE, adapter_names, get_adapter
from .compare import COLUMNS, ERROR, FAIL, INCONCLUSIVE, PASS, SKIP, XFAIL, XPASS, Row
from .diagnose import hints
from .runner import CaseRun
from .tolerance import DEFAULTS

_SEVERITY = {ERROR: 6, FAIL: 5, XPASS: 4, XFAIL: 3, PASS: 2, INCONCLUSIVE: 1, SKIP: 0}
STATUSES = (PASS, FAIL, ERROR, SKIP, XFAIL, XPASS, INCONCLUSIVE)


def environment() -> list[tuple[str, str]]:
    """(component, version) for the report header; frameworks are looked up, not imported."""
    items = [("harness", __version__), ("python", platform.python_version())]
    for name in adapter_names():
        available = get_adapter(name).availability()
        items.append((name, available.version if available.available else "not installed"))
    items.append(("platform", platform.platform()))
    return items


def rollup(rows: list[Row]) -> str:
    """The verdict of a group of rows: the most severe status among them."""
    return max((r.status for r in rows), key=_SEVERITY.__getitem__, default=SKIP)


def csv_text(runs: list[CaseRun]) -> str:
    import pandas as pd  # only the report needs it; keeps `validate` and `list` light

    frame = pd.DataFrame([{k: _cell_text(v) for k, v in row.as_dict().items()}
                          for run in runs for row in run.rows], columns=COLUMNS, dtype=object)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _cell_text(value) -> str:
    """Floats at full round-trip precision (repr: nan and inf spelt out), nothing as empty."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _g(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _cell(rows: list[Row]) -> str:
    if not rows:
        return "—"
    status = rollup(rows)
    worst = max((r.max_rel for r in rows if r.max_rel is not None), default=None)
    label = {PASS: "pass", FAIL: "**FAIL**", ERROR: "**ERROR**", SKIP: "skip", XFAIL: "xfail",
             XPASS: "**XPASS**", INCONCLUSIVE: "inconclusive"}[status]
    if any(r.tolerance_source and "default" not in r.tolerance_source for r in rows):
        label += "†"
    return f"{label} {_g(worst)}".strip()


def markdown_text(runs: list[CaseRun], *, partial: bool = False) -> str:
    rows = [row for run in runs for row in run.rows]
    frameworks = [n for n in adapter_names() if any(r.framework == n for r in rows)]
    out = io.StringIO()
    w = lambda line="": out.write(line + "\n")  # noqa: E731
    w("# Gradient conformance report")
    w()
    if partial:
        w("**PARTIAL: the run was interrupted; only the cases below were finished.**")
        w()
    w(f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}. " +
      " · ".join(f"{k} {v}" for k, v in environment()))
    w()
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    verdict = "everything conforms" if not counts[FAIL] and not counts[ERROR] else "DISCREPANCIES"
    w(f"**{verdict}**: {len(runs)} case runs, {len(rows)} comparisons: "
      + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".")
    w()
    xpass = [r for r in rows if r.status == XPASS]
    if xpass:
        w("## Declared discrepancies that did not occur (xpass)")
        w()
        w("Each entry below is declared in its case as a known discrepancy but passed: remove it "
          "from the case, or find out why it no longer differs.")
        w()
        for r in xpass:
            w(f"- {r.case} [{r.dtype}-{r.framework}] {_where(r)}: {r.message}")
        w()
    w("## Matrix")
    w()
    w("Each cell: the verdict of every comparison of that case, dtype and framework against the "
      f"reference ({REFERENCE}) and any golden values, and the worst relative error. The "
      f"{REFERENCE} column checks the reference against golden values only. † marks a verdict "
      "under a tolerance the case sets (see Tolerances).")
    w()
    w("| case | dtype | " + " | ".join(frameworks) + " |")
    w("|---|---|" + "---|" * len(frameworks))
    for run in runs:
        cells = [_cell([r for r in run.rows if r.framework == f]) for f in frameworks]
        w(f"| {run.case.name} | {run.dtype} | " + " | ".join(cells) + " |")
    w()
    bad = [r for r in rows if r.status in (FAIL, ERROR)]
    w("## Discrepancies")
    w()
    if not bad:
        w("None.")
        w()
    for run in runs:
        for framework in frameworks:
            for reference in (REFERENCE, "expected"):
                group = [r for r in run.rows if r.framework == framework
                         and r.reference == reference and r.status in (FAIL, ERROR)]
                if not group:
                    continue
                against = "golden values" if reference == "expected" else f"the {REFERENCE} reference"
                w(f"### {run.case.name} [{run.dtype}-{framework}] against {against}")
                w()
                w(f"File: `{run.case.file}`")
                w()
                w("| step | quantity | tensor | status | mismatched | worst index | reference | "
                  "value | max abs | max rel | ULP | atol | rtol |")
                w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
                for r in group:
                    mismatched = "" if r.size is None else f"{r.mismatched}/{r.size}"
                    w(f"| {'' if r.step is None else r.step} | {r.quantity} | {r.tensor} | "
                      f"{r.status} | {mismatched} | {r.worst_index} | "
                      f"{'' if r.reference_value is None else repr(r.reference_value)} | "
                      f"{'' if r.value is None else repr(r.value)} | {_g(r.max_abs)} | "
                      f"{_g(r.max_rel)} | {_g(r.ulp)} | {_g(r.atol)} | {_g(r.rtol)} |")
                notes = [f"- error: {r.message}" for r in group if r.status == ERROR]
                notes += [f"- {hint}" for hint in hints(
                    [r for r in run.rows if r.framework == framework and r.reference == reference])]
                if notes:
                    w()
                    for note in notes:
                        w(note)
                w()
    xfails = [r for r in rows if r.status == XFAIL]
    if xfails:
        w("## Known discrepancies (xfail)")
        w()
        for run in runs:
            for framework in frameworks:
                group = [r for r in run.rows if r.framework == framework and r.status == XFAIL]
                if group:
                    reasons = [k.reason + (f" ({k.link})" if k.link else "")
                               for k in run.case.known_discrepancies
                               if k.framework == framework and k.dtype in (None, run.dtype)]
                    tensors = ", ".join(sorted({f"{r.quantity} {r.tensor}" for r in group}))
                    first = min(r.step for r in group)
                    w(f"- {run.case.name} [{run.dtype}-{framework}]: {len(group)} comparisons from "
                      f"step {first} ({tensors}). Declared cause: " + " / ".join(reasons))
        w()
    trajectories = list(_trajectory_lines(runs, frameworks))
    if trajectories:
        w("## Trajectories")
        w()
        w("For each multi-step case: the share of the tolerance its worst tensor used at the first "
          "and last step (above 1 fails), the growth per step, and the first step over tolerance.")
        w()
        for line in trajectories:
            w(line)
        w()
    custom: dict[tuple, set[str]] = {}
    for r in rows:
        if r.tolerance_source and "default" not in r.tolerance_source:
            key = (r.case, r.dtype, r.tolerance_source, r.rtol, r.scale_rtol)
            custom.setdefault(key, set()).add(r.framework)
    w("## Tolerances")
    w()
    w("Defaults: " + "; ".join(f"{dt}: atol {t.atol:.3g}, rtol {t.rtol:.3g}, scale_rtol "
                               f"{t.scale_rtol:.3g}" for dt, t in DEFAULTS.items()) + ".")
    w()
    for (case, dtype, source, rtol, scale_rtol), names in sorted(custom.items()):
        w(f"- {case} [{dtype}] {', '.join(sorted(names))}: {source}: rtol {rtol:.3g}, "
          f"scale_rtol {scale_rtol:.3g}")
    if custom:
        w()
    skips = [r for r in rows if r.status == SKIP]
    if skips:
        w("## Skipped")
        w()
        for r in skips:
            w(f"- {r.case} [{r.dtype}-{r.framework}]: {r.message}")
        w()
    notes = _merge_notes({(f, n) for run in runs for f, ns in run.notes.items() for n in ns})
    warnings = sorted({(run.case.name, msg) for run in runs for msg in run.case.warnings})
    if notes or warnings:
        w("## Notes")
        w()
        for framework, note in notes:
            w(f"- {framework}: {note}")
        for case, message in warnings:
            w(f"- case {case}: warning: {message}")
        w()
    return out.getvalue()


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


def _where(row: Row) -> str:
    if row.step is None:
        return f"{row.quantity} {row.tensor}".strip() or "whole run"
    return f"step {row.step} {row.quantity} {row.tensor}"


def _trajectory_lines(runs: list[CaseRun], frameworks: list[str]):
    for run in runs:
        if run.case.steps < 2:
            continue
        parts = []
        for framework in frameworks:
            per_step = {r.step: r.step_tol_used for r in run.rows if r.framework == framework
                        and r.reference == REFERENCE and r.step_tol_used is not None}
            if len(per_step) < 2:
                continue
            steps = sorted(per_step)
            first, last = per_step[steps[0]], per_step[steps[-1]]
            growth = (last / first) ** (1 / (steps[-1] - steps[0])) if first > 0 and last > 0 \
                else None
            over = next((k for k in steps if per_step[k] > 1), None)
            text = f"{framework} {_g(first)} → {_g(last)}"
            if growth is not None:
                text += f" (×{growth:.2f}/step)"
            text += f", over from step {over}" if over else ""
            parts.append(text)
        if parts:
            yield f"- {run.case.name} [{run.dtype}], {run.case.steps} steps: " + "; ".join(parts)


def write_atomically(files: dict[Path, str]) -> None:
    """Write every file to a temporary file beside it, then rename each into place.

    A reader never sees a half-written report, and a failure before the renames leaves the
    previous reports untouched.
    """
    temporary: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            temporary.append((name, path))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
        for name, path in temporary:
            os.replace(name, path)
    finally:
        for name, _ in temporary:
            if os.path.exists(name):
                os.unlink(name)


def write_reports(runs: list[CaseRun], out_dir: str | Path, *, partial: bool = False) -> list[Path]:
    """report.csv and report.md; an interrupted run writes report.partial.csv and .md instead,
    so an existing report is only ever replaced by a complete one."""
    out_dir = Path(out_dir)
    stem = "report.partial" if partial else "report"
    files = {out_dir / f"{stem}.csv": csv_text(runs),
             out_dir / f"{stem}.md": markdown_text(runs, partial=partial)}
    write_atomically(files)
    if not partial:  # a complete report makes an older partial one stale
        for suffix in (".csv", ".md"):
            (out_dir / f"report.partial{suffix}").unlink(missing_ok=True)
    return list(files)
