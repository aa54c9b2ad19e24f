"""``python -m harness run|shrink|validate|list|report|diff|merge|fuzz|known|schema|vocabulary``.

Exit 0: all conform; 1: discrepancies; 2: bad input or usage; 5: nothing was compared.
``diff``: 0 when no verdict changed, 1 when one did.
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
from typing import Sequence

from .adapters import REFERENCE, adapter_names, get_adapter, is_oracle, known_parties
from .adapters.user_impl import register_implementations
from .reports.diff import DEFAULT_THRESHOLD as DIFF_THRESHOLD
from .reports.diff import DRIFT_FLOOR as DIFF_FLOOR
from .format.errors import CaseError, UsageError
from .format.case import PRECISIONS
from .format.limits import ENVIRONMENT as LIMITS_ENVIRONMENT
from .format.limits import NAMES as LIMIT_NAMES
from .format.limits import configured as configured_limits
from .format.loader import load_case, load_cases
from .running.variants import DEFAULT_COUNT as DEFAULT_VARIANTS
from .running.spec import CLI_OPTIONS, Settings, make_spec, seconds, whole
from .running.workers import DEFAULT_TIMEOUT
from .reports.text import terminal_text
from .run_command import (DEFAULT_CASES, EXIT_BAD_INPUT, EXIT_DISCREPANCY, EXIT_OK, cmd_run,
                          load_paths, print_problems, reader_may_leave)

DEFAULT_OUT = "results"
# front-end modules beside this one, each with register(subparsers) adding its command
COMMAND_MODULES = ("merge_command", "fuzz_command", "known_command")
SHRINK_OUT = os.path.join(DEFAULT_OUT, "shrink")
SHRINK_ATTEMPTS, SHRINK_SECONDS = 300, 300.0  # harness.tools.shrink's defaults, said in --help


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
    from .running.outdir import check_writable

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
    with reader_may_leave():
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
    cases, bad_input = load_paths(args, args.paths)
    for case in cases:
        for warning in case.warnings:
            print(terminal_text(f"{case.file}: warning: {warning}"), file=sys.stderr)
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
    parties = known_parties()
    if parties.with_modes():  # asked by name: torch+compile, jax+nojit (docs/frameworks.md)
        print("execution modes: " + ", ".join(parties.with_modes()))
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
    run.add_argument("--strict-known", action="store_true",
                     help="exit 1 when a declared known discrepancy did not occur (xpass: fixed "
                          "upstream, remove the declaration)")
    run.add_argument("--shard", metavar="K/N",
                     help="run only shard K of N: the (case, dtype) plans split the same way on "
                          "every machine, a case's place never moved by the others (merge the "
                          "N reports with `python -m harness merge`)")
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
    for name in COMMAND_MODULES:  # commands that keep their parser in a module of their own
        importlib.import_module(f".{name}", __package__).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # usage mistakes exit 2 here
    try:
        return args.handler(args)
    except CaseError as error:
        print_problems(error)
        return EXIT_BAD_INPUT
    except UsageError as error:
        lines = str(error).split("\n")  # each line of it neutralised for the terminal
        print("\n".join(terminal_text(line) for line in ["error: " + lines[0], *lines[1:]]),
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: no report written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m harness list | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
