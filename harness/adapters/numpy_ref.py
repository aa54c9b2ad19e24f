"""The reference: forward and backward written out by hand in vectorised NumPy.

Every other framework is compared with this. Each activation's forward and derivative sit side by
side; each loss returns its value and its gradient with respect to the output together. The
computation stays in the case's dtype (NumPy 2 keeps float32 when mixed with Python scalars).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..case import Case, Inputs
from ..trace import Step, Trace, as_float64
from .base import Availability


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^−z) without overflow: e^−|z| never exceeds 1."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """z − logsumexp(z), shifted by the row maximum so exp never overflows."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


# name -> (forward f(z), backward (z, a, upstream) -> upstream · f'(z))
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "identity": (lambda z: z, lambda z, a, g: g),
    "sigmoid": (sigmoid, lambda z, a, g: g * a * (1 - a)),
    "tanh": (np.tanh, lambda z, a, g: g * (1 - a * a)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a, g: g * (z > 0)),  # relu'(0) = 0
    "softmax": (softmax, lambda z, a, g: a * (g - (g * a).sum(axis=-1, keepdims=True))),
}


def _one_hot(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Class targets as one-hot rows: indices are expanded, one-hot rows pass through."""
    if y.ndim == 1:
        return np.eye(like.shape[1], dtype=like.dtype)[y]
    return y.astype(like.dtype)


def loss_and_grad(name: str, out: np.ndarray, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(loss, dloss/dout) as defined in harness.catalog."""
    n = out.shape[0]
    if name == "sum":
        return out.sum(), np.ones_like(out)
    if name == "mse":
        d = out - y
        return (d * d).sum() / d.size, 2 * d / d.size
    if name == "bce":
        p = out
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() / p.size
        return loss, (-y / p + (1 - y) / (1 - p)) / p.size
    if name == "bce_with_logits":
        # −[y log σ(z) + (1−y) log(1−σ(z))] = max(z, 0) − z·y + log(1 + e^−|z|)
        z = out
        loss = (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum() / z.size
        return loss, (sigmoid(z) - y) / z.size
    if name == "cross_entropy":
        t = _one_hot(y, out)
        return -(t * log_softmax(out)).sum() / n, (softmax(out) - t) / n
    if name == "nll":
        t = _one_hot(y, out)
        picked = t > 0
        with np.errstate(divide="ignore"):
            loss = -(t * np.log(np.where(picked, out, 1))).sum() / n
        grad = np.zeros_like(out)
        grad[picked] = -t[picked] / out[picked] / n
        return loss, grad
    raise ValueError(f"loss {name!r} is not in the reference")


def forward(case: Case, params: dict[str, np.ndarray], x: np.ndarray):
    """The output and, per layer, (input, pre-activation, activation) for the backward pass."""
    a, cache = x, []
    for i, layer in enumerate(case.layers):
        z = a @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"]
        out = ACTIVATIONS[layer.activation][0](z)
        cache.append((a, z, out))
        a = out
    return a, cache


def backward(case: Case, params: dict[str, np.ndarray], cache, upstream: np.ndarray):
    grads: dict[str, np.ndarray] = {}
    g = upstream
    for i in reversed(range(len(case.layers))):
        a_in, z, a = cache[i]
        g = ACTIVATIONS[case.layers[i].activation][1](z, a, g)  # dL/dz
        grads[f"layers.{i}.weight"] = g.T @ a_in
        grads[f"layers.{i}.bias"] = g.sum(axis=0)
        g = g @ params[f"layers.{i}.weight"]  # dL/da of the layer below
    return {name: grads[name] for name in case.param_names}


def sgd(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float):
    return {name: p - lr * grads[name] for name, p in params.items()}


class NumpyAdapter:
    """The hand-written reference every other framework is compared with."""

    name = "numpy"

    def availability(self) -> Availability:
        return Availability(True, np.__version__)

    def supports(self, case: Case) -> str | None:
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        params = dict(inputs.params)
        steps = []
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for _ in range(case.steps):
                out, cache = forward(case, params, inputs.x)
                loss, upstream = loss_and_grad(case.loss, out, inputs.y)
                grads = backward(case, params, cache, upstream)
                params = sgd(params, grads, case.optimizer.lr)
                steps.append(Step(as_float64(out), as_float64(loss),
                                  {k: as_float64(v) for k, v in grads.items()},
                                  {k: as_float64(v) for k, v in params.items()}))
        return Trace(self.name, steps)
