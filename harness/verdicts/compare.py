"""The comparator: pure functions from (reference, other, tolerance) to tidy rows.

Reports and pytest both consume these rows; nothing here knows about frameworks or files.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from ..format import numerics
from ..format.trace import Trace
from .numbers import against_allowance, distinct
from .patterns import explain, pattern
from .ratios import CaseSizes
from .tolerance import Tolerance

if TYPE_CHECKING:  # for the annotation only: the judge brings magnitudes and the reference
    from .judge import Judge

PASS, FAIL, SKIP, ERROR = "pass", "fail", "skip", "error"
XFAIL, XPASS = "xfail", "xpass"  # a declared known discrepancy that occurred / did not
INCONCLUSIVE = "inconclusive"  # cannot decide: a non-finite reference, a kink within an fd step
DECIDED = (PASS, FAIL, ERROR, XFAIL, XPASS)  # statuses that compared something
NON_FINITE_REFERENCE = "the reference is non-finite here"  # opens such an inconclusive message


@dataclass(frozen=True)
class Row:
    """One comparison: (case, dtype, framework, step, quantity, tensor) against a reference."""

    case: str
    file: str
    dtype: str
    framework: str
    reference: str  # the reference party's name, "expected" (golden values) or "fd"
    step: int | None  # 1-based; None for a skip or error of the whole framework
    quantity: str  # output | loss | grad | param | "" (whole framework)
    tensor: str
    status: str
    suspect: str = ""  # for a failure: the party outside the agreeing majority, or UNCLEAR
    agreeing: str = ""  # the parties of that majority, space-separated
    max_abs: float | None = None
    max_rel: float | None = None
    ulp: float | None = None
    worst_index: str = ""
    reference_value: float | None = None
    value: float | None = None
    absolute_allowance: float | None = None  # atol + scale_rtol·scale: the allowance's absolute part
    rtol: float | None = None
    scale_rtol: float | None = None
    sum_rtol: float | None = None
    magnitude: float | None = None  # size of what was summed to make the worst element
    allowed: float | None = None  # the allowance at the worst element, all terms together
    tolerance_source: str = ""  # "float64 default", "case", "case, for jax", …
    tol_used: float | None = None  # max over elements of |a − r| / allowed: above 1 fails
    step_tol_used: float | None = None  # the largest tol_used of this framework in this step
    mismatched: int | None = None
    size: int | None = None
    message: str = ""
    hint: str = ""  # one sentence for a failing tensor: what the pattern of the error points at

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def location(self) -> str:
        """Where in the run the row is: "step 2 grad layers.0.weight", "step 1 loss" (a
        quantity that is its own tensor, once), or for a row of no step "whole run"."""
        what = self.quantity if self.tensor in ("", self.quantity) else \
            f"{self.quantity} {self.tensor}"
        if self.step is None:
            return what or "whole run"
        return f"step {self.step} {what}"


COLUMNS = [f.name for f in fields(Row)]
# columns renamed since reports were first written: old name -> new (reading an older report)
RENAMED_COLUMNS = {"atol": "absolute_allowance"}


@dataclass(frozen=True)
class Context:
    """The fields every row of one (case, dtype, framework, reference) shares, and the judge
    its tensors are compared under (harness.verdicts.judge)."""

    case: str
    file: str
    dtype: str
    framework: str
    reference: str
    judge: "Judge | None" = field(default=None, compare=False, repr=False)
    sizes: CaseSizes | None = field(default=None, compare=False, repr=False)  # explains ratios

    @property
    def tolerance_source(self) -> str:
        return "" if self.judge is None else str(self.judge.source)

    def row(self, **values) -> Row:
        if "tolerance_source" not in values and values.get("status") in (PASS, FAIL, INCONCLUSIVE):
            values["tolerance_source"] = self.tolerance_source
        return Row(self.case, self.file, self.dtype, self.framework, self.reference, **values)


def _ordered_ints(values: np.ndarray, dtype: str) -> np.ndarray:
    """Map floats to integers whose difference is the ULP distance in ``dtype``."""
    stored = numerics.rounded(values, dtype)
    signed = {2: np.int16, 4: np.int32, 8: np.int64}[stored.dtype.itemsize]
    bits = stored.view(signed).astype(np.int64)
    sign_bit = np.iinfo(signed).min
    return np.where(bits < 0, sign_bit - bits, bits).astype(np.float64)


def ulp_distance(reference: np.ndarray, value: np.ndarray, dtype: str) -> np.ndarray:
    """Element-wise distance in units in the last place of ``dtype`` (a plain dtype, or a
    numeric format: then the dtype its frameworks compute in); inf where NaN differs."""
    if dtype in numerics.NUMERICS:
        dtype = numerics.of(dtype).compute
    with np.errstate(over="ignore", invalid="ignore"):
        dist = np.abs(_ordered_ints(value, dtype) - _ordered_ints(reference, dtype))
    nan_r, nan_v = np.isnan(reference), np.isnan(value)
    dist = np.where(nan_r & nan_v, 0.0, dist)
    return np.where(nan_r ^ nan_v, np.inf, dist)


def _index(flat: int, shape: tuple[int, ...]) -> str:
    if not shape:
        return "()"
    index = [str(int(i)) for i in np.unravel_index(flat, shape)]
    return "(" + ", ".join(index) + ("," if len(index) == 1 else "") + ")"


def compare_tensor(ctx: Context, step: int, quantity: str, tensor: str, reference: np.ndarray,
                   value: np.ndarray, tolerance: Tolerance, scale: float | None = None,
                   update: tuple[np.ndarray, np.ndarray] | None = None,
                   extra: np.ndarray | None = None,
                   positions: tuple[np.ndarray, tuple[int, ...]] | None = None,
                   magnitude: np.ndarray | None = None,
                   bound: np.ndarray | None = None) -> Row:
    """Verdict for one tensor: pass when every |a − r| ≤ allowed (harness.verdicts.tolerance).

    ``scale`` is the largest |r| of the tensor's quantity in this step; ``magnitude`` the size of
    what was summed to make each element (harness.verdicts.magnitude).
    ``update``, for parameters, is (reference's step, framework's step): how each moved the
    parameters, which explains an update bug better than the parameters themselves.
    ``extra`` widens each element's allowance (an oracle's own error bound), and so does
    ``bound``, times the tolerance's ``rounding`` (harness.verdicts.rounding); ``positions`` maps
    the elements of a sampled tensor back to (flat indices, full shape) for reporting.

    A verdict is about finite numbers: where the reference is NaN or ±inf nothing can be said
    (inconclusive, unless a finite element already fails); a non-finite value where the
    reference is finite fails.
    """
    reference = np.asarray(reference, dtype=np.float64)
    value = np.asarray(value, dtype=np.float64)
    where = dict(step=step, quantity=quantity, tensor=tensor)
    if reference.shape != value.shape:
        return ctx.row(**where, status=ERROR, message=f"shape {value.shape} differs from the "
                                                       f"reference's {reference.shape}")
    if magnitude is not None and np.shape(magnitude) != reference.shape:
        magnitude = None  # a sampled tensor: its magnitude is not aligned (oracles add their own)
    if bound is not None and np.shape(bound) != reference.shape:
        bound = None
    atol, allowed = tolerance.allowed(reference, scale, magnitude, extra, bound)
    finite = np.isfinite(reference)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(value - reference)
        diff = np.where(np.isnan(diff), np.inf, diff)  # a NaN or inf against a finite number
        diff = np.where(finite, diff, 0.0)  # where the reference is not finite: undecided
        bad = diff > allowed
        rel = np.where(reference != 0, diff / np.abs(reference), 0.0)
        excess = np.where(bad, diff - allowed, -np.inf)
        used = np.where(diff == 0, 0.0, diff / allowed)  # diff > 0 with allowed 0: inf
    undecided = int((~finite).sum())
    if bad.any():
        worst = int(np.argmax(excess))
    elif undecided:
        worst = int(np.argmax(~finite))  # the first non-finite reference element
    else:
        worst = int(np.argmax(diff))
    r_worst, v_worst = float(reference.flat[worst]), float(value.flat[worst])
    mismatched = int(bad.sum())
    index = _index(positions[0][worst], positions[1]) if positions else \
        _index(worst, reference.shape)
    messages = []
    if mismatched:
        got, expected = distinct(v_worst, r_worst)
        messages.append(f"{mismatched}/{reference.size} elements differ; worst at {index}: got "
                        f"{got}, reference {expected} ("
                        f"{against_allowance(float(diff.flat[worst]), float(allowed.flat[worst]))})")
    if undecided:
        first = _index(positions[0][int(np.argmax(~finite))], positions[1]) if positions else \
            _index(int(np.argmax(~finite)), reference.shape)
        messages.insert(0, f"{NON_FINITE_REFERENCE}: {undecided}/{reference.size} elements are "
                           f"NaN or infinite (first at {first}); those are not compared")
    status = FAIL if mismatched else INCONCLUSIVE if undecided else PASS
    row = ctx.row(**where, status=status,
                  max_abs=float(diff.max()), max_rel=float(rel.max()),
                  ulp=float(np.where(finite, ulp_distance(reference, value, ctx.dtype), 0).max()),
                  worst_index=index, reference_value=r_worst, value=v_worst,
                  absolute_allowance=atol,
                  rtol=tolerance.rtol, scale_rtol=tolerance.scale_rtol,
                  sum_rtol=tolerance.sum_rtol,
                  magnitude=None if magnitude is None else float(np.ravel(magnitude)[worst]),
                  allowed=float(allowed.flat[worst]),
                  tol_used=float(used.max()), mismatched=mismatched, size=int(reference.size),
                  message="; ".join(messages))
    if mismatched:
        row = replace(row, hint=explain(row, pattern(reference, value, mismatched, update,
                                                     quantity, ctx.sizes, ctx.dtype), ctx.sizes))
    return row


def compare_traces(ctx: Context, reference: Trace, other: Trace,
                   initial: dict[str, np.ndarray] | None = None) -> list[Row]:
    """Every step, quantity and tensor of ``other`` against the reference trace, under
    ``ctx.judge`` (its tolerance, and the evidence of the reference's trajectory: scales,
    magnitudes, inherited allowances).

    ``initial`` (the shared starting parameters) lets a failing parameter be explained by how
    each trajectory's update moved it from its own previous values.
    """
    rows: list[Row] = []
    ref_before = got_before = initial
    if len(other.steps) != len(reference.steps):
        return [ctx.row(step=None, quantity="", tensor="", status=ERROR,
                        message=f"returned {len(other.steps)} steps, the case has "
                                f"{len(reference.steps)}")]
    for number, (ref_step, step) in enumerate(zip(reference.steps, other.steps), start=1):
        got = {(q, name): v for q, name, v in step.tensors()}
        for quantity, name, ref_value in ref_step.tensors():
            if (quantity, name) not in got:
                rows.append(ctx.row(step=number, quantity=quantity, tensor=name, status=ERROR,
                                    message=f"{quantity} {name!r} missing from the framework's result"))
                continue
            value = got.pop((quantity, name))
            update = None
            if quantity == "param" and ref_before is not None and name in got_before:
                with np.errstate(invalid="ignore", over="ignore"):  # inf − inf: a NaN step
                    update = (ref_value - ref_before[name],
                              np.asarray(value) - got_before[name])
            rows.append(_judged(ctx, number, quantity, name, ref_value, value, update))
        for quantity, name in got:
            rows.append(ctx.row(step=number, quantity=quantity, tensor=name, status=ERROR,
                                message=f"unexpected {quantity} {name!r}: the case has no such tensor"))
        ref_before, got_before = ref_step.params, step.params
    return with_step_tolerance_used(rows)


def _judged(ctx: Context, step: int, quantity: str, name: str, reference: np.ndarray,
            value: np.ndarray, update) -> Row:
    """One tensor under the context's judge: its tolerance and the evidence of this step."""
    judge, evidence = ctx.judge, ctx.judge.evidence
    return compare_tensor(ctx, step, quantity, name, reference, value, judge.tolerance,
                          evidence.scale(step, quantity), update,
                          extra=evidence.inherited_at(step, quantity, name),
                          magnitude=evidence.magnitude(step, quantity, name),
                          bound=evidence.rounding_at(step, quantity, name))


def with_step_tolerance_used(rows: list[Row]) -> list[Row]:
    """Fill step_tol_used: the largest tolerance used by any tensor in each step."""
    worst: dict[int | None, float] = {}
    for r in rows:
        if r.tol_used is not None:
            worst[r.step] = max(worst.get(r.step, 0.0), r.tol_used)
    return [replace(r, step_tol_used=worst[r.step]) if r.step in worst else r for r in rows]


def compare_expected(ctx: Context, expected: list[tuple[str, str, np.ndarray]], trace: Trace,
                     initial: dict[str, np.ndarray] | None = None) -> list[Row]:
    """Golden first-step values against a framework's first step, under ``ctx.judge`` (the
    golden values' own tolerance on top of the framework's, and their evidence)."""
    got = {(q, name): v for q, name, v in trace.steps[0].tensors()}
    rows = []
    for quantity, name, value in expected:
        if (quantity, name) not in got:
            rows.append(ctx.row(step=1, quantity=quantity, tensor=name, status=ERROR,
                                message=f"{quantity} {name!r} missing from the framework's result"))
        else:
            update = None
            if quantity == "param" and initial is not None:
                update = (value - initial[name], got[(quantity, name)] - initial[name])
            rows.append(_judged(ctx, 1, quantity, name, value, got[(quantity, name)], update))
    return rows
