"""The optimizers of harness.format.catalog written for micrograd, which has none of its own.

Written the way a micrograd user writes them: a loop over the parameter Values that updates each
``p.data`` in place from ``p.grad``, in plain Python floats, with the state (moments, momentum
buffers) kept in lists parallel to the parameters. Nothing here shares code with the reference's
NumPy optimizers (harness/adapters/numpy_optim.py), so a bug there cannot pass micrograd unnoticed.

``make(spec, params)`` builds the optimizer of a case for a list of Values; call ``step()`` after
each ``backward()``, one optimizer object per run.
"""
from __future__ import annotations

import math
from typing import Sequence


def _sqrt(x: float) -> float:
    """√x, NaN below zero (as NumPy and torch give) rather than math's ValueError."""
    return math.sqrt(x) if x >= 0 else math.nan


class _Optimizer:
    """Holds the parameter Values, the settings and the step count t (1 at the first step)."""

    def __init__(self, params: Sequence, settings: dict):
        self.params = list(params)
        self.s = dict(settings)
        self.t = 0

    def step(self) -> None:
        self.t += 1
        for i, p in enumerate(self.params):
            p.data = self._update(i, float(p.data), float(p.grad))

    def _update(self, i: int, p: float, g: float) -> float:
        raise NotImplementedError


class SGD(_Optimizer):
    """Stochastic gradient descent, torch's variant.

    g ← g + weight_decay·p; with momentum: b ← g at the first step (undamped), afterwards
    b ← momentum·b + (1 − dampening)·g, and g ← g + momentum·b (nesterov) or g ← b;
    then p ← p − lr·g.
    """

    def __init__(self, params: Sequence, settings: dict):
        super().__init__(params, settings)
        self.buffer: list[float | None] = [None] * len(self.params)

    def _update(self, i: int, p: float, g: float) -> float:
        lr, momentum = self.s["lr"], self.s["momentum"]
        if self.s["weight_decay"]:
            g = g + self.s["weight_decay"] * p
        if momentum:
            if self.buffer[i] is None:
                self.buffer[i] = g
            else:
                self.buffer[i] = momentum * self.buffer[i] + (1 - self.s["dampening"]) * g
            g = g + momentum * self.buffer[i] if self.s["nesterov"] else self.buffer[i]
        return p - lr * g


class Adam(_Optimizer):
    """Adam, weight decay as an L2 term added to the gradient.

    g ← g + weight_decay·p; m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
    with amsgrad v_max ← max(v_max, v) (of the raw v) is used in place of v;
    m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t); p ← p − lr·m̂ / (√v̂ + eps).
    """

    decoupled = False

    def __init__(self, params: Sequence, settings: dict):
        super().__init__(params, settings)
        n = len(self.params)
        self.m, self.v, self.v_max = [0.0] * n, [0.0] * n, [0.0] * n

    def _update(self, i: int, p: float, g: float) -> float:
        s = self.s
        lr, beta1, beta2 = s["lr"], s["beta1"], s["beta2"]
        if self.decoupled:
            p = p * (1 - lr * s["weight_decay"])
        elif s["weight_decay"]:
            g = g + s["weight_decay"] * p
        self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
        self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
        second = self.v[i]
        if s["amsgrad"]:
            if math.isnan(second) or second > self.v_max[i]:  # NaN carries on, as in torch
                self.v_max[i] = second
            second = self.v_max[i]
        m_hat = self.m[i] / (1 - beta1 ** self.t)
        v_hat = second / (1 - beta2 ** self.t)
        return p - lr * m_hat / (_sqrt(v_hat) + s["eps"])


class AdamW(Adam):
    """AdamW: Adam without the L2 term; the decay is decoupled and applied first,
    p ← p·(1 − lr·weight_decay), then the Adam step from the gradient alone."""

    decoupled = True


class RMSprop(_Optimizer):
    """RMSprop, torch's variant (eps outside the root).

    g ← g + weight_decay·p; v ← alpha·v + (1 − alpha)·g²; centered: ḡ ← alpha·ḡ + (1 − alpha)·g
    and the denominator is √(v − ḡ²) + eps, else √v + eps; u = g / denominator;
    with momentum b ← momentum·b + u (b starts at 0) and u = b; p ← p − lr·u.
    """

    def __init__(self, params: Sequence, settings: dict):
        super().__init__(params, settings)
        n = len(self.params)
        self.v, self.mean, self.buffer = [0.0] * n, [0.0] * n, [0.0] * n

    def _update(self, i: int, p: float, g: float) -> float:
        s = self.s
        alpha = s["alpha"]
        if s["weight_decay"]:
            g = g + s["weight_decay"] * p
        self.v[i] = alpha * self.v[i] + (1 - alpha) * g * g
        second = self.v[i]
        if s["centered"]:
            self.mean[i] = alpha * self.mean[i] + (1 - alpha) * g
            second = self.v[i] - self.mean[i] * self.mean[i]
        u = g / (_sqrt(second) + s["eps"])
        if s["momentum"]:
            self.buffer[i] = s["momentum"] * self.buffer[i] + u
            u = self.buffer[i]
        return p - s["lr"] * u


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def make(spec, params: Sequence) -> _Optimizer:
    """The optimizer a case names (``spec``: harness.format.case.OptimizerSpec, settings with defaults
    filled in) for the parameter Values ``params``."""
    try:
        cls = OPTIMIZERS[spec.name]
    except KeyError:
        raise ValueError(f"optimizer {spec.name!r} is not written for micrograd") from None
    return cls(params, spec.settings)
