"""The judges of a case run: tolerances and their sources as data, and one allowance for all."""
from __future__ import annotations

from dataclasses import replace
from itertools import product

import numpy as np
import pytest

from harness.adapters import known_parties
from harness.format.case import Expected
from harness.format.loader import load_case
from harness.running.runner import run_case
from harness.verdicts.judge import Judges, source_of, tolerance_of
from harness.verdicts.tolerance import DEFAULTS, SELF_CHECK_SOURCE, ToleranceSource

from conftest import CASES


@pytest.fixture(scope="module")
def neuron():
    case, problems = load_case(CASES / "golden" / "mse-neuron.yaml", known_parties())
    assert not problems
    return case


@pytest.mark.parametrize("case_keys, party, expected, self_check",
                         [(c, p, e, False) for c, p, e in product((False, True),
                                                                  (None, "jax", "jax@gpu"),
                                                                  (False, True))]
                         + [(False, None, False, True)])
def test_a_source_reads_back_from_its_words(case_keys, party, expected, self_check):
    source = ToleranceSource("float32", case=case_keys or party is not None, party=party,
                             expected=expected, self_check=self_check)
    assert ToleranceSource.parse(str(source), "float32") == source


def test_the_words_of_each_source():
    assert str(ToleranceSource("float64")) == "float64 default"
    assert str(ToleranceSource("float64", case=True)) == "case"
    assert str(ToleranceSource("float64", case=True, party="jax")) == "case, for jax"
    assert str(ToleranceSource("float32", expected=True)) == "float32 default + expected"
    assert str(ToleranceSource("float32", self_check=True)) == SELF_CHECK_SOURCE
    assert ToleranceSource.parse("", "float32") is None


def test_only_the_cases_own_keys_mark_a_tolerance_as_overridden():
    assert not ToleranceSource("float64").overridden
    assert not ToleranceSource("float64", expected=True).overridden  # golden digits
    assert not ToleranceSource("float64", self_check=True).overridden
    assert ToleranceSource("float64", case=True).overridden
    assert ToleranceSource("float64", case=True, party="torch").overridden


def test_tolerances_stack_defaults_case_party_then_golden_values(neuron):
    case = replace(neuron, tolerance={"float64": {"rtol": 1e-8}},
                   framework_tolerance={"jax": {"float64": {"atol": 1e-9}},
                                        "jax@gpu": {"float64": {"atol": 1e-5}}},
                   expected=Expected(loss=np.array(1.0), tolerance={"scale_rtol": 1e-3}))
    base = DEFAULTS["float64"]
    assert tolerance_of(case, "float64") == replace(base, rtol=1e-8)
    assert tolerance_of(case, "float64", "torch") == replace(base, rtol=1e-8)
    assert tolerance_of(case, "float64", "jax") == replace(base, rtol=1e-8, atol=1e-9)
    assert tolerance_of(case, "float64", "jax@gpu") == replace(base, rtol=1e-8, atol=1e-5)
    assert tolerance_of(case, "float64", "jax", expected=True) == \
        replace(base, rtol=1e-8, atol=1e-9, scale_rtol=1e-3)
    assert str(source_of(case, "float64", "jax", expected=True)) == "case, for jax + expected"
    assert str(source_of(case, "float64", "torch")) == "case"
    assert tolerance_of(case, "float32") == DEFAULTS["float32"]  # the case set float64 only
    assert str(source_of(case, "float32", "jax")) == "float32 default"


def test_a_judges_allowance_is_the_one_its_rows_were_judged_with(neuron):
    """The allowance a repro folder writes is the comparator's, read from the same judge."""
    case = neuron.for_dtype("float64")
    judges = Judges(neuron, "float64")
    from harness.running.jobs import Train

    trace, _, _ = Train("numpy", case, neuron.inputs("float64"))()
    judges.weigh(neuron.inputs("float64"), trace)
    rows = [r for r in run_case(neuron, "float64", ["torch"]).rows if r.reference == "numpy"]
    judge = judges.of("torch")
    steps = [{(q, n): v for q, n, v in step.tensors()} for step in trace.steps]
    assert rows and {r.status for r in rows} == {"pass"}
    for row in rows:
        absolute, allowed = judge.allowance(row.step, row.quantity, row.tensor,
                                            steps[row.step - 1][(row.quantity, row.tensor)])
        assert row.absolute_allowance == absolute
        assert row.allowed in np.ravel(allowed)  # the worst element's allowance is one of them
    assert judge.evidence.magnitude(1, "grad", "layers.0.weight") is not None
    assert judges.of("torch", golden=True).evidence is judges.golden
