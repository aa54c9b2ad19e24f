"""Fuzzing what `report` and `diff` read (issue 23): a seeded generator of its own makes report
folders (report.csv as random bytes, as the real one with a cell, columns, lines or bytes
changed, or as random rows under the real header) and run.json documents (absent, random bytes,
random JSON, or the real record with any part replaced by random JSON). Whatever it makes,
`report` exits 0 or 2 and `diff` 0, 1 or 2, naming the file when it refuses: no exception, no
traceback.

This generator has no shrinking (tests/test_property_commands.py has, with hypothesis): a failure
names its seed and variant, and ReportMutator(seed) making variants 0, 1, … in order remakes it.
HARNESS_FUZZ_SEED and HARNESS_FUZZ_REPORTS explore further.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main

from conftest import ROOT

SEED = int(os.environ.get("HARNESS_FUZZ_SEED", "1729"))
VARIANTS = int(os.environ.get("HARNESS_FUZZ_REPORTS", "300"))
CASE = ROOT / "cases" / "golden" / "sigmoid-neuron.yaml"
CSV_KINDS = ("bytes", "cell", "columns", "lines", "cut", "rows", "good")
RECORD_KINDS = ("absent", "bytes", "random", "replaced", "good")
TEXTS = ["", "x", "nan", "inf", "-1", "1e999", "0.5", "=cmd", "'=x", "<script>", "\x00",
         "pass", "fail", "float64", "é", "\u202e", "a,b", 'q"uote', "\n", "9" * 50,
         "[1](javascript:x)", "|", "`"]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A real report folder (the sigmoid neuron against its golden values), made once."""
    folder = tmp_path_factory.mktemp("fuzz") / "good"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", str(CASE), "-f", "numpy", "--isolation", "none", "-q",
                     "--out", str(folder)]) == 0
    return folder


class ReportMutator:
    """Makes (report.csv bytes, run.json bytes or None, what was done) from a real folder."""

    def __init__(self, seed: int, good: Path):
        self.rng = random.Random(seed)
        self.csv = (good / "report.csv").read_text(encoding="utf-8")
        self.record = json.loads((good / "run.json").read_text(encoding="utf-8"))

    def text(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return rng.choice(TEXTS)
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)]))
                       for _ in range(rng.randrange(0, 12)))

    def json_value(self, depth: int = 0):
        rng = self.rng
        kind = rng.randrange(8 if depth < 3 else 6)
        if kind == 6:
            return [self.json_value(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 7:
            return {self.text(): self.json_value(depth + 1) for _ in range(rng.randrange(4))}
        return [lambda: None, lambda: rng.random() < 0.5,
                lambda: rng.randrange(-10**20, 10**20), lambda: rng.uniform(-1e308, 1e308),
                self.text, lambda: rng.choice([1, 2, 999, 0, -1, True])][kind]()

    def rows(self) -> list[list[str]]:
        return list(csv.reader(io.StringIO(self.csv)))

    @staticmethod
    def written(rows: list[list[str]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode()

    def report_csv(self, kind: str) -> bytes:
        rng, rows = self.rng, self.rows()
        if kind == "bytes":
            return bytes(rng.randrange(256) for _ in range(rng.randrange(300)))
        if kind == "cut":
            raw = self.csv.encode()
            at = rng.randrange(len(raw) + 1)
            return raw[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(8))) + \
                raw[at + rng.randrange(3):]
        if kind == "columns":
            kept = sorted(rng.sample(range(len(rows[0])), rng.randrange(1, len(rows[0]) + 1)))
            return self.written([[row[i] for i in kept] for row in rows])
        if kind == "lines":
            lines = self.csv.split("\n")
            return "\n".join(rng.choice(lines + [self.text()]) for _ in
                             range(rng.randrange(8))).encode()
        if kind == "rows":
            return self.written([rows[0]] + [[self.text() for _ in rows[0]]
                                             for _ in range(rng.randrange(4))])
        if kind == "cell":
            row = rng.randrange(1, len(rows))
            rows[row][rng.randrange(len(rows[row]))] = self.text()
        return self.written(rows)

    def run_json(self, kind: str) -> bytes | None:
        rng = self.rng
        if kind == "absent":
            return None
        if kind == "bytes":
            return bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
        if kind == "random":
            return json.dumps(self.json_value()).encode()
        record = json.loads(json.dumps(self.record))
        if kind == "replaced":
            path = rng.choice(_paths(record))
            record = _replaced(record, path, self.json_value())
        return json.dumps(record).encode()

    def variant(self) -> tuple[bytes, bytes | None, str]:
        csv_kind, record_kind = self.rng.choice(CSV_KINDS), self.rng.choice(RECORD_KINDS)
        return self.report_csv(csv_kind), self.run_json(record_kind), \
            f"report.csv {csv_kind}, run.json {record_kind}"


def _paths(value, path=()):
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, path + (i,))
    return out


def _replaced(doc, path, value):
    if not path:
        return value
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


# -- the property ---------------------------------------------------------------------------
def _folder(base: Path, good: Path, csv_bytes: bytes, record: bytes | None) -> Path:
    folder = base / "fuzzed"
    folder.mkdir()
    (folder / "report.csv").write_bytes(csv_bytes)
    shutil.copy(good / "report.md", folder / "report.md")
    if record is not None:
        (folder / "run.json").write_bytes(record)
    return folder


def _quietly(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def test_report_and_diff_never_raise_on_generated_report_folders(good, tmp_path):
    mutator = ReportMutator(SEED, good)
    outcomes: Counter = Counter()
    for number in range(VARIANTS):
        csv_bytes, record, what = mutator.variant()
        label = f"seed {SEED} variant {number} ({what})"
        base = tmp_path / str(number)
        base.mkdir()
        folder = _folder(base, good, csv_bytes, record)
        try:
            code, err = _quietly(["report", str(folder)])
            assert code in (0, 2) and "Traceback" not in err, label
            assert code == 0 or (err.startswith(f"error: {folder}") and "expected" in err), \
                f"{label}: {err}"
            outcomes[f"report {code}"] += 1
            code, err = _quietly(["diff", str(good), str(folder), "--out", str(base / "d.md")])
            assert code in (0, 1, 2) and "Traceback" not in err, label
            assert code != 2 or err.startswith(f"error: {folder}"), f"{label}: {err}"
            outcomes[f"diff {code}"] += 1
        except AssertionError:
            raise
        except BaseException as error:  # noqa: BLE001 - name the variant that broke it
            raise AssertionError(f"{label}: {type(error).__name__}: {error}") from error
        shutil.rmtree(base)
    # the generator reaches both outcomes, so the property is not vacuous
    assert outcomes["report 0"] >= VARIANTS // 10 and outcomes["report 2"] >= VARIANTS // 3, \
        outcomes


def test_the_count_docs_reliability_quotes_is_the_default():
    text = " ".join((ROOT / "docs" / "reliability.md").read_text(encoding="utf-8").split())
    default = int(re.search(r'"HARNESS_FUZZ_REPORTS", "(\d+)"', Path(__file__).read_text())
                  .group(1))
    assert f"makes {default} report folders on every run" in text
