"""Unit tests of harness.verdicts.inherited on a one-layer case computed by hand: what an sgd
update adds to the parameters' allowance, and what a later step inherits from it."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from harness.adapters.numpy_ref import NumpyAdapter
from harness.format.loader import load_case
from harness.verdicts.inherited import trajectory_allowances
from harness.verdicts.tolerance import Tolerance

NAMES = ["numpy", "torch", "jax", "micrograd"]
W, B = "layers.0.weight", "layers.0.bias"
OUT, LOSS = ("output", "output"), ("loss", "loss")
RTOL = 1e-9  # the allowances are differences of parameters: a few ulps of 4 on 0.002


def hand_case(tmp_path, loss: str = "sum", y: str = "", lr: float = 0.1, optimizer: str = ""):
    """z = 3·x0 − 4·x1 + 0.5 on x = [1, 2], two steps of sgd."""
    path = tmp_path / "case.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: hand
        network: [{{units: 1, activation: identity}}]
        params: {{{W}: [[3.0, -4.0]], {B}: [0.5]}}
        data: {{x: [[1.0, 2.0]]{y}}}
        loss: {loss}
        optimizer: {{name: sgd, lr: {lr}{optimizer}}}
        steps: 2
        """))
    case, problems = load_case(path, NAMES)
    assert case is not None, [str(p) for p in problems]
    case = case.for_dtype("float64")
    inputs = case.inputs("float64")
    return case, inputs, NumpyAdapter().run(case, inputs)


# magnitudes chosen by hand (those of the sum case: |x| for the weight's gradient, 1 for the
# bias's; |before| + |step| for the parameters)
MAGNITUDES = [
    {("grad", W): np.array([[1.0, 2.0]]), ("grad", B): np.array([1.0]),
     ("param", W): np.array([[3.1, 4.2]]), ("param", B): np.array([0.6])},
    {("grad", W): np.array([[1.0, 2.0]]), ("grad", B): np.array([1.0]),
     ("param", W): np.array([[3.0, 4.4]]), ("param", B): np.array([0.5])},
]
TOLERANCE = Tolerance(atol=0.001, rtol=0.01, scale_rtol=0.005, sum_rtol=0.001)


def test_the_reference_trajectory_is_the_hand_computed_one(tmp_path):
    _, _, trace = hand_case(tmp_path)
    for step in trace.steps:  # a sum of an identity layer: the gradients never change
        np.testing.assert_array_equal(step.grads[W], [[1.0, 2.0]])
        np.testing.assert_array_equal(step.grads[B], [1.0])
    np.testing.assert_allclose(trace.steps[0].params[W], [[2.9, -4.2]], rtol=1e-15)
    np.testing.assert_allclose(trace.steps[1].params[B], [0.3], rtol=1e-14)


def test_the_first_step_inherits_nothing(tmp_path):
    case, inputs, trace = hand_case(tmp_path)
    first = trajectory_allowances(case, inputs, trace, MAGNITUDES, TOLERANCE)[0]
    # no output, loss or gradient entry: they start from the same numbers everywhere
    assert set(first) == {("param", W), ("param", B)}
    for key in (OUT, LOSS, ("grad", W), ("grad", B)):
        assert np.all(np.asarray(first.get(key, 0.0)) == 0.0)


def test_an_sgd_update_adds_lr_times_the_gradients_allowance(tmp_path):
    case, inputs, trace = hand_case(tmp_path, lr=0.1)
    first = trajectory_allowances(case, inputs, trace, MAGNITUDES, TOLERANCE)[0]
    # the gradients' allowance: atol + scale_rtol·scale + rtol·|g| + sum_rtol·magnitude with
    # scale = 2 (the largest gradient):
    #   weight 0.001 + 0.01 + 0.01·[1, 2] + 0.001·[1, 2] = [0.022, 0.033]; bias 0.022
    # and plain sgd moves the parameters by lr times that
    np.testing.assert_allclose(first[("param", W)], [[0.0022, 0.0033]], rtol=RTOL)
    np.testing.assert_allclose(first[("param", B)], [0.0022], rtol=RTOL)


def test_a_later_step_inherits_the_uncertainty_of_its_parameters(tmp_path):
    case, inputs, trace = hand_case(tmp_path, lr=0.1)
    second = trajectory_allowances(case, inputs, trace, MAGNITUDES, TOLERANCE)[1]
    # the parameters step 2 starts from, [2.9, −4.2] and 0.4 (scale 4.2), are uncertain by
    # their own allowance plus what the update added:
    #   weight 0.001 + 0.021 + 0.01·[2.9, 4.2] + 0.001·[3.1, 4.2] + [0.0022, 0.0033]
    #          = [0.0563, 0.0715]
    #   bias   0.001 + 0.021 + 0.004 + 0.0006 + 0.0022 = 0.0288
    # the output moves by at most 0.0563·1 + 0.0715·2 + 0.0288 (all signs alike, x > 0)
    np.testing.assert_allclose(second[OUT], [[0.2281]], rtol=RTOL)
    np.testing.assert_allclose(second[LOSS], 0.2281, rtol=RTOL)  # the loss is the output
    assert second[OUT].item() > 0
    # the gradients of a sum through an identity layer do not depend on the parameters
    np.testing.assert_array_equal(second[("grad", W)], [[0.0, 0.0]])
    np.testing.assert_array_equal(second[("grad", B)], [0.0])
    # the replays run from the initial parameters: step 2's update allowance adds to step 1's
    # (lr·(0.022 + 0.022), lr·(0.033 + 0.033))
    np.testing.assert_allclose(second[("param", W)], [[0.0044, 0.0066]], rtol=RTOL)
    np.testing.assert_allclose(second[("param", B)], [0.0044], rtol=RTOL)


def test_mse_gradients_inherit_through_the_output(tmp_path):
    """An absolute tolerance alone, to keep the numbers small: every allowance is 0.001."""
    case, inputs, trace = hand_case(tmp_path, "mse", ", y: [[1.0]]", lr=0.01)
    first, second = trajectory_allowances(case, inputs, trace, [{}, {}],
                                          Tolerance(atol=0.001, rtol=0.0, scale_rtol=0.0,
                                                    sum_rtol=0.0))
    # step 1: gradients [−11, −22], −11; the update adds 0.01·0.001
    np.testing.assert_allclose(first[("param", W)], [[1e-5, 1e-5]], rtol=1e-8)
    np.testing.assert_allclose(first[("param", B)], [1e-5], rtol=1e-8)
    # step 2 starts from W = [3.11, −3.78], b = 0.61, each uncertain by 0.001 + 1e-5 = 0.00101:
    # z = 3.11 − 7.56 + 0.61 = −3.84 moves by 0.00101·(1 + 2 + 1) = 0.00404
    np.testing.assert_allclose(trace.steps[1].output, [[-3.84]], rtol=1e-14)
    np.testing.assert_allclose(second[OUT], [[0.00404]], rtol=RTOL)
    # L = d², d = −4.84: |(d ± Δ)² − d²| ≤ 2·4.84·Δ + Δ²
    np.testing.assert_allclose(second[LOSS], 2 * 4.84 * 0.00404 + 0.00404 ** 2, rtol=RTOL)
    # dL/dW = 2d·x, dL/db = 2d: they move by 2Δ·x and 2Δ
    np.testing.assert_allclose(second[("grad", W)], [[0.00808, 0.01616]], rtol=RTOL)
    np.testing.assert_allclose(second[("grad", B)], [0.00808], rtol=RTOL)
    # step 2's update: lr·(0.001 + (0.001 + the inherited gradient allowance))
    np.testing.assert_allclose(second[("param", W)], [[0.01 * (0.002 + 0.00808),
                                                       0.01 * (0.002 + 0.01616)]], rtol=RTOL)
    np.testing.assert_allclose(second[("param", B)], [0.01 * (0.002 + 0.00808)], rtol=RTOL)


def test_momentum_carries_the_first_steps_allowance_into_the_second(tmp_path):
    case, inputs, trace = hand_case(tmp_path, lr=0.1, optimizer=", momentum: 0.9")
    first, second = trajectory_allowances(case, inputs, trace, MAGNITUDES, TOLERANCE)
    # step 1: the buffer is the gradient itself, the same as plain sgd
    np.testing.assert_allclose(first[("param", W)], [[0.0022, 0.0033]], rtol=RTOL)
    # step 2: buffer 0.9·(g + a) + (g + a); the parameters moved by lr·(a + 1.9·a)
    np.testing.assert_allclose(second[("param", W)], [[0.1 * 2.9 * 0.022, 0.1 * 2.9 * 0.033]],
                               rtol=RTOL)
    np.testing.assert_allclose(second[("param", B)], [0.1 * 2.9 * 0.022], rtol=RTOL)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_allowances_are_finite_and_non_negative_for_other_optimizers(tmp_path, optimizer):
    path = tmp_path / "case.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: other
        network: [{{units: 2, activation: tanh}}, {{units: 1, activation: identity}}]
        init: {{scheme: normal, std: 1.0, seed: 2}}
        data: {{x: [[1.0, 2.0], [0.5, -1.0]], y: [[0.3], [-0.2]]}}
        loss: mse
        optimizer: {{name: {optimizer}, lr: 0.01}}
        steps: 3
        """))
    case, problems = load_case(path, NAMES)
    assert case is not None, problems
    case = case.for_dtype("float64")
    inputs = case.inputs("float64")
    trace = NumpyAdapter().run(case, inputs)
    out = trajectory_allowances(case, inputs, trace, [{}] * 3, TOLERANCE)
    assert len(out) == 3
    assert all(key[0] == "param" for key in out[0])
    for extra in out:
        for value in extra.values():
            assert np.all(np.isfinite(value)) and np.all(np.asarray(value) >= 0)
    assert np.all(out[1][OUT] > 0) and np.all(out[2][OUT] > 0)
