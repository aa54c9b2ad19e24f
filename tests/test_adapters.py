"""Every catalog name in every adapter, and how the runner treats frameworks that cannot run."""
from __future__ import annotations

import pytest

from harness.format import catalog
from harness.adapters import unregister
from harness.adapters import adapter_names, get_adapter, register
from harness.adapters.base import Adapter, Availability
from harness.adapters.micrograd_adapter import MAX_NODES, MicrogradAdapter
from harness.running.runner import run_case

FRAMEWORKS = ["torch", "jax", "micrograd"]

LIKE_OUTPUT = "  y: {random: normal, shape: [5, 3], seed: 2}\n"
TARGETS = {
    "sum": "",
    "bce": "  y: {random: bernoulli, shape: [5, 3], seed: 2}\n",
    "bce_with_logits": "  y: {random: bernoulli, shape: [5, 3], seed: 2}\n",
    "cross_entropy": "  y: {random: classes, shape: [5], seed: 2}\n",
    "nll": "  y: {random: onehot, shape: [5, 3], seed: 2}\n",
    "kl_div": "  y: {random: simplex, shape: [5, 3], seed: 2}\n",
}
LAST = {"bce": "sigmoid", "nll": "softmax", "cross_entropy": "identity", "kl_div": "log_softmax"}
# settings other than the defaults, each run after its activation with the defaults
OTHER_SETTINGS = {"leaky_relu": ["{name: leaky_relu, slope: 0.2}"],
                  "elu": ["{name: elu, alpha: 0.5}"],
                  "gelu": ["{name: gelu, approximate: tanh}"],
                  "softplus": ["{name: softplus, beta: 2.0}"],
                  "hardtanh": ["{name: hardtanh, min_val: -0.5, max_val: 0.7}"]}
# every activation of the catalog, in its order
HIDDEN = [spec for name in catalog.ACTIVATIONS for spec in [name] + OTHER_SETTINGS.get(name, [])]
LOSS_SETTINGS = {"huber": ", delta: 0.5", "smooth_l1": ", beta: 0.5"}


def case_text(loss: str, hidden: list[str], last: str, dtype: str = "[float32, float64]",
              reduction: str = "mean", optimizer: str = "{name: sgd, lr: 0.1}",
              steps: int = 2) -> str:
    layers = "".join(f"  - {{units: 4, activation: {a}}}\n" for a in hidden)
    loss_spec = loss if loss == "sum" else \
        f"{{name: {loss}, reduction: {reduction}{LOSS_SETTINGS.get(loss, '')}}}"
    return (f"name: {loss}-{last}\ndtype: {dtype}\nnetwork:\n{layers}"
            f"  - {{units: 3, activation: {last}}}\n"
            "init: {scheme: xavier_normal, seed: 1, bias: {scheme: normal, std: 0.1}}\n"
            "data:\n  x: {random: normal, shape: [5, 2], seed: 1}\n" +
            TARGETS.get(loss, LIKE_OUTPUT) +
            f"loss: {loss_spec}\noptimizer: {optimizer}\nsteps: {steps}\n")


def assert_conforms(case, frameworks=FRAMEWORKS):
    for dtype in case.dtypes:
        rows = run_case(case, dtype, frameworks).rows
        assert {r.framework for r in rows} == set(frameworks)
        bad = [(dtype, r.framework, r.step, r.quantity, r.tensor, r.message) for r in rows
               if r.status != "pass"]
        assert bad == []


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss", sorted(catalog.LOSSES))
def test_every_loss_conforms_in_every_adapter(load, loss, reduction):
    """Each loss behind the last activation it is used with, and two hidden layers its gradient
    flows back through (every activation is in the deep network below: a loss's gradient does
    not depend on which layers come before, and 20 layers compile for long in JAX)."""
    if loss == "sum" and reduction == "sum":
        pytest.skip("the loss `sum` has no reduction setting")
    case, problems = load(case_text(loss, ["tanh", "elu"], LAST.get(loss, "tanh"),
                                    reduction=reduction))
    assert problems == []
    assert_conforms(case)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_every_activation_conforms_in_every_adapter_in_one_deep_network(load, loss):
    # 19 hidden layers of unlike activations amplify float32 rounding past the default
    tolerance = "tolerance: {float32: {rtol: 1.0e-4, scale_rtol: 1.0e-4}}\n"
    case, problems = load(case_text(loss, HIDDEN, LAST.get(loss, "tanh")) + tolerance)
    assert problems == []
    assert_conforms(case)


OPTIMIZERS = [
    "{name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.01}",
    "{name: sgd, lr: 0.1, momentum: 0.8, nesterov: true}",
    "{name: adam, lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1.0e-6, weight_decay: 0.1}",
    "{name: adamw, lr: 0.01, weight_decay: 0.05}",
    "{name: rmsprop, lr: 0.01, alpha: 0.9, momentum: 0.5, weight_decay: 0.01}",
    "{name: rmsprop, lr: 0.01, centered: true}",
]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_conforms_over_several_steps(load, optimizer):
    case, problems = load(case_text("mse", ["tanh"], "identity", optimizer=optimizer, steps=4))
    assert problems == []
    assert_conforms(case)


def test_micrograd_declines_cases_it_cannot_run_in_reasonable_time(load):
    case, _ = load("network:\n  - {units: 512, activation: relu}\n  - {units: 10, activation: identity}\n"
                   "data:\n  x: {random: normal, shape: [256, 64], seed: 0}\n"
                   "  y: {random: classes, shape: [256], seed: 1}\n"
                   "loss: cross_entropy\noptimizer: {name: sgd, lr: 0.1}\n")
    reason = MicrogradAdapter().supports(case)
    assert reason and f"{MAX_NODES:,}" in reason
    rows = run_case(case, "float64", ["micrograd"]).rows
    assert [(r.status, r.message) for r in rows] == [("skip", reason)]


class _Fake:
    def __init__(self, name, available=True, error=None):
        self.name, self.available, self.error = name, available, error

    def availability(self):
        if self.available:
            return Availability(True, "1.0")
        return Availability(False, None, f"{self.name} is not installed (pip install {self.name})")

    def supports(self, case):
        return None

    def run(self, case, inputs):
        raise self.error


@pytest.fixture
def fakes():
    names = []

    def add(adapter):
        register(adapter)
        names.append(adapter.name)
        return adapter.name

    yield add
    for name in names:
        unregister(name)


def test_missing_framework_is_a_skip_with_the_reason(load, fakes):
    name = fakes(_Fake("absentgrad", available=False))
    case, _ = load(case_text("mse", ["tanh"], "identity", "float64"))
    rows = run_case(case, "float64", [name, "torch"]).rows
    skip = [r for r in rows if r.framework == name]
    assert [(r.status, r.message) for r in skip] == [
        ("skip", "absentgrad is not installed (pip install absentgrad)")]
    assert all(r.status == "pass" for r in rows if r.framework == "torch")


def test_framework_that_raises_is_an_error_row_and_others_still_run(load, fakes):
    name = fakes(_Fake("crashgrad", error=ZeroDivisionError("planted")))
    case, _ = load(case_text("mse", ["tanh"], "identity", "float64"))
    rows = run_case(case, "float64", ["jax", name, "torch"]).rows
    errors = [r for r in rows if r.framework == name]
    assert len(errors) == 1 and errors[0].status == "error"
    assert errors[0].message.startswith("ZeroDivisionError: planted (at ")
    assert {r.framework for r in rows if r.status == "pass"} == {"jax", "torch"}


def test_builtin_adapters_follow_the_interface():
    for name in ("numpy", "torch", "jax", "micrograd"):
        adapter = get_adapter(name)
        assert isinstance(adapter, Adapter) and adapter.name == name
        assert adapter.availability().available
    assert adapter_names()[:4] == ["numpy", "torch", "jax", "micrograd"]


def test_micrograd_reports_the_ops_it_had_added(load):
    case, _ = load(case_text("cross_entropy", ["tanh", "sigmoid"], "identity", "float32"))
    notes = run_case(case, "float32", ["micrograd"]).notes["micrograd"]
    assert "ops added to micrograd (not native): exp, log, sigmoid, tanh" in notes
    assert "float32 computed in float64 from the float32 inputs: micrograd has Python floats only" in notes


def _names(specs: list[str]) -> set[str]:
    return {s.split("name: ")[1].split(",")[0].rstrip("}") if s.startswith("{") else s
            for s in specs}


def test_the_adapter_tests_cover_the_whole_catalog():
    """A name added to the catalog is run through every adapter by the tests above (or the
    adapter's supports() must give a reason): HIDDEN is made from the catalog, the optimizers
    here follow it."""
    for name, specs in OTHER_SETTINGS.items():
        assert name in catalog.ACTIVATIONS and _names(specs) == {name}
    assert _names(OPTIMIZERS) == set(catalog.OPTIMIZERS)


@pytest.mark.parametrize("activation, bias", [("mish", -60.0), ("softplus", -60.0),
                                              ("elu", -1e-9), ("selu", -1e-9)])
def test_micrograd_composites_keep_their_precision_where_naive_formulas_round(load, activation,
                                                                              bias):
    """log(1 + e^z) rounds to 0 below z ≈ −37 (mish lost its tanh(softplus) term: 1.4 % of its
    derivative at z = −70, a 1,000-case generated run blamed micrograd for it), and e^z − 1
    keeps a few digits just below 0: micrograd's added ops are log1p and expm1."""
    case, problems = load(f"""
        name: precise-{activation}
        dtype: float64
        network:
          - {{units: 1, activation: {activation}}}
        params:
          layers.0.weight: [[1.0]]
          layers.0.bias: [{bias!r}]
        data:
          x: [[0.5]]
        loss: sum
        optimizer: {{name: sgd, lr: 0.1}}
        frameworks: [numpy, micrograd]
        """)
    assert not problems
    rows = run_case(case, "float64", ["micrograd"]).rows
    assert rows and {r.status for r in rows} == {"pass"}, \
        [(r.quantity, r.tensor, r.message) for r in rows if r.status != "pass"]
