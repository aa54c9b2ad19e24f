"""Text the reports and the terminal show: numbers to three significant figures, and text from a
case, a framework or a report folder made safe for where it goes: a Markdown line or table cell,
a Markdown code span, a spreadsheet cell, a terminal line."""
from __future__ import annotations

import re

# C0 and C1 controls (an escape sequence rewrites a terminal; a carriage return overwrites a
# line), and the bidirectional overrides that make text read otherwise than it is stored
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\r\n]+")
# what HTML, a link or an image needs: text from a case is never markup in report.md
_MARKUP = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "|": "\\|"}
_MARKUP_CHARACTERS = re.compile("[&<>\\[\\]|]")
_SCRIPT_SCHEMES = re.compile(r"\b(javascript|vbscript):", re.IGNORECASE)


def _visible(match: re.Match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def visible_controls(text: str) -> str:
    """Control characters (tab and newline kept) written out as escapes: \\x1b, \\r, \\u202e."""
    return _CONTROLS.sub(_visible, text)


def terminal_text(text: object) -> str:
    """One line for the terminal: no control character, line break included, reaches it raw,
    so nothing from a case or a report folder can move the cursor, recolour or forge a line."""
    return _CONTROLS.sub(_visible, str(text).replace("\n", "\\n"))


def md_text(text: object) -> str:
    """Text from a case or a framework, safe inside a Markdown line or table cell: one line,
    no HTML (tags and entities are shown, not read), no link or image (brackets escaped, and
    a script scheme such as javascript: written so that no renderer links it)."""
    text = visible_controls(_LINE_BREAKS.sub(" ", str(text)))
    text = _MARKUP_CHARACTERS.sub(lambda m: _MARKUP[m.group()], text)
    return _SCRIPT_SCHEMES.sub(lambda m: m.group(1) + "&#58;", text)


def md_code(text: object) -> str:
    """Text from a case as a Markdown code span, backticks and all: the fence is longer than any
    run of backticks in the text, so the text cannot close it (and HTML in a code span is
    shown, not read)."""
    text = visible_controls(_LINE_BREAKS.sub(" ", str(text)))
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def figures(value: float | None, none: str = "") -> str:
    """A number to three significant figures; ``none`` where there is no number."""
    return none if value is None else f"{value:.3g}"


# -- spreadsheet cells ----------------------------------------------------------------------
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def formula_safe(text: str) -> str:
    """A cell that opens with =, +, -, @, a tab or a carriage return, and is not a number, is
    prefixed with a single quote, as OWASP advises against CSV injection: a tensor name, a file
    name or a reason from a case never runs as a formula when report.csv is opened."""
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def unescape_formula(text: str) -> str:
    """A cell of report.csv as it was before :func:`formula_safe`."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
