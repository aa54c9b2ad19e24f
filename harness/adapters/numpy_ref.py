"""The reference: forward and backward written out by hand in vectorised NumPy.

Every other framework is compared with this. Each activation's forward and derivative sit side by
side; each loss returns its value and its gradient with respect to the output together. The
computation stays in the case's dtype (NumPy 2 keeps float32 when mixed with Python scalars).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..format import catalog
from ..format.case import Case, Inputs, bias_name, weight_name
from ..format.catalog import SELU_ALPHA, SELU_SCALE
from .numpy_optim import NumpyOptimizer
from ..format.trace import Step, Trace, as_float64
from .base import Availability


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^−z) without overflow: e^−|z| never exceeds 1."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softplus(z: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """log(1 + e^(βz)) / β without overflow."""
    bz = beta * z
    return (np.maximum(bz, 0) + np.log1p(np.exp(-np.abs(bz)))) / beta


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """z − logsumexp(z), shifted by the row maximum so exp never overflows."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


_erf = np.frompyfunc(math.erf, 1, 1)


def erf(z: np.ndarray) -> np.ndarray:
    """NumPy has no erf; math.erf element by element, in float64, rounded to z's dtype."""
    return _erf(z.astype(np.float64)).astype(z.dtype)


SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def _gelu(approximate: str):
    if approximate == "tanh":
        def forward(z):
            return 0.5 * z * (1 + np.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z ** 3)))

        def backward(z, a, g):
            t = np.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z ** 3))
            du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z * z)
            return g * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * du)
        return forward, backward

    def forward(z):
        return 0.5 * z * (1 + erf(z / math.sqrt(2)))

    def backward(z, a, g):  # Φ(z) + z·φ(z)
        return g * (0.5 * (1 + erf(z / math.sqrt(2))) + z * INV_SQRT_2PI * np.exp(-0.5 * z * z))
    return forward, backward


def _elu(alpha: float, scale: float = 1.0):
    def forward(z):
        return scale * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))

    def backward(z, a, g):
        return g * scale * np.where(z > 0, 1, alpha * np.exp(np.minimum(z, 0)))
    return forward, backward


def _mish():
    def forward(z):
        return z * np.tanh(softplus(z))

    def backward(z, a, g):
        t = np.tanh(softplus(z))
        return g * (t + z * (1 - t * t) * sigmoid(z))
    return forward, backward


def _log_softmax():
    def backward(z, a, g):
        return g - np.exp(a) * g.sum(axis=-1, keepdims=True)
    return log_softmax, backward


# name -> settings -> (forward f(z), backward (z, a, upstream) -> upstream · f'(z))
ACTIVATIONS: dict[str, Callable[..., tuple[Callable, Callable]]] = {
    "identity": lambda: (lambda z: z, lambda z, a, g: g),
    "sigmoid": lambda: (sigmoid, lambda z, a, g: g * a * (1 - a)),
    "tanh": lambda: (np.tanh, lambda z, a, g: g * (1 - a * a)),
    "relu": lambda: (lambda z: np.maximum(z, 0), lambda z, a, g: g * (z > 0)),  # relu'(0) = 0
    "leaky_relu": lambda slope: (lambda z: np.where(z > 0, z, slope * z),
                                 lambda z, a, g: g * np.where(z > 0, 1, slope)),
    "elu": lambda alpha: _elu(alpha),
    "selu": lambda: _elu(SELU_ALPHA, SELU_SCALE),
    "gelu": lambda approximate: _gelu(approximate),
    "softplus": lambda beta: (lambda z: softplus(z, beta), lambda z, a, g: g * sigmoid(beta * z)),
    "silu": lambda: (lambda z: z * sigmoid(z),
                     lambda z, a, g: g * sigmoid(z) * (1 + z * (1 - sigmoid(z)))),
    "mish": _mish,
    "hardtanh": lambda min_val, max_val: (
        lambda z: np.clip(z, min_val, max_val),
        lambda z, a, g: g * ((z > min_val) & (z < max_val))),  # 0 at the edges
    "softsign": lambda: (lambda z: z / (1 + np.abs(z)), lambda z, a, g: g / (1 + np.abs(z)) ** 2),
    "softmax": lambda: (softmax, lambda z, a, g: a * (g - (g * a).sum(axis=-1, keepdims=True))),
    "log_softmax": _log_softmax,
}


def activation(layer) -> tuple[Callable, Callable]:
    return ACTIVATIONS[layer.activation](**layer.settings)


def _one_hot(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Class targets as one-hot rows: indices are expanded, one-hot rows pass through."""
    if y.ndim == 1:
        return np.eye(like.shape[1], dtype=like.dtype)[y]
    return y.astype(like.dtype)


def _elementwise(name: str, settings: dict, out: np.ndarray, y: np.ndarray):
    """(loss of each element, its derivative with respect to out)."""
    if name == "sum":
        return out, np.ones_like(out)
    if name == "bce_with_logits":
        # −[y log σ(z) + (1−y) log(1−σ(z))] = max(z, 0) − z·y + log(1 + e^−|z|)
        z = out
        return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), sigmoid(z) - y
    if name == "bce":
        p = out
        return -(y * np.log(p) + (1 - y) * np.log(1 - p)), -y / p + (1 - y) / (1 - p)
    if name == "poisson_nll":
        rate = np.exp(out)
        return rate - y * out, rate - y
    d = out - y
    if name == "mse":
        return d * d, 2 * d
    if name == "l1":
        return np.abs(d), np.sign(d)
    if name == "huber":
        delta = settings["delta"]
        small = np.abs(d) <= delta
        return (np.where(small, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta)),
                np.where(small, d, delta * np.sign(d)))
    if name == "smooth_l1":
        beta = settings["beta"]
        small = np.abs(d) < beta
        return (np.where(small, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta),
                np.where(small, d / beta, np.sign(d)))
    raise ValueError(f"loss {name!r} is not in the reference")


def _per_sample(name: str, out: np.ndarray, y: np.ndarray):
    """(loss of each sample, derivative of each sample's loss with respect to out)."""
    if name == "kl_div":
        with np.errstate(divide="ignore"):
            log_y = np.where(y > 0, np.log(np.where(y > 0, y, 1)), 0)
        return (y * (log_y - out)).sum(axis=1), -y.astype(out.dtype)
    t = _one_hot(y, out)
    if name == "cross_entropy":
        return -(t * log_softmax(out)).sum(axis=1), softmax(out) * t.sum(axis=1, keepdims=True) - t
    if name == "nll":
        picked = t > 0
        with np.errstate(divide="ignore"):
            per_sample = -(t * np.log(np.where(picked, out, 1))).sum(axis=1)
        grad = np.zeros_like(out)
        grad[picked] = -t[picked] / out[picked]
        return per_sample, grad
    raise ValueError(f"loss {name!r} is not in the reference")


def loss_and_grad(name: str, out: np.ndarray, y: np.ndarray | None,
                  settings: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(loss, dloss/dout) as defined in harness.format.catalog, with its reduction."""
    settings = settings or {}
    if catalog.LOSSES[name].reduced_over == catalog.ELEMENTS:
        terms, grad = _elementwise(name, settings, out, y)
        count = out.size
    else:
        terms, grad = _per_sample(name, out, y)
        count = out.shape[0]
    if settings.get("reduction", "sum") == "mean":
        return terms.sum() / count, grad / count
    return terms.sum(), grad


def forward(case: Case, params: dict[str, np.ndarray], x: np.ndarray):
    """The output and, per layer, (input, pre-activation, activation) for the backward pass."""
    a, cache = x, []
    for i, layer in enumerate(case.layers):
        z = a @ params[weight_name(i)].T + params[bias_name(i)]
        out = activation(layer)[0](z)
        cache.append((a, z, out))
        a = out
    return a, cache


def backward(case: Case, params: dict[str, np.ndarray], cache, upstream: np.ndarray):
    grads: dict[str, np.ndarray] = {}
    g = upstream
    for i in reversed(range(len(case.layers))):
        a_in, z, a = cache[i]
        g = activation(case.layers[i])[1](z, a, g)  # dL/dz
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
        params = dict(inputs.params)
        optimizer = NumpyOptimizer(case.optimizer)
        steps = []
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for _ in range(case.steps):
                out, cache = forward(case, params, inputs.x)
                loss, upstream = loss_and_grad(case.loss, out, inputs.y, case.loss_settings)
                grads = backward(case, params, cache, upstream)
                params = optimizer.step(params, grads)
                steps.append(Step(as_float64(out), as_float64(loss),
                                  {k: as_float64(v) for k, v in grads.items()},
                                  {k: as_float64(v) for k, v in params.items()}))
        return Trace(self.name, steps)
