"""Faults injected into runs of several cases: every other result must still be there.

The faults come in as --impl files, which the worker processes load like any framework: one that
raises, crashes its process (abort, segfault), hangs in Python or inside C code, returns wrong
shapes or names, or returns NaN where the reference has a number.
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import CASES, EXAMPLES_DIR, ROOT

CLEAN = (EXAMPLES_DIR / "backprop" / "mine.py").read_text()
SUITE = [str(CASES / "golden" / name) for name in
         ("sigmoid-neuron.yaml", "linear-sum-batch.yaml", "mse-neuron.yaml")]

# A hang needs a time limit to end. Every party (the reference too) runs under it, but a worker's
# start and torch's import do not (harness.running.workers: they have the start-up limit), so it covers
# only these cases' computing, milliseconds, with a margin of hundreds even on a busy machine.
# Other faults get the default.
HANG_LIMIT = 5

# each fault strikes only in the case named linear-sum-batch, in float64: the cases before and
# after it, and its own float32 run, must run normally, in a fresh worker where the fault killed
# the old one
FAULTS = {
    "raises": ("raise RuntimeError('planted fault')",
               "forward_backward raised RuntimeError: planted fault at line"),
    "aborts": ("import os; os.abort()", "worker process died (killed by signal SIGABRT)"),
    "segfaults": ("import ctypes; ctypes.string_at(0)",
                  "worker process died (killed by signal SIGSEGV)"),
    "hangs_in_python": ("import time; time.sleep(600)", f"timed out after {HANG_LIMIT} s"),
    "hangs_in_c": ("import ctypes; ctypes.CDLL(None).sleep(600)", f"timed out after {HANG_LIMIT} s"),
    "wrong_shapes": ("return {'output': x[:, :1], 'loss': 0.0, 'grads': params}",
                     "'output' has shape (2, 1), expected (2, 2)"),
    "wrong_names": ("return {'output': 0, 'loss': 0.0}",
                    "forward_backward's result lacks 'grads'"),
}


def faulty_impl(tmp_path, name: str, statement: str):
    body = CLEAN.replace(
        "    W, b = params[\"layers.0.weight\"], params[\"layers.0.bias\"]",
        f"    if case.name == 'linear-sum-batch' and case.dtype == 'float64':\n"
        f"        {statement}\n"
        "    W, b = params[\"layers.0.weight\"], params[\"layers.0.bias\"]")
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return path


def run(tmp_path, *args, timeout=300):
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "harness", "run", *args, "--out", str(out),
                             "-q"], capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    rows = []
    if (out / "report.csv").exists():
        with open(out / "report.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    return result, rows


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_an_injected_fault_costs_one_comparison_and_nothing_else(tmp_path, fault):
    statement, message = FAULTS[fault]
    impl = faulty_impl(tmp_path, fault, statement)
    limit = ["--timeout", str(HANG_LIMIT)] if fault.startswith("hangs") else []
    result, rows = run(tmp_path, *SUITE, "-f", "torch", "--impl", str(impl), *limit)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    mine = [r for r in rows if r["framework"] == fault]
    broken = [r for r in mine if r["case"] == "linear-sum-batch" and r["dtype"] == "float64"]
    assert [r["status"] for r in broken] == ["error"]
    assert message in broken[0]["message"], broken[0]["message"]
    # the faulty framework's other cases and dtypes, and every torch comparison, are all there
    # and pass
    for case, dtype in (("sigmoid-neuron", "float64"), ("linear-sum-batch", "float32"),
                        ("mse-neuron", "float64"), ("mse-neuron", "float32")):
        assert {r["status"] for r in mine if (r["case"], r["dtype"]) == (case, dtype)} == \
            {"pass"}, (case, dtype)
    torch = [r for r in rows if r["framework"] == "torch"]
    # (the cases the file ran are run again at variants, <case>~variant-<k>: torch runs them too)
    assert {r["case"].split("~")[0] for r in torch} == \
        {"sigmoid-neuron", "linear-sum-batch", "mse-neuron"}
    assert {r["status"] for r in torch} == {"pass"}


def test_nan_in_one_framework_alone_fails_and_says_where(tmp_path):
    impl = tmp_path / "nanny.py"
    impl.write_text(CLEAN.replace(
        '    return {"output": a, "loss": loss, "grads": grads}',
        '    grads["layers.0.weight"][0, 1] = float("nan")\n'
        '    return {"output": a, "loss": loss, "grads": grads}'))
    result, rows = run(tmp_path, SUITE[0], "-f", "numpy", "--impl", str(impl))
    assert result.returncode == 1
    bad = [r for r in rows if r["framework"] == "nanny" and r["status"] == "fail"
           and r["quantity"] == "grad" and r["reference"] == "numpy"
           and r["case"] == "sigmoid-neuron"]  # not its variants, which fail the same way
    assert [(r["tensor"], r["worst_index"], r["value"]) for r in bad] == [
        ("layers.0.weight", "(0, 1)", "nan")]
    assert "NaN appears where the reference has numbers" in bad[0]["hint"]


def test_nan_everywhere_at_the_same_places_is_inconclusive_never_a_pass(tmp_path):
    result, rows = run(tmp_path, str(CASES / "edge" / "bce-saturated.yaml"), "-f", "jax,micrograd")
    assert result.returncode == 0  # nothing failed, and the finite output was compared
    grads = [r for r in rows if r["quantity"] == "grad"]
    assert grads and {r["status"] for r in grads} == {"inconclusive"}
    assert any(r["reference_value"] == "nan" for r in grads)
    assert {r["status"] for r in rows if r["quantity"] == "output"} == {"pass"}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "the numpy reference diverged at step 1" in report
    assert "everything conforms" not in report


def test_an_interrupted_run_keeps_the_old_report_and_marks_its_own_partial(tmp_path):
    out = tmp_path / "out"
    first = subprocess.run([sys.executable, "-m", "harness", "run", SUITE[0], "-f", "numpy",
                            "--out", str(out), "-q"], cwd=ROOT, capture_output=True, timeout=120)
    assert first.returncode == 0
    old = {name: (out / name).read_bytes() for name in ("report.csv", "report.md")}
    process = subprocess.Popen([sys.executable, "-m", "harness", "run", str(CASES), "-f",
                                "torch,micrograd", "--out", str(out)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until a few cases have finished
        time.sleep(0.5)
        if process.poll() is not None:
            break
        line = process.stderr.readline()
        if line.startswith("[4/"):
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "the previous complete report is untouched" in stderr
    assert {name: (out / name).read_bytes() for name in old} == old
    partial = (out / "report.partial.md").read_text()
    assert "PARTIAL: the run was interrupted" in partial
    with open(out / "report.partial.csv", newline="") as handle:
        assert len({r["case"] for r in csv.DictReader(handle)}) >= 2
    assert not [p for p in os.listdir(out) if p.startswith(".report")]  # no temporary left


def test_a_complete_run_twice_gives_a_byte_identical_csv(tmp_path):
    cases = [str(CASES / "networks"), str(CASES / "optimizers" / "adam.yaml")]
    outputs = []
    for attempt in ("a", "b"):
        out = tmp_path / attempt
        result = subprocess.run([sys.executable, "-m", "harness", "run", *cases, "-f",
                                 "numpy,torch,jax,fd", "--out", str(out), "-q"], cwd=ROOT,
                                capture_output=True, timeout=300)
        assert result.returncode == 0
        outputs.append((out / "report.csv").read_bytes())
    assert outputs[0] == outputs[1]


def test_micrograd_differs_in_last_bits_at_most_and_verdicts_never_flip(tmp_path):
    verdicts = []
    for attempt in ("a", "b"):
        result, rows = run(tmp_path / attempt, str(CASES / "networks"), "-f", "micrograd")
        assert result.returncode == 0
        verdicts.append([(r["case"], r["dtype"], r["step"], r["tensor"], r["status"])
                         for r in rows])
    assert verdicts[0] == verdicts[1]
    report = (tmp_path / "b" / "out" / "report.md").read_text()
    assert "last-bit differences between runs, never a different verdict" in report


def test_a_very_deep_network_does_not_hit_the_recursion_limit_in_micrograd(load):
    from harness.running.runner import run_case

    layers = "".join("  - {units: 2, activation: tanh}\n" for _ in range(150))
    case, problems = load("name: very-deep\nnetwork:\n" + layers +
                          "data:\n  x: [[0.5, -0.5]]\nloss: sum\n"
                          "optimizer: {name: sgd, lr: 0.01}\n")
    assert problems == [], problems
    rows = run_case(case, "float64", ["micrograd"]).rows
    assert rows and {r.status for r in rows} == {"pass"}
    assert sys.getrecursionlimit() < 5000  # raised for the backward pass only, then restored
