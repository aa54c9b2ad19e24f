"""Facts in the README that come from code are checked here, so they cannot drift."""
from __future__ import annotations

import re

from harness import cli
from harness.compare import COLUMNS
from harness.tolerance import DEFAULTS

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _table_after(heading: str) -> list[list[str]]:
    """The first Markdown table after ``heading``: its body rows as lists of cells."""
    text = README[README.index(heading):]
    lines = [l for l in text.splitlines() if l.startswith("|")]
    start = next(i for i, l in enumerate(text.splitlines()) if l.startswith("|"))
    body = []
    for line in text.splitlines()[start:]:
        if not line.startswith("|"):
            break
        body.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    assert lines
    return body[2:]


def test_default_tolerance_table_matches_the_code():
    rows = {r[0]: r for r in _table_after("| dtype | atol | rtol | scale_rtol | sum_rtol |")}
    for dtype, tolerance in DEFAULTS.items():
        _, atol, rtol, scale_rtol, sum_rtol = rows[dtype]
        assert atol.startswith(f"{tolerance.atol:.2g}")
        assert (float(rtol), float(scale_rtol), float(sum_rtol)) == \
            (tolerance.rtol, tolerance.scale_rtol, tolerance.sum_rtol)


def test_every_csv_column_is_documented():
    documented = set()
    for row in _table_after("| column | meaning |"):
        documented |= {name.strip() for name in row[0].split(",")}
    assert documented == set(COLUMNS)


def test_exit_codes_are_documented():
    codes = {int(r[0]) for r in _table_after("| exit code | meaning |")}
    assert {cli.EXIT_OK, cli.EXIT_DISCREPANCY, cli.EXIT_BAD_INPUT,
            cli.EXIT_NOTHING_COMPARED, 130} == codes
