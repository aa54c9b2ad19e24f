"""A failing pytest item's message: its worst discrepancies as a small fixed-width table, then
who is suspect and where (harness.verdicts.diagnose)."""
from __future__ import annotations

from ..format.parties import SELF
from ..verdicts.compare import ERROR, FAIL, Row
from ..verdicts.diagnose import hints

MAX_TABLE_ROWS = 8


def failure_table(rows: list[Row], everything: list[Row] | None = None) -> str:
    """The worst discrepancies of one item as a small fixed-width table, then the hints that
    ``everything`` (all rows of the item, passing ones too) supports."""
    everything = rows if everything is None else everything
    errors = [r for r in rows if r.status == ERROR]
    fails = sorted((r for r in rows if r.status == FAIL),
                   key=lambda r: (r.max_rel or 0.0, r.max_abs or 0.0), reverse=True)
    lines = [f"{r.framework} error: {r.message}" for r in errors]
    if fails:
        first = fails[0]
        lines.append(f"{len(fails)} tensor(s) disagree ({first.dtype}; an element passes when "
                     "|value - reference| <= allowed; used = |value - reference| / allowed):")
        header = ("against", "suspect", "step", "quantity", "tensor", "mismatched", "worst",
                  "reference", "value", "max abs", "max rel", "allowed", "used")
        table = [header]
        for r in fails[:MAX_TABLE_ROWS]:
            table.append((r.reference, r.suspect, str(r.step), r.quantity, r.tensor,
                          f"{r.mismatched}/{r.size}", r.worst_index, f"{r.reference_value:.10g}",
                          f"{r.value:.10g}", f"{r.max_abs:.3g}", f"{r.max_rel:.3g}",
                          f"{r.allowed:.3g}", f"{r.tol_used:.3g}"))
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                  for row in table]
        if len(fails) > MAX_TABLE_ROWS:
            lines.append(f"  … {len(fails) - MAX_TABLE_ROWS} more tensor(s)")
        # who is suspect and where, against the reference first, then golden values
        for reference in dict.fromkeys(r.reference for r in fails):
            found = hints([r for r in everything if r.reference == reference],
                          [r for r in everything if r.reference == SELF])
            if found:
                lines += [f"- {hint}" for hint in found]
                break
    return "\n".join(lines)
