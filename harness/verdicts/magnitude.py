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

from ..format import catalog
from ..adapters import numpy_ref as ref
from ..format.case import Case, Inputs, bias_name, weight_name
from ..format.trace import Trace

Magnitudes = dict[tuple[str, str], np.ndarray]  # (quantity, tensor) -> per-element magnitude


def _formula_terms(layer, z: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(size of the terms of f(z)'s formula, size of the terms of f′(z)'s formula).

    Where a formula subtracts, its result carries the rounding of its terms: tanh′ = 1 − a² is
    ~1e-8 when saturated but rounded like 1; gelu's 0.5·z·(1 + tanh u) cancels in its tail.
    Frameworks write these formulas differently, so they differ by the rounding of the terms.
    """
    name, s = layer.activation, layer.settings
    slope = np.abs(ref.activation(layer)[1](z, a, np.ones_like(z)))
    if name == "tanh":
        return np.abs(a), 1 + a * a
    if name == "sigmoid":
        return np.abs(a), np.abs(a) * (1 + np.abs(a))
    if name in ("elu", "selu"):
        alpha = s.get("alpha", catalog.SELU_ALPHA)
        scale = catalog.SELU_SCALE if name == "selu" else 1.0
        tail = scale * alpha * (np.exp(np.minimum(z, 0)) + 1)  # alpha·(e^z − 1), written as it is
        return np.where(z > 0, np.abs(a), tail), slope
    if name == "silu":
        sig = ref.sigmoid(z)
        return np.abs(a), sig * (1 + np.abs(z) * (1 + sig))
    if name == "mish":
        t = np.tanh(ref.softplus(z))
        return np.abs(a), np.abs(t) + np.abs(z) * (1 + t * t) * ref.sigmoid(z)
    if name == "gelu":
        if s.get("approximate") == "tanh":
            u = ref.SQRT_2_OVER_PI * (z + 0.044715 * z ** 3)
            t = np.tanh(u)
            du = ref.SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z * z)
            return 0.5 * np.abs(z) * (1 + np.abs(t)), 0.5 * (1 + np.abs(t)) + \
                0.5 * np.abs(z) * (1 + t * t) * du
        phi = ref.INV_SQRT_2PI * np.exp(-0.5 * z * z)
        return np.abs(z), 1 + np.abs(z) * phi  # 0.5·z·(1 + erf): terms up to |z|
    return np.abs(a), slope


def _act_magnitude(layer, z: np.ndarray, a: np.ndarray, error_in: np.ndarray) -> tuple:
    """(magnitude of the activation's output, |Jacobian|ᵀ as a function for the backward)."""
    name = layer.activation
    if name == "softmax":
        s = a
        def through(m):  # |J| m with J = diag(s) − s sᵀ (symmetric)
            return s * m + s * (s * m).sum(axis=-1, keepdims=True)
        return np.maximum(np.abs(a), through(error_in)), through
    if name == "log_softmax":
        s = np.exp(a)
        forward = lambda m: m + (s * m).sum(axis=-1, keepdims=True)  # noqa: E731  J = I − 1 sᵀ
        backward = lambda m: m + s * m.sum(axis=-1, keepdims=True)  # noqa: E731  Jᵀ
        return np.maximum(np.abs(a), forward(error_in)), backward
    slope = np.abs(ref.activation(layer)[1](z, a, np.ones_like(z)))
    terms, slope_terms = _formula_terms(layer, z, a)
    return np.maximum(terms, slope * error_in), lambda m: slope_terms * m


def _loss_curvature(case: Case, out: np.ndarray, y, m_out: np.ndarray) -> np.ndarray:
    """|∂(dL/dout)/∂out| applied to the output's magnitude: how the output's rounding reaches
    the loss gradient (zero for losses whose gradient does not depend on the output)."""
    name, settings = case.loss, case.loss_settings
    per_element = catalog.LOSSES[name].reduced_over == catalog.ELEMENTS
    mean = settings.get("reduction", "sum") == "mean"
    count = (out.size if per_element else out.shape[0]) if mean else 1
    if name in ("sum", "l1", "kl_div"):
        return np.zeros_like(out)
    if name == "mse":
        return 2 * m_out / count
    if name in ("huber", "smooth_l1"):
        d = np.abs(out - y)
        width = settings["delta"] if name == "huber" else settings["beta"]
        inside = d <= width if name == "huber" else d < width
        return np.where(inside, m_out / (1 if name == "huber" else width), 0.0) / count
    if name == "bce":
        with np.errstate(divide="ignore", invalid="ignore"):
            curvature = y / out ** 2 + (1 - y) / (1 - out) ** 2
        return curvature * m_out / count
    if name == "bce_with_logits":
        s = ref.sigmoid(out)
        return s * (1 - s) * m_out / count
    target = ref._one_hot(y, out) if y is not None else None
    if name == "cross_entropy":
        s = ref.softmax(out)
        weight = target.sum(axis=1, keepdims=True)
        return weight * (s * m_out + s * (s * m_out).sum(axis=-1, keepdims=True)) / count
    if name == "nll":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(target > 0, target / out ** 2, 0.0) * m_out / count
    if per_element:  # any other element-wise loss: its Hessian is diagonal, measured from the
        return _measured_curvature(case, out, y) * m_out  # reference's own gradient
    return np.zeros_like(out)


def _measured_curvature(case: Case, out: np.ndarray, y) -> np.ndarray:
    """|∂²L/∂out²| of an element-wise loss, by central differences of the reference gradient
    (moving every element at once is exact for a diagonal Hessian)."""
    h = 1e-5 * np.maximum(1.0, np.abs(out))
    with np.errstate(all="ignore"):
        up = ref.loss_and_grad(case.loss, out + h, y, case.loss_settings)[1]
        down = ref.loss_and_grad(case.loss, out - h, y, case.loss_settings)[1]
        return np.nan_to_num(np.abs(up - down) / (2 * h), nan=0.0, posinf=0.0)


def step_magnitudes(case: Case, params: dict[str, np.ndarray], x: np.ndarray, y) -> Magnitudes:
    """Magnitudes of the output, loss and gradients at ``params`` (all float64)."""
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    x = np.asarray(x, dtype=np.float64)
    if y is not None and y.dtype.kind == "f":
        y = y.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        a, m_a = x, np.abs(x)
        layers = []
        for i, layer in enumerate(case.layers):
            w, b = params[weight_name(i)], params[bias_name(i)]
            z = a @ w.T + b
            m_z = m_a @ np.abs(w).T + np.abs(b)  # Σ|terms|, with the input's own error
            out = ref.activation(layer)[0](z)
            m_out, through = _act_magnitude(layer, z, out, m_z)
            layers.append((m_a, through))
            a, m_a = out, m_out
        out, m_out = a, m_a
        terms_y = y
        loss, g = ref.loss_and_grad(case.loss, out, terms_y, case.loss_settings)
        m_loss = np.abs(g) * m_out + _loss_terms(case, out, terms_y)
        m_g = np.abs(g) + _loss_curvature(case, out, terms_y, m_out)
        result: Magnitudes = {("output", "output"): m_out,
                              ("loss", "loss"): np.asarray(m_loss.sum())}
        for i in reversed(range(len(case.layers))):
            m_in, through = layers[i]
            m_gz = through(m_g)
            result[("grad", weight_name(i))] = m_gz.T @ m_in
            result[("grad", bias_name(i))] = m_gz.sum(axis=0)
            m_g = m_gz @ np.abs(params[weight_name(i)])
    return {k: np.where(np.isfinite(v), v, np.inf) for k, v in result.items()}


def _loss_terms(case: Case, out: np.ndarray, y) -> np.ndarray:
    """|each term of the loss|, reduced as the loss is (the size of what its sum adds up)."""
    name, settings = case.loss, case.loss_settings
    mean = settings.get("reduction", "sum") == "mean"
    if catalog.LOSSES[name].reduced_over == catalog.ELEMENTS:
        terms, _ = ref._elementwise(name, settings, out, y)
        count = out.size
    else:
        terms, _ = ref._per_sample(name, out, y)
        terms = terms[:, None]
        count = out.shape[0]
    terms = np.abs(terms) / (count if mean else 1)
    return np.broadcast_to(terms, out.shape) / (1 if terms.shape == out.shape else out.shape[1])


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
