"""The pytest plugin's part of known discrepancies (harness/plugin.py calls it):
``--harness-strict-known``, which makes an item whose declaration did not occur (xpass) fail,
and the summary's lines naming each such declaration's file and line, as ``run`` prints them.
"""
from __future__ import annotations

import pytest

from .verdicts.compare import Row
from .verdicts.known_discrepancies import applied, xpasses

OPTION = "harness_strict_known"
SHOWN = 10  # xpass lines in the summary; the report lists them all


def add_option(group) -> None:
    group.addoption("--harness-strict-known", dest=OPTION, action="store_true",
                    help="fail an item whose declared known discrepancy did not occur (xpass: "
                         "fixed upstream, remove the declaration)")


def declared(case, framework: str, dtype: str) -> list[str]:
    """The causes an item's xfail mark names: its party's declarations in its dtype, within their
    version ranges (one outside its range is not applied: the item is judged as any other)."""
    return [k.reason for k in applied(case, framework, dtype)]


def strict(config: pytest.Config, rows: list[Row]) -> None:
    """Under --harness-strict-known, an item with a declaration that did not occur fails,
    naming it (the item's xfail mark expects only KnownDiscrepancyOccurred, so it fails)."""
    fixed = xpasses(rows) if config.getoption(OPTION) else []
    if fixed:
        pytest.fail("--harness-strict-known: " + "\n".join(fixed), pytrace=False)


def summary(terminalreporter, rows: list[Row]) -> None:
    fixed = xpasses(rows)
    for said in fixed[:SHOWN]:
        terminalreporter.write_line(f"harness: XPASS {said}", yellow=True)
    if len(fixed) > SHOWN:
        terminalreporter.write_line(f"harness: … and {len(fixed) - SHOWN} more xpass in the "
                                    "report", yellow=True)
