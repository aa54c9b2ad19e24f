"""The command line: exit codes, reports, and clean messages for bad input."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from harness.cli import main
from harness.verdicts.compare import COLUMNS

from conftest import CASES, ROOT, sigmoid_neuron_text

BUILTIN = "numpy,torch,jax,micrograd"


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_run_writes_both_reports_and_exits_0(write_case, tmp_path, capsys):
    case = write_case(sigmoid_neuron_text())
    out = tmp_path / "results"
    assert main(["run", str(case), "--out", str(out), "-q", "-f", BUILTIN]) == 0
    with open(out / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == COLUMNS
    assert {r["framework"] for r in rows} == {"numpy", "torch", "jax", "micrograd"}
    assert all(r["status"] == "pass" for r in rows)
    grad = next(r for r in rows if r["framework"] == "torch" and r["tensor"] == "layers.0.bias"
                and r["quantity"] == "grad" and r["reference"] == "numpy")
    assert float(grad["value"]) == 0.19661193324148185  # full round-trip precision
    report = (out / "report.md").read_text()
    for needle in ("everything conforms", "| neuron | float64 |", "torch 2.", "jax 0.",
                   "micrograd 0.1.0", "python 3.", "platform "):
        assert needle in report
    assert "1 case, 26 comparisons against numpy: 26 pass" in capsys.readouterr().out


def test_frameworks_option_limits_the_run(write_case, tmp_path):
    case = write_case(sigmoid_neuron_text())
    assert main(["run", str(case), "--out", str(tmp_path), "-q", "--frameworks", "torch"]) == 0
    with open(tmp_path / "report.csv", newline="") as handle:
        assert {r["framework"] for r in csv.DictReader(handle)} == {"torch"}


def test_bad_case_exits_2_with_file_line_field_and_no_traceback(write_case, tmp_path):
    good = write_case(sigmoid_neuron_text(name="fine"), "fine.yaml")
    bad = write_case(sigmoid_neuron_text().replace("activation: sigmoid", "activation: sigmod")
                     .replace("loss: sum", "loss: summ"), "bad.yaml")
    out = tmp_path / "out"
    result = cli("run", str(good), str(bad), "--out", str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert f"{bad}:4: network[0].activation: unknown activation 'sigmod'" in result.stderr
    assert f"{bad}:10: loss: unknown loss 'summ'" in result.stderr
    assert "2 problem(s) in 1 file(s); nothing was run." in result.stderr
    assert not out.exists()  # nothing half-done


def test_validate(write_case):
    good = write_case(sigmoid_neuron_text())
    assert cli("validate", str(good)).returncode == 0
    broken = write_case("network: [\n", "broken.yaml")
    result = cli("validate", str(broken))
    assert result.returncode == 2 and "YAML syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_mistakes_exit_2(tmp_path):
    assert cli("run", "--frameworks", "tensorflow").returncode == 2
    result = cli("run", str(tmp_path / "missing"))
    assert result.returncode == 2 and "no such file or folder" in result.stderr
    assert cli("frobnicate").returncode == 2


def test_list_shows_frameworks_with_versions_and_cases():
    result = cli("list")
    assert result.returncode == 0
    assert "numpy" in result.stdout and "(reference)" in result.stdout
    assert "torch        2." in result.stdout
    assert "sigmoid-neuron " in result.stdout


def test_shipped_suite_conforms(tmp_path):
    """The main job's path on every shipped case (each framework is a pytest item of its own)."""
    # fd over every case: tests/test_oracles.py; every framework: the case items
    result = cli("run", str(CASES), "--out", str(tmp_path), "-q", "-f", "numpy,torch")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "report.md").read_text().count("**FAIL**") == 0


@pytest.mark.parametrize("args", [["run", "--jobs", "abc"], ["run", "--jobs", "1.5"],
                                  ["run", "--jobs", "0"], ["shrink", "x.yaml", "--max-attempts",
                                                           "abc"]])
def test_counts_are_asked_for_in_words(args, capsys):
    try:  # refused by argparse (shrink's options) or by the run specification (run's)
        code = main(args)
    except SystemExit as exit_info:
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == 2 and "expected a whole number of at least" in err
    assert "_count" not in err


def test_shrink_checks_its_out_folder_before_running_anything(tmp_path, capsys):
    case = tmp_path / "neuron.yaml"
    case.write_text(sigmoid_neuron_text(), encoding="utf-8")
    taken = tmp_path / "a-file"
    taken.write_text("mine")
    code = main(["shrink", str(case), "--out", str(taken), "-f", "numpy,torch"])
    captured = capsys.readouterr()
    assert code == 2 and "expected a folder" in captured.err and "Traceback" not in captured.err
    assert taken.read_text() == "mine" and "[1]" not in captured.err  # no attempt ran
