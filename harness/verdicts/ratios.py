"""A constant ratio explained by the case's own numbers.

"Every element is 10× the reference" is a fact; "10 = batch 5 × 2 outputs: the mean over all
elements taken as a sum" is the mistake. The factors a hand-written training step most often
gets wrong are the batch size (the 1/N of a mean over samples), the number of outputs (a mean
over each sample's outputs), both together (a mean over every element), the 2 of a square's
derivative, and (in an update) the learning rate. A ratio is explained when it equals a product
of those factors (each to the power −1, 0 or 1) within RATIO_RTOL.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

RATIO_RTOL = 1e-3  # a ratio equals a product of the case's factors within this relative distance


@dataclass(frozen=True)
class CaseSizes:
    """The numbers of one case run that a missing or extra factor is made of."""

    batch: int
    outputs: int
    lr: float | None = None

    @classmethod
    def of(cls, case, inputs) -> "CaseSizes":
        lr = getattr(case.optimizer, "lr", None)
        return cls(int(inputs.x.shape[0]) if inputs.x.ndim else 1, int(case.layers[-1].units),
                   float(lr) if isinstance(lr, (int, float)) else None)


def _factors(sizes: CaseSizes, update: bool) -> list[tuple[str, float, str, str, int]]:
    """(name, value, too many, too few, unlikeliness): each factor, what it means to have it
    once too often (the ratio above 1) or once too rarely (below 1), and how far down a reading
    that uses it goes: the case's structure first, then the 2 of a square, then the learning
    rate."""
    n, k = sizes.batch, sizes.outputs
    factors = [
        ("batch", n, "a mean over the batch taken as a sum",
         "divided by the batch once too often (a sum taken as a mean, or the 1/N applied twice)",
         0),
        ("outputs", k, "a mean over each sample's outputs taken as a sum",
         "divided by the outputs once too often", 0),
        ("2", 2.0, "a 2 too many (the 2 of a square counted twice, or ½·x² differentiated as x²)",
         "a 2 dropped (the 2 of a square's derivative, or a ½ too many)", 1),
    ]
    if update and sizes.lr not in (None, 0.0, 1.0, 2.0):
        factors.append(("lr", sizes.lr, "the learning rate applied twice",
                        "the learning rate left out of the step", 2))
    return [f for f in factors if f[1] not in (0, 1)]


def _named(factor) -> str:
    name, value = factor[0], factor[1]
    return f"{value:g} outputs" if name == "outputs" else "2" if name == "2" else \
        f"{name} {value:g}"


def _reading(ratio: float, combination: list[tuple[tuple, int]], sizes: CaseSizes) -> str:
    """"10 = batch 5 × 2 outputs: a mean over all 10 elements (batch × outputs) taken as a sum"
    for one way of making the ratio."""
    up = [f for f, p in combination if p > 0]
    down = [f for f, p in combination if p < 0]
    arithmetic = " × ".join(_named(f) for f in up) or "1"
    if down:
        arithmetic += " / " + " / ".join(_named(f) for f in down)
    every = sizes.batch * sizes.outputs
    if {f[0] for f in up} == {"batch", "outputs"} and not down:
        meaning = f"a mean over all {every} elements (batch × outputs) taken as a sum"
    elif {f[0] for f in down} == {"batch", "outputs"} and not up:
        meaning = (f"divided by all {every} elements (batch × outputs) once too often: a sum "
                   "taken as a mean")
    else:
        meaning = ", and ".join([f[2] for f in up] + [f[3] for f in down])
    return f"{ratio:.4g} = {arithmetic}: {meaning}"


MAX_READINGS = 2


def _cancelling(chosen: list[tuple[float, int]], rtol: float) -> bool:
    """Whether two of the chosen factors multiply to 1."""
    return any(abs(a ** p * b ** q - 1) <= rtol
               for i, (a, p) in enumerate(chosen) for b, q in chosen[i + 1:])


def explain_ratio(ratio: float, sizes: CaseSizes | None, update: bool = False,
                  rtol: float = RATIO_RTOL) -> str:
    """The case's numbers that make ``ratio`` (got / reference), with what each means; "" when
    none does. The likeliest reading comes first; a second is given where another product makes
    the same ratio (2 outputs, or the 2 of a square)."""
    if sizes is None or not ratio or ratio != ratio or abs(abs(ratio) - 1) < rtol:
        return ""
    factors = _factors(sizes, update)
    found: list[tuple[tuple[int, int], str]] = []
    for powers in itertools.product((-1, 0, 1), repeat=len(factors)):
        used = [p for p in powers if p]
        if not used or len(used) > 3 or (len(used) == 3 and len(set(used)) > 1):
            continue  # four factors, or three some up some down: arithmetic, not a mistake
        if _cancelling([(f[1], p) for f, p in zip(factors, powers) if p], rtol):
            continue  # 2 × lr 0.5 is 1: a reading that says nothing
        value = 1.0
        for f, p in zip(factors, powers):
            value *= f[1] ** p
        if abs(abs(ratio) - value) <= rtol * value:
            chosen = [(f, p) for f, p in zip(factors, powers) if p]
            found.append(((sum(f[4] for f, _ in chosen), len(chosen)),
                          _reading(abs(ratio), chosen, sizes)))
    readings = [text for _, text in sorted(found)][:MAX_READINGS]
    if not readings:
        return ""
    sign = "the opposite sign, and " if ratio < 0 else ""
    return sign + " — or ".join(readings)
