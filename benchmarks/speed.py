"""Speed and memory, per phase, on generated cases and on the shipped suite.

Run by hand from the repository root (nothing here is part of the test suite):

    python benchmarks/speed.py                      # 1,000 generated cases, --jobs 1 and 2
    python benchmarks/speed.py --count 200 --jobs 2
    python benchmarks/speed.py --shipped --pytest   # also the shipped suite, and pytest -n 0 / 2
    python benchmarks/speed.py --root OLD_CHECKOUT  # the same end-to-end figures for another
                                                    # checkout (before/after a change)
    python benchmarks/speed.py --cache warm         # with JAX's programs kept by a first run

Every timed run gets a compilation cache of its own (harness.adapters.compile_cache), never the user's:
`--cache cold` (the default) an empty one, so nothing compiled before is reused; `--cache warm`
one filled by a run of the same cases first (timed and printed too: the cold figure), as a
second run on a user's machine.

For each --jobs value it prints two tables:

- end to end: `python -m harness run` in a fresh process (what a user waits for), with the
  machine's mean number of busy cores while it ran (from /proc/stat: run on an idle machine; a
  serial run already busy on 1.3 cores can gain at most 2 / 1.3 from a second lane), the peak
  memory of the whole process tree (the sum of every process's proportional set size, shared
  pages divided among their sharers, sampled every 0.1 s; before 2026-11-28 the sum of resident
  sets, which counts a shared page once per process), and report.csv's digest (the same
  digest for every --jobs value: the report does not depend on the scheduling; micrograd's
  last bits aside, see docs/frameworks.md);
- per phase, in this process through the same functions: import (a fresh process importing
  every framework, once per worker started), compile (JAX's compilation of the training steps),
  frameworks (every other second spent in the parties' jobs, in the workers), compare (the
  comparisons and consensus, in the lanes' threads), report (writing report.csv, report.md,
  heatmap.svg and run.json). Phase seconds are summed over lanes, so with 2 lanes they can add
  up to more than the wall time.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import casegen  # noqa: E402

FRAMEWORKS = "numpy,torch,jax,micrograd"
IMPORT_ALL = ("import numpy, torch, micrograd.engine, jax, jax.numpy as jnp, optax; "
              "jnp.zeros(1).block_until_ready()")


# -- measuring ----------------------------------------------------------------------------------
def _pss(pid: int) -> int:
    """Proportional set size: resident bytes with each shared page divided among the processes
    that share it (forked workers share the fork server's imported torch and JAX)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree_memory(root: int) -> int:
    """Memory of a process and all its descendants (Linux /proc): the sum of their proportional
    set sizes, so pages forked processes share are counted once, not once per process."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _pss(pid)
        stack += children.get(pid, [])
    return total


def _busy_jiffies() -> tuple[int, int]:
    """(busy, all) CPU time of the whole machine from /proc/stat, in clock ticks."""
    with open("/proc/stat") as handle:
        ticks = [int(v) for v in handle.readline().split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # less idle and iowait


def timed_command(args: list[str], cwd: Path) -> tuple[float, int, int, str, float]:
    """(wall seconds, peak tree memory in bytes, exit code, stderr tail, cores busy) of a
    command; cores busy: the machine's mean number of busy cores while it ran (the machine is
    assumed otherwise idle: its processes' CPU time, orphaned workers included)."""
    busy_before, all_before = _busy_jiffies()
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_memory(process.pid))
            done.wait(0.1)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = process.communicate()
    done.set()
    sampler.join()
    busy_after, all_after = _busy_jiffies()
    cores = (os.cpu_count() or 1) * (busy_after - busy_before) / max(all_after - all_before, 1)
    return time.perf_counter() - start, peak, process.returncode, err[-500:], cores


def digest(path: Path, skip_framework: str | None = None) -> str:
    """sha256 of report.csv, without one framework's rows when asked."""
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row[3:4] != [skip_framework]]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:12]


def import_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORT_ALL], check=True, capture_output=True)
    return time.perf_counter() - start


def phases(folder: Path, jobs: int, frameworks: list[str]) -> dict[str, float]:
    """Seconds per phase for one run through the same functions the command line uses."""
    from harness.adapters import known_parties
    from harness.format.loader import load_cases
    from harness.reports.record import make_record, run_entry
    from harness.reports.files import write_reports
    from harness.running.spec import Run, Settings, make_spec

    cases = load_cases([str(folder)], known_parties())
    spec = make_spec(Settings(frameworks=",".join(frameworks)))
    run = Run(spec, min(jobs, len(cases)))
    start = time.perf_counter()
    try:
        runs = run.cases(cases)
    finally:
        run.close()
    ran = time.perf_counter() - start
    began = time.perf_counter()
    rows = [row for run in runs for row in run.rows]
    record = make_record([run_entry(run) for run in runs], reference="numpy",
                         frameworks=frameworks, options={})
    with tempfile.TemporaryDirectory() as out:
        write_reports(rows, record, out)
    report = time.perf_counter() - began
    total = {"compile": 0.0, "jobs": 0.0, "compare": 0.0}
    for run in runs:
        for key in total:
            total[key] += run.timings.get(key, 0.0)
    workers = sum(pool.started for pool in run.pools if pool is not None)
    return {"import": import_seconds() * workers, "compile": total["compile"],
            "frameworks": total["jobs"] - total["compile"], "compare": total["compare"],
            "report": report, "wall (run + report)": ran + report, "case-dtype runs": len(runs),
            "workers started": workers}


# -- the command --------------------------------------------------------------------------------
def fresh_cache(warm_with=None) -> tempfile.TemporaryDirectory:
    """A compilation cache folder for the timed runs (the harness's own environment variable:
    the workers inherit it), filled first by ``warm_with()`` when given."""
    folder = tempfile.TemporaryDirectory(prefix="speed-cache-")
    os.environ["HARNESS_COMPILE_CACHE"] = folder.name
    if warm_with is not None:
        warm_with()
    return folder


def end_to_end(root: Path, folder: Path, jobs: int | None, frameworks: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "harness", "run", str(folder), "-q", "--out", out,
                   "--frameworks", frameworks]
        if jobs is not None:
            command += ["--jobs", str(jobs)]
        help_text = subprocess.run([sys.executable, "-m", "harness", "run", "--help"], cwd=root,
                                   capture_output=True, text=True).stdout
        if "--no-repro" in help_text:
            command.append("--no-repro")
        if jobs is not None and "--jobs" not in help_text:  # an older checkout: as it runs
            command = command[:command.index("--jobs")] + command[command.index("--jobs") + 2:]
        wall, peak, code, err, cores = timed_command(command, root)
        report = Path(out) / "report.csv"
        return {"wall s": f"{wall:.1f}", "cores busy": f"{cores:.2f}",
                "peak memory": f"{peak / 2**30:.2f} GiB", "exit": code,
                "report.csv": digest(report) if report.exists() else err,
                "report.csv without micrograd": digest(report, "micrograd")
                if report.exists() else ""}


def pytest_seconds(root: Path, workers: int) -> tuple[float, int, str, float]:
    command = [sys.executable, "-m", "pytest", "cases", "-q", "-p", "no:randomly",
               "-n", str(workers)]
    wall, peak, code, _, cores = timed_command(command, root)
    return wall, peak, str(code), cores


def table(title: str, rows: dict) -> None:
    print(f"\n{title}\n\n| what | value |\n|---|---|")
    for key, value in rows.items():
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"| {key} | {shown} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--frameworks", default=FRAMEWORKS)
    parser.add_argument("--shipped", action="store_true", help="also the shipped cases")
    parser.add_argument("--pytest", action="store_true", help="also pytest cases -n 0 and -n 2")
    parser.add_argument("--no-phases", action="store_true", help="end-to-end figures only (the "
                        "phases are measured on the generated cases only)")
    parser.add_argument("--cache", choices=("cold", "warm"), default="cold",
                        help="time with an empty compilation cache (default), or one filled by "
                             "an untimed run of the same cases")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout whose `python -m harness` is timed (default: this one)")
    args = parser.parse_args()
    root = args.root.resolve()
    frameworks = args.frameworks.split(",")
    print(f"machine: {os.cpu_count()} cores; checkout {root}; frameworks {args.frameworks}; "
          f"compilation cache {args.cache}")
    os.environ.pop("HARNESS_JOBS", None)  # --jobs is given for every timed run
    with tempfile.TemporaryDirectory() as generated:
        casegen.write(casegen.generate(args.count, args.seed), generated)
        folders = [(f"{args.count} generated cases (seed {args.seed})", Path(generated))]
        if args.shipped:
            folders.append(("the shipped cases", root / "cases"))
        for label, folder in folders:
            for jobs in args.jobs:
                def fill(folder=folder, jobs=jobs, label=label):  # timed too: the cold run
                    table(f"{label}, --jobs {jobs}, filling the empty cache: `python -m "
                          "harness run`", end_to_end(root, folder, jobs, args.frameworks))
                with fresh_cache(fill if args.cache == "warm" else None):
                    table(f"{label}, --jobs {jobs}, compilation cache {args.cache}: "
                          "`python -m harness run`",
                          end_to_end(root, folder, jobs, args.frameworks))
                if not args.no_phases and root == ROOT and folder != root / "cases":
                    with fresh_cache(fill if args.cache == "warm" else None):
                        table(f"{label}, --jobs {jobs}: per phase (seconds summed over lanes)",
                              phases(folder, jobs, frameworks))
    if args.pytest:
        def pytest_table(workers: int, cache: str) -> None:
            wall, peak, code, cores = pytest_seconds(root, workers)
            table(f"`python -m pytest cases -n {workers}`, compilation cache {cache}",
                  {"wall s": f"{wall:.1f}", "cores busy": f"{cores:.2f}",
                   "peak memory": f"{peak / 2**30:.2f} GiB", "exit": code})
        for workers in (0, 2):
            with fresh_cache((lambda: pytest_table(workers, "cold (filling it)"))
                             if args.cache == "warm" else None):
                pytest_table(workers, args.cache)


if __name__ == "__main__":
    main()
