"""Unit tests of harness.format.sections: one parser per section of a case file, on tiny
documents (dtypes, the network, catalog entries and their settings, tolerances, orders, names,
frameworks)."""
from __future__ import annotations

import textwrap

import pytest

from harness.format import catalog
from harness.format.case import Layer, OptimizerSpec
from harness.format.sections import Sections
from harness.format.yamlsafe import load_yaml

NAMES = ["numpy", "torch", "jax", "micrograd"]


def sections(text: str, file: str = "unit.yaml") -> Sections:
    doc, problems = load_yaml(textwrap.dedent(text), file)
    assert doc is not None and problems == []
    return Sections(doc, NAMES)


def messages(s: Sections) -> list[tuple[int | None, str, str]]:
    return [(p.line, p.field, p.message) for p in s.problems]


def test_dtypes():
    s = sections("a: float32\nb: [float64, float32]\nc: [float64, float64]\nd: float8\ne: []\n")
    v = s.doc.value
    assert s.dtypes(v["a"]) == ("float32",)
    assert s.dtypes(v["b"]) == ("float64", "float32")
    assert s.problems == []
    assert s.dtypes(v["c"]) is None
    assert s.dtypes(v["d"]) is None
    assert s.dtypes(v["e"]) is None
    assert [m for _, _, m in messages(s)] == [
        "a dtype is listed twice: ['float64', 'float64']",
        "unknown dtype 'float8'; valid: float32, float64, bfloat16, float16, mixed-bfloat16, "
        "mixed-float16; did you mean 'float64'?",
        "expected a dtype or a non-empty list of dtypes"]


def test_network_with_defaults_and_settings_filled():
    s = sections("""\
        network:
          - {units: 3, activation: tanh}
          - {units: 2, activation: {name: leaky_relu, slope: 0.2}}
          - {units: 1, activation: leaky_relu}
        """)
    layers = s.network(s.doc.value["network"])
    assert s.problems == []
    assert layers == (Layer(3, "tanh", {}), Layer(2, "leaky_relu", {"slope": 0.2}),
                      Layer(1, "leaky_relu", {"slope": 0.01}))


def test_network_problems_name_each_layer():
    s = sections("""\
        network:
          - {units: 0, activation: tanh}
          - {units: 2}
          - {units: 2, activation: {name: hardtanh, min_val: 1.0, max_val: -1.0}}
          - {units: 2, activation: {name: softplus, beta: 0}}
        """)
    assert s.network(s.doc.value["network"]) is None
    assert messages(s) == [
        (2, "network[0].units", "expected an integer ≥ 1, found 0"),
        (3, "network[1]", "missing required key 'activation'"),
        (4, "network[2].activation", "expected min_val < max_val, found 1.0 ≥ -1.0"),
        (5, "network[3].activation.beta", "expected a number > 0, found 0.0")]


def test_an_empty_network():
    s = sections("network: []\n")
    assert s.network(s.doc.value["network"]) is None
    assert messages(s)[0][2].startswith("expected a non-empty list of layers")


def test_optimizer_settings_are_filled_with_defaults():
    s = sections("optimizer: {name: adam, lr: 0.01, beta1: 0.8}\n")
    spec = s.optimizer(s.doc.value["optimizer"])
    assert s.problems == []
    assert spec == OptimizerSpec("adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.999, "eps": 1e-8,
                                          "weight_decay": 0.0, "amsgrad": False})
    assert spec.lr == 0.01


@pytest.mark.parametrize("text,field,message", [
    ("optimizer: {name: sgd}", "optimizer", "missing required key 'lr'"),
    ("optimizer: sgd", "optimizer", "expected a mapping like {name: sgd, lr: 0.1}, found a "
                                    "string ('sgd')"),
    ("optimizer: {name: sgd, lr: 0.1, nesterov: true}", "optimizer.nesterov",
     "nesterov needs momentum > 0 and dampening 0 (found momentum 0.0, dampening 0.0)"),
    ("optimizer: {name: sgd, lr: 0.1, nesterov: 1}", "optimizer.nesterov",
     "expected true or false, found a number (1)"),
    ("optimizer: {name: adam, lr: 0.1, beta1: 1.5}", "optimizer.beta1", None),
    ("optimizer: {name: adan, lr: 0.1}", "optimizer.name", "did you mean 'adam'?"),
])
def test_optimizer_problems(text, field, message):
    s = sections(text + "\n")
    assert s.optimizer(s.doc.value["optimizer"]) is None
    assert [p.field for p in s.problems] == [field]
    if message:
        assert message in s.problems[0].message
    assert s.problems[0].line == 1


def test_loss_by_name_and_with_settings():
    s = sections("a: mse\nb: {name: huber, delta: 0.5, reduction: sum}\n")
    assert s.loss_spec(s.doc.value["a"]) == ("mse", {"reduction": "mean"})
    assert s.loss_spec(s.doc.value["b"]) == ("huber", {"delta": 0.5, "reduction": "sum"})
    assert s.problems == []


def test_a_loss_setting_out_of_its_choices():
    s = sections("name: x\nloss: {name: mse,\n       reduction: avg}\n")
    assert s.loss_spec(s.doc.value["loss"]) is None
    assert messages(s) == [(3, "loss.reduction", "unknown reduction 'avg'; valid: mean, sum")]


def test_tolerance_flat_per_dtype_and_per_framework():
    s = sections("""\
        a: {atol: 1.0e-6}
        b: {float32: {rtol: 1.0e-4}}
        c: {rtol: 1.0e-8, frameworks: {jax: {float64: {atol: 0.5}}}}
        d: {atol: -1}
        """)
    v = s.doc.value
    # a flat tolerance is every dtype's
    assert s.tolerance(v["a"]) == ({dt: {"atol": 1e-6} for dt in catalog.DTYPES}, {})
    assert s.tolerance(v["b"]) == ({"float32": {"rtol": 1e-4}}, {})
    assert s.tolerance(v["c"]) == ({dt: {"rtol": 1e-8} for dt in catalog.DTYPES},
                                   {"jax": {"float64": {"atol": 0.5}}})
    assert s.problems == []
    s.tolerance(v["d"])
    assert [p.message for p in s.problems] == ["expected a number ≥ 0, found -1.0"]


@pytest.mark.parametrize("value,parsed,problem", [
    ("[1]", (1,), None), ("[2, 1]", (1, 2), None),
    ("[3]", (1,), "expected [1] or [1, 2] (2 adds Hessian-vector products), found [a number (3)]"),
])
def test_orders(value, parsed, problem):
    s = sections(f"orders: {value}\n")
    assert s.orders(s.doc.value["orders"]) == parsed
    assert [p.message for p in s.problems] == ([problem] if problem else [])


def test_case_name_defaults_to_the_file_stem_and_must_be_one_word():
    s = sections("description: x\n", file="cases/sigmoid-neuron.yaml")
    assert s.case_name(s.doc.value) == "sigmoid-neuron"
    s = sections("name: two words\n")
    assert s.case_name(s.doc.value) == "two words"
    assert s.problems[0].field == "name"
    assert s.problems[0].message.startswith("expected one line of letters, digits and _ . + ~ -")


def test_frameworks():
    s = sections("frameworks: all\n")
    assert s.framework_list(s.doc.value["frameworks"]) is None
    s = sections("frameworks: [torch, jax]\n")
    assert s.framework_list(s.doc.value["frameworks"]) == ("torch", "jax")
    assert s.problems == [] and s.warnings == []


def test_a_framework_name_like_an_installed_one_is_a_typo():
    s = sections("name: x\nframeworks:\n  - torch\n  - trch\n")
    assert s.framework_list(s.doc.value["frameworks"]) == ("torch",)
    assert messages(s) == [(4, "frameworks[1]", "unknown framework 'trch'; valid: numpy, torch, "
                                                "jax, micrograd; did you mean 'torch'?")]


def test_a_framework_name_like_no_installed_one_is_a_plug_in_installed_elsewhere():
    s = sections("frameworks: [autograd]\n")
    assert s.framework_list(s.doc.value["frameworks"]) == ("autograd",)
    assert s.problems == []
    assert s.warnings == ["frameworks[0]: framework 'autograd' is not installed here (numpy, "
                          "torch, jax, micrograd); it applies where it is"]


def test_finite_differences():
    s = sections("a: {samples: 8}\nb: {richardson: no}\nc: {samples: 0}\n")
    v = s.doc.value
    assert s.finite_differences(v["a"]) == {"samples": 8, "richardson": True}
    assert s.finite_differences(v["b"]) == {"samples": 64, "richardson": False}
    assert s.problems == []
    assert s.finite_differences(v["c"])["samples"] == 64
    assert [(p.field, p.message) for p in s.problems] == [
        ("finite_differences.samples", "expected an integer ≥ 1, found 0")]


def test_tags():
    s = sections("a: [golden, seed]\nb: golden\n")
    assert s.tags(s.doc.value["a"]) == ("golden", "seed")
    assert s.tags(s.doc.value["b"]) == ()
    assert messages(s) == [(1, "tags", "expected a list of strings, found a string ('golden')")]
