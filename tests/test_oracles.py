"""Independent oracles: finite differences catch what every framework would share; forward mode
against reverse mode; Hessian-vector products."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from harness.format import numerics
from harness.adapters import known_parties, numpy_ops, numpy_ref
from harness.adapters.jax_adapter import JaxAdapter
from harness.format.loader import load_cases
from harness.oracles import fd
from harness.running.runner import run_case

from conftest import CASES


def case_named(path):
    return load_cases([CASES / path], known_parties())[0]


def by_status(rows, status):
    return [r for r in rows if r.status == status]


def test_finite_differences_pass_a_correct_case():
    case = case_named("networks/deep-mixed-5-layers.yaml")
    for dtype in case.dtypes:
        rows = run_case(case, dtype, ["fd"]).rows
        assert {r.framework for r in rows} == {"fd"} and len(rows) == 3 * 10
        assert {r.status for r in rows} == {"pass"}, [r.message for r in rows if r.message]


def test_the_whole_shipped_suite_passes_against_finite_differences():
    """Every shipped case in float32 and float64 (under a low-precision format fd is a skip
    with the reason: the same case in float64 checks the reference)."""
    for case in load_cases([CASES], known_parties()):
        for dtype in case.dtypes:
            if numerics.of(dtype).low:
                rows = run_case(case, dtype, ["fd"]).rows
                assert [r.status for r in rows] == (["skip"] if case.wants("fd") else [])
                continue
            bad = [(case.name, dtype, r.step, r.tensor, r.message)
                   for r in run_case(case, dtype, ["fd"]).rows
                   if r.status not in ("pass", "inconclusive", "xfail")]
            assert bad == []


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_a_wrong_derivative_every_framework_would_share_is_caught(monkeypatch, activation):
    """Frameworks compared with each other cannot see a mistake they share; fd can."""
    entry = numpy_ops.ACTIVATIONS[activation]()
    monkeypatch.setitem(numpy_ops.ACTIVATIONS, activation, lambda: replace(
        entry, derivative=lambda z, a, g: entry.derivative(z, a, g) * 1.001))
    case = case_named("networks/deep-mixed-5-layers.yaml")
    rows = run_case(case, "float64", ["fd"]).rows
    layer = {"tanh": 1, "sigmoid": 2}[activation]
    wrong = {r.tensor for r in by_status(rows, "fail") if r.step == 1}
    # the layer with the planted derivative and every layer below it
    assert wrong == {f"layers.{i}.{k}" for i in range(layer + 1) for k in ("weight", "bias")}


def test_a_wrong_loss_gradient_is_caught(monkeypatch):
    original = numpy_ref.loss_and_grad

    def halved(name, out, y, settings=None):
        loss, grad = original(name, out, y, settings)
        return loss, grad / 2  # a factor dropped in the loss's gradient
    monkeypatch.setattr(numpy_ref, "loss_and_grad", halved)
    monkeypatch.setattr(fd.numpy_ref, "loss_and_grad", halved)
    rows = run_case(case_named("golden/mse-neuron.yaml"), "float64", ["fd"]).rows
    assert {r.tensor for r in by_status(rows, "fail")} == {"layers.0.weight"}  # bias grad is 0


def test_elements_at_a_kink_are_inconclusive_not_failures():
    rows = run_case(case_named("edge/relu-at-kink.yaml"), "float64", ["fd"]).rows
    assert not by_status(rows, "fail")
    weight = next(r for r in rows if r.tensor == "layers.0.weight")
    assert "2 of 4 checked elements inconclusive: a kink lies within a finite-difference step" \
        in weight.message
    assert weight.status == "pass" and weight.size == 2  # the two away from the kink agree


def test_large_tensors_are_sampled_with_a_stated_count():
    case = case_named("sizes/wide-512.yaml")
    rows = run_case(case, "float64", ["fd"]).rows
    weight = next(r for r in rows if r.tensor == "layers.0.weight" and r.step == 1)
    assert weight.status == "pass" and "64 of 8192 elements sampled" in weight.message
    again = fd.sample_indices(case, "layers.0.weight", 8192)
    assert np.array_equal(again, fd.sample_indices(case, "layers.0.weight", 8192))  # seeded


def test_error_bound_is_honest_without_richardson(load):
    text = (CASES / "networks/tanh-2-2-2-mse.yaml").read_text() + \
        "finite_differences: {richardson: false, samples: 3}\n"
    case, problems = load(text)
    assert problems == [] and case.finite_differences == {"samples": 3, "richardson": False}
    assert {r.status for r in run_case(case, "float64", ["fd"]).rows} == {"pass"}


@pytest.mark.parametrize("oracle", ["jax-fwd", "torch-fwd"])
def test_forward_mode_agrees_with_reverse_mode(oracle):
    case = case_named("networks/deep-mixed-5-layers.yaml")
    for dtype in case.dtypes:
        rows = run_case(case, dtype, [oracle]).rows
        assert len(rows) == 3 * 10 and {r.reference for r in rows} == {"numpy"}
        assert {r.status for r in rows} == {"pass"}


@pytest.mark.parametrize("framework", ["jax", "torch"])
def test_a_forward_mode_one_percent_off_its_reverse_mode_is_caught(monkeypatch, framework):
    """A planted disagreement: forward mode 1 % off where reverse mode is right fails the
    oracle's rows, and only its own."""
    from harness.adapters import get_adapter

    adapter = type(get_adapter(framework))
    original = adapter.forward_and_reverse

    def off(self, *args):
        return [(reverse, {k: v * 1.01 for k, v in forward.items()})
                for reverse, forward in original(self, *args)]
    monkeypatch.setattr(adapter, "forward_and_reverse", off)
    case = case_named("networks/deep-mixed-5-layers.yaml")
    rows = run_case(case, "float64", [f"{framework}-fwd", framework]).rows
    assert {r.status for r in rows if r.framework == f"{framework}-fwd"} == {"fail"}
    assert {r.status for r in rows if r.framework == framework} == {"pass"}


def test_hessian_vector_products_from_torch_and_jax_against_finite_differences():
    case = case_named("second-order/hvp-tanh-mse.yaml")
    rows = run_case(case, "float64", ["torch", "jax", "micrograd"]).rows
    hvp = [r for r in rows if r.quantity == "hvp"]
    assert {(r.framework, r.status) for r in hvp} == {("torch", "pass"), ("jax", "pass"),
                                                     ("micrograd", "skip")}
    assert {r.reference for r in hvp} == {"fd"}
    assert {r.tensor for r in hvp if r.framework == "jax"} == set(case.param_names)
    skip = next(r for r in hvp if r.framework == "micrograd")
    assert "cannot compute second derivatives" in skip.message


def test_a_wrong_hessian_vector_product_is_caught(monkeypatch):
    original = JaxAdapter.hvp
    monkeypatch.setattr(JaxAdapter, "hvp", lambda self, *args: {
        k: v * 1.01 for k, v in original(self, *args).items()})
    rows = run_case(case_named("second-order/hvp-tanh-mse.yaml"), "float64", ["jax"]).rows
    assert {r.tensor for r in rows if r.quantity == "hvp" and r.status == "fail"} \
        == set(case_named("second-order/hvp-tanh-mse.yaml").param_names)


def test_second_order_is_opt_in(load):
    case, _ = load((CASES / "networks/tanh-2-2-2-mse.yaml").read_text())
    assert case.orders == (1,)
    assert not [r for r in run_case(case, "float64", ["torch"]).rows if r.quantity == "hvp"]
    _, problems = load((CASES / "networks/tanh-2-2-2-mse.yaml").read_text() + "orders: [2, 3]\n")
    assert any("expected [1] or [1, 2]" in p.message for p in problems)


def test_an_xla_without_the_checks_compiler_option_still_checks(monkeypatch):
    """jax-fwd compiles with an XLA option (CHECK_COMPILER_OPTIONS); an XLA that no longer knows
    it refuses such a compile, and the check then compiles with XLA's defaults instead of
    failing every row after a JAX upgrade."""
    from harness.adapters import jax_adapter, jax_program

    monkeypatch.setattr(jax_adapter, "CHECK_COMPILER_OPTIONS", {"xla_no_such_option": True})
    monkeypatch.setattr(jax_adapter, "_known_options", None)
    monkeypatch.setattr(jax_adapter, "_FORWARD_AND_REVERSE", jax_program.Recent(64))
    assert jax_adapter._check_compiler_options() == {}
    case = case_named("networks/deep-mixed-5-layers.yaml")
    assert {r.status for r in run_case(case, "float64", ["jax-fwd"]).rows} == {"pass"}
