"""``python -m harness fuzz``: generated cases through the chosen parties, each failing case
shrunk and written as a case file and a repro folder, what was found on the terminal and in
OUT/fuzz.md (the work is harness.tools.fuzz's; the cases are harness.tools.casegen's).

Exit 0: nothing found; 1: a case failed (or erred); 2: bad usage; 5: nothing was compared (no
party ran any case: an --impl file that supports none of them, say); 130: interrupted, what was
judged is kept, and the same command goes on from there.
"""
from __future__ import annotations

import argparse
import sys
import time

from .adapters import interrupts
from .format import catalog
from .format.errors import UsageError
from .reports.text import terminal_text
from .run_command import EXIT_DISCREPANCY, EXIT_NOTHING_COMPARED, EXIT_OK
from .running.spec import CLI_OPTIONS, Settings, make_spec, seconds, whole
from .tools import casegen, fuzz
from .tools.casegen_draws import SETTINGS

EXIT_INTERRUPTED = 130
DEFAULT_COUNT = 100
SHRINK_ATTEMPTS, SHRINK_SECONDS = 100, 60.0  # per failing case (``shrink`` allows 300 and 300)
SHOWN_FINDINGS = 20  # failing cases told on the terminal; fuzz.md lists every one


def _checked(parse, *arguments):
    """An argparse type from a parser that raises UsageError (argparse names the option)."""
    def check(text: str):
        try:
            return parse(text, *arguments)
        except UsageError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return check


def _range(option):
    return _checked(lambda text: casegen.parse_range(text, option))


def _names(option, valid):
    return _checked(lambda text: casegen.parse_names(text, option, valid))


class _Progress:
    """A line per (case, dtype) on stderr, overwritten on a terminal."""

    def __init__(self, quiet: bool):
        self.quiet, self.tty, self.start = quiet, sys.stderr.isatty(), time.monotonic()

    def __call__(self, number: int, total: int, case, dtype: str) -> None:
        if self.quiet:
            return
        line = f"[{number}/{total}] {case.name} [{dtype}] ({time.monotonic() - self.start:.1f} s)"
        end = "" if self.tty and number < total else "\n"
        print(f"\r\033[K{line}" if self.tty else line, end=end, file=sys.stderr, flush=True)


def cmd_fuzz(args: argparse.Namespace) -> int:
    spec = make_spec(Settings(frameworks=args.frameworks, impl=args.impl or (), variants=0,
                              jobs=args.jobs, out=args.out, repro=False), CLI_OPTIONS)
    options = casegen.Options(
        depth=args.depth, widths=args.widths, batch=args.batch, features=args.features,
        steps=args.steps, dtypes=args.dtypes or (), activations=args.activations or (),
        losses=args.losses or (), optimizers=args.optimizers or (), settings=args.settings,
        modes=args.modes)
    problems = options.problems()
    if problems:
        raise UsageError("\n".join(problems))
    plan = fuzz.Plan(count=args.count, seed=args.seed, shard=args.shard, options=options,
                     impl_files=tuple(dict.fromkeys(args.impl or ())),
                     shrink_attempts=SHRINK_ATTEMPTS, shrink_seconds=args.shrink_time_limit,
                     max_shrinks=args.max_shrinks, restart=args.restart)
    interrupts.install()
    def warn(line: str) -> None:
        print(terminal_text(f"warning: {line}"), file=sys.stderr, flush=True)
    say = (lambda line: None) if args.quiet else \
        (lambda line: print(terminal_text(line), file=sys.stderr, flush=True))
    try:
        summary = fuzz.run(plan, spec, progress=_Progress(args.quiet), say=say, warn=warn)
    except fuzz.Interrupted as stopped:
        print(terminal_text(f"{stopped}; to go on, run the same command again: "
                            f"{fuzz.command(plan, spec)}"), file=sys.stderr)
        return EXIT_INTERRUPTED
    for line in fuzz.summary_lines(summary, shown=SHOWN_FINDINGS):
        print(terminal_text(line))
    print("reports: " + ", ".join(str(p) for p in summary.reports))
    if summary.found:
        return EXIT_DISCREPANCY
    return EXIT_OK if summary.compared else EXIT_NOTHING_COMPARED


def register(subparsers) -> None:
    """The fuzz command and its flags (harness.cli imports this module when it is there)."""
    p = subparsers.add_parser("fuzz", help="generated cases through the frameworks; each "
                              "failing case shrunk, with a repro folder")
    p.add_argument("--count", type=_checked(whole, 0, "--count", fuzz.MAX_COUNT),
                   default=DEFAULT_COUNT, metavar="N",
                   help=f"how many cases to generate (default {DEFAULT_COUNT})")
    p.add_argument("--seed", type=_checked(whole, 0, "--seed"), default=0, metavar="S",
                   help="the generator's seed (default 0): the same seed and harness version "
                        "give the same cases")
    p.add_argument("--shard", type=_checked(fuzz.parse_shard), default=(1, 1), metavar="K/N",
                   help="judge only the K-th of N shares of the cases (case i when i mod N = "
                        "K-1)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the folder for the cases, the reports, the shrunk cases and repro "
                        "folders, fuzz.md and the progress record; a rerun goes on from it")
    p.add_argument("--restart", action="store_true",
                   help="forget the progress kept in --out and judge every case again")
    p.add_argument("--frameworks", "-f", help="comma-separated framework names (default: all)")
    p.add_argument("--impl", action="append", metavar="FILE.py",
                   help="your own backprop (as for run; no variants are run: the generated "
                        "cases are the variety); repeatable")
    p.add_argument("--jobs", "-j", default=None, metavar="N",
                   help="cases at a time, each lane in a worker process (as for run)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    g = p.add_argument_group("the generator", "what a case may be drawn with (a range is N or "
                             "MIN-MAX; a list is comma-separated names)")
    for name, default, what in (("depth", casegen.MAX_DEPTH, "layers"),
                                ("widths", casegen.MAX_WIDTH, "units of each layer"),
                                ("batch", casegen.MAX_BATCH, "rows of x"),
                                ("features", casegen.MAX_FEATURES, "columns of x"),
                                ("steps", casegen.MAX_STEPS, "training steps")):
        g.add_argument(f"--{name}", type=_range(f"--{name}"), default=(1, default),
                       metavar="MIN-MAX", help=f"{what} (default 1-{default})")
    g.add_argument("--dtypes", type=_checked(casegen.parse_dtypes, "--dtypes"), metavar="LIST",
                   help="numeric formats, one drawn per case, or any (all six); default: "
                        "float32, float64 or both")
    for name, valid in (("activations", catalog.ACTIVATIONS), ("losses", catalog.LOSSES),
                        ("optimizers", catalog.OPTIMIZERS)):
        g.add_argument(f"--{name}", type=_names(f"--{name}", valid), metavar="LIST",
                       help=f"{name} to draw from (default: all of the catalog's: "
                            f"{', '.join(valid)})")
    g.add_argument("--settings", choices=SETTINGS, default="random",
                   help="random: optional settings (momentum, reduction, slopes, …) drawn now "
                        "and then; default: never (plain sgd, mean reduction), as an --impl "
                        "file often needs (default random)")
    g.add_argument("--modes", action="store_true",
                   help="every case lists the execution modes among its frameworks")
    s = p.add_argument_group("shrinking")
    s.add_argument("--max-shrinks", type=_checked(whole, 0, "--max-shrinks"), metavar="N",
                   help="shrink at most N failing cases (default: every one)")
    s.add_argument("--shrink-time-limit", type=_checked(seconds, "--shrink-time-limit"),
                   default=SHRINK_SECONDS, metavar="SECONDS",
                   help=f"stop shrinking a case after this long (default {SHRINK_SECONDS:g})")
    p.set_defaults(handler=cmd_fuzz)

