"""The progress record of a fuzz run (harness.tools.fuzz): ``fuzz-progress.json`` and the parts
it names under ``fuzz-parts/``, each written whole (harness.reports.files.write_atomically).

A part holds the rows and the record entries of the cases it judged, each case with the digest
of its file's text, so a case generated differently is judged again rather than taken from a
part. The progress record names the parts, in order, after each is written: a process killed
between the two loses that part alone, whose cases are then judged again. It also keeps the
fingerprint of the run (what a rerun must share with it), the failing cases with what
shrinking made of them, and the seconds every run on the folder took.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

from ..format.errors import UsageError
from ..reports.files import write_atomically
from ..reports.record import run_entry
from ..verdicts.compare import COLUMNS, Row

PROGRESS_FILE, PARTS_FOLDER = "fuzz-progress.json", "fuzz-parts"
FORMAT = 1


@dataclass
class Found:
    """A failing case: its first failure, then what shrinking made of it."""

    case: str
    file: str
    dtype: str
    suspect: str
    quantity: str
    where: str  # the first failing row, in words
    shrunk: str = ""  # the shrunk case's file, "" when none was written
    changes: list[str] = field(default_factory=list)
    verdict: str = ""  # the shrunk case's verdict line (harness.reports.findings)
    repro: list[dict] = field(default_factory=list)  # its repro folders' record entries
    note: str = ""  # why it was not shrunk, or where shrinking stopped
    crashed: bool = False  # the first failure is a worker's crash or time-out
    tried: bool = False  # shrinking was tried (or ruled out): a rerun does not try again

    @property
    def signature(self) -> str:
        return f"suspect {self.suspect or '(none)'}, quantity {self.quantity}"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _json(value, indent: int | None = 1) -> str:
    return json.dumps(value, indent=indent, default=lambda o: o.item()) + "\n"


class Progress:
    """fuzz-progress.json and the parts it names."""

    def __init__(self, out: Path, fingerprint: dict, restart: bool):
        self.out, self.path = out, out / PROGRESS_FILE
        self.fingerprint = fingerprint
        if restart:
            self._forget()
        old = self._read() if self.path.exists() else {}
        if old and old.get("fingerprint") != fingerprint:
            raise UsageError(_mismatch(out, old.get("fingerprint") or {}, fingerprint))
        self.parts: list[str] = list(old.get("parts", []))
        known = {f.name for f in fields(Found)}
        self.found = {name: Found(**{k: v for k, v in f.items() if k in known})
                      for name, f in old.get("found", {}).items()}
        self.seconds = float(old.get("seconds", 0.0))  # the runs' before this one
        self.started = time.monotonic()

    def _read(self) -> dict:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UsageError(f"{self.path}: not a readable fuzz progress record ({error}); "
                             "run with --restart to start over") from None
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise UsageError(f"{self.path}: not a fuzz progress record of format {FORMAT}; run "
                             "with --restart to start over")
        return record

    def _forget(self) -> None:
        """--restart: the progress record and the parts of the run before go (its other files
        are written again or left as they are)."""
        for part in (self.out / PARTS_FOLDER).glob("*.json"):
            part.unlink()
        self.path.unlink(missing_ok=True)

    def elapsed(self) -> float:
        """Seconds every run on the folder took, this one so far included."""
        return self.seconds + time.monotonic() - self.started

    def save(self) -> None:
        write_atomically({self.path: _json({
            "format": FORMAT, "fingerprint": self.fingerprint, "parts": self.parts,
            "seconds": round(self.elapsed(), 3),
            "found": {name: asdict(f) for name, f in self.found.items()}})})

    def load_parts(self, digests: dict[str, str], warn: Callable[[str], None]) -> dict:
        """name -> (rows, record entries) of every case judged before, as it is now."""
        judged: dict = {}
        for part in self.parts:
            try:
                data = json.loads((self.out / part).read_text(encoding="utf-8"))
                kept = {name: ([Row(**dict(zip(data["columns"], values)))
                                for values in data["rows"][name]], data["entries"][name])
                        for name, text in data["cases"].items() if digests.get(name) == text}
            except (OSError, ValueError, KeyError, TypeError) as error:
                warn(f"{self.out / part}: unreadable ({type(error).__name__}: {error}); its "
                     "cases are judged again")
                continue
            judged.update(kept)
        return judged

    def add_part(self, runs: list, digests: dict[str, str]) -> dict:
        """The whole cases among ``runs`` (every dtype finished) as a new part."""
        by_case: dict[str, list] = {}
        for run in runs:
            by_case.setdefault(run.case.name, []).append(run)
        whole = {name: done for name, done in by_case.items()
                 if len(done) == len(done[0].case.dtypes)}
        if not whole:
            return {}
        part = f"{PARTS_FOLDER}/{len(self.parts):05d}.json"
        judged = {name: ([r for run in done for r in run.rows], [run_entry(run) for run in done])
                  for name, done in whole.items()}
        write_atomically({self.out / part: _json({
            "cases": {name: digests[name] for name in whole}, "columns": COLUMNS,
            "rows": {name: [[getattr(r, c) for c in COLUMNS] for r in rows]
                     for name, (rows, _) in judged.items()},
            "entries": {name: entries for name, (_, entries) in judged.items()}}, None)})
        self.parts.append(part)
        self.save()
        return judged


def _mismatch(out: Path, old: dict, new: dict) -> str:
    differing = [f"{key}: {old.get(key)!r} there, {new.get(key)!r} here"
                 for key in new if old.get(key) != new.get(key)]
    return (f"{out} holds a fuzz run made with other arguments ("
            + "; ".join(differing) + f"); give --out another folder, or --restart to start "
            "over in this one (the cases judged there are forgotten)")
