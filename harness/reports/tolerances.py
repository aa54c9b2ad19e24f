"""report.md's tolerances: which verdicts were made under a tolerance the case set, and the
section listing them (the rule, the defaults, each tolerance whole)."""
from __future__ import annotations

from ..verdicts.compare import Row
from ..verdicts.tolerance import DEFAULTS, ToleranceSource
from .text import figures, md_text


def overridden(row: Row) -> bool:
    """Whether the case set the tolerance of this row (its ToleranceSource says so)."""
    source = ToleranceSource.parse(row.tolerance_source, row.dtype)
    return source is not None and source.overridden


def tolerance_section(rows: list[Row], runs: list[dict]) -> list[str]:
    """report.md's Tolerances: the rule, the defaults, and every tolerance the case set."""
    lines: list[str] = []
    custom: dict[tuple, set[str]] = {}
    for r in rows:
        if overridden(r):
            key = (r.case, r.dtype, r.tolerance_source, r.rtol, r.scale_rtol, r.sum_rtol)
            custom.setdefault(key, set()).add(r.framework)
    whole = {(e["case"], e["dtype"], t["party"], t["source"]): t for e in runs
             for t in e.get("tolerances", ())}
    defaults = "; ".join(f"{dt}: atol {t.atol:.3g}, rtol {t.rtol:.3g}, scale_rtol "
                         f"{t.scale_rtol:.3g}, sum_rtol {t.sum_rtol:.3g}"
                         for dt, t in DEFAULTS.items())
    lines += ["## Tolerances", "",
              "An element passes when |value − reference| ≤ atol + rtol·|reference| + "
              "scale_rtol·scale + sum_rtol·magnitude (scale: the largest |reference| of the "
              "quantity in that step; magnitude: the size of what was summed to make the "
              f"element). Defaults: {defaults}.", ""]
    for (case, dtype, source, rtol, scale_rtol, sum_rtol), names in sorted(
            custom.items(), key=lambda item: tuple(str(x) for x in item[0])):
        # the whole tolerance from the record; a run.json from before it was recorded has the
        # rows' keys alone (their atol carries the scale term)
        tolerance = next((whole[(case, dtype, n, source)] for n in sorted(names)
                          if (case, dtype, n, source) in whole), None)
        keys = f"atol {figures(tolerance['atol'])}, " if tolerance else ""
        lines.append(f"- {md_text(case)} [{dtype}] {md_text(', '.join(sorted(names)))}: "
                     f"{md_text(source)}: {keys}rtol {figures(rtol)}, scale_rtol "
                     f"{figures(scale_rtol)}, sum_rtol {figures(sum_rtol)}")
    if custom:
        lines.append("")
    return lines
