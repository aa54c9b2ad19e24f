"""micrograd: Karpathy's scalar autograd engine, one Value per number.

micrograd has +, *, ** (constant exponent) and relu. The ops it lacks are added below in its own
style: each builds its output Value and attaches its backward closure right there. The report
lists the added ops a case used, so nobody mistakes them for micrograd's own.

Two engine limits shape this adapter: its backward sorts the graph recursively, so sums are built
as balanced trees (depth log n, not n) to stay far from Python's recursion limit; and its graph
nodes form reference cycles, so the cycle collector is paused while a graph is alive and the
cycles are broken by hand after each step (the collector would cost far more than the step).
"""
from __future__ import annotations

import gc
import math
from typing import Callable, Sequence

from ..case import Case, Inputs
from ..trace import Step, Trace, as_float64
from .base import Availability, package_availability

MAX_NODES = 2_000_000  # scalar graph nodes over all steps: about 3 s of micrograd

ADDED_OPS: dict[str, Callable] = {}


def _added(fn: Callable) -> Callable:
    ADDED_OPS[fn.__name__] = fn
    return fn


def _Value():
    from micrograd.engine import Value

    return Value


def _exp_or_inf(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log_or_nan(x: float) -> float:
    if x == 0:
        return -math.inf
    return math.log(x) if x > 0 else math.nan


@_added
def exp(v):
    out = _Value()(_exp_or_inf(v.data), (v,), "exp")

    def _backward():
        v.grad += out.data * out.grad
    out._backward = _backward
    return out


@_added
def log(v):
    out = _Value()(_log_or_nan(v.data), (v,), "log")

    def _backward():
        v.grad += out.grad / v.data if v.data != 0 else -math.copysign(math.inf, out.grad)
    out._backward = _backward
    return out


@_added
def tanh(v):
    t = math.tanh(v.data)
    out = _Value()(t, (v,), "tanh")

    def _backward():
        v.grad += (1 - t * t) * out.grad
    out._backward = _backward
    return out


@_added
def sigmoid(v):
    e = math.exp(-abs(v.data))  # never overflows
    s = 1 / (1 + e) if v.data >= 0 else e / (1 + e)
    out = _Value()(s, (v,), "sigmoid")

    def _backward():
        v.grad += s * (1 - s) * out.grad
    out._backward = _backward
    return out


def balanced_sum(values: Sequence):
    """Σ values as a balanced tree: graph depth log2(n), so backward() never recurses deeply."""
    if len(values) == 1:
        return values[0]
    mid = len(values) // 2
    return balanced_sum(values[:mid]) + balanced_sum(values[mid:])


def softplus(z):
    """log(1 + e^z), by the branch that cannot overflow; exact derivative σ(z) on both."""
    if z.data > 0:
        return z + log(1 + exp(-z))
    return log(1 + exp(z))


def softmax(zs: list) -> list:
    m = max(z.data for z in zs)  # a constant shift: softmax is unchanged, exp cannot overflow
    es = [exp(z - m) for z in zs]
    total = balanced_sum(es)
    return [e / total for e in es]


def log_softmax(zs: list) -> list:
    m = max(z.data for z in zs)
    lse = log(balanced_sum([exp(z - m) for z in zs])) + m
    return [z - lse for z in zs]


ACTIVATIONS: dict[str, tuple[Callable, set[str]]] = {
    # name -> (function of a row of Values, the added ops it uses)
    "identity": (lambda zs: zs, set()),
    "sigmoid": (lambda zs: [sigmoid(z) for z in zs], {"sigmoid"}),
    "tanh": (lambda zs: [tanh(z) for z in zs], {"tanh"}),
    "relu": (lambda zs: [z.relu() for z in zs], set()),
    "softmax": (softmax, {"exp"}),
}
LOSS_OPS = {"sum": set(), "mse": set(), "bce": {"log"}, "bce_with_logits": {"exp", "log"},
            "cross_entropy": {"exp", "log"}, "nll": {"log"}}


def _sample_loss(name: str, out: list, y) -> object:
    """The loss summed over one sample's outputs (the mean is taken over the batch later)."""
    if name == "sum":
        return balanced_sum(out)
    if name == "mse":
        return balanced_sum([(o - t) ** 2 for o, t in zip(out, y)])
    if name == "bce":
        return balanced_sum([-(t * log(p) + (1 - t) * log(1 - p)) for p, t in zip(out, y)])
    if name == "bce_with_logits":
        return balanced_sum([softplus(z) - z * t for z, t in zip(out, y)])
    logp = log_softmax(out) if name == "cross_entropy" else [log(p) for p in out]
    if isinstance(y, int):
        return -logp[y]
    return -balanced_sum([lp * t for lp, t in zip(logp, y) if t != 0])


def _release(root) -> None:
    """Break the graph's reference cycles (each node's backward closure refers to the node) so
    reference counting frees it at once: a full gc.collect() per step costs ~0.2 s once torch
    and jax are loaded."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(node._prev)
        node._prev = ()
        node._backward = _noop


def _noop() -> None:
    pass


def estimated_nodes(case: Case) -> int:
    """Scalar Values one run builds: each weight is a multiply and an add per sample."""
    fan_in = case.x.shape[1]
    per_sample = 0
    for layer in case.layers:
        per_sample += layer.units * (2 * fan_in + 4)
        fan_in = layer.units
    return case.steps * case.batch * (per_sample + 8 * fan_in)


class MicrogradAdapter:
    name = "micrograd"

    def availability(self) -> Availability:
        return package_availability("micrograd")

    def supports(self, case: Case) -> str | None:
        nodes = estimated_nodes(case)
        if nodes > MAX_NODES:
            return (f"too large for a scalar engine: about {nodes:,} graph nodes "
                    f"(micrograd runs at most {MAX_NODES:,})")
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        Value = _Value()
        params = {k: [[Value(float(v)) for v in row] for row in w.reshape(w.shape[0], -1)]
                  for k, w in inputs.params.items()}
        flat = {k: [v for row in rows for v in row] for k, rows in params.items()}
        x = inputs.x.tolist()
        y = None if inputs.y is None else inputs.y.tolist()
        n = case.batch
        used = set(LOSS_OPS[case.loss])
        for layer in case.layers:
            used |= ACTIVATIONS[layer.activation][1]

        def forward(row: list) -> list:
            a = [Value(v) for v in row]
            for i, layer in enumerate(case.layers):
                weight, bias = params[f"layers.{i}.weight"], flat[f"layers.{i}.bias"]
                z = [balanced_sum([w * ai for w, ai in zip(weight[j], a)]) + bias[j]
                     for j in range(layer.units)]
                a = ACTIVATIONS[layer.activation][0](z)
            return a

        steps = []
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(case.steps):
                for values in flat.values():
                    for v in values:
                        v.grad = 0
                outs = [forward(row) for row in x]
                per_sample = [_sample_loss(case.loss, out, None if y is None else y[s])
                              for s, out in enumerate(outs)]
                total = balanced_sum(per_sample)
                if case.loss in ("mse", "bce", "bce_with_logits"):
                    loss = total / (n * case.layers[-1].units)
                elif case.loss == "sum":
                    loss = total
                else:
                    loss = total / n
                loss.backward()
                grads = {k: as_float64([v.grad for v in vs]).reshape(inputs.params[k].shape)
                         for k, vs in flat.items()}
                for k, values in flat.items():
                    for v in values:
                        v.data -= case.optimizer.lr * v.grad  # micrograd's own update, as in its demo
                steps.append(Step(as_float64([[o.data for o in out] for out in outs]),
                                  as_float64(loss.data), grads,
                                  {k: as_float64([v.data for v in vs]).reshape(inputs.params[k].shape)
                                   for k, vs in flat.items()}))
                _release(loss)
                del outs, per_sample, total, loss
        finally:
            if gc_was_enabled:
                gc.enable()
        notes = []
        if used:
            notes.append("ops added to micrograd (not native): " + ", ".join(sorted(used)))
        if case.dtype != "float64":
            notes.append(f"{case.dtype} computed in float64: micrograd has Python floats only")
        return Trace(self.name, steps, tuple(notes))
