"""Unit tests of harness.verdicts.magnitude through its public functions (step_magnitudes,
trace_magnitudes) on one-layer cases computed by hand, and the property that every magnitude
is at least the absolute value of what the reference computed."""
from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from harness.adapters.numpy_ref import NumpyAdapter
from harness.format import catalog
from harness.format.loader import load_case
from harness.verdicts.magnitude import step_magnitudes, trace_magnitudes

NAMES = ["numpy", "torch", "jax", "micrograd"]
W, B = "layers.0.weight", "layers.0.bias"


def make_case(tmp_path, text: str, dtype: str = "float64"):
    path = tmp_path / "case.yaml"
    path.write_text(textwrap.dedent(text))
    case, problems = load_case(path, NAMES)
    assert case is not None, [str(p) for p in problems]
    case = case.for_dtype(dtype)
    return case, case.inputs(dtype)


def one_layer(tmp_path, loss: str, x: str, y: str | None = None, activation: str = "identity",
              steps: int = 1, lr: float = 0.1):
    """z = 3·x0 − 4·x1 + 0.5, through ``activation``."""
    return make_case(tmp_path, f"""\
        name: hand
        network: [{{units: 1, activation: {activation}}}]
        params: {{{W}: [[3.0, -4.0]], {B}: [0.5]}}
        data: {{x: {x}{', y: ' + y if y else ''}}}
        loss: {loss}
        optimizer: {{name: sgd, lr: {lr}}}
        steps: {steps}
        """)


def test_identity_layer_sum_loss(tmp_path):
    case, inputs = one_layer(tmp_path, "sum", "[[1.0, 2.0]]")
    m = step_magnitudes(case, inputs.params, inputs.x, inputs.y)
    # z = 3·1 − 4·2 + 0.5 = −4.5; the terms summed: |3||1| + |−4||2| + |0.5| = 11.5
    np.testing.assert_allclose(m[("output", "output")], [[11.5]], rtol=1e-15)
    # the loss Σ out: |dL/dout|·m(out) + |out| = 1·11.5 + 4.5
    np.testing.assert_allclose(m[("loss", "loss")], 16.0, rtol=1e-15)
    # dL/dout = 1, no curvature: the gradients are 1·|x| and 1, exactly their values
    np.testing.assert_allclose(m[("grad", W)], [[1.0, 2.0]], rtol=1e-15)
    np.testing.assert_allclose(m[("grad", B)], [1.0], rtol=1e-15)
    assert set(m) == {("output", "output"), ("loss", "loss"), ("grad", W), ("grad", B)}


def test_identity_layer_mse_loss(tmp_path):
    case, inputs = one_layer(tmp_path, "mse", "[[1.0, 2.0]]", "[[1.0]]")
    m = step_magnitudes(case, inputs.params, inputs.x, inputs.y)
    # out = −4.5, d = out − y = −5.5, L = 30.25, dL/dout = 2d = −11
    np.testing.assert_allclose(m[("output", "output")], [[11.5]], rtol=1e-15)
    # |g|·m(out) + |d²| = 11·11.5 + 30.25
    np.testing.assert_allclose(m[("loss", "loss")], 156.75, rtol=1e-15)
    # |g| + curvature 2·m(out) = 11 + 23 = 34; times |x| for the weight
    np.testing.assert_allclose(m[("grad", W)], [[34.0, 68.0]], rtol=1e-15)
    np.testing.assert_allclose(m[("grad", B)], [34.0], rtol=1e-15)


def test_identity_layer_mse_mean_over_a_batch_of_two(tmp_path):
    """Two samples, reduction mean (over 2 elements); the weight's first gradient element
    cancels: its value is −5, the magnitude of its terms 25."""
    case, inputs = one_layer(tmp_path, "mse", "[[1.0, 2.0], [-1.0, 1.0]]", "[[1.0], [-6.0]]")
    m = step_magnitudes(case, inputs.params, inputs.x, inputs.y)
    # z = [−4.5, −3 − 4 + 0.5 = −6.5]; terms [11.5, 3 + 4 + 0.5 = 7.5]
    np.testing.assert_allclose(m[("output", "output")], [[11.5], [7.5]], rtol=1e-15)
    # d = [−5.5, −0.5]; g = 2d/2 = d; Σ |g|·m(out) + d²/2 = 63.25 + 3.75 + 15.125 + 0.125
    np.testing.assert_allclose(m[("loss", "loss")], 82.25, rtol=1e-15)
    # m(g) = |g| + 2·m(out)/2 = [17, 8]; weight: 17·[1, 2] + 8·[1, 1]; bias 17 + 8
    np.testing.assert_allclose(m[("grad", W)], [[25.0, 42.0]], rtol=1e-15)
    np.testing.assert_allclose(m[("grad", B)], [25.0], rtol=1e-15)
    # what the reference computes there: grad W = Σ g·x = [−5, −11.5], grad b = −6
    step = NumpyAdapter().run(case, inputs).steps[0]
    np.testing.assert_allclose(step.grads[W], [[-5.0, -11.5]], rtol=1e-15)
    np.testing.assert_allclose(step.grads[B], [-6.0], rtol=1e-15)


def test_saturated_tanh_is_rounded_like_one(tmp_path):
    """tanh′ = 1 − a² is ~5e-4 at z = −4.5, but its formula's terms are 1 + a²."""
    case, inputs = one_layer(tmp_path, "sum", "[[1.0, 2.0]]", activation="tanh")
    m = step_magnitudes(case, inputs.params, inputs.x, inputs.y)
    a = math.tanh(-4.5)
    # the output: max(|a|, tanh′·11.5) = |a| since tanh′·11.5 ≈ 0.0057
    np.testing.assert_allclose(m[("output", "output")], [[abs(a)]], rtol=1e-14)
    np.testing.assert_allclose(m[("grad", W)], [[1 + a * a, 2 * (1 + a * a)]], rtol=1e-14)
    np.testing.assert_allclose(m[("grad", B)], [1 + a * a], rtol=1e-14)
    step = NumpyAdapter().run(case, inputs).steps[0]
    np.testing.assert_allclose(step.grads[B], [1 - a * a], rtol=1e-12)
    assert m[("grad", B)][0] > 1000 * abs(step.grads[B][0])


def test_trace_magnitudes_over_two_sgd_steps(tmp_path):
    case, inputs = one_layer(tmp_path, "mse", "[[1.0, 2.0]]", "[[1.0]]", steps=2, lr=0.1)
    trace = NumpyAdapter().run(case, inputs)
    first, second = trace_magnitudes(case, inputs, trace)
    # step 1 is step_magnitudes at the initial parameters
    np.testing.assert_allclose(first[("grad", W)], [[34.0, 68.0]], rtol=1e-15)
    # update: W = [3, −4] − 0.1·[−11, −22] = [4.1, −1.8]; b = 0.5 + 1.1 = 1.6
    np.testing.assert_allclose(trace.steps[0].params[W], [[4.1, -1.8]], rtol=1e-15)
    # the updated parameters: |before| + |after − before|
    np.testing.assert_allclose(first[("param", W)], [[3 + 1.1, 4 + 2.2]], rtol=1e-15)
    np.testing.assert_allclose(first[("param", B)], [0.5 + 1.1], rtol=1e-15)
    # step 2 starts from the updated parameters: z = 4.1 − 3.6 + 1.6 = 2.1, terms 9.3
    np.testing.assert_allclose(second[("output", "output")], [[9.3]], rtol=1e-14)
    # d = 1.1, g = 2.2: 2.2·9.3 + 1.21
    np.testing.assert_allclose(second[("loss", "loss")], 21.67, rtol=1e-14)
    # 2.2 + 2·9.3 = 20.8
    np.testing.assert_allclose(second[("grad", W)], [[20.8, 41.6]], rtol=1e-14)
    np.testing.assert_allclose(second[("grad", B)], [20.8], rtol=1e-14)
    # W = [4.1, −1.8] − 0.1·[2.2, 4.4] = [3.88, −2.24]
    np.testing.assert_allclose(second[("param", W)], [[4.1 + 0.22, 1.8 + 0.44]], rtol=1e-14)
    np.testing.assert_allclose(second[("param", B)], [1.6 + 0.22], rtol=1e-14)


def test_magnitudes_are_float64_whatever_the_dtype(tmp_path):
    case, inputs = make_case(tmp_path, f"""\
        name: hand32
        dtype: float32
        network: [{{units: 1, activation: identity}}]
        params: {{{W}: [[3.0, -4.0]], {B}: [0.5]}}
        data: {{x: [[1.0, 2.0]]}}
        loss: sum
        optimizer: {{name: sgd, lr: 0.1}}
        """, dtype="float32")
    assert inputs.x.dtype == np.float32
    m = step_magnitudes(case, inputs.params, inputs.x, inputs.y)
    assert all(v.dtype == np.float64 for v in m.values())
    np.testing.assert_allclose(m[("output", "output")], [[11.5]], rtol=1e-15)


# -- every magnitude ≥ |value| ---------------------------------------------------------------

def _two_layer(hidden: str, last: str, loss: str, y: str | None, steps: int = 2) -> str:
    return f"""\
        name: prop
        network: [{{units: 3, activation: {hidden}}}, {{units: 2, activation: {last}}}]
        init: {{scheme: normal, std: 1.5, seed: 3}}
        data:
          x: {{random: normal, shape: [4, 3], seed: 5}}
        {'  y: ' + y if y else ''}
        loss: {loss}
        optimizer: {{name: sgd, lr: 0.05, momentum: 0.9}}
        steps: {steps}
        """


LIKE = "{random: normal, shape: [4, 2], seed: 7}"
LOSS_CASES = {
    "sum": ("identity", None),
    "mse": ("identity", LIKE),
    "l1": ("identity", LIKE),
    "huber": ("identity", LIKE),
    "smooth_l1": ("identity", LIKE),
    "poisson_nll": ("identity", "{random: uniform, shape: [4, 2], seed: 7, high: 3.0}"),
    "bce": ("sigmoid", "{random: uniform, shape: [4, 2], seed: 7}"),
    "bce_with_logits": ("identity", "{random: bernoulli, shape: [4, 2], seed: 7}"),
    "cross_entropy": ("identity", "{random: classes, shape: [4], seed: 7}"),
    "nll": ("softmax", "{random: classes, shape: [4], seed: 7}"),
    "kl_div": ("log_softmax", "{random: simplex, shape: [4], seed: 7}"),
}


def _check_bounds(case, inputs):
    trace = NumpyAdapter().run(case, inputs)
    magnitudes = trace_magnitudes(case, inputs, trace)
    assert len(magnitudes) == len(trace.steps)
    checked = 0
    for step, m in zip(trace.steps, magnitudes):
        for quantity, name, value in step.tensors():
            bound = m[(quantity, name)]
            assert bound.shape == np.shape(value), (quantity, name)
            assert np.all(bound >= np.abs(value)), (quantity, name, bound, value)
            checked += 1
    assert checked == len(trace.steps) * (2 + 2 * len(case.param_names))


@pytest.mark.parametrize("loss", sorted(LOSS_CASES))
def test_every_magnitude_bounds_its_value_per_loss(tmp_path, loss):
    assert set(LOSS_CASES) == set(catalog.LOSSES)  # a new loss gets a row here
    last, y = LOSS_CASES[loss]
    _check_bounds(*make_case(tmp_path, _two_layer("tanh", last, loss, y)))


ACTIVATION_SPELLING = {  # every activation, as a case writes it
    "gelu_tanh": "{name: gelu, approximate: tanh}",
    "softplus_beta": "{name: softplus, beta: 2.0}",
}


@pytest.mark.parametrize("activation", sorted(catalog.ACTIVATIONS) + sorted(ACTIVATION_SPELLING))
def test_every_magnitude_bounds_its_value_per_activation(tmp_path, activation):
    written = ACTIVATION_SPELLING.get(activation, activation)
    _check_bounds(*make_case(tmp_path, _two_layer(written, "identity", "mse", LIKE)))


def test_every_magnitude_bounds_its_value_in_float32(tmp_path):
    case, inputs = make_case(tmp_path, _two_layer("sigmoid", "identity", "mse", LIKE)
                             .replace("name: prop", "name: prop\n        dtype: float32"),
                             dtype="float32")
    _check_bounds(case, inputs)
