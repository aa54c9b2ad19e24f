"""The verdict of each failing (case, dtype, party), told the way a learner reads it: who is
suspect, the first wrong step and quantity, the sentences of the diagnosis
(harness.verdicts.diagnose), then the worst tensors, the first wrong step first.

The terminal of a run (harness.run_command), a failing pytest item (harness.reports.failure_table)
and report.md all tell a finding in this order, so a student meets the same words wherever they
look first.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..format.parties import EXPECTED, SELF
from ..verdicts.compare import ERROR, FAIL, Row
from ..verdicts.patterns import NO_PATTERN, pattern_of
from ..verdicts.diagnose import first_failing_step, verdict
from ..verdicts.layers import layer_of

QUANTITY_ORDER = {"output": 0, "loss": 1, "grad": 2, "hvp": 3, "param": 4}


@dataclass(frozen=True)
class Finding:
    """Every row of one party in one (case, dtype), every party it was compared against."""

    case: str
    dtype: str
    framework: str
    rows: tuple[Row, ...]

    @property
    def errors(self) -> list[Row]:
        return [r for r in self.rows if r.status == ERROR]

    @property
    def against(self) -> str:
        """Whom the verdict is told against: the reference, else golden values, else the
        party's own loss (self-check), else any other party (an oracle)."""
        failing = [r.reference for r in self.rows if r.status == FAIL]
        for reference in failing:
            if reference not in (EXPECTED, SELF):
                return reference
        return EXPECTED if EXPECTED in failing else failing[0] if failing else ""

    def against_rows(self) -> list[Row]:
        return [r for r in self.rows if r.reference == self.against]

    def self_rows(self) -> list[Row]:
        return [r for r in self.rows if r.reference == SELF]

    @property
    def suspect(self) -> str:
        failing = [r for r in self.against_rows() if r.status == FAIL]
        step = first_failing_step(failing)
        first = [r for r in failing if r.step == step]
        return first[0].suspect if first else ""

    def first_wrong(self) -> Row | None:
        """The first failing tensor: the earliest step, then the earliest part of the step."""
        worst = self.worst()
        return worst[0] if worst else None

    def sentences(self) -> list[str]:
        """Who is suspect, where in the step, where in the network: no per-tensor detail."""
        return [s for s in verdict(self.against_rows(), self.self_rows()) if s]

    def worst(self) -> list[Row]:
        """The failing tensors, the first wrong step first; in a step, in the order the step
        makes them (output, loss, the gradients from the last layer down, parameters)."""
        return sorted((r for r in self.rows if r.status == FAIL and r.reference == self.against),
                      key=_story_order)

    def patterns(self) -> tuple[str, ...]:
        """The pattern of each failing tensor of the first wrong step."""
        worst = self.worst()
        return tuple(pattern_of(r.hint) for r in worst if r.step == worst[0].step and r.hint)

    def label(self) -> str:
        return f"{self.case} [{self.dtype}-{self.framework}]"


def _story_order(row: Row) -> tuple:
    """The order a step makes its numbers in: output, loss, then the gradients from the last
    layer down (backpropagation's order, weight before bias), then the parameters."""
    layer = layer_of(row.tensor) if row.quantity == "grad" else None
    backwards = (-layer[0], layer[1] == "bias") if layer else (0, False)
    return (row.step or 0, QUANTITY_ORDER.get(row.quantity, 9), *backwards,
            -(row.tol_used or 0.0))


def findings(rows: list[Row]) -> list[Finding]:
    """One Finding per (case, dtype, party) with a failure or an error, in the rows' order."""
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.case, row.dtype, row.framework), []).append(row)
    return [Finding(*key, tuple(group)) for key, group in groups.items()
            if any(r.status in (FAIL, ERROR) for r in group)]


def tensor_line(row: Row) -> str:
    """One failing tensor: where, how many elements, the worst against its allowance."""
    return f"{row.location}: {row.message}"


def against_name(reference: str) -> str:
    """Whom a party was compared with, in words."""
    return "finite differences of its own loss (self-check)" if reference == SELF else \
        "the golden values" if reference == EXPECTED else reference


def headline(finding: Finding) -> str:
    """The one line of a finding: quiet mode's, and the first of its block."""
    if not finding.worst():
        error = finding.errors[0]
        return f"ERROR {finding.label()}: {error.message}"
    first = finding.first_wrong()
    against = against_name(finding.against)
    suspect = f"suspect {finding.suspect}" if finding.suspect else "no suspect"
    where = f"{first.quantity} {first.tensor}" if first.quantity != first.tensor else first.quantity
    return (f"FAIL {finding.label()} against {against}: {suspect}; first wrong at step "
            f"{first.step}, {where}")


def block(finding: Finding, tensors: int = 4) -> list[str]:
    """A finding's lines for the terminal: the headline, the sentences, then at most
    ``tensors`` worst tensors (each with the pattern of its error where one was found)."""
    lines = [headline(finding)]
    errors = finding.errors if finding.worst() else finding.errors[1:]  # the first: headline
    lines += [f"  ERROR {error.location}: {error.message}" for error in errors]
    if not finding.worst():
        return lines
    lines += [f"  {sentence}" for sentence in finding.sentences()]
    worst = finding.worst()
    lines.append("  worst tensors, first wrong step first:")
    for row in worst[:tensors]:
        lines.append(f"    {tensor_line(row)}")
        if row.step == worst[0].step and pattern_of(row.hint) not in ("", NO_PATTERN):
            lines.append(f"      {pattern_of(row.hint)}")  # later steps only inherit the error
    if len(worst) > tensors:
        lines.append(f"    … {len(worst) - tensors} more failing tensors in report.md")
    return lines

