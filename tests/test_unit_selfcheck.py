"""Unit tests of harness.oracles.selfcheck: a party's gradients against finite differences of its
own loss. Hand-made parties built on the NumPy reference's forward and backward: one consistent,
one with a factor-2 error in one gradient, one whose loss and gradients are wrong together."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from harness.adapters import numpy_ref as ref
from harness.adapters.numpy_ref import NumpyAdapter
from harness.format.loader import load_case
from harness.oracles import selfcheck
from harness.verdicts.compare import FAIL, INCONCLUSIVE, PASS, Context

NAMES = ["numpy", "torch", "jax", "micrograd", "mine"]
W0, B0, W1, B1 = "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"


class Mine:
    """A party with its own forward_backward (as an --impl file has): the reference's, with
    ``grad_factor`` on some gradients and ``loss_factor`` on the loss and every gradient."""

    name = "mine"

    def __init__(self, grad_factor: float = 1.0, tensors: tuple[str, ...] = (W0,),
                 loss_factor: float = 1.0):
        self.grad_factor, self.tensors, self.loss_factor = grad_factor, tensors, loss_factor
        self.calls = 0

    def forward_backward(self, case, params, x, y):
        self.calls += 1
        out, cache = ref.forward(case, params, x)
        loss, upstream = ref.loss_and_grad(case.loss, out, y, case.loss_settings)
        grads = ref.backward(case, params, cache, upstream)
        grads = {k: g * self.loss_factor * (self.grad_factor if k in self.tensors else 1.0)
                 for k, g in grads.items()}
        return out, loss * self.loss_factor, grads


def make(tmp_path, dtype: str = "float64", text: str | None = None):
    path = tmp_path / "case.yaml"
    path.write_text(textwrap.dedent(text or f"""\
        name: selfcheck
        dtype: {dtype}
        network: [{{units: 3, activation: tanh}}, {{units: 1, activation: identity}}]
        init: {{scheme: normal, std: 0.8, seed: 4}}
        data: {{x: [[0.5, -1.0], [1.5, 0.25]], y: [[0.3], [-0.7]]}}
        loss: mse
        optimizer: {{name: sgd, lr: 0.1}}
        """))
    case, problems = load_case(path, NAMES)
    assert case is not None, [str(p) for p in problems]
    case = case.for_dtype(case.dtypes[0])
    return case, case.inputs(case.dtype)


def context(dtype: str, framework: str = "mine") -> Context:
    return Context(case="selfcheck", file="case.yaml", dtype=dtype, framework=framework,
                   reference="self", judge=selfcheck.self_check_judge(dtype))


def check(party, case, inputs):
    return selfcheck.check(party, case, inputs, context(case.dtype, party.name))


def by_tensor(rows):
    return {r.tensor: r for r in rows}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients_that_are_the_derivative_of_the_loss_pass(tmp_path, dtype):
    case, inputs = make(tmp_path, dtype)
    party = Mine()
    rows = check(party, case, inputs)
    assert [r.tensor for r in rows] == [W0, B0, W1, B1]
    assert all(r.status == PASS for r in rows), [(r.tensor, r.message) for r in rows]
    assert all((r.reference, r.step, r.quantity) == ("self", 1, "grad") for r in rows)
    # every element of every tensor checked (11 parameters), four calls each, one at the start
    assert sum(r.size for r in rows) == 6 + 3 + 3 + 1
    assert party.calls == 1 + 4 * 13
    assert max(r.tol_used for r in rows) < 0.5


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_factor_two_in_one_gradient_fails_that_tensor_only(tmp_path, dtype):
    case, inputs = make(tmp_path, dtype)
    rows = by_tensor(check(Mine(grad_factor=2.0, tensors=(W1,)), case, inputs))
    assert {k: r.status for k, r in rows.items()} == {W0: PASS, B0: PASS, W1: FAIL, B1: PASS}
    failed = rows[W1]
    assert failed.suspect == "mine"
    assert failed.mismatched == 3 and failed.size == 3
    assert failed.message.startswith(selfcheck.MESSAGE)
    # the worst element: its value is twice what finite differences of the loss give
    assert failed.value == pytest.approx(2 * failed.reference_value, rel=1e-3)
    assert failed.hint.startswith(f"grad {W1} at step 1, element {failed.worst_index}: finite "
                                  "differences of your own loss give")
    assert failed.hint.endswith(selfcheck.MESSAGE + ".")


def test_a_wrong_loss_with_gradients_to_match_passes(tmp_path):
    """The self-check judges consistency, not correctness: a loss twice the reference's with
    gradients twice the reference's is its own derivative."""
    case, inputs = make(tmp_path)
    rows = check(Mine(loss_factor=2.0), case, inputs)
    assert [r.status for r in rows] == [PASS] * 4


def test_a_party_without_forward_backward_is_checked_through_one_training_step(tmp_path):
    case, inputs = make(tmp_path)
    numpy = NumpyAdapter()
    rows = selfcheck.check(numpy, case, inputs, context("float64", "numpy"))
    assert [r.status for r in rows] == [PASS] * 4


def test_a_kink_within_the_step_is_inconclusive(tmp_path):
    """relu at z = 0 exactly: every perturbation crosses the kink."""
    case, inputs = make(tmp_path, text="""\
        name: kink
        network: [{units: 1, activation: relu}]
        params: {layers.0.weight: [[1.0, -1.0]], layers.0.bias: [0.0]}
        data: {x: [[1.0, 1.0]]}
        loss: sum
        optimizer: {name: sgd, lr: 0.1}
        """)
    rows = check(Mine(grad_factor=2.0), case, inputs)
    assert [r.status for r in rows] == [INCONCLUSIVE, INCONCLUSIVE]
    assert "2 of 2 checked elements inconclusive: a kink lies within a finite-difference step" \
        in rows[0].message


def test_a_sample_of_a_large_tensor(tmp_path):
    case, inputs = make(tmp_path, text="""\
        name: sampled
        network: [{units: 3, activation: tanh}]
        init: {scheme: normal, std: 0.5, seed: 1}
        data: {x: [[0.5, -1.0]]}
        loss: sum
        optimizer: {name: sgd, lr: 0.1}
        finite_differences: {samples: 2}
        """)
    rows = by_tensor(check(Mine(grad_factor=2.0, tensors=(B0,)), case, inputs))
    assert rows[W0].status == PASS and rows[W0].size == 2
    assert "2 of 6 elements sampled" in rows[W0].message
    assert rows[B0].status == FAIL and rows[B0].size == 2
    assert "2 of 3 elements sampled" in rows[B0].message


def test_error_row():
    row = selfcheck.error_row(context("float64"), "it raised ValueError")
    assert (row.status, row.step, row.suspect, row.reference) == ("error", None, "mine", "self")
    assert row.message == "self-check: it raised ValueError"


def test_loss_function_returns_the_loss_as_a_float_and_the_gradients(tmp_path):
    case, inputs = make(tmp_path)
    call = selfcheck.loss_function(Mine(loss_factor=3.0), case, inputs)
    loss, grads = call(inputs.params)
    out, _ = ref.forward(case, inputs.params, inputs.x)
    expected = float(((out - inputs.y) ** 2).mean())
    assert isinstance(loss, float) and loss == pytest.approx(3 * expected, rel=1e-14)
    assert set(grads) == {W0, B0, W1, B1}
    np.testing.assert_allclose(selfcheck.loss_function(NumpyAdapter(), case, inputs)(
        inputs.params)[0], expected, rtol=1e-14)
