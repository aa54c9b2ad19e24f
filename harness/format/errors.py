"""Problems found in user input, collected so that all of them can be reported at once."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a case file: where it is and what was expected there."""

    file: str
    line: int | None
    field: str  # dotted path such as "network[0].activation"; "" for the whole file
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class CaseError(Exception):
    """Raised with every problem of one or more case files; printed without a traceback."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(Exception):
    """A command-line mistake (unknown framework, missing path); exit code 2."""
