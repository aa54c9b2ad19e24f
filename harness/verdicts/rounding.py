"""The rounding a low-precision training step adds, element by element: a first-order bound.

Under bfloat16, float16 and mixed precision (harness.format.numerics) the reference computes in
float64 and the frameworks in the low dtype, so their results differ by the rounding of every
result the frameworks store. This module bounds that difference as a forward error analysis
does (Higham, Accuracy and Stability of Numerical Algorithms, §2–3): it runs the step beside the
reference, in float64, carrying for every element an error E, and adds at each operation

- the rounding of its stored result: u·|value| + η for each rounding the operation's result
  sees (u = 2^-p, the unit roundoff of the dtype it is stored in: 2^-8 for bfloat16, 2^-11 for
  float16; η the error of a subnormal result, 2^-25 for float16; a matrix product whose bias
  is added after its own rounding sees two);
- the accumulation of a sum of n terms in float32, as torch and XLA do for these dtypes:
  n·u₃₂·Σ|terms| (the a-priori bound γ_n·Σ|x|);
- the error of its inputs carried through it: |W|·E for a matrix product, |f′(z)|·E for an
  activation, and the change of f′ (and of the loss's gradient) over the input's reach in the
  backward pass: a kink within reach is crossed.

An activation or loss formula may be written as several operations, each rounded (JAX writes
gelu as a chain of jax.numpy operations): its own rounding is counted as ``FORMULA_ROUNDINGS``
roundings of the size of its terms (harness.adapters.numpy_ops' error-bound terms), not one.
An optimizer in the low dtype rounds each of its few operations: the update carries
``UPDATE_ROUNDINGS`` roundings of its own size, and the parameter one of its own.

Each error has two parts (``_Error``): roundings, independent and of mean zero, which add as a
root-sum-square (the probabilistic model of Higham and Mary, 2019), and bounds, which add as
they are (a parameter the step starts from that may be off, a derivative's jump at a kink
within reach, float32 accumulation). What a step returns per element is the scale the verdict
multiplies by its ``rounding`` (harness.verdicts.tolerance): the roundings' root-sum-square plus
the bounds divided by that multiple. ``norm`` 1 adds the roundings too: the worst case, which
the tests check torch and JAX never exceed. The model is first order (products of two errors
are dropped: each is below u²). What a step inherits from the steps before it is measured, as
for every dtype, by harness.verdicts.inherited, which drives ``TrajectoryRounding`` step by
step with what the parameters may be off by.
"""
from __future__ import annotations

import numpy as np

from ..adapters import numpy_ops as ops
from ..adapters import numpy_ref as ref
from ..format import numerics
from ..format.case import Case, Inputs, bias_name, weight_name
from ..format.trace import Trace
from .magnitude import loss_count
from .tolerance import ROUNDING_SIGMAS

Bounds = dict[tuple[str, str], np.ndarray]  # (quantity, tensor) -> per-element error bound

FORMULA_ROUNDINGS = 3  # an activation's or loss's own formula: its operations, each rounded
UPDATE_ROUNDINGS = 8  # an optimizer's update in the low dtype: moments, root, division, step
ACCUMULATE = numerics.unit_roundoff("float32")
# where a derivative is read again, in units of the input's reach: both ends and points
# between, so a reach wider than a range (hardtanh's) still finds the range inside it
PROBES = tuple(sign * 2.0 ** -k for k in range(6) for sign in (1.0, -1.0))


def _slope_change(act, z: np.ndarray, reach: np.ndarray, g: np.ndarray,
                  g_z: np.ndarray) -> np.ndarray:
    """The largest |derivative at z + t·reach − derivative at z| over the probes t in [−1, 1],
    applied to g: what an input that far off does to the backward pass of an activation (its
    f′ read at a moved z). Smooth, it is about |f″|·reach·|g|; at a kink within reach (relu at
    0, a hardtanh edge) it is the whole jump."""
    worst = np.zeros_like(g_z)
    for step in PROBES:
        moved = z + step * reach
        worst = np.maximum(worst, np.abs(act.derivative(moved, act.value(moved), g) - g_z))
    return np.nan_to_num(worst, nan=0.0, posinf=0.0)


def _value_excess(act, z: np.ndarray, value: np.ndarray, reach: np.ndarray,
                  slope: np.ndarray) -> np.ndarray:
    """How much more f moves over z's reach than its slope at z says: nothing where f is
    smooth there, the whole move where z sits on a clamp (hardtanh at −1, a dead relu) whose
    range is within reach, which the slope at z (0) would hide."""
    excess = np.zeros_like(value)
    for step in PROBES:
        moved = np.abs(act.value(z + step * reach) - value) - slope * abs(step) * reach
        excess = np.maximum(excess, moved)
    return np.nan_to_num(excess, nan=0.0, posinf=0.0)


def _steepest(act, z: np.ndarray, reach: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """The largest |f′| over z's reach (the probes), at least the slope at z."""
    steepest = slope
    ones = np.ones_like(z)
    for step in PROBES:
        moved = z + step * reach
        steepest = np.maximum(steepest, np.abs(act.derivative(moved, act.value(moved), ones)))
    return np.nan_to_num(steepest, nan=0.0, posinf=0.0)


def _loss_gradient_change(case: Case, out: np.ndarray, y, g: np.ndarray,
                          reach: np.ndarray) -> np.ndarray:
    """|dL/dout at out ± reach − at out|: the output's error carried into the loss's gradient,
    through its curvature, or across a kink within reach (l1's sign at out = y)."""
    worst = np.zeros_like(g)
    for step in PROBES:
        moved = ref.loss_and_grad(case.loss, out + step * reach, y, case.loss_settings)[1]
        worst = np.maximum(worst, np.abs(moved - g))
    return np.nan_to_num(worst, nan=0.0, posinf=0.0)


def _target_size(y, out: np.ndarray) -> np.ndarray:
    """|y| in the output's layout (class indices as one-hot rows): a loss gradient is the
    difference of an output term and a target term, and rounds at the size of both."""
    if y is None:
        return np.zeros_like(out)
    if numerics.is_classes(y):
        return np.eye(out.shape[1])[y]
    return np.broadcast_to(np.abs(y), out.shape) if y.shape == out.shape else np.zeros_like(out)


class _Error:
    """One tensor's error in two parts. ``r``: roundings, independent and of mean zero, which
    add as a root-sum-square (Higham and Mary 2019; ``norm`` 1 adds them, the worst case).
    ``b``: bounds, which add as they are: a parameter the step starts from that may be off,
    a derivative that jumps at a kink within reach; errors that share a cause add up."""

    def __init__(self, r, b, norm: int):
        self.r, self.b, self.norm = np.asarray(r, dtype=float), np.asarray(b, dtype=float), norm

    def _rss(self, *parts):
        return sum(parts) if self.norm == 1 else np.sqrt(sum(np.square(p) for p in parts))

    def __add__(self, other: "_Error") -> "_Error":
        return _Error(self._rss(self.r, other.r), self.b + other.b, self.norm)

    def scaled(self, factor: np.ndarray) -> "_Error":
        """The error of ``factor`` (≥ 0, element by element) times the value."""
        return _Error(self.r * factor, self.b * factor, self.norm)

    def times(self, sizes: np.ndarray) -> "_Error":
        """The error of value @ sizes (sizes ≥ 0)."""
        r = self.r @ sizes if self.norm == 1 else np.sqrt(np.square(self.r) @ np.square(sizes))
        return _Error(r, self.b @ sizes, self.norm)

    def left(self, sizes: np.ndarray) -> "_Error":
        """The error of sizes @ value (sizes ≥ 0)."""
        r = sizes @ self.r if self.norm == 1 else np.sqrt(np.square(sizes) @ np.square(self.r))
        return _Error(r, sizes @ self.b, self.norm)

    def through(self, linear) -> "_Error":
        """Through a linear map of absolute values (|J|·m): both parts alike."""
        return _Error(linear(self.r), linear(self.b), self.norm)

    def total(self, axis=None) -> "_Error":
        r = self.r.sum(axis=axis) if self.norm == 1 else \
            np.sqrt(np.square(self.r).sum(axis=axis))
        return _Error(r, self.b.sum(axis=axis), self.norm)

    def reach(self, sigmas: float) -> np.ndarray:
        """How far the value may be off, at the verdict's confidence."""
        return sigmas * self.r + self.b

    def scale(self, sigmas: float) -> np.ndarray:
        """The scale the verdict multiplies by its ``rounding``: the bounds divided back."""
        return self.r + self.b / sigmas


class _Roundings:
    """Roundings to one dtype: u·|value| + η each."""

    def __init__(self, dtype: str, norm: int):
        self.u, self.eta, self.norm = numerics.unit_roundoff(dtype), numerics.underflow(dtype), norm

    def __call__(self, value, times: float = 1.0) -> _Error:
        one = self.u * np.abs(value) + self.eta
        return _Error(times * one if self.norm == 1 else np.sqrt(times) * one, 0.0 * one,
                      self.norm)

    def bound(self, value) -> _Error:
        value = np.asarray(value, dtype=float)
        return _Error(np.zeros_like(value), value, self.norm)


def step_bounds(case: Case, params: dict[str, np.ndarray], x: np.ndarray, y,
                param_error: dict[str, np.ndarray] | None = None, norm: int = 2) -> Bounds:
    """The rounding scale of the output, loss and gradients of one step at ``params`` (float64)
    in the case's low-precision format; ``param_error`` bounds what the parameters the network
    sees may be off by."""
    form = numerics.of(case.dtype)
    rnd, rnd_loss = _Roundings(form.compute, norm), _Roundings(form.loss, norm)
    # the verdict's multiple of the scale: how far a value may be off, so a kink that close
    # is crossed; the worst case (norm 1) is a bound already
    sigmas = 1.0 if norm == 1 else ROUNDING_SIGMAS
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    if form.mixed:  # the network sees its parameters and data cast to the low dtype
        params = {k: numerics.rounded64(v, form.compute) for k, v in params.items()}
        x = numerics.rounded64(x, form.compute)
    x = np.asarray(x, dtype=np.float64)
    y = numerics.targets64(y)
    param_error = param_error or {}

    def off(name: str, like: np.ndarray) -> np.ndarray:
        return np.broadcast_to(param_error.get(name, 0.0), like.shape)

    with np.errstate(all="ignore"):
        a, e_a, layers = x, rnd.bound(np.zeros_like(x)), []
        for i, layer in enumerate(case.layers):
            w, b = params[weight_name(i)], params[bias_name(i)]
            product = a @ w.T
            z = product + b
            e_z = (e_a.times(np.abs(w).T) + rnd.bound(np.abs(a) @ off(weight_name(i), w).T
                                                      + off(bias_name(i), b))
                   + rnd.bound((w.shape[1] + 1) * ACCUMULATE
                               * (np.abs(a) @ np.abs(w).T + np.abs(b)))
                   + rnd(product) + rnd(z))
            act = ref.activation(layer)
            out = act.value(z)
            slope = slope_terms = None  # per-sample activations pass through |J| instead
            if isinstance(act, ops.PerSample):
                forward, _ = act.abs_jacobian(out)
                e_out = e_z.through(forward) + rnd(out, FORMULA_ROUNDINGS)
            else:
                slope = np.abs(act.derivative(z, out, np.ones_like(z)))
                terms, slope_terms = act.terms(z, out, slope)
                e_out = (e_z.scaled(slope) + rnd(terms, FORMULA_ROUNDINGS)
                         + rnd.bound(_value_excess(act, z, out, e_z.reach(sigmas), slope)))
            layers.append((a, e_a, z, e_z, act, out, slope, slope_terms))
            a, e_a = out, e_out
        out, e_out = a, e_a  # under mixed precision cast to float32 for the loss: exactly
        loss = ops.loss(case.loss, case.loss_settings)
        count = loss_count(case, out)
        value, g = ref.loss_and_grad(case.loss, out, y, case.loss_settings)
        terms = np.abs(loss.terms(out, y)[0]) / count
        e_loss = (e_out.scaled(np.abs(g)).total() + rnd_loss(terms, FORMULA_ROUNDINGS).total()
                  + rnd.bound(terms.size * ACCUMULATE * terms.sum()) + rnd_loss(value))
        e_g = rnd.bound(_loss_gradient_change(case, out, y, g, e_out.reach(sigmas))) + \
            rnd_loss(np.abs(g) + _target_size(y, out) / count, FORMULA_ROUNDINGS)
        if form.mixed:  # the loss's float32 gradient enters the low-precision backward
            e_g = e_g + rnd(g)
        bounds = {("output", "output"): e_out, ("loss", "loss"): e_loss}
        for i in reversed(range(len(case.layers))):
            a_in, e_in, z, e_z, act, a_out, slope, slope_terms = layers[i]
            w = params[weight_name(i)]
            g_z = act.derivative(z, a_out, g)
            if isinstance(act, ops.PerSample):
                _, backward = act.abs_jacobian(a_out)
                e_gz = e_g.through(backward) + rnd(g_z, FORMULA_ROUNDINGS)
            else:
                # the error of g passes at the steepest slope within z's reach: across a kink
                # the framework may be on the other side (a jump in f′ times an error in g)
                steepest = _steepest(act, z, e_z.reach(sigmas), slope)
                e_gz = (e_g.scaled(steepest) + rnd(slope_terms * np.abs(g), FORMULA_ROUNDINGS)
                        + rnd(g_z))
            e_gz = e_gz + rnd.bound(_slope_change(act, z, e_z.reach(sigmas), g, g_z))
            batch = a_in.shape[0]
            bounds[("grad", weight_name(i))] = (
                _transpose(e_gz).times(np.abs(a_in)) + e_in.left(np.abs(g_z).T)
                + rnd.bound(batch * ACCUMULATE * (np.abs(g_z).T @ np.abs(a_in)))
                + rnd(g_z.T @ a_in))
            bounds[("grad", bias_name(i))] = (
                e_gz.total(axis=0) + rnd.bound(batch * ACCUMULATE * np.abs(g_z).sum(axis=0))
                + rnd(g_z.sum(axis=0)))
            g = g_z @ w
            e_g = (e_gz.times(np.abs(w)) + rnd.bound(np.abs(g_z) @ off(weight_name(i), w))
                   + rnd.bound(w.shape[0] * ACCUMULATE * (np.abs(g_z) @ np.abs(w))) + rnd(g))
    return {k: np.nan_to_num(v.scale(sigmas), nan=0.0, posinf=np.inf)
            for k, v in bounds.items()}


def _transpose(error: _Error) -> _Error:
    return _Error(error.r.T, error.b.T, error.norm)


class TrajectoryRounding:
    """The rounding scales of a low-precision trajectory, one step at a time, each step told
    what the parameters it starts from may be off by. harness.verdicts.inherited drives it
    with its own measure of that (every rounding and update difference so far, as an
    allowance): the output and gradients of a later step then carry each parameter's
    uncertainty through the same propagation as a rounding, element by element, rather than
    through a few sign patterns."""

    def __init__(self, case: Case, inputs: Inputs, norm: int = 2):
        self.case, self.norm = case, norm
        self.form = numerics.of(case.dtype)
        self.x = np.asarray(inputs.x, dtype=np.float64)
        self.y = inputs.y
        self.stored = _Roundings(self.form.storage, norm)
        self.bounds: list[Bounds] = []

    def step(self, before: dict, after: dict, uncertainty: dict | None) -> Bounds:
        """The scales of the next step from parameters ``before`` to ``after``, the former off
        by at most ``uncertainty`` (None at the first step)."""
        if uncertainty is not None and self.form.mixed:  # a cast that may round the other way
            u = numerics.unit_roundoff(self.form.compute)
            uncertainty = {k: v + 2 * u * np.abs(before[k]) for k, v in uncertainty.items()}
        bounds = step_bounds(self.case, before, self.x, self.y, uncertainty, self.norm)
        sigmas = 1.0 if self.norm == 1 else ROUNDING_SIGMAS
        with np.errstate(all="ignore"):
            for name, value in after.items():
                change = np.abs(value - before[name])
                own = self.stored(value) + self.stored(change, UPDATE_ROUNDINGS)
                bounds[("param", name)] = own.scale(sigmas)
        bounds = {k: np.nan_to_num(v, nan=0.0, posinf=np.inf) for k, v in bounds.items()}
        self.bounds.append(bounds)
        return bounds


def trace_bounds(case: Case, inputs: Inputs, reference: Trace, norm: int = 2) -> list[Bounds]:
    """Per step, the rounding scales of what a low-precision framework computes, the updated
    parameters too, with only the parameters' own roundings carried from step to step (the
    verdicts carry more: harness.verdicts.inherited); empty for float32 and float64, whose
    tolerances are measured constants (harness.verdicts.tolerance). With ``norm`` 1, the
    worst case: every error at its bound and of one sign."""
    if not numerics.of(case.dtype).low:
        return []
    rounding = TrajectoryRounding(case, inputs, norm)
    sigmas = 1.0 if norm == 1 else ROUNDING_SIGMAS
    before = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.params.items()}
    carried = None
    for step in reference.steps:
        bounds = rounding.step(before, step.params, carried)
        own = {k: sigmas * bounds[("param", k)] for k in step.params}
        carried = own if carried is None else {k: carried[k] + own[k] for k in own}
        before = step.params
    return rounding.bounds
