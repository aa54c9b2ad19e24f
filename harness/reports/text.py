"""The text report.md and the diff (its summary and diff.md) both write: numbers to three
significant figures, and text from a case or a framework made safe for Markdown."""
from __future__ import annotations

import re


def md_text(text: object) -> str:
    """Text from a case or a framework, safe inside a Markdown line or table cell."""
    text = re.sub(r"[\r\n]+", " ", str(text))
    return text.replace("|", "\\|")


def figures(value: float | None, none: str = "") -> str:
    """A number to three significant figures; ``none`` where there is no number."""
    return none if value is None else f"{value:.3g}"
