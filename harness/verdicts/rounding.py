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
  activation, and the change of f′ over z ± E for its derivative in the backward pass.

An activation or loss formula may be written as several operations, each rounded (JAX writes
gelu as a chain of jax.numpy operations): its own rounding is counted as ``FORMULA_ROUNDINGS``
roundings of the size of its terms (harness.adapters.numpy_ops' error-bound terms), not one.
An optimizer in the low dtype rounds each of its few operations: the update carries
``UPDATE_ROUNDINGS`` roundings of its own size, and the parameter one of its own.

The bound is first order (products of two errors are dropped: each is below u²) and worst case
(errors add, never cancel). What a step inherits from the steps before it is measured, as for
every dtype, by harness.verdicts.inherited, with this bound among the allowances it perturbs.
"""
from __future__ import annotations

import numpy as np

from ..adapters import numpy_ops as ops
from ..adapters import numpy_ref as ref
from ..format import catalog, numerics
from ..format.case import Case, Inputs, bias_name, weight_name
from ..format.trace import Trace
from .tolerance import ROUNDING_SIGMAS

Bounds = dict[tuple[str, str], np.ndarray]  # (quantity, tensor) -> per-element error bound

FORMULA_ROUNDINGS = 3  # an activation's or loss's own formula: its operations, each rounded
UPDATE_ROUNDINGS = 8  # an optimizer's update in the low dtype: moments, root, division, step
ACCUMULATE = numerics.unit_roundoff("float32")


def _count(case: Case, out: np.ndarray) -> int:
    if case.loss_settings.get("reduction", "sum") != "mean":
        return 1
    return out.size if catalog.LOSSES[case.loss].reduced_over == catalog.ELEMENTS else out.shape[0]


def _slope_change(act, z: np.ndarray, error: np.ndarray, g: np.ndarray, g_z: np.ndarray,
                  reach: float) -> np.ndarray:
    """|derivative at z ± reach·E − derivative at z| / reach, applied to g: what an input error
    does to the backward pass of an activation (its f′ read at a moved z). Smooth, it is
    |f″|·E·|g|; at a kink within reach (relu at 0) it is the jump, over reach, so that the
    verdict's ``rounding`` (= reach) times it allows the whole jump."""
    worst = np.zeros_like(g_z)
    for sign in (1.0, -1.0):
        moved = z + sign * reach * error
        worst = np.maximum(worst, np.abs(act.derivative(moved, act.value(moved), g) - g_z))
    return np.nan_to_num(worst / reach, nan=0.0, posinf=0.0)


def _loss_gradient_change(case: Case, out: np.ndarray, y, g: np.ndarray, error: np.ndarray,
                          reach: float) -> np.ndarray:
    """|dL/dout at out ± reach·E − at out| / reach: the output's error carried into the loss's
    gradient, through its curvature, or across a kink within reach (l1's sign at out = y)."""
    worst = np.zeros_like(g)
    for sign in (1.0, -1.0):
        moved = ref.loss_and_grad(case.loss, out + sign * reach * error, y,
                                  case.loss_settings)[1]
        worst = np.maximum(worst, np.abs(moved - g))
    return np.nan_to_num(worst / reach, nan=0.0, posinf=0.0)


def _target_size(y, out: np.ndarray) -> np.ndarray:
    """|y| in the output's layout (class indices as one-hot rows): a loss gradient is the
    difference of an output term and a target term, and rounds at the size of both."""
    if y is None:
        return np.zeros_like(out)
    if numerics.is_classes(y):
        return np.eye(out.shape[1])[y]
    return np.broadcast_to(np.abs(y), out.shape) if y.shape == out.shape else np.zeros_like(out)


class _Errors:
    """How errors combine: ``norm`` 1 adds them (the worst case), 2 adds their squares (the
    probabilistic model: independent roundings of mean zero, Higham and Mary 2019)."""

    def __init__(self, dtype: str, norm: int):
        self.u, self.eta, self.norm = numerics.unit_roundoff(dtype), numerics.underflow(dtype), norm

    def rounding(self, value, times: float = 1.0) -> np.ndarray:
        """``times`` roundings of a result the size of ``value``: each u·|value| + η."""
        one = self.u * np.abs(value) + self.eta
        return times * one if self.norm == 1 else np.sqrt(times) * one

    def add(self, *errors) -> np.ndarray:
        if self.norm == 1:
            return sum(errors)
        return np.sqrt(sum(np.square(e) for e in errors))

    def times(self, errors: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """The error of ``errors @ sizes`` (sizes ≥ 0), each product's error alone."""
        if self.norm == 1:
            return errors @ sizes
        return np.sqrt(np.square(errors) @ np.square(sizes))

    def total(self, errors: np.ndarray, axis=None) -> np.ndarray:
        return errors.sum(axis=axis) if self.norm == 1 else \
            np.sqrt(np.square(errors).sum(axis=axis))


def step_bounds(case: Case, params: dict[str, np.ndarray], x: np.ndarray, y,
                param_error: dict[str, np.ndarray] | None = None, norm: int = 2) -> Bounds:
    """Bounds of the output, loss and gradients of one step at ``params`` (float64) in the
    case's low-precision format; ``param_error`` is what the parameters the network sees may
    be off by (a cast of master weights that may round the other way)."""
    form = numerics.of(case.dtype)
    err, err_loss = _Errors(form.compute, norm), _Errors(form.loss, norm)
    # how far an input may be off: the bound itself (norm 1), or the verdict's multiple of
    # the scale (norm 2), so a kink that close is crossed
    reach = 1.0 if norm == 1 else ROUNDING_SIGMAS
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    if form.mixed:  # the network sees its parameters and data cast to the low dtype
        params = {k: numerics.rounded64(v, form.compute) for k, v in params.items()}
        x = numerics.rounded64(x, form.compute)
    x = np.asarray(x, dtype=np.float64)
    y = numerics.targets64(y)
    param_error = param_error or {}
    with np.errstate(all="ignore"):
        a, e_a, layers = x, np.zeros_like(x), []
        for i, layer in enumerate(case.layers):
            w, b = params[weight_name(i)], params[bias_name(i)]
            e_w = np.broadcast_to(param_error.get(weight_name(i), 0.0), w.shape)
            e_b = np.broadcast_to(param_error.get(bias_name(i), 0.0), b.shape)
            product = a @ w.T
            z = product + b
            # a parameter's uncertainty is a bound, not a rounding of mean zero: it adds up
            e_z = err.add(err.times(e_a, np.abs(w).T), np.abs(a) @ e_w.T, e_b,
                          (w.shape[1] + 1) * ACCUMULATE * (np.abs(a) @ np.abs(w).T + np.abs(b)),
                          err.rounding(product), err.rounding(z))
            act = ref.activation(layer)
            out = act.value(z)
            if isinstance(act, ops.PerSample):
                forward, _ = act.abs_jacobian(out)
                e_out = err.add(forward(e_z), err.rounding(out, FORMULA_ROUNDINGS))
            else:
                slope = np.abs(act.derivative(z, out, np.ones_like(z)))
                terms, _ = act.terms(z, out, slope)
                e_out = err.add(slope * e_z, err.rounding(terms, FORMULA_ROUNDINGS))
            layers.append((a, e_a, z, e_z, act, out))
            a, e_a = out, e_out
        out, e_out = a, e_a  # under mixed precision cast to float32 for the loss: exactly
        loss = ops.loss(case.loss, case.loss_settings)
        count = _count(case, out)
        value, g = ref.loss_and_grad(case.loss, out, y, case.loss_settings)
        terms = np.abs(loss.terms(out, y)[0]) / count
        e_loss = err.add(err.total(np.abs(g) * e_out), err_loss.total(
            err_loss.rounding(terms, FORMULA_ROUNDINGS)), terms.size * ACCUMULATE * terms.sum(),
            err_loss.rounding(value))
        e_g = err.add(_loss_gradient_change(case, out, y, g, e_out, reach),
                      err_loss.rounding(np.abs(g) + _target_size(y, out) / count,
                                        FORMULA_ROUNDINGS))
        if form.mixed:  # the loss's float32 gradient enters the low-precision backward
            e_g = err.add(e_g, err.rounding(g))
        bounds: Bounds = {("output", "output"): e_out, ("loss", "loss"): np.asarray(e_loss)}
        for i in reversed(range(len(case.layers))):
            a_in, e_in, z, e_z, act, a_out = layers[i]
            w = params[weight_name(i)]
            g_z = act.derivative(z, a_out, g)
            if isinstance(act, ops.PerSample):
                _, backward = act.abs_jacobian(a_out)
                e_gz = err.add(backward(e_g), err.rounding(g_z, FORMULA_ROUNDINGS))
            else:
                slope = np.abs(act.derivative(z, a_out, np.ones_like(z)))
                _, slope_terms = act.terms(z, a_out, slope)
                e_gz = err.add(slope * e_g, err.rounding(slope_terms * np.abs(g),
                                                         FORMULA_ROUNDINGS), err.rounding(g_z))
            e_gz = err.add(e_gz, _slope_change(act, z, e_z, g, g_z, reach))
            batch = a_in.shape[0]
            bounds[("grad", weight_name(i))] = err.add(
                err.times(e_gz.T, np.abs(a_in)), err.times(np.abs(g_z).T, e_in),
                batch * ACCUMULATE * (np.abs(g_z).T @ np.abs(a_in)), err.rounding(g_z.T @ a_in))
            bounds[("grad", bias_name(i))] = err.add(
                err.total(e_gz, axis=0), batch * ACCUMULATE * np.abs(g_z).sum(axis=0),
                err.rounding(g_z.sum(axis=0)))
            g = g_z @ w
            e_w = np.broadcast_to(param_error.get(weight_name(i), 0.0), w.shape)
            e_g = err.add(err.times(e_gz, np.abs(w)), np.abs(g_z) @ e_w,
                          w.shape[0] * ACCUMULATE * (np.abs(g_z) @ np.abs(w)), err.rounding(g))
    return {k: np.nan_to_num(v, nan=0.0, posinf=np.inf) for k, v in bounds.items()}


class TrajectoryRounding:
    """The rounding bounds of a low-precision trajectory, one step at a time, each step told
    what the parameters it starts from may be off by. harness.verdicts.inherited drives it
    with its own measure of that (every rounding and update difference so far, as an
    allowance, so divided by the verdict's ``rounding`` back to a scale): the output and
    gradients of a later step then carry each parameter's uncertainty through the same
    propagation as a rounding, element by element, rather than through a few sign patterns."""

    def __init__(self, case: Case, inputs: Inputs, norm: int = 2):
        self.case, self.norm = case, norm
        self.form = numerics.of(case.dtype)
        self.x = np.asarray(inputs.x, dtype=np.float64)
        self.y = inputs.y
        self.param_err = _Errors(self.form.storage, norm)
        self.bounds: list[Bounds] = []

    def step(self, before: dict, after: dict, uncertainty: dict | None) -> Bounds:
        """The bounds of the next step from parameters ``before`` to ``after``, the former off
        by ``uncertainty`` (a scale per element; None at the first step)."""
        if uncertainty is not None and self.form.mixed:  # a cast that may round the other way
            u = numerics.unit_roundoff(self.form.compute)
            uncertainty = {k: self.param_err.add(v, 2 * u * np.abs(before[k]))
                           for k, v in uncertainty.items()}
        bounds = step_bounds(self.case, before, self.x, self.y, uncertainty, self.norm)
        err = self.param_err
        with np.errstate(all="ignore"):
            for name, value in after.items():
                change = np.abs(value - before[name])
                bounds[("param", name)] = err.add(err.rounding(value),
                                                  err.rounding(change, UPDATE_ROUNDINGS))
        bounds = {k: np.nan_to_num(v, nan=0.0, posinf=np.inf) for k, v in bounds.items()}
        self.bounds.append(bounds)
        return bounds


def trace_bounds(case: Case, inputs: Inputs, reference: Trace, norm: int = 2) -> list[Bounds]:
    """Per step, the bounds of what a low-precision framework computes, the updated parameters
    too, with only the parameters' own roundings carried from step to step (the verdicts
    carry more: harness.verdicts.inherited); empty for float32 and float64, whose tolerances
    are measured constants (harness.verdicts.tolerance)."""
    if not numerics.of(case.dtype).low:
        return []
    rounding = TrajectoryRounding(case, inputs, norm)
    before = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.params.items()}
    carried = None
    for step in reference.steps:
        bounds = rounding.step(before, step.params, carried)
        own = {k: bounds[("param", k)] for k in step.params}
        carried = own if carried is None else \
            {k: rounding.param_err.add(carried[k], own[k]) for k in own}
        before = step.params
    return rounding.bounds
