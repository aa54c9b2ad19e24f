"""Numbers as a reader sees them in a verdict: two values that differ printed so that they look
different, and a share of the tolerance that is far beyond it said in words.

Three significant figures hide a difference in the fifth ("0.250888 against 0.250888"), and a
share of 3.5e+12 tells a learner nothing the difference and the allowance do not say better.
"""
from __future__ import annotations

import math

FAR_OUTSIDE = 1000.0  # a share of the tolerance beyond this is "far outside", not a number
LEAST_DIGITS = 4  # significant digits of a value, at least; more where two values need them


def distinct(a: float, b: float, least: int = LEAST_DIGITS) -> tuple[str, str]:
    """``a`` and ``b`` each to the fewest significant digits (at least ``least``) at which they
    read differently; equal values, NaN and infinities as they are."""
    if a == b or not (math.isfinite(a) and math.isfinite(b)):
        return f"{a:.{least}g}", f"{b:.{least}g}"
    for digits in range(least, 18):
        shown = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if shown[0] != shown[1]:
            return shown
    return repr(float(a)), repr(float(b))


def short(value: float | None, none: str = "") -> str:
    """A size, an allowance or a difference: three significant figures are enough for a size."""
    return none if value is None else f"{value:.3g}"


def share(used: float | None, none: str = "") -> str:
    """A share of the tolerance used: a number up to FAR_OUTSIDE, beyond it "far outside"."""
    if used is None:
        return none
    if used > FAR_OUTSIDE:
        return "far outside"
    return f"{used:.0f}" if used >= 100 else f"{used:.3g}"  # 999.7, not 1e+03


def against_allowance(difference: float, allowed: float, used: float | None = None) -> str:
    """How a failing element stands against its allowance, in words: "|diff| 0.0307 > allowed
    0.0123 (2.5× the tolerance)", or "far outside the tolerance: |diff| 0.72, allowed 1.8e-11"."""
    used = difference / allowed if used is None and allowed > 0 else used
    if used is None or used > FAR_OUTSIDE or not math.isfinite(used):
        return f"far outside the tolerance: |diff| {short(difference)}, allowed {short(allowed)}"
    return f"|diff| {short(difference)} > allowed {short(allowed)} ({used:.3g}× the tolerance)"
