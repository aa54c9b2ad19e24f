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
import sys
from typing import Callable, Sequence

import numpy as np

from ..format import catalog, numerics
from ..format.case import Case, Inputs, bias_name, weight_name
from ..format.catalog import SELU_ALPHA, SELU_SCALE
from ..format.trace import Step, Trace, as_float64
from . import micrograd_optim
from .base import Availability, package_availability

MAX_NODES = 2_000_000  # scalar graph nodes over all steps: about 3 s of micrograd
MAX_DEPTH = 20_000  # graph depth its recursive backward may reach (the recursion limit is raised)

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
def log1p(v):
    """log(1 + v), exact where 1 + v would round to 1 (softplus far below 0)."""
    out = _Value()(math.log1p(v.data) if v.data > -1 else _log_or_nan(1 + v.data), (v,), "log1p")

    def _backward():
        v.grad += out.grad / (1 + v.data) if v.data != -1 else -math.copysign(math.inf, out.grad)
    out._backward = _backward
    return out


@_added
def expm1(v):
    """e^v − 1, exact where e^v rounds to 1 (elu, selu and celu just below 0)."""
    out = _Value()(math.expm1(v.data) if v.data < 709 else math.inf, (v,), "expm1")

    def _backward():
        v.grad += (out.data + 1) * out.grad
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
def erf(v):
    out = _Value()(math.erf(v.data), (v,), "erf")

    def _backward():
        v.grad += 2 / math.sqrt(math.pi) * math.exp(-v.data * v.data) * out.grad
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
    """log(1 + e^z), by the branch that cannot overflow, with log1p: log(1 + e^z) would round
    1 + e^z to 1 below z ≈ −37 and lose the value (mish's tanh(softplus(z)) term with it)."""
    if z.data > 0:
        return z + log1p(exp(-z))
    return log1p(exp(z))


def softmax(zs: list) -> list:
    m = max(z.data for z in zs)  # a constant shift: softmax is unchanged, exp cannot overflow
    es = [exp(z - m) for z in zs]
    total = balanced_sum(es)
    return [e / total for e in es]


def log_softmax(zs: list) -> list:
    m = max(z.data for z in zs)
    lse = log(balanced_sum([exp(z - m) for z in zs])) + m
    return [z - lse for z in zs]


def _abs(v):
    """|v| by branch; at 0 the derivative is 0, as sign(0) = 0."""
    return v if v.data > 0 else (-v if v.data < 0 else v * 0)


def _constant(x: float):
    return _Value()(x)  # no parents: no gradient flows through it


def _per_value(fn: Callable) -> Callable:
    return lambda zs, s: [fn(z, s) for z in zs]


SQRT_HALF = 1 / math.sqrt(2)
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)

# name -> (function of a row of Values and the settings, the added ops it uses)
ACTIVATIONS: dict[str, tuple[Callable, set[str]]] = {
    "identity": (lambda zs, s: zs, set()),
    "sigmoid": (_per_value(lambda z, s: sigmoid(z)), {"sigmoid"}),
    "tanh": (_per_value(lambda z, s: tanh(z)), {"tanh"}),
    "relu": (_per_value(lambda z, s: z.relu()), set()),
    "leaky_relu": (_per_value(lambda z, s: z if z.data > 0 else z * s["slope"]), set()),
    "elu": (_per_value(lambda z, s: z if z.data > 0 else expm1(z) * s["alpha"]), {"expm1"}),
    "selu": (_per_value(lambda z, s: (z if z.data > 0 else expm1(z) * SELU_ALPHA)
                        * SELU_SCALE), {"expm1"}),
    "celu": (_per_value(lambda z, s: z if z.data > 0 else expm1(z / s["alpha"]) * s["alpha"]),
             {"expm1"}),
    "gelu": (_per_value(lambda z, s: z * 0.5 * (1 + erf(z * SQRT_HALF)) if s["approximate"] == "none"
                        else z * 0.5 * (1 + tanh((z + z ** 3 * 0.044715) * SQRT_2_OVER_PI))),
             {"erf", "tanh"}),
    "softplus": (_per_value(lambda z, s: softplus(z * s["beta"]) / s["beta"]), {"exp", "log1p"}),
    "silu": (_per_value(lambda z, s: z * sigmoid(z)), {"sigmoid"}),
    "mish": (_per_value(lambda z, s: z * tanh(softplus(z))), {"exp", "log1p", "tanh"}),
    "hardtanh": (_per_value(lambda z, s: z if s["min_val"] < z.data < s["max_val"]
                            else _constant(min(max(z.data, s["min_val"]), s["max_val"]))), set()),
    "softsign": (_per_value(lambda z, s: z / (1 + _abs(z))), set()),
    "softmax": (lambda zs, s: softmax(zs), {"exp"}),
    "log_softmax": (lambda zs, s: log_softmax(zs), {"exp", "log"}),
}
def _ops(layer) -> set[str]:
    """The added ops one layer's activation uses."""
    if layer.activation == "gelu":
        return {"erf"} if layer.settings["approximate"] == "none" else {"tanh"}
    return ACTIVATIONS[layer.activation][1]


LOSS_OPS = {"sum": set(), "mse": set(), "l1": set(), "huber": set(), "smooth_l1": set(),
            "bce": {"log"}, "bce_with_logits": {"exp", "log1p"}, "poisson_nll": {"exp"},
            "cross_entropy": {"exp", "log"},
            "nll": {"log"}, "kl_div": set()}


def _element_loss(name: str, s: dict, o, t: float):
    if name == "mse":
        return (o - t) ** 2
    if name == "l1":
        return _abs(o - t)
    if name == "huber":
        d = o - t
        return d ** 2 * 0.5 if abs(d.data) <= s["delta"] else (_abs(d) - 0.5 * s["delta"]) * s["delta"]
    if name == "smooth_l1":
        d = o - t
        return d ** 2 * (0.5 / s["beta"]) if abs(d.data) < s["beta"] else _abs(d) - 0.5 * s["beta"]
    if name == "bce":
        return -(log(o) * t + log(1 - o) * (1 - t))
    if name == "bce_with_logits":
        return softplus(o) - o * t
    if name == "poisson_nll":
        return exp(o) - o * t
    raise ValueError(f"loss {name!r} is not mapped to micrograd")


def _sample_loss(name: str, settings: dict, out: list, y) -> object:
    """The loss summed over one sample's outputs (the reduction is applied over the batch later)."""
    if name == "sum":
        return balanced_sum(out)
    if name == "kl_div":  # Σ y·(log y − out): y·log y is a constant
        return balanced_sum([(t * math.log(t) if t > 0 else 0.0) - o * t for o, t in zip(out, y)])
    if catalog.LOSSES[name].reduced_over == catalog.ELEMENTS:
        return balanced_sum([_element_loss(name, settings, o, t) for o, t in zip(out, y)])
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


def graph_depth(case: Case) -> int:
    """The longest path through the graph: per layer a balanced sum over the fan-in and a few
    ops of the activation; then the loss, summed over units and the batch."""
    fan_in, depth = case.x.shape[1], 0
    for layer in case.layers:
        depth += math.ceil(math.log2(max(fan_in, 2))) + 12
        fan_in = layer.units
    return depth + math.ceil(math.log2(max(fan_in, 2))) + math.ceil(math.log2(case.batch + 1)) + 24


# What the adapter takes from micrograd, looked up per case (harness.adapters.requires): its
# Value (every op added here builds one with its parents) and, for relu, Value.relu.
VALUE_NEEDS = (("micrograd.engine.Value(_children)",),)


def lacking(case: Case) -> str | None:
    """What this micrograd lacks of what the case uses (a skip), or None."""
    from . import requires

    wanted = {"every case": VALUE_NEEDS}
    if any(layer.activation == "relu" for layer in case.layers):
        wanted["activation relu"] = (("micrograd.engine.Value.relu",),)
    return requires.lacking(wanted)


class MicrogradAdapter:
    name = "micrograd"

    def availability(self) -> Availability:
        return package_availability("micrograd")

    def prepare(self) -> None:
        """micrograd's import: outside the time limit (harness.running.jobs)."""
        import micrograd.engine  # noqa: F401

    def supports(self, case: Case) -> str | None:
        missing = lacking(case)
        if missing:
            return missing
        if len(case.dtypes) == 1 and numerics.of(case.dtype).mixed:
            return (f"{case.dtype}: micrograd has Python floats only, so no low-precision "
                    f"forward to mix with float32 master weights (under bfloat16 and float16 it "
                    f"takes part in float64, as the reference computes)")
        nodes = estimated_nodes(case)
        if nodes > MAX_NODES:
            return (f"too large for a scalar engine: about {nodes:,} graph nodes "
                    f"(micrograd runs at most {MAX_NODES:,})")
        depth = graph_depth(case)
        if depth > MAX_DEPTH:
            return (f"too deep for micrograd's recursive backward: a graph about {depth:,} nodes "
                    f"deep (at most {MAX_DEPTH:,})")
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        Value = _Value()
        params = {k: [[Value(float(v)) for v in row] for row in w.reshape(w.shape[0], -1)]
                  for k, w in inputs.params.items()}
        flat = {k: [v for row in rows for v in row] for k, rows in params.items()}
        x = inputs.x.astype(np.float64).tolist()  # Python floats, whatever the dtype given
        y = None if inputs.y is None else numerics.targets64(inputs.y).tolist()
        n = case.batch
        parameters = [v for values in flat.values() for v in values]  # canonical order
        optimizer = micrograd_optim.make(case.optimizer, parameters)  # its own, not the reference's
        used = set(LOSS_OPS[case.loss])
        for layer in case.layers:
            used |= _ops(layer)

        def forward(row: list) -> list:
            a = [Value(v) for v in row]
            for i, layer in enumerate(case.layers):
                weight, bias = params[weight_name(i)], flat[bias_name(i)]
                z = [balanced_sum([w * ai for w, ai in zip(weight[j], a)]) + bias[j]
                     for j in range(layer.units)]
                a = ACTIVATIONS[layer.activation][0](z, layer.settings)
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
                per_sample = [_sample_loss(case.loss, case.loss_settings, out,
                                           None if y is None else y[s])
                              for s, out in enumerate(outs)]
                loss = balanced_sum(per_sample)
                if case.loss_settings.get("reduction") == "mean":
                    per_element = catalog.LOSSES[case.loss].reduced_over == catalog.ELEMENTS
                    loss = loss / (n * case.layers[-1].units if per_element else n)
                limit = sys.getrecursionlimit()
                sys.setrecursionlimit(max(limit, 2 * graph_depth(case) + 1_000))
                try:
                    loss.backward()  # micrograd's own: a recursive topological sort
                finally:
                    sys.setrecursionlimit(limit)
                grads = {k: as_float64([v.grad for v in vs]).reshape(inputs.params[k].shape)
                         for k, vs in flat.items()}
                optimizer.step()  # updates each Value's data in place from its grad
                steps.append(Step(as_float64([[o.data for o in out] for out in outs]),
                                  as_float64(loss.data), grads,
                                  {k: as_float64([v.data for v in vs]).reshape(inputs.params[k].shape)
                                   for k, vs in flat.items()}))
                _release(loss)
                del outs, per_sample, loss
        finally:
            if gc_was_enabled:
                gc.enable()
        notes = []
        if used:
            notes.append("ops added to micrograd (not native): " + ", ".join(sorted(used)))
        if case.dtype != "float64":
            notes.append(f"{case.dtype} computed in float64 from the {case.dtype} inputs: "
                         f"micrograd has Python floats only")
        notes.append("sums gradients in an order that follows memory addresses (Value._prev is "
                     "a set): last-bit differences between runs, never a different verdict")
        return Trace(self.name, steps, tuple(notes))
