"""What the shape of an error suggests, in words a learner can act on: the hint of a failing
tensor (harness.verdicts.compare), its values to enough digits to see them differ, then its
pattern (a constant ratio, explained by the case's numbers where they make it, see
harness.verdicts.ratios; a sign; a transposition; a few elements) or, for one number, its usual
causes.
"""
from __future__ import annotations

import re
from typing import Protocol

import numpy as np

from ..format import numerics
from .numbers import distinct
from .ratios import RATIO_RTOL, CaseSizes, explain_ratio



class FailingTensor(Protocol):
    """What a hint reads of a row (harness.verdicts.compare.Row, which imports this module)."""

    quantity: str
    tensor: str
    step: int | None
    dtype: str
    size: int | None
    worst_index: str
    reference_value: float | None
    value: float | None

NO_PATTERN = "every element differs, with no constant ratio"  # said, but no lead to follow
MIN_PATTERN_ELEMENTS = 3  # a pattern (a constant ratio) is claimed across this many nonzero elements

# what usually makes one number differ, per quantity: said instead of a pattern where one or two
# elements cannot show one
USUAL_CAUSES = {
    "output": "a wrong activation, the weight used transposed, a missing bias",
    "loss": "a mean taken as a sum (or a sum as a mean), a missing 1/2, the wrong target, a sign",
    "grad": "a missing or extra factor (the 1/N of a mean, the 2 of a square), the derivative "
            "taken at the wrong point, a missing upstream gradient, a sign",
    "param": "the learning rate, the sign of the step, a gradient already wrong",
    "hvp": "a missing second-order term, a factor, a sign",
}


def _nonzero(reference: np.ndarray) -> int:
    return int(np.count_nonzero(reference[np.isfinite(reference)]))


def _constant_ratio(reference: np.ndarray, value: np.ndarray) -> float | None:
    """value / reference when it is the same for every element (a missing or extra factor), and
    there are at least MIN_PATTERN_ELEMENTS nonzero elements to show it: one or two elements
    always have "a constant ratio", which is no evidence of a pattern."""
    nonzero = reference != 0
    if int(nonzero.sum()) < MIN_PATTERN_ELEMENTS or not np.all(np.isfinite(value)) \
            or not np.all(np.isfinite(reference)):
        return None
    if np.any(value[~nonzero] != 0):
        return None
    ratios = value[nonzero] / reference[nonzero]
    middle = float(np.median(ratios))
    if np.all(np.abs(ratios - middle) <= 1e-4 * max(abs(middle), 1e-12)):
        return middle
    return None


def _causes(quantity: str, reference: float, value: float,
            sizes: CaseSizes | None = None, dtype: str = "float64") -> str:
    """The usual causes of one number differing, the likeliest first where the values say so:
    a ratio the case's own numbers make (harness.verdicts.ratios) before the list. One number
    shows no pattern, so its ratio must match to a hundred roundings of its format (a format
    coarser than that claims none)."""
    causes = USUAL_CAUSES.get(quantity, "a factor, a sign, a wrong term")
    small = _rounding_sized(np.array([reference]), np.array([value]), dtype)
    if small is not None:
        return small
    if reference != 0 and abs(value / reference + 1) < 1e-3:
        return "a sign error (it is the reference negated), " + causes
    storage = numerics.of(dtype).storage if dtype in numerics.NUMERICS else "float64"
    rtol = max(1e-6, 100 * numerics.unit_roundoff(storage))
    reading = explain_ratio(value / reference, sizes, rtol=rtol) \
        if reference != 0 and rtol <= RATIO_RTOL else ""
    if reading:
        return f"{reading}; otherwise {causes}"
    if value == 0 and reference != 0:
        return "a missing term (it is zero), " + causes
    return causes


def pattern(reference: np.ndarray, value: np.ndarray, mismatched: int,
             update: tuple[np.ndarray, np.ndarray] | None, quantity: str = "",
             sizes: CaseSizes | None = None, dtype: str = "float64") -> str:
    """What the shape of an error suggests, in words a learner can act on. A ratio is claimed
    only across MIN_PATTERN_ELEMENTS nonzero elements; fewer get the quantity's usual causes."""
    if update is not None and _rounding_sized(*update, dtype) is None:
        ref_step, got_step = update
        ratio = _constant_ratio(ref_step, got_step)
        if ratio is not None and abs(ratio + 1) < 1e-3:
            return ("the update moved the parameters the opposite way (−1× the reference's step): "
                    "the gradient was added instead of subtracted")
        if ratio is not None:
            reading = explain_ratio(ratio, sizes, update=True)
            shown = distinct(ratio, 1.0)[0] if abs(ratio - 1) < 0.01 else f"{ratio:.4g}"
            return (f"the update is {shown}× the reference's step for every element (from the "
                    "gradient, or a factor in the update itself)"
                    + (f": {reading}" if reading else ""))
    if np.isnan(value).any() and not np.isnan(reference).any():
        return "NaN appears where the reference has numbers"
    small = _rounding_sized(reference, value, dtype)
    if small is not None:
        return small
    ratio = _constant_ratio(reference, value)
    if ratio is not None:
        if abs(ratio + 1) < 1e-3:
            return "every element has the opposite sign (ratio −1): a sign error"
        if abs(ratio) < 1e-12:
            return "every element is zero where the reference is not"
        reading = explain_ratio(ratio, sizes)
        if reading:
            return f"every element is {ratio:.4g}× the reference: {reading}"
        if abs(ratio - 1) < 0.01:
            return (f"every element is {distinct(ratio, 1.0)[0]}× the reference (a constant "
                    "ratio just off 1: a small factor such as 1 − β or 1 + ε, not a mean taken "
                    "as a sum)")
        return (f"every element is {ratio:.4g}× the reference (a constant ratio: a missing or "
                "extra factor, such as a mean taken as a sum or a dropped constant)")
    if reference.ndim == 2 and reference.shape[0] == reference.shape[1] and reference.size > 1 \
            and np.allclose(value, reference.T, rtol=1e-6, atol=0):
        return "it equals the reference transposed"
    if mismatched < reference.size:
        return f"only {mismatched} of {reference.size} elements differ"
    nonzero = _nonzero(reference)
    if nonzero < MIN_PATTERN_ELEMENTS:
        few = f"{nonzero} nonzero element{'s' if nonzero != 1 else ''}"
        return (f"{few}: too few to tell a pattern; the usual causes: "
                f"{USUAL_CAUSES.get(quantity, 'a factor, a sign, a wrong term')}")
    return NO_PATTERN


# a relative difference below this everywhere is a rounding's size in a lower precision than the
# case's (float32 inside a float64 case: ~1e-7; float16 inside float32: ~1e-3), not a formula's
ROUNDING_SIZED = {"float64": 1e-5, "float32": 1e-3}


def _rounding_sized(reference: np.ndarray, value: np.ndarray,
                    dtype: str = "float64") -> str | None:
    """A sentence for values that differ from the reference by a rounding's size only (every
    element within ROUNDING_SIZED of the case's dtype, relatively): a precision, not a missing
    factor. Formats coarser than float32 claim nothing: their own rounding is that size."""
    bound = ROUNDING_SIZED.get(dtype)
    reference, value = np.ravel(reference), np.ravel(value)
    if reference.size == 0 or not (np.all(np.isfinite(reference)) and np.all(np.isfinite(value))):
        return None
    scale = np.maximum(np.abs(reference), np.abs(value))
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(scale > 0, np.abs(value - reference) / scale, 0.0)
    largest = float(relative.max())
    if bound is None or largest == 0 or largest >= bound:
        return None
    return (f"the largest relative difference is {largest:.1e}, the size of rounding in a lower "
            f"precision than {dtype} (arrays of another dtype inside the step?), or of a very "
            "small term, not of a missing factor")


# in a hint, what follows the values ("got 2.5; …", "against 0.5: …") is the error's pattern
_AFTER_VALUES = re.compile(r"\b(?:got|against|is) \S+?[;:] (.*)$")


def explain(row: FailingTensor, pattern: str, sizes: CaseSizes | None = None) -> str:
    """One sentence for a failing tensor: which quantity, which element, expected versus got
    (to as many digits as it takes to see them differ), then what the error's pattern points
    at. A one-element quantity gives both values and the usual causes (first a
    ratio the case's numbers make), never a pattern."""
    where = f"{row.quantity} {row.tensor}" if row.quantity != row.tensor else row.quantity
    if row.reference_value is None or row.value is None:
        return f"{where} at step {row.step}: {pattern}."
    expected, got = distinct(row.reference_value, row.value)
    if row.size == 1:
        subject = "the loss" if row.quantity == "loss" else "its one element"
        return (f"{where} at step {row.step}: {subject} is {got} against {expected}: "
                f"{_causes(row.quantity, row.reference_value, row.value, sizes, row.dtype)}, …")
    return (f"{where} at step {row.step}, element {row.worst_index}: expected {expected}, got "
            f"{got}; {pattern}.")


def pattern_of(hint: str) -> str:
    """The pattern part of a hint (after its values), without the closing full stop."""
    found = _AFTER_VALUES.search(hint)
    pattern = found.group(1) if found else ""
    return pattern[:-1] if pattern.endswith(".") else pattern
