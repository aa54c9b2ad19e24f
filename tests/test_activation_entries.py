"""Every catalog activation and loss has a complete entry in the reference and in every framework.

The reference's entry (harness.adapters.numpy_ops) is all the harness knows of a name: its value,
its derivative and the terms of its error bound (harness.verdicts.magnitude). Nothing falls back
to a default, so a name added to the catalog without an entry fails here.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.adapters import REFERENCE, framework_names
from harness.adapters import numpy_ops as ops
from harness.format import catalog
from harness.running.runner import run_case

Z = np.linspace(-6.0, 6.0, 25).reshape(5, 5)  # both signs, saturated ends, 0 itself
H = 1e-6


def test_the_reference_has_an_entry_for_every_name_and_nothing_else():
    assert set(ops.ACTIVATIONS) == set(catalog.ACTIVATIONS)
    assert set(ops.LOSSES) == set(catalog.LOSSES)


def _complete(entry) -> None:
    for field in dataclasses.fields(entry):
        assert callable(getattr(entry, field.name)), field.name


@pytest.mark.parametrize("name", sorted(catalog.ACTIVATIONS))
def test_each_activation_entry_is_complete_and_bounds_its_values(name):
    defaults = catalog.ACTIVATIONS[name].defaults()
    act = ops.activation(name, defaults)
    _complete(act)
    assert isinstance(act, ops.PerSample) == catalog.ACTIVATIONS[name].per_sample
    a = act.value(Z)
    slope = act.derivative(Z, a, np.ones_like(Z))
    assert a.shape == slope.shape == Z.shape and np.isfinite(a).all()
    if isinstance(act, ops.PerSample):
        forward, backward = act.abs_jacobian(a)
        for through in (forward, backward):
            assert through(np.ones_like(Z)).shape == Z.shape
            assert (through(np.ones_like(Z)) >= 0).all()
        return
    terms, slope_terms = act.terms(Z, a, np.abs(slope))
    # a magnitude is never below the value it bounds
    assert (terms >= np.abs(a)).all() and (slope_terms >= np.abs(slope)).all()
    # the derivative is the value's, away from the kinks
    away = np.ones(Z.shape, dtype=bool)
    for kink in catalog.ACTIVATIONS[name].kinks(defaults):
        away &= np.abs(Z - kink) > 1e-3
    central = (act.value(Z + H) - act.value(Z - H)) / (2 * H)
    np.testing.assert_allclose(slope[away], central[away], rtol=1e-6, atol=1e-8)


def _target(loss: catalog.Loss, rng: np.random.Generator, shape: tuple[int, int]):
    if loss.target == catalog.TARGET_NONE:
        return None
    if loss.target == catalog.TARGET_CLASSES:
        return rng.integers(0, shape[1], shape[0])
    if loss.target == catalog.TARGET_DISTRIBUTION:
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=1, keepdims=True)
    return rng.uniform(0.0, 1.0, shape)


@pytest.mark.parametrize("name", sorted(catalog.LOSSES))
def test_each_loss_entry_is_complete_and_its_gradient_is_its_own(name):
    rng = np.random.default_rng(0)
    out = rng.uniform(0.1, 0.9, (4, 3))  # a probability, a logit and a log-rate alike
    y = _target(catalog.LOSSES[name], rng, out.shape)
    settings = catalog.LOSSES[name].defaults()
    loss = ops.loss(name, settings)
    _complete(loss)
    terms, grad = loss.terms(out, y)
    per_element = catalog.LOSSES[name].reduced_over == catalog.ELEMENTS
    assert terms.shape == (out.shape if per_element else out.shape[:1])
    assert grad.shape == out.shape
    curvature = loss.curvature(out, y, np.ones_like(out), 2)
    assert curvature.shape == out.shape and (curvature >= 0).all()
    for index in np.ndindex(out.shape):
        step = np.zeros_like(out)
        step[index] = 1e-6
        central = (loss.terms(out + step, y)[0].sum() - loss.terms(out - step, y)[0].sum()) / 2e-6
        assert central == pytest.approx(grad[index], rel=1e-6, abs=1e-8), index


def _one_layer(load, activation: str, loss: str) -> object:
    entry = catalog.LOSSES[loss]
    y = {catalog.TARGET_NONE: "",
         catalog.TARGET_LIKE_OUTPUT: "  y: {random: uniform, shape: [4, 3], seed: 2}\n",
         catalog.TARGET_CLASSES: "  y: {random: classes, shape: [4], seed: 2}\n",
         catalog.TARGET_DISTRIBUTION: "  y: {random: simplex, shape: [4, 3], seed: 2}\n"}
    case, problems = load(f"name: {activation}-{loss}\ndtype: float64\n"
                          f"network:\n  - {{units: 3, activation: {activation}}}\n"
                          "data:\n  x: {random: normal, shape: [4, 2], seed: 1}\n"
                          f"{y[entry.target]}loss: {loss}\noptimizer: {{name: sgd, lr: 0.1}}\n")
    assert problems == []
    return case


def _mapped_everywhere(case) -> None:
    """Every framework runs the case (the reference too: the others are compared with it), or
    declines it for a reason other than a missing name."""
    rows = run_case(case, "float64", framework_names()).rows
    assert {r.framework for r in rows} == set(framework_names()) - {REFERENCE}
    for r in rows:
        assert r.status != "error", (r.framework, r.message)
        assert r.status != "skip" or "not mapped" not in r.message, (r.framework, r.message)


@pytest.mark.parametrize("activation", sorted(catalog.ACTIVATIONS))
def test_every_framework_maps_every_activation(load, activation):
    _mapped_everywhere(_one_layer(load, activation, "mse"))


@pytest.mark.parametrize("loss", sorted(catalog.LOSSES))
def test_every_framework_maps_every_loss(load, loss):
    _mapped_everywhere(_one_layer(load, "sigmoid", loss))
