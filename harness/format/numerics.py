"""The numeric formats a case runs in: what each name in a case's ``dtype:`` list means.

- ``float64``, ``float32``: every party computes in that dtype from the same values, rounded
  once from the case's float64 numbers.
- ``bfloat16``, ``float16``: the data and the initial parameters are rounded once from float64
  to the dtype (round to nearest, ties to even, directly: never through float32, which would
  round twice); the frameworks compute in the dtype, parameters and optimizer state included,
  with each framework's own accumulation in float32 where it has one; the reference computes in
  float64 on those rounded values, so it is the exact answer the low-precision run approximates.
- ``mixed-bfloat16``, ``mixed-float16``: mixed precision. float32 master parameters and
  optimizer state; the forward and backward of the network in the low dtype, by each framework's
  own mechanism (torch.autocast; in JAX parameters and inputs cast for the forward), the loss in
  float32. The reference computes in float64 on the parameters and data rounded to the low dtype
  at every step, as the casts do, and updates float64 master parameters.

Names only, and the rounding rule: which party supports which is each adapter's to say.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# bits of the significand, the implicit one included: unit roundoff 2^-bits
_BITS = {"float64": 53, "float32": 24, "float16": 11, "bfloat16": 8}
# the exponent of the smallest normal number: 2^-126 for float32 and bfloat16
_MIN_EXPONENT = {"float64": -1022, "float32": -126, "float16": -14, "bfloat16": -126}
LOW = ("bfloat16", "float16")
MIXED_PREFIX = "mixed-"


@dataclass(frozen=True)
class Numerics:
    """One numeric format: where parameters live, what the network computes in, and the loss."""

    name: str
    storage: str  # the dtype of the data and (master) parameters every party is given
    compute: str  # the dtype of the network's forward and backward in a framework
    loss: str  # the dtype a framework computes the loss in

    @property
    def low(self) -> bool:
        """Whether the frameworks compute in a low-precision dtype (the reference does not)."""
        return self.compute in LOW

    @property
    def mixed(self) -> bool:
        return self.storage != self.compute

    @property
    def reference(self) -> str:
        """The dtype the reference computes in: float64 under every low-precision format."""
        return "float64" if self.low else self.compute


NUMERICS: dict[str, Numerics] = {
    "float32": Numerics("float32", "float32", "float32", "float32"),
    "float64": Numerics("float64", "float64", "float64", "float64"),
    "bfloat16": Numerics("bfloat16", "bfloat16", "bfloat16", "bfloat16"),
    "float16": Numerics("float16", "float16", "float16", "float16"),
    "mixed-bfloat16": Numerics("mixed-bfloat16", "float32", "bfloat16", "float32"),
    "mixed-float16": Numerics("mixed-float16", "float32", "float16", "float32"),
}
DTYPES = tuple(NUMERICS)


def of(dtype: str) -> Numerics:
    return NUMERICS[dtype]


def unit_roundoff(dtype: str) -> float:
    """u = 2^-p for a significand of p bits: the largest relative error of one rounding."""
    return 2.0 ** -_BITS[dtype]


def underflow(dtype: str) -> float:
    """The largest absolute error of rounding a number below the smallest normal: half the
    spacing of the subnormals (float16's are 2^-24 apart, so a gradient of 1e-6 keeps only
    four bits)."""
    return 2.0 ** (-_BITS[dtype] + _MIN_EXPONENT[dtype])


def is_classes(y) -> bool:
    """Whether targets are class indices (integers), not values: ml_dtypes' bfloat16 is not
    a NumPy float kind, so a float test would take it for indices."""
    return np.issubdtype(np.asarray(y).dtype, np.integer)


def targets64(y):
    """Targets as the float64 checks read them: values in float64, class indices (and None)
    as they are."""
    return y if y is None or is_classes(y) else np.asarray(y).astype(np.float64)


def numpy_dtype(dtype: str) -> np.dtype:
    """The NumPy dtype of a plain dtype name; bfloat16 is ml_dtypes' (a dependency of JAX)."""
    if dtype == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(dtype)


def rounded(values: np.ndarray, dtype: str) -> np.ndarray:
    """``values`` rounded once to a plain dtype (nearest, ties to even), in that dtype.
    ml_dtypes and NumPy both round float64 directly (checked by the tests). A value beyond the
    dtype's range rounds to infinity, as the hardware's would: no warning (the loader notes it
    once, harness.format.loader.range_notes)."""
    with np.errstate(over="ignore"):
        return np.asarray(values).astype(numpy_dtype(dtype))


def rounded64(values: np.ndarray, dtype: str) -> np.ndarray:
    """``values`` rounded to a plain dtype, as float64 (exactly the rounded numbers)."""
    return rounded(values, dtype).astype(np.float64)
