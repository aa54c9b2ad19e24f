"""The comparator's verdicts: tolerance, NaN and infinity semantics, ULP, the worst element."""
from __future__ import annotations

import numpy as np

from harness.verdicts.compare import Context, compare_tensor, ulp_distance
from harness.verdicts.tolerance import DEFAULTS, Tolerance

CTX64 = Context("c", "c.yaml", "float64", "fw", "numpy")
CTX32 = Context("c", "c.yaml", "float32", "fw", "numpy")
TIGHT = Tolerance(atol=0.0, rtol=1e-9, scale_rtol=0.0)


def verdict(reference, value, tolerance=TIGHT, ctx=CTX64, scale=None, magnitude=None):
    return compare_tensor(ctx, 1, "grad", "layers.0.weight", np.array(reference, dtype=float),
                          np.array(value, dtype=float), tolerance, scale, magnitude=magnitude)


def test_equal_passes_and_names_the_largest_difference():
    row = verdict([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0 + 1e-12]])
    assert row.status == "pass"
    assert row.worst_index == "(1, 1)" and row.max_abs > 0


def test_fail_names_worst_element_and_both_values():
    row = verdict([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.5], [3.0, 4.1]])
    assert row.status == "fail"
    assert row.worst_index == "(0, 1)"  # furthest past its tolerance
    assert (row.reference_value, row.value) == (2.0, 2.5)
    assert row.mismatched == 2 and row.size == 4
    assert row.max_rel == 0.25
    assert "worst at (0, 1): got 2.5, reference 2 " in row.message


def test_a_non_finite_reference_is_inconclusive_never_a_pass():
    for same in ([1.0, np.nan], [np.inf, -np.inf]):
        row = verdict(same, same)
        assert row.status == "inconclusive"
        assert row.message.startswith("the reference is non-finite here")
    row = verdict([1.0, np.nan], [1.0, 2.0])
    assert row.status == "inconclusive" and row.worst_index == "(1,)"
    assert verdict([np.inf], [-np.inf]).status == "inconclusive"


def test_a_finite_element_that_fails_beside_a_non_finite_one_still_fails():
    row = verdict([1.0, np.nan], [1.5, np.nan])
    assert row.status == "fail" and row.worst_index == "(0,)"
    assert "non-finite" in row.message


def test_non_finite_value_against_a_finite_reference_fails():
    for bad in (np.nan, np.inf, -np.inf):
        row = verdict([1.0, 2.0], [1.0, bad])
        assert row.status == "fail" and row.worst_index == "(1,)"
    assert verdict([1e308], [np.inf]).status == "fail"


def test_magnitude_of_what_was_summed_widens_each_element():
    # a sum of 12 terms near 0.5 that cancels to 5.4e-4: float32 rounding of the terms is ~1e-7
    reference, value = np.array([5.4e-4]), np.array([5.4e-4 + 8e-8])
    assert verdict(reference, value, DEFAULTS["float32"], CTX32).status == "fail"
    row = verdict(reference, value, DEFAULTS["float32"], CTX32, magnitude=np.array([6.0]))
    assert row.status == "pass" and row.magnitude == 6.0
    assert row.allowed == row.absolute_allowance + row.rtol * 5.4e-4 + row.sum_rtol * 6.0
    # but a real error of 1e-4 relative to the terms is still caught
    wrong = np.array([5.4e-4 + 6e-4])
    assert verdict(reference, wrong, DEFAULTS["float32"], CTX32, magnitude=np.array([6.0])).status \
        == "fail"


def test_ulp_distance_in_the_case_dtype():
    one32 = np.float32(1.0)
    next32 = np.nextafter(one32, np.float32(2.0))
    assert ulp_distance(np.array([1.0]), np.array([float(next32)]), "float32")[0] == 1
    assert ulp_distance(np.array([-0.0]), np.array([0.0]), "float64")[0] == 0
    tiny = np.nextafter(0.0, 1.0)
    assert ulp_distance(np.array([-tiny]), np.array([tiny]), "float64")[0] == 2


def test_tiny_gradients_are_not_passed_by_an_absolute_floor():
    reference = np.array([1e-8, -2e-8])
    wrong = -reference  # a sign error on tiny gradients
    for dtype, ctx in (("float32", CTX32), ("float64", CTX64)):
        assert verdict(reference, wrong, DEFAULTS[dtype], ctx).status == "fail"
    # torch.testing's float32 atol of 1e-5 would pass it
    assert verdict(reference, wrong, Tolerance(1e-5, 1.3e-6, 0.0)).status == "pass"


def test_scale_of_the_quantity_covers_cancellation_in_small_elements():
    reference = np.array([5e-4])
    value = reference + 2e-8  # float32 rounding of terms of size ~1e-2
    assert verdict(reference, value, DEFAULTS["float32"], CTX32).status == "fail"
    assert verdict(reference, value, DEFAULTS["float32"], CTX32, scale=1e-2).status == "pass"


def test_shape_mismatch_is_an_error():
    row = verdict([1.0, 2.0], [[1.0, 2.0]])
    assert row.status == "error" and "shape (1, 2) differs" in row.message


def test_rows_record_the_tolerance_used():
    row = verdict([2.0], [2.0], Tolerance(1e-3, 1e-4, 1e-2))
    assert row.absolute_allowance == 1e-3 + 1e-2 * 2.0 and row.rtol == 1e-4 and row.scale_rtol == 1e-2
