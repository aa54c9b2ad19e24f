"""heatmap.svg: the run as a picture, one line per case and dtype × one column per framework.

At the top, the verdict line report.md opens with (DISCREPANCIES, everything conforms, …) in plain
text. Each cell is one status, one colour: a passing cell is the worst share of the tolerance used
(tol_used) over that case's comparisons in that dtype and framework, on a log scale, with the
share written in it; a failing, erroring, unexpectedly passing, known-failing, skipped or
inconclusive cell has a fixed colour of its own and says so in words (`FAIL 3.2`, `FAIL far
outside` beyond 1,000 times the tolerance, `inconclusive`), so the picture reads without colour
too; the legend lists every colour. Hovering a cell (its SVG title) names its worst comparison.
Hand-written SVG, no plotting library: it renders in any browser and on GitHub, and the same rows
give the same bytes. Made from rows and the record alone, like report.md (nothing here imports a
framework).
"""
from __future__ import annotations

import html
import math
import re
import textwrap
from pathlib import PurePosixPath

from ..verdicts.compare import DECIDED, ERROR, FAIL, INCONCLUSIVE, SKIP, XFAIL, XPASS, Row
from ..verdicts.numbers import FAR_OUTSIDE, share
from .markdown import ordered, rollup, verdict_line

HEATMAP_FILE = "heatmap.svg"
MAX_ROWS = 150  # above this many lines (case × dtype), one line per folder of case files (capped)
LOW = 1e-6  # the scale's bottom: a share at or below it (exact agreement included) is palest
LABEL_CHARS, HEAD_CHARS = 44, 17
ROW_H, COL_W, CHAR_W, FONT = 18, 120, 6.6, 11  # a cell fits "xfail far outside"
PAD, HEAD = 8, 45  # HEAD: from the title's baseline to the first line of cells
SCALE_X = PAD + round(CHAR_W * 30)  # the scale's swatches, after "share of the tolerance used:"
LEGEND_NOTE = "— no comparisons"
VERDICT_CHARS = 130  # the picture widens to fit a verdict line up to this long; a longer one wraps

# YlGnBu, pale (far within the tolerance) to dark (close to it)
_STOPS = [(0xff, 0xff, 0xcc), (0xa1, 0xda, 0xb4), (0x41, 0xb6, 0xc4), (0x2c, 0x7f, 0xb8),
          (0x25, 0x34, 0x94)]
# every status but pass, in one fixed colour each whatever its share: (fill, text colour, word)
_MARKED = {FAIL: ("#d62728", "#ffffff", "FAIL"), ERROR: ("#1a1a1a", "#ffffff", "ERROR"),
           XPASS: ("#9467bd", "#ffffff", "XPASS"), XFAIL: ("#fdd0a2", "#000000", "xfail"),
           SKIP: ("#ffffff", "#777777", "skip"),
           INCONCLUSIVE: ("#b0b0b0", "#000000", "inconclusive")}
_WITH_SHARE = (FAIL, XPASS, XFAIL)  # marked statuses whose cell also says the share it used
_BOLD = (FAIL, ERROR, XPASS)
_EMPTY = "#eeeeee"
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LEGEND_BOXES = [max(60, round(CHAR_W * len(word)) + 8) for _, _, word in _MARKED.values()]
LEGEND_W = max(SCALE_X + 7 * 44, PAD + round(CHAR_W * 10) + sum(w + 4 for w in _LEGEND_BOXES)
               + round(CHAR_W * (len(LEGEND_NOTE) + 1))) + PAD


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
    """The row that used the most of its tolerance among those that compared something (an
    infinite share included: it reads "far outside")."""
    used = [r for r in rows if r.status in DECIDED and r.tol_used is not None
            and not math.isnan(r.tol_used)]
    return max(used, key=lambda r: r.tol_used, default=None)


def _label(case: str, dtype: str) -> tuple[str, str]:
    """(label, label as drawn) of a case run: a long case name is cut, never its dtype."""
    suffix = f" [{dtype}]"
    return case + suffix, _short(case, max(8, LABEL_CHARS - len(suffix))) + suffix


def _lines(rows: list[Row], record: dict
           ) -> tuple[list[tuple[str, str, list[Row]]], list[str], str]:
    """(label, label as drawn, rows) per line of the picture, the frameworks, and a note when it
    was bounded."""
    rows, runs = ordered(rows, record)
    present = {r.framework for r in rows}
    frameworks = [n for n in record.get("frameworks", []) if n in present]
    frameworks = list(dict.fromkeys(frameworks)) + sorted(present - set(frameworks))
    by_run: dict[tuple[str, str], list[Row]] = {(e["case"], e["dtype"]): [] for e in runs}
    for r in rows:
        by_run.setdefault((r.case, r.dtype), []).append(r)
    note = ""
    lines = [(*_label(case, dtype), run_rows) for (case, dtype), run_rows in by_run.items()]
    if len(lines) > MAX_ROWS:  # one line per folder of case files keeps 1,000 cases readable
        folder = {e["case"]: str(PurePosixPath(e.get("origin", e["file"])).parent)
                  for e in runs}
        by_folder: dict[str, list[Row]] = {}
        cases: dict[str, set[str]] = {}
        counts: dict[str, int] = {}
        for (case, _), run_rows in by_run.items():
            key = folder.get(case) or (str(PurePosixPath(run_rows[0].file).parent)
                                       if run_rows else "?")
            by_folder.setdefault(key, []).extend(run_rows)
            cases.setdefault(key, set()).add(case)
            counts[key] = counts.get(key, 0) + 1
        lines = []
        for k, v in by_folder.items():
            label = f"{k}/ ({len(cases[k])} cases" + (
                f", {counts[k]} runs)" if counts[k] != len(cases[k]) else ")")
            lines.append((label, _short(label, LABEL_CHARS), v))
        n_cases = len({case for case, _ in by_run})
        note = f"{n_cases} cases" + (f" ({len(by_run)} runs)" if len(by_run) != n_cases
                                     else "") + ", one line per folder"
        if len(lines) > MAX_ROWS:
            note += f"; the first {MAX_ROWS} of {len(lines)} folders shown (all in report.csv)"
            lines = lines[:MAX_ROWS]
    return lines, frameworks, note


def _cell(rows: list[Row]) -> tuple[str, str, str, str, bool]:
    """(fill, text colour, text, tooltip, bold) of one cell."""
    if not rows:
        return _EMPTY, "#777777", "—", "no comparisons", False
    status = rollup(rows)
    # the share a cell says is its own status's (a FAIL cell's: its failing comparisons'); an
    # inconclusive cell's tooltip gives the worst of the comparisons that were decided
    worst = _worst(rows if status == INCONCLUSIVE else [r for r in rows if r.status == status])
    tooltip = status
    if status == INCONCLUSIVE:
        undecided = sum(r.status == INCONCLUSIVE for r in rows)
        tooltip += f" ({undecided} of {len(rows)} comparisons undecided)"
    if worst is not None:
        # in words beyond FAR_OUTSIDE here too; report.csv has the figure
        used = share(worst.tol_used) + (" the tolerance" if worst.tol_used > FAR_OUTSIDE
                                        else " of the tolerance")
        tooltip += (f"; worst: {used} at [{worst.dtype}] step {worst.step} {worst.quantity} "
                    f"{worst.tensor} vs {worst.reference}")
    if status in _MARKED:
        fill, ink, word = _MARKED[status]
        text = word + (f" {share(worst.tol_used)}" if status in _WITH_SHARE and worst else "")
        return fill, ink, text, tooltip, status in _BOLD
    if worst is None:  # a pass that carries no share
        return "#ffffff", "#000000", status, tooltip, False
    fill = colour(worst.tol_used)
    return fill, _ink(fill), share(worst.tol_used), tooltip, False


def _verdict(rows: list[Row], runs: int, width: int) -> list[str]:
    """report.md's verdict line in plain text, its verdict in bold, wrapped to ``width``."""
    line = verdict_line(rows, runs)
    verdict = line.split("**")[1] if line.startswith("**") and line.count("**") >= 2 else ""
    plain = line.replace("**", "")
    wrapped = textwrap.wrap(plain, max(20, int((width - 2 * PAD) / CHAR_W))) or [""]
    out = []
    for i, text in enumerate(wrapped):
        y = PAD + FONT + i * ROW_H
        if i == 0 and verdict and text.startswith(verdict):
            ink = ' fill="#d62728"' if verdict == "DISCREPANCIES" else ""
            body = (f'<tspan font-weight="bold"{ink}>{_text(verdict)}</tspan>'
                    f"{_text(text[len(verdict):])}")
        else:
            body = _text(text)
        out.append(f'<text x="{PAD}" y="{y}">{body}</text>')
    return out


def heatmap_svg(rows: list[Row], record: dict) -> str:
    """The picture as SVG text: the same rows and record give the same bytes."""
    lines, frameworks, note = _lines(rows, record)
    title = ("Worst share of the tolerance used per case, dtype and framework "
             "(log scale; above 1 fails)")
    label_w = round(CHAR_W * min(LABEL_CHARS, max([len(s) for _, s, _ in lines] + [4]))) + 2 * PAD
    verdict_chars = len(verdict_line(rows, len(record["runs"])).replace("**", ""))
    width = max(label_w + COL_W * max(len(frameworks), 1) + PAD, LEGEND_W,
                round(CHAR_W * max(len(title), min(verdict_chars, VERDICT_CHARS))) + 2 * PAD)
    verdict = _verdict(rows, len(record["runs"]), width)
    title_y = PAD + FONT + len(verdict) * ROW_H + 4
    top = title_y + HEAD
    legend_y = top + ROW_H * len(lines) + 2 * PAD
    height = legend_y + 3 * ROW_H + PAD + (ROW_H if note else 0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Menlo, Consolas, monospace" '
           f'font-size="{FONT}">',
           "<title>Worst share of the tolerance used, per case, dtype and framework</title>",
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>', *verdict,
           f'<text x="{PAD}" y="{title_y}" font-weight="bold">{_text(title)}</text>']
    for j, framework in enumerate(frameworks):
        x = label_w + j * COL_W + COL_W // 2
        out.append(f'<text x="{x}" y="{top - 6}" text-anchor="middle" font-weight="bold">'
                   f'<title>{_text(framework)}</title>{_text(_short(framework, HEAD_CHARS))}'
                   "</text>")
    for i, (label, shown, line_rows) in enumerate(lines):
        y = top + i * ROW_H
        out.append(f'<text x="{PAD}" y="{y + ROW_H - 5}"><title>{_text(label)}</title>'
                   f"{_text(shown)}</text>")
        for j, framework in enumerate(frameworks):
            fill, ink, text, tooltip, bold = _cell([r for r in line_rows
                                                    if r.framework == framework])
            x = label_w + j * COL_W
            weight = ' font-weight="bold"' if bold else ""
            out.append(f'<g><title>{_text(label)} × {_text(framework)}: {_text(tooltip)}</title>'
                       f'<rect x="{x}" y="{y}" width="{COL_W - 1}" height="{ROW_H - 1}" '
                       f'fill="{fill}" stroke="#cccccc" stroke-width="0.5"/>'
                       f'<text x="{x + COL_W // 2}" y="{y + ROW_H - 5}" text-anchor="middle" '
                       f'fill="{ink}"{weight}>{_text(text)}</text></g>')
    out += _legend(legend_y)
    if note:
        out.append(f'<text x="{PAD}" y="{legend_y + 3 * ROW_H + FONT}">{_text(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _legend(y: int) -> list[str]:
    """The pass scale, then every other status's colour and word, then the empty cell."""
    out = [f'<text x="{PAD}" y="{y + ROW_H - 5}">share of the tolerance used:</text>']
    exponents = range(round(math.log10(LOW)), 1)
    for k, e in enumerate(exponents):
        x = SCALE_X + k * 44
        fill = colour(10.0 ** e)
        label = "≤1e-6" if e == round(math.log10(LOW)) else f"1e{e}" if e else "1"
        out.append(f'<rect x="{x}" y="{y}" width="43" height="{ROW_H - 1}" fill="{fill}"/>'
                   f'<text x="{x + 22}" y="{y + ROW_H - 5}" text-anchor="middle" '
                   f'fill="{_ink(fill)}">{label}</text>')
    y += ROW_H + 4
    out.append(f'<text x="{PAD}" y="{y + ROW_H - 5}">verdicts:</text>')
    x = PAD + round(CHAR_W * 10)
    for ((fill, ink, word), box) in zip(_MARKED.values(), _LEGEND_BOXES):
        out.append(f'<rect x="{x}" y="{y}" width="{box}" height="{ROW_H - 1}" fill="{fill}" '
                   f'stroke="#cccccc" stroke-width="0.5"/><text x="{x + box // 2}" '
                   f'y="{y + ROW_H - 5}" text-anchor="middle" fill="{ink}">{word}</text>')
        x += box + 4
    out.append(f'<text x="{x + 4}" y="{y + ROW_H - 5}">{_text(LEGEND_NOTE)}</text>')
    return out
