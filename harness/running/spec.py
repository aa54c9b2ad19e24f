"""The run specification: what a run compares, against what, and how it runs.

Both front ends translate their options into :class:`Settings` (raw, as the user gave them) and
call :func:`make_spec`, the one place a run is set up and every usage mistake refused; the
command line's ``--frameworks`` and pytest's ``--harness-frameworks`` differ only in name
(:data:`CLI_OPTIONS`, :data:`PYTEST_OPTIONS`). The run itself is :class:`Run`: both front ends
reach a (case, dtype) through :meth:`Run.case`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from ..adapters import REFERENCE, adapter_names, is_oracle, known_parties
from ..adapters import compile_cache
from ..adapters.precision import apply_option
from ..adapters.user_impl import register_implementations
from ..format.case import PRECISIONS, Case
from ..format.errors import UsageError
from ..format.limits import Limits, configured
from ..format.numerics import MIXED_PREFIX
from ..format.parties import bound, did_you_mean
from .outdir import check_writable
from .runner import CaseRun, implementations, run_case, run_cases
from .shards import Shard
from .shards import parse as parse_shard
from .variants import DEFAULT_COUNT as DEFAULT_VARIANTS
from .workers import DEFAULT_TIMEOUT, WorkerPool, check_start_method

ISOLATIONS = ("process", "none")
# a time limit longer than this cannot be waited for (the OS's timers take at most ~24.8 days in
# milliseconds); a user asking for more means "no limit", which this is in practice
MAX_TIMEOUT = 2_000_000.0
MAX_VARIANTS = 1_000  # variants per case: each is a case run and a file under OUT/variants/
JOBS_ENVIRONMENT = "HARNESS_JOBS"

# each setting's name on each front end, for usage errors that name what the user typed
CLI_OPTIONS = {"frameworks": "--frameworks", "reference": "--reference", "impl": "--impl",
               "precision": "--precision", "self_check": "--self-check",
               "variants": "--variants", "isolation": "--isolation", "jobs": "--jobs",
               "timeout": "--timeout", "out": "--out", "limits": "--limit",
               "shard": "--shard"}
# under pytest, lanes are pytest-xdist's -n: there is no --harness-jobs
PYTEST_OPTIONS = {name: "--harness-" + option[2:] for name, option in CLI_OPTIONS.items()
                  if name != "jobs"}


@dataclass(frozen=True)
class Settings:
    """A run as a front end received it: text and numbers as the user gave them, unchecked."""

    frameworks: str | None = None  # comma-separated; None: every installed framework and oracle
    reference: str | None = None  # None: numpy
    impl: Sequence[str] = ()  # --impl files
    precision: str | None = None
    self_check: Sequence[str] = ()
    variants: str | int = DEFAULT_VARIANTS
    isolation: str = "process"
    jobs: str | int | None = None  # None: HARNESS_JOBS, else the cores
    timeout: str | float = DEFAULT_TIMEOUT
    out: str | None = None  # the report folder; None: no report (pytest's default)
    limits: Sequence[str] = ()  # NAME=VALUE
    compile_cache: bool = True
    repro: bool = True
    shard: str | None = None  # K/N (harness.running.shards); None: every plan


@dataclass(frozen=True)
class RunSpec:
    """A run, checked: the one description both front ends run from."""

    parties: tuple[str, ...]  # frameworks, oracles and --impl files compared with the reference
    reference: str
    implementations: tuple[str, ...]  # the --impl files among the parties, by name
    chosen: bool  # parties were named; else a framework a case names but this machine lacks
    # is a skip row rather than left out
    precision: str | None
    self_check: tuple[str, ...]
    variants: int
    isolation: str
    jobs: int | None
    timeout: float
    out: str | None
    limits: Limits
    compile_cache: bool = True
    repro: bool = True
    shard: Shard | None = None

    def options(self) -> dict:
        """The options a run's record (run.json) names (a shard run's shard too)."""
        return {"frameworks": list(self.parties), "reference": self.reference,
                "isolation": self.isolation, "timeout": self.timeout, "variants": self.variants,
                "self_check": list(self.self_check), "jobs": self.jobs,
                "precision": self.precision or "per case (default)",
                "compile_cache": compile_cache.describe(),
                **({"shard": str(self.shard)} if self.shard else {})}

    def dtypes(self, case: Case) -> tuple[str, ...]:
        """The dtypes of ``case`` whose plans this run runs: every one, or its shard's."""
        return tuple(d for d in case.dtypes if self.shard is None or self.shard.holds(case, d))


def make_spec(settings: Settings, options: Mapping[str, str] = CLI_OPTIONS) -> RunSpec:
    """Check ``settings`` and make the run's specification; a UsageError names the option as
    ``options`` spells it. Registers every --impl file as a framework."""
    impls = register_implementations(list(dict.fromkeys(settings.impl)), options["impl"])
    parties = _parties(settings.frameworks, options["frameworks"])
    parties += tuple(n for n in impls if n not in parties)
    reference = _framework(settings.reference, options["reference"], REFERENCE)
    self_check = tuple(dict.fromkeys(_framework(n, options["self_check"])
                                     for n in settings.self_check))
    if settings.precision is not None and settings.precision not in PRECISIONS:
        hint = " (a numeric format is a case's dtype: dtype: [float32, mixed-bfloat16])" \
            if settings.precision.startswith(MIXED_PREFIX) else ""
        raise UsageError(f"{options['precision']} {settings.precision}: expected one of "
                         f"{', '.join(PRECISIONS)}{hint}")
    if settings.isolation not in ISOLATIONS:
        raise UsageError(f"{options['isolation']} {settings.isolation}: expected one of "
                         f"{', '.join(ISOLATIONS)}")
    variants = whole(settings.variants, 0, options["variants"], most=MAX_VARIANTS)
    timeout = seconds(settings.timeout, options["timeout"], most=MAX_TIMEOUT)
    jobs = default_jobs() if settings.jobs is None else whole(settings.jobs, 1, options["jobs"])
    limits = configured(list(settings.limits), options["limits"])
    shard = parse_shard(settings.shard, options["shard"])
    if settings.out is not None and not settings.out.strip():
        raise UsageError(f"{options['out']}: expected a folder for the reports, found nothing")
    if settings.out is not None:
        check_writable(settings.out, options["out"])  # found now, not after every case ran
    problem = check_start_method()
    if problem:
        raise UsageError(problem)
    return RunSpec(parties=parties, reference=reference, implementations=tuple(impls),
                   chosen=settings.frameworks is not None, precision=settings.precision,
                   self_check=self_check, variants=variants, isolation=settings.isolation,
                   jobs=jobs, timeout=timeout, out=settings.out, limits=limits,
                   compile_cache=settings.compile_cache, repro=settings.repro, shard=shard)


def _parties(text: str | None, option: str) -> tuple[str, ...]:
    if text is None:
        return tuple(adapter_names())
    chosen, problems = known_parties().parse(n.strip() for n in text.split(",") if n.strip())
    if problems:
        raise UsageError(f"{option}: " + "; ".join(problems))
    if not chosen:
        raise UsageError(f"{option}: expected at least one framework name, found {text!r}")
    return tuple(chosen)


def _framework(name: str | None, option: str, default: str = REFERENCE) -> str:
    """A framework or --impl file, never an oracle: the reference, or one to self-check."""
    if name is None:
        return default
    valid = ", ".join(n for n in adapter_names() if not is_oracle(n))
    if bound(name):
        raise UsageError(f"{option} {name}: expected a framework's bare name (it runs on the "
                         f"CPU, in its default mode); valid: {valid}")
    if name not in adapter_names():
        raise UsageError(f"{option} {name}: unknown framework{did_you_mean(name, adapter_names())}"
                         f"; valid: {valid}")
    if is_oracle(name):
        raise UsageError(f"{option} {name}: an oracle checks a framework, it cannot be one "
                         f"here; valid: {valid}")
    return name


def whole(value: str | int, least: int, option: str, most: int | None = None) -> int:
    """A whole number of at least ``least`` (and at most ``most``)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < least or (isinstance(value, float) and value != number):
        raise UsageError(f"{option}: expected a whole number of at least {least}, "
                         f"found {value!r}")
    if most is not None and number > most:
        raise UsageError(f"{option}: expected a whole number of at most {most}, found {value!r}")
    return number


def seconds(value: str | float, option: str, most: float | None = None) -> float:
    """A finite number of seconds above 0 (and at most ``most``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option}: expected a number of seconds, found {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise UsageError(f"{option}: expected a finite number of seconds above 0, found "
                         f"{value!r}")
    if most is not None and number > most:
        raise UsageError(f"{option}: expected at most {most:g} seconds (about "
                         f"{most / 86400:.0f} days), found {value!r}")
    return number


def default_jobs(environ: Mapping[str, str] = os.environ) -> int | None:
    """HARNESS_JOBS, the lanes of a run that gives no --jobs: for a machine shared with other
    work (CI, a test suite running several harness runs at once), where one lane per core
    would only make runs compete for the same cores. None when unset."""
    text = environ.get(JOBS_ENVIRONMENT, "").strip()
    return whole(text, 1, JOBS_ENVIRONMENT) if text else None


def lane_count(jobs: int | None, cases: int) -> int:
    """Lanes for a run: its jobs, else the cores this process may use; never more than cases."""
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    return max(1, min(jobs, cases))


def begin(spec: RunSpec) -> str | None:
    """What a run does once before its first case (the controller's, under pytest-xdist):
    JAX's compilation cache turned off on request, checked and pruned. A warning, or None."""
    return compile_cache.begin_run(turn_off=not spec.compile_cache)


class Run:
    """One run of a spec: its lanes' worker processes, started when first needed."""

    def __init__(self, spec: RunSpec, lanes: int = 1):
        self.spec = spec
        self.pools: list[WorkerPool | None] = [None] * max(1, lanes)

    def pool(self, lane: int) -> WorkerPool | None:
        if self.spec.isolation != "process":
            return None
        if self.pools[lane] is None:
            self.pools[lane] = WorkerPool(self.spec.timeout,
                                          parties=[self.spec.reference, *self.spec.parties])
        return self.pools[lane]

    def case(self, case: Case, dtype: str, lane: int = 0) -> CaseRun:
        """One case in one dtype: every party once, compared, blamed (harness.running.runner).
        Both front ends reach the run here."""
        case = apply_option([case], self.spec.precision)[0]  # a case's own precision wins
        return run_case(case, dtype, self.spec.parties, self.pool(lane), self.spec.reference,
                        uninstalled=not self.spec.chosen, self_check=self.spec.self_check)

    def cases(self, cases: list[Case], progress: Callable | None = None,
              finished: list[CaseRun] | None = None, variant_dir: str | None = None,
              warn: Callable[[str], None] | None = None) -> list[CaseRun]:
        """Every case in every dtype over the lanes, with variants (harness.running.runner)."""
        impls = set(implementations(self.spec.parties)) | \
            set(implementations([self.spec.reference]))
        return run_cases(cases, self.case, lanes=len(self.pools), progress=progress,
                         finished=finished, variants=self.spec.variants if impls else 0,
                         variant_dir=variant_dir, warn=warn, implementations=impls)

    def close(self) -> None:
        for pool in self.pools:
            if pool is not None:
                pool.close()
