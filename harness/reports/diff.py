"""``python -m harness diff OLD NEW``: what changed between two reports.

For a team upgrading torch or jax: the verdicts that changed per comparison, the comparisons only
one side has (grouped, not listed row by row), the drift of the share of the tolerance used where
the verdict stayed, and the versions and platforms of both sides. Made from report folders alone
(report.csv, and run.json, or for a first-release report without run.json, report.md's header),
so nothing here imports a framework.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..verdicts.compare import Row
from ..format.errors import UsageError
from .diff_sides import Side, read_side  # noqa: F401 (read_side: harness.reports.diff's too)
from .files import write_atomically
from .markdown import rollup
from .text import figures, md_code, md_text, terminal_text

# A row drifts when its share of the tolerance used grew or shrank by DEFAULT_THRESHOLD times or
# more while its verdict stayed, and reached DRIFT_FLOOR on one side: from 1e-6 to 1e-4 is
# rounding noise far inside the tolerance, from 0.01 to 0.5 is what an upgrade should show.
DEFAULT_THRESHOLD = 10.0
DRIFT_FLOOR = 0.1
DIFF_FILE = "diff.md"
SHOWN = 10  # lines per section on stdout; diff.md has up to MD_ROWS
MD_ROWS = 500

KEY = ("case", "dtype", "framework", "reference", "step", "quantity", "tensor")


# -- comparing ------------------------------------------------------------------------------
@dataclass
class Change:
    old: Row
    new: Row


@dataclass
class Group:
    """Comparisons only one side has, for one case (and dtype and framework, when the case is
    on both sides)."""

    what: str  # "added" (only in NEW) or "removed" (only in OLD)
    case: str
    dtype: str  # "" when the whole case is added or removed
    framework: str  # "" likewise
    rows: list[Row]


@dataclass
class Diff:
    old: Side
    new: Side
    threshold: float
    matched: int
    changes: list[Change]  # verdicts that changed, row by row
    cells: list[tuple[tuple[str, str, str, str], str, str]]  # (case, dtype, framework, ref) old new
    groups: list[Group]
    drift: list[Change]  # same verdict, tol_used moved by the threshold or more
    moved: dict[str, int] = field(default_factory=dict)  # framework: rows whose tol_used moved

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.cells)


def _keyed(rows: list[Row]) -> dict[tuple, Row]:
    """Rows by comparison; a key repeated within one report gets its occurrence number."""
    keyed: dict[tuple, Row] = {}
    seen: dict[tuple, int] = {}
    for row in rows:
        key = tuple(getattr(row, k) for k in KEY)
        n = seen.get(key, 0)
        seen[key] = n + 1
        keyed[key + (n,)] = row
    return keyed


def _ratio(old: float, new: float) -> float:
    low, high = sorted((abs(old), abs(new)))
    return math.inf if low == 0 else high / low


def drifts(old: Row, new: Row, threshold: float) -> bool:
    """Same verdict, and the share of the tolerance used moved by ``threshold`` times or more,
    reaching DRIFT_FLOOR on one side (see the constants)."""
    a, b = old.tol_used, new.tol_used
    if old.status != new.status or a is None or b is None \
            or not (math.isfinite(a) and math.isfinite(b)):
        return False
    return max(a, b) >= DRIFT_FLOOR and _ratio(a, b) >= threshold


def compare(old: Side, new: Side, threshold: float = DEFAULT_THRESHOLD) -> Diff:
    before, after = _keyed(old.rows), _keyed(new.rows)
    both = [k for k in before if k in after]
    changes = [Change(before[k], after[k]) for k in both if before[k].status != after[k].status]
    drift = sorted((Change(before[k], after[k]) for k in both
                    if drifts(before[k], after[k], threshold)),
                   key=lambda c: -_ratio(c.old.tol_used, c.new.tol_used))

    # a cell's verdict can change without a matched row changing: a run that errored as a whole
    # (one row) where it compared twenty tensors before, or a framework installed on one side
    def cells(rows):
        out: dict[tuple, list[Row]] = {}
        for r in rows:
            out.setdefault((r.case, r.dtype, r.framework, r.reference), []).append(r)
        return out
    old_cells, new_cells = cells(old.rows), cells(new.rows)
    changed_rows = {(c.old.case, c.old.dtype, c.old.framework, c.old.reference) for c in changes}
    cell_changes = [(k, rollup(old_cells[k]), rollup(new_cells[k])) for k in old_cells
                    if k in new_cells and k not in changed_rows
                    and rollup(old_cells[k]) != rollup(new_cells[k])]

    groups = _groups("removed", [before[k] for k in before if k not in after], new.rows) + \
        _groups("added", [after[k] for k in after if k not in before], old.rows)
    # which frameworks' numbers moved at all, however little: an upgrade's footprint
    moved: dict[str, int] = {}
    for k in both:
        a, b = before[k].tol_used, after[k].tol_used
        if a is not None and b is not None and a != b and not (math.isnan(a) and math.isnan(b)) \
                and before[k].status == after[k].status:
            moved[after[k].framework] = moved.get(after[k].framework, 0) + 1
    return Diff(old, new, threshold, len(both), changes, cell_changes, groups, drift, moved)


def _groups(what: str, rows: list[Row], other: list[Row]) -> list[Group]:
    """Rows only one side has: a whole case when the other side lacks it, else per case, dtype
    and framework."""
    cases = {r.case for r in other}
    groups: dict[tuple[str, str, str], Group] = {}
    for r in rows:
        key = (r.case, "", "") if r.case not in cases else (r.case, r.dtype, r.framework)
        groups.setdefault(key, Group(what, *key, [])).rows.append(r)
    return list(groups.values())


# -- telling it -----------------------------------------------------------------------------
def _figures(value: float | None) -> str:
    """A number as the diff writes it: three significant figures, or a dash for none."""
    return figures(value, "—")


def _who(r: Row) -> str:
    return f"{r.case} [{r.dtype}] {r.framework} vs {r.reference}"


def version_lines(diff: Diff) -> list[tuple[str, str, str, bool]]:
    """(component, old, new, changed) for every component either side names, OLD's order first."""
    old, new = dict(diff.old.environment), dict(diff.new.environment)
    names = list(old) + [n for n in new if n not in old]
    return [(n, old.get(n, "—"), new.get(n, "—"), old.get(n) != new.get(n)) for n in names]


def note_changes(diff: Diff) -> list[tuple[str, str, str]]:
    """(framework, "only in OLD"/"only in NEW", note) for the run-wide notes that differ."""
    out = []
    for framework in sorted(set(diff.old.notes) | set(diff.new.notes)):
        a, b = diff.old.notes.get(framework, set()), diff.new.notes.get(framework, set())
        out += [(framework, "only in OLD", n) for n in sorted(a - b)]
        out += [(framework, "only in NEW", n) for n in sorted(b - a)]
    return out


def _transitions(changes: list[Change]) -> dict[tuple, list[Change]]:
    by_cell: dict[tuple, list[Change]] = {}
    for c in changes:
        by_cell.setdefault((c.old.case, c.old.dtype, c.old.framework, c.old.reference),
                           []).append(c)
    return by_cell


def _group_line(g: Group) -> str:
    statuses = {}
    for r in g.rows:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in statuses.items())
    side = "only in NEW" if g.what == "added" else "only in OLD"
    if not g.dtype:
        dtypes = sorted({r.dtype for r in g.rows})
        frameworks = list(dict.fromkeys(r.framework for r in g.rows))
        return (f"case {g.case} {g.what} ({side}): {', '.join(dtypes)}; "
                f"{', '.join(frameworks)}; {len(g.rows)} comparisons: {counts}")
    return f"{g.case} [{g.dtype}] {g.framework}: {len(g.rows)} comparisons {g.what} ({side}): " \
        f"{counts}"


def summary_text(diff: Diff, written: Path | None = None) -> str:
    """What the terminal shows; every line from a report folder neutralised for it."""
    out = io.StringIO()
    w = lambda line="": out.write(terminal_text(line) + "\n")  # noqa: E731
    w(f"OLD {diff.old.path} ({len(diff.old.rows)} comparisons, versions from {diff.old.source})")
    w(f"NEW {diff.new.path} ({len(diff.new.rows)} comparisons, versions from {diff.new.source})")
    lines = version_lines(diff)
    moved = [f"{n} {a} → {b}" for n, a, b, changed in lines if changed]
    same = [f"{n} {a}" for n, a, _, changed in lines if not changed]
    w("versions changed: " + ("; ".join(moved) if moved else "none"))
    if same:
        w("versions the same: " + " · ".join(same))
    for framework, side, note in note_changes(diff):
        w(f"note {side}: {framework}: {note}")
    w()
    rows_changed = len(diff.changes)
    w(f"verdicts changed: {rows_changed} of {diff.matched} comparisons on both sides"
      + (f", and {len(diff.cells)} cells (case, dtype, framework) whose rows differ"
         if diff.cells else ""))
    by_cell = _transitions(diff.changes)
    for i, (cell, changes) in enumerate(by_cell.items()):
        if i == SHOWN:
            w(f"  … and {len(by_cell) - SHOWN} more cells in the Markdown copy")
            break
        kinds: dict[str, int] = {}
        for c in changes:
            kinds[f"{c.old.status}→{c.new.status}"] = kinds.get(f"{c.old.status}→{c.new.status}",
                                                                0) + 1
        first = changes[0]
        w(f"  {_who(first.old)}: " + ", ".join(f"{k} ×{n}" for k, n in kinds.items())
          + f" (first: {first.new.location}, tol_used {_figures(first.old.tol_used)} → "
          f"{_figures(first.new.tol_used)})")
    for (case, dtype, framework, reference), a, b in diff.cells[:SHOWN]:
        w(f"  {case} [{dtype}] {framework} vs {reference}: {a}→{b} (the rows differ: see below)")
    if diff.groups:
        added = sum(len(g.rows) for g in diff.groups if g.what == "added")
        removed = sum(len(g.rows) for g in diff.groups if g.what == "removed")
        w(f"comparisons only in NEW (added): {added}; only in OLD (removed): {removed}")
        for g in diff.groups[:SHOWN]:
            w(f"  {_group_line(g)}")
        if len(diff.groups) > SHOWN:
            w(f"  … and {len(diff.groups) - SHOWN} more groups in the Markdown copy")
    w("tol_used moved at all, however little, with the same verdict: "
      + (", ".join(f"{k} {n}" for k, n in sorted(diff.moved.items())) or "nowhere"))
    w(f"drift (same verdict, tol_used ×{diff.threshold:g} or ÷{diff.threshold:g}, reaching "
      f"{DRIFT_FLOOR:g} on one side): {len(diff.drift)} comparisons")
    for c in diff.drift[:SHOWN]:
        factor = _figures(c.new.tol_used / c.old.tol_used) if c.old.tol_used else "inf"
        w(f"  {_who(c.new)} {c.new.location}: {c.new.status}, tol_used "
          f"{_figures(c.old.tol_used)} → {_figures(c.new.tol_used)} (×{factor})")
    if len(diff.drift) > SHOWN:
        w(f"  … and {len(diff.drift) - SHOWN} more in the Markdown copy")
    if written is not None:
        w(f"wrote {written}")
    return out.getvalue()


def markdown(diff: Diff) -> str:
    out = io.StringIO()
    w = lambda line="": out.write(line + "\n")  # noqa: E731
    w("# Report diff")
    w()
    w(f"OLD: {md_code(diff.old.path)} ({md_text(diff.old.generated) or 'date unknown'}, "
      f"{len(diff.old.rows)} comparisons, versions from {md_text(diff.old.source)}).  ")
    w(f"NEW: {md_code(diff.new.path)} ({md_text(diff.new.generated) or 'date unknown'}, "
      f"{len(diff.new.rows)} comparisons, versions from {md_text(diff.new.source)}).")
    w()
    changed = len(diff.changes) + len(diff.cells)
    w(f"**{'VERDICTS CHANGED' if changed else 'no verdict changed'}**: {len(diff.changes)} of "
      f"{diff.matched} comparisons on both sides changed verdict"
      + (f", and {len(diff.cells)} cells whose rows differ" if diff.cells else "")
      + f"; {sum(len(g.rows) for g in diff.groups)} comparisons on one side only; "
      f"{len(diff.drift)} drifted.")
    w()
    w("## Versions")
    w()
    w("| component | OLD | NEW |")
    w("|---|---|---|")
    for name, a, b, moved in version_lines(diff):
        mark = "**" if moved else ""
        w(f"| {mark}{md_text(name)}{mark} | {mark}{md_text(a)}{mark} | {mark}{md_text(b)}{mark} |")
    w()
    notes = note_changes(diff)
    if notes:
        w("Run-wide notes that differ (where each framework ran, how):")
        w()
        for framework, side, note in notes:
            w(f"- {md_text(framework)}, {side}: {md_text(note)}")
        w()
    w("## Verdicts that changed")
    w()
    if not diff.changes and not diff.cells:
        w("None.")
        w()
    if diff.changes:
        w("| case | dtype | framework | reference | where | OLD | NEW | tol_used OLD | "
          "tol_used NEW | message (NEW) |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for c in diff.changes[:MD_ROWS]:
            o, n = c.old, c.new
            w(f"| {md_text(o.case)} | {o.dtype} | {md_text(o.framework)} | "
              f"{md_text(o.reference)} | {md_text(n.location)} | {o.status} | "
              f"**{n.status}** | {_figures(o.tol_used)} | {_figures(n.tol_used)} | "
              f"{md_text(n.message)} |")
        if len(diff.changes) > MD_ROWS:
            w(f"\n… and {len(diff.changes) - MD_ROWS} more.")
        w()
    if diff.cells:
        w("Cells whose verdict changed while their rows differ (one side compared tensors the "
          "other did not, or errored as a whole):")
        w()
        for (case, dtype, framework, reference), a, b in diff.cells:
            w(f"- {md_text(case)} [{dtype}] {md_text(framework)} vs {md_text(reference)}: "
              f"{a} → **{b}**")
        w()
    w("## Comparisons on one side only")
    w()
    if not diff.groups:
        w("None: both reports compared the same things.")
    for g in diff.groups:
        w(f"- {md_text(_group_line(g))}")
    w()
    w("## Drift of the share of the tolerance used")
    w()
    w(f"Comparisons with the same verdict on both sides whose share of the tolerance used "
      f"(tol_used) grew or shrank {diff.threshold:g} times or more and reached {DRIFT_FLOOR:g} "
      "on one side, largest change first.")
    w()
    if diff.moved:
        w("Comparisons whose tol_used moved at all, however little, with the same verdict: "
          + ", ".join(f"{md_text(k)} {n}" for k, n in sorted(diff.moved.items())) + ".")
        w()
    if not diff.drift:
        w("None.")
    else:
        w("| case | dtype | framework | reference | where | verdict | tol_used OLD | "
          "tol_used NEW | × |")
        w("|---|---|---|---|---|---|---|---|---|")
        for c in diff.drift[:MD_ROWS]:
            o, n = c.old, c.new
            factor = _figures(n.tol_used / o.tol_used) if o.tol_used else "inf"
            w(f"| {md_text(o.case)} | {o.dtype} | {md_text(o.framework)} | "
              f"{md_text(o.reference)} | {md_text(n.location)} | {n.status} | "
              f"{_figures(o.tol_used)} | {_figures(n.tol_used)} | {factor} |")
        if len(diff.drift) > MD_ROWS:
            w(f"\n… and {len(diff.drift) - MD_ROWS} more.")
    w()
    return out.getvalue()


REPORT_FILES = ("report.csv", "report.md", "run.json", "heatmap.svg", "report.partial.csv",
                "report.partial.md", "run.partial.json", "heatmap.partial.svg")


def output_path(out: str | None, *reports: str | Path) -> Path:
    """Where diff.md goes: --out as a file, or DIFF_FILE in --out when it is a folder; by
    default DIFF_FILE in the current folder, never inside either report folder. A path that
    exists and is not a regular file (a device, a socket), or that is one of the ``reports``'
    own files, is a UsageError: writing there would replace it."""
    path = Path(DIFF_FILE) if out is None else Path(out)
    if out is not None and (path.is_dir() or out.endswith(("/", "\\"))):
        path = path / DIFF_FILE
    if path.exists() and not path.is_file():
        raise UsageError(f"--out {out}: expected a file or a folder to write diff.md in; "
                         f"{path} is neither (a device or another special file)")
    target = path.resolve()
    for report in reports:
        report = Path(report).resolve()
        folder = report if report.is_dir() else report.parent
        if target == report or (target.parent == folder and target.name in REPORT_FILES):
            raise UsageError(f"--out {out}: {path} is one of the reports being compared; "
                             "choose another file")
    return path


def write_markdown(diff: Diff, path: Path) -> None:
    try:
        write_atomically({path: markdown(diff)})
    except OSError as error:
        raise UsageError(f"{path}: cannot write the diff there: {error.strerror or error}") \
            from None
