"""``python -m harness fuzz``: generated cases (harness.tools.casegen) through the run's parties,
each failing case shrunk (harness.tools.shrink) and written as a case file and a repro folder,
and a summary of what was found.

Everything goes into the report folder ``OUT``: the generated cases (``cases/``), the usual
reports of a run over all of them (report.csv, report.md, run.json, heatmap.svg), each shrunk
case (``shrunk/<case>-shrunk.yaml``) and its repro folder (``repro/``), and ``fuzz.md``.

Resumable: the cases are judged in parts of :data:`PART_CASES`; each part's rows and record are
written to ``fuzz-parts/`` and then the progress record, ``fuzz-progress.json``, names the part,
each file written whole (harness.reports.files.write_atomically). Ctrl-C keeps the cases that
were whole; a killed process loses at most the part it was in. Run again with the same
arguments, the cases judged already are not run again, nor the failures shrunk already. The
record keeps what must not change in between (the seed, the shard, the generator's options, the
parties, the digest of each --impl file, the harness's version): a rerun with others is refused
unless asked to start over. ``--count`` may grow: case i of a seed is the same whatever the count.

``--shard K/N`` is parsed as ``run --shard`` is (harness.running.shards), and keeps the cases
whose index i has i mod N = K − 1, all dtypes of a case together (a failing case is shrunk
whole). Not run's hash of the name: case i of a seed depends on the seed and i alone, so the
index is as stable a key when the count grows, and it splits the cases exactly evenly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from .. import __version__
from ..adapters import known_parties
from ..format.errors import UsageError
from ..format.loader import load_cases
from ..reports.files import write_atomically, write_reports
from ..reports.findings import findings, headline
from ..reports.markdown import STATUSES
from ..reports.record import make_record
from ..reports.text import md_code, md_text
from ..reports.repro import write_all as write_repro
from ..running.outdir import RunLock
from ..running import shards
from ..running.runner import run_case
from ..running.spec import Run, RunSpec, begin, lane_count
from ..verdicts.compare import DECIDED, ERROR, FAIL, SKIP, Row
from . import casegen
from .fuzz_progress import PROGRESS_FILE, Found, Progress, digest
from .shrink import Shrinker, first_failure, signature
from .shrink import yaml_text as shrunk_yaml

CASES_FOLDER, SHRUNK_FOLDER, SUMMARY_FILE = "cases", "shrunk", "fuzz.md"
PART_CASES = 50  # cases judged between two progress records
MAX_COUNT = 1_000_000
# what a worker's whole-run error says when it was killed or died (harness.running.workers)
WORKER_LOST = ("timed out after", "died")


class Interrupted(Exception):
    """Ctrl-C: what was whole is kept; the message says how to go on."""


def parse_shard(text: str, option: str = "--shard") -> tuple[int, int]:
    """``K/N``, whole numbers with 1 ≤ K ≤ N: ``run --shard``'s parser (harness.running.shards),
    as (K, N)."""
    shard = shards.parse(text, option)
    return shard.index, shard.count


def in_shard(index: int, shard: tuple[int, int]) -> bool:
    """Case ``index`` belongs to shard K/N when index mod N = K − 1."""
    return index % shard[1] == shard[0] - 1


@dataclass(frozen=True)
class Plan:
    """A fuzz run as the command line asked for it (the parties are the RunSpec's)."""

    count: int
    seed: int = 0
    shard: tuple[int, int] = (1, 1)
    options: casegen.Options = casegen.Options()
    impl_files: tuple[str, ...] = ()
    shrink_attempts: int = 100
    shrink_seconds: float = 60.0
    max_shrinks: int | None = None  # None: every failing case
    restart: bool = False

    def fingerprint(self, spec: RunSpec) -> dict:
        """What a rerun must share with the run it goes on with."""
        return {"harness": __version__, "seed": self.seed, "shard": "/".join(map(str, self.shard)),
                "generator": self.options.described(), "parties": list(spec.parties),
                "reference": spec.reference,
                "impl": {Path(f).name: digest(Path(f).read_bytes()) for f in self.impl_files}}


@dataclass
class Summary:
    plan: Plan
    out: Path
    parties: list[str]
    reference: str
    cases: int  # in this shard
    judged_before: int  # by an earlier, interrupted run
    seconds: float  # this run's
    seconds_total: float  # every run's on this folder
    statuses: dict[str, int]  # rows per status
    conform: int
    skipped: int  # cases no party compared
    party_skips: dict[str, int]  # cases each party skipped whole (an --impl file's supports())
    found: list[Found]
    reports: list[Path]
    command: str  # the command line of this run: run it again to go on

    @property
    def compared(self) -> bool:
        return any(self.statuses.get(s) for s in DECIDED)


def run(plan: Plan, spec: RunSpec, progress: Callable | None = None,
        say: Callable[[str], None] = lambda line: None,
        warn: Callable[[str], None] | None = None) -> Summary:
    """Generate, judge (resuming), shrink each failure, write the reports and fuzz.md.
    ``progress`` hears of each (case, dtype) as it starts, ``say`` of each shrink, ``warn`` of
    what went wrong on the way (an unreadable part, a repro folder not written)."""
    if not 0 <= plan.count <= MAX_COUNT:
        raise UsageError(f"--count {plan.count}: expected a whole number from 0 to {MAX_COUNT:,}")
    out = Path(spec.out)
    with RunLock(out):
        return _fuzz(plan, spec, out, progress, say, warn or say)


def _fuzz(plan: Plan, spec: RunSpec, out: Path, progress, say, warn) -> Summary:
    start = time.monotonic()
    drawn = zip(range(plan.count), casegen.stream(plan.seed, plan.options))
    generated = [case for i, case in drawn if in_shard(i, plan.shard)]  # kept as drawn
    record = Progress(out, plan.fingerprint(spec), plan.restart)
    paths = casegen.write(generated, out / CASES_FOLDER)
    problems: list = []
    cases = load_cases(paths, known_parties(), on_problems=problems.extend, limits=spec.limits)
    if problems:
        raise UsageError("a generated case is refused (narrow the generator's options, or "
                         f"raise the limit):\n{problems[0]}")
    digests = {c["name"]: digest(casegen.yaml_text(c).encode()) for c in generated}
    judged = record.load_parts(digests, warn)
    before = len(judged)
    todo = [case for case in cases if case.name not in judged]
    warning = begin(spec) if todo else None
    if warning:
        warn(warning)
    try:
        _judge(todo, spec, record, digests, judged, progress, before, len(cases))
        order = {case.name: i for i, case in enumerate(cases)}
        for name in sorted(judged, key=order.get):
            rows = judged[name][0]
            if name not in record.found and first_failure(rows) is not None:
                record.found[name] = _found(rows)
        _shrink_all(plan, spec, out, cases, record, say, warn)
    except KeyboardInterrupt:
        shrunk = sum(1 for f in record.found.values() if f.tried)
        raise Interrupted(f"interrupted while shrinking: every case judged, {shrunk} of "
                          f"{len(record.found)} failing cases shrunk, kept in "
                          f"{record.path}") from None
    finally:
        record.save()
    return _finish(plan, spec, out, cases, judged, record, before, time.monotonic() - start)


def _judge(todo, spec, record, digests, judged, progress, before, total) -> None:
    """The cases not judged yet, a part at a time over the run's lanes."""
    if not todo:
        return
    lanes = lane_count(spec.jobs, len(todo)) if spec.isolation == "process" else 1
    runner = Run(spec, lanes)
    dtypes = sum(len(case.dtypes) for case in todo)
    done = [0]

    def told(number, _total, case, dtype):  # numbered over every part
        if progress:
            progress(done[0] + number, dtypes, case, dtype)
    try:
        for first in range(0, len(todo), PART_CASES):
            part, finished = todo[first:first + PART_CASES], []
            try:
                runner.cases(part, progress=told, finished=finished)
            except KeyboardInterrupt:
                judged.update(record.add_part(finished, digests))
                raise Interrupted(f"interrupted: {len(judged)} of {total} cases judged "
                                  f"({len(judged) - before} this time), kept in "
                                  f"{record.path}") from None
            judged.update(record.add_part(finished, digests))
            done[0] += sum(len(case.dtypes) for case in part)
    finally:
        runner.close()


def _found(rows: list[Row]) -> Found:
    row, sig = first_failure(rows), signature(rows)
    where = f"{row.framework}: {row.status}: {row.message[:160]}" if row.step is None else \
        f"step {row.step} {row.quantity} {row.tensor} of {row.framework} against {row.reference}"
    return Found(case=row.case, file=row.file, dtype=row.dtype, suspect=sig.suspect,
                 quantity=sig.quantity, where=where,
                 crashed=row.step is None and any(w in row.message for w in WORKER_LOST))


def _shrink_all(plan, spec, out, cases, record, say, warn) -> None:
    """Each failing case not shrunk yet, in the cases' order; the record saved after each."""
    by_name = {case.name: case for case in cases}
    tried = sum(1 for f in record.found.values() if f.tried)
    for name, found in record.found.items():
        if found.tried or name not in by_name:
            continue
        if plan.max_shrinks is not None and tried >= plan.max_shrinks:
            found.note = f"not shrunk: --max-shrinks {plan.max_shrinks} reached"
            continue
        if found.crashed:  # in this process, a crash or a hang would take the fuzz run with it
            found.note = ("not shrunk: a worker crashed or timed out on it, and shrinking runs "
                          "in this process, without a time limit; run its case file alone")
        else:
            say(f"shrinking {name} ({found.signature}) …")
            _shrink(plan, spec, out, by_name[name], found, warn)
        found.tried, tried = True, tried + 1  # after: an interrupted shrink is tried again
        record.save()


def _shrink(plan: Plan, spec: RunSpec, out: Path, case, found: Found, warn) -> None:
    parties = list(spec.parties)
    outcome = Shrinker(case, parties, spec.reference, max_attempts=plan.shrink_attempts,
                       time_limit=plan.shrink_seconds).shrink()
    found.note = ""
    if outcome is None:
        found.note = ("not shrunk: it passes when run again in this process (a failure of a "
                      "worker alone, or one that comes and goes); its rows are in report.csv")
        return
    path = out / SHRUNK_FOLDER / f"{case.name}-shrunk.yaml"
    write_atomically({path: shrunk_yaml(outcome, parties, plan.impl_files)})
    found.shrunk, found.changes = str(path.relative_to(out)), outcome.changes()
    found.note = f"shrinking stopped early: {outcome.stopped}" if outcome.stopped else ""
    small = replace(outcome.case, name=f"{case.name}-shrunk", file=str(path))
    again = run_case(small, small.dtype, parties, reference=spec.reference)
    told = findings(again.rows)  # the suspect's own, where it has one
    told = [f for f in told if f.framework == found.suspect] or told
    found.verdict = headline(told[0]) if told else ""
    found.repro = write_repro([again], out, warn=warn)


def _finish(plan, spec, out, cases, judged, record, before, seconds) -> Summary:
    rows: list[Row] = []
    entries: list[dict] = []
    for case in cases:
        case_rows, case_entries = judged[case.name]
        rows += case_rows
        entries += case_entries
    options = {**spec.options(), "jobs": lane_count(spec.jobs, len(cases)), "fuzz": {"count": plan.count, "seed": plan.seed,
                                          "shard": "/".join(map(str, plan.shard)),
                                          "generator": plan.options.described()}}
    report = make_record(entries, reference=spec.reference,
                         frameworks=[spec.reference, *spec.parties], options=options)
    found = [record.found[c.name] for c in cases if c.name in record.found]
    repro = [entry for f in found for entry in f.repro]
    if repro:
        report["repro"] = repro
    written = write_reports(rows, report, out)
    party_skips: dict[str, int] = {}
    conform = skipped = 0
    for case in cases:
        case_rows = judged[case.name][0]
        for party in dict.fromkeys(r.framework for r in case_rows):
            if all(r.status == SKIP for r in case_rows if r.framework == party):
                party_skips[party] = party_skips.get(party, 0) + 1
        if all(r.status == SKIP for r in case_rows):
            skipped += 1
        elif not any(r.status in (FAIL, ERROR) for r in case_rows):
            conform += 1
    summary = Summary(plan, out, list(spec.parties), spec.reference, len(cases), before,
                      seconds, record.elapsed(), {s: sum(r.status == s for r in rows)
                                                for s in STATUSES},
                      conform, skipped, party_skips, found, written, command(plan, spec))
    path = out / SUMMARY_FILE
    write_atomically({path: markdown(summary)})
    summary.reports.append(path)
    return summary


def command(plan: Plan, spec: RunSpec) -> str:
    """The command line of a fuzz run (run it again to go on after an interruption)."""
    words = ["python -m harness fuzz", f"--count {plan.count}", f"--seed {plan.seed}"]
    if plan.shard != (1, 1):
        words.append(f"--shard {plan.shard[0]}/{plan.shard[1]}")
    if spec.chosen:
        named = [p for p in spec.parties if p not in spec.implementations]
        words.append(f"--frameworks {','.join(named)}")
    words += [f"--impl {f}" for f in plan.impl_files] + plan.options.flags()
    return " ".join(words + [f"--out {spec.out}"])


def _signatures(found: list[Found]) -> list[tuple[str, int]]:
    """Each signature and how many failing cases have it, commonest first."""
    counts: dict[str, int] = {}
    for f in found:
        counts[f.signature] = counts.get(f.signature, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])


def summary_lines(summary: Summary, shown: int | None = None) -> list[str]:
    """What was found, for the terminal: the counts, then each failing case (the first
    ``shown`` of them; None: all) with its suspect, shrunk case and repro folder."""
    plan, out = summary.plan, summary.out
    parties = ", ".join(dict.fromkeys([summary.reference, *summary.parties]))
    shard = f", shard {plan.shard[0]}/{plan.shard[1]}" if plan.shard != (1, 1) else ""
    again = f" ({summary.judged_before} judged by an earlier run)" if summary.judged_before else ""
    counts = ", ".join(f"{n} {s}" for s, n in summary.statuses.items() if n) or "none"
    lines = [f"{summary.cases} generated cases (seed {plan.seed}{shard}) through {parties}"
             f"{again}: {len(summary.found)} failing, {summary.conform} conform, "
             f"{summary.skipped} not compared ({summary.seconds:.1f} s; "
             f"{summary.seconds_total:.1f} s in all)", f"comparisons: {counts}"]
    for party, n in summary.party_skips.items():
        if n and party in summary.parties:
            lines.append(f"{party} skipped {n} of {summary.cases} cases (it cannot run them: "
                         "see report.csv); narrow the generator (--activations, --losses, "
                         "--optimizers, --settings default) to the cases it runs")
    lines += [f"{n} failing case{'s' if n > 1 else ''}: {sig}"
              for sig, n in _signatures(summary.found)]
    for f in summary.found[:shown]:
        lines.append(f"  {f.case} [{f.dtype}]: {f.signature} (first failing: {f.where})")
        if f.shrunk:
            lines.append(f"    shrunk: {out / f.shrunk} "
                         f"({'; '.join(f.changes) or 'already minimal'})")
        lines += [f"    {f.verdict}"] if f.verdict else []
        lines += [f"    repro: {out / entry['folder']}" for entry in f.repro]
        lines += [f"    {f.note}"] if f.note else []
    if shown is not None and len(summary.found) > shown:
        lines.append(f"  … and {len(summary.found) - shown} more failing cases in "
                     f"{out / SUMMARY_FILE}")
    return lines


def markdown(summary: Summary) -> str:
    """fuzz.md: the command, the counts, then each failing case (paths relative to OUT)."""
    verdict = f"FINDINGS ({len(summary.found)} failing cases)" if summary.found else \
        "nothing found" if summary.compared else "NOTHING COMPARED"
    head = summary_lines(summary, shown=0)
    lines = [f"# Fuzz: **{verdict}**", "", f"{md_code(summary.command)} (harness {__version__})",
             "", *[f"- {md_text(line)}" for line in head if not line.startswith("  ")], ""]
    if summary.found:
        lines += ["## Failing cases", "", "| case | dtype | suspect, quantity | first failing "
                  "| shrunk case | repro |", "|---|---|---|---|---|---|"]
        for f in summary.found:
            shrunk = f"[{f.shrunk}]({f.shrunk}) ({'; '.join(f.changes) or 'already minimal'})" \
                if f.shrunk else md_text(f.note)
            repro = "<br>".join(f"[{e['folder']}]({e['folder']})" for e in f.repro)
            lines.append(f"| {md_text(f.case)} | {f.dtype} | {md_text(f.signature)} | "
                         f"{md_text(f.where)} | {shrunk} | {repro} |")
        lines.append("")
        verdicts = [f for f in summary.found if f.verdict]
        if verdicts:
            lines += ["The verdict on each shrunk case:", ""] + \
                [f"- {md_text(f.verdict)}" for f in verdicts] + [""]
    lines += [f"Every comparison: [report.md](report.md); the generated cases: "
              f"`{CASES_FOLDER}/`.", ""]
    return "\n".join(lines)
