"""Checking your own backprop: the examples, broken files, and the pytest option."""
from __future__ import annotations

import csv

import pytest

from harness.reports.text import md_text
from harness.cli import main

from conftest import CASES, ROOT, sigmoid_neuron_text

EXAMPLES = ROOT / "examples" / "backprop"
SUITE = [str(CASES), str(EXAMPLES / "cases")]


pytestmark = pytest.mark.usefixtures("forget_registered_impls")


def run_impl(impl, tmp_path, *cases, frameworks="numpy,torch"):
    out = tmp_path / "out"
    code = main(["run", *(cases or SUITE), "--impl", str(impl), "-f", frameworks,
                 "--out", str(out), "-q"])
    with open(out / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return code, rows, (out / "report.md").read_text()


def test_clean_example_passes_what_it_supports_and_skips_the_rest(tmp_path):
    code, rows, report = run_impl(EXAMPLES / "mine.py", tmp_path)
    mine = [r for r in rows if r["framework"] == "mine"]
    assert code == 0
    passed = {r["case"] for r in mine if r["status"] == "pass"}
    assert {"sigmoid-neuron", "sigmoid-neuron-sgd", "linear-sum-batch", "mse-neuron",
            "one-layer-sigmoid-mse", "one-layer-tanh-mse"} <= passed
    skipped = {r["case"]: r["message"] for r in mine if r["status"] == "skip"}
    assert skipped["deep-mixed-5-layers"] == "mine (mine.py): one layer only; this case has 5"
    # softmax and cross_entropy are written there now (for the batch-wide softmax mistake)
    assert {"logits-cross-entropy", "softmax-nll"} <= passed
    assert skipped["l1-at-zero"] == "mine (mine.py): loss 'l1' with these settings is not written here"
    assert {r["status"] for r in mine} == {"pass", "skip"}
    assert "mine (mine.py): one layer only" in report


MISTAKES = {
    # the derivative is taken at z = 1 now, right on the worked neuron (caught through its
    # variants, tests/test_students.py); and a ratio over two elements is no longer claimed
    "sigmoid_fixed_point": ("grad", "the mistake is in the backward pass",
                            "your gradients are not the derivative of your own loss either"),
    "tanh_no_upstream": ("grad", "the mistake is in the backward pass", "grad layers.0.weight"),
    # a one-element loss gets both values, the case's numbers that make its ratio, and the causes
    "mse_squared_sum": ("loss", "the mistake is in the loss",
                        "the loss is 2 against 1: 2 = batch 2: a mean over the batch taken as a sum"),
    "update_adds_gradient": ("param", "the mistake is in the update",
                             "the gradient was added instead of subtracted"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_every_classic_mistake_is_caught_and_named(tmp_path, mistake):
    quantity, where, hint = MISTAKES[mistake]
    # the worked cases and the examples' own: a student's first run (the whole suite is the
    # clean example's test above)
    code, rows, report = run_impl(EXAMPLES / "mistakes" / f"{mistake}.py", tmp_path,
                                  str(CASES / "golden"), str(EXAMPLES / "cases"))
    assert code == 1
    failing = [r for r in rows if r["framework"] == mistake and r["status"] == "fail"]
    first = [r for r in failing if r["step"] == "1"]
    assert first and {r["quantity"] for r in first} >= {quantity}
    assert f"[float64-{mistake}] against the numpy reference" in report
    assert where in report and hint in report


def test_tanh_mistake_is_invisible_to_a_sum_loss_and_caught_by_mse(tmp_path):
    """dL/da is 1 everywhere under `sum`, so dropping it changes nothing: a lesson in choosing cases."""
    impl = EXAMPLES / "mistakes" / "tanh_no_upstream.py"
    tanh_sum = tmp_path / "cases" / "tanh-sum.yaml"
    tanh_sum.parent.mkdir()
    tanh_sum.write_text((EXAMPLES / "cases" / "one-layer-tanh-mse.yaml").read_text()
                        .replace("name: one-layer-tanh-mse", "name: tanh-sum")
                        .replace("loss: mse", "loss: sum")
                        .replace("  y: {random: uniform, shape: [4, 3], seed: 3}\n", ""))
    assert run_impl(impl, tmp_path, str(tanh_sum))[0] == 0
    assert run_impl(impl, tmp_path, str(EXAMPLES / "cases" / "one-layer-tanh-mse.yaml"))[0] == 1


BROKEN = {
    "syntax": ("def forward_backward(params, x, y)\n    return {}\n", "does not import (line 1)"),
    "nofunction": ("def forward(params, x, y):\n    return {}\n",
                   "defines no forward_backward(params, x, y) function"),
    "signature": ("def forward_backward(params):\n    return {}\n",
                  "forward_backward must take (params, x, y) or (params, x, y, case)"),
    "wrongnames": ("import numpy as np\n"
                   "def forward_backward(params, x, y):\n"
                   "    return {'output': np.zeros((1, 1)), 'loss': 0.0,\n"
                   "            'grads': {'W': 0, 'layers.0.bias': np.zeros(1)}}\n",
                   "'grads' has the wrong names (missing 'layers.0.weight'; unexpected 'W')"),
    "wrongshape": ("import numpy as np\n"
                   "def forward_backward(params, x, y):\n"
                   "    return {'output': np.zeros((1, 1)), 'loss': 0.0,\n"
                   "            'grads': {k: v.T for k, v in params.items()}}\n",
                   "'grads'['layers.0.weight'] has shape (2, 1), expected (1, 2)"),
    "nooutput": ("def forward_backward(params, x, y):\n    return {'loss': 0.0}\n",
                 "forward_backward's result lacks 'output', 'grads'"),
    "raises": ("def forward_backward(params, x, y):\n    return 1 / 0\n",
               "forward_backward raised ZeroDivisionError: division by zero at line 2 "
               "(return 1 / 0)"),
}


def test_a_missing_implementation_file_is_a_usage_error(tmp_path, write_case, capsys):
    case = write_case(sigmoid_neuron_text(), "cases/neuron.yaml")
    missing = tmp_path / "mine.py"
    code = main(["run", str(case), "--impl", str(missing), "--out", str(tmp_path / "out"), "-q"])
    assert code == 2 and not (tmp_path / "out").exists()
    assert f"--impl {missing}: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_implementation_gets_a_clear_message_and_the_run_carries_on(tmp_path, write_case,
                                                                          kind):
    text, message = BROKEN[kind]
    impl = tmp_path / f"{kind}.py"
    if text is not None:
        impl.write_text(text)
    case = write_case(sigmoid_neuron_text(), "cases/neuron.yaml")
    code, rows, report = run_impl(impl, tmp_path, str(case), frameworks="torch")
    assert code == 1
    errors = [r for r in rows if r["framework"] == kind]
    assert [r["status"] for r in errors] == ["error"]
    assert errors[0]["message"] == f"{impl}: {message}" or \
        errors[0]["message"].startswith(f"{impl}: {message}")
    assert {r["status"] for r in rows if r["framework"] == "torch"} == {"pass"}
    # report.md escapes Markdown's brackets in text from a file (harness.reports.text.md_text)
    assert md_text(message.split(" (")[0]) in report


def test_update_with_state_kept_across_steps(tmp_path, write_case):
    impl = tmp_path / "momentumless.py"
    impl.write_text((EXAMPLES / "mine.py").read_text().replace(
        "def update(params, grads, case):",
        "def update(params, grads, case, state):\n"
        "    state['calls'] = state.get('calls', 0) + 1\n"
        "    assert state['calls'] <= 3, 'state is shared across runs'\n"))
    case = write_case((EXAMPLES / "cases" / "one-layer-sigmoid-mse.yaml").read_text()
                      .replace("steps: 2", "steps: 3"), "cases/three.yaml")
    code, rows, _ = run_impl(impl, tmp_path, str(case))
    assert code == 0 and {r["step"] for r in rows} == {"1", "2", "3"}


def test_name_clash_is_a_usage_error(tmp_path, capsys):
    impl = tmp_path / "torch.py"
    impl.write_text("")
    assert main(["run", str(CASES / "golden"), "--impl", str(impl), "--out", str(tmp_path)]) == 2
    assert "the name 'torch' is already a framework" in capsys.readouterr().err


def test_pytest_option_adds_the_implementation_as_items(pytester):
    pytester.makefile(".ini", pytest="[pytest]\nharness_cases = cases\n")
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text()})
    # a sigmoid layer away from z = 1, where the fixed-point derivative shows (on the worked
    # neuron alone, at z = 1, the mistake is right: only its variants show it)
    pytester.makefile(".yaml", **{"cases/layer": (EXAMPLES / "cases" / "one-layer-sigmoid-mse.yaml")
                                  .read_text().replace("dtype: [float64, float32]",
                                                       "dtype: float64")})
    # the `=` form: pytest takes a separate path argument as a hint for its rootdir
    impl = EXAMPLES / "mistakes" / "sigmoid_fixed_point.py"
    result = pytester.runpytest("-q", "--harness-frameworks", "numpy", f"--harness-impl={impl}",
                                "--harness-variants=0")
    result.assert_outcomes(passed=2, failed=1)
    # with numpy alone beside it no majority decides; its own loss does
    result.stdout.fnmatch_lines(["*but sigmoid_fixed_point's self-check fails*",
                                 "*the mistake is in the backward pass; your gradients are not "
                                 "the derivative of your own loss either*",
                                 "FAILED*one-layer-sigmoid-mse[[]float64-sigmoid_fixed_point[]]*"])
    # by default each case the file runs is run at three seeded variants too, as on the
    # command line: the worked neuron's variants find the mistake its own point hides
    result = pytester.runpytest("-q", "--harness-frameworks", "numpy", f"--harness-impl={impl}",
                                "--harness-out", "out")
    result.assert_outcomes(passed=2, failed=7)
    result.stdout.fnmatch_lines(["FAILED*neuron~variant-1[[]float64-sigmoid_fixed_point[]]*"])
    # report.md does not offer a file pytest never wrote
    report = (pytester.path / "out" / "report.md").read_text()
    assert "neuron~variant-1" in report and "in memory (pytest)" in report
