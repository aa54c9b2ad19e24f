"""python -m harness diff OLD NEW: changed verdicts, drift, versions, first-release reports,
bad input."""
from __future__ import annotations

import csv
import os
import shutil

import pytest

from harness.cli import main

from conftest import sigmoid_neuron_text

CASE = "neuron"


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    """A real report of the sigmoid neuron through numpy and torch, made once per module."""
    base = tmp_path_factory.mktemp("real")
    case = base / "neuron.yaml"
    case.write_text(sigmoid_neuron_text(), encoding="utf-8")
    out = base / "report"
    assert main(["run", str(case), "--out", str(out), "-q", "-f", "numpy,torch",
                 "--isolation", "none"]) == 0
    return out


def _copy(report, tmp_path, name):
    target = tmp_path / name
    shutil.copytree(report, target)
    return target


def _edit(folder, change):
    """Apply ``change(row) -> row or None`` (None drops it) to every row of report.csv."""
    path = folder / "report.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns, rows = reader.fieldnames, list(reader)
    kept = [r for r in (change(dict(r)) for r in rows) if r is not None]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)


def _is(row, quantity, tensor, framework="torch"):
    return row["framework"] == framework and row["reference"] == "numpy" and \
        row["quantity"] == quantity and row["tensor"] == tensor and row["step"] == "1"


def diff(capsys, *args):
    code = main(["diff", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_identical_reports_exit_0(real_report, tmp_path, capsys):
    code, out, _ = diff(capsys, real_report, real_report, "--out", tmp_path)
    assert code == 0
    assert "verdicts changed: 0 of" in out and "drift" in out
    assert "no verdict changed" in (tmp_path / "diff.md").read_text(encoding="utf-8")


def test_a_changed_verdict_exits_1_and_names_the_case_and_tensor(real_report, tmp_path, capsys):
    new = _copy(real_report, tmp_path, "new")

    def fail_one(row):
        if _is(row, "grad", "layers.0.weight"):
            row.update(status="fail", tol_used="3.5", message="planted")
        return row
    _edit(new, fail_one)
    out_file = tmp_path / "the-diff.md"
    code, out, _ = diff(capsys, real_report, new, "--out", out_file)
    assert code == 1
    assert "verdicts changed: 1 of" in out
    line = next(l for l in out.splitlines() if "pass→fail" in l)
    assert CASE in line and "torch" in line and "layers.0.weight" in line and "3.5" in line
    text = out_file.read_text(encoding="utf-8")
    assert "VERDICTS CHANGED" in text and "layers.0.weight" in text and "**fail**" in text
    # and back again: fail → pass is a change too
    assert diff(capsys, new, real_report, "--out", out_file)[0] == 1


def test_drift_beyond_the_threshold_is_reported_and_below_it_is_not(real_report, tmp_path,
                                                                    capsys):
    old, new = _copy(real_report, tmp_path, "old"), _copy(real_report, tmp_path, "new")
    shares = {("grad", "layers.0.weight"): ("0.01", "0.5"),     # ×50, reaches 0.5: drift
              ("grad", "layers.0.bias"): ("0.04", "0.2"),       # ×5: under the threshold
              ("output", "output"): ("1e-05", "0.001")}         # ×100, but far within tolerance

    def share(side):
        def change(row):
            for (quantity, tensor), values in shares.items():
                if _is(row, quantity, tensor):
                    row["tol_used"] = values[side]
            return row
        return change
    _edit(old, share(0))
    _edit(new, share(1))
    code, out, _ = diff(capsys, old, new, "--out", tmp_path)
    assert code == 0  # the verdicts are the same
    drift = out[out.index("\ndrift") + 1:].splitlines()
    assert drift[0].endswith(": 1 comparisons")
    assert "layers.0.weight" in drift[1] and "0.01 → 0.5" in drift[1]
    assert not any("layers.0.bias" in l or " output" in l for l in drift)
    # a lower threshold takes the ×5 in too
    code, out, _ = diff(capsys, old, new, "--out", tmp_path, "--threshold", "4")
    assert "layers.0.bias" in out[out.index("\ndrift") + 1:]


def test_rows_on_one_side_only_are_grouped_not_listed(real_report, tmp_path, capsys):
    new = _copy(real_report, tmp_path, "new")
    _edit(new, lambda row: None if row["framework"] == "torch" else row)
    code, out, _ = diff(capsys, real_report, new, "--out", tmp_path)
    assert code == 0  # nothing compared on both sides changed
    assert "only in OLD (removed): " in out
    lines = [l for l in out.splitlines() if "comparisons removed" in l]
    assert len(lines) == 1 and lines[0].strip().startswith(f"{CASE} [float64] torch:")


def test_a_first_release_report_without_run_json_is_accepted(real_report, tmp_path, capsys):
    old = _copy(real_report, tmp_path, "old")
    (old / "run.json").unlink()
    # the first release's columns and report.md header
    dropped = ("suspect", "agreeing", "sum_rtol", "magnitude", "allowed")
    with open(old / "report.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(old / "report.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c for c in rows[0] if c not in dropped],
                                extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (old / "report.md").write_text(
        "# Gradient conformance report\n\nGenerated 2025-01-10 09:00 UTC. harness 0.1.0 · "
        "python 3.11.7 · numpy 2.4.6 · torch 2.13.0+cpu · jax 0.4.30 · micrograd 0.1.0 · "
        "platform Linux-5.15-x86_64-with-glibc2.36\n\n**everything conforms**: …\n",
        encoding="utf-8")
    code, out, _ = diff(capsys, old, real_report, "--out", tmp_path)
    assert code == 0, out
    assert "versions from report.md header" in out
    assert "jax 0.4.30 → " in out and "platform Linux-5.15-x86_64-with-glibc2.36 → " in out
    assert f"verdicts changed: 0 of {len(rows)} " in out
    # a report.csv named directly works as its folder does
    assert diff(capsys, old / "report.csv", real_report, "--out", tmp_path)[0] == 0


def test_bad_input_exits_2_naming_the_path(real_report, tmp_path, capsys):
    missing = tmp_path / "no-such-report"
    empty = tmp_path / "empty"
    empty.mkdir()
    not_csv = tmp_path / "notes.csv"
    not_csv.write_text("name,value\na,1\n", encoding="utf-8")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage\x00")
    for bad, expected in ((missing, "no such file or folder"), (empty, "no report.csv here"),
                          (not_csv, "missing column(s) case"), (binary, "not UTF-8")):
        code, out, err = diff(capsys, real_report, bad, "--out", tmp_path)
        assert code == 2, (bad, out, err)
        assert str(bad) in err and expected in err and "Traceback" not in err
    code, _, err = diff(capsys, real_report, real_report, "--out",
                        tmp_path / "missing-folder" / "x" / "diff.md")
    assert code == 0  # parents are made
    (tmp_path / "locked").write_text("a file, not a folder", encoding="utf-8")
    code, _, err = diff(capsys, real_report, real_report, "--out", tmp_path / "locked" / "d.md")
    assert code == 2 and "cannot write the diff" in err


def test_out_never_replaces_a_report_being_compared_or_a_special_file(real_report, tmp_path,
                                                                       capsys):
    old, new = _copy(real_report, tmp_path, "old"), _copy(real_report, tmp_path, "new")
    before = (old / "report.csv").read_bytes()
    for target in (old / "report.csv", new / "run.json", old / "report.md"):
        code, _, err = diff(capsys, old, new, "--out", target)
        assert code == 2 and "one of the reports being compared" in err
    assert (old / "report.csv").read_bytes() == before
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _, err = diff(capsys, old, new, "--out", fifo)
    assert code == 2 and "neither" in err and fifo.is_fifo()  # still a pipe, not replaced


@pytest.mark.parametrize("column, text, expected", [("tol_used", "abc", "a number"),
                                                    ("step", "x", "a whole number"),
                                                    ("status", "weird", "one of pass")])
def test_a_malformed_cell_is_named_by_line_and_column(real_report, tmp_path, capsys, column,
                                                      text, expected):
    old, new = _copy(real_report, tmp_path, "old"), _copy(real_report, tmp_path, "new")
    _edit(new, lambda row: {**row, column: text} if _is(row, "grad", "layers.0.bias") else row)
    code, _, err = diff(capsys, old, new, "--out", tmp_path)
    assert code == 2 and f"column {column}: expected {expected}" in err and "line " in err
