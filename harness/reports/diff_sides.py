"""The two sides of ``python -m harness diff``: a report folder (or its report.csv) read into its
rows, the versions and platform of the run that made it, and that run's notes. From report.csv and
run.json, or for a first-release report without run.json, report.md's header.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..verdicts.compare import Row
from ..format.errors import UsageError
from .readback import RECORD_FILE, read_record, record_from_rows, rows_from_csv


@dataclass
class Side:
    """One report: its rows, and the versions and notes of the run that made it."""

    path: Path
    rows: list[Row]
    environment: list[tuple[str, str]]
    generated: str
    source: str  # where the versions came from: run.json, report.md's header, or nowhere
    notes: dict[str, set[str]] = field(default_factory=dict)  # framework: notes of every run


def _csv_path(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder; expected a report folder or its "
                         "report.csv")
    if path.is_dir():
        csv_path = path / "report.csv"
        if not csv_path.is_file():
            raise UsageError(f"{path}: no report.csv here; expected a report folder written by "
                             "`python -m harness run`")
        return csv_path
    return path


def _header_environment(md_path: Path) -> tuple[list[tuple[str, str]], str]:
    """(versions, generated) from report.md's header line, as every release has written it:
    ``Generated DATE UTC. harness 0.1.0 · python 3.11.7 · … · platform Linux-…``."""
    try:
        lines = md_path.read_text(encoding="utf-8").splitlines()[:12]
    except (OSError, UnicodeDecodeError):
        return [], ""
    for line in lines:
        match = re.match(r"(?:Generated ([^.]*)\. )?(harness \S.*)$", line)
        if match:
            items = []
            for part in match.group(2).split(" · "):
                name, _, version = part.replace("\\|", "|").partition(" ")
                items.append((name, version))
            return items, match.group(1) or ""
    return [], ""


def _run_notes(record: dict) -> dict[str, set[str]]:
    """Per framework, the notes every one of its runs has (where it ran, its matmul precision,
    how it was compiled): the run-wide ones, not a case's own."""
    shared: dict[str, set[str]] = {}
    for entry in record.get("runs", []):
        for framework, notes in (entry.get("notes") or {}).items():
            notes = {str(n) for n in notes}
            shared[framework] = shared[framework] & notes if framework in shared else notes
    return {k: v for k, v in shared.items() if v}


def read_side(path: str | Path) -> Side:
    """A report folder or report.csv file, its rows and run.json checked
    (harness.reports.readback); UsageError with the path for anything else."""
    try:
        csv_path = _csv_path(Path(path))
    except OSError as error:  # a folder this user may not read
        raise UsageError(f"{error.filename or path}: cannot read it: "
                         f"{error.strerror or error}") from None
    rows = rows_from_csv(csv_path)
    partial = csv_path.name.startswith("report.partial")
    record_path = csv_path.with_name("run.partial.json" if partial else RECORD_FILE)
    md_path = csv_path.with_name("report.partial.md" if partial else "report.md")
    record, source = None, "nowhere (no run.json, no report.md header)"
    if record_path.exists() or record_path.is_symlink():
        record, source = read_record(record_path), record_path.name
    if record is not None and record.get("environment"):
        environment = [(k, v) for k, v in record["environment"]]
        generated = record.get("generated", "")
    else:  # a first-release report: no run.json, the versions are in report.md's header only
        record = record if record is not None else record_from_rows(rows)
        environment, generated = _header_environment(md_path)
        if environment:
            source = f"{md_path.name} header"
    return Side(csv_path.parent if csv_path.name.startswith("report") else csv_path, rows,
                environment, generated, source, _run_notes(record))
