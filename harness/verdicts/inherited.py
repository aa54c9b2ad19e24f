"""What a step inherits: the uncertainty a trajectory carries from the steps before it.

Trajectories run free, so step k starts from parameters each party computed itself. Those
parameters agree only within their tolerance, and some steps magnify that: a centered rmsprop
whose successive gradients are alike divides by a variance that cancels, a momentum buffer sums
terms of opposite sign, and a forward pass through a steep activation moves its output more
than its input. Rather than derive the condition number of every optimizer and layer by hand,
this module measures it, as a perturbation analysis does (forward error ≈ sensitivity ×
uncertainty of the input):

- the reference's optimizer is replayed from the shared initial parameters on the reference's
  gradients, and again on gradients moved by their own allowance with a few sign patterns that
  change from step to step (an error that keeps its sign is one an adam hardly feels); the
  largest difference in the updated parameters is what an update may add;
- each step after the first is evaluated again at the parameters it starts from, moved by their
  allowance with fixed sign patterns; the largest difference in the output, the loss and the
  gradients is what the step inherits.

Both are computed in float64 from the reference's trajectory and added to the allowance of the
comparisons they concern (harness.verdicts.compare). They are zero for the first step's output, loss and
gradients, which start from the same numbers everywhere.
"""
from __future__ import annotations

import numpy as np

from ..adapters import numpy_ref as ref
from ..format import numerics
from ..format.case import Case, Inputs
from ..adapters.numpy_optim import NumpyOptimizer
from .rounding import TrajectoryRounding
from .tolerance import Tolerance, largest
from ..format.trace import Trace

PATTERNS = 4  # +1 everywhere, −1 everywhere, two seeded random sign patterns
# gradients are moved differently at every step: +1 and −1 at every step; alternating, so the
# latest step goes against the ones before (an adam whose gradients keep their sign is moved
# by nothing else: a constant error scales its first and second moments alike); two seeded
# random patterns drawn again at each step
UPDATE_PATTERNS = 6
LOW_PRECISION_MARGIN = 1.5

Allowances = dict[tuple[str, str], np.ndarray]


def _update_signs(like: dict[str, np.ndarray], pattern: int,
                  step: int) -> dict[str, np.ndarray]:
    """The sign pattern the gradients of ``step`` are moved by in the replay ``pattern``."""
    if pattern < 4:
        sign = (1.0, -1.0, (-1.0) ** step, -((-1.0) ** step))[pattern]
        return {k: np.full(v.shape, sign) for k, v in like.items()}
    rng = np.random.default_rng([pattern, step, 8191])
    return {k: rng.choice((-1.0, 1.0), v.shape) for k, v in sorted(like.items())}


def _signs(like: dict[str, np.ndarray], pattern: int) -> dict[str, np.ndarray]:
    if pattern < 2:
        return {k: np.full(v.shape, 1.0 if pattern == 0 else -1.0) for k, v in like.items()}
    rng = np.random.default_rng([pattern, 8191])
    return {k: rng.choice((-1.0, 1.0), v.shape) for k, v in sorted(like.items())}


def _step(case: Case, params: dict, x, y) -> dict[tuple[str, str], np.ndarray]:
    with np.errstate(all="ignore"):
        out, cache = ref.forward(case, params, x)
        loss, upstream = ref.loss_and_grad(case.loss, out, y, case.loss_settings)
        grads = ref.backward(case, params, cache, upstream)
    values = {("output", "output"): out, ("loss", "loss"): np.asarray(loss)}
    values.update({("grad", k): v for k, v in grads.items()})
    return values


def trajectory_allowances(case: Case, inputs: Inputs, reference: Trace, magnitudes: list[dict],
                          tolerance: Tolerance, rounding: TrajectoryRounding | None = None
                          ) -> list[Allowances]:
    """Per step, the extra allowance of each tensor for what the step inherits. Under a
    low-precision format ``rounding`` gives each step's own rounding bounds, told what the
    parameters the step starts from may be off by (kept in ``rounding.bounds``)."""
    case64 = case.for_dtype("float64")
    x = inputs.x.astype(np.float64)
    y = numerics.targets64(inputs.y)
    start = {k: v.astype(np.float64) for k, v in inputs.params.items()}
    replays = [NumpyOptimizer(case.optimizer) for _ in range(UPDATE_PATTERNS + 1)]  # [0]: as is
    current = [dict(start) for _ in replays]
    uncertain = {k: np.zeros_like(v) for k, v in start.items()}  # of the parameters a step starts from
    # the rounding the parameters stored at the steps before left in them: p_k = p_(k-1) + Δ_k
    # carries p_(k-1)'s error whole (a small parameter left by two large moves keeps theirs).
    # Only the rounding, never the verdict's margin: under a low-precision format its scale
    # (harness.verdicts.rounding) times the tolerance's `rounding`, else one unit roundoff of
    # the result and of the step
    carried = {k: np.zeros_like(v) for k, v in start.items()}
    stored = numerics.unit_roundoff(numerics.of(case.dtype).storage)
    # the sign patterns sample the directions the gradients may be off in; under a
    # low-precision format those allowances are a sizeable part of the gradients, the replay
    # strays far, and a centered rmsprop whose variance cancels met a worse direction than
    # the six (calibration, mixed-bfloat16): half as much again
    sampled = LOW_PRECISION_MARGIN if numerics.of(case.dtype).low else 1.0
    before = start
    out: list[Allowances] = []
    for number, step in enumerate(reference.steps):
        extra: Allowances = {}
        if number:  # the step starts from parameters known only within `uncertain`
            base = _step(case64, before, x, y)
            for pattern in range(PATTERNS):
                signs = _signs(uncertain, pattern)
                moved = {k: before[k] + signs[k] * uncertain[k] for k in before}
                for key, value in _step(case64, moved, x, y).items():
                    with np.errstate(invalid="ignore"):
                        gap = np.abs(value - base[key])
                    extra[key] = np.maximum(extra.get(key, 0.0), np.nan_to_num(gap, nan=0.0))
        sizes = magnitudes[number]
        bounds = rounding.step(before, step.params, uncertain if number else None) \
            if rounding is not None else {}
        grad_scale = largest(*step.grads.values())
        grad_allowed = {k: tolerance.allowed(g, grad_scale, sizes.get(("grad", k)),
                                             bound=bounds.get(("grad", k)))[1]
                        + extra.get(("grad", k), 0.0) for k, g in step.grads.items()}
        with np.errstate(all="ignore"):
            for i, (optimizer, params) in enumerate(zip(replays, current)):
                grads = {k: g.astype(np.float64) for k, g in step.grads.items()}
                if i:
                    signs = _update_signs(grads, i - 1, number)
                    grads = {k: g + signs[k] * grad_allowed[k] for k, g in grads.items()}
                current[i] = optimizer.step(params, grads)
            for k in start:
                gaps = [np.abs(current[i][k] - current[0][k]) for i in range(1, len(current))]
                extra[("param", k)] = sampled * np.nan_to_num(np.max(gaps, axis=0), nan=0.0,
                                                              posinf=0.0) + carried[k]
        param_scale = largest(*step.params.values())
        own = {k: np.nan_to_num(tolerance.allowed(p, param_scale, sizes.get(("param", k)),
                                                  bound=bounds.get(("param", k)))[1],
                                nan=0.0, posinf=0.0) for k, p in step.params.items()}
        uncertain = {k: own[k] + extra[("param", k)] for k in own}
        with np.errstate(all="ignore"):  # the rounding the stored parameters carry on
            carried = {k: carried[k] + np.nan_to_num(
                tolerance.rounding * bounds[("param", k)] if ("param", k) in bounds
                else stored * (np.abs(p) + np.abs(p - before[k])), nan=0.0, posinf=0.0)
                for k, p in step.params.items()}
        before = {k: v.astype(np.float64) for k, v in step.params.items()}
        out.append(extra)
    return out
