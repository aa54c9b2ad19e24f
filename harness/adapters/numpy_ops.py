"""The reference's activations and losses: one entry per catalog name, with all it knows of it.

An element-wise activation holds its value f(z), its backward (z, a, upstream) -> upstream·f′(z)
and the size of the terms its formulas add up. Where a formula subtracts, its result carries the
rounding of its terms, not of itself: tanh′ = 1 − a² is ~1e-8 when saturated but rounded like 1,
gelu's 0.5·z·(1 + tanh u) cancels in its tail. Frameworks write these formulas differently, so
they differ by the rounding of the terms (harness.verdicts.magnitude turns the terms into an
error bound). A per-sample activation (softmax) holds its Jacobian in absolute value instead.

A loss holds its terms with their gradient with respect to the output, and its curvature: how the
rounding of the output reaches that gradient.

Everything stays in its input's dtype (NumPy 2 keeps float32 when mixed with Python scalars).
Each table is checked against the catalog by tests/test_activation_entries.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..format.catalog import SELU_ALPHA, SELU_SCALE

Array = np.ndarray
Backward = Callable[[Array, Array, Array], Array]  # (z, a, upstream) -> upstream·∂a/∂z
Through = Callable[[Array], Array]  # a magnitude m -> |J|·m or |J|ᵀ·m


@dataclass(frozen=True)
class Elementwise:
    """An activation of each unit alone."""

    value: Callable[[Array], Array]
    derivative: Backward
    # (z, a, |f′(z)|) -> (size of the terms of f(z)'s formula, size of the terms of f′(z)'s)
    terms: Callable[[Array, Array, Array], tuple[Array, Array]]


@dataclass(frozen=True)
class PerSample:
    """An activation of each sample's units together (softmax)."""

    value: Callable[[Array], Array]
    derivative: Backward  # a vector-Jacobian product over each sample's units
    # a -> (m ↦ |J|·m, m ↦ |J|ᵀ·m), J the Jacobian of a sample's outputs by its inputs
    abs_jacobian: Callable[[Array], tuple[Through, Through]]


@dataclass(frozen=True)
class Loss:
    # (out, y) -> (each term: per element or per sample, as the catalog's reduced_over says;
    # the gradient of their sum with respect to out)
    terms: Callable[[Array, Array | None], tuple[Array, Array]]
    # (out, y, m, count) -> |∂(dL/dout)/∂out|·m for the loss divided by count (1 for a sum)
    curvature: Callable[[Array, Array | None, Array, int], Array]


# -- the functions every framework has, written without overflow -----------------------------
def sigmoid(z: Array) -> Array:
    """1 / (1 + e^−z) without overflow: e^−|z| never exceeds 1."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softplus(z: Array, beta: float = 1.0) -> Array:
    """log(1 + e^(βz)) / β without overflow."""
    bz = beta * z
    return (np.maximum(bz, 0) + np.log1p(np.exp(-np.abs(bz)))) / beta


def softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: Array) -> Array:
    """z − logsumexp(z), shifted by the row maximum so exp never overflows."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


_erf = np.frompyfunc(math.erf, 1, 1)


def erf(z: Array) -> Array:
    """NumPy has no erf; math.erf element by element, in float64, rounded to z's dtype."""
    return _erf(z.astype(np.float64)).astype(z.dtype)


SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


# -- activations ------------------------------------------------------------------------------
def plain_terms(z: Array, a: Array, slope: Array) -> tuple[Array, Array]:
    """Formulas that add no terms of opposite sign: each is rounded like its own result."""
    return np.abs(a), slope


def _gelu(approximate: str) -> Elementwise:
    if approximate == "tanh":
        def value(z):
            return 0.5 * z * (1 + np.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z ** 3)))

        def derivative(z, a, g):
            t = np.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z ** 3))
            du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z * z)
            return g * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * du)

        def terms(z, a, slope):
            t = np.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z ** 3))
            du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z * z)
            return 0.5 * np.abs(z) * (1 + np.abs(t)), \
                0.5 * (1 + np.abs(t)) + 0.5 * np.abs(z) * (1 + t * t) * du
        return Elementwise(value, derivative, terms)

    def value(z):
        return 0.5 * z * (1 + erf(z / math.sqrt(2)))

    def derivative(z, a, g):  # Φ(z) + z·φ(z)
        return g * (0.5 * (1 + erf(z / math.sqrt(2))) + z * INV_SQRT_2PI * np.exp(-0.5 * z * z))

    def exact_terms(z, a, slope):  # 0.5·z·(1 + erf): terms up to |z|
        phi = INV_SQRT_2PI * np.exp(-0.5 * z * z)
        return np.abs(z), 1 + np.abs(z) * phi
    return Elementwise(value, derivative, exact_terms)


def _elu(alpha: float, scale: float = 1.0) -> Elementwise:
    def value(z):
        return scale * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))

    def derivative(z, a, g):
        return g * scale * np.where(z > 0, 1, alpha * np.exp(np.minimum(z, 0)))

    def terms(z, a, slope):  # alpha·(e^z − 1), as frameworks may write it: up to alpha·(e^z + 1)
        return np.where(z > 0, np.abs(a), scale * alpha * (np.exp(np.minimum(z, 0)) + 1)), slope
    return Elementwise(value, derivative, terms)


def _celu(alpha: float) -> Elementwise:
    def value(z):
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0) / alpha))

    def derivative(z, a, g):  # 1 on both sides of 0: the derivative is continuous
        return g * np.where(z > 0, 1, np.exp(np.minimum(z, 0) / alpha))

    def terms(z, a, slope):  # alpha·(e^(z/alpha) − 1): terms up to alpha·(e^(z/alpha) + 1)
        return np.where(z > 0, np.abs(a), alpha * (np.exp(np.minimum(z, 0) / alpha) + 1)), slope
    return Elementwise(value, derivative, terms)


def _silu() -> Elementwise:
    def terms(z, a, slope):
        sig = sigmoid(z)
        return np.abs(a), sig * (1 + np.abs(z) * (1 + sig))
    return Elementwise(lambda z: z * sigmoid(z),
                       lambda z, a, g: g * sigmoid(z) * (1 + z * (1 - sigmoid(z))), terms)


def _mish() -> Elementwise:
    def value(z):
        return z * np.tanh(softplus(z))

    def derivative(z, a, g):
        t = np.tanh(softplus(z))
        return g * (t + z * (1 - t * t) * sigmoid(z))

    def terms(z, a, slope):
        t = np.tanh(softplus(z))
        return np.abs(a), np.abs(t) + np.abs(z) * (1 + t * t) * sigmoid(z)
    return Elementwise(value, derivative, terms)


def _softmax() -> PerSample:
    def abs_jacobian(a):
        def through(m):  # J = diag(s) − s sᵀ is symmetric
            return a * m + a * (a * m).sum(axis=-1, keepdims=True)
        return through, through
    return PerSample(softmax, lambda z, a, g: a * (g - (g * a).sum(axis=-1, keepdims=True)),
                     abs_jacobian)


def _log_softmax() -> PerSample:
    def abs_jacobian(a):  # J = I − 1 sᵀ
        s = np.exp(a)
        return (lambda m: m + (s * m).sum(axis=-1, keepdims=True),
                lambda m: m + s * m.sum(axis=-1, keepdims=True))
    return PerSample(log_softmax, lambda z, a, g: g - np.exp(a) * g.sum(axis=-1, keepdims=True),
                     abs_jacobian)


# name -> its settings -> its entry
ACTIVATIONS: dict[str, Callable[..., Elementwise | PerSample]] = {
    "identity": lambda: Elementwise(lambda z: z, lambda z, a, g: g, plain_terms),
    "sigmoid": lambda: Elementwise(sigmoid, lambda z, a, g: g * a * (1 - a),
                                   lambda z, a, slope: (np.abs(a), np.abs(a) * (1 + np.abs(a)))),
    "tanh": lambda: Elementwise(np.tanh, lambda z, a, g: g * (1 - a * a),
                                lambda z, a, slope: (np.abs(a), 1 + a * a)),
    "relu": lambda: Elementwise(lambda z: np.maximum(z, 0), lambda z, a, g: g * (z > 0),
                                plain_terms),  # relu′(0) = 0
    "leaky_relu": lambda slope: Elementwise(lambda z: np.where(z > 0, z, slope * z),
                                            lambda z, a, g: g * np.where(z > 0, 1, slope),
                                            plain_terms),
    "elu": _elu,
    "selu": lambda: _elu(SELU_ALPHA, SELU_SCALE),
    "celu": _celu,
    "gelu": _gelu,
    "softplus": lambda beta: Elementwise(lambda z: softplus(z, beta),
                                         lambda z, a, g: g * sigmoid(beta * z), plain_terms),
    "silu": _silu,
    "mish": _mish,
    "hardtanh": lambda min_val, max_val: Elementwise(
        lambda z: np.clip(z, min_val, max_val),
        lambda z, a, g: g * ((z > min_val) & (z < max_val)), plain_terms),  # 0 at the edges
    "softsign": lambda: Elementwise(lambda z: z / (1 + np.abs(z)),
                                    lambda z, a, g: g / (1 + np.abs(z)) ** 2, plain_terms),
    "softmax": _softmax,
    "log_softmax": _log_softmax,
}


def activation(name: str, settings: dict) -> Elementwise | PerSample:
    return ACTIVATIONS[name](**settings)


# -- losses -----------------------------------------------------------------------------------
def no_curvature(out: Array, y, m: Array, count: int) -> Array:
    """A gradient that does not depend on the output (or only on its sign)."""
    return np.zeros_like(out)


def _one_hot(y: Array, like: Array) -> Array:
    """Class targets as one-hot rows: indices are expanded, one-hot rows pass through."""
    if y.ndim == 1:
        return np.eye(like.shape[1], dtype=like.dtype)[y]
    return y.astype(like.dtype)


def _measured(terms: Callable[[Array, Array | None], tuple[Array, Array]]) -> Callable:
    """The curvature of an element-wise loss by central differences of its own gradient, divided
    by count before the difference as the reduced gradient is (moving every element at once is
    exact for a diagonal Hessian)."""
    def curvature(out, y, m, count):
        h = 1e-5 * np.maximum(1.0, np.abs(out))
        with np.errstate(all="ignore"):
            up = terms(out + h, y)[1] / count
            down = terms(out - h, y)[1] / count
            return np.nan_to_num(np.abs(up - down) / (2 * h), nan=0.0, posinf=0.0) * m
    return curvature


def _mse(out, y):
    d = out - y
    return d * d, 2 * d


def _l1(out, y):
    d = out - y
    return np.abs(d), np.sign(d)


def _huber(delta: float) -> Loss:
    def terms(out, y):
        d = out - y
        small = np.abs(d) <= delta
        return (np.where(small, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta)),
                np.where(small, d, delta * np.sign(d)))
    return Loss(terms, lambda out, y, m, count:
                np.where(np.abs(out - y) <= delta, m, 0.0) / count)


def _smooth_l1(beta: float) -> Loss:
    def terms(out, y):
        d = out - y
        small = np.abs(d) < beta
        return (np.where(small, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta),
                np.where(small, d / beta, np.sign(d)))
    return Loss(terms, lambda out, y, m, count:
                np.where(np.abs(out - y) < beta, m / beta, 0.0) / count)


def _bce(p, y):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)), -y / p + (1 - y) / (1 - p)


def _bce_curvature(p, y, m, count):
    with np.errstate(divide="ignore", invalid="ignore"):
        curvature = y / p ** 2 + (1 - y) / (1 - p) ** 2
    return curvature * m / count


def _bce_with_logits(z, y):
    # −[y log σ(z) + (1−y) log(1−σ(z))] = max(z, 0) − z·y + log(1 + e^−|z|)
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), sigmoid(z) - y


def _bce_with_logits_curvature(z, y, m, count):
    s = sigmoid(z)
    return s * (1 - s) * m / count


def _poisson_nll(out, y):
    rate = np.exp(out)
    return rate - y * out, rate - y


def _kl_div(out, y):
    with np.errstate(divide="ignore"):
        log_y = np.where(y > 0, np.log(np.where(y > 0, y, 1)), 0)
    return (y * (log_y - out)).sum(axis=1), -y.astype(out.dtype)


def _cross_entropy(out, y):
    t = _one_hot(y, out)
    return -(t * log_softmax(out)).sum(axis=1), softmax(out) * t.sum(axis=1, keepdims=True) - t


def _cross_entropy_curvature(out, y, m, count):
    s = softmax(out)
    weight = _one_hot(y, out).sum(axis=1, keepdims=True)
    return weight * (s * m + s * (s * m).sum(axis=-1, keepdims=True)) / count


def _nll(out, y):
    t = _one_hot(y, out)
    picked = t > 0
    with np.errstate(divide="ignore"):
        per_sample = -(t * np.log(np.where(picked, out, 1))).sum(axis=1)
    grad = np.zeros_like(out)
    grad[picked] = -t[picked] / out[picked]
    return per_sample, grad


def _nll_curvature(out, y, m, count):
    target = _one_hot(y, out)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(target > 0, target / out ** 2, 0.0) * m / count


# name -> its settings but the reduction -> its entry
LOSSES: dict[str, Callable[..., Loss]] = {
    "sum": lambda: Loss(lambda out, y: (out, np.ones_like(out)), no_curvature),
    "mse": lambda: Loss(_mse, lambda out, y, m, count: 2 * m / count),
    "l1": lambda: Loss(_l1, no_curvature),
    "huber": _huber,
    "smooth_l1": _smooth_l1,
    "bce": lambda: Loss(_bce, _bce_curvature),
    "bce_with_logits": lambda: Loss(_bce_with_logits, _bce_with_logits_curvature),
    "poisson_nll": lambda: Loss(_poisson_nll, _measured(_poisson_nll)),
    "cross_entropy": lambda: Loss(_cross_entropy, _cross_entropy_curvature),
    "nll": lambda: Loss(_nll, _nll_curvature),
    "kl_div": lambda: Loss(_kl_div, no_curvature),
}


def loss(name: str, settings: dict) -> Loss:
    """The entry of a loss with its settings; the reduction is applied by the caller."""
    return LOSSES[name](**{k: v for k, v in settings.items() if k != "reduction"})
