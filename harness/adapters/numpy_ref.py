"""The reference: forward and backward written out by hand in vectorised NumPy.

Every other framework is compared with this. Each activation and loss is one entry of
harness.adapters.numpy_ops (its value and derivative side by side); this module is the training
step around them. The computation stays in the case's dtype; under a low-precision format
(harness.format.numerics) it is float64 on the rounded values, the exact answer the frameworks
approximate, and under mixed precision the parameters and data are rounded to the low dtype at
every step, as the frameworks' casts round them, while the master parameters stay float64.
"""
from __future__ import annotations

import numpy as np

from ..format import catalog, numerics
from ..format.case import Case, Inputs, Layer, bias_name, weight_name
from ..format.trace import Step, Trace, as_float64
from . import numpy_ops as ops
from .base import Availability
from .numpy_optim import NumpyOptimizer


def computed_in(form: numerics.Numerics, values: np.ndarray) -> np.ndarray:
    """What the network sees of stored values: under mixed precision, the values cast to the
    low dtype (as float64); otherwise the values themselves, in the reference's dtype."""
    if form.mixed:
        return numerics.rounded64(values, form.compute)
    return values.astype(form.reference)


def activation(layer: Layer) -> ops.Elementwise | ops.PerSample:
    """The reference's entry for a layer's activation, with the layer's settings."""
    return ops.activation(layer.activation, layer.settings)


def loss_and_grad(name: str, out: np.ndarray, y: np.ndarray | None,
                  settings: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(loss, dloss/dout) as defined in harness.format.catalog, with its reduction."""
    settings = settings or {}
    terms, grad = ops.loss(name, settings).terms(out, y)
    per_element = catalog.LOSSES[name].reduced_over == catalog.ELEMENTS
    count = out.size if per_element else out.shape[0]
    if settings.get("reduction", "sum") == "mean":
        return terms.sum() / count, grad / count
    return terms.sum(), grad


def forward(case: Case, params: dict[str, np.ndarray], x: np.ndarray):
    """The output and, per layer, (input, pre-activation, activation) for the backward pass."""
    a, cache = x, []
    for i, layer in enumerate(case.layers):
        z = a @ params[weight_name(i)].T + params[bias_name(i)]
        out = activation(layer).value(z)
        cache.append((a, z, out))
        a = out
    return a, cache


def backward(case: Case, params: dict[str, np.ndarray], cache, upstream: np.ndarray):
    grads: dict[str, np.ndarray] = {}
    g = upstream
    for i in reversed(range(len(case.layers))):
        a_in, z, a = cache[i]
        g = activation(case.layers[i]).derivative(z, a, g)  # dL/dz
        grads[weight_name(i)] = g.T @ a_in
        grads[bias_name(i)] = g.sum(axis=0)
        g = g @ params[weight_name(i)]  # dL/da of the layer below
    return {name: grads[name] for name in case.param_names}


class NumpyAdapter:
    """The hand-written reference every other framework is compared with."""

    name = "numpy"

    def availability(self) -> Availability:
        return Availability(True, np.__version__)

    def supports(self, case: Case) -> str | None:
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        form = numerics.of(case.dtype)
        params = {k: v.astype(form.reference) for k, v in inputs.params.items()}
        x, y = computed_in(form, inputs.x), inputs.y
        if y is not None and not numerics.is_classes(y):
            y = y.astype(form.reference)
        optimizer = NumpyOptimizer(case.optimizer)
        steps = []
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for _ in range(case.steps):
                seen = {k: computed_in(form, v) for k, v in params.items()}
                out, cache = forward(case, seen, x)
                loss, upstream = loss_and_grad(case.loss, out, y, case.loss_settings)
                grads = backward(case, seen, cache, upstream)
                params = optimizer.step(params, grads)
                steps.append(Step(as_float64(out), as_float64(loss),
                                  {k: as_float64(v) for k, v in grads.items()},
                                  {k: as_float64(v) for k, v in params.items()}))
        return Trace(self.name, steps)
