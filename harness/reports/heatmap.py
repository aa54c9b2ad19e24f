"""heatmap.svg: the run as a picture, cases × frameworks, beside report.md.

Each cell is the worst share of the tolerance used (tol_used) over every row of that case (all its
dtypes) and framework, on a log scale; a failing, erroring or unexpectedly passing cell is red or
black and says so in words, so the picture reads without colour too. Hand-written SVG, no plotting
library: it renders in any browser and on GitHub, and the same rows give the same bytes.
Made from rows and the record alone, like report.md (nothing here imports a framework).
"""
from __future__ import annotations

import html
import math
import re
from pathlib import PurePosixPath

from ..verdicts.compare import DECIDED, ERROR, FAIL, INCONCLUSIVE, PASS, SKIP, XFAIL, XPASS, Row
from .markdown import ordered, rollup

HEATMAP_FILE = "heatmap.svg"
MAX_ROWS = 150  # above this many cases, one row per folder of case files (still capped)
LOW = 1e-6  # the scale's bottom: a share at or below it (exact agreement included) is palest
LABEL_CHARS, HEAD_CHARS = 44, 11
ROW_H, COL_W, CHAR_W, FONT = 18, 88, 6.6, 11
TOP, PAD = 64, 8
LEGEND_X = PAD + round(CHAR_W * 30)
LEGEND_NOTE = "— none"
LEGEND_W = LEGEND_X + 5 * 64 + round(CHAR_W * (len(LEGEND_NOTE) + 2)) + PAD

# YlGnBu, pale (far within the tolerance) to dark (close to it)
_STOPS = [(0xff, 0xff, 0xcc), (0xa1, 0xda, 0xb4), (0x41, 0xb6, 0xc4), (0x2c, 0x7f, 0xb8),
          (0x25, 0x34, 0x94)]
# statuses drawn in a fixed colour instead of the scale: (fill, text colour, word)
_MARKED = {FAIL: ("#d62728", "#ffffff", "FAIL"), ERROR: ("#1a1a1a", "#ffffff", "ERROR"),
           XPASS: ("#9467bd", "#ffffff", "XPASS"), XFAIL: ("#fdd0a2", "#000000", "xfail"),
           SKIP: ("#ffffff", "#777777", "skip")}
_EMPTY = "#eeeeee"
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: object) -> str:
    """Text from a case, safe in SVG text and attributes: escaped, and without the characters
    XML 1.0 forbids."""
    return html.escape(_BAD_XML.sub("\ufffd", str(value)), quote=True)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def colour(share: float) -> str:
    """The scale's colour of a share of the tolerance used, log-spaced from LOW to 1."""
    position = 0.0 if share <= LOW else min(1.0, math.log10(share / LOW) / -math.log10(LOW))
    span = position * (len(_STOPS) - 1)
    i = min(int(span), len(_STOPS) - 2)
    f = span - i
    rgb = [round(a + (b - a) * f) for a, b in zip(_STOPS[i], _STOPS[i + 1])]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _ink(fill: str) -> str:
    r, g, b = (int(fill[k:k + 2], 16) for k in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


def _worst(rows: list[Row]) -> Row | None:
    used = [r for r in rows if r.status in DECIDED and r.tol_used is not None
            and math.isfinite(r.tol_used)]
    return max(used, key=lambda r: r.tol_used, default=None)


def _lines(rows: list[Row], record: dict) -> tuple[list[tuple[str, list[Row]]], list[str], str]:
    """(label, rows) per line of the picture, the frameworks, and a note when it was bounded."""
    rows, runs = ordered(rows, record)
    present = {r.framework for r in rows}
    frameworks = [n for n in record.get("frameworks", []) if n in present]
    frameworks = list(dict.fromkeys(frameworks)) + sorted(present - set(frameworks))
    by_case: dict[str, list[Row]] = {e["case"]: [] for e in runs}
    for r in rows:
        by_case.setdefault(r.case, []).append(r)
    note = ""
    lines = list(by_case.items())
    if len(lines) > MAX_ROWS:  # one line per folder of case files keeps 1,000 cases readable
        folder = {e["case"]: str(PurePosixPath(e.get("origin", e["file"])).parent)
                  for e in runs}
        by_folder: dict[str, list[Row]] = {}
        counts: dict[str, int] = {}
        for case, case_rows in lines:
            key = folder.get(case, case_rows[0].file if case_rows else "?")
            by_folder.setdefault(key, []).extend(case_rows)
            counts[key] = counts.get(key, 0) + 1
        lines = [(f"{k}/ ({counts[k]} cases)", v) for k, v in by_folder.items()]
        note = f"{len(by_case)} cases, one line per folder"
        if len(lines) > MAX_ROWS:
            note += f"; the first {MAX_ROWS} of {len(lines)} folders shown (all in report.csv)"
            lines = lines[:MAX_ROWS]
    return lines, frameworks, note


def _share(value: float) -> str:
    """A share short enough for its cell: 0.031, 0.00059, 4e+10."""
    return "0" if value == 0 else f"{value:.2g}" if 1e-4 <= value < 100 else f"{value:.0e}"


def _cell(rows: list[Row]) -> tuple[str, str, str, str]:
    """(fill, text colour, text, tooltip) of one cell."""
    if not rows:
        return _EMPTY, "#777777", "—", "no comparisons"
    status = rollup(rows)
    worst = _worst(rows)
    share = _share(worst.tol_used) if worst is not None else ""
    where = ""
    if worst is not None:
        where = (f"; worst: {worst.tol_used:.3g} of the tolerance at [{worst.dtype}] step "
                 f"{worst.step} {worst.quantity} {worst.tensor} vs {worst.reference}")
    tooltip = f"{status}{where}"
    if status in _MARKED:
        fill, ink, word = _MARKED[status]
        text = word + (f" {share}" if status in (FAIL, XPASS, XFAIL) and share else "")
        return fill, ink, text, tooltip
    if worst is None:  # inconclusive only, or an xfail that compared nothing finite
        return "#ffffff", "#555555", status, tooltip
    fill = colour(worst.tol_used)
    text = share if status == PASS else f"{'incon.' if status == INCONCLUSIVE else status} {share}"
    return fill, _ink(fill), text, tooltip


def heatmap_svg(rows: list[Row], record: dict) -> str:
    """The picture as SVG text: the same rows and record give the same bytes."""
    lines, frameworks, note = _lines(rows, record)
    label_w = round(CHAR_W * min(LABEL_CHARS, max([len(l) for l, _ in lines] + [4]))) + 2 * PAD
    width = max(label_w + COL_W * max(len(frameworks), 1) + PAD, LEGEND_W)
    legend_y = TOP + ROW_H * len(lines) + 2 * PAD
    height = legend_y + 3 * ROW_H + PAD + (ROW_H if note else 0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Menlo, Consolas, monospace" '
           f'font-size="{FONT}">',
           "<title>Worst share of the tolerance used, per case and framework</title>",
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{PAD}" y="{PAD + FONT}" font-weight="bold">Worst share of the tolerance '
           'used per case and framework (log scale; above 1 fails)</text>']
    for j, framework in enumerate(frameworks):
        x = label_w + j * COL_W + COL_W // 2
        out.append(f'<text x="{x}" y="{TOP - 6}" text-anchor="middle" font-weight="bold">'
                   f'<title>{_text(framework)}</title>{_text(_short(framework, HEAD_CHARS))}'
                   "</text>")
    for i, (label, line_rows) in enumerate(lines):
        y = TOP + i * ROW_H
        out.append(f'<text x="{PAD}" y="{y + ROW_H - 5}"><title>{_text(label)}</title>'
                   f"{_text(_short(label, LABEL_CHARS))}</text>")
        for j, framework in enumerate(frameworks):
            fill, ink, text, tooltip = _cell([r for r in line_rows if r.framework == framework])
            x = label_w + j * COL_W
            bold = ' font-weight="bold"' if text.split(" ")[0] in ("FAIL", "ERROR", "XPASS") \
                else ""
            out.append(f'<g><title>{_text(label)} × {_text(framework)}: {_text(tooltip)}</title>'
                       f'<rect x="{x}" y="{y}" width="{COL_W - 1}" height="{ROW_H - 1}" '
                       f'fill="{fill}" stroke="#cccccc" stroke-width="0.5"/>'
                       f'<text x="{x + COL_W // 2}" y="{y + ROW_H - 5}" text-anchor="middle" '
                       f'fill="{ink}"{bold}>{_text(text)}</text></g>')
    out += _legend(legend_y)
    if note:
        out.append(f'<text x="{PAD}" y="{legend_y + 3 * ROW_H + FONT}">{_text(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _legend(y: int) -> list[str]:
    x0 = LEGEND_X
    out = [f'<text x="{PAD}" y="{y + ROW_H - 5}">share of the tolerance used:</text>']
    exponents = range(round(math.log10(LOW)), 1)
    for k, e in enumerate(exponents):
        x = x0 + k * 44
        fill = colour(10.0 ** e)
        label = "≤1e-6" if e == round(math.log10(LOW)) else f"1e{e}" if e else "1"
        out.append(f'<rect x="{x}" y="{y}" width="43" height="{ROW_H - 1}" fill="{fill}"/>'
                   f'<text x="{x + 22}" y="{y + ROW_H - 5}" text-anchor="middle" '
                   f'fill="{_ink(fill)}">{label}</text>')
    y += ROW_H + 4
    x = x0
    for status in (FAIL, ERROR, XPASS, XFAIL, SKIP):
        fill, ink, word = _MARKED[status]
        out.append(f'<rect x="{x}" y="{y}" width="60" height="{ROW_H - 1}" fill="{fill}" '
                   f'stroke="#cccccc" stroke-width="0.5"/><text x="{x + 30}" y="{y + ROW_H - 5}" '
                   f'text-anchor="middle" fill="{ink}">{word}</text>')
        x += 64
    out.append(f'<text x="{x + 4}" y="{y + ROW_H - 5}">{_text(LEGEND_NOTE)}</text>')
    return out
