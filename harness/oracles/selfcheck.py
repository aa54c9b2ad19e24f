"""Self-consistency: a party's gradients against finite differences of its OWN loss.

Comparing with the reference says whether a number differs, not whether the backward pass is
wrong: a wrong loss makes every gradient differ too, and hides a backward pass that is also wrong.
So each --impl file (and any framework named with ``--self-check NAME``) is asked, at the
parameters of its first step, for its loss at perturbed parameters, and its gradients are
compared with central differences of that loss. A mismatch is a finding of its own, in rows
with the reference ``self``: "your gradients are not the derivative of your own loss: the
backward pass is wrong". Where the self-check passes and the loss still differs from the
reference, the backward pass is consistent and the mistake is in the forward pass or the loss.

For each sampled element (at most ``finite_differences.samples``, 64 by default, seeded as the
fd oracle's), the party is called at p ± h and p ± h/2 in the case's dtype, h a power of two
near cbrt(eps)·max(1, |p|) of that dtype, and the differences are taken in float64 over the
steps actually made (p ± h rounded to the dtype), combined by Richardson extrapolation. Each
estimate carries its error bound, truncation plus rounding (eps of the dtype times the loss over
h), and the comparison adds a relative tolerance sized to the dtype on top: only a gradient
clearly not the derivative fails. An element whose perturbation moves a pre-activation or a
loss residual across a kink of the case (by the reference's forward pass) is inconclusive.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from ..format import numerics
from ..format.case import Case, Inputs
from ..verdicts.compare import ERROR, FAIL, INCONCLUSIVE, Context, Row, compare_tensor
from ..verdicts.judge import Judge, ToleranceSource
from ..verdicts.numbers import distinct
from ..verdicts.tolerance import Tolerance, largest
from . import fd

MESSAGE = "your gradients are not the derivative of your own loss: the backward pass is wrong"
ROUNDING_FACTOR = fd.ROUNDING_FACTOR
# on top of each estimate's own error bound: relative to the element and to the largest gradient
RTOL = {"float32": 3e-3, "float64": 1e-7}

LossAndGrads = Callable[[dict], tuple[float, dict]]


def self_check_judge(dtype: str) -> Judge:
    """A self-check's own tolerance, on top of each estimate's error bound: never a case's."""
    form = numerics.of(dtype)  # a low-precision format's check is a skip (check)
    rtol = RTOL.get(form.storage, RTOL["float32"])
    tiny = float(np.finfo(np.float32 if form.low else form.storage).tiny)
    return Judge(Tolerance(atol=tiny, rtol=rtol, scale_rtol=rtol),
                 ToleranceSource(dtype, self_check=True))


def loss_function(adapter, case: Case, inputs: Inputs) -> LossAndGrads:
    """params -> (loss as a float, gradients): the adapter's own forward_backward where it has
    one (--impl files), else one training step of its run()."""
    if hasattr(adapter, "forward_backward"):
        def call(params):
            _, loss, grads = adapter.forward_backward(case, params, inputs.x, inputs.y)
            return float(np.asarray(loss, dtype=np.float64)), grads
    else:
        one_step = replace(case, steps=1)

        def call(params):
            step = adapter.run(one_step, Inputs(params, inputs.x, inputs.y)).steps[0]
            return float(np.asarray(step.loss, dtype=np.float64)), step.grads
    return call


def _step(value: float, h: float, dtype) -> tuple[np.generic, float]:
    """value + h rounded to the dtype, and the step actually made, in float64."""
    moved = np.asarray(value + h).astype(dtype)
    return moved, float(moved) - value


def check(adapter, case: Case, inputs: Inputs, ctx: Context) -> list[Row]:
    """Rows ``self`` for every parameter tensor at the first step's parameters."""
    if numerics.of(case.dtype).low:
        return [ctx.row(step=1, quantity="grad", tensor="", status="skip",
                        message=f"the self-check differentiates {adapter.name}'s own loss by "
                                f"finite differences, which {case.dtype} rounds away; it runs "
                                f"in float32 and float64")]
    dtype = np.dtype(case.dtype)
    eps = float(np.finfo(dtype).eps)
    h0 = eps ** (1 / 3)
    call = loss_function(adapter, case, inputs)
    params = {k: np.array(v, copy=True) for k, v in inputs.params.items()}
    base, grads = call(params)
    grads = {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}
    kinks = _Kinks(case, inputs)
    tolerance = ctx.judge.tolerance
    results = {}
    for name in case.param_names:
        tensor = params[name].reshape(-1)  # a view: perturbations write through
        indices = fd.sample_indices(case, name, tensor.size)
        estimates, errors, crossed = [], [], []
        with np.errstate(all="ignore"):
            for j in indices:
                original = tensor[j]
                p = float(original)
                h = 2.0 ** round(np.log2(h0 * max(1.0, abs(p))))
                values, moved, across = {}, {}, False
                for t in (h, -h, h / 2, -h / 2):
                    tensor[j], moved[t] = _step(p, t, dtype)
                    values[t], _ = call(params)
                    across = across or kinks.crossed(params)
                tensor[j] = original
                wide = (values[h] - values[-h]) / (moved[h] - moved[-h])
                narrow = (values[h / 2] - values[-h / 2]) / (moved[h / 2] - moved[-h / 2])
                estimate, truncation = fd.richardson(np.array(wide), np.array(narrow),
                                                      case.finite_differences["richardson"])
                magnitude = max(abs(base), *(abs(v) for v in values.values()))
                estimates.append(float(estimate))
                errors.append(float(truncation) + ROUNDING_FACTOR * eps * magnitude / h)
                crossed.append(across)
        results[name] = (indices, np.array(estimates), np.array(errors),
                         np.array(crossed, dtype=bool))
    scale = largest(*(r[1] for r in results.values()))
    rows = []
    for name, (indices, estimates, errors, crossed) in results.items():
        got = grads[name].reshape(-1)[indices]
        rows.append(_row(ctx, name, indices, grads[name].shape, estimates, got, errors, crossed,
                         tolerance, scale))
    return rows


def _row(ctx: Context, name: str, indices: np.ndarray, shape: tuple[int, ...],
         estimates: np.ndarray, got: np.ndarray, errors: np.ndarray, crossed: np.ndarray,
         tolerance: Tolerance, scale: float) -> Row:
    """One tensor: the sampled gradient elements against the finite differences of the loss."""
    undefined = ~np.isfinite(estimates) | ~np.isfinite(errors)
    keep = ~(crossed | undefined)
    notes = []
    if crossed.any():
        notes.append(f"{int(crossed.sum())} of {len(indices)} checked elements inconclusive: a "
                     "kink lies within a finite-difference step")
    if undefined.any():
        notes.append(f"{int(undefined.sum())} of {len(indices)} checked elements inconclusive: "
                     "the loss is not finite within a finite-difference step")
    if not keep.any():
        return ctx.row(step=1, quantity="grad", tensor=name, status=INCONCLUSIVE,
                       message="; ".join(notes), size=len(indices))
    row = compare_tensor(ctx, 1, "grad", name, estimates[keep], got[keep], tolerance, scale,
                         extra=errors[keep], positions=(indices[keep], shape))
    size = int(np.prod(shape))
    if len(indices) < size:
        notes.append(f"{len(indices)} of {size} elements sampled")
    message = "; ".join(m for m in (row.message, *notes) if m)
    if row.status == FAIL:
        message = f"{MESSAGE}; {message}"
        estimate, yours = distinct(row.reference_value, row.value)
        hint = (f"grad {name} at step 1, element {row.worst_index}: finite differences of your "
                f"own loss give {estimate}, your gradient is {yours}; {MESSAGE}.")
        return replace(row, message=message, hint=hint, suspect=ctx.framework)
    return replace(row, message=message)


class _Kinks:
    """Whether a perturbation moved any pre-activation or loss residual across a kink, judged
    by the reference's forward pass in float64 (the party's own internals are not visible)."""

    def __init__(self, case: Case, inputs: Inputs):
        y = numerics.targets64(inputs.y)
        self.loss = fd.Loss(case, inputs.x.astype(np.float64), y)
        self.active = bool(self.loss.kinked_layers or self.loss.loss_kinks)
        if self.active:
            with np.errstate(all="ignore"):
                _, self.base = self.loss(self._float64(inputs.params))

    @staticmethod
    def _float64(params: dict) -> dict:
        return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}

    def crossed(self, params: dict) -> bool:
        if not self.active:
            return False
        _, sides = self.loss(self._float64(params))
        return any(np.any(a != b) for a, b in zip(sides, self.base))


def error_row(ctx: Context, message: str) -> Row:
    """The self-check could not run (the party raised at perturbed parameters, …)."""
    return ctx.row(step=None, quantity="grad", tensor="", status=ERROR,
                   message=f"self-check: {message}", suspect=ctx.framework)
