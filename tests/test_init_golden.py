"""Golden values for the init recipe, computed here from the README's own words.

Cross-framework comparison cannot see a wrong initial parameter: every framework starts from the
same tensors, so a he_normal that takes fan_out for fan_in, or a bias drawn from its weight's
stream, conforms everywhere. These tests recompute every tensor from the documented recipe
("Initial parameters" in the README) and compare; the last ones plant exactly those bugs and
check that the comparison helpers report them.

The recipe: each tensor has its own stream, ``numpy.random.default_rng([seed, layer, 0])`` for a
weight (shape (units, fan_in)) and ``[seed, layer, 1]`` for a bias (shape (units,)); fan_in is the
layer's inputs and fan_out its units.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import harness.format.parameters
import harness.format.seeded
import harness.format.loader

SEED = 7
FEATURES = 3          # fan_in of layer 0
UNITS = (7, 2)        # non-square everywhere: layer 0 is 7×3, layer 1 is 2×7


# -- the recipe, written out independently of harness/format/seeded.py -----------------------------------
def recipe_tensor(scheme: str, settings: dict, shape: tuple[int, ...], fan_in: int, fan_out: int,
                  rng: np.random.Generator) -> np.ndarray:
    if scheme == "zeros":
        return np.zeros(shape)
    if scheme == "xavier_uniform":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape)
    if scheme == "xavier_normal":
        return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), shape)
    if scheme == "he_normal":
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
    if scheme == "normal":
        return rng.normal(settings.get("mean", 0.0), settings["std"], shape)
    if scheme == "uniform":
        return rng.uniform(settings["low"], settings["high"], shape)
    raise AssertionError(f"the test has no recipe for {scheme!r}")


def recipe_params(seed: int, weight: tuple[str, dict], bias: tuple[str, dict] | None,
                  features: int, units: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Every tensor as the README describes it; ``bias`` None means the default, zeros."""
    out = {}
    fan_in = features
    for layer, fan_out in enumerate(units):
        scheme, settings = weight
        out[f"layers.{layer}.weight"] = recipe_tensor(
            scheme, settings, (fan_out, fan_in), fan_in, fan_out,
            np.random.default_rng([seed, layer, 0]))
        scheme, settings = bias or ("zeros", {})
        out[f"layers.{layer}.bias"] = recipe_tensor(
            scheme, settings, (fan_out,), fan_in, fan_out,
            np.random.default_rng([seed, layer, 1]))
        fan_in = fan_out
    return out


# -- case files ----------------------------------------------------------------------------------
def init_yaml(seed: int | None, weight: tuple[str, dict] | None,
              bias: tuple[str, dict] | None) -> str:
    if weight is None:
        return ""  # the default: xavier_uniform, seed 0, zero biases
    spec = {"scheme": weight[0], "seed": seed, **weight[1]}
    if bias is not None:
        spec["bias"] = {"scheme": bias[0], **bias[1]}
    return f"init: {json.dumps(spec)}\n"


def case_yaml(init: str, units: tuple[int, ...] = UNITS, features: int = FEATURES,
              params: dict[str, list] | None = None) -> str:
    layers = "".join(f"  - {{units: {u}, activation: tanh}}\n" for u in units[:-1])
    layers += f"  - {{units: {units[-1]}, activation: identity}}\n"
    explicit = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in (params or {}).items())
    return ("name: init-golden\n"
            "network:\n" + layers + init
            + ("params:\n" + explicit if explicit else "")
            + f"data:\n  x: {{random: normal, shape: [4, {features}], seed: 1}}\n"
            "loss: sum\n"
            "optimizer: {name: sgd, lr: 0.1}\n")


def loaded(load, text: str):
    case, problems = load(text)
    assert problems == [] and case is not None, problems
    return case


# -- the comparisons, shared by the real tests and the planted-bug tests ------------------------
def golden_mismatches(case, seed: int, weight: tuple[str, dict], bias: tuple[str, dict] | None,
                      features: int = FEATURES, units: tuple[int, ...] = UNITS) -> list[str]:
    """One line per tensor of ``case.initial_params`` that differs from the recipe."""
    expected = recipe_params(seed, weight, bias, features, units)
    got = case.initial_params
    problems = []
    if set(got) != set(expected):
        problems.append(f"tensor names {sorted(got)} != {sorted(expected)}")
    for name in sorted(set(got) & set(expected)):
        g, e = np.asarray(got[name]), expected[name]
        if g.shape != e.shape:
            problems.append(f"{name}: shape {g.shape} != {e.shape}")
        elif g.dtype != np.float64:
            problems.append(f"{name}: dtype {g.dtype}, not float64")
        elif not np.allclose(g, e, rtol=1e-12, atol=0.0):
            problems.append(f"{name}: max |diff| {np.max(np.abs(g - e)):.3g}")
    return problems


def he_std_problems(case, fan_in: int, fan_out: int) -> list[str]:
    """layers.0.weight drawn he_normal: sample std ≈ √(2/fan_in), clearly not √(2/fan_out)."""
    w = case.initial_params["layers.0.weight"]
    std, mean = float(w.std()), float(w.mean())
    want, wrong = math.sqrt(2.0 / fan_in), math.sqrt(2.0 / fan_out)
    problems = []
    # 20,000 draws: the sample std's relative standard error is 1/√(2n) = 0.5%
    if abs(std / want - 1) > 0.03:
        problems.append(f"std {std:.5f} is not within 3% of sqrt(2/fan_in) = {want:.5f}")
    if abs(std / wrong - 1) < 0.5:
        problems.append(f"std {std:.5f} is near sqrt(2/fan_out) = {wrong:.5f}")
    if abs(mean) > 4 * want / math.sqrt(w.size):
        problems.append(f"mean {mean:.5f} is not near 0")
    return problems


def stream_problems(case, units: tuple[int, ...] = UNITS) -> list[str]:
    """With weights and biases both drawn uniform(-1, 1), a bias sharing its weight's stream
    would equal the weight's first values, and layers sharing a stream would repeat each other."""
    p = case.initial_params
    problems = []
    for layer, n in enumerate(units):
        w, b = p[f"layers.{layer}.weight"].ravel(), p[f"layers.{layer}.bias"]
        if np.allclose(b, w[:n]):
            problems.append(f"layers.{layer}.bias repeats layers.{layer}.weight's stream")
    w0, w1 = p["layers.0.weight"].ravel(), p["layers.1.weight"].ravel()
    if np.allclose(w0[:w1.size], w1):
        problems.append("layers.1.weight repeats layers.0.weight's stream")
    return problems


UNIFORM = ("uniform", {"low": -1.0, "high": 1.0})


def explicit_changes(load, given: str) -> list[str]:
    """Give ``given`` explicitly: it must be taken as written and no other tensor may move."""
    init = init_yaml(SEED, ("xavier_normal", {}), UNIFORM)
    drawn = loaded(load, case_yaml(init)).initial_params
    value = np.full(drawn[given].shape, 0.125)
    with_given = loaded(load, case_yaml(init, params={given: value.tolist()})).initial_params
    problems = []
    if not np.array_equal(with_given[given], value):
        problems.append(f"{given} is not the value given")
    for name in sorted(drawn):
        if name != given and not np.array_equal(with_given[name], drawn[name]):
            problems.append(f"{name} moved when {given} was given")
    return problems


# -- the real tests ------------------------------------------------------------------------------
WEIGHT_SCHEMES = [
    ("xavier_uniform", {}),
    ("xavier_normal", {}),
    ("he_normal", {}),
    ("normal", {"std": 0.3, "mean": 0.5}),
    ("normal", {"std": 0.2}),          # mean defaults to 0
    ("uniform", {"low": -0.2, "high": 0.7}),
    ("zeros", {}),
]
BIAS_SCHEMES = [
    None,                               # the default: zeros
    ("uniform", {"low": -0.1, "high": 0.3}),
    ("normal", {"std": 0.05, "mean": 0.01}),
]


@pytest.mark.parametrize("weight", WEIGHT_SCHEMES, ids=lambda w: w[0] + "-" + "-".join(w[1]))
def test_weight_scheme_matches_recipe(load, weight):
    case = loaded(load, case_yaml(init_yaml(SEED, weight, None)))
    assert golden_mismatches(case, SEED, weight, None) == []


@pytest.mark.parametrize("bias", BIAS_SCHEMES[1:], ids=lambda b: b[0])
@pytest.mark.parametrize("weight", [("he_normal", {}), ("xavier_uniform", {})],
                         ids=lambda w: w[0])
def test_bias_scheme_matches_recipe(load, weight, bias):
    case = loaded(load, case_yaml(init_yaml(SEED, weight, bias)))
    assert golden_mismatches(case, SEED, weight, bias) == []


def test_default_init_is_xavier_uniform_seed_0_with_zero_biases(load):
    case = loaded(load, case_yaml(init_yaml(None, None, None)))
    assert golden_mismatches(case, 0, ("xavier_uniform", {}), None) == []
    assert all(not case.initial_params[f"layers.{i}.bias"].any() for i in range(len(UNITS)))


def test_seed_changes_every_drawn_tensor(load):
    a = loaded(load, case_yaml(init_yaml(SEED, UNIFORM, UNIFORM))).initial_params
    b = loaded(load, case_yaml(init_yaml(SEED + 1, UNIFORM, UNIFORM))).initial_params
    assert all(not np.allclose(a[k], b[k]) for k in a)


def test_he_normal_std_follows_fan_in(load):
    case = loaded(load, case_yaml(init_yaml(SEED, ("he_normal", {}), None), units=(50, 10),
                                  features=400))
    assert he_std_problems(case, fan_in=400, fan_out=50) == []


@pytest.mark.parametrize("given", ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                   "layers.1.bias"])
def test_one_explicit_tensor_moves_no_other(load, given):
    assert explicit_changes(load, given) == []


def test_weight_bias_and_layer_streams_differ(load):
    case = loaded(load, case_yaml(init_yaml(SEED, UNIFORM, UNIFORM)))
    assert stream_problems(case) == []


# -- planted bugs: each helper above must report them --------------------------------------------
def plant(monkeypatch, name: str, replacement) -> None:
    """Replace ``harness.format.seeded.<name>``. The loader's section parsers imported the function by
    name (``from ..seeded import …``, in harness.format.parameters), so that binding is replaced too, or the plant would never
    run."""
    monkeypatch.setattr(harness.format.seeded, name, replacement)
    monkeypatch.setattr(harness.format.parameters, name, replacement)


def plant_he_normal_fan_out(monkeypatch):
    real = harness.format.seeded.init_tensor

    def init_tensor(scheme, settings, shape, fan_in, fan_out, rng):
        if scheme == "he_normal":  # planted: √(2/fan_out)
            return real(scheme, settings, shape, fan_out, fan_in, rng)
        return real(scheme, settings, shape, fan_in, fan_out, rng)
    plant(monkeypatch, "init_tensor", init_tensor)


def plant_bias_uses_weight_stream(monkeypatch):
    real = harness.format.seeded.tensor_rng
    plant(monkeypatch, "tensor_rng", lambda seed, layer, kind: real(seed, layer, "weight"))


def plant_one_stream_per_layer_kind(monkeypatch):
    real = harness.format.seeded.tensor_rng
    plant(monkeypatch, "tensor_rng", lambda seed, layer, kind: real(seed, 0, kind))


def plant_one_stream_for_all(monkeypatch):
    """One generator for the whole model, restarted at layer 0's weight: giving an earlier
    tensor explicitly shifts every later one."""
    shared = {}

    def tensor_rng(seed, layer, kind):
        if (layer, kind) == (0, "weight") or seed not in shared:
            shared[seed] = np.random.default_rng(seed)
        return shared[seed]
    plant(monkeypatch, "tensor_rng", tensor_rng)


def test_planted_he_normal_fan_out_is_caught(monkeypatch, load):
    plant_he_normal_fan_out(monkeypatch)
    case = loaded(load, case_yaml(init_yaml(SEED, ("he_normal", {}), None)))
    mismatches = golden_mismatches(case, SEED, ("he_normal", {}), None)
    assert {m.split(":")[0] for m in mismatches} == {"layers.0.weight", "layers.1.weight"}
    big = loaded(load, case_yaml(init_yaml(SEED, ("he_normal", {}), None), units=(50, 10),
                                 features=400))
    assert len(he_std_problems(big, fan_in=400, fan_out=50)) == 2  # off, and near fan_out's
    # xavier uses fan_in + fan_out, which a swap cannot change: the plant touches he_normal only
    other = loaded(load, case_yaml(init_yaml(SEED, ("xavier_normal", {}), None)))
    assert golden_mismatches(other, SEED, ("xavier_normal", {}), None) == []


def test_planted_bias_on_weight_stream_is_caught(monkeypatch, load):
    plant_bias_uses_weight_stream(monkeypatch)
    bias = ("uniform", {"low": -0.1, "high": 0.3})
    case = loaded(load, case_yaml(init_yaml(SEED, ("he_normal", {}), bias)))
    mismatches = golden_mismatches(case, SEED, ("he_normal", {}), bias)
    assert {m.split(":")[0] for m in mismatches} == {"layers.0.bias", "layers.1.bias"}
    same = loaded(load, case_yaml(init_yaml(SEED, UNIFORM, UNIFORM)))
    assert stream_problems(same) == [f"layers.{i}.bias repeats layers.{i}.weight's stream"
                                     for i in range(len(UNITS))]


def test_planted_layers_sharing_a_stream_is_caught(monkeypatch, load):
    plant_one_stream_per_layer_kind(monkeypatch)
    case = loaded(load, case_yaml(init_yaml(SEED, UNIFORM, UNIFORM)))
    mismatches = golden_mismatches(case, SEED, UNIFORM, UNIFORM)
    assert {m.split(":")[0] for m in mismatches} == {"layers.1.weight", "layers.1.bias"}
    assert "layers.1.weight repeats layers.0.weight's stream" in stream_problems(case)


def test_planted_single_stream_is_caught(monkeypatch, load):
    plant_one_stream_for_all(monkeypatch)
    moved = explicit_changes(load, "layers.0.bias")
    assert moved == ["layers.1.bias moved when layers.0.bias was given",
                     "layers.1.weight moved when layers.0.bias was given"]
    case = loaded(load, case_yaml(init_yaml(SEED, UNIFORM, UNIFORM)))
    assert len(golden_mismatches(case, SEED, UNIFORM, UNIFORM)) == 3  # all but layers.0.weight
