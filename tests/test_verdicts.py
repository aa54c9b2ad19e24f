"""Verdicts you can trust: who is wrong, what could not be compared, nothing compared is no pass."""
from __future__ import annotations

import csv
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np

from harness.adapters import known_parties, numpy_ops, numpy_ref
from harness.cli import main
from harness.format.loader import load_cases
from harness.running.runner import run_case

from conftest import CASES, EXAMPLES_DIR, ROOT, sigmoid_neuron_text

FRAMEWORKS = ["torch", "jax", "micrograd"]
WRONG_SIGMOID = EXAMPLES_DIR / "backprop" / "mistakes" / "sigmoid_fixed_point.py"


def read_rows(folder):
    with open(folder / "report.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def failing(rows):
    return [r for r in rows if r.status == "fail"]


def load(relative: str):
    return load_cases([CASES / relative], known_parties())[0]


# -- blame ----------------------------------------------------------------------------------
def test_wrong_golden_value_is_blamed_on_the_golden_value(write_case, tmp_path):
    case = write_case(sigmoid_neuron_text(dw0="-0.2966"))
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out), "-q", "-f", "numpy,torch,jax,micrograd"]) == 1
    bad = [r for r in read_rows(out) if r["status"] == "fail"]
    assert bad and {r["suspect"] for r in bad} == {"expected"}
    assert {r["framework"] for r in bad} == {"numpy", "torch", "jax", "micrograd"}
    report = (out / "report.md").read_text()
    assert "numpy, torch, jax and micrograd agree with each other; the golden value differs" \
        in report
    assert "the mistake is in the backward pass" not in report


def test_wrong_impl_file_is_the_suspect_beside_three_frameworks(tmp_path):
    out = tmp_path / "out"
    case = str(CASES / "golden" / "sigmoid-neuron.yaml")
    assert main(["run", case, "--out", str(out), "-q", "-f", "numpy,torch,jax,micrograd",
                 "--impl", str(WRONG_SIGMOID)]) == 1
    bad = [r for r in read_rows(out) if r["status"] == "fail"]
    assert bad and {r["framework"] for r in bad} == {"sigmoid_fixed_point"}
    assert {r["suspect"] for r in bad} == {"sigmoid_fixed_point"}


def test_wrong_impl_file_chosen_as_reference_is_blamed_as_the_reference(tmp_path):
    out = tmp_path / "out"
    case = str(CASES / "golden" / "sigmoid-neuron.yaml")
    assert main(["run", case, "--out", str(out), "-q", "-f", "numpy,torch,jax,micrograd",
                 "--impl", str(WRONG_SIGMOID), "--reference", "sigmoid_fixed_point"]) == 1
    rows = read_rows(out)
    against = [r for r in rows if r["reference"] == "sigmoid_fixed_point" and r["status"] == "fail"]
    assert {r["framework"] for r in against} == {"numpy", "torch", "jax", "micrograd"}
    assert {r["suspect"] for r in against} == {"sigmoid_fixed_point"}
    report = (out / "report.md").read_text()
    assert "Reference: sigmoid_fixed_point." in report
    assert "the sigmoid_fixed_point reference differs, not torch" in report


def test_unknown_reference_is_a_usage_error(tmp_path, capsys):
    case = str(CASES / "golden" / "sigmoid-neuron.yaml")
    assert main(["run", case, "--out", str(tmp_path), "-q", "--reference", "tensorflow"]) == 2
    assert "--reference tensorflow: unknown framework" in capsys.readouterr().err


def test_planted_derivative_bug_in_the_reference_is_blamed_on_it(monkeypatch):
    tanh = numpy_ops.ACTIVATIONS["tanh"]
    monkeypatch.setitem(numpy_ops.ACTIVATIONS, "tanh",  # forgot the square
                        lambda: replace(tanh(), derivative=lambda z, a, g: g * (1 - a)))
    rows = failing(run_case(load("networks/deep-mixed-5-layers.yaml"), "float64", FRAMEWORKS).rows)
    assert {r.framework for r in rows} == set(FRAMEWORKS)
    assert {r.suspect for r in rows} == {"numpy"}
    assert all(set(r.agreeing.split()) == set(FRAMEWORKS) for r in rows)


def test_planted_reduction_bug_in_the_reference_is_blamed_on_it(monkeypatch):
    original = numpy_ref.loss_and_grad

    def mean_over_samples(name, out, y, settings=None):  # mse divided by the batch, not N·U
        loss, grad = original(name, out, y, settings)
        return loss * out.shape[1], grad * out.shape[1]
    monkeypatch.setattr(numpy_ref, "loss_and_grad", mean_over_samples)
    rows = failing(run_case(load("networks/tanh-2-2-2-mse.yaml"), "float64", FRAMEWORKS).rows)
    assert rows and {r.suspect for r in rows} == {"numpy"}
    assert min(r.step for r in rows if r.quantity == "loss") == 1


def test_planted_optimizer_bug_in_the_reference_is_blamed_on_it(monkeypatch):
    from harness.adapters import numpy_optim as optimizers

    def no_bias_correction(self, name, p, g, decoupled=False):
        s = self.s
        m = self._slot(name, "m", p)
        v = self._slot(name, "v", p)
        m[...] = s["beta1"] * m + (1 - s["beta1"]) * g
        v[...] = s["beta2"] * v + (1 - s["beta2"]) * g * g
        return p - s["lr"] * m / (np.sqrt(v) + s["eps"])
    monkeypatch.setattr(optimizers.NumpyOptimizer, "_adam", no_bias_correction)
    rows = failing(run_case(load("optimizers/adam.yaml"), "float64", FRAMEWORKS).rows)
    first = [r for r in rows if r.step == 1]
    assert first and {(r.quantity, r.suspect) for r in first} == {("param", "numpy")}
    assert {r.framework for r in first} == set(FRAMEWORKS)  # micrograd has its own optimizers


def test_a_framework_alone_against_the_reference_is_unclear(monkeypatch):
    tanh = numpy_ops.ACTIVATIONS["tanh"]
    monkeypatch.setitem(numpy_ops.ACTIVATIONS, "tanh",
                        lambda: replace(tanh(), derivative=lambda z, a, g: g * (1 - a)))
    rows = failing(run_case(load("networks/deep-mixed-5-layers.yaml"), "float64", ["torch"]).rows)
    assert rows and {r.suspect for r in rows} == {"unclear"}


# -- non-finite -----------------------------------------------------------------------------
OVERFLOW = """\
name: overflow
description: float32 sgd with lr 1e10 overflows within a few steps
dtype: float32
network:
  - {units: 4, activation: identity}
  - {units: 2, activation: identity}
init: {scheme: xavier_uniform, seed: 3}
data:
  x: {random: normal, shape: [4, 3], seed: 1}
  y: {random: normal, shape: [4, 2], seed: 2}
loss: mse
optimizer: {name: sgd, lr: 1.0e10}
steps: 4
"""


def test_overflow_is_never_a_pass_and_the_report_names_the_step(write_case, tmp_path):
    out = tmp_path / "out"
    code = main(["run", str(write_case(OVERFLOW)), "--out", str(out), "-q",
                 "-f", "numpy,torch,jax,micrograd"])
    rows = read_rows(out)
    for r in rows:
        if r["status"] == "pass":
            assert all(math.isfinite(float(r[c])) for c in ("value", "reference_value", "max_abs",
                                                             "tol_used")), r
    inconclusive = [r for r in rows if r["status"] == "inconclusive"]
    assert inconclusive and all("non-finite" in r["message"] for r in inconclusive)
    first = min(int(r["step"]) for r in inconclusive)
    report = (out / "report.md").read_text()
    assert f"the numpy reference diverged at step {first}" in report
    assert "everything conforms" not in report
    assert code in (0, 1)  # micrograd's float64 may stay finite where float32 overflows


# -- nothing compared -----------------------------------------------------------------------
def test_only_other_framework_not_installed_exits_5_naming_it(write_case, tmp_path):
    text = sigmoid_neuron_text().split("expected:")[0] + "frameworks: [numpy, tensorflow]\n"
    result = subprocess.run([sys.executable, "-m", "harness", "run", str(write_case(text)),
                             "--out", str(tmp_path / "out"), "-q", "--isolation", "none"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 5, result.stderr
    assert "framework 'tensorflow' is not installed here" in result.stderr  # the warning at run time
    assert "nothing was compared: tensorflow: tensorflow is not installed here" in result.stderr
    rows = read_rows(tmp_path / "out")
    assert [(r["framework"], r["status"]) for r in rows] == [("tensorflow", "skip")]
    assert "**NOTHING COMPARED**" in (tmp_path / "out" / "report.md").read_text()


def test_pytest_session_comparing_nothing_exits_5(pytester):
    pytester.makefile(".ini", pytest="[pytest]\nharness_cases = cases\n")
    text = sigmoid_neuron_text().split("expected:")[0] + "frameworks: [numpy, tensorflow]\n"
    pytester.makefile(".yaml", **{"cases/neuron": text})
    result = pytester.runpytest("-q", "-p", "no:randomly")
    assert result.ret == 5
    result.stdout.fnmatch_lines(["*nothing was compared (exit code 5)*tensorflow*"])


# -- reports from rows alone ----------------------------------------------------------------
def test_report_rerenders_from_a_folder_without_the_frameworks(write_case, tmp_path):
    out = tmp_path / "out"
    main(["run", str(write_case(sigmoid_neuron_text(dw0="-0.2966"))), "--out", str(out), "-q",
          "-f", "numpy,torch"])
    original = (out / "report.md").read_text()
    (out / "report.md").unlink()
    probe = ("import sys, harness.reports.files as r; r.rerender(sys.argv[1]); "
             "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'jax', 'micrograd') "
             "or m in ('harness.running.runner', 'harness.adapters')]; print(bad)")
    result = subprocess.run([sys.executable, "-c", probe, str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert (out / "report.md").read_text() == original
    assert main(["report", str(tmp_path)]) == 2  # no report.csv there


def test_matrix_cells_show_the_share_of_the_tolerance_used(write_case, tmp_path):
    out = tmp_path / "out"
    main(["run", str(write_case(sigmoid_neuron_text())), "--out", str(out), "-q", "-f", "torch"])
    rows = read_rows(out)
    used = max(float(r["tol_used"]) for r in rows)
    line = next(l for l in (out / "report.md").read_text().splitlines()
                if l.startswith("| neuron |"))
    assert line == f"| neuron | float64 | pass {used:.3g} |"
