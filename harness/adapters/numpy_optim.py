"""The optimizers of harness.format.catalog written out in NumPy: the reference's, and the update an
--impl file without its own gets. micrograd has its own (harness/adapters/micrograd_optim.py).

``NumpyOptimizer.step(params, grads)`` returns the new parameters and keeps its state (moments, step
count) on the object, one object per run. Arithmetic stays in the parameters' dtype.
"""
from __future__ import annotations

import numpy as np

from ..format.case import OptimizerSpec

Tensors = dict[str, np.ndarray]


class NumpyOptimizer:
    def __init__(self, spec: OptimizerSpec):
        self.name = spec.name
        self.s = spec.settings
        self.t = 0
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self, params: Tensors, grads: Tensors) -> Tensors:
        self.t += 1
        update = getattr(self, f"_{self.name}")
        return {name: update(name, p, grads[name].astype(p.dtype)) for name, p in params.items()}

    def _slot(self, name: str, key: str, like: np.ndarray) -> np.ndarray:
        return self.state.setdefault(name, {}).setdefault(key, np.zeros_like(like))

    def _sgd(self, name: str, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        s = self.s
        if s["weight_decay"]:
            g = g + s["weight_decay"] * p
        if s["momentum"]:
            state = self.state.setdefault(name, {})
            if "buffer" not in state:
                state["buffer"] = g.copy()  # the first step takes the gradient, undamped
            else:
                state["buffer"] = s["momentum"] * state["buffer"] + (1 - s["dampening"]) * g
            g = g + s["momentum"] * state["buffer"] if s["nesterov"] else state["buffer"]
        return p - s["lr"] * g

    def _adam(self, name: str, p: np.ndarray, g: np.ndarray, decoupled: bool = False) -> np.ndarray:
        s = self.s
        if decoupled:
            p = p * (1 - s["lr"] * s["weight_decay"])
        elif s["weight_decay"]:
            g = g + s["weight_decay"] * p
        m = self._slot(name, "m", p)
        v = self._slot(name, "v", p)
        m[...] = s["beta1"] * m + (1 - s["beta1"]) * g
        v[...] = s["beta2"] * v + (1 - s["beta2"]) * g * g
        second = v
        if s["amsgrad"]:
            v_max = self._slot(name, "v_max", p)
            np.maximum(v_max, v, out=v_max)  # the maximum of the raw second moments
            second = v_max
        m_hat = m / (1 - s["beta1"] ** self.t)
        v_hat = second / (1 - s["beta2"] ** self.t)
        return p - s["lr"] * m_hat / (np.sqrt(v_hat) + s["eps"])

    def _adamw(self, name: str, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        return self._adam(name, p, g, decoupled=True)

    def _rmsprop(self, name: str, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        s = self.s
        if s["weight_decay"]:
            g = g + s["weight_decay"] * p
        v = self._slot(name, "v", p)
        v[...] = s["alpha"] * v + (1 - s["alpha"]) * g * g
        denominator = v
        if s["centered"]:
            mean = self._slot(name, "mean", p)
            mean[...] = s["alpha"] * mean + (1 - s["alpha"]) * g
            denominator = v - mean * mean
        u = g / (np.sqrt(denominator) + s["eps"])
        if s["momentum"]:
            b = self._slot(name, "buffer", p)
            b[...] = s["momentum"] * b + u
            u = b
        return p - s["lr"] * u

