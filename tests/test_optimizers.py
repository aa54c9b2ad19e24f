"""Each optimizer of the reference against a step worked by hand from the catalog's definition.

One parameter p = 1.0 and gradients 0.5 then -0.25, so every number below can be checked on paper.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from harness.format import catalog
from harness.format.case import OptimizerSpec as Spec
from harness.adapters.numpy_optim import NumpyOptimizer as Optimizer

GRADS = [0.5, -0.25]


def run(name: str, **settings) -> list[float]:
    spec = Spec(name, catalog.settings_with_defaults(settings, catalog.OPTIMIZERS[name]))
    optimizer, p, out = Optimizer(spec), {"w": np.array([1.0])}, []
    for g in GRADS:
        p = optimizer.step(p, {"w": np.array([g])})
        out.append(float(p["w"][0]))
    return out


def test_sgd_plain():
    assert run("sgd", lr=0.1) == pytest.approx([1 - 0.05, 0.95 + 0.025], abs=1e-15)


def test_sgd_momentum_dampening_weight_decay():
    # step 1: g = 0.5 + 0.1·1 = 0.6; b = g (undamped at the first step); p = 1 − 0.1·0.6 = 0.94
    # step 2: g = −0.25 + 0.1·0.94 = −0.156; b = 0.9·0.6 + 0.5·(−0.156) = 0.462; p = 0.94 − 0.0462
    got = run("sgd", lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)
    assert got == pytest.approx([0.94, 0.8938], abs=1e-15)


def test_sgd_nesterov():
    # step 1: b = 0.5; g = 0.5 + 0.9·0.5 = 0.95; p = 1 − 0.095 = 0.905
    # step 2: b = 0.9·0.5 − 0.25 = 0.2; g = −0.25 + 0.18 = −0.07; p = 0.905 + 0.007 = 0.912
    assert run("sgd", lr=0.1, momentum=0.9, nesterov=True) == pytest.approx([0.905, 0.912],
                                                                            abs=1e-15)


def test_adam():
    # step 1: m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25; p = 1 − 0.1·0.5/(0.5 + 1e-8)
    p1 = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
    # step 2: m = 0.045 − 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225
    m_hat, v_hat = 0.02 / (1 - 0.81), 0.00031225 / (1 - 0.999 ** 2)
    p2 = p1 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    assert run("adam", lr=0.1) == pytest.approx([p1, p2], abs=1e-15)


def test_adam_amsgrad_keeps_the_raw_maximum():
    # beta2 = 0.5 makes v fall: step 2 v = 0.5·0.125 + 0.5·0.0625 = 0.09375 < v1 = 0.125
    p1 = 1 - 0.1 * 0.5 / (math.sqrt(0.125 / 0.5) + 1e-8)
    m_hat = (0.9 * 0.05 + 0.1 * -0.25) / (1 - 0.81)
    p2 = p1 - 0.1 * m_hat / (math.sqrt(0.125 / (1 - 0.25)) + 1e-8)  # max(v1, v2) = v1
    assert run("adam", lr=0.1, beta2=0.5, amsgrad=True) == pytest.approx([p1, p2], abs=1e-15)


def test_adam_l2_versus_adamw_decoupled():
    # adam: the decay joins the gradient, g = 0.5 + 0.1·1 = 0.6, then m̂/√v̂ = 0.6/0.6 = 1
    assert run("adam", lr=0.1, weight_decay=0.1)[0] == pytest.approx(1 - 0.1 * 0.6 / (0.6 + 1e-8),
                                                                     abs=1e-15)
    # adamw: p ← p·(1 − 0.1·0.1) first, then the plain adam step 0.1·0.5/(0.5 + 1e-8)
    assert run("adamw", lr=0.1, weight_decay=0.1)[0] == pytest.approx(
        0.99 - 0.1 * 0.5 / (0.5 + 1e-8), abs=1e-15)


def test_rmsprop_eps_outside_the_root():
    # v = 0.01·0.25 = 0.0025; p = 1 − 0.01·0.5/(0.05 + 1e-8)
    p1 = 1 - 0.01 * 0.5 / (0.05 + 1e-8)
    v2 = 0.99 * 0.0025 + 0.01 * 0.0625
    p2 = p1 + 0.01 * 0.25 / (math.sqrt(v2) + 1e-8)
    assert run("rmsprop", lr=0.01) == pytest.approx([p1, p2], abs=1e-15)


def test_rmsprop_centered_with_momentum():
    # v = 0.0025, mean = 0.005: denominator √(0.0025 − 0.000025); b = u
    u1 = 0.5 / (math.sqrt(0.0025 - 0.005 ** 2) + 1e-8)
    v2, mean2 = 0.99 * 0.0025 + 0.01 * 0.0625, 0.99 * 0.005 + 0.01 * -0.25
    u2 = -0.25 / (math.sqrt(v2 - mean2 ** 2) + 1e-8)
    b2 = 0.5 * u1 + u2
    assert run("rmsprop", lr=0.01, centered=True, momentum=0.5) == pytest.approx(
        [1 - 0.01 * u1, 1 - 0.01 * u1 - 0.01 * b2], abs=1e-15)


def test_every_catalog_optimizer_is_written():
    for name in catalog.OPTIMIZERS:
        assert len(run(name, lr=0.01)) == 2


SETTINGS_THAT_SHAPE_THE_STATE = [("sgd", {}), ("sgd", {"momentum": 0.9, "nesterov": True}),
                                 ("adam", {}), ("adam", {"amsgrad": True}), ("adamw", {}),
                                 ("rmsprop", {"centered": True, "momentum": 0.5})]


@pytest.mark.parametrize("name,settings", SETTINGS_THAT_SHAPE_THE_STATE)
def test_jax_optimizer_state_made_outside_jit_is_bit_for_bit_the_compiled_one(name, settings):
    """The jax adapter calls optax's init eagerly, as optax's users do; nothing may differ from
    a compiled init (the state the step is traced with), in values, dtypes or structure."""
    jax = pytest.importorskip("jax")
    from harness.adapters.jax_ops import import_jax, optimizer_of

    import_jax()
    spec = Spec(name, catalog.settings_with_defaults(settings, catalog.OPTIMIZERS[name]))
    optimizer = optimizer_of(spec)
    for dtype in ("float32", "float64"):
        params = {"layers.0.weight": jax.device_put(np.full((3, 2), 0.5, dtype=dtype)),
                  "layers.0.bias": jax.device_put(np.full((3,), -0.5, dtype=dtype))}
        eager, compiled = optimizer.init(params), jax.jit(optimizer.init)(params)
        assert jax.tree_util.tree_structure(eager) == jax.tree_util.tree_structure(compiled)
        for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(compiled)):
            a, b = np.asarray(a), np.asarray(b)
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
