"""Run cases through every party, then compare: one plan per (case, dtype).

A plan runs each party once (the reference, the frameworks, --impl files), compares every
framework with the reference and with any golden values, runs the oracles on the reference's
trajectory, and then asks every party that computed a tensor whether it agrees with the others,
so each failure names its suspect (harness.verdicts.consensus). The command line and pytest both run it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..adapters import REFERENCE, adapter_names, get_adapter, is_oracle
from ..format import numerics
from ..format.case import Case
from ..format.parties import EXPECTED, SELF, UNCLEAR
from ..format.trace import Trace
from ..oracles import reference_hvp
from ..oracles.selfcheck import error_row, self_check_judge
from ..verdicts.compare import (ERROR, FAIL, SKIP, XFAIL, Context, Row,
                                compare_expected, compare_traces)
from ..verdicts.consensus import Vote, blame, majority
from ..verdicts.judge import Judges
from ..verdicts.known_discrepancies import apply_known
from ..verdicts.ratios import CaseSizes
from .jobs import Check, SecondOrder, SelfCheck, Train


@dataclass
class CaseRun:
    """Everything one (case, dtype) produced: rows, plus notes each framework attached."""

    case: Case
    dtype: str
    rows: list[Row] = field(default_factory=list)
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reference: str = REFERENCE
    order: tuple = ()  # (case, variant, dtype) positions: runs sort into the cases' order
    # seconds by phase (frameworks' jobs, their compilation, comparing) for benchmarks/speed.py
    timings: dict[str, float] = field(default_factory=dict, compare=False)
    # the reference's trajectory and the run's judges, kept only when a row failed or erred:
    # repro folders are made from them (harness.reports.repro) rather than by running the
    # reference again outside its worker
    reference_trace: Trace | None = field(default=None, compare=False, repr=False)
    judges: Judges | None = field(default=None, compare=False, repr=False)


def frameworks_for(case: Case, selected: Iterable[str], reference: str = REFERENCE,
                   uninstalled: bool = False) -> list[str]:
    """The parties that produce rows for ``case``: selected and wanted by the case; the
    reference only when it has golden values to be checked against. With ``uninstalled``
    (nothing was selected by name), frameworks the case names that are not installed here are
    included too, so they show as skips rather than vanish."""
    names = [n for n in selected if case.wants(n)]
    if uninstalled and case.frameworks:  # the modes and devices it lists run too
        known = set(adapter_names())
        names += [n for n in case.named_parties if n not in known and n not in names]
    if reference in names and case.expected is None:
        names.remove(reference)
    return names


class _Plan:
    """One (case, dtype): every party run once, then compared."""

    def __init__(self, case: Case, dtype: str, names: list[str], reference: str, call,
                 self_check: Iterable[str] = ()):
        self.case, self.dtype, self.names, self.reference, self.call = \
            case, dtype, names, reference, call
        self.self_check = set(self_check)
        self.narrowed = case.for_dtype(dtype)
        self.inputs = case.inputs(dtype)
        self.initial = {k: v.astype(np.float64) for k, v in self.inputs.params.items()}
        self.traces: dict[str, Trace] = {}
        self.judges = Judges(case, dtype)
        self.sizes = CaseSizes.of(self.narrowed, self.inputs)  # what a constant ratio is made of
        self.result = CaseRun(case, dtype, reference=reference)

    def context(self, framework: str, against: str | None = None) -> Context:
        """The rows of ``framework`` against ``against`` (the reference when None), under
        its judge."""
        against = against or self.reference
        judge = self.judges.of(framework, golden=against == EXPECTED)
        if is_oracle(framework) or against not in (self.reference, EXPECTED):
            judge = replace(judge, evidence=None)  # checks bring their own: less to send a worker
        return Context(self.case.name, self.case.file, self.dtype, framework, against, judge,
                       self.sizes)

    def whole(self, framework: str, status: str, message: str, suspect: str = "") -> Row:
        return self.context(framework).row(step=None, quantity="", tensor="", status=status,
                                           message=message, suspect=suspect)

    def run(self) -> CaseRun:
        start = time.perf_counter()
        timings = self.result.timings
        timings.update(jobs=0.0, compile=0.0)
        call = self.call

        def timed(job):  # every job's wall time, and what its trace says was compilation
            began = time.perf_counter()
            outcome = call(job)
            timings["jobs"] += time.perf_counter() - began
            if isinstance(outcome[0], Trace):
                timings["compile"] += outcome[0].timings.get("compile", 0.0)
            return outcome
        self.call = timed
        try:
            return self._run()
        finally:
            self.call = call
            timings["compare"] = time.perf_counter() - start - timings["jobs"]

    def _run(self) -> CaseRun:
        reference, skip, error = self.call(Train(self.reference, self.narrowed, self.inputs))
        if reference is None:
            what = f"the reference ({self.reference})"
            message = f"{what} could not run this case: {skip}" if skip else \
                f"{what} failed, nothing to compare: {error}"
            self.result.rows = [self.whole(n, SKIP if skip else ERROR, message,
                                           "" if skip else self.reference) for n in self.names]
            return self.result
        self.traces[self.reference] = reference
        self.result.notes[self.reference] = reference.notes
        self.judges.weigh(self.inputs, reference)
        per_party: dict[str, list[Row]] = {}
        for name in self.names:  # every party runs before anything is compared
            if name == self.reference or is_oracle(name):
                continue
            available = get_adapter(name).availability()
            if not available.available:  # said here, without starting a worker for it
                per_party[name] = [self.whole(name, SKIP, available.reason or "not available")]
                continue
            trace, skip, error = self.call(Train(name, self.narrowed, self.inputs))
            if trace is None:
                per_party[name] = [self.whole(name, SKIP if skip else ERROR, skip or error,
                                              "" if skip else name)]
            else:
                self.traces[name] = trace
                self.result.notes[name] = trace.notes
        for name in self.names:
            if name in per_party:
                continue
            per_party[name] = self.oracle_rows(name) if is_oracle(name) else self.party_rows(name)
        for name in self.traces:  # --impl files, and frameworks named by --self-check
            if self.checks_itself(name):
                per_party.setdefault(name, []).extend(self.self_rows(name))
        parties = self.names + [n for n in per_party if n not in self.names]
        rows = [row for name in parties for row in per_party[name]]
        rows = self.with_suspects(rows)
        by_group: dict[tuple[str, str], list[Row]] = {}
        for row in rows:
            by_group.setdefault((row.framework, row.reference), []).append(row)
        self.result.rows = [row for (framework, against), group in by_group.items()
                            for row in (group if against == SELF else apply_known(
                                self.case, self.context(framework, against), group))]
        if any(row.status in (FAIL, ERROR) for row in self.result.rows):
            self.result.reference_trace, self.result.judges = reference, self.judges
        return self.result

    def checks_itself(self, name: str) -> bool:
        """An --impl file always; any other party when --self-check names it."""
        from ..adapters.user_impl import UserImplementation

        return name in self.self_check or isinstance(get_adapter(name), UserImplementation)

    def self_rows(self, name: str) -> list[Row]:
        """The party's gradients against finite differences of its own loss (harness.oracles.selfcheck)."""
        ctx = Context(self.case.name, self.case.file, self.dtype, name, SELF,
                      self_check_judge(self.dtype), self.sizes)
        rows, _, error = self.call(SelfCheck(name, self.narrowed, self.inputs, ctx))
        return rows if rows is not None else [error_row(ctx, error)]

    def party_rows(self, name: str) -> list[Row]:
        """A framework's trajectory against the reference, its second order, its golden values."""
        rows: list[Row] = []
        trace = self.traces[name]
        case = self.case
        if name != self.reference:
            rows += compare_traces(self.context(name), self.traces[self.reference], trace,
                                   self.initial)
            if 2 in case.orders:  # against finite differences of the reference gradient
                if not hasattr(self, "second_order"):
                    self.second_order = reference_hvp(self.narrowed, self.inputs)
                fd_ctx = self.context(name, "fd")
                hvp, _, error = self.call(SecondOrder(name, self.narrowed, self.inputs, fd_ctx,
                                                      self.second_order))
                rows += hvp if hvp is not None else [fd_ctx.row(
                    step=1, quantity="hvp", tensor="", status=ERROR, message=error, suspect=name)]
        if case.expected:
            rows += compare_expected(self.context(name, EXPECTED), case.expected.tensors(), trace,
                                     self.initial)
        return rows

    def oracle_rows(self, name: str) -> list[Row]:
        ctx = self.context(name)
        rows, skip, error = self.call(Check(name, self.narrowed, self.inputs,
                                            self.traces[self.reference], ctx))
        if rows is None:
            return [self.whole(name, SKIP if skip else ERROR, skip or error, "" if skip else name)]
        return rows

    # -- who is wrong ---------------------------------------------------------------------
    def votes(self, step: int, quantity: str, tensor: str) -> list[Vote]:
        """Every party's value of one tensor at one step, in a fixed order."""
        votes = []
        for party, trace in self.traces.items():
            if step <= len(trace.steps):
                value = {(q, n): v for q, n, v in trace.steps[step - 1].tensors()}.get(
                    (quantity, tensor))
                if value is not None:
                    votes.append(Vote(party, value, self.judges.of(party).tolerance))
        if step == 1 and self.case.expected:
            golden = {(q, n): v for q, n, v in self.case.expected.tensors()}.get((quantity, tensor))
            if golden is not None:
                votes.append(Vote(EXPECTED, golden, self.judges.of_golden_values().tolerance))
        return votes

    def agreeing(self, step: int, quantity: str, tensor: str) -> list[str] | None:
        key = (step, quantity, tensor)
        if key not in self._majorities:
            evidence = self.judges.trajectory
            self._majorities[key] = majority(self.votes(step, quantity, tensor),
                                             evidence.scale(step, quantity) or 0.0,
                                             evidence.magnitude(step, quantity, tensor),
                                             evidence.rounding_at(step, quantity, tensor))
        return self._majorities[key]

    def with_suspects(self, rows: list[Row]) -> list[Row]:
        self._majorities: dict = {}
        hvp_failures: dict[str, int] = {}
        for r in rows:
            if r.quantity == "hvp" and r.status == FAIL:
                hvp_failures[r.tensor] = hvp_failures.get(r.tensor, 0) + 1
        hvp_parties = len({r.framework for r in rows if r.quantity == "hvp" and r.status != SKIP})
        out = []
        for r in rows:
            if r.status not in (FAIL, XFAIL) or r.step is None:
                out.append(r)
                continue
            if r.reference == SELF:  # its own loss against its own gradients: only it is judged
                out.append(replace(r, suspect=r.framework))
                continue
            if r.quantity == "hvp":  # every framework against fd: fd is the odd one out
                suspect = "fd" if hvp_parties >= 2 and hvp_failures.get(r.tensor) == hvp_parties \
                    else r.framework
                out.append(replace(r, suspect=suspect))
                continue
            agreeing = self.agreeing(r.step, r.quantity, r.tensor)
            if is_oracle(r.framework):  # an oracle checks one party's gradients
                checked = getattr(get_adapter(r.framework), "framework", self.reference)
                suspect = UNCLEAR if agreeing is None else \
                    (checked if checked not in agreeing else r.framework)
            else:
                suspect = blame(r.framework, r.reference, agreeing)
                if suspect == self.reference and numerics.of(self.dtype).low:
                    # frameworks that agree with each other against the exact float64 answer
                    # show the format's limit, not a wrong reference: nobody is singled out
                    suspect = UNCLEAR
            out.append(replace(r, suspect=suspect, agreeing=" ".join(agreeing or ())))
        return out


def run_case(case: Case, dtype: str, frameworks: Iterable[str], pool=None,
             reference: str = REFERENCE, uninstalled: bool = False,
             self_check: Iterable[str] = ()) -> CaseRun:
    """Run one case in one dtype. Never raises for a framework's sake: errors become rows.

    With a ``pool`` (harness.running.workers.WorkerPool) every party, the reference too, runs in a
    worker process that can be killed on a time limit or a crash; without one, in this process.
    Every --impl file, and each party in ``self_check``, is also checked against finite
    differences of its own loss (harness.oracles.selfcheck).
    """

    def call(job):
        return job() if pool is None else pool.call(job.party, job)

    names = frameworks_for(case, frameworks, reference, uninstalled)
    return _Plan(case, dtype, names, reference, call, self_check).run()


def implementations(frameworks: Iterable[str]) -> list[str]:
    """The --impl files among ``frameworks``."""
    from ..adapters.user_impl import UserImplementation

    return [n for n in frameworks if isinstance(get_adapter(n), UserImplementation)]


def run_cases(cases: list[Case], run_one: Callable[[Case, str, int], CaseRun], lanes: int = 1,
              progress: Callable[[int, int, Case, str], None] | None = None,
              finished: list[CaseRun] | None = None, variants: int = 0,
              variant_dir: str | Path | None = None,
              warn: Callable[[str], None] | None = None,
              implementations: Iterable[str] = ()) -> list[CaseRun]:
    """Every case in every dtype, in the cases' order, each through ``run_one(case, dtype,
    lane)`` (harness.running.spec.Run.case). Each finished run is also appended to ``finished``
    as it ends, so an interrupted caller still has what was done.

    Cases are spread over ``lanes`` (harness.running.lanes), a case and its variants in one
    lane; the result is the same as with one.

    With ``variants`` > 0, each case one of ``implementations`` (--impl files) ran, in any dtype,
    is followed by that many variants of it (harness.running.variants), each run like a case;
    with ``variant_dir`` each is written there as a case file first, and the case's ``file`` is
    that file. ``warn`` hears of a variant that could not be written.
    """
    from . import variants as variants_module
    from .lanes import in_lanes

    impls = set(implementations)
    counts = {"total": sum(len(case.dtypes) for case in cases), "number": 0}
    runs = [] if finished is None else finished
    lock, stopped = threading.Lock(), threading.Event()

    def run_all(case: Case, lane: int, order: tuple) -> list[CaseRun]:
        done = []
        for position, dtype in enumerate(case.dtypes):
            if stopped.is_set():  # Ctrl-C: a lane finishing its job starts nothing more
                break
            with lock:
                counts["number"] += 1
                if progress:
                    progress(counts["number"], counts["total"], case, dtype)
            done.append(run_one(case, dtype, lane))
            done[-1].order = order + (position,)
            with lock:  # after Ctrl-C the caller writes what was finished: nothing joins later
                if not stopped.is_set():
                    runs.append(done[-1])
        return done

    def with_variants(item: tuple[int, Case], lane: int) -> list[CaseRun]:
        index, case = item
        done = run_all(case, lane, (index, 0))
        if not variants or not any(name in run.notes for run in done for name in impls):
            return done
        made = []
        for variant in variants_module.make(case, variants):
            if variant_dir is not None:
                variant, problem = variants_module.write(variant, variant_dir)
                if variant is None:
                    if warn:
                        warn(problem)
                    continue
            made.append(variant)
        with lock:
            counts["total"] += sum(len(v.dtypes) for v in made)
        for number, variant in enumerate(made, start=1):
            done += run_all(variant, lane, (index, number))
        return done

    try:
        ordered = in_lanes(list(enumerate(cases)), list(range(max(1, lanes))), with_variants,
                           stopped)
    except KeyboardInterrupt:
        with lock:
            stopped.set()
        raise
    return [run for done in ordered for run in done]
