"""micrograd's own optimizers (harness/adapters/micrograd_optim.py), checked without the reference.

Each runs three steps on a few micrograd Values with fixed gradients; the expected numbers are
worked by hand or by a direct formula written out here, never by harness/adapters/numpy_optim.py. Last, a
bug planted in the reference's optimizer must move the reference's parameters and not micrograd's.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("micrograd")
from micrograd.engine import Value  # noqa: E402

from harness.format import catalog  # noqa: E402
from harness.adapters.micrograd_optim import make  # noqa: E402
from harness.format.case import OptimizerSpec as Spec  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
START = [1.0, -2.0, 0.5]
# the gradient of each Value at steps 1, 2, 3 (the same list for every Value, scaled per Value)
GRADS = [0.5, -0.25, 0.125]
SCALE = [1.0, -3.0, 0.0]  # the third Value sees a zero gradient throughout


def spec(name: str, **settings) -> Spec:
    return Spec(name, catalog.settings_with_defaults(settings, catalog.OPTIMIZERS[name]))


def run(name: str, **settings) -> list[list[float]]:
    """Three steps; the data of every Value after each step."""
    params = [Value(x) for x in START]
    optimizer, out = make(spec(name, **settings), params), []
    for g in GRADS:
        for p, k in zip(params, SCALE):
            p.grad = g * k
        optimizer.step()
        out.append([p.data for p in params])
    return out


def reference(update, state_init) -> list[list[float]]:
    """Each Value on its own through ``update(p, g, state, t) -> p`` (a formula of this test)."""
    columns = []
    for x, k in zip(START, SCALE):
        p, state, col = x, state_init(), []
        for t, g in enumerate(GRADS, start=1):
            p = update(p, g * k, state, t)
            col.append(p)
        columns.append(col)
    return [list(row) for row in zip(*columns)]


def approx(rows):
    return [pytest.approx(r, abs=1e-14, rel=1e-14, nan_ok=True) for r in rows]


# --- sgd ---------------------------------------------------------------------------------------

def test_sgd_plain_by_hand():
    # p ← p − 0.1·g: 1 − 0.05 = 0.95, + 0.025 = 0.975, − 0.0125 = 0.9625 (the first Value)
    got = run("sgd", lr=0.1)
    assert [row[0] for row in got] == pytest.approx([0.95, 0.975, 0.9625], abs=1e-15)
    assert [row[2] for row in got] == [0.5, 0.5, 0.5]  # zero gradient: never moves


def test_sgd_momentum_dampening_weight_decay_by_hand():
    # first Value, lr 0.1, momentum 0.9, dampening 0.5, weight decay 0.1:
    # 1: g = 0.5 + 0.1 = 0.6; b = 0.6 (undamped); p = 1 − 0.06 = 0.94
    # 2: g = −0.25 + 0.094 = −0.156; b = 0.54 − 0.078 = 0.462; p = 0.94 − 0.0462 = 0.8938
    # 3: g = 0.125 + 0.08938 = 0.21438; b = 0.4158 + 0.10719 = 0.52299; p = 0.8938 − 0.052299
    got = run("sgd", lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)
    assert [row[0] for row in got] == pytest.approx([0.94, 0.8938, 0.841501], abs=1e-14)


def test_sgd_nesterov_by_hand():
    # first Value, lr 0.1, momentum 0.9:
    # 1: b = 0.5; g = 0.5 + 0.45 = 0.95; p = 0.905
    # 2: b = 0.45 − 0.25 = 0.2; g = −0.25 + 0.18 = −0.07; p = 0.912
    # 3: b = 0.18 + 0.125 = 0.305; g = 0.125 + 0.2745 = 0.3995; p = 0.912 − 0.03995 = 0.87205
    got = run("sgd", lr=0.1, momentum=0.9, nesterov=True)
    assert [row[0] for row in got] == pytest.approx([0.905, 0.912, 0.87205], abs=1e-14)


@pytest.mark.parametrize("settings", [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.8, "dampening": 0.3},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.2},
    {"lr": 0.05, "weight_decay": 0.5},
])
def test_sgd_against_formula(settings):
    s = catalog.settings_with_defaults(settings, catalog.OPTIMIZERS["sgd"])

    def update(p, g, state, t):
        g = g + s["weight_decay"] * p
        if s["momentum"]:
            state["b"] = g if t == 1 else s["momentum"] * state["b"] + (1 - s["dampening"]) * g
            g = g + s["momentum"] * state["b"] if s["nesterov"] else state["b"]
        return p - s["lr"] * g

    assert run("sgd", **settings) == approx(reference(update, dict))


# --- adam, adamw -------------------------------------------------------------------------------

def test_adam_by_hand():
    # first Value, lr 0.1: m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25
    p1 = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
    # m = 0.045 − 0.025 = 0.02; v = 0.00024975 + 0.0000625 = 0.00031225
    p2 = p1 - 0.1 * (0.02 / 0.19) / (math.sqrt(0.00031225 / (1 - 0.999 ** 2)) + 1e-8)
    # m = 0.018 + 0.0125 = 0.0305; v = 0.00031193775 + 0.000015625 = 0.00032756275
    p3 = p2 - 0.1 * (0.0305 / (1 - 0.9 ** 3)) / (
        math.sqrt(0.00032756275 / (1 - 0.999 ** 3)) + 1e-8)
    got = run("adam", lr=0.1)
    assert [row[0] for row in got] == pytest.approx([p1, p2, p3], abs=1e-14)
    assert [row[2] for row in got] == [0.5, 0.5, 0.5]  # m = 0: no step, no division by zero


def test_adam_amsgrad_keeps_the_raw_maximum_by_hand():
    # beta2 = 0.5, first Value: v1 = 0.125, v2 = 0.0625 + 0.03125 = 0.09375 < v1,
    # v3 = 0.046875 + 0.0078125 = 0.0546875 < v1: steps 2 and 3 use v_max = v1 = 0.125
    m1, m2, m3 = 0.05, 0.02, 0.0305
    p1 = 1 - 0.1 * (m1 / 0.1) / (math.sqrt(0.125 / 0.5) + 1e-8)
    p2 = p1 - 0.1 * (m2 / 0.19) / (math.sqrt(0.125 / 0.75) + 1e-8)
    p3 = p2 - 0.1 * (m3 / 0.271) / (math.sqrt(0.125 / 0.875) + 1e-8)
    got = run("adam", lr=0.1, beta2=0.5, amsgrad=True)
    assert [row[0] for row in got] == pytest.approx([p1, p2, p3], abs=1e-14)
    # without amsgrad the falling v is used as it is: a different trajectory
    assert run("adam", lr=0.1, beta2=0.5)[1][0] != pytest.approx(p2, abs=1e-6)


def test_adam_l2_versus_adamw_decoupled_by_hand():
    # adam: g = 0.5 + 0.1·1 = 0.6 joins the moments, m̂/√v̂ = 0.6/0.6
    assert run("adam", lr=0.1, weight_decay=0.1)[0][0] == pytest.approx(
        1 - 0.1 * 0.6 / (0.6 + 1e-8), abs=1e-15)
    # adamw: p·(1 − 0.01) first, then the plain step from g = 0.5
    assert run("adamw", lr=0.1, weight_decay=0.1)[0][0] == pytest.approx(
        0.99 - 0.1 * 0.5 / (0.5 + 1e-8), abs=1e-15)
    # a zero gradient still decays under adamw: 0.5·0.99^t
    assert [row[2] for row in run("adamw", lr=0.1, weight_decay=0.1)] == pytest.approx(
        [0.5 * 0.99, 0.5 * 0.99 ** 2, 0.5 * 0.99 ** 3], abs=1e-15)


@pytest.mark.parametrize("name,settings", [
    ("adam", {"lr": 0.1}),
    ("adam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.9, "eps": 1e-6}),
    ("adam", {"lr": 0.05, "beta2": 0.5, "amsgrad": True}),
    ("adam", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True, "beta2": 0.6}),
    ("adamw", {"lr": 0.05}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True, "beta2": 0.5}),
])
def test_adam_against_formula(name, settings):
    s = catalog.settings_with_defaults(settings, catalog.OPTIMIZERS[name])

    def update(p, g, state, t):
        if name == "adamw":
            p = p - s["lr"] * s["weight_decay"] * p
        else:
            g = g + s["weight_decay"] * p
        state["m"] = s["beta1"] * state["m"] + (1 - s["beta1"]) * g
        state["v"] = s["beta2"] * state["v"] + (1 - s["beta2"]) * g ** 2
        state["vmax"] = max(state["vmax"], state["v"])
        v = state["vmax"] if s["amsgrad"] else state["v"]
        m_hat, v_hat = state["m"] / (1 - s["beta1"] ** t), v / (1 - s["beta2"] ** t)
        return p - s["lr"] * m_hat / (v_hat ** 0.5 + s["eps"])

    assert run(name, **settings) == approx(reference(update, lambda: dict(m=0.0, v=0.0, vmax=0.0)))


# --- rmsprop -----------------------------------------------------------------------------------

def test_rmsprop_by_hand():
    # first Value, lr 0.01, alpha 0.99: v1 = 0.0025; v2 = 0.002475 + 0.000625 = 0.0031;
    # v3 = 0.003069 + 0.00015625 = 0.00322525; eps outside the root
    p1 = 1 - 0.01 * 0.5 / (0.05 + 1e-8)
    p2 = p1 + 0.01 * 0.25 / (math.sqrt(0.0031) + 1e-8)
    p3 = p2 - 0.01 * 0.125 / (math.sqrt(0.00322525) + 1e-8)
    assert [row[0] for row in run("rmsprop", lr=0.01)] == pytest.approx([p1, p2, p3], abs=1e-14)


def test_rmsprop_centered_with_momentum_by_hand():
    # first Value, lr 0.01, alpha 0.99, momentum 0.5, centered:
    # v as above; mean1 = 0.005, mean2 = 0.00495 − 0.0025 = 0.00245,
    # mean3 = 0.0024255 + 0.00125 = 0.0036755; b starts at 0 so b1 = u1
    u1 = 0.5 / (math.sqrt(0.0025 - 0.005 ** 2) + 1e-8)
    u2 = -0.25 / (math.sqrt(0.0031 - 0.00245 ** 2) + 1e-8)
    u3 = 0.125 / (math.sqrt(0.00322525 - 0.0036755 ** 2) + 1e-8)
    b1 = u1
    b2 = 0.5 * b1 + u2
    b3 = 0.5 * b2 + u3
    p1 = 1 - 0.01 * b1
    p2 = p1 - 0.01 * b2
    p3 = p2 - 0.01 * b3
    got = run("rmsprop", lr=0.01, centered=True, momentum=0.5)
    assert [row[0] for row in got] == pytest.approx([p1, p2, p3], abs=1e-12)


@pytest.mark.parametrize("settings", [
    {"lr": 0.01},
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-6},
    {"lr": 0.01, "momentum": 0.5},
    {"lr": 0.01, "centered": True},
    {"lr": 0.005, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.01},
    {"lr": 0.01, "weight_decay": 0.3},
])
def test_rmsprop_against_formula(settings):
    s = catalog.settings_with_defaults(settings, catalog.OPTIMIZERS["rmsprop"])

    def update(p, g, state, t):
        g = g + s["weight_decay"] * p
        state["v"] = s["alpha"] * state["v"] + (1 - s["alpha"]) * g ** 2
        state["mean"] = s["alpha"] * state["mean"] + (1 - s["alpha"]) * g
        var = state["v"] - state["mean"] ** 2 if s["centered"] else state["v"]
        u = g / (var ** 0.5 + s["eps"])
        state["b"] = s["momentum"] * state["b"] + u
        return p - s["lr"] * (state["b"] if s["momentum"] else u)

    assert run("rmsprop", **settings) == approx(
        reference(update, lambda: dict(v=0.0, mean=0.0, b=0.0)))


def test_every_catalog_optimizer_is_written():
    for name in catalog.OPTIMIZERS:
        rows = run(name, lr=0.01)
        assert len(rows) == 3 and rows[-1][0] != START[0]


def test_module_shares_no_code_with_the_reference():
    import harness.adapters.micrograd_optim as module

    source = Path(module.__file__).read_text()
    assert "import numpy" not in source and "numpy_optim import" not in source
    import harness.adapters.micrograd_adapter as adapter
    assert "numpy_optim" not in Path(adapter.__file__).read_text()


# --- a bug planted in the reference's optimizer --------------------------------------------------

def test_planted_reference_bug_does_not_pass_micrograd(monkeypatch):
    import harness.adapters
    from harness.adapters.micrograd_adapter import MicrogradAdapter
    from harness.adapters.numpy_ref import NumpyAdapter
    from harness.format.loader import load_cases
    from harness.adapters.numpy_optim import NumpyOptimizer as Optimizer

    [case] = load_cases([ROOT / "cases" / "golden" / "sigmoid-neuron.yaml"],
                        harness.adapters.adapter_names())
    assert case.optimizer.name == "sgd"
    case64, inputs = case.for_dtype("float64"), case.inputs("float64")

    def params(trace):
        return {k: v.copy() for k, v in trace.steps[-1].params.items()}

    numpy_before = params(NumpyAdapter().run(case64, inputs))
    micrograd_before = params(MicrogradAdapter().run(case64, inputs))
    for k in numpy_before:  # without the bug both agree
        assert micrograd_before[k] == pytest.approx(numpy_before[k], abs=1e-12)

    right = Optimizer._sgd

    def wrong(self, name, p, g):  # the sign bug: climbs the gradient instead of descending
        return right(self, name, p, g) + 2 * self.s["lr"] * g
    monkeypatch.setattr(Optimizer, "_sgd", wrong)

    numpy_after = params(NumpyAdapter().run(case64, case.inputs("float64")))
    micrograd_after = params(MicrogradAdapter().run(case64, case.inputs("float64")))
    assert any(abs(numpy_after[k] - numpy_before[k]).max() > 1e-4 for k in numpy_before)
    for k in micrograd_before:
        assert (micrograd_after[k] == micrograd_before[k]).all()
