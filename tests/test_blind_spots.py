"""Bugs that no shipped case caught before, planted; each new case must catch its own.

Every plant here was conforming on the cases that existed (checked below where it is exact, not a
matter of tolerance): the new cases under cases/ close those gaps. Runs are in-process (no worker
pool), so a monkeypatch reaches the adapter.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from harness.adapters import known_parties, numpy_ops
from harness.format.loader import load_cases
from harness.running.runner import run_case

from conftest import CASES


def failing(rows, **where):
    return [r for r in rows if r.status == "fail"
            and all(getattr(r, k) == v for k, v in where.items())]


def case_at(relative: str):
    return load_cases([CASES / relative], known_parties())[0]


# -- torch's softplus threshold ------------------------------------------------------------------
def test_softplus_threshold_is_caught(monkeypatch):
    pytest.importorskip("torch")
    import torch.nn.functional as F

    import harness.adapters.torch_ops as torch_ops

    case = case_at("activations/softplus-threshold.yaml")
    clean = run_case(case, "float64", ["numpy", "torch"]).rows
    assert clean and not failing(clean)

    real = torch_ops.activation_of

    def planted(name, settings):
        if name == "softplus":  # torch's default: the identity once beta·z > 20
            return lambda z: F.softplus(z, beta=settings.get("beta"), threshold=20)
        return real(name, settings)

    monkeypatch.setattr(torch_ops, "activation_of", planted)
    rows = run_case(case, "float64", ["numpy", "torch"]).rows
    step1 = {(r.quantity, r.tensor) for r in failing(rows, framework="torch", step=1)}
    # the slope past the threshold, 1 − e^(−20.5), is what the identity gets wrong
    assert {("grad", "layers.0.weight"), ("grad", "layers.0.bias")} <= step1
    assert ("output", "output") not in step1  # the value is off by 6e-10 only: within tolerance
    # the older softplus case never reaches beta·z > 20, so it cannot see the plant
    older = case_at("activations/softplus-beta.yaml")
    assert not failing(run_case(older, "float64", ["numpy", "torch"]).rows)


# -- kl_div's gradient, hidden by a log_softmax layer --------------------------------------------
def plant_kl_div_softmax_term(monkeypatch):
    """kl_div's gradient taken as softmax(out) − y: the gradient of log_softmax and kl_div
    together, slipped into kl_div's own. log_softmax's backward removes exactly that term."""
    kl_div = numpy_ops.LOSSES["kl_div"]

    def planted():
        real = kl_div()

        def terms(out, y):
            value, grad = real.terms(out, y)
            return value, grad + numpy_ops.softmax(out)
        return replace(real, terms=terms)

    monkeypatch.setitem(numpy_ops.LOSSES, "kl_div", planted)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kl_div_gradient_slip_is_caught_without_log_softmax(monkeypatch, dtype):
    case = case_at("losses/kl-div-identity.yaml")
    assert not failing(run_case(case, dtype, ["torch", "micrograd"]).rows)
    plant_kl_div_softmax_term(monkeypatch)
    rows = run_case(case, dtype, ["torch", "micrograd"]).rows
    for framework in ("torch", "micrograd"):
        step1 = failing(rows, framework=framework, step=1)
        assert {r.tensor for r in step1 if r.quantity == "grad"} == {
            "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}
        assert not [r for r in step1 if r.quantity in ("output", "loss")]  # the backward pass


def test_kl_div_gradient_slip_is_hidden_by_log_softmax(monkeypatch):
    """Why kl-div-identity exists: the same plant conforms on the log_softmax cases."""
    plant_kl_div_softmax_term(monkeypatch)
    for relative in ("activations/log-softmax-kl-div.yaml", "losses/kl-div-sum.yaml"):
        assert not failing(run_case(case_at(relative), "float64", ["torch"]).rows), relative


# -- relu'(0) in a hidden layer over a batch -----------------------------------------------------
def test_relu_derivative_at_zero_is_caught_in_two_layers(monkeypatch):
    case = case_at("edge/relu-kink-batch.yaml")
    frameworks = ["torch", "jax", "micrograd"]
    assert not failing(run_case(case, "float64", frameworks).rows)
    relu = numpy_ops.ACTIVATIONS["relu"]
    monkeypatch.setitem(numpy_ops.ACTIVATIONS, "relu",
                        lambda: replace(relu(), derivative=lambda z, a, g: g * (z >= 0)))
    for dtype in case.dtypes:
        rows = run_case(case, dtype, frameworks).rows
        for framework in frameworks:
            grads = {r.tensor for r in failing(rows, framework=framework, step=1,
                                               quantity="grad")}
            # layer 1's kinks alone move layer 1's gradients; layer 2's depend on no kink
            assert grads == {"layers.0.weight", "layers.0.bias",
                             "layers.1.weight", "layers.1.bias"}, (dtype, framework)
