"""The size of what was summed to make each element: an absolute-value pass beside the reference.

A float result that is a sum carries the rounding of its terms, not of itself:
|fl(Σx) − Σx| ≤ γ_n·Σ|x|. A matrix product chain obeys the same bound with absolute values,
|fl(AB) − AB| ≤ γ_n·|A||B| (Higham, §3.5). This module carries that bound through a training
step: each quantity's *magnitude* is what the step computes, run again on absolute values, with
two additions that make it a first-order forward error estimate rather than a plain |·| pass:

- an element-wise activation passes on the error of its input scaled by |f′(z)|, since a
  saturated sigmoid forgets the rounding of z (and its output's own rounding is relative);
- the loss's gradient carries the error of the output through the loss's curvature (mse's
  2(out − y) cancels where the output is close to its target).

Magnitudes are computed in float64 from the reference's own parameters at each step, whichever
party is the reference, and are never compared: they only size each element's allowance
(``sum_rtol·magnitude`` in harness.verdicts.tolerance). Every magnitude is ≥ |value|.
"""
from __future__ import annotations

import numpy as np

from ..adapters import numpy_ops as ops
from ..adapters import numpy_ref as ref
from ..format import catalog, numerics
from ..format.case import Case, Inputs, bias_name, weight_name
from ..format.trace import Trace

Magnitudes = dict[tuple[str, str], np.ndarray]  # (quantity, tensor) -> per-element magnitude


def _act_magnitude(act: ops.Elementwise | ops.PerSample, z: np.ndarray, a: np.ndarray,
                   error_in: np.ndarray) -> tuple:
    """(magnitude of the activation's output, |Jacobian|ᵀ as a function for the backward)."""
    if isinstance(act, ops.PerSample):
        forward, backward = act.abs_jacobian(a)
        return np.maximum(np.abs(a), forward(error_in)), backward
    slope = np.abs(act.derivative(z, a, np.ones_like(z)))
    terms, slope_terms = act.terms(z, a, slope)
    return np.maximum(terms, slope * error_in), lambda m: slope_terms * m


def loss_count(case: Case, out: np.ndarray) -> int:
    """What the loss is divided by: 1 for a sum."""
    if case.loss_settings.get("reduction", "sum") != "mean":
        return 1
    return out.size if catalog.LOSSES[case.loss].reduced_over == catalog.ELEMENTS else out.shape[0]


def _loss_terms(loss: ops.Loss, case: Case, out: np.ndarray, y) -> np.ndarray:
    """|each term of the loss|, reduced as the loss is (the size of what its sum adds up)."""
    terms = np.abs(loss.terms(out, y)[0]) / loss_count(case, out)
    if terms.shape != out.shape:  # per sample: spread over the sample's units
        return np.broadcast_to(terms[:, None], out.shape) / out.shape[1]
    return terms


def step_magnitudes(case: Case, params: dict[str, np.ndarray], x: np.ndarray, y) -> Magnitudes:
    """Magnitudes of the output, loss and gradients at ``params`` (all float64)."""
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    x = np.asarray(x, dtype=np.float64)
    y = numerics.targets64(y)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        a, m_a = x, np.abs(x)
        layers = []
        for i, layer in enumerate(case.layers):
            w, b = params[weight_name(i)], params[bias_name(i)]
            z = a @ w.T + b
            m_z = m_a @ np.abs(w).T + np.abs(b)  # Σ|terms|, with the input's own error
            act = ref.activation(layer)
            out = act.value(z)
            m_out, through = _act_magnitude(act, z, out, m_z)
            layers.append((m_a, through))
            a, m_a = out, m_out
        out, m_out = a, m_a
        loss = ops.loss(case.loss, case.loss_settings)
        g = ref.loss_and_grad(case.loss, out, y, case.loss_settings)[1]
        m_loss = np.abs(g) * m_out + _loss_terms(loss, case, out, y)
        # the output's rounding reaches the gradient through the loss's curvature
        m_g = np.abs(g) + loss.curvature(out, y, m_out, loss_count(case, out))
        result: Magnitudes = {("output", "output"): m_out,
                              ("loss", "loss"): np.asarray(m_loss.sum())}
        for i in reversed(range(len(case.layers))):
            m_in, through = layers[i]
            m_gz = through(m_g)
            result[("grad", weight_name(i))] = m_gz.T @ m_in
            result[("grad", bias_name(i))] = m_gz.sum(axis=0)
            m_g = m_gz @ np.abs(params[weight_name(i)])
    return {k: np.where(np.isfinite(v), v, np.inf) for k, v in result.items()}


def trace_magnitudes(case: Case, inputs: Inputs, reference: Trace) -> list[Magnitudes]:
    """Per step, the magnitudes of what the reference computed, the updated parameters too.

    A parameter after the update p − lr·u(g) carries here the rounding of p and of the step; the
    uncertainty of its gradient, which an update passes on (and magnifies, in some optimizers),
    is measured by harness.verdicts.inherited.
    """
    out: list[Magnitudes] = []
    before = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.params.items()}
    for step in reference.steps:
        m = step_magnitudes(case, before, inputs.x, inputs.y)
        with np.errstate(invalid="ignore", over="ignore"):
            for name, after in step.params.items():
                m[("param", name)] = np.abs(before[name]) + np.abs(after - before[name])
        out.append({k: np.where(np.isfinite(v), v, np.inf) for k, v in m.items()})
        before = step.params
    return out
