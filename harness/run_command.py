"""``python -m harness run``: the command line's settings checked into a run specification, the
cases run, the reports written, and the outcome told on stdout (the other commands and the
parser are in harness.cli).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time

from .adapters import adapter_names, interrupts, known_parties
from .format.case import Case
from .verdicts.compare import DECIDED, ERROR, FAIL, SKIP
from .verdicts.known_discrepancies import xpasses
from .format.errors import CaseError, UsageError
from .format.parties import bound
from .format.limits import Limits
from .format.limits import configured as configured_limits
from .format.loader import load_cases
from .running.spec import CLI_OPTIONS, Run, RunSpec, Settings, begin, lane_count, make_spec
from .reports.text import terminal_text

EXIT_OK, EXIT_DISCREPANCY, EXIT_BAD_INPUT, EXIT_NOTHING_COMPARED = 0, 1, 2, 5
DEFAULT_CASES = "cases"
VARIANTS_FOLDER = "variants"  # under --out: each variant as a case file


def print_problems(error: CaseError, ran: bool = False) -> None:
    """Every problem on stderr, then how many, in how many files, and what became of them."""
    files_in_order = {p.file: i for i, p in reversed(list(enumerate(error.problems)))}
    for problem in sorted(error.problems,  # each file's problems in the order of its lines
                          key=lambda p: (files_in_order[p.file], p.line or 0)):
        print(terminal_text(problem), file=sys.stderr)
    files = len({p.file for p in error.problems})
    outcome = "those files are left out (--keep-going)" if ran else "nothing was run"
    print(f"{len(error.problems)} problem(s) in {files} file(s); {outcome}.", file=sys.stderr)


class _Progress:
    """One line per case on stderr, so a long run shows it is moving (overwritten on a terminal)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()

    def __call__(self, number: int, total: int, case: Case, dtype: str) -> None:
        if self.quiet:
            return
        line = f"[{number}/{total}] {case.name} [{dtype}] ({time.monotonic() - self.start:.1f} s)"
        if self.tty:
            print(f"\r\033[K{line}", end="" if number < total else "\n", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def reader_may_leave():
    """Output whose reader may leave early (`… | head`, `… | true`): what is left unprinted is
    dropped, and the command still returns the exit code its verdict gives."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


FULL_FINDINGS = 5  # failing (case, party) told in full on the terminal; the next ones in a line
LISTED_FINDINGS = 50  # beyond this many, the terminal counts them and points at the report


def print_findings(rows: list, quiet: bool) -> None:
    """Each failing (case, party), verdict first (harness.reports.findings): the first few in
    full, the others in one line each; quiet mode one line each."""
    from .reports.findings import block, findings, headline

    found = findings(rows)
    told: dict[tuple, str] = {}  # the sentences told in full so far, and for which case
    for finding in found[:LISTED_FINDINGS]:
        said = tuple(finding.sentences()) + finding.patterns()  # a variant's own ratio is told
        if said and said in told:  # a dtype or variant that fails the same way: one line
            lines = [headline(finding)] + \
                ([] if quiet else [f"  the same verdict as {told[said]} above"])
        elif quiet or len(told) >= FULL_FINDINGS:
            lines = [headline(finding)]
        else:
            lines = block(finding)
            told[said] = finding.label()
        for line in lines:
            print(terminal_text("  " + line))
    if len(found) > LISTED_FINDINGS:
        print(f"  … and {len(found) - LISTED_FINDINGS} more failing (case, party) in the report")


def load_paths(args: argparse.Namespace, paths: list[str],
               limits: Limits | None = None) -> tuple[list[Case], bool]:
    """(cases, whether any file was bad). With --keep-going, bad files are reported and the
    good ones kept; without it, any bad file stops everything (CaseError)."""
    bad: list = []
    keep_going = getattr(args, "keep_going", False)
    if limits is None:
        limits = configured_limits(getattr(args, "limit", None) or ())
    cases = load_cases(paths, known_parties(), on_problems=bad.extend if keep_going else None,
                       limits=limits)
    if bad:
        print_problems(CaseError(bad), ran=True)
    if not cases and not bad:
        raise UsageError(f"no case files (*.yaml, *.yml) under {', '.join(paths)}")
    return cases, bool(bad)


def _warn_uninstalled(cases: list[Case]) -> None:
    """A framework a case names but this machine lacks: said at run time, then a skip row."""
    known = set(adapter_names())
    for case in cases:
        for name in case.named_parties:
            if name not in known and not bound(name):  # checked on loading
                print(f"warning: {case.file}: framework {name!r} is not installed here; its "
                      "comparisons are skipped", file=sys.stderr)


class _Interrupts:
    """Ctrl-C while the final reports are written is held until they are whole: a run that
    finished every case never loses its report to a late keypress."""

    def __init__(self):
        self.pending = False

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame):
        self.pending = True

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)
        if self.pending:
            print("interrupted while writing the reports: they were finished first",
                  file=sys.stderr)


def settings(args: argparse.Namespace) -> Settings:
    """The run's settings as the command line gave them (harness.running.spec checks them)."""
    return Settings(frameworks=args.frameworks, reference=args.reference, impl=args.impl or (),
                    precision=args.precision, self_check=args.self_check or (),
                    variants=args.variants, isolation=args.isolation, jobs=args.jobs,
                    timeout=args.timeout, out=args.out, limits=args.limit or (),
                    compile_cache=not args.no_compile_cache, repro=not args.no_repro,
                    shard=args.shard)


def _written(report, out: str, partial: bool = False):
    """``report(partial)``'s (rows, files written), or None after saying on stderr why the
    reports could not be written (a full disk, a folder made read-only during the run): the
    previous report is kept, and no temporary file is left (harness.reports.files)."""
    try:
        return report(partial)
    except OSError as error:
        where = error.filename or out
        print(terminal_text(f"error: cannot write the {'partial ' if partial else ''}reports: "
                            f"{where}: {error.strerror or error}; the previous report in {out} "
                            "is kept as it was"), file=sys.stderr)
        return None


def cmd_run(args: argparse.Namespace) -> int:
    from .running.outdir import RunLock

    spec = make_spec(settings(args), CLI_OPTIONS)
    interrupts.install()
    cases, bad_input = load_paths(args, args.paths or [DEFAULT_CASES], spec.limits)
    if not cases:  # --keep-going, and every file was bad: nothing ran, the report is kept
        print(f"no valid case to run: {spec.out} is left as it was", file=sys.stderr)
        return EXIT_BAD_INPUT
    if spec.shard:  # its plans only (harness.running.shards); every file was still checked
        from .running.shards import select

        chosen = select(cases, spec.shard)
        if not args.quiet:
            print(f"shard {spec.shard}: {sum(len(c.dtypes) for c in chosen)} of "
                  f"{sum(len(c.dtypes) for c in cases)} (case, dtype) plans", file=sys.stderr)
        cases = chosen
    with RunLock(spec.out):
        return _run(args, spec, cases, bad_input)


def _run(args: argparse.Namespace, spec: RunSpec, cases: list[Case], bad_input: bool) -> int:
    from .reports.files import STATUSES, write_reports
    from .reports.record import make_record, run_entry

    if not spec.chosen:
        _warn_uninstalled(cases)
    runs: list = []
    lanes = lane_count(spec.jobs, len(cases)) if spec.isolation == "process" else 1
    if spec.isolation != "process" and spec.jobs not in (None, 1):
        print("warning: --jobs needs --isolation process; running every case in this process",
              file=sys.stderr)
    warning = begin(spec)
    if warning:
        print(warning, file=sys.stderr)
    run = Run(spec, lanes)
    options = {**spec.options(), "jobs": lanes}
    reference = spec.reference
    repro: list[dict] = []  # the repro folders written (harness.reports.repro), for report.md

    def report(partial: bool = False):
        done = sorted(runs, key=lambda run: run.order)  # lanes finish in any order
        rows = [row for run in done for row in run.rows]
        record = make_record([run_entry(run) for run in done], reference=reference,
                             frameworks=[reference, *spec.parties], options=options)
        if repro:
            record["repro"] = repro
        return rows, write_reports(rows, record, spec.out, partial=partial)
    try:
        run.cases(cases, progress=_Progress(args.quiet), finished=runs,
                  variant_dir=os.path.join(spec.out, VARIANTS_FOLDER),
                  warn=lambda message: print(f"warning: variant {message}", file=sys.stderr))
    except KeyboardInterrupt:
        with _Interrupts():
            outcome = _written(report, spec.out, partial=True)
        if outcome:
            print(f"interrupted after {len(runs)} case runs: wrote "
                  f"{', '.join(map(str, outcome[1]))}; the previous complete report is "
                  "untouched", file=sys.stderr)
        return 130
    finally:
        with _Interrupts():
            run.close()
    runs.sort(key=lambda run: run.order)  # lanes finish in any order; the report does not
    if spec.repro:
        from .reports.repro import write_all

        repro += write_all(runs, spec.out, warn=lambda message: print(f"warning: {message}",
                                                                       file=sys.stderr))
    with _Interrupts():
        outcome = _written(report, spec.out)
    if outcome is None:
        return EXIT_DISCREPANCY  # the cases ran; their report could not be written
    rows, written = outcome
    bad = [r for r in rows if r.status in (FAIL, ERROR)]
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("pass", "fail"))
    made = len({run.case.name for run in runs if run.case.variant_of})
    variants = f" and {made} variants (in {os.path.join(spec.out, VARIANTS_FOLDER)})" \
        if made else ""
    with reader_may_leave():  # `run … | head` keeps the verdict's exit code
        print(f"{len(cases)} case{'s' if len(cases) != 1 else ''}{variants}, {len(rows)} "
              f"comparisons against {reference}: {summary}")
        print_findings(rows, args.quiet)
        for said in xpasses(rows)[:10]:  # a declaration once per party and dtype
            print(terminal_text(f"  XPASS {said}"))
        print("reports: " + ", ".join(str(p) for p in written))
        if repro:
            print(f"repro folders ({len(repro)}): {os.path.join(spec.out, 'repro')}; in each, "
                  "`python repro.py`")
    if bad_input:
        return EXIT_BAD_INPUT
    if bad:
        return EXIT_DISCREPANCY
    if getattr(args, "strict_known", False) and xpasses(rows):
        print(f"--strict-known: {len(xpasses(rows))} declared discrepancies did not occur "
              "(xpass): remove them from their cases, or give them a version range",
              file=sys.stderr)
        return EXIT_DISCREPANCY
    if spec.shard and not cases:  # a shard with no plan here: its empty report still merges
        return EXIT_OK
    if not any(r.status in DECIDED for r in rows):
        reasons = sorted({f"{r.framework}: {r.message}" for r in rows if r.status == SKIP})
        print("nothing was compared: " + (terminal_text("; ".join(reasons[:5])) if reasons else
              f"no framework besides the reference ({reference}) ran, and no case has golden "
              "values"), file=sys.stderr)
        return EXIT_NOTHING_COMPARED
    return EXIT_OK
