"""Run cases through the reference and the selected frameworks, and compare."""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from .adapters import REFERENCE, get_adapter
from .adapters.base import AdapterError
from .case import Case
from .compare import ERROR, SKIP, Context, Row, compare_expected, compare_traces
from .known import apply_known
from .oracles import Oracle, hvp_rows, reference_hvp


@dataclass
class CaseRun:
    """Everything one (case, dtype) produced: rows, plus notes each framework attached."""

    case: Case
    dtype: str
    rows: list[Row] = field(default_factory=list)
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _describe(exc: BaseException) -> str:
    """The exception and the innermost frame that raised it: enough to find a bug, no wall of text."""
    if isinstance(exc, AdapterError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_adapter(name: str, case: Case, inputs, *call) -> tuple[object, str | None, str | None]:
    """(result, skip reason, error message): exactly one of them is set. The result is the
    adapter's Trace, or an oracle's rows when ``call`` carries (reference trace, context)."""
    adapter = get_adapter(name)
    available = adapter.availability()
    if not available.available:
        return None, available.reason or f"{name} is not available", None
    reason = adapter.supports(case)
    if reason:
        return None, reason, None
    try:
        if isinstance(adapter, Oracle):
            return adapter.check(case, inputs, *call), None, None
        return adapter.run(case, inputs), None, None
    except Exception as exc:  # one framework's failure is a result, not the end of the run
        return None, None, _describe(exc)


def run_hvp(name: str, case: Case, inputs, ctx: Context, reference: tuple[dict, dict]):
    """Second-order rows of one framework, as (rows, skip, error) like run_adapter."""
    try:
        return hvp_rows(case, inputs, get_adapter(name), ctx, reference), None, None
    except Exception as exc:
        return None, None, _describe(exc)


def frameworks_for(case: Case, selected: Iterable[str]) -> list[str]:
    """The frameworks that produce rows for ``case``: selected, wanted by the case, and the
    reference itself only when it has golden values to be checked against."""
    names = [n for n in selected if case.wants(n)]
    if REFERENCE in names and case.expected is None:
        names.remove(REFERENCE)
    return names


def run_case(case: Case, dtype: str, frameworks: Iterable[str], pool=None) -> CaseRun:
    """Run one case in one dtype. Never raises for a framework's sake: errors become rows.

    With a ``pool`` (harness.workers.WorkerPool) every framework runs in a worker process that
    can be killed on a time limit or a crash; without one, in this process.
    """

    def call(name: str, kind: str, *args):
        if pool is None:
            return globals()[kind](*args)
        return pool.call(name, kind, *args)
    narrowed = case.for_dtype(dtype)
    inputs = case.inputs(dtype)
    result = CaseRun(case, dtype)
    names = frameworks_for(case, frameworks)

    def context(framework: str, reference: str = REFERENCE) -> Context:
        source = case.tolerance_source(dtype, framework)
        if reference == "expected":
            source += " + expected" if case.expected and case.expected.tolerance else ""
        return Context(case.name, case.file, dtype, framework, reference, source)

    def whole(framework: str, status: str, message: str) -> Row:
        return context(framework).row(step=None, quantity="", tensor="", status=status,
                                      message=message)

    reference, _, error = run_adapter(REFERENCE, narrowed, inputs)
    if reference is None:
        result.rows = [whole(n, ERROR, f"the reference failed, nothing to compare: {error}")
                       for n in names]
        return result
    initial = {k: v.astype(np.float64) for k, v in inputs.params.items()}
    expected = case.expected.tensors() if case.expected else []
    second_order = None
    for name in names:
        ctx = context(name)
        if isinstance(get_adapter(name), Oracle):
            rows, skip, error = call(name, "run_adapter", name, narrowed, inputs, reference, ctx)
            result.rows += apply_known(case, ctx, rows) if rows is not None else \
                [whole(name, SKIP if skip else ERROR, skip or error)]
            continue
        if name == REFERENCE:
            trace = reference
        else:
            trace, skip, error = call(name, "run_adapter", name, narrowed, inputs)
            if trace is None:
                result.rows.append(whole(name, SKIP if skip else ERROR, skip or error))
                continue
            rows = compare_traces(ctx, reference, trace, case.tolerance_for(dtype, name), initial)
            result.rows += apply_known(case, ctx, rows)
            if 2 in case.orders:  # against finite differences of the reference gradient
                second_order = second_order or reference_hvp(narrowed, inputs)
                fd_ctx = context(name, "fd")
                rows, _, error = call(name, "run_hvp", name, narrowed, inputs, fd_ctx, second_order)
                result.rows += apply_known(case, fd_ctx, rows) if rows is not None else [
                    fd_ctx.row(step=1, quantity="hvp", tensor="", status=ERROR, message=error)]
        result.notes[name] = trace.notes
        if expected:
            ctx = context(name, "expected")
            rows = compare_expected(ctx, expected, trace, case.expected_tolerance_for(dtype, name),
                                    initial)
            result.rows += apply_known(case, ctx, rows)
    return result


def run_cases(cases: list[Case], frameworks: list[str],
              progress: Callable[[int, int, Case, str], None] | None = None, pool=None,
              finished: list[CaseRun] | None = None) -> list[CaseRun]:
    """Every case in every dtype. Each finished run is appended to ``finished`` as it ends, so
    an interrupted caller still has what was done."""
    jobs = [(case, dtype) for case in cases for dtype in case.dtypes]
    runs = [] if finished is None else finished
    for number, (case, dtype) in enumerate(jobs, start=1):
        if progress:
            progress(number, len(jobs), case, dtype)
        runs.append(run_case(case, dtype, frameworks, pool))
    return runs
