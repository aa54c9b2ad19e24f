"""Reports safe to open, usage found before running, one run per report folder, nothing lost."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys

import pytest

from harness.cli import main
from harness.run_command import _Interrupts
from harness.running.outdir import LOCK_NAME
from harness.reports.files import formula_safe, rows_from_csv

from conftest import EXAMPLES_DIR, ROOT, sigmoid_neuron_text

CLEAN = (EXAMPLES_DIR / "backprop" / "mine.py").read_text()


def cli(*args, cwd=ROOT, **kw):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, **kw)


# -- injection ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, safe", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1+2", "'+1+2"),
    ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-0.25", "-0.25"), ("+3e5", "+3e5"), ("layers.0.weight", "layers.0.weight"), ("", ""),
])
def test_csv_cells_a_spreadsheet_would_run_are_escaped(text, safe):
    assert formula_safe(text) == safe


INJECTING = sigmoid_neuron_text(dw0="-0.2966") + """\
known_discrepancies:
  - framework: torch
    tensor: "=HYPERLINK(\\"http://evil\\",\\"x\\")"
    reason: "line one\\n## Injected heading\\n| fake | table |"
"""


def test_case_text_cannot_inject_formulas_or_headings(write_case, tmp_path):
    case = write_case(INJECTING, name="=cmd.yaml")
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out), "-q", "-f", "numpy,torch",
                 "--isolation", "none"]) == 1
    with open(out / "report.csv", newline="") as handle:
        cells = [c for row in csv.reader(handle) for c in row]
    assert not any(c.startswith(("=", "@", "\t", "\r")) for c in cells)
    assert not any(c.startswith(("+", "-")) and not _number(c) for c in cells)
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    report = (out / "report.md").read_text()
    assert not any(line.startswith("## Injected") for line in report.splitlines())
    assert "\\| fake \\| table \\|" in report
    # reading the report back restores the text
    rows = rows_from_csv(out / "report.csv")
    assert any(r.tensor.startswith("=HYPERLINK") for r in rows)


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


# -- usage found before running -------------------------------------------------------------
@pytest.mark.parametrize("timeout", ["nan", "inf", "0", "-1", "soon"])
def test_bad_timeout_is_a_usage_error_at_once(timeout):
    result = cli("run", "cases/golden/sigmoid-neuron.yaml", "--timeout", timeout, "-q")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--timeout" in result.stderr


def test_bad_out_is_a_usage_error_before_anything_runs(tmp_path):
    a_file = tmp_path / "report.txt"
    a_file.write_text("keep me")
    for out, message in ((a_file, "expected a folder for the reports, found a file"),
                         (a_file / "sub", "is a file, not a folder"),
                         ("/dev/null", "expected a folder for the reports, found a file")):
        result = cli("run", "cases", "--out", str(out), "-q")
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert "[1/" not in result.stderr  # nothing ran
    assert a_file.read_text() == "keep me"


# -- one run per report folder --------------------------------------------------------------
def test_a_second_run_into_the_same_folder_is_refused(write_case, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(f"{os.getppid()}\n")  # a live process holds it
    result = cli("run", str(write_case(sigmoid_neuron_text())), "--out", str(out), "-q",
                 "-f", "torch", "--isolation", "none")
    assert result.returncode == 2
    assert "another run" in result.stderr and "is writing its report here" in result.stderr
    assert not (out / "report.csv").exists()


def test_a_lock_left_by_a_dead_run_is_taken_over(write_case, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_NAME).write_text(f"{dead.pid}\n")
    assert main(["run", str(write_case(sigmoid_neuron_text())), "--out", str(out), "-q", "-f",
                 "torch", "--isolation", "none"]) == 0
    assert (out / "report.csv").exists() and not (out / LOCK_NAME).exists()


# -- faults in this process -----------------------------------------------------------------
@pytest.mark.parametrize("statement, message", [
    ("import sys; sys.exit(0)", "called sys.exit(0)"),
    ("raise KeyboardInterrupt", "raised KeyboardInterrupt"),
])
def test_exit_in_a_users_file_without_isolation_is_its_error(tmp_path, statement, message):
    impl = tmp_path / "quitter.py"
    impl.write_text(CLEAN.replace(
        "    W, b = params[\"layers.0.weight\"], params[\"layers.0.bias\"]",
        f"    {statement}\n    W, b = params[\"layers.0.weight\"], params[\"layers.0.bias\"]"))
    out = tmp_path / "out"
    result = cli("run", "cases/golden/sigmoid-neuron.yaml", "--impl", str(impl), "-f", "torch",
                 "--isolation", "none", "--out", str(out), "-q")
    assert result.returncode == 1, result.stderr
    with open(out / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    mine = [r for r in rows if r["framework"] == "quitter"]
    assert mine and all(r["status"] == "error" and message in r["message"] for r in mine)
    assert {r["status"] for r in rows if r["framework"] == "torch"} == {"pass"}


def test_ctrl_c_while_the_reports_are_written_waits_for_them(capsys):
    with _Interrupts() as held:
        os.kill(os.getpid(), signal.SIGINT)  # would raise KeyboardInterrupt anywhere else
    assert held.pending
    assert "they were finished first" in capsys.readouterr().err


# -- file modes -----------------------------------------------------------------------------
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_report_files_follow_the_umask(write_case, tmp_path, umask, mode):
    out = tmp_path / "out"
    previous = os.umask(umask)
    try:
        main(["run", str(write_case(sigmoid_neuron_text())), "--out", str(out), "-q", "-f",
              "torch", "--isolation", "none"])
    finally:
        os.umask(previous)
    for name in ("report.csv", "report.md", "run.json"):
        assert (out / name).stat().st_mode & 0o777 == mode, name
