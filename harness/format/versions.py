"""Version ranges: the ``versions:`` of a known discrepancy ("torch<2.15", "jax>=0.4.20,<0.6").

A range is a package name (optional: the declaration's framework when left out) and comparisons
joined by commas, each an operator (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``) and a release
number (``2.15``, ``0.4.20``). Every comparison must hold. They compare release numbers, with
trailing zeros ignored (2.13 is 2.13.0): whatever an installed version carries after its release
number (``2.13.0+cpu``, ``2.15.0rc1``, ``0.5.0.dev20240101``, ``1.2.post1``) is left out, so
2.15.0rc1 is 2.15 and ``<2.15`` excludes it, as PEP 440 does; unlike PEP 440, ``>=2.15``
includes it (a release candidate is taken to carry its release's fixes).

Written here rather than taken from the ``packaging`` library: packaging is no dependency of
anything the harness installs to run (numpy, pyyaml, pandas, torch, jax, optax, micrograd,
ml_dtypes); only pytest, a test extra, brings it. What a range needs is this page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_NAME = re.compile(r"[A-Za-z]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_NUMBER = re.compile(r"\d+(\.\d+)*")
_CLAUSE = re.compile(r"\s*(==|!=|<=|>=|<|>)\s*(\S*?)\s*")
_INSTALLED = re.compile(r"v?(\d+(\.\d+)*)")  # the release number an installed version starts with
EXAMPLE = '"torch<2.15" or "jax>=0.4.20,<0.6"'
_COMPARISON = r"\s*(==|!=|<=|>=|<|>)\s*\d+(\.\d+)*\s*"
# what parse_range accepts, as one regular expression (the JSON Schema's pattern)
PATTERN = rf"^\s*([A-Za-z]([A-Za-z0-9._-]*[A-Za-z0-9])?)?{_COMPARISON}(,{_COMPARISON})*$"
_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def release(text: str) -> tuple[int, ...] | None:
    """The release number a version starts with, trailing zeros dropped (2.13.0+cpu: (2, 13));
    None when it starts with none."""
    match = _INSTALLED.match(text.strip())
    if match is None:
        return None
    numbers = [int(n) for n in match.group(1).split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


@dataclass(frozen=True)
class VersionRange:
    """A package's versions: every clause must hold."""

    package: str | None  # None: the declaration's framework
    clauses: tuple[tuple[str, str], ...]  # (operator, release number)

    def named(self, package: str) -> "VersionRange":
        """The range with its package filled in when it named none."""
        return self if self.package else VersionRange(package, self.clauses)

    def __str__(self) -> str:
        return (self.package or "") + ",".join(op + number for op, number in self.clauses)

    def contains(self, installed: str) -> bool | None:
        """Whether the installed version is in the range; None when it has no release number."""
        found = release(installed)
        if found is None:
            return None
        return all(_COMPARE[op](found, release(number)) for op, number in self.clauses)


def parse_range(text: object) -> tuple[VersionRange | None, str | None]:
    """(the range, None), or (None, what is wrong with it, in words)."""
    if not isinstance(text, str) or not text.strip():
        return None, "expected a version range"
    text = text.strip()
    name = _NAME.match(text)
    package = None
    rest = text
    if name:
        package, rest = name.group(0), text[name.end():]
    if not rest.strip():
        return None, f"{text!r} names no versions: add comparisons such as <2.15"
    clauses = []
    for part in rest.split(","):
        clause = _CLAUSE.fullmatch(part)
        if not part.strip():
            return None, "an empty comparison between commas (or after the last one)"
        if clause is None:
            return None, (f"{part.strip()!r} is not a comparison: expected one of "
                          f"{' '.join(OPERATORS)} and a release number, such as <2.15")
        op, number = clause.groups()
        if not _NUMBER.fullmatch(number):
            return None, (f"'{op}{number}' does not compare with a release number (digits "
                          "and dots, such as 2.15 or 0.4.20)")
        clauses.append((op, number))
    return VersionRange(package, tuple(clauses)), None
