"""Unit tests of known discrepancies: KnownDiscrepancy's matching (harness.format.case: steps,
from_step, a glob over tensor names, dtype, device) and apply_known's outcomes (xfail, xpass,
fail, and the failures that follow from a declared one) on hand-made rows."""
from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from harness.format.case import KnownDiscrepancy
from harness.format.loader import load_case
from harness.format.parties import Parties
from harness.verdicts.compare import (FAIL, INCONCLUSIVE, NON_FINITE_REFERENCE, PASS, SKIP,
                                      XFAIL, XPASS, Context)
from harness.verdicts.known_discrepancies import apply_known

NAMES = ["numpy", "torch", "jax", "micrograd"]
DEVICES = {"torch": ("cpu", "cuda"), "jax": ("cpu", "gpu")}  # as the adapters list them
PARTIES = Parties.of(NAMES, DEVICES)  # the loader is told which devices each one takes
W0, B0, W1 = "layers.0.weight", "layers.0.bias", "layers.1.weight"


def known(**fields) -> KnownDiscrepancy:
    return KnownDiscrepancy(**{"framework": "jax", "reason": "optax differs", **fields})


# -- KnownDiscrepancy.matches -----------------------------------------------------------------

def test_steps_limit_a_declaration_to_those_steps():
    k = known(quantity="grad", steps=(2, 4))
    assert [s for s in range(1, 6) if k.matches("jax", "float32", "grad", W0, s)] == [2, 4]
    assert k.covers_step(None)  # a row of no step (a whole framework) is not excluded by steps


def test_from_step_covers_that_step_and_every_later_one():
    k = known(quantity="param", from_step=3)
    assert [s for s in range(1, 6) if k.matches("jax", "float64", "param", W0, s)] == [3, 4, 5]


def test_steps_and_from_step_together_must_both_hold():
    k = known(quantity="loss", steps=(1, 3, 5), from_step=3)
    assert [s for s in range(1, 6) if k.matches("jax", "float64", "loss", "loss", s)] == [3, 5]


def test_without_steps_every_step_matches():
    k = known(quantity="output")
    assert all(k.matches("jax", "float64", "output", "output", s) for s in (1, 2, 100))


@pytest.mark.parametrize("pattern,tensors", [
    ("layers.*.bias", [B0, "layers.1.bias"]),
    ("layers.0.*", [W0, B0]),
    ("layers.[1]*", [W1, "layers.1.bias"]),
    (W1, [W1]),
    ("*.weight", [W0, W1]),
])
def test_a_glob_over_tensor_names(pattern, tensors):
    k = known(tensor=pattern)
    names = [W0, B0, W1, "layers.1.bias"]
    assert [n for n in names if k.matches("jax", "float64", "grad", n, 1)] == tensors


def test_a_glob_is_case_sensitive():
    assert not known(tensor="layers.0.WEIGHT").matches("jax", "float64", "grad", W0, 1)


def test_quantity_restricts_and_none_means_any():
    k = known(quantity="grad", tensor=W0)
    assert k.matches("jax", "float64", "grad", W0, 1)
    assert not k.matches("jax", "float64", "param", W0, 1)
    anyq = known(tensor=W0)
    assert anyq.matches("jax", "float64", "grad", W0, 1)
    assert anyq.matches("jax", "float64", "param", W0, 1)


def test_a_dtype_restricts_the_declaration():
    k = known(quantity="grad", dtype="float32")
    assert k.matches("jax", "float32", "grad", W0, 1)
    assert not k.matches("jax", "float64", "grad", W0, 1)
    assert known(quantity="grad").matches("jax", "float64", "grad", W0, 1)


def test_the_framework_must_match():
    k = known(quantity="grad")
    assert not k.matches("torch", "float64", "grad", W0, 1)
    assert not k.matches("jaxx", "float64", "grad", W0, 1)


@pytest.mark.parametrize("device,parties", [
    (None, {"jax": True, "jax@gpu": True, "jax@cpu": True}),
    ("gpu", {"jax": False, "jax@gpu": True, "jax@cpu": False}),
    ("cpu", {"jax": True, "jax@gpu": False, "jax@cpu": True}),
])
def test_a_device_restricts_the_declaration(device, parties):
    k = known(quantity="grad", device=device)
    assert {p: k.applies_to(p) for p in parties} == parties
    assert {p: k.matches(p, "float64", "grad", W0, 1) for p in parties} == parties


def test_party_is_written_with_its_device():
    assert known(device="gpu").party == "jax@gpu"
    assert known().party == "jax"


# -- read from a case file --------------------------------------------------------------------

def _case(tmp_path, declarations: str, steps: int = 3):
    path = tmp_path / "case.yaml"
    path.write_text(textwrap.dedent("""\
        name: known
        dtype: [float32, float64]
        network: [{units: 1, activation: tanh}]
        params: {layers.0.weight: [[0.5, -0.25]], layers.0.bias: [0.1]}
        data: {x: [[1.0, 2.0]]}
        loss: sum
        optimizer: {name: sgd, lr: 0.1}
        """) + f"steps: {steps}\nknown_discrepancies:\n" + textwrap.indent(
        textwrap.dedent(declarations), "  "))
    return load_case(path, PARTIES)


def test_declarations_are_read_with_every_field(tmp_path):
    case, problems = _case(tmp_path, """\
        - {framework: jax@gpu, quantity: grad, tensor: "layers.*.bias", dtype: float32,
           reason: " tf32 ", link: "https://example.org/1", steps: [2, 3]}
        - {framework: torch, device: cuda, quantity: param, reason: other, from_step: 2}
        """)
    assert problems == []
    first, second = case.known_discrepancies
    assert first == KnownDiscrepancy("jax", "tf32", "grad", "layers.*.bias", "float32",
                                     "https://example.org/1", (2, 3), None, "gpu")
    assert (second.framework, second.device, second.quantity, second.from_step, second.steps) \
        == ("torch", "gpu", "param", 2, None)  # cuda and gpu are one kind


@pytest.mark.parametrize("declaration,field,words", [
    ("- {framework: jax, reason: r}", "known_discrepancies[0]", "names a quantity or a tensor"),
    ("- {framework: jax, tensor: '*', reason: r}", "known_discrepancies[0]",
     "names a quantity or a tensor"),
    ("- {framework: jax, quantity: grad, reason: r, steps: [4]}",
     "known_discrepancies[0].steps", "step 4 is beyond the case's 3 step(s)"),
    ("- {framework: jax, quantity: grad, reason: r, from_step: 0}",
     "known_discrepancies[0].from_step", "expected an integer ≥ 1, found 0"),
    ("- {framework: jax, quantity: grad, reason: r, steps: []}",
     "known_discrepancies[0].steps", "expected a list of step numbers"),
    ("- {framework: jax, quantity: grad, reason: '  '}", "known_discrepancies[0].reason",
     "expected the cause of the difference"),
    ("- {framework: jax, quantity: grad, reason: r, dtype: float16}",
     "known_discrepancies[0].dtype", "unknown dtype of this case"),
    ("- {framework: jax@gpu, device: gpu, quantity: grad, reason: r}",
     "known_discrepancies[0].device", "already names its device"),
    ("- {framework: jax, quantity: gradient, reason: r}", "known_discrepancies[0].quantity",
     "did you mean 'grad'?"),
])
def test_bad_declarations_are_problems_naming_the_field(tmp_path, declaration, field, words):
    case, problems = _case(tmp_path, declaration)
    assert case is None
    assert [p.field for p in problems] == [field]
    assert words in problems[0].message
    assert problems[0].line == 10  # the declaration's own line


# -- apply_known ------------------------------------------------------------------------------

def _loaded(tmp_path, *declarations: KnownDiscrepancy):
    case, problems = _case(tmp_path, "[]")
    assert case is not None, problems
    return replace(case, known_discrepancies=tuple(declarations))


CTX = Context(case="known", file="case.yaml", dtype="float64", framework="jax",
              reference="numpy")


def row(step, quantity, tensor, status, ctx=CTX, message="m"):
    return ctx.row(step=step, quantity=quantity, tensor=tensor, status=status, message=message)


def statuses(rows):
    return [(r.step, r.quantity, r.tensor, r.status) for r in rows]


def test_a_declared_failure_is_xfail_with_its_reason_and_link(tmp_path):
    case = _loaded(tmp_path, known(quantity="grad", tensor=B0, link="https://x/1"))
    rows = [row(1, "output", "output", PASS), row(1, "grad", W0, PASS),
            row(1, "grad", B0, FAIL, message="max_abs 1")]
    out = apply_known(case, CTX, rows)
    assert statuses(out) == [(1, "output", "output", PASS), (1, "grad", W0, PASS),
                             (1, "grad", B0, XFAIL)]
    assert out[2].message == "known discrepancy: optax differs (https://x/1); max_abs 1"


def test_a_declaration_whose_comparisons_all_pass_is_xpass(tmp_path):
    case = _loaded(tmp_path, known(quantity="grad"))
    out = apply_known(case, CTX, [row(1, "output", "output", PASS), row(1, "grad", W0, PASS),
                                  row(1, "grad", B0, PASS)])
    assert [r.status for r in out] == [PASS, XPASS, XPASS]
    assert out[1].message == (f"fixed upstream: remove this declaration ({case.file}): known "
                              "discrepancy: optax differs: declared, but it did not occur")


def test_a_failure_outside_the_declaration_still_fails(tmp_path):
    case = _loaded(tmp_path, known(quantity="grad", tensor=W0))
    out = apply_known(case, CTX, [row(1, "output", "output", FAIL), row(1, "grad", W0, PASS)])
    # the output fails before the declared gradient: it is not a consequence of it
    assert [r.status for r in out] == [FAIL, XPASS]


def test_a_declaration_matching_nothing_adds_one_xpass_row(tmp_path):
    case = _loaded(tmp_path, known(quantity="grad", tensor="layers.7.*"))
    rows = [row(1, "grad", W0, PASS)]
    out = apply_known(case, CTX, rows)
    assert statuses(out) == [(1, "grad", W0, PASS), (None, "grad", "layers.7.*", XPASS)]
    assert "matches no comparison of this run" in out[1].message


def test_against_golden_values_a_declaration_matching_nothing_adds_nothing(tmp_path):
    ctx = replace(CTX, reference="expected")
    case = _loaded(tmp_path, known(quantity="grad", tensor="layers.7.*"))
    rows = [row(1, "grad", W0, PASS, ctx=ctx)]
    assert apply_known(case, ctx, rows) == rows


def test_steps_decide_which_failures_are_declared(tmp_path):
    case = _loaded(tmp_path, known(quantity="grad", tensor=W0, steps=(2,)))
    rows = [row(1, "grad", W0, FAIL), row(2, "grad", W0, FAIL)]
    out = apply_known(case, CTX, rows)
    # step 1 is outside the declaration and before it: it stays a failure
    assert [r.status for r in out] == [FAIL, XFAIL]


def test_from_step_with_a_pass_before_and_failures_after(tmp_path):
    case = _loaded(tmp_path, known(quantity="param", from_step=2))
    out = apply_known(case, CTX, [row(1, "param", W0, PASS), row(2, "param", W0, FAIL),
                                  row(3, "param", W0, PASS)])
    # a declaration that occurred: its passing rows stay pass
    assert [r.status for r in out] == [PASS, XFAIL, PASS]


def test_another_dtype_or_framework_or_device_is_left_alone(tmp_path):
    rows = [row(1, "grad", W0, FAIL)]
    for declaration, ctx in [(known(quantity="grad", dtype="float32"), CTX),
                             (known(quantity="grad", framework="torch"), CTX),
                             (known(quantity="grad", device="gpu"), CTX),
                             (known(quantity="grad", device="cpu"),
                              replace(CTX, framework="jax@gpu"))]:
        case = _loaded(tmp_path, declaration)
        assert apply_known(case, ctx, [replace(r, framework=ctx.framework) for r in rows]) == \
            [replace(r, framework=ctx.framework) for r in rows], declaration


def test_a_gpu_declaration_excuses_the_gpu_party(tmp_path):
    ctx = replace(CTX, framework="jax@gpu")
    case = _loaded(tmp_path, known(quantity="grad", device="gpu"))
    assert [r.status for r in apply_known(case, ctx, [row(1, "grad", W0, FAIL, ctx=ctx)])] == \
        [XFAIL]


def test_a_party_that_compared_nothing_keeps_its_declarations_silent(tmp_path):
    case = _loaded(tmp_path, known(quantity="grad"))
    rows = [row(None, "", "", SKIP, message="no GPU here")]
    assert apply_known(case, CTX, rows) == rows


def test_a_non_finite_reference_where_declared_is_xfail(tmp_path):
    case = _loaded(tmp_path, known(quantity="loss"))
    rows = [row(1, "loss", "loss", INCONCLUSIVE, message=f"{NON_FINITE_REFERENCE}: (0,)"),
            row(1, "output", "output", INCONCLUSIVE, message="a kink")]
    out = apply_known(case, CTX, rows)
    assert [r.status for r in out] == [XFAIL, INCONCLUSIVE]


def test_failures_after_a_declared_one_follow_from_it(tmp_path):
    """Within its step the quantities computed after it (loss → grad → param), and every later
    step; not what comes before it."""
    case = _loaded(tmp_path, known(quantity="loss", steps=(2,)))
    rows = [row(1, "output", "output", PASS), row(1, "param", W0, FAIL),
            row(2, "output", "output", FAIL), row(2, "loss", "loss", FAIL),
            row(2, "grad", W0, FAIL), row(2, "param", W0, FAIL), row(3, "output", "output", FAIL),
            row(3, "grad", B0, PASS)]
    out = apply_known(case, CTX, rows)
    assert [r.status for r in out] == [PASS, FAIL, FAIL, XFAIL, XFAIL, XFAIL, XFAIL, PASS]
    assert out[4].message == "follows from the known discrepancy in loss loss at step 2; m"
    assert out[6].message.startswith("follows from the known discrepancy in loss loss at step 2")
    assert out[3].message.startswith("known discrepancy: optax differs; ")


def test_the_earliest_declared_failure_is_the_cause(tmp_path):
    case = _loaded(tmp_path, known(quantity="param", tensor=B0),
                   known(quantity="grad", tensor=W0, reason="second"))
    rows = [row(1, "grad", W0, FAIL), row(1, "grad", B0, FAIL), row(1, "param", B0, FAIL),
            row(2, "loss", "loss", FAIL)]
    out = apply_known(case, CTX, rows)
    # the cause is grad layers.0.weight at step 1 (grad comes before param); another gradient
    # of the same step is not computed from it and still fails
    assert [r.status for r in out] == [XFAIL, FAIL, XFAIL, XFAIL]
    assert out[0].message.startswith("known discrepancy: second; ")
    assert out[2].message.startswith("known discrepancy: optax differs; ")
    assert "in grad layers.0.weight at step 1" in out[3].message
