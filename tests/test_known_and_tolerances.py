"""Known discrepancies (xfail, xpass), per-framework tolerances and trajectory reporting."""
from __future__ import annotations

import csv

import pytest

from harness.adapters import unregister
from harness.adapters import numpy_ref, register
from harness.adapters.base import Availability
from harness.cli import main
from harness.running.runner import run_case
from harness.format.trace import Trace

from conftest import CASES

KINK = (CASES / "edge" / "leaky-relu-at-kink.yaml").read_text()
BASE = """\
name: {name}
dtype: float64
network:
  - {{units: 3, activation: tanh}}
  - {{units: 2, activation: identity}}
init: {{scheme: xavier_normal, seed: 4}}
data:
  x: {{random: normal, shape: [6, 2], seed: 5}}
  y: {{random: normal, shape: [6, 2], seed: 6}}
loss: mse
optimizer: {{name: sgd, lr: 0.1}}
steps: {steps}
"""


def statuses(rows, framework):
    return {r.status for r in rows if r.framework == framework}


def test_declared_difference_is_xfail_with_its_reason(load):
    case, problems = load(KINK)
    assert problems == []
    rows = run_case(case, "float64", ["jax", "torch"]).rows
    jax = [r for r in rows if r.framework == "jax"]
    assert {r.status for r in jax if r.quantity == "grad" and r.tensor.startswith("layers.0")} \
        == {"xfail"}
    assert any("jax.nn.leaky_relu is where(x >= 0" in r.message for r in jax)
    # params at the same step follow from the gradient
    assert {r.status for r in jax if r.quantity == "param" and r.tensor.startswith("layers.0")} \
        == {"xfail"}
    assert statuses(rows, "torch") == {"pass"}


def test_undeclared_failure_beside_a_declared_one_still_fails(load):
    case, _ = load(KINK.replace("framework: jax", "framework: torch"))
    rows = run_case(case, "float64", ["jax", "torch"]).rows
    assert "fail" in statuses(rows, "jax")  # jax's difference is no longer declared
    assert statuses(rows, "torch") == {"pass", "xpass"}  # torch's declaration is stale


def test_declaration_matching_nothing_is_xpass(load):
    text = BASE.format(name="stale", steps=1) + (
        "known_discrepancies:\n  - {framework: torch, tensor: layers.9.*, reason: old bug}\n")
    case, _ = load(text)
    rows = run_case(case, "float64", ["torch"]).rows
    stale = [r for r in rows if r.status == "xpass"]
    assert len(stale) == 1 and "matches no comparison" in stale[0].message


@pytest.mark.parametrize("entry, message", [
    ("{framework: jax, reason: everything}", "none may cover a whole case"),
    ("{framework: jax, tensor: '*', reason: all}", "none may cover a whole case"),
    ("{framework: numpy, quantity: grad, reason: r}", "unknown framework 'numpy'"),
    ("{framework: jax, quantity: grads, reason: r}", "unknown quantity 'grads'"),
    ("{framework: jax, quantity: grad}", "missing required key 'reason'"),
    ("{framework: jax, quantity: grad, reason: r, dtype: float32}", "unknown dtype of this case"),
])
def test_known_discrepancy_validation(load, entry, message):
    _, problems = load(BASE.format(name="bad", steps=1) + f"known_discrepancies:\n  - {entry}\n")
    assert any(message in p.message for p in problems), [str(p) for p in problems]


def test_pytest_reports_real_xfail_and_xpass(pytester):
    pytester.makefile(".ini", pytest="[pytest]\nharness_cases = cases\n")
    pytester.makefile(".yaml", **{"cases/kink": KINK, "cases/stale": KINK.replace(
        "name: leaky-relu-at-kink", "name: stale").replace("framework: jax", "framework: torch")})
    result = pytester.runpytest("-rxX", "--harness-frameworks", "jax,torch")
    # kink: jax xfail, torch pass; stale: jax fails (undeclared), torch xpass
    result.assert_outcomes(passed=2, failed=2, xfailed=2, xpassed=2)
    result.stdout.fnmatch_lines(["*XFAIL*kink.yaml::leaky-relu-at-kink[[]float64-jax[]]*",
                                 "*XPASS*stale.yaml::stale[[]float64-torch[]]*"])


def test_per_framework_tolerance_is_used_and_reported(load):
    text = BASE.format(name="loose", steps=2) + (
        "tolerance:\n  rtol: 1.0e-9\n  frameworks:\n    jax: {float64: {rtol: 1.0e-6}}\n")
    case, problems = load(text)
    assert problems == []
    rows = run_case(case, "float64", ["jax", "torch"]).rows
    jax = {(r.rtol, r.tolerance_source) for r in rows if r.framework == "jax"}
    torch = {(r.rtol, r.tolerance_source) for r in rows if r.framework == "torch"}
    assert jax == {(1e-6, "case, for jax")} and torch == {(1e-9, "case")}


class _DriftingLearningRate:
    """The reference with a learning rate 1e-6 too large: over the tolerance from step 1 on."""

    name = "drifting"

    def availability(self):
        return Availability(True, "0")

    def supports(self, case):
        return None

    def run(self, case, inputs):
        from dataclasses import replace

        settings = dict(case.optimizer.settings, lr=case.optimizer.lr * (1 + 1e-6))
        drifted = replace(case, optimizer=replace(case.optimizer, settings=settings))
        return Trace(self.name, numpy_ref.NumpyAdapter().run(drifted, inputs).steps)


@pytest.fixture
def drifting():
    register(_DriftingLearningRate())
    yield "drifting"
    unregister("drifting")


def test_trajectory_growth_and_first_step_over_tolerance(drifting, write_case, tmp_path):
    case = write_case(BASE.format(name="drift", steps=6))
    out = tmp_path / "out"
    assert main(["run", str(case), "-f", "drifting,torch", "--out", str(out), "-q"]) == 1
    report = (out / "report.md").read_text()
    line = next(l for l in report.splitlines() if l.startswith("- drift [float64], 6 steps"))
    assert "drifting" in line and "over from step 1" in line and "/step" in line
    with open(out / "report.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["framework"] == "drifting"]
    per_step = {int(r["step"]): float(r["step_tol_used"]) for r in rows}
    assert sorted(per_step) == [1, 2, 3, 4, 5, 6] and min(per_step.values()) > 1
    torch = {float(r["step_tol_used"]) for r in csv.DictReader(open(out / "report.csv"))
             if r["framework"] == "torch"}
    assert max(torch) < 1


@pytest.mark.parametrize("fragment, message", [
    ("loss: {name: mse, reduction: avg}", "unknown reduction 'avg'; valid: mean, sum"),
    ("loss: {name: huber, delta: 0}", "expected a number > 0, found 0.0"),
    ("loss: {name: mse, delta: 1.0}", "unknown key 'delta'"),
    ("optimizer: {name: sgd, lr: 0.1, nesterov: true}", "nesterov needs momentum > 0"),
    ("optimizer: {name: adam, lr: 0.1, amsgrad: yes please}", "expected true or false"),
    ("optimizer: {name: adam, lr: 0.1, beta1: 1.0}", "expected a number in [0, 1), found 1.0"),
    ("optimizer: {name: adam}", "missing required key 'lr'"),
    ("optimizer: {name: adamm, lr: 0.1}", "did you mean 'adam'"),
])
def test_catalog_settings_are_validated(load, fragment, message):
    key = fragment.split(":")[0]
    text = BASE.format(name="settings", steps=1)
    text = "\n".join(fragment if line.startswith(f"{key}:") else line for line in text.splitlines())
    _, problems = load(text + "\n")
    assert any(message in p.message for p in problems), [str(p) for p in problems]


def test_activation_settings_are_validated(load):
    text = BASE.format(name="act", steps=1).replace(
        "activation: tanh", "activation: {name: hardtanh, min_val: 1.0, max_val: -1.0}")
    _, problems = load(text)
    assert any("expected min_val < max_val" in p.message for p in problems)
    text = BASE.format(name="act", steps=1).replace(
        "activation: tanh", "activation: {name: gelu, approximate: sigmoid}")
    _, problems = load(text)
    assert any("unknown approximate 'sigmoid'; valid: none, tanh" in p.message for p in problems)


def _drifting_rows(load, declaration: str):
    case, problems = load(BASE.format(name="later", steps=4) + "known_discrepancies:\n"
                          f"  - {{framework: drifting, quantity: param, {declaration}, "
                          "reason: lr rounds differently}\n")
    assert problems == []
    return run_case(case, "float64", ["drifting"]).rows


def test_known_discrepancy_limited_to_steps(drifting, load):
    rows = _drifting_rows(load, "steps: [1, 2]")
    param = {r.step: r.status for r in rows if r.quantity == "param" and r.tensor ==
             "layers.0.weight"}
    assert param[1] == param[2] == "xfail"
    # from step 3 on, the declaration says nothing: the difference fails (it is not a
    # consequence either: the consequences rule only reaches failures the declared step caused,
    # and an undeclared step fails as itself)
    assert {r.status for r in rows if r.step in (3, 4)} & {"xfail", "fail"}


def test_known_discrepancy_from_a_step_on(drifting, load):
    rows = _drifting_rows(load, "from_step: 2")
    first = {r.status for r in rows if r.step == 1 and r.quantity == "param"}
    assert "fail" in first  # step 1 is not declared
    assert all(r.status != "xfail" or r.step >= 2 or "follows from" in r.message for r in rows)


@pytest.mark.parametrize("declaration, message", [
    ("steps: [9]", "step 9 is beyond the case's 4 step(s)"),
    ("from_step: 0", "expected an integer ≥ 1"),
    ("steps: []", "expected a list of step numbers"),
])
def test_known_discrepancy_steps_are_validated(load, declaration, message):
    _, problems = load(BASE.format(name="bad", steps=4) + "known_discrepancies:\n"
                       f"  - {{framework: jax, quantity: param, {declaration}, reason: r}}\n")
    assert any(message in p.message for p in problems), [str(p) for p in problems]
