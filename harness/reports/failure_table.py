"""A failing pytest item's message, verdict first like the terminal's (harness.reports.findings):
who is suspect and where, then the failing tensors as a small fixed-width table, the first wrong
step first, then the pattern of each failing tensor of that step."""
from __future__ import annotations

from ..verdicts.compare import ERROR, FAIL, Row
from ..verdicts.patterns import pattern_of
from ..verdicts.numbers import distinct, share, short
from .findings import Finding, against_name, headline

MAX_TABLE_ROWS = 8


def failure_table(rows: list[Row], everything: list[Row] | None = None) -> str:
    """The verdict of one item, then its failing tensors; ``everything`` (all rows of the item,
    passing ones too) is the evidence the sentences are drawn from."""
    everything = rows if everything is None else everything
    lines = [f"{r.framework} error: {r.message}" for r in rows if r.status == ERROR]
    if not any(r.status == FAIL for r in rows):
        return "\n".join(lines)
    first = next(r for r in rows if r.status == FAIL)
    finding = Finding(first.case, first.dtype, first.framework,
                      tuple(r for r in everything if r.framework == first.framework) or
                      tuple(rows))
    lines += [headline(finding), *finding.sentences()]
    fails = finding.worst()
    lines.append(f"{len(fails)} tensor(s) disagree with {against_name(finding.against)} "
                 f"({first.dtype}), the "
                 "first wrong step first (an element passes when |value - reference| <= "
                 "allowed; used = |value - reference| / allowed):")
    header = ("step", "quantity", "tensor", "mismatched", "worst", "reference", "value",
              "max abs", "allowed", "used")
    table = [header]
    for r in fails[:MAX_TABLE_ROWS]:
        reference, value = distinct(r.reference_value, r.value) \
            if r.reference_value is not None and r.value is not None else ("", "")
        table.append((str(r.step), r.quantity, r.tensor, f"{r.mismatched}/{r.size}",
                      r.worst_index, reference, value, short(r.max_abs), short(r.allowed),
                      share(r.tol_used)))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
              for row in table]
    if len(fails) > MAX_TABLE_ROWS:
        lines.append(f"  … {len(fails) - MAX_TABLE_ROWS} more tensor(s)")
    others = {r.reference for r in finding.rows if r.status == FAIL} - {finding.against}
    if others:
        lines.append("also failing against " + ", ".join(against_name(o) for o in sorted(others))
                     + " (see report.md)")
    step = fails[0].step
    lines += [f"- {r.quantity} {r.tensor} at step {step}: {pattern_of(r.hint)}"
              for r in fails if r.step == step and r.hint and pattern_of(r.hint)]
    return "\n".join(lines)
