"""Numeric formats, mode names and the low-precision rounding scale, unit by unit."""
from __future__ import annotations

import numpy as np
import pytest

from harness.adapters import get_adapter, known_parties
from harness.format import numerics
from harness.format.case import KnownDiscrepancy
from harness.format.loader import load_cases
from harness.format.parties import Parties
from harness.verdicts.rounding import trace_bounds
from harness.verdicts.tolerance import DEFAULTS

from conftest import CASES


def test_each_format_says_where_parameters_live_and_what_the_network_computes_in():
    assert numerics.DTYPES == ("float32", "float64", "bfloat16", "float16", "mixed-bfloat16",
                               "mixed-float16")
    mixed = numerics.of("mixed-bfloat16")
    assert (mixed.storage, mixed.compute, mixed.loss, mixed.mixed, mixed.low) == \
        ("float32", "bfloat16", "float32", True, True)
    assert numerics.of("float16").reference == "float64"
    assert numerics.of("float32").reference == "float32" and not numerics.of("float32").low
    assert numerics.unit_roundoff("bfloat16") == 2.0 ** -8
    assert numerics.unit_roundoff("float16") == 2.0 ** -11
    assert numerics.underflow("float16") == 2.0 ** -25  # half the subnormals' spacing
    assert set(DEFAULTS) == set(numerics.DTYPES)  # every format has its tolerance


def test_inputs_are_rounded_once_to_where_the_format_stores_them():
    case = load_cases([CASES / "optimizers" / "adam.yaml"], known_parties())[0]
    low = case.inputs("bfloat16")
    assert all(v.dtype.name == "bfloat16" for v in low.params.values())
    expected = numerics.rounded64(case.initial_params["layers.0.weight"], "bfloat16")
    assert np.array_equal(low.params["layers.0.weight"].astype(np.float64), expected)
    mixed = case.inputs("mixed-float16")  # float32 master weights
    assert mixed.x.dtype == np.float32 and mixed.params["layers.0.bias"].dtype == np.float32


def test_mode_names_parse_like_devices_and_say_what_is_valid():
    parties = Parties.of(["numpy", "torch", "jax"], {"torch": ("cpu", "cuda"), "jax": ("cpu",)},
                         {"torch": ("compile", "fused"), "jax": ("nojit",)})
    names, problems = parties.parse(["torch+fused", "torch+compile@cuda", "jax+nojit", "torch"])
    assert names == ["torch+fused", "torch+compile@cuda", "jax+nojit", "torch"] and not problems
    _, problems = parties.parse(["torch+fast", "numpy+fused", "+fused"])
    assert problems[0] == "'torch+fast': unknown mode 'fast' for torch; valid: torch+compile, " \
                          "torch+fused"
    assert "'numpy' has no execution modes" in problems[1]
    assert "expected a framework before '+'" in problems[2]


def test_a_known_discrepancy_of_a_mode_covers_that_mode_only():
    compiled = KnownDiscrepancy("torch", "r", quantity="param", mode="compile")
    assert compiled.party == "torch+compile"
    assert compiled.applies_to("torch+compile") and compiled.applies_to("torch+compile@cuda")
    assert not compiled.applies_to("torch") and not compiled.applies_to("torch+fused")
    every = KnownDiscrepancy("torch", "r", quantity="param")
    assert every.applies_to("torch+fused") and every.applies_to("torch")


def test_all_in_a_case_s_frameworks_keeps_every_framework_beside_the_modes(write_case):
    path = write_case("""\
        network: [{units: 2, activation: identity}]
        data: {x: [[1.0, 2.0]], y: [[0.5, 0.5]]}
        loss: mse
        optimizer: {name: sgd, lr: 0.1}
        frameworks: [all, torch+compile, jax+nojit]
        """)
    case = load_cases([path], known_parties())[0]
    assert case.named_parties == ("torch+compile", "jax+nojit")
    assert case.wants("micrograd") and case.wants("torch+compile")


@pytest.mark.parametrize("file,dtype", [("optimizers/adam.yaml", "bfloat16"),
                                        ("networks/deep-mixed-5-layers.yaml", "float16"),
                                        ("classification/softmax-nll-batch.yaml",
                                         "mixed-bfloat16"),
                                        ("activations/silu-mish.yaml", "mixed-float16")])
def test_the_worst_case_bound_holds_and_the_scale_is_below_it(file, dtype):
    """The model checked against torch's and JAX's own first steps: no error beyond the
    worst-case first-order bound (errors added), and the root-sum-square scale the verdicts
    use is at most that bound, everywhere."""
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    case = load_cases([CASES / file], known_parties())[0].for_dtype(dtype)
    inputs = case.inputs(dtype)
    reference = get_adapter("numpy").run(case, inputs)
    worst, scale = trace_bounds(case, inputs, reference, norm=1), \
        trace_bounds(case, inputs, reference)
    for party in ("torch", "jax"):
        trace = get_adapter(party).run(case, inputs)
        got = {(q, n): v for q, n, v in trace.steps[0].tensors()}
        for quantity, name, exact in reference.steps[0].tensors():
            if quantity == "param":
                continue
            error = np.abs(got[(quantity, name)] - exact)
            bound = worst[0][(quantity, name)]
            assert np.all(error <= bound + numerics.unit_roundoff(numerics.of(dtype).compute)
                          * np.abs(exact)), (party, quantity, name)
            assert np.all(scale[0][(quantity, name)] <= bound * (1 + 1e-12))
