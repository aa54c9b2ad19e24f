"""report.csv (one tidy row per comparison) and report.md (for people), written whole or not at all."""
from __future__ import annotations

import io
import os
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .adapters import REFERENCE, adapter_names, get_adapter
from .compare import COLUMNS, ERROR, FAIL, PASS, SKIP, Row
from .diagnose import hints
from .runner import CaseRun

_SEVERITY = {ERROR: 3, FAIL: 2, PASS: 1, SKIP: 0}


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

    frame = pd.DataFrame([row.as_dict() for run in runs for row in run.rows], columns=COLUMNS)
    frame["step"] = frame["step"].astype("Int64")
    for column in ("mismatched", "size"):
        frame[column] = frame[column].astype("Int64")
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")  # repr floats: round-trip precision
    return buffer.getvalue()


def _g(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _cell(rows: list[Row]) -> str:
    if not rows:
        return "—"
    status = rollup(rows)
    worst = max((r.max_rel for r in rows if r.max_rel is not None), default=None)
    label = {PASS: "pass", FAIL: "**FAIL**", ERROR: "**ERROR**", SKIP: "skip"}[status]
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
    counts = {s: sum(r.status == s for r in rows) for s in (PASS, FAIL, ERROR, SKIP)}
    verdict = "everything conforms" if not counts[FAIL] and not counts[ERROR] else "DISCREPANCIES"
    w(f"**{verdict}**: {len(runs)} case runs, {len(rows)} comparisons: "
      + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".")
    w()
    w("## Matrix")
    w()
    w("Each cell: the verdict of every comparison of that case, dtype and framework against the "
      f"reference ({REFERENCE}) and any golden values, and the worst relative error. The "
      f"{REFERENCE} column checks the reference against golden values only.")
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
    skips = [r for r in rows if r.status == SKIP]
    if skips:
        w("## Skipped")
        w()
        for r in skips:
            w(f"- {r.case} [{r.dtype}-{r.framework}]: {r.message}")
        w()
    notes = sorted({(f, n) for run in runs for f, ns in run.notes.items() for n in ns})
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
    out_dir = Path(out_dir)
    files = {out_dir / "report.csv": csv_text(runs),
             out_dir / "report.md": markdown_text(runs, partial=partial)}
    write_atomically(files)
    return list(files)
