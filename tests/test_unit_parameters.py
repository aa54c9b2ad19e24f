"""Unit tests of harness.format.parameters: explicit tensors, init schemes (shape, bounds,
seeds, one stream per tensor) and the sizes a network asks for."""
from __future__ import annotations

import math
import textwrap
from dataclasses import replace

import numpy as np
import pytest

from harness.format.case import Layer
from harness.format.limits import DEFAULTS
from harness.format.parameters import Parameters
from harness.format.yamlsafe import load_yaml

NAMES = ["numpy", "torch", "jax", "micrograd"]
LAYERS = (Layer(3, "tanh"), Layer(2, "identity"))  # fed 4 features
SHAPES = {"layers.0.weight": (3, 4), "layers.0.bias": (3,), "layers.1.weight": (2, 3),
          "layers.1.bias": (2,)}


def reader(text: str = "{}\n", limits=DEFAULTS) -> Parameters:
    doc, problems = load_yaml(textwrap.dedent(text), "unit.yaml")
    assert doc is not None and problems == []
    return Parameters(doc, NAMES, limits)


def draw(init_text: str | None, params_text: str = "{}", layers=LAYERS, features: int = 4):
    text = f"params: {params_text}\n" + (f"init: {init_text}\n" if init_text else "")
    r = reader(text)
    params = r.initial_params(r.doc.value["params"], r.doc.value.get("init"), layers, features)
    return params, r


def test_the_default_scheme_is_xavier_uniform_seed_0_with_zero_biases():
    r = reader()
    assert r.init_spec(None) == (("xavier_uniform", {}, 0), ("zeros", {}, 0))
    default, _ = draw(None)
    explicit, _ = draw("{scheme: xavier_uniform, seed: 0}")
    assert {k: v.tolist() for k, v in default.items()} == \
        {k: v.tolist() for k, v in explicit.items()}


def test_xavier_uniform_shapes_and_bounds():
    params, r = draw("{scheme: xavier_uniform, seed: 11}")
    assert r.problems == []
    assert {k: v.shape for k, v in params.items()} == SHAPES
    assert list(params) == list(SHAPES)  # canonical order: weight, then bias, per layer
    # bound sqrt(6 / (fan_in + fan_out)): layer 0 is 4 → 3, layer 1 is 3 → 2
    assert np.abs(params["layers.0.weight"]).max() <= math.sqrt(6 / 7)
    assert np.abs(params["layers.1.weight"]).max() <= math.sqrt(6 / 5)
    assert np.all(params["layers.0.bias"] == 0) and np.all(params["layers.1.bias"] == 0)
    assert all(v.dtype == np.float64 for v in params.values())


def test_a_seed_is_reproducible_and_another_seed_differs():
    a, _ = draw("{scheme: xavier_normal, seed: 5}")
    b, _ = draw("{scheme: xavier_normal, seed: 5}")
    c, _ = draw("{scheme: xavier_normal, seed: 6}")
    np.testing.assert_array_equal(a["layers.0.weight"], b["layers.0.weight"])
    assert not np.array_equal(a["layers.0.weight"], c["layers.0.weight"])


def test_each_tensor_has_its_own_stream():
    """Giving one tensor explicitly changes no other drawn tensor."""
    drawn, _ = draw("{scheme: normal, std: 0.5, seed: 3, bias: {scheme: normal, std: 0.1}}")
    given, r = draw("{scheme: normal, std: 0.5, seed: 3, bias: {scheme: normal, std: 0.1}}",
                    "{layers.0.weight: [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]}")
    assert r.problems == []
    assert given["layers.0.weight"].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    for name in ("layers.0.bias", "layers.1.weight", "layers.1.bias"):
        np.testing.assert_array_equal(given[name], drawn[name])
    assert np.all(drawn["layers.0.bias"] != 0)  # the bias scheme applied


def test_normal_with_its_std_and_mean():
    params, _ = draw("{scheme: normal, mean: 100.0, std: 0.01, seed: 0}", layers=(Layer(50, "tanh"),),
                     features=20)
    w = params["layers.0.weight"]
    assert w.shape == (50, 20)
    assert abs(w.mean() - 100.0) < 0.01 and 0.008 < w.std() < 0.012


def test_uniform_within_its_range_and_zeros():
    params, _ = draw("{scheme: uniform, low: 2.0, high: 3.0, seed: 1, bias: zeros}")
    assert all(np.all((2.0 <= v) & (v < 3.0)) for k, v in params.items() if "weight" in k)
    params, _ = draw("{scheme: zeros, seed: 0}")
    assert all(np.all(v == 0) for v in params.values())


@pytest.mark.parametrize("init,field,message", [
    ("{scheme: normal, seed: 0}", "init", "missing required key 'std'"),
    ("{scheme: xavier_uniform}", "init", "missing required key 'seed'"),
    ("{scheme: uniform, low: 1.0, high: 1.0, seed: 0}", "init",
     "expected low < high, found 1.0 ≥ 1.0"),
    ("{scheme: xavier, seed: 0}", "init.scheme", "unknown init scheme 'xavier'"),
    ("{scheme: normal, std: -1, seed: 0}", "init.std", "expected"),
    ("{scheme: zeros, seed: -2}", "init.seed", "expected an integer ≥ 0, found -2"),
    ("{scheme: zeros, seed: 0, bias: {scheme: normal}}", "init.bias",
     "missing required key 'std'"),
    ("xavier_uniform", "init", "expected a mapping like {scheme: xavier_uniform, seed: 0}, found "
                               "a string ('xavier_uniform')"),
])
def test_init_problems(init, field, message):
    params, r = draw(init)
    assert params is None
    assert [p.field for p in r.problems] == [field]
    assert message in r.problems[0].message
    assert r.problems[0].line == 2


def test_an_explicit_tensor_of_the_wrong_shape_or_name():
    params, r = draw(None, "{layers.0.weight: [[1, 2, 3]], layers.2.bias: [0]}")
    assert [(p.field, p.message) for p in r.problems] == [
        ("params.layers.2.bias", "unknown key 'layers.2.bias'; valid: layers.0.weight, "
                                 "layers.0.bias, layers.1.weight, layers.1.bias; did you mean "
                                 "'layers.1.bias'?"),
        ("params.layers.0.weight", "expected shape (3, 4) (units, fan_in), found (1, 3)")]
    assert params["layers.0.weight"].shape == (3, 4)  # drawn instead, for further checks


def test_network_size_within_and_over_the_limits():
    r = reader()
    assert r.network_size(LAYERS, (5, 4)) is True  # 3·4 + 3 + 2·3 + 2 = 23 parameters
    assert r.problems == []
    r = reader(limits=replace(DEFAULTS, max_parameters=22))
    assert r.network_size(LAYERS, (5, 4)) is False
    assert [p.field for p in r.problems] == ["network"]
    assert r.problems[0].message.startswith("expected at most 22 parameters (weights and biases "
                                            "together), found 23: over the limit max_parameters")
    r = reader(limits=replace(DEFAULTS, max_tensor_elements=14))  # layer 0's output: 5·3 = 15
    assert r.network_size(LAYERS, (5, 4)) is False
    assert [p.field for p in r.problems] == ["network[0].units"]
    assert "in layer 0's output (5, 3) (batch, units)" in r.problems[0].message
