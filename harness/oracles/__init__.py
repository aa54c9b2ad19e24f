"""Oracles: checks that need no framework to be right, shown like frameworks.

Comparing frameworks with each other cannot catch a mistake they share, or one in the reference.
An oracle is selected and reported like a framework (``fd``, ``jax-fwd``, ``torch-fwd``), but
instead of training it checks the reference's trajectory and returns rows itself:

- ``fd``: finite differences of the reference's forward pass against the reference's gradients;
- ``jax-fwd``, ``torch-fwd``: each framework's forward mode (jvp) against its own reverse mode.

Second order (``orders: [1, 2]`` in a case) is not an oracle of its own: each framework that can
(an adapter with an ``hvp`` method) adds Hessian-vector product rows, compared with finite
differences of the reference gradient; the others get a skip row with the reason.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Protocol, runtime_checkable

import numpy as np

from ..adapters.base import (AdapterError, Availability, ForwardAndReverse, HessianVectorProduct,
                             package_availability)
from ..format.case import Case, Inputs
from ..format import numerics
from ..verdicts.compare import INCONCLUSIVE, Context, Row, compare_tensor
from ..verdicts.tolerance import largest
from ..format.trace import Trace
from . import fd


@runtime_checkable
class Oracle(Protocol):
    name: str

    def availability(self) -> Availability: ...

    def supports(self, case: Case) -> str | None: ...

    def check(self, case: Case, inputs: Inputs, reference: Trace, ctx: Context) -> list[Row]:
        """Rows for ``case`` (narrowed to one dtype), checking the reference's trajectory."""


def low_precision_problem(name: str, case: Case) -> str | None:
    """An oracle checks the reference's trajectory in the case's own dtype; under a
    low-precision format that would be judged by the frameworks' rounding, far looser than
    its own error: a skip that says where the check belongs."""
    if len(case.dtypes) == 1 and numerics.of(case.dtype).low:
        return (f"{name} checks the reference's derivatives; under {case.dtype} the reference "
                f"computes in float64, which the same case in float64 checks (dtype: float64)")
    return None


def params_before_each_step(inputs: Inputs, reference: Trace) -> list[dict[str, np.ndarray]]:
    """The parameters each reference step started from: the initial ones, then its own."""
    return [dict(inputs.params)] + [step.params for step in reference.steps[:-1]]


def sampled_row(ctx: Context, step: int, quantity: str, name: str, reference: np.ndarray,
                value: np.ndarray, tolerance, indices: np.ndarray, shape: tuple[int, ...],
                extra: np.ndarray | None = None, inconclusive: np.ndarray | None = None,
                scale: float | None = None) -> Row:
    """Compare the sampled elements of one tensor; inconclusive elements are left out."""
    keep = np.ones(len(indices), dtype=bool) if inconclusive is None else ~inconclusive
    left_out = int((~keep).sum())
    note = (f"{left_out} of {len(indices)} checked elements inconclusive: a kink lies within a "
            "finite-difference step, where a central difference averages the one-sided slopes"
            ) if left_out else ""
    if not keep.any():
        return ctx.row(step=step, quantity=quantity, tensor=name, status=INCONCLUSIVE,
                       message=note, size=len(indices))
    row = compare_tensor(ctx, step, quantity, name, reference[keep], value[keep], tolerance,
                         scale, extra=None if extra is None else extra[keep],
                         positions=(indices[keep], shape))
    sampled = f"{len(indices)} of {int(np.prod(shape))} elements sampled" \
        if len(indices) < int(np.prod(shape)) else ""
    message = "; ".join(m for m in (row.message, note, sampled) if m)
    return replace(row, message=message) if message != row.message else row


class FiniteDifferences:
    """Central differences of the reference loss, in float64, against the reference gradients."""

    name = "fd"

    def availability(self) -> Availability:
        return Availability(True, f"central differences, numpy {np.__version__}")

    def supports(self, case: Case) -> str | None:
        return low_precision_problem(self.name, case)

    def check(self, case: Case, inputs: Inputs, reference: Trace, ctx: Context) -> list[Row]:
        tolerance = ctx.judge.tolerance
        x = inputs.x.astype(np.float64)
        y = numerics.targets64(inputs.y)
        rows = []
        for number, (params, step) in enumerate(
                zip(params_before_each_step(inputs, reference), reference.steps), start=1):
            scale = largest(*step.grads.values())
            for name in case.param_names:
                shape = step.grads[name].shape
                indices = fd.sample_indices(case, name, int(np.prod(shape)))
                estimate, error, inconclusive = fd.gradient(case, params, x, y, name, indices)
                reference_values = step.grads[name].reshape(-1)[indices]
                # the roles are swapped on purpose: the estimate is the value under test of the
                # reference's gradient, but its own error bound joins the tolerance
                rows.append(sampled_row(ctx, number, "grad", name, reference_values, estimate,
                                        tolerance, indices, shape, extra=error,
                                        inconclusive=inconclusive, scale=scale))
        return rows


class ForwardMode:
    """A framework's forward mode (jvp along sampled basis directions) against its reverse mode."""

    def __init__(self, framework: str, distribution: str):
        self.framework, self.distribution = framework, distribution
        self.name = f"{framework}-fwd"

    def availability(self) -> Availability:
        return package_availability(self.distribution)

    def supports(self, case: Case) -> str | None:
        """Under low precision, a skip; else what the framework's own adapter says of the case
        (a function this version of it lacks is a skip here too)."""
        from ..adapters import get_adapter

        return low_precision_problem(self.name, case) or get_adapter(self.framework).supports(case)

    def prepare(self) -> None:
        """The framework's imports, as its own adapter prepares them (harness.running.jobs)."""
        from ..adapters import get_adapter

        prepare = getattr(get_adapter(self.framework), "prepare", None)
        if callable(prepare):
            prepare()

    def check(self, case: Case, inputs: Inputs, reference: Trace, ctx: Context) -> list[Row]:
        from ..adapters import get_adapter

        adapter = get_adapter(self.framework)
        if not isinstance(adapter, ForwardAndReverse):
            raise AdapterError(f"{self.framework} has no forward mode to check")
        tolerance = ctx.judge.tolerance
        param_sets = [{k: np.asarray(v).astype(case.dtype) for k, v in params.items()}
                      for params in params_before_each_step(inputs, reference)]
        indices = {name: fd.sample_indices(case, name, int(param_sets[0][name].size))
                   for name in case.param_names}
        results = adapter.forward_and_reverse(case, param_sets, inputs.x, inputs.y, indices)
        rows = []
        for number, (reverse, forward) in enumerate(results, start=1):
            scale = largest(*reverse.values())
            for name in case.param_names:
                rows.append(sampled_row(ctx, number, "grad", name,
                                        reverse[name].reshape(-1)[indices[name]], forward[name],
                                        tolerance, indices[name], reverse[name].shape,
                                        scale=scale))
        return rows


def hvp_rows(case: Case, inputs: Inputs, adapter, ctx: Context,
             reference: tuple[dict, dict]) -> list[Row]:
    """Second order for one framework: its H·v against finite differences of the reference
    gradient, at the initial parameters; a skip row for a framework that cannot."""
    if not isinstance(adapter, HessianVectorProduct):
        return [ctx.row(step=1, quantity="hvp", tensor="", status="skip",
                        message=f"{adapter.name} cannot compute second derivatives "
                                "(its backward pass is not differentiable)")]
    if numerics.of(case.dtype).low:
        return [ctx.row(step=1, quantity="hvp", tensor="", status="skip",
                        message=f"second order is checked in float32 and float64: under "
                                f"{case.dtype} finite differences of a rounded gradient say "
                                f"nothing about it")]
    expected, error = reference
    vector = fd.direction(case, inputs.params)
    got = adapter.hvp(case, dict(inputs.params), inputs.x, inputs.y, vector)
    tolerance = ctx.judge.tolerance
    scale = largest(*expected.values())
    return [compare_tensor(ctx, 1, "hvp", name, expected[name], np.asarray(got[name]), tolerance,
                           scale, extra=error[name]) for name in case.param_names]


def reference_hvp(case: Case, inputs: Inputs) -> tuple[dict, dict]:
    x = inputs.x.astype(np.float64)
    y = numerics.targets64(inputs.y)
    return fd.hessian_vector(case, inputs.params, x, y, fd.direction(case, inputs.params))


def jax_forward_mode() -> ForwardMode:
    return ForwardMode("jax", "jax")


def torch_forward_mode() -> ForwardMode:
    return ForwardMode("torch", "torch")
