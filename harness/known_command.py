"""``python -m harness known [PATHS…] [--report DIR]``: every known discrepancy the cases under
PATHS declare (file:line, party, scope, reason, link, version range) with its status in the last
report (DIR's run.json, written by ``run`` or by pytest's ``--harness-out``): occurred (xfail),
fixed (xpass: fixed upstream, remove the declaration), not applied (the installed version was
outside its range), inconclusive, or not run (its party did not run, or the report has no run
of its case and dtype).

Exit 0 after listing; 2 for a malformed case, a missing path or a report folder whose run.json
cannot be read.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .adapters import known_parties
from .format.loader import load_cases
from .reports.readback import RECORD_FILE, read_record
from .reports.text import terminal_text
from .run_command import DEFAULT_CASES, EXIT_OK
from .verdicts import known_discrepancies
from .verdicts.known_discrepancies import FIXED, NOT_APPLIED, NOT_RUN, OCCURRED, UNDECIDED, scope

DEFAULT_REPORT = "results"
# the order a declaration's statuses are told in, and the one it is counted under: what asks
# for action first
ORDER = (FIXED, OCCURRED, NOT_APPLIED, UNDECIDED, NOT_RUN)
LABEL = {OCCURRED: "occurred (xfail)", FIXED: "fixed (xpass): fixed upstream, remove this "
         "declaration", NOT_APPLIED: "not applied (outside its version range)",
         UNDECIDED: "inconclusive", NOT_RUN: "not run"}


def register(subparsers) -> None:
    known = subparsers.add_parser(
        "known", help="list every declared known discrepancy with its status in the last report")
    known.add_argument("paths", nargs="*", help=f"case files or folders (default: {DEFAULT_CASES}/)")
    known.add_argument("--report", default=DEFAULT_REPORT, metavar="DIR",
                       help=f"the report folder whose run.json says what happened (default: "
                            f"{DEFAULT_REPORT}/)")
    known.set_defaults(handler=cmd_known)


def _statuses(record: dict) -> dict[tuple, list[tuple[str, str, str, str]]]:
    """(case, line, reason) -> [(dtype, party, status, detail)] from run.json's runs."""
    found: dict[tuple, list] = {}
    for entry in record.get("runs", []):
        for d in entry.get("declarations", []) if isinstance(entry, dict) else []:
            if isinstance(d, dict) and d.get("status") in ORDER:
                key = (entry.get("case"), d.get("line"), d.get("reason"))
                found.setdefault(key, []).append((str(entry.get("dtype", "")),
                                                  str(d.get("party", "")), d["status"],
                                                  str(d.get("detail") or "")))
    return found


def _told(seen: list[tuple[str, str, str, str]]) -> tuple[str, str, list[str]]:
    """(the status it is counted under, the status in words, details worth a line)."""
    if not seen:
        return NOT_RUN, "not run (no run of its case in the report)", []
    by_status: dict[str, list[str]] = {}
    details: list[str] = []
    for dtype, party, status, detail in seen:
        by_status.setdefault(status, []).append(f"{dtype}-{party}")
        if detail and status in (NOT_APPLIED, NOT_RUN) and detail not in details:
            details.append(detail)
    statuses = [s for s in ORDER if s in by_status]
    if len(statuses) == 1:
        return statuses[0], LABEL[statuses[0]], details
    return statuses[0], "; ".join(f"{LABEL[s]}: {', '.join(by_status[s])}" for s in statuses), \
        details


def cmd_known(args: argparse.Namespace) -> int:
    cases = load_cases(args.paths or [DEFAULT_CASES], known_parties())  # CaseError: exit 2
    record_path = Path(args.report) / RECORD_FILE
    if record_path.exists() or record_path.is_symlink():
        record = read_record(record_path)  # UsageError naming the fault: exit 2
        source = f"{record_path} ({record.get('generated') or 'undated'})"
    else:
        record = {}
        source = f"none: no {record_path}, so every status is 'not run'"
    statuses = _statuses(record)
    counts = dict.fromkeys(ORDER, 0)
    files = set()
    lines = []
    for case in sorted(cases, key=lambda c: (c.file, c.name)):
        for k in case.known_discrepancies:
            files.add(case.file)
            counted, said, details = _told(statuses.get((case.name, k.line, k.reason), []))
            counts[counted] += 1
            where = f"{case.file}:{k.line}" if k.line else case.file
            lines.append(f"{where}: {k.party}, {scope(k)}: {said}")
            lines.append(f"    reason: {k.reason}")
            if k.link:
                lines.append(f"    link: {k.link}")
            if k.versions is not None:
                package = k.versions.package or k.framework
                now = known_discrepancies.installed(package)
                lines.append(f"    versions: {k.versions} (installed here: "
                             f"{package} {now or 'not installed'})")
            lines += [f"    {detail}" for detail in details]
    total = sum(counts.values())
    for line in lines:
        print(terminal_text(line))
    print(terminal_text(f"{total} declaration{'s' if total != 1 else ''} in {len(files)} "
                        f"file{'s' if len(files) != 1 else ''}: " +
                        ", ".join(f"{n} {s}" for s, n in counts.items()) +
                        f"; report: {source}"))
    sys.stdout.flush()
    return EXIT_OK
