"""What a worker process is asked to do: picklable jobs, each returning (result, skip, error).

A job carries plain data (the party's name, the Case, the inputs, the reference's trajectory),
so the runner can hand it to a worker process that can be killed (harness.running.workers) or call it in
its own process; either way exactly one of result, skip reason and error message is set.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass

from ..adapters import get_adapter
from ..adapters.base import AdapterError
from ..format.case import Case, Inputs
from ..verdicts.compare import Context
from ..format.trace import Trace

Outcome = tuple[object, "str | None", "str | None"]  # (result, skip reason, error message)


def describe(exc: BaseException) -> str:
    """The exception and the innermost frame that raised it: enough to find a bug, no wall of text."""
    if isinstance(exc, AdapterError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _ready(name: str, case: Case) -> str | None:
    """Why the party cannot run the case (not installed, beyond it), or None."""
    adapter = get_adapter(name)
    available = adapter.availability()
    if not available.available:
        return available.reason or f"{name} is not available"
    return adapter.supports(case)


@dataclass(frozen=True)
class Prepare:
    """Import what a party needs (its adapter's optional ``prepare()``), before its first timed
    job in a worker: the time limit is per comparison, and an import of torch or JAX on a cold
    disk, or the start of a CUDA context, is not part of any comparison. Whatever goes wrong is
    left for the party's real job to meet and report. (An --impl file has no prepare(): its
    import runs its author's code, which the limit is there to stop.)"""

    party: str

    def __call__(self) -> Outcome:
        try:
            adapter = get_adapter(self.party)
            prepare = getattr(adapter, "prepare", None)
            if callable(prepare) and adapter.availability().available:
                prepare()
        except Exception:
            pass
        return True, None, None


@dataclass(frozen=True)
class Train:
    """A framework trains the case: its Trace."""

    party: str
    case: Case
    inputs: Inputs

    def __call__(self) -> Outcome:
        try:  # supports() is the party's code too: an --impl file's may raise
            reason = _ready(self.party, self.case)
            if reason:
                return None, reason, None
            return get_adapter(self.party).run(self.case, self.inputs), None, None
        except Exception as exc:  # one framework's failure is a result, not the end of the run
            return None, None, describe(exc)
        except SystemExit as exc:  # in this process, an exit would end the run without a report
            return None, None, f"{self.party} called sys.exit({exc.code!r}) while running"


@dataclass(frozen=True)
class Check:
    """An oracle checks the reference's trajectory: its rows."""

    party: str
    case: Case
    inputs: Inputs
    reference: Trace
    context: Context

    def __call__(self) -> Outcome:
        try:
            reason = _ready(self.party, self.case)
            if reason:
                return None, reason, None
            oracle = get_adapter(self.party)
            return oracle.check(self.case, self.inputs, self.reference, self.context), None, None
        except Exception as exc:
            return None, None, describe(exc)


@dataclass(frozen=True)
class SecondOrder:
    """A framework's Hessian-vector products against finite differences: its rows."""

    party: str
    case: Case
    inputs: Inputs
    context: Context
    expected: tuple[dict, dict]  # (H·v by finite differences, their error bounds)

    def __call__(self) -> Outcome:
        from ..oracles import hvp_rows

        try:
            return hvp_rows(self.case, self.inputs, get_adapter(self.party), self.context,
                            self.expected), None, None
        except Exception as exc:
            return None, None, describe(exc)


@dataclass(frozen=True)
class SelfCheck:
    """A party's gradients against finite differences of its own loss (harness.oracles.selfcheck)."""

    party: str
    case: Case
    inputs: Inputs
    context: Context

    def __call__(self) -> Outcome:
        from ..oracles.selfcheck import check

        try:
            return check(get_adapter(self.party), self.case, self.inputs, self.context), None, None
        except Exception as exc:
            return None, None, describe(exc)
