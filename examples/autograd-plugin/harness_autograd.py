"""HIPS autograd (reverse mode over NumPy) as a plug-in framework of the conformance harness.

A plug-in needs nothing from the harness but its public adapter interface
(harness.adapters.base) and the Trace it returns (harness.trace). tinygrad was the first choice;
its CPU device needs clang or LLVM, which the development and CI machines lack ("no usable
devices"), so this example uses autograd, which runs wherever NumPy does.

Known convention: autograd differentiates numpy.maximum by splitting the gradient at a tie, so
relu'(0) is 0.5 here, where torch, JAX and micrograd give 0.
"""
from __future__ import annotations

from harness.adapters.base import Availability, package_availability
from harness.case import Case, Inputs
from harness.trace import Step, Trace, as_float64


def _activation(name: str):
    import autograd.numpy as anp

    def softmax(z):
        e = anp.exp(z - anp.max(z, axis=-1, keepdims=True))
        return e / anp.sum(e, axis=-1, keepdims=True)

    return {
        "identity": lambda z: z,
        "sigmoid": lambda z: 1 / (1 + anp.exp(-z)),
        "tanh": anp.tanh,
        "relu": lambda z: anp.maximum(z, 0.0),
        "softmax": softmax,
    }[name]


def _loss(name: str, out, y):
    import autograd.numpy as anp

    def log_softmax(z):
        shifted = z - anp.max(z, axis=-1, keepdims=True)
        return shifted - anp.log(anp.sum(anp.exp(shifted), axis=-1, keepdims=True))

    def targets():
        return anp.eye(out.shape[1], dtype=out.dtype)[y] if y.ndim == 1 else y

    if name == "sum":
        return anp.sum(out)
    if name == "mse":
        return anp.mean((out - y) ** 2)
    if name == "bce":
        return -anp.mean(y * anp.log(out) + (1 - y) * anp.log(1 - out))
    if name == "bce_with_logits":
        return anp.mean(anp.logaddexp(0, out) - out * y)
    if name == "cross_entropy":
        return -anp.sum(targets() * log_softmax(out)) / out.shape[0]
    if name == "nll":
        return -anp.sum(targets() * anp.log(out)) / out.shape[0]
    raise ValueError(f"loss {name!r} is not mapped to autograd")


class AutogradAdapter:
    name = "autograd"

    def availability(self) -> Availability:
        return package_availability("autograd")

    def supports(self, case: Case) -> str | None:
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        from autograd import value_and_grad

        activations = [_activation(layer.activation) for layer in case.layers]

        def forward(params, x):
            a = x
            for i, act in enumerate(activations):
                a = act(a @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"])
            return a

        loss_and_grads = value_and_grad(lambda p: _loss(case.loss, forward(p, inputs.x), inputs.y))
        params = dict(inputs.params)
        steps = []
        for _ in range(case.steps):
            output = forward(params, inputs.x)
            loss, grads = loss_and_grads(params)
            params = {k: p - case.optimizer.lr * grads[k] for k, p in params.items()}
            steps.append(Step(as_float64(output), as_float64(loss),
                              {k: as_float64(grads[k]) for k in case.param_names},
                              {k: as_float64(params[k]) for k in case.param_names}))
        return Trace(self.name, steps)
