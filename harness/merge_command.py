"""``python -m harness merge DIR… --out DIR``: report folders (the shards of a run, runs on other
machines) into one report folder: report.csv, report.md, run.json and heatmap.svg as one run of
all of them would write them (harness.reports.merge). Nothing is written unless every part
could be read and the parts can be one report.

Exit codes as ``run``'s for the merged report: 0 all conform, 1 a discrepancy, 5 nothing was
compared; 2 a part that cannot be read, parts that cannot be one report, or a bad --out.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .format.errors import UsageError
from .reports.text import terminal_text
from .run_command import EXIT_DISCREPANCY, EXIT_NOTHING_COMPARED, EXIT_OK, reader_may_leave
from .verdicts.compare import DECIDED, ERROR, FAIL


def cmd_merge(args) -> int:
    from .reports.files import STATUSES, write_reports
    from .reports.merge import merge, read_parts
    from .running.outdir import RunLock, check_writable

    out = Path(args.out)
    for folder in args.folders:
        if Path(folder).resolve() == out.resolve():
            raise UsageError(f"--out {args.out}: is one of the parts; merge into another folder")
    parts = read_parts(args.folders)
    rows, record, warnings = merge(parts, args.out, versions=args.by_version)
    check_writable(args.out, "--out")
    with RunLock(out):
        written = write_reports(rows, record, out)
    for warning in warnings:
        print(terminal_text(f"warning: {warning}"), file=sys.stderr)
    shards = [e["shard"] for e in record["parts"] if e.get("shard")]
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    which = f" (shards {', '.join(shards)})" if shards else ""
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("pass", "fail"))
    with reader_may_leave():  # `merge … | head` keeps its exit code
        print(terminal_text(f"merged {len(parts)} report folders{which}: {len(record['runs'])} "
                            f"case runs, {len(rows)} comparisons against {record['reference']}: "
                            f"{summary}"))
        print("reports: " + ", ".join(str(p) for p in written))
    if any(r.status in (FAIL, ERROR) for r in rows):
        return EXIT_DISCREPANCY
    return EXIT_OK if any(r.status in DECIDED for r in rows) else EXIT_NOTHING_COMPARED


def register(subparsers) -> None:
    """The merge command (harness.cli imports this module when it is there)."""
    merge = subparsers.add_parser("merge", help="report folders (shards, machines) into one "
                                                "report, as one run of them all would write it")
    merge.add_argument("folders", nargs="+", metavar="DIR",
                       help="report folders written by `python -m harness run` (or merge)")
    merge.add_argument("--out", required=True, metavar="DIR",
                       help="the folder for the merged report.csv, report.md, run.json and "
                            "heatmap.svg")
    merge.add_argument("--by-version", action="store_true",
                       help="the parts ran other versions of the frameworks (an upgrade, the "
                            "oldest supported versions): a party whose version differs between "
                            "parts gets a column per version (jax==0.4.13 beside jax==0.10.2); "
                            "one at the same version in several parts is taken from the first")
    merge.set_defaults(handler=cmd_merge)
