"""Planted bugs in execution modes and low precision: each caught, and blamed on its party.

Each plant is the bug a framework or kernel author could write: a matrix product that
accumulates in bfloat16 where float32 is expected, master weights rounded to the compute dtype
and back (a rounding applied twice), a foreach optimizer whose update differs from the for-loop
one, a compiled step whose backward differs from eager. The clean run of the same case passes
(the same test asserts it), so what fails is the plant.
"""
from __future__ import annotations

import numpy as np
import pytest

from harness.adapters import known_parties, torch_ops, torch_step
from harness.format import numerics
from harness.format.loader import load_cases
from harness.running.runner import run_case

torch = pytest.importorskip("torch")


def failing(rows, **where):
    return [r for r in rows if r.status == "fail"
            and all(getattr(r, k) == v for k, v in where.items())]


def load(write_case, text: str):
    return load_cases([write_case(text)], known_parties())[0]


WIDE = """\
name: wide-positive
network:
  - {units: 4, activation: identity}
init: {scheme: uniform, low: 0.0, high: 0.05, seed: 11}
data:
  x: {random: uniform, low: 0.5, high: 1.0, shape: [4, 1024], seed: 12}
loss: sum
optimizer: {name: sgd, lr: 0.001}
steps: 1
dtype: bfloat16
"""


def test_a_bfloat16_accumulation_where_float32_is_expected_is_caught(monkeypatch, write_case):
    """1024 positive terms summed in bfloat16 stall (a term is below half an ulp of the sum),
    where torch and XLA accumulate in float32."""
    case = load(write_case, WIDE)
    clean = run_case(case, "bfloat16", ["numpy", "torch", "jax"]).rows
    assert not failing(clean)

    def linear(a, w, b):  # one term at a time, every partial sum rounded to bfloat16
        total = torch.zeros(a.shape[0], w.shape[0], dtype=a.dtype)
        for k in range(a.shape[1]):
            total = total + a[:, k:k + 1] * w[:, k]
        return total + b

    monkeypatch.setattr(torch.nn.functional, "linear", linear)  # what torch_ops.network calls
    rows = run_case(case, "bfloat16", ["numpy", "torch", "jax"]).rows
    bad = failing(rows, framework="torch", step=1, quantity="output")
    assert bad and bad[0].suspect == "torch"
    assert not failing(rows, framework="jax")


MIXED = """\
name: mixed-master
network:
  - {units: 6, activation: tanh}
  - {units: 2, activation: identity}
init: {scheme: xavier_uniform, seed: 21}
data:
  x: {random: normal, shape: [8, 4], seed: 22}
  y: {random: normal, shape: [8, 2], seed: 23}
loss: mse
optimizer: {name: sgd, lr: 0.001}
steps: 2
dtype: mixed-bfloat16
"""


def test_master_weights_rounded_twice_are_caught(monkeypatch, write_case):
    """float32 master weights rounded to bfloat16 and back after each update: the update,
    below half an ulp of bfloat16, is lost; mixed precision keeps it in float32."""
    case = load(write_case, MIXED)
    assert not failing(run_case(case, "mixed-bfloat16", ["numpy", "torch", "jax"]).rows)
    real = torch_step.make_step

    def rounding_twice(*args, **kwargs):
        forward_backward, update = real(*args, **kwargs)
        optimizer = args[2]

        def planted():
            update()
            with torch.no_grad():
                for group in optimizer.param_groups:
                    for p in group["params"]:
                        p.copy_(p.to(torch.bfloat16).to(p.dtype))
        return forward_backward, planted

    monkeypatch.setattr(torch_step, "make_step", rounding_twice)
    import harness.adapters.torch_adapter as adapter
    monkeypatch.setattr(adapter, "make_step", rounding_twice)
    rows = run_case(case, "mixed-bfloat16", ["numpy", "torch", "jax"]).rows
    bad = failing(rows, framework="torch", step=1, quantity="param")
    assert bad and all(r.suspect == "torch" for r in bad)
    assert not failing(rows, framework="jax")


def test_the_harness_rounds_once_where_twice_would_differ():
    """The one rounding rule: float64 straight to the low dtype. Through float32 first, these
    numbers round the other way (a tie made by the first rounding)."""
    traps = {"bfloat16": 1 + 2.0 ** -8 + 2.0 ** -30, "float16": 1 + 2.0 ** -11 + 2.0 ** -40}
    for dtype, value in traps.items():
        once = numerics.rounded64(np.array([value]), dtype)[0]
        twice = numerics.rounded64(np.array([value], dtype=np.float32).astype(np.float64),
                                   dtype)[0]
        assert once == 1 + 2 * numerics.unit_roundoff(dtype) and twice == 1.0


NESTEROV = """\
name: nesterov
network:
  - {units: 5, activation: tanh}
  - {units: 2, activation: identity}
init: {scheme: xavier_uniform, seed: 31}
data:
  x: {random: normal, shape: [6, 3], seed: 32}
  y: {random: normal, shape: [6, 2], seed: 33}
loss: mse
optimizer: {name: sgd, lr: 0.05, momentum: 0.9, nesterov: true}
steps: 2
dtype: float32
"""


def test_a_foreach_update_that_differs_from_the_for_loop_one_is_caught(monkeypatch, write_case):
    case = load(write_case, NESTEROV)
    parties = ["numpy", "torch", "torch+forloop", "torch+foreach"]
    assert not failing(run_case(case, "float32", parties).rows)
    real = torch_ops.optimizer_of

    def planted(spec, params, implementation=None):
        if implementation == "foreach":  # forgets nesterov: plain momentum
            spec = type(spec)(spec.name, dict(spec.settings, nesterov=False))
        return real(spec, params, implementation)

    import harness.adapters.torch_adapter as adapter
    monkeypatch.setattr(adapter, "optimizer_of", planted)
    rows = run_case(case, "float32", parties).rows
    bad = failing(rows, framework="torch+foreach", step=1, quantity="param")
    assert bad and all(r.suspect == "torch+foreach" for r in bad)
    assert not failing(rows, framework="torch") and not failing(rows, framework="torch+forloop")


TANH = """\
name: compiled-tanh
network:
  - {units: 4, activation: tanh}
  - {units: 1, activation: identity}
init: {scheme: xavier_uniform, seed: 41}
data:
  x: {random: normal, shape: [5, 3], seed: 42}
  y: {random: normal, shape: [5, 1], seed: 43}
loss: mse
optimizer: {name: sgd, lr: 0.1}
steps: 1
dtype: float32
"""


@pytest.mark.skipif(torch_step.compiler_problem("cpu") is not None,
                    reason="torch.compile needs a C++ compiler")
def test_a_compiled_backward_that_differs_from_eager_is_caught(monkeypatch, write_case):
    """Under torch.compile only, tanh's backward is 1 − a instead of 1 − a²: the compiled
    forward is right, its gradients are not, and eager torch is untouched."""
    case = load(write_case, TANH)

    class WrongTanh(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            a = torch.tanh(z)
            ctx.save_for_backward(a)
            return a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * (1 - a)

    real_make, real_activation = torch_step.make_step, torch_ops.activation_of

    def planted_make(forward, loss, optimizer, autocast_dtype=None, device_type="cpu",
                     compiled=False):
        if compiled:
            def wrong(params, x):
                a = x
                for i in range(2):
                    z = torch.nn.functional.linear(a, params[f"layers.{i}.weight"],
                                                   params[f"layers.{i}.bias"])
                    a = WrongTanh.apply(z) if i == 0 else z
                return a
            forward = wrong
        return real_make(forward, loss, optimizer, autocast_dtype, device_type, compiled)

    import harness.adapters.torch_adapter as adapter
    monkeypatch.setattr(adapter, "make_step", planted_make)
    rows = run_case(case, "float32", ["numpy", "torch", "torch+compile"]).rows
    grads = failing(rows, framework="torch+compile", step=1, quantity="grad")
    assert {r.tensor for r in grads} == {"layers.0.weight", "layers.0.bias"}
    assert all(r.suspect == "torch+compile" for r in grads)
    assert not failing(rows, framework="torch+compile", quantity="output")
    assert not failing(rows, framework="torch")
    assert real_activation is torch_ops.activation_of
