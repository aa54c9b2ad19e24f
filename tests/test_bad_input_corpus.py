"""The bad-input corpus: every malformed case under tests/bad_cases gets the message it must give.

Each file ends with one or more `# expect: LINE | FIELD | MESSAGE FRAGMENT` lines (LINE or FIELD
may be empty for problems of the whole file).
"""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.adapters import known_parties
from harness.format.loader import load_case
from harness.format.yamlsafe import MAX_FILE_BYTES

from conftest import ROOT, sigmoid_neuron_text

CORPUS = Path(__file__).parent / "bad_cases"
FILES = sorted(CORPUS.glob("*.yaml"))


def expectations(path: Path) -> list[tuple[int | None, str, str]]:
    out = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if line.startswith("# expect:"):
            number, field, fragment = (part.strip() for part in line[9:].split("|", 2))
            out.append((int(number) if number else None, field, fragment))
    return out


def test_the_corpus_is_large_enough():
    assert len(FILES) >= 30 and all(expectations(f) for f in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_bad_case_gets_its_message(path):
    case, problems = load_case(path, known_parties())
    assert case is None and problems
    for line, field, fragment in expectations(path):
        assert any(p.file == str(path) and p.field == field and fragment in p.message
                   and (line is None or p.line == line) for p in problems), \
            f"expected {line} | {field} | {fragment}; got " + "; ".join(map(str, problems))


def test_oversize_file_is_refused_with_the_limit(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(sigmoid_neuron_text() + "#" * MAX_FILE_BYTES)
    _, problems = load_case(big, known_parties())
    assert len(problems) == 1 and "case files are limited to 1,000,000 bytes" in problems[0].message


def harness(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_validate_lists_every_problem_at_once_with_exit_2():
    result = harness("validate", str(CORPUS))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    for path in FILES:
        assert str(path) in result.stderr, path.name
    assert f"in {len(FILES)} file(s); nothing was run." in result.stderr


def test_run_refuses_the_corpus_and_writes_nothing(tmp_path):
    result = harness("run", str(CORPUS), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and not (tmp_path / "out").exists()
    assert "Traceback" not in result.stderr


def test_keep_going_runs_the_valid_cases(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    for name in ("unknown-loss", "python-tag", "duplicate-key"):
        shutil.copy(CORPUS / f"{name}.yaml", folder)
    (folder / "good.yaml").write_text(sigmoid_neuron_text(name="good"))
    result = harness("run", str(folder), "--keep-going", "-f", "torch", "--out", str(tmp_path / "o"))
    assert result.returncode == 2  # bad input, even though the valid case ran and conforms
    assert "3 problem(s) in 3 file(s); those files are left out (--keep-going)." in result.stderr
    with open(tmp_path / "o" / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["case"] for r in rows} == {"good"} and {r["status"] for r in rows} == {"pass"}
