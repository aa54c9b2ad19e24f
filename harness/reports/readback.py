"""A report folder read back (``python -m harness report`` and ``diff``): report.csv into rows and
run.json into the record, each checked before anything is made of it.

Whatever is wrong with them (a file that is empty, not UTF-8, opens with a byte order mark or
holds a NUL; a missing column, a row of the wrong width, a cell that cannot be what its column
holds; a run.json that is not a JSON object, lacks a key, has a value of the wrong kind or a
format this version does not read) is a UsageError naming the file, the line or field, what was
expected and what was found: never a traceback, never a silent default.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

from ..format.errors import UsageError
from ..verdicts.compare import COLUMNS, RENAMED_COLUMNS, Row
from .markdown import STATUSES
from .text import unescape_formula

RECORD_FILE = "run.json"
RECORD_FORMATS = (1, 2)  # run.json formats this version reads; harness.reports.record writes 2
REQUIRED = ("case", "file", "dtype", "framework", "reference", "step", "quantity", "tensor",
            "status")
SHOWN_PROBLEMS = 10  # of a run.json's problems, said one per line
# columns the reports write as they are, not as text from a case: names only (float32, grad)
NAME = re.compile(r"[A-Za-z0-9_.+@-]*\Z")
NAMED_COLUMNS = ("dtype", "quantity")
_TYPES = {f.name: f.type for f in fields(Row)}


# -- report.csv -----------------------------------------------------------------------------
def _text_of(path: Path) -> str:
    """report.csv's text: UTF-8 as the harness writes it, without a BOM or a NUL."""
    raw = path.read_bytes()
    if not raw:
        raise UsageError(f"{path}: the file is empty (0 bytes); expected report.csv's header "
                         f"line ({', '.join(COLUMNS[:4])}, …) and a line per comparison")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise UsageError(f"{path}: line 1: opens with a UTF-8 byte order mark; expected "
                         "report.csv as the harness writes it (UTF-8 without one: was it saved "
                         "again by a spreadsheet?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise UsageError(f"{path}: line {line}: not UTF-8 text (byte 0x{raw[error.start]:02x}); "
                         "expected report.csv as the harness writes it") from None
    if "\0" in text:
        line = text[:text.index("\0")].count("\n") + 1
        raise UsageError(f"{path}: line {line}: a NUL byte; expected text")
    return text


def _check_header(path: Path, header: list[str]) -> None:
    names = [RENAMED_COLUMNS.get(c, c) for c in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise UsageError(f"{path}: line 1: not a report.csv: missing column(s) "
                         f"{', '.join(missing)}; expected the columns of report.csv "
                         f"({', '.join(COLUMNS[:9])}, …)")


def _parse(column: str, text: str):
    kind = _TYPES.get(column, "str")
    if "float" in kind:
        return None if text == "" else float(text)
    if "int" in kind:
        return None if text == "" else int(float(text))  # OverflowError for 1e999
    return unescape_formula(text)


def _row(line: dict, number: int) -> Row:
    values = {}
    for column, text in line.items():
        column = RENAMED_COLUMNS.get(column, column)
        if column not in _TYPES:
            continue
        try:
            values[column] = _parse(column, text)
        except (ValueError, OverflowError):
            kind = "a whole number" if "int" in _TYPES[column] else "a number"
            raise ValueError(f"line {number}, column {column}: expected {kind} or nothing, "
                             f"found {text[:80]!r}") from None
    for column in NAMED_COLUMNS:
        if not NAME.match(values.get(column, "")):
            raise ValueError(f"line {number}, column {column}: expected a name (letters, digits, "
                             f"_ . + @ -), found {values[column][:80]!r}")
    if values.get("status") not in STATUSES:
        raise ValueError(f"line {number}, column status: expected one of "
                         f"{', '.join(STATUSES)}, found {str(values.get('status'))[:80]!r}")
    return Row(**values)


def rows_from_csv(path: str | Path) -> list[Row]:
    """report.csv back into rows; columns it lacks (an older report) take their defaults, and
    a column since renamed is read under its new name. Anything else wrong with the file is a
    UsageError naming it and the line (and column) where it is."""
    path = Path(path)
    try:
        reader = csv.reader(io.StringIO(_text_of(path), newline=""), strict=True)
        header = next(reader, [])
        _check_header(path, header)
        rows = []
        for fields_ in reader:
            if not fields_:
                continue  # a blank line
            if len(fields_) != len(header):
                raise ValueError(f"line {reader.line_num}: expected {len(header)} fields (the "
                                 f"header's), found {len(fields_)}")
            rows.append(_row(dict(zip(header, fields_)), reader.line_num))
        return rows
    except OSError as error:
        raise UsageError(f"{path}: cannot read it: {error.strerror or error}") from None
    except csv.Error as error:
        raise UsageError(f"{path}: line {reader.line_num}: not a readable CSV row: {error}") \
            from None
    except ValueError as error:
        raise UsageError(f"{path}: not a readable report.csv: {error}") from None


# -- run.json -------------------------------------------------------------------------------
Check = Callable[[Any, str, list], None]  # (value, field, problems): appends what is wrong


def _found(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    return f"a list of {len(value)}" if isinstance(value, list) else "an object"


def _kind(expected: str, test: Callable[[Any], bool]) -> Check:
    def check(value, field, problems):
        if not test(value):
            problems.append(f"{field}: expected {expected}, found {_found(value)}")
    check.expected = expected
    return check


TEXT = _kind("a string", lambda v: isinstance(v, str))
NAMED = _kind("a name (letters, digits, _ . + @ -)",
              lambda v: isinstance(v, str) and NAME.match(v) is not None)
NUMBER = _kind("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
STEPS = _kind("a whole number ≥ 1", lambda v: isinstance(v, int) and not isinstance(v, bool)
              and v >= 1)
FLAG = _kind("true or false", lambda v: isinstance(v, bool))
OBJECT = _kind("an object", lambda v: isinstance(v, dict))
PAIR = _kind("a pair of strings [name, version]",
             lambda v: isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v))


def list_of(item: Check) -> Check:
    def check(value, field, problems):
        if not isinstance(value, list):
            problems.append(f"{field}: expected a list, found {_found(value)}")
            return
        for i, entry in enumerate(value):
            item(entry, f"{field}[{i}]", problems)
    return check


def map_of(item: Check) -> Check:
    def check(value, field, problems):
        if not isinstance(value, dict):
            problems.append(f"{field}: expected an object, found {_found(value)}")
            return
        for key, entry in value.items():
            item(entry, f"{field}.{key}", problems)
    return check


def object_of(required: dict[str, Check], optional: dict[str, Check] | None = None) -> Check:
    """An object with these keys; others are let through (a later release of the same format
    may add one)."""
    def check(value, field, problems):
        if not isinstance(value, dict):
            problems.append(f"{field or 'the file'}: expected an object, found {_found(value)}")
            return
        prefix = f"{field}." if field else ""
        for key, item in {**required, **(optional or {})}.items():
            if key in value:
                item(value[key], prefix + key, problems)
            elif key in required:
                problems.append(f"{field or 'the file'}: missing key {key!r}; expected the keys "
                                f"{', '.join(map(repr, required))}")
    return check


TOLERANCE = object_of({"party": TEXT, "source": TEXT, "atol": NUMBER})
RUN = object_of({"case": TEXT, "dtype": NAMED, "file": TEXT},
                {"steps": STEPS, "warnings": list_of(TEXT), "known": map_of(list_of(TEXT)),
                 "notes": map_of(list_of(TEXT)), "tolerances": list_of(TOLERANCE),
                 "variant_of": TEXT, "origin": TEXT, "description": TEXT})
REPRO = object_of({"folder": TEXT, "case": TEXT, "dtype": NAMED, "framework": TEXT},
                  {"available": FLAG})
RECORD = object_of({"runs": list_of(RUN), "frameworks": list_of(TEXT)},
                   {"reference": TEXT, "generated": TEXT, "environment": list_of(PAIR),
                    "options": OBJECT, "repro": list_of(REPRO)})


def _format_problem(record: Any) -> str | None:
    """The format first: a record of a format this version does not read is refused by it,
    whatever else it holds."""
    if not isinstance(record, dict):
        return (f"expected a JSON object (the record of a run, written by `python -m harness "
                f"run`), found {_found(record)}")
    found = record.get("format")
    if "format" not in record:
        return "missing key 'format'; expected the record of a run, written by " \
               "`python -m harness run`"
    if found not in RECORD_FORMATS or isinstance(found, bool):
        return (f"format: {found!r} is not a run.json format this version of the harness reads "
                f"(it reads {' and '.join(map(str, RECORD_FORMATS))}); render it with the "
                "version that wrote it, or run the cases again")
    return None


def record_problems(record: Any) -> list[str]:
    """What is wrong with a run.json document, each as "field: expected …, found …"."""
    problem = _format_problem(record)
    if problem:
        return [problem]
    problems: list[str] = []
    RECORD(record, "", problems)
    return problems


def read_record(path: str | Path) -> dict:
    """run.json read and checked (record_problems); a UsageError naming the file for any fault."""
    path = Path(path)
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise UsageError(f"{path}: cannot read it: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; expected the JSON record of a run") from None
    except ValueError as error:  # JSONDecodeError names the line and column; a BOM, a NUL
        raise UsageError(f"{path}: not JSON: {error}; expected the JSON record of a run") \
            from None
    except RecursionError:
        raise UsageError(f"{path}: JSON nested too deep; expected the record of a run") from None
    problems = record_problems(record)
    if problems:
        shown = [f"{path}: {p}" for p in problems[:SHOWN_PROBLEMS]]
        if len(problems) > SHOWN_PROBLEMS:
            shown.append(f"{path}: … and {len(problems) - SHOWN_PROBLEMS} more problems")
        raise UsageError("\n".join(shown))
    return record


def record_from_rows(rows: list[Row]) -> dict:
    """The least a report needs when no record was kept: runs and frameworks in row order."""
    runs: dict[tuple[str, str], dict] = {}
    frameworks: list[str] = []
    for r in rows:
        runs.setdefault((r.case, r.dtype), {"case": r.case, "file": r.file, "dtype": r.dtype,
                                            "steps": max((x.step or 1 for x in rows
                                                          if x.case == r.case), default=1),
                                            "warnings": [], "known": {}, "notes": {}})
        if r.framework not in frameworks:
            frameworks.append(r.framework)
    reference = next((r.reference for r in rows if r.reference not in ("expected", "fd")), "numpy")
    return {"format": 1, "generated": "", "environment": [], "reference": reference,
            "frameworks": frameworks, "options": {}, "runs": list(runs.values())}


def read_report(folder: str | Path) -> tuple[list[Row], dict]:
    """(rows, record) of a report folder, both checked; a folder without run.json gets a record
    from its rows. UsageError for a folder that is not a report folder."""
    folder = Path(folder)
    csv_path = folder / "report.csv"
    if not csv_path.is_file():
        raise UsageError(f"{folder}: no report.csv here; expected a report folder written by "
                         "`python -m harness run`")
    rows = rows_from_csv(csv_path)
    record_path = folder / RECORD_FILE
    if record_path.exists() or record_path.is_symlink():
        return rows, read_record(record_path)
    return rows, record_from_rows(rows)
