"""Execution modes as parties: chosen by name, skipped with the reason where torch has none,
said in every report."""
from __future__ import annotations

import json

import pytest

from harness.adapters import known_parties, torch_step
from harness.cli import main
from harness.format.loader import load_cases
from harness.running.runner import run_case

from conftest import CASES

pytest.importorskip("torch")


def test_an_optimizer_implementation_torch_lacks_is_a_skip_in_torch_s_words():
    case = load_cases([CASES / "optimizers" / "rmsprop.yaml"], known_parties())[0]
    rows = run_case(case, "float32", ["numpy", "torch+fused", "torch+foreach"]).rows
    fused = [r for r in rows if r.framework == "torch+fused"]
    assert [r.status for r in fused] == ["skip"]
    assert "torch.optim has no fused rmsprop for float32 on cpu" in fused[0].message
    assert "unexpected keyword argument 'fused'" in fused[0].message
    assert {r.status for r in rows if r.framework == "torch+foreach"} == {"pass"}


def test_no_cxx_compiler_makes_compile_a_skip_with_the_reason(monkeypatch):
    monkeypatch.setenv("CXX", "/nowhere/c++")
    case = load_cases([CASES / "optimizers" / "sgd-momentum.yaml"], known_parties())[0]
    rows = run_case(case, "float32", ["numpy", "torch+compile"]).rows
    assert [r.status for r in rows] == ["skip"]
    assert "needs a C++ compiler on the CPU" in rows[0].message and "CXX=/nowhere/c++" in \
        rows[0].message
    assert torch_step.compiler_problem("cpu") is not None


def test_the_report_says_how_each_party_ran_and_in_which_precision(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", str(CASES / "precision" / "mlp-bfloat16.yaml"), "--frameworks",
                 "numpy,torch+foreach,jax+nojit", "--out", str(out), "--isolation", "none"])
    assert code == 0, capsys.readouterr()
    record = json.loads((out / "run.json").read_text())
    text = json.dumps(record)
    assert "torch.autocast('cpu', dtype=torch.bfloat16)" in text
    assert "torch.optim's foreach implementation (foreach=True)" in text
    assert "jit disabled (jax.disable_jit)" in text
    report = (out / "report.md").read_text()
    assert "mixed-bfloat16" in report and "torch+foreach" in report and "jax+nojit" in report


def test_an_unknown_mode_is_a_usage_error_naming_the_valid_ones(capsys):
    assert main(["run", str(CASES / "optimizers"), "--frameworks", "torch+fast"]) == 2
    err = capsys.readouterr().err
    assert "unknown mode 'fast' for torch; valid: torch+compile, torch+forloop, torch+foreach, " \
           "torch+fused" in err


def test_pytest_takes_modes_in_its_frameworks_option(tmp_path):
    """--harness-frameworks names a mode as --frameworks does: the items carry its name."""
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(CASES / "precision" / "mlp-float16.yaml"),
         "--harness-frameworks=numpy,torch+foreach,jax+nojit", "-n", "0", "-q", "-rA",
         "--harness-out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "mlp-float16[float16-torch+foreach]" in done.stdout
    assert "mlp-float16[mixed-float16-jax+nojit]" in done.stdout
    assert "torch+compile" not in done.stdout  # the case lists it; the option chose


def test_mixed_precision_written_as_a_precision_points_to_dtype(write_case, capsys):
    path = write_case("""\
        network: [{units: 1, activation: identity}]
        data: {x: [[1.0]], y: [[1.0]]}
        loss: mse
        optimizer: {name: sgd, lr: 0.1}
        precision: mixed-bfloat16
        """)
    assert main(["validate", str(path)]) == 2
    assert "'mixed-bfloat16' is a numeric format: write it in dtype (dtype: mixed-bfloat16)" \
        in capsys.readouterr().err


def test_declarations_that_share_a_cause_say_it_once(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(CASES / "precision" / "sgd-fused-bfloat16.yaml"), "--out", str(out),
                 "--isolation", "none"]) == 0, capsys.readouterr()
    lines = [l for l in (out / "report.md").read_text().splitlines()
             if l.startswith("- sgd-fused-bfloat16 [bfloat16-torch+fused]")]
    assert len(lines) == 1 and lines[0].count("skips the update of every full SIMD block") == 1
    assert "https://github.com/pytorch/pytorch/issues/191763" in lines[0]
