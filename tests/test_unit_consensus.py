"""Unit tests of harness.verdicts.consensus on hand-made votes: symmetric agreement within the
looser tolerance, the majority rule and its ties, and the suspect `blame` names."""
from __future__ import annotations

import numpy as np
import pytest

from harness.format.parties import UNCLEAR
from harness.verdicts.consensus import Vote, agree, blame, majority
from harness.verdicts.tolerance import Tolerance


def tol(atol: float = 0.0, rtol: float = 0.0) -> Tolerance:
    return Tolerance(atol=atol, rtol=rtol, scale_rtol=0.0, sum_rtol=0.0)


TIGHT = tol(atol=1e-3)


def vote(party: str, *values: float, tolerance: Tolerance = TIGHT) -> Vote:
    return Vote(party, np.array(values, dtype=np.float64), tolerance)


def majority_of(*votes: Vote) -> list[str] | None:
    return majority(list(votes), scale=0.0, magnitude=None)


# -- agree ---------------------------------------------------------------------------------

def test_agreement_within_and_beyond_an_absolute_tolerance():
    assert agree(vote("a", 1.0, 2.0), vote("b", 1.0005, 2.0), 0.0, None)
    assert not agree(vote("a", 1.0, 2.0), vote("b", 1.0, 2.002), 0.0, None)


def test_two_different_tolerances_the_looser_applies_both_ways():
    loose, tight = tol(atol=0.1), tol(atol=0.001)
    a, b = vote("a", 1.0, tolerance=loose), vote("b", 1.05, tolerance=tight)
    assert agree(a, b, 0.0, None) and agree(b, a, 0.0, None)
    # the same gap with the tight tolerance on both sides does not agree
    assert not agree(vote("a", 1.0, tolerance=tight), vote("b", 1.05, tolerance=tight), 0.0, None)
    # each key is the larger of the two: atol from one side, rtol from the other
    c = vote("c", 10.0, tolerance=tol(atol=0.5))
    d = vote("d", 11.4, tolerance=tol(rtol=0.1))  # 0.5 + 0.1·11.4 = 1.64 ≥ 1.4
    assert agree(c, d, 0.0, None) and agree(d, c, 0.0, None)
    e = vote("e", 12.0, tolerance=tol(rtol=0.1))  # 0.5 + 0.1·12 = 1.7 < 2
    assert not agree(c, e, 0.0, None)


def test_relative_tolerance_is_relative_to_the_larger_side_so_order_does_not_matter():
    # |1 − 1.105| = 0.105: within 0.1·1.105 = 0.1105, not within 0.1·1.0 = 0.1
    a, b = vote("a", 1.0, tolerance=tol(rtol=0.1)), vote("b", 1.105, tolerance=tol(rtol=0.1))
    assert agree(a, b, 0.0, None) is True
    assert agree(b, a, 0.0, None) is True


def test_scale_and_magnitude_widen_the_allowance():
    t = Tolerance(atol=0.0, rtol=0.0, scale_rtol=0.01, sum_rtol=0.001)
    a, b = vote("a", 0.0, tolerance=t), vote("b", 0.05, tolerance=t)
    assert not agree(a, b, 0.0, None)
    assert agree(a, b, 10.0, None)  # 0.01·10 = 0.1 ≥ 0.05
    assert agree(a, b, 0.0, np.array([60.0]))  # 0.001·60 = 0.06 ≥ 0.05
    assert not agree(a, b, 0.0, np.array([40.0]))  # 0.04 < 0.05


def test_non_finite_values_agree_only_with_the_same_non_finite_values():
    nan, inf = float("nan"), float("inf")
    assert agree(vote("a", nan, 1.0), vote("b", nan, 1.0), 0.0, None)
    assert agree(vote("a", inf, 1.0), vote("b", inf, 1.0), 0.0, None)
    assert not agree(vote("a", inf), vote("b", -inf), 0.0, None)
    assert not agree(vote("a", nan), vote("b", 1.0), 0.0, None)
    assert not agree(vote("a", inf), vote("b", 1e308), 0.0, None)
    # the finite elements beside a shared NaN are still judged
    assert not agree(vote("a", nan, 1.0), vote("b", nan, 2.0), 0.0, None)


def test_different_shapes_never_agree():
    a = Vote("a", np.zeros((1, 2)), TIGHT)
    b = Vote("b", np.zeros((2, 1)), TIGHT)
    assert not agree(a, b, 0.0, None)


# -- majority --------------------------------------------------------------------------------

def test_everyone_agreeing_is_a_majority_of_all_in_order():
    assert majority_of(vote("numpy", 1.0), vote("torch", 1.0), vote("jax", 1.0)) == \
        ["numpy", "torch", "jax"]


def test_two_parties_that_agree_are_a_majority():
    assert majority_of(vote("numpy", 1.0), vote("torch", 1.0)) == ["numpy", "torch"]


def test_two_parties_that_disagree_have_no_majority():
    assert majority_of(vote("numpy", 1.0), vote("torch", 2.0)) is None


def test_a_single_party_is_never_a_majority():
    assert majority_of(vote("numpy", 1.0)) is None
    assert majority_of() is None


def test_three_against_one():
    assert majority_of(vote("numpy", 1.0), vote("torch", 1.0), vote("jax", 5.0),
                       vote("micrograd", 1.0)) == ["numpy", "torch", "micrograd"]


def test_two_against_one():
    assert majority_of(vote("numpy", 7.0), vote("torch", 1.0), vote("jax", 1.0)) == \
        ["torch", "jax"]


def test_two_against_two_is_a_tie_without_majority():
    assert majority_of(vote("numpy", 1.0), vote("torch", 1.0), vote("jax", 2.0),
                       vote("micrograd", 2.0)) is None


def test_one_against_one_against_one_has_no_majority():
    assert majority_of(vote("numpy", 1.0), vote("torch", 2.0), vote("jax", 3.0)) is None


def test_two_of_five_is_not_more_than_half():
    assert majority_of(vote("a", 1.0), vote("b", 1.0), vote("c", 2.0), vote("d", 3.0),
                       vote("e", 4.0)) is None


def test_three_of_five_is_a_majority():
    assert majority_of(vote("a", 1.0), vote("b", 2.0), vote("c", 1.0), vote("d", 3.0),
                       vote("e", 1.0)) == ["a", "c", "e"]


def test_a_chain_counts_the_best_connected_party():
    """a ~ b and b ~ c but not a ~ c (each gap 0.6, tolerance 1): b agrees with all three, so the
    majority is all three, though its two ends disagree; blaming one end against the other is
    then unclear (both inside)."""
    t = tol(atol=1.0)
    found = majority_of(vote("a", 0.0, tolerance=t), vote("b", 0.6, tolerance=t),
                        vote("c", 1.2, tolerance=t))
    assert found == ["a", "b", "c"]
    assert blame("c", "a", found) == UNCLEAR


# -- blame -----------------------------------------------------------------------------------

def test_blame_the_framework_outside_the_majority():
    assert blame("torch", "numpy", ["numpy", "jax", "micrograd"]) == "torch"


def test_blame_the_reference_outside_the_majority():
    assert blame("torch", "numpy", ["torch", "jax", "micrograd"]) == "numpy"


def test_blame_the_golden_values_when_every_framework_agrees():
    agreeing = majority_of(vote("numpy", 0.5), vote("torch", 0.5), vote("jax", 0.5),
                           vote("expected", 0.7))
    assert agreeing == ["numpy", "torch", "jax"]
    assert blame("torch", "expected", agreeing) == "expected"


def test_blame_both_sides_outside_the_majority():
    assert blame("torch", "numpy", ["jax", "micrograd"]) == "torch numpy"


@pytest.mark.parametrize("agreeing", [None, ["numpy", "torch", "jax"]],
                         ids=["no-majority", "both-inside"])
def test_blame_unclear(agreeing):
    assert blame("torch", "numpy", agreeing) == UNCLEAR == "unclear"


def test_blame_follows_the_majority_end_to_end():
    votes = [vote("numpy", 1.0, 2.0), vote("torch", 1.0, 2.0), vote("jax", 1.0, 2.0),
             vote("micrograd", 1.0, 2.5)]
    agreeing = majority(votes, 0.0, None)
    assert blame("micrograd", "numpy", agreeing) == "micrograd"
    assert blame("torch", "micrograd", agreeing) == "micrograd"
