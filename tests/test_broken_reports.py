"""Broken report folders (issue 23): `python -m harness report DIR` and `diff A B` on a report.csv
or run.json that is not what the harness writes give a usage error (exit 2) naming the file, the
line or field and what was expected; never a traceback, never a silent exit 0, and nothing is
written over the folder's report.md or into diff.md."""
from __future__ import annotations

import json
import shutil

import pytest

from harness.cli import main
from harness.reports.readback import RECORD_FORMATS, record_from_rows, rows_from_csv

from conftest import ROOT

CASE = ROOT / "cases" / "golden" / "sigmoid-neuron.yaml"


@pytest.fixture(scope="module")
def good_report(tmp_path_factory):
    """A real report folder (the sigmoid neuron against its golden values), made once."""
    out = tmp_path_factory.mktemp("good") / "report"
    assert main(["run", str(CASE), "-f", "numpy", "--isolation", "none", "-q",
                 "--out", str(out)]) == 0
    return out


def broken(good_report, tmp_path, csv: bytes | None = None, record: str | None = None):
    folder = tmp_path / "broken"
    shutil.copytree(good_report, folder)
    if csv is not None:
        (folder / "report.csv").write_bytes(csv)
    if record is not None:
        (folder / "run.json").write_text(record, encoding="utf-8")
    return folder


def csv_bytes(good_report) -> bytes:
    return (good_report / "report.csv").read_bytes()


def header(good_report) -> bytes:
    return csv_bytes(good_report).split(b"\n", 1)[0]


# (id, report.csv from the good one, the line and what the message must say)
BROKEN_CSV = [
    ("missing-columns", lambda g: b"case,file\nneuron,n.yaml\n",
     "line 1: not a report.csv: missing column(s) dtype, framework, reference, step, quantity, "
     "tensor, status; expected the columns of report.csv"),
    ("junk-row", lambda g: header(g) + b"\nfoo,bar,baz\n",
     "line 2: expected 30 fields (the header's), found 3"),
    ("junk-status", lambda g: csv_bytes(g).replace(b",pass,", b",maybe,", 1),
     "line 2, column status: expected one of pass, fail"),
    ("junk-step", lambda g: csv_bytes(g).replace(b",expected,1,", b",expected,x,", 1),
     "line 2, column step: expected a whole number or nothing, found 'x'"),
    ("step-1e999", lambda g: csv_bytes(g).replace(b",expected,1,", b",expected,1e999,", 1),
     "line 2, column step: expected a whole number or nothing, found '1e999'"),
    ("markup-in-dtype", lambda g: csv_bytes(g).replace(b",float64,", b",<b>x</b>,", 1),
     "line 2, column dtype: expected a name (letters, digits, _ . + @ -), found '<b>x</b>'"),
    ("non-utf8", lambda g: csv_bytes(g) + b"\xff\xfe\xfa\n",
     "line 6: not UTF-8 text (byte 0xff); expected report.csv as the harness writes it"),
    ("bom", lambda g: b"\xef\xbb\xbf" + csv_bytes(g),
     "line 1: opens with a UTF-8 byte order mark; expected report.csv as the harness writes it"),
    ("nul-line", lambda g: csv_bytes(g) + b"\x00\n", "line 6: a NUL byte; expected text"),
    ("zero-bytes", lambda g: b"",
     "the file is empty (0 bytes); expected report.csv's header line"),
    ("unterminated-quote", lambda g: csv_bytes(g) + b'"neuron,\n',
     "line 6: not a readable CSV row: unexpected end of data"),
]


@pytest.mark.parametrize("make, message", [b[1:] for b in BROKEN_CSV],
                         ids=[b[0] for b in BROKEN_CSV])
def test_report_and_diff_refuse_a_broken_report_csv_naming_file_and_line(
        make, message, good_report, tmp_path, capsys):
    folder = broken(good_report, tmp_path, csv=make(good_report))
    report_md = (folder / "report.md").read_bytes()
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'report.csv'}: " in err and message in err, err
    assert (folder / "report.md").read_bytes() == report_md  # the previous report.md is kept
    diff_md = tmp_path / "diff.md"
    for old, new in ((good_report, folder), (folder, good_report)):
        assert main(["diff", str(old), str(new), "--out", str(diff_md)]) == 2
        err = capsys.readouterr().err
        assert f"{folder / 'report.csv'}: " in err and message in err, err
    assert not diff_md.exists()


# (id, run.json's text, what the message must say after "run.json: ")
BROKEN_RECORD = [
    ("list", "[]", "expected a JSON object (the record of a run, written by `python -m harness "
                   "run`), found a list of 0"),
    ("null", "null", "expected a JSON object (the record of a run, written by `python -m harness "
                     "run`), found null"),
    ("string", '"x"', "expected a JSON object (the record of a run, written by `python -m "
                      "harness run`), found a string ('x')"),
    ("empty-object", "{}", "missing key 'format'"),
    ("format-999", '{"format": 999}', "format: 999 is not a run.json format this version of the "
                                      "harness reads (it reads 1 and 2)"),
    ("format-true", '{"format": true, "runs": [], "frameworks": []}',
     "format: True is not a run.json format"),
    ("runs-x", '{"runs": "x"}', "missing key 'format'"),
    ("runs-x-format-2", '{"format": 2, "runs": "x", "frameworks": []}',
     "runs: expected a list, found a string ('x')"),
    ("runs-of-numbers", '{"format": 2, "runs": [1], "frameworks": ["numpy"]}',
     "runs[0]: expected an object, found a number (1)"),
    ("run-without-case", '{"format": 2, "runs": [{"dtype": "float64", "file": "f"}], '
                         '"frameworks": []}', "runs[0]: missing key 'case'"),
    ("steps-as-text", '{"format": 2, "runs": [{"case": "c", "dtype": "float64", "file": "f", '
                      '"steps": "3"}], "frameworks": []}',
     "runs[0].steps: expected a whole number ≥ 1, found a string ('3')"),
    ("known-not-a-list", '{"format": 2, "runs": [{"case": "c", "dtype": "float64", "file": "f", '
                         '"known": {"torch": "r"}}], "frameworks": []}',
     "runs[0].known.torch: expected a list, found a string ('r')"),
    ("environment-not-pairs", '{"format": 2, "runs": [], "frameworks": [], '
                              '"environment": [["torch"]]}',
     "environment[0]: expected a pair of strings [name, version], found a list of 1"),
    ("not-json", "{", "not JSON: Expecting property name enclosed in double quotes: line 1 "
                      "column 2"),
    ("bom", "\ufeff{}", "not JSON: Unexpected UTF-8 BOM"),
    ("nested-100000-deep", "[" * 100000 + "]" * 100000, "JSON nested too deep"),
]


@pytest.mark.parametrize("text, message", [b[1:] for b in BROKEN_RECORD],
                         ids=[b[0] for b in BROKEN_RECORD])
def test_report_and_diff_refuse_a_broken_run_json_naming_file_and_field(
        text, message, good_report, tmp_path, capsys):
    folder = broken(good_report, tmp_path, record=text)
    report_md = (folder / "report.md").read_bytes()
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'run.json'}: {message}" in err, err
    assert (folder / "report.md").read_bytes() == report_md
    diff_md = tmp_path / "diff.md"
    assert main(["diff", str(good_report), str(folder), "--out", str(diff_md)]) == 2  # not silent
    err = capsys.readouterr().err
    assert f"{folder / 'run.json'}: {message}" in err, err
    assert not diff_md.exists()


def test_a_run_json_of_bytes_that_are_not_utf8(good_report, tmp_path, capsys):
    folder = broken(good_report, tmp_path)
    (folder / "run.json").write_bytes(b'{"format": 2, "x": "\xff"}')
    assert main(["report", str(folder)]) == 2
    assert f"{folder / 'run.json'}: not UTF-8 text" in capsys.readouterr().err


def test_every_problem_of_a_run_json_is_listed_at_once(good_report, tmp_path, capsys):
    record = {"format": 2, "runs": [{"case": 1, "dtype": "float64", "file": None}],
              "frameworks": "numpy"}
    folder = broken(good_report, tmp_path, record=json.dumps(record))
    assert main(["report", str(folder)]) == 2
    lines = capsys.readouterr().err.splitlines()
    path = folder / "run.json"
    assert lines == [f"error: {path}: runs[0].case: expected a string, found a number (1)",
                     f"{path}: runs[0].file: expected a string, found null",
                     f"{path}: frameworks: expected a list, found a string ('numpy')"]


def test_what_the_harness_writes_is_read_in_every_format(good_report, tmp_path, capsys):
    assert RECORD_FORMATS == (1, 2)
    assert main(["report", str(good_report)]) == 0  # format 2, as record.py writes it
    rows = rows_from_csv(good_report / "report.csv")
    folder = broken(good_report, tmp_path, record=json.dumps(record_from_rows(rows)))  # format 1
    assert main(["report", str(folder)]) == 0
    (folder / "run.json").unlink()  # a first-release folder: no run.json at all
    assert main(["report", str(folder)]) == 0
    header_only = broken(good_report, tmp_path / "h", csv=header(good_report) + b"\n")
    assert main(["report", str(header_only)]) == 0  # no rows is a report of nothing compared
    capsys.readouterr()


def test_the_figures_docs_reliability_quotes_are_these_tests():
    text = " ".join((ROOT / "docs" / "reliability.md").read_text(encoding="utf-8").split())
    assert f"{len(BROKEN_CSV)} broken report.csv files" in text
    assert f"{len(BROKEN_RECORD)} broken run.json documents" in text
    assert "100,000-deep nesting" in text and "[" * 100_000 in dict(
        (b[0], b[1]) for b in BROKEN_RECORD)["nested-100000-deep"]
    assert f"of a format this version reads ({' or '.join(map(str, RECORD_FORMATS))};" in text
