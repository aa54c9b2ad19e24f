"""``python -m harness run|shrink|validate|list|report|diff|schema|vocabulary``.

Exit 0: all conform; 1: discrepancies; 2: bad input or usage; 5: nothing was compared.
``diff``: 0 when no verdict changed, 1 when one did.
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from typing import Sequence

from .adapters import REFERENCE, adapter_names, get_adapter, interrupts, is_oracle, known_parties
from .adapters.user_impl import register_implementations
from .format.case import Case
from .verdicts.compare import DECIDED, ERROR, FAIL, SKIP
from .reports.diff import DEFAULT_THRESHOLD as DIFF_THRESHOLD
from .reports.diff import DRIFT_FLOOR as DIFF_FLOOR
from .format.errors import CaseError, UsageError
from .adapters.precision import PRECISIONS
from .format.limits import ENVIRONMENT as LIMITS_ENVIRONMENT
from .format.limits import NAMES as LIMIT_NAMES
from .format.limits import Limits
from .format.limits import configured as configured_limits
from .format.loader import load_case, load_cases
from .running.variants import DEFAULT_COUNT as DEFAULT_VARIANTS
from .running.spec import (CLI_OPTIONS, Run, RunSpec, Settings, begin, lane_count, make_spec,
                           seconds, whole)
from .running.workers import DEFAULT_TIMEOUT

EXIT_OK, EXIT_DISCREPANCY, EXIT_BAD_INPUT, EXIT_NOTHING_COMPARED = 0, 1, 2, 5
DEFAULT_CASES, DEFAULT_OUT = "cases", "results"
VARIANTS_FOLDER = "variants"  # under --out: each variant as a case file
SHRINK_OUT = os.path.join(DEFAULT_OUT, "shrink")
SHRINK_ATTEMPTS, SHRINK_SECONDS = 300, 300.0  # harness.tools.shrink's defaults, said in --help


def _print_problems(error: CaseError, ran: bool = False) -> None:
    for problem in error.problems:
        print(problem, file=sys.stderr)
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


def _load(args: argparse.Namespace, paths: list[str],
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
        _print_problems(CaseError(bad), ran=True)
    if not cases and not bad:
        raise UsageError(f"no case files (*.yaml, *.yml) under {', '.join(paths)}")
    return cases, bool(bad)


def _argument(check, *arguments):
    """An argparse type from a check of harness.running.spec (argparse names the option)."""
    def parse(text: str):
        try:
            return check(text, *arguments, "")
        except UsageError as error:
            raise argparse.ArgumentTypeError(str(error).lstrip(": ")) from None
    return parse


_count = _argument(whole, 0)
_seconds = _argument(seconds)


def _warn_uninstalled(cases: list[Case]) -> None:
    """A framework a case names but this machine lacks: said at run time, then a skip row."""
    known = set(adapter_names())
    for case in cases:
        for name in case.frameworks or ():
            if name not in known and "@" not in name:  # a device party was checked on loading
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
                    compile_cache=not args.no_compile_cache, repro=not args.no_repro)


def cmd_run(args: argparse.Namespace) -> int:
    from .reports.outdir import RunLock

    spec = make_spec(settings(args), CLI_OPTIONS)
    interrupts.install()
    cases, bad_input = _load(args, args.paths or [DEFAULT_CASES], spec.limits)
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
            _, written = report(partial=True)
        print(f"interrupted after {len(runs)} case runs: wrote {', '.join(map(str, written))}; "
              "the previous complete report is untouched", file=sys.stderr)
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
        rows, written = report()
    bad = [r for r in rows if r.status in (FAIL, ERROR)]
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("pass", "fail"))
    made = len({run.case.name for run in runs if run.case.variant_of})
    variants = f" and {made} variants (in {os.path.join(spec.out, VARIANTS_FOLDER)})" \
        if made else ""
    print(f"{len(cases)} cases{variants}, {len(rows)} comparisons against {reference}: {summary}")
    for row in bad[:10]:
        where = f"step {row.step} {row.quantity} {row.tensor}" if row.quantity else "whole run"
        suspect = f" (suspect: {row.suspect})" if row.suspect else ""
        print(f"  {row.status.upper()} {row.case} [{row.dtype}-{row.framework}] vs {row.reference}"
              f"{suspect}: {where}: {row.message}")
    if len(bad) > 10:
        print(f"  … and {len(bad) - 10} more in the report")
    for row in [r for r in rows if r.status == "xpass"][:10]:
        print(f"  XPASS {row.case} [{row.dtype}-{row.framework}]: {row.message}")
    print("reports: " + ", ".join(str(p) for p in written))
    if repro:
        print(f"repro folders ({len(repro)}): {os.path.join(spec.out, 'repro')}; in each, "
              "`python repro.py`")
    if bad_input:
        return EXIT_BAD_INPUT
    if bad:
        return EXIT_DISCREPANCY
    if not any(r.status in DECIDED for r in rows):
        reasons = sorted({f"{r.framework}: {r.message}" for r in rows if r.status == SKIP})
        print("nothing was compared: " + ("; ".join(reasons[:5]) if reasons else
              f"no framework besides the reference ({reference}) ran, and no case has golden "
              "values"), file=sys.stderr)
        return EXIT_NOTHING_COMPARED
    return EXIT_OK


def cmd_shrink(args: argparse.Namespace) -> int:
    """The smallest case that still fails the same way (harness.tools.shrink)."""
    from .reports.files import write_atomically
    from .tools.shrink import Shrinker, output_path, yaml_text

    spec = make_spec(Settings(frameworks=args.frameworks, impl=args.impl or (),
                              limits=args.limit or ()), CLI_OPTIONS)
    frameworks = list(spec.parties)
    case, problems = load_case(args.case, known_parties(), spec.limits)
    if problems:
        raise CaseError(problems)
    from .reports.outdir import check_writable

    check_writable(args.out, "--out")  # found now, not after every attempt has run
    say = (lambda line: None) if args.quiet else \
        (lambda line: print(line, file=sys.stderr, flush=True))
    outcome = Shrinker(case, frameworks, max_attempts=args.max_attempts,
                       time_limit=args.time_limit, progress=say).shrink()
    if outcome is None:
        print(f"{args.case}: the case does not fail with {', '.join(frameworks)}: nothing to "
              "shrink")
        return EXIT_DISCREPANCY
    path = output_path(case, args.out)
    try:
        write_atomically({path: yaml_text(outcome, frameworks, args.impl or ())})
    except OSError as error:
        raise UsageError(f"--out {args.out}: cannot write {path.name} there: "
                         f"{error.strerror or error}") from None
    changes = "; ".join(outcome.changes()) or "nothing could be removed: it is already minimal"
    print(f"{changes} ({outcome.attempts} attempts"
          f"{'; ' + outcome.stopped if outcome.stopped else ''}); still fails: "
          f"{outcome.signature}\nwrote {path}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Render report.md again from a report folder (report.csv and run.json)."""
    from .reports.files import rerender

    folder = args.folder
    if not os.path.isfile(os.path.join(folder, "report.csv")):
        raise UsageError(f"{folder}: no report.csv here; expected a report folder written by "
                         "`python -m harness run`")
    print(f"wrote {rerender(folder)}")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    """What changed between two reports: verdicts, drift, versions (harness.reports.diff)."""
    from .reports.diff import compare, output_path, read_side, summary_text, write_markdown

    old, new = read_side(args.old), read_side(args.new)
    path = output_path(args.out, args.old, args.new)
    diff = compare(old, new, args.threshold)
    write_markdown(diff, path)
    sys.stdout.write(summary_text(diff, written=path))
    return EXIT_DISCREPANCY if diff.changed else EXIT_OK


def _factor(text: str) -> float:
    """--threshold: a finite factor above 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a factor above 1, found {text!r}") from None
    if not math.isfinite(value) or value <= 1:
        raise argparse.ArgumentTypeError(f"expected a finite factor above 1, found {text!r}")
    return value


def cmd_validate(args: argparse.Namespace) -> int:
    cases, bad_input = _load(args, args.paths)
    for case in cases:
        for warning in case.warnings:
            print(f"{case.file}: warning: {warning}", file=sys.stderr)
    print(f"{'ok: ' if not bad_input else ''}{len(cases)} case(s) valid")
    return EXIT_BAD_INPUT if bad_input else EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    register_implementations(args.impl or [])
    cases = load_cases(args.paths or [DEFAULT_CASES], known_parties(),
                       limits=configured_limits(args.limit or ()))
    print("frameworks:")
    for name in adapter_names():
        available = get_adapter(name).availability()
        state = f"{available.version}" if available.available else f"unavailable: {available.reason}"
        role = " (reference)" if name == REFERENCE else \
            " (oracle)" if is_oracle(name) else ""
        print(f"  {name:<12} {state}{role}")
    print(f"cases ({len(cases)}):")
    for case in cases:
        frameworks = "all" if case.frameworks is None else ",".join(case.frameworks)
        print(f"  {case.name:<32} {','.join(case.dtypes):<16} steps {case.steps:<3} "
              f"frameworks {frameworks:<12} {case.file}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from .tools.schema import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def cmd_vocabulary(args: argparse.Namespace) -> int:
    from .tools.vocabulary import markdown

    sys.stdout.write(markdown())
    return EXIT_OK


def _add_limit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", action="append", metavar="NAME=VALUE",
                        help="raise (or lower) one limit on the sizes a case may ask for, e.g. "
                             "--limit max_tensor_elements=1e8 (repeatable; also "
                             f"{LIMITS_ENVIRONMENT}=\"name=value,…\"); names: "
                             f"{', '.join(LIMIT_NAMES)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run cases through every framework and write the reports")
    run.add_argument("paths", nargs="*", help=f"case files or folders (default: {DEFAULT_CASES}/)")
    run.add_argument("--frameworks", "-f", help="comma-separated framework names (default: all)")
    run.add_argument("--out", default=DEFAULT_OUT, help=f"report folder (default: {DEFAULT_OUT}/)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    impl_help = ("your own backprop: a .py file defining forward_backward(params, x, y); added as "
                 "a framework named after the file (repeatable)")
    run.add_argument("--impl", action="append", metavar="FILE.py", help=impl_help)
    run.add_argument("--keep-going", action="store_true",
                     help="run the valid cases even if some files are bad (exit code still 2)")
    run.add_argument("--timeout", default=DEFAULT_TIMEOUT, metavar="SECONDS",
                     help=f"time limit per case, dtype and framework (default "
                          f"{DEFAULT_TIMEOUT:g}); a worker's start and a framework's imports are "
                          "not counted")
    run.add_argument("--jobs", "-j", default=None, metavar="N",
                     help="run N cases at a time, each lane in a worker process of its own "
                          "(default: HARNESS_JOBS if set, else the cores this process may use; "
                          "at most one per case)")
    run.add_argument("--isolation", default="process", metavar="{process,none}",
                     help="run each framework in a worker process that can be killed (process, "
                          "the default), or in this process (none)")
    run.add_argument("--precision", default=None, metavar="{" + ",".join(PRECISIONS) + "}",
                     help="float32 matmul precision for the cases that set none: the frameworks' "
                          "own defaults (default) or full precision, TF32 off (highest)")
    run.add_argument("--reference", metavar="NAME",
                     help="the base of comparison: any framework or --impl file (default numpy)")
    _add_limit_option(run)
    run.add_argument("--variants", default=DEFAULT_VARIANTS, metavar="N",
                     help="run each case an --impl file runs at N seeded variants too (other "
                          "parameters, a batch, other input scales), written to OUT/variants/ "
                          f"(default {DEFAULT_VARIANTS}; 0: none)")
    run.add_argument("--self-check", action="append", metavar="NAME",
                     help="also check this framework's gradients against finite differences of "
                          "its own loss (--impl files always are; repeatable)")
    run.add_argument("--no-compile-cache", action="store_true",
                     help="compile JAX's programs afresh, not loading any kept by an earlier run "
                          "(as HARNESS_COMPILE_CACHE=off; the cache: "
                          "$XDG_CACHE_HOME/gradient-harness, by default ~/.cache/…)")
    run.add_argument("--no-repro", action="store_true",
                     help="write no repro folders (OUT/repro/<case>-<dtype>-<framework>/) for "
                          "failing frameworks")
    run.set_defaults(handler=cmd_run)
    shrink = sub.add_parser("shrink", help="reduce a failing case to the smallest one that "
                            "still fails the same way")
    shrink.add_argument("case", help="one case file that fails")
    shrink.add_argument("--frameworks", "-f", help="comma-separated framework names (default: all)")
    shrink.add_argument("--impl", action="append", metavar="FILE.py", help=impl_help)
    shrink.add_argument("--out", default=SHRINK_OUT,
                        help=f"folder for <case>-shrunk.yaml (default: {SHRINK_OUT}/)")
    shrink.add_argument("--max-attempts", type=_count, default=SHRINK_ATTEMPTS, metavar="N",
                        help=f"candidates tried at most (default {SHRINK_ATTEMPTS})")
    shrink.add_argument("--time-limit", type=_seconds, default=SHRINK_SECONDS, metavar="SECONDS",
                        help=f"stop trying after this long (default {SHRINK_SECONDS:g})")
    shrink.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    _add_limit_option(shrink)
    shrink.set_defaults(handler=cmd_shrink)
    report = sub.add_parser("report", help="render report.md again from a report folder")
    report.add_argument("folder", help="a folder with report.csv (and run.json)")
    report.set_defaults(handler=cmd_report)
    diff = sub.add_parser("diff", help="what changed between two reports: verdicts, drift of "
                                       "the share of the tolerance used, versions")
    diff.add_argument("old", help="the older report folder (or its report.csv)")
    diff.add_argument("new", help="the newer report folder (or its report.csv)")
    diff.add_argument("--threshold", type=_factor, default=DIFF_THRESHOLD, metavar="X",
                      help="report a comparison whose share of the tolerance used changed X "
                           f"times or more (default {DIFF_THRESHOLD:g}) and reached "
                           f"{DIFF_FLOOR:g} on one side")
    diff.add_argument("--out", metavar="FILE_OR_DIR",
                      help="where the Markdown copy goes (default: ./diff.md; a folder gets "
                           "diff.md in it)")
    diff.set_defaults(handler=cmd_diff)
    schema = sub.add_parser("schema", help="print a JSON Schema of the case format (for editors)")
    schema.set_defaults(handler=cmd_schema)
    vocabulary = sub.add_parser("vocabulary", help="print every name a case may use, as Markdown")
    vocabulary.set_defaults(handler=cmd_vocabulary)
    validate = sub.add_parser("validate", help="check case files without running them")
    validate.add_argument("paths", nargs="+", help="case files or folders")
    validate.add_argument("--keep-going", action="store_true",
                          help="list the problems and still count the valid files")
    _add_limit_option(validate)
    validate.set_defaults(handler=cmd_validate)
    lister = sub.add_parser("list", help="show the cases and each framework's availability")
    lister.add_argument("paths", nargs="*", help=f"case files or folders (default: {DEFAULT_CASES}/)")
    lister.add_argument("--impl", action="append", metavar="FILE.py", help=impl_help)
    _add_limit_option(lister)
    lister.set_defaults(handler=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # usage mistakes exit 2 here
    try:
        return args.handler(args)
    except CaseError as error:
        _print_problems(error)
        return EXIT_BAD_INPUT
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: no report written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m harness list | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
