"""A conformance harness that cannot fail is worthless: plant bugs and watch them get caught."""
from __future__ import annotations

from dataclasses import replace

import pytest

from harness.adapters import known_parties, numpy_ops, numpy_ref, register
from harness.adapters import unregister
from harness.adapters.base import Availability
from harness.cli import main
from harness.format.loader import load_cases
from harness.adapters.numpy_optim import NumpyOptimizer as Optimizer
from harness.running.runner import run_case
from harness.format.trace import Trace

from conftest import CASES, sigmoid_neuron_text


def failing(rows, **where):
    return [r for r in rows if r.status == "fail"
            and all(getattr(r, k) == v for k, v in where.items())]


@pytest.fixture
def neuron():
    return load_cases([CASES / "golden" / "sigmoid-neuron.yaml"], known_parties())[0]


@pytest.fixture
def deep():
    return load_cases([CASES / "networks" / "deep-mixed-5-layers.yaml"], known_parties())[0]


def test_constant_sigmoid_derivative_in_reference_is_caught(monkeypatch, neuron):
    sigmoid = numpy_ops.ACTIVATIONS["sigmoid"]
    monkeypatch.setitem(numpy_ops.ACTIVATIONS, "sigmoid",
                        lambda: replace(sigmoid(), derivative=lambda z, a, g: g * 0.25))
    rows = run_case(neuron, "float64", ["numpy", "torch"]).rows
    # the golden values catch the reference itself …
    golden = failing(rows, framework="numpy", reference="expected", quantity="grad")
    assert {r.tensor for r in golden} == {"layers.0.weight", "layers.0.bias"}
    bias = next(r for r in golden if r.tensor == "layers.0.bias")
    assert bias.value == 0.25 and bias.reference_value == pytest.approx(0.19661193324148185)
    # … and every framework disagrees with it, naming the tensors
    against_reference = failing(rows, framework="torch", reference="numpy", quantity="grad")
    assert {r.tensor for r in against_reference} == {"layers.0.weight", "layers.0.bias"}
    assert not failing(rows, quantity="output")  # the forward pass is still right


def test_wrong_derivative_deep_in_a_network_is_caught(monkeypatch, deep):
    # forgets the upstream gradient: 1 − a² instead of g·(1 − a²)
    tanh = numpy_ops.ACTIVATIONS["tanh"]
    monkeypatch.setitem(numpy_ops.ACTIVATIONS, "tanh",
                        lambda: replace(tanh(), derivative=lambda z, a, g: 1 - a * a))
    rows = run_case(deep, "float64", ["jax"]).rows
    step1 = {r.tensor for r in failing(rows, step=1, quantity="grad")}
    # layer 1 is the tanh layer: it and everything below it is wrong, the layers above are not
    assert step1 == {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}


def test_update_with_wrong_sign_is_caught(monkeypatch, neuron):
    class WrongSign(Optimizer):
        def _sgd(self, name, p, g):
            return p + self.s["lr"] * g  # planted: adds the gradient

    monkeypatch.setattr(numpy_ref, "NumpyOptimizer", WrongSign)  # the reference's only
    rows = run_case(neuron, "float64", ["torch", "micrograd"]).rows
    for framework in ("torch", "micrograd"):
        bad = failing(rows, framework=framework)
        assert {(r.quantity, r.tensor) for r in bad} == {("param", "layers.0.weight"),
                                                         ("param", "layers.0.bias")}


def test_wrong_golden_value_fails_and_report_names_tensor_and_values(write_case, tmp_path, capsys):
    case = write_case(sigmoid_neuron_text(dw0="-0.2966"))
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out), "-q"]) == 1
    report = (out / "report.md").read_text()
    assert "neuron [float64-torch] against golden values" in report
    line = next(l for l in report.splitlines() if l.startswith("| 1 | grad | layers.0.weight"))
    assert "-0.2966" in line and "-0.19661193324148" in line
    assert not any(l.startswith("| 1 | grad | layers.0.bias") for l in report.splitlines())


class _ShiftedTorch:
    """A 'framework' whose tanh derivative is off by 1%: a planted bug outside the reference."""

    name = "planted"

    def availability(self):
        return Availability(True, "0")

    def supports(self, case):
        return None

    def run(self, case, inputs):
        original = numpy_ops.ACTIVATIONS["tanh"]
        tanh = original()
        numpy_ops.ACTIVATIONS["tanh"] = lambda: replace(
            tanh, derivative=lambda z, a, g: tanh.derivative(z, a, g) * 1.01)
        try:
            trace = numpy_ref.NumpyAdapter().run(case, inputs)
        finally:
            numpy_ops.ACTIVATIONS["tanh"] = original
        return Trace(self.name, trace.steps)


@pytest.fixture
def planted():
    register(_ShiftedTorch())
    yield "planted"
    unregister("planted")


def test_small_bug_in_a_framework_is_caught_in_float32(planted, deep):
    rows = run_case(deep, "float32", [planted]).rows
    assert failing(rows, step=1, quantity="grad", tensor="layers.1.weight")
    assert not failing(rows, step=1, quantity="output")


def test_steps_compare_free_running_trajectories(deep):
    rows = run_case(deep, "float64", ["torch"]).rows
    assert {r.step for r in rows} == {1, 2, 3}
    assert all(r.status == "pass" for r in rows)
