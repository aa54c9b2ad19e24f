"""Collecting problems while reading a case: each names the file, the line, the field's path,
what was expected and what was found. The typed readers here check one value each and record a
problem instead of raising, so a document is walked whole and every problem is listed at once.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import catalog
from .errors import Problem
from .limits import DEFAULTS, Limits
from .parties import Parties
from .yamlsafe import Document, format_path, quoted

INT_BOUND = 2**63  # an integer field beyond a 64-bit integer is a mistake, whatever its limit


def _number_text(value: int | float) -> str:
    """A number as text; an integer too long to print whole (Python refuses beyond 4,300
    digits, and nobody reads 300) is given by its length."""
    if isinstance(value, int) and abs(value) >= 10**30:
        if value.bit_length() <= 15_000:  # str() is quick up to here, and may refuse past 4,300
            try:
                return f"an integer of {len(str(abs(value))):,} digits"
            except ValueError:  # beyond sys.get_int_max_str_digits()
                pass
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    return repr(value)


def kind_of(value: Any) -> str:
    """What a value read from a case is, in words: the "found ..." of a problem."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, int) and abs(value) >= 10**30:
        return _number_text(value)
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 40 else "a string"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _suggest(word: Any, valid: Iterable[str], place: str = "key",
             entry: str | None = None) -> str:
    """The valid names, and the one meant: an alias the catalog knows for ``word`` in this
    place (learning_rate → lr), else the closest spelling."""
    valid = list(valid)
    return f"valid: {', '.join(valid)}{did_you_mean(word, valid, place, entry)}"


def did_you_mean(word: Any, valid: list[str], place: str = "key",
                 entry: str | None = None) -> str:
    """"; did you mean 'lr' (the learning rate)?", or "" when nothing valid is near."""
    known = catalog.alias("null" if word is None else str(word)[:100], place, valid, entry)
    if known:
        names, meaning = known
        return f"; did you mean {' and '.join(map(repr, names))}" \
               f"{f' ({meaning})' if meaning else ''}?"
    if word is None:  # a null is an alias or nothing: it is no spelling of a name
        return ""
    close = difflib.get_close_matches(str(word)[:100], valid, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def transposed(expected: tuple[int, ...], found: tuple[int, ...], rows: str | None) -> str:
    """": transposed? {rows}" when ``found`` is a 2-D ``expected`` reversed (never for a square
    shape, which a transposed table keeps); "" otherwise. ``rows`` says how the values are
    written: "a weight is written (units, fan_in), one row per unit"."""
    if rows and len(expected) == 2 and expected[0] != expected[1] and \
            tuple(found) == (expected[1], expected[0]):
        return f": transposed? {rows}"
    return ""



class Checker:
    """Reads values of one document, collecting problems rather than stopping at the first."""

    def __init__(self, doc: Document, parties: Parties | Iterable[str],
                 limits: Limits = DEFAULTS):
        self.doc = doc
        self.limits = limits
        self.file = doc.file
        self.folder = Path(doc.file).resolve().parent
        self.parties = parties if isinstance(parties, Parties) else Parties.of(parties)
        self.frameworks = list(self.parties.names)
        self.problems: list[Problem] = []
        self.warnings: list[str] = []


    def problem(self, path: tuple, message: str) -> None:
        self.problems.append(Problem(self.file, self.doc.line(path), format_path(path), message))

    def within(self, path: tuple, limit: str, found: int, what: str, detail: str = "",
               more: bool = False) -> bool:
        """Whether ``found`` is within the limit named ``limit``; a problem naming the limit
        and how to raise it when it is not (Limits.exceeded)."""
        message = self.limits.exceeded(limit, found, what, detail, more)
        if message:
            self.problem(path, message)
        return message is None

    def mapping(self, value: Any, path: tuple, allowed: Iterable[str],
                required: Iterable[str] = (), entry: str | None = None) -> dict | None:
        """A mapping of the ``allowed`` keys; ``entry`` is the catalog entry whose settings
        they are (rmsprop), for the aliases that hold under it alone."""
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, found {kind_of(value)}")
            return None
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                self.problem(path + (key,),
                             f"unknown key {quoted(key)}; {_suggest(key, allowed, 'key', entry)}")
        for key in required:
            if key not in value:
                self.problem(path, f"missing required key {key!r}")
        return value

    def integer(self, value: Any, path: tuple, minimum: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected an integer, found {kind_of(value)}")
            return None
        if minimum is not None and value < minimum:
            self.problem(path, f"expected an integer ≥ {minimum}, found {_number_text(value)}")
            return None
        if abs(value) >= INT_BOUND:
            self.problem(path, f"expected an integer below 2**63, found {_number_text(value)}")
            return None
        return value

    def number(self, value: Any, path: tuple, positive: bool = False,
               nonnegative: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(path, f"expected a number, found {kind_of(value)}")
            return None
        try:
            value = float(value)
        except OverflowError:  # an integer beyond 1.8e308
            self.problem(path, f"expected a finite number, found {_number_text(value)}")
            return None
        if not np.isfinite(value):
            self.problem(path, f"expected a finite number, found {value}")
            return None
        if positive and value <= 0:
            self.problem(path, f"expected a number > 0, found {value}")
            return None
        if nonnegative and value < 0:
            self.problem(path, f"expected a number ≥ 0, found {value}")
            return None
        return value

    def draw_setting(self, value: Any, path: tuple, key: str) -> float | None:
        """A setting random values are drawn with (init schemes, random data): a number within
        the bounds the catalog gives it (a finite range, a positive std, p in [0, 1])."""
        number = self.number(value, path)
        problem = None if number is None else catalog.DRAW_SETTINGS[key].problem(number)
        if problem:
            self.problem(path, problem)
            return None
        return number

    def string(self, value: Any, path: tuple) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"expected a string, found {kind_of(value)}")
            return None
        return value

    def choice(self, value: Any, path: tuple, valid: Iterable[str], what: str,
               given: bool = True) -> str | None:
        """One of the ``valid`` names; ``given`` is false for a key that is missing (read as
        None, but no null written: `activation: null` means identity, a missing name not)."""
        if not isinstance(value, str):
            hint = did_you_mean(None, list(valid), what) if value is None and given else ""
            self.problem(path, f"expected {what} name, found {kind_of(value)}{hint}")
            return None
        valid = list(valid)
        if value not in valid:
            self.problem(path, f"unknown {what} {quoted(value)}; {_suggest(value, valid, what)}")
            return None
        return value

    def array(self, value: Any, path: tuple, shape: tuple[int, ...] | None = None,
              what: str = "", rows: str | None = None) -> np.ndarray | None:
        """A nested list of numbers; checked against ``shape`` when one is given. ``what``
        names its dimensions (" (units, fan_in)"); ``rows`` says how it is written, for the
        hint when it is given transposed (by default from ``what``, ROWS)."""
        wrong = _not_a_number(value, ())
        if wrong is not None:  # float64 would silently read true as 1.0, null as nan, '2' as 2
            where, found = wrong
            kind = kind_of(found)
            hint = " (write .nan for a missing value)" if found is None else ""
            self.problem(path, f"expected numbers, found {kind} at {format_path(where)}{hint}"
                         if where else f"expected a (nested) list of numbers, found {kind}")
            return None
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            self.problem(path, f"expected a (nested) list of numbers, found {kind_of(value)} "
                               "with non-numbers or ragged rows")
            return None
        if shape is not None and arr.shape != shape:
            self.problem(path, f"expected shape {shape_text(shape)}{what}, "
                               f"found {shape_text(arr.shape)}"
                               f"{transposed(shape, arr.shape, rows or ROWS.get(what))}")
            return None
        return arr


def _not_a_number(value: Any, where: tuple) -> tuple[tuple, Any] | None:
    """(where, what) of the first value in nested lists that is not a number, or None. An
    integer beyond the range of a float counts as not a number."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _not_a_number(item, where + (i,))
            if found is not None:
                return found
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, int) and abs(value) >= 2**1024):
        return where, value
    return None


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as a problem writes it: (3, 2), (4,)."""
    return "(" + ", ".join(_size(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _size(n: int) -> str:
    """One size of a shape; one too long to print (a .npy header may say anything) by its
    order of magnitude."""
    if abs(n) < 10**30:
        return str(n)
    return f"{'-' if n < 0 else ''}~10^{int(n.bit_length() * 0.30103)}"


def layout_text(name: str) -> str:
    """A parameter's dimensions in words: " (units, fan_in)" for a weight, " (units,)" for a
    bias."""
    return " (units, fan_in)" if name.endswith("weight") else " (units,)"


# how a 2-D tensor is written, by the dimensions a problem names: the hint for one given
# transposed
ROWS = {" (units, fan_in)": "a weight is written (units, fan_in), one row per unit",
        " (batch, units)": "the output is written (batch, units), one row per sample"}


def brief_values(arr: np.ndarray) -> str:
    """An array's first six values, for a problem: [0, 1, 2, …]."""
    flat = arr.ravel()
    text = ", ".join(f"{v:g}" for v in flat[:6])
    return f"[{text}{', …' if flat.size > 6 else ''}]"

