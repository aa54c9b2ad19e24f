"""HIPS autograd (reverse mode over NumPy) as a plug-in framework of the conformance harness.

A plug-in needs nothing from the harness but its public adapter interface
(harness.adapters.base) and the Trace it returns (harness.format.trace). tinygrad was the first choice;
its CPU device needs clang or LLVM, which the development and CI machines lack ("no usable
devices"), so this example uses autograd, which runs wherever NumPy does.

Known convention: autograd differentiates numpy.maximum by splitting the gradient at a tie, so
relu'(0) is 0.5 here, where torch, JAX and micrograd give 0.
"""
from __future__ import annotations

import numpy as np

from harness.adapters.base import Availability, package_availability
from harness.format.case import Case, Inputs
from harness.format.catalog import SELU_ALPHA, SELU_SCALE
from harness.adapters.numpy_optim import NumpyOptimizer
from harness.format.trace import Step, Trace, as_float64

LOSSES = ("sum", "mse", "l1", "huber", "smooth_l1", "bce", "bce_with_logits", "poisson_nll",
          "cross_entropy", "nll", "kl_div")


def _log_softmax(z):
    import autograd.numpy as anp

    shifted = z - anp.max(z, axis=-1, keepdims=True)
    return shifted - anp.log(anp.sum(anp.exp(shifted), axis=-1, keepdims=True))


def _activations(s: dict) -> dict:
    """Each activation autograd runs, by catalog name, with the given settings."""
    import autograd.numpy as anp

    def sigmoid(z):
        return 1 / (1 + anp.exp(-z))

    def softplus(z, beta=1.0):
        return anp.logaddexp(0, beta * z) / beta

    def elu(z, alpha, scale=1.0):
        return scale * anp.where(z > 0, z, alpha * (anp.exp(anp.minimum(z, 0)) - 1))

    def softmax(z):
        e = anp.exp(z - anp.max(z, axis=-1, keepdims=True))
        return e / anp.sum(e, axis=-1, keepdims=True)

    def gelu_tanh(z):
        return 0.5 * z * (1 + anp.tanh(anp.sqrt(2 / anp.pi) * (z + 0.044715 * z ** 3)))

    return {
        "identity": lambda z: z,
        "sigmoid": sigmoid,
        "tanh": anp.tanh,
        "relu": lambda z: anp.maximum(z, 0.0),
        "leaky_relu": lambda z: anp.where(z > 0, z, s.get("slope") * z),
        "elu": lambda z: elu(z, s.get("alpha")),
        "selu": lambda z: elu(z, SELU_ALPHA, SELU_SCALE),
        "celu": lambda z: anp.where(z > 0, z,
                                    s.get("alpha") * anp.expm1(anp.minimum(z, 0) / s.get("alpha"))),
        "gelu": gelu_tanh,
        "softplus": lambda z: softplus(z, s.get("beta")),
        "silu": lambda z: z * sigmoid(z),
        "mish": lambda z: z * anp.tanh(softplus(z)),
        "hardtanh": lambda z: anp.clip(z, s.get("min_val"), s.get("max_val")),
        "softsign": lambda z: z / (1 + anp.abs(z)),
        "softmax": softmax,
        "log_softmax": _log_softmax,
    }


def _loss(name: str, settings: dict, out, y):
    import autograd.numpy as anp

    def targets():
        return anp.eye(out.shape[1], dtype=out.dtype)[y] if y.ndim == 1 else y

    reduce = anp.mean if settings.get("reduction") == "mean" else anp.sum
    if name == "sum":
        return anp.sum(out)
    if name in ("cross_entropy", "nll", "kl_div"):  # summed per sample, reduced over the batch
        if name == "kl_div":
            log_y = anp.log(anp.where(y > 0, y, 1.0))
            per_sample = anp.sum(y * (log_y - out), axis=1)
        else:
            logp = _log_softmax(out) if name == "cross_entropy" else anp.log(out)
            per_sample = -anp.sum(targets() * logp, axis=1)
        return reduce(per_sample)
    if name == "poisson_nll":
        return reduce(anp.exp(out) - y * out)
    d = out - y
    if name == "mse":
        return reduce(d ** 2)
    if name == "l1":
        return reduce(anp.abs(d))
    if name == "huber":
        delta = settings["delta"]
        return reduce(anp.where(anp.abs(d) <= delta, 0.5 * d ** 2,
                                delta * (anp.abs(d) - 0.5 * delta)))
    if name == "smooth_l1":
        beta = settings["beta"]
        return reduce(anp.where(anp.abs(d) < beta, 0.5 * d ** 2 / beta, anp.abs(d) - 0.5 * beta))
    if name == "bce":
        return reduce(-(y * anp.log(out) + (1 - y) * anp.log(1 - out)))
    if name == "bce_with_logits":
        return reduce(anp.logaddexp(0, out) - out * y)
    raise ValueError(f"loss {name!r} is not mapped to autograd")


class AutogradAdapter:
    name = "autograd"

    def availability(self) -> Availability:
        return package_availability("autograd")

    def prepare(self) -> None:
        """Optional: the import, done before the first timed job of a worker."""
        import autograd  # noqa: F401

    def supports(self, case: Case) -> str | None:
        for layer in case.layers:
            if layer.activation not in _activations(layer.settings):
                return f"activation {layer.activation!r} is not mapped to autograd"
            if layer.activation == "gelu" and layer.settings["approximate"] != "tanh":
                return "exact gelu needs erf, which autograd takes from scipy (not installed)"
        if case.loss not in LOSSES:
            return f"loss {case.loss!r} is not mapped to autograd"
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        from autograd import value_and_grad

        activations = [_activations(layer.settings)[layer.activation] for layer in case.layers]
        optimizer = NumpyOptimizer(case.optimizer)  # autograd has no optimizers: the harness's own

        def forward(params, x):
            a = x
            for i, act in enumerate(activations):
                a = act(a @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"])
            return a

        loss_and_grads = value_and_grad(
            lambda p: _loss(case.loss, case.loss_settings, forward(p, inputs.x), inputs.y))
        params = dict(inputs.params)
        # saturated cases make inf and NaN on purpose: they are compared, not warned about
        with np.errstate(all="ignore"):
            return Trace(self.name, self._train(case, forward, loss_and_grads, optimizer, params,
                                                inputs.x))

    @staticmethod
    def _train(case, forward, loss_and_grads, optimizer, params, x):
        steps = []
        for _ in range(case.steps):
            output = forward(params, x)
            loss, grads = loss_and_grads(params)
            params = optimizer.step(params, grads)
            steps.append(Step(as_float64(output), as_float64(loss),
                              {k: as_float64(grads[k]) for k in case.param_names},
                              {k: as_float64(params[k]) for k in case.param_names}))
        return steps
