"""pytest plugin: YAML cases as test items, one per (case, dtype, framework).

Registered through the ``pytest11`` entry point. Only YAML files under the configured case folders
(ini ``harness_cases``, default ``cases``; or ``--harness-cases``) are collected, so malformed
fixtures under tests/ never become cases.

The first item of a (case, dtype) runs the whole plan (every party once, compared, blamed:
harness.running.runner); the others take their rows from it. Each item's rows travel on its test report
(``user_properties``), so with pytest-xdist the workers' rows reach the controller, which writes
the one report at session end when ``--harness-out`` is given: the same rows as a serial run.
A session whose case items compared nothing exits 5, as pytest does when it collects nothing.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from . import plugin_known
from .adapters import known_parties
from .verdicts.compare import DECIDED, ERROR, FAIL, INCONCLUSIVE, SKIP, XFAIL, Row
from .reports.failure_table import failure_table
from .format.errors import CaseError, Problem, UsageError
from .format.case import PRECISIONS
from .format.loader import CASE_SUFFIXES, load_case
from .running.runner import CaseRun, frameworks_for
from .running.spec import PYTEST_OPTIONS, Run, Settings, begin, make_spec
from .running.variants import DEFAULT_COUNT as DEFAULT_VARIANTS
from .running.variants import make as make_variants
from .running.workers import DEFAULT_TIMEOUT

_STATE = pytest.StashKey["_State"]()
PAYLOAD = "harness"  # the user_properties key that carries an item's rows and run entry


def settings(config: pytest.Config) -> Settings:
    """The run's settings as pytest's options gave them (harness.running.spec checks them).
    Lanes are pytest-xdist's ``-n``; xdist workers write no report, the controller does."""
    option = config.getoption
    controller = not hasattr(config, "workerinput")
    return Settings(frameworks=option("harness_frameworks"), reference=option("harness_reference"),
                    impl=option("harness_impl") or (), precision=option("harness_precision"),
                    self_check=option("harness_self_check") or (),
                    variants=option("harness_variants"), isolation=option("harness_isolation"),
                    timeout=option("harness_timeout"),
                    out=option("harness_out") if controller else None,
                    limits=option("harness_limit") or (), shard=option("harness_shard"),
                    compile_cache=not option("harness_no_compile_cache"), repro=False)


class _State:
    def __init__(self, config: pytest.Config):
        option = config.getoption("harness_cases")
        if option:  # relative to where pytest was started, like any command-line path
            folders, base = option.split(","), config.invocation_params.dir
        else:  # relative to the ini file that names them
            folders = config.getini("harness_cases")
            base = config.inipath.parent if config.inipath else config.invocation_params.dir
        self.folders = [(base / f).resolve() for f in folders if f.strip()]
        try:
            self.spec = make_spec(settings(config), PYTEST_OPTIONS)
        except UsageError as error:
            raise pytest.UsageError(str(error)) from None
        self.names: dict[str, str] = {}  # case name -> file, for uniqueness across files
        self.plans: dict[tuple[str, str], CaseRun] = {}
        # every item's rows and run entry, by the item's place in the collection: under xdist
        # reports arrive in any order, and the report must be the serial run's
        self.items: dict[int, tuple[list[Row], dict]] = {}
        self.case_items = 0  # case items whose rows arrived
        self.collected = 0  # case items collected to run (an xdist worker's, or this process's)
        self.report_note = ""  # what became of --harness-out, for the terminal summary
        self.written: list[str] = []  # the report files of a complete session, for the summary
        # the paths named on the command line (not testpaths), and the YAML files under them
        # that are not cases
        invocation = config.invocation_params
        self.named = [(invocation.dir / arg.split("::")[0]).resolve()
                      for arg in invocation.args if not str(arg).startswith("-")
                      and (invocation.dir / arg.split("::")[0]).exists()]
        self.not_cases: list[Path] = []
        if not hasattr(config, "workerinput"):  # once per session; xdist workers inherit it
            warning = begin(self.spec)
            if warning:
                print(warning, file=sys.stderr)
        self.run = Run(self.spec)

    @property
    def reference(self) -> str:
        return self.spec.reference

    def close(self) -> None:
        self.run.close()

    def plan(self, case, dtype: str) -> CaseRun:
        """The (case, dtype) run every item of it shares: run at its first item."""
        key = (case.name, dtype)
        if key not in self.plans:
            self.plans[key] = self.run.case(case, dtype)
        return self.plans[key]

    def parties_of(self, case) -> list[str]:
        return frameworks_for(case, self.spec.parties, self.spec.reference,
                              uninstalled=not self.spec.chosen)

    def variants_of(self, case) -> list:
        """The seeded variants of a case an --harness-impl file runs
        (harness.running.variants), collected as cases of the same file."""
        if not self.spec.variants or not set(self.spec.implementations) & \
                set(self.parties_of(case)):
            return []
        return make_variants(case, self.spec.variants)

    def receive(self, payload: dict) -> None:
        """One item's rows and run entry, from this process or an xdist worker."""
        self.case_items += 1
        self.collected = max(self.collected, payload.get("collected", 0))
        self.items[payload["order"]] = ([Row(**row) for row in payload["rows"]], payload["entry"])

    @property
    def rows(self) -> list[Row]:
        return [row for order in sorted(self.items) for row in self.items[order][0]]

    @property
    def entries(self) -> list[dict]:
        """One run entry per (case, dtype), in collection order; notes of its items merged."""
        merged: dict[tuple[str, str], dict] = {}
        for order in sorted(self.items):
            entry = self.items[order][1]
            key = (entry["case"], entry["dtype"])
            if key in merged:  # the same run seen by several items
                for framework, notes in entry["notes"].items():
                    merged[key]["notes"].setdefault(framework, notes)
            else:
                merged[key] = {**entry, "notes": dict(entry["notes"])}
        return list(merged.values())

    def is_case_file(self, path: Path) -> bool:
        path = path.resolve()
        return path.suffix in CASE_SUFFIXES and any(path.is_relative_to(f) for f in self.folders)

    def passed_over(self, path: Path) -> bool:
        """A YAML file under a path the user named on the command line that is not a case
        (outside the case folders): said at the end, since a student who names their cases
        folder expects its cases to run."""
        path = path.resolve()
        return path.suffix in CASE_SUFFIXES and not self.is_case_file(path) and \
            any(path.is_relative_to(named) for named in self.named)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("harness_cases", "folders whose YAML files are conformance cases",
                  type="linelist", default=["cases"])
    group = parser.getgroup("harness", "gradient conformance harness")
    group.addoption("--harness-cases", dest="harness_cases", default=None,
                    help="comma-separated case folders (overrides the harness_cases ini value)")
    group.addoption("--harness-frameworks", dest="harness_frameworks", default=None,
                    help="comma-separated frameworks to compare (default: all)")
    group.addoption("--harness-impl", dest="harness_impl", action="append", default=None,
                    metavar="FILE.py", help="add your own backprop file as a framework (repeatable)")
    group.addoption("--harness-isolation", dest="harness_isolation", default="process",
                    help="process: run frameworks in worker processes that can be killed "
                         "(default); none: in this process")
    group.addoption("--harness-timeout", dest="harness_timeout", default=DEFAULT_TIMEOUT,
                    help="time limit per case, dtype and framework")
    group.addoption("--harness-out", dest="harness_out", default=None,
                    help="also write report.csv and report.md to this folder at the end")
    group.addoption("--harness-precision", dest="harness_precision", default=None,
                    help="float32 matmul precision for the cases that set none: "
                         f"{' or '.join(PRECISIONS)} (default: the frameworks' own)")
    group.addoption("--harness-self-check", dest="harness_self_check", action="append",
                    default=None, metavar="NAME",
                    help="also check this framework's gradients against finite differences of "
                         "its own loss (--harness-impl files always are; repeatable)")
    group.addoption("--harness-variants", dest="harness_variants", default=DEFAULT_VARIANTS,
                    metavar="N", help="run each case an --harness-impl file runs at N seeded "
                                      f"variants too (default {DEFAULT_VARIANTS}; 0: none)")
    group.addoption("--harness-limit", dest="harness_limit", action="append", default=None,
                    metavar="NAME=VALUE", help="raise (or lower) one limit on the sizes a case "
                                               "may ask for (repeatable)")
    group.addoption("--harness-no-compile-cache", dest="harness_no_compile_cache",
                    action="store_true", help="compile JAX's programs afresh (as "
                                              "HARNESS_COMPILE_CACHE=off)")
    group.addoption("--harness-shard", dest="harness_shard", metavar="K/N", help="only shard K of N (as run --shard)")
    group.addoption("--harness-reference", dest="harness_reference", default=None,
                    metavar="NAME", help="the base of comparison (default numpy): any framework "
                                         "or --harness-impl file")
    plugin_known.add_option(group)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "harness: a YAML conformance case (case, dtype, framework)")
    config.stash[_STATE] = _State(config)
    config.pluginmanager.register(_RowCollector(config.stash[_STATE]), "harness-rows")


def _given_dist(config: pytest.Config) -> bool:
    """Whether the user chose a pytest-xdist --dist mode (on the command line, in addopts or in
    PYTEST_ADDOPTS), rather than taking the default that -n implies."""
    given = list(config.invocation_params.args) + config.getini("addopts") + \
        os.environ.get("PYTEST_ADDOPTS", "").split()
    return any(arg == "-d" or arg.startswith("--dist") for arg in given)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under pytest-xdist, every item of a case goes to one worker, so the plan runs once per
    case and dtype: xdist's default, --dist load, hands a case's items to several workers, and
    each would run the whole plan again. Other tests are spread one by one, as --dist load does.
    A --dist the user gave is kept. (xdist's loadgroup would do it, but it renames node ids,
    which pytest 9 no longer allows.)"""
    if config.getvalue("dist") != "load" or _given_dist(config):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class CasesWhole(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.endswith(CASE_SUFFIXES) else nodeid

    return CasesWhole(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Number the case items in collection order, before any plugin reorders them (every xdist
    worker collects the same items in the same order): the report follows these numbers."""
    for number, item in enumerate(i for i in items if isinstance(i, CaseItem)):
        item.order = number


def pytest_collection_finish(session: pytest.Session) -> None:
    """How many case items are to run (after -k, -m and the like): a report written from fewer
    is partial."""
    state = session.config.stash[_STATE]
    state.collected = sum(isinstance(item, CaseItem) for item in session.items)


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    state = parent.config.stash[_STATE]
    if state.is_case_file(file_path):
        return CaseFile.from_parent(parent, path=file_path)
    if state.passed_over(file_path):
        state.not_cases.append(file_path)
    return None


class _RowCollector:
    """Collects each case item's rows as its report arrives: in a serial run from this process,
    under xdist in the controller from every worker (the payload is plain data, so it travels
    with the report). Registered per session, so it holds that session's state."""

    def __init__(self, state: "_State"):
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for key, payload in report.user_properties:
            if key == PAYLOAD:
                self.state.receive(payload)


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    config = session.config
    state = config.stash[_STATE]
    state.close()
    if hasattr(config, "workerinput"):  # xdist workers leave verdicts and reports to the controller
        return
    if state.case_items and not any(r.status in DECIDED for r in state.rows) \
            and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        state.nothing_compared = True
    out = config.getoption("harness_out")
    if not out:
        return
    if not state.case_items:  # collected only, stopped before any case, or no case chosen
        state.report_note = f"no case item ran: {out} is left as it was"
        return
    from .reports.record import make_record
    from .reports.files import write_reports

    spec = state.spec
    record = make_record(state.entries, reference=spec.reference,
                         frameworks=[spec.reference, *spec.parties], options=spec.options())
    # an existing report is only ever replaced by a complete one, as on the command line
    complete = state.case_items >= state.collected and \
        exitstatus != pytest.ExitCode.INTERRUPTED
    try:
        written = write_reports(state.rows, record, out, partial=not complete)
    except OSError as error:  # a full disk, a quota: said, not an internal error of pytest
        state.report_note = (f"cannot write the reports: {error.filename or out}: "
                             f"{error.strerror or error}; the previous report is kept as it was")
        session.exitstatus = max(int(session.exitstatus), int(pytest.ExitCode.TESTS_FAILED))
        return
    if not complete:
        state.report_note = (f"{state.case_items} of {state.collected} case items ran: wrote "
                             f"{', '.join(map(str, written))}; the previous complete report is "
                             "untouched")
    else:
        state.written = [str(path) for path in written]


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    state = config.stash[_STATE]
    if state.report_note:
        terminalreporter.write_line(f"harness: {state.report_note}", yellow=True)
    plugin_known.summary(terminalreporter, state.rows)  # each xpass: its file and line
    if state.written:  # where the report is: a failing item's details continue there
        terminalreporter.write_line("harness: reports written: " + ", ".join(state.written))
    if state.not_cases:
        folders = sorted({str(p.parent) for p in state.not_cases})
        terminalreporter.write_line(
            f"harness: {len(state.not_cases)} YAML file(s) under the paths you named are not in "
            f"the case folders ({', '.join(str(f) for f in state.folders)}) and were not run as "
            f"cases: {', '.join(folders[:3])}{' …' if len(folders) > 3 else ''}; to run them, "
            f"--harness-cases {','.join(folders)} (or the ini value harness_cases)", yellow=True)
    if getattr(state, "nothing_compared", False):
        reasons = sorted({f"{r.framework}: {r.message}" for r in state.rows if r.status == SKIP})
        terminalreporter.write_line(
            "harness: nothing was compared (exit code 5): " + ("; ".join(reasons[:5]) or
                                                               "no comparison was made"),
            red=True)


class CaseFile(pytest.File):
    def collect(self):
        state = self.config.stash[_STATE]
        case, problems = load_case(self.path, known_parties(), state.spec.limits)
        if case is not None and case.name in state.names and state.names[case.name] != str(self.path):
            problems.append(Problem(str(self.path), None, "name", f"case name {case.name!r} is "
                                    f"also used by {state.names[case.name]}; names must be unique"))
        if problems:
            raise CaseError(problems)
        state.names[case.name] = str(self.path)
        for one in [case, *state.variants_of(case)]:
            yield from self.items_of(one, state.parties_of(one))

    def items_of(self, case, parties: list[str]):
        for dtype in self.config.stash[_STATE].spec.dtypes(case):  # its shard's (--harness-shard)
            for framework in parties:
                item = CaseItem.from_parent(self, name=f"{case.name}[{dtype}-{framework}]",
                                            case=case, dtype=dtype, framework=framework)
                declared = plugin_known.declared(case, framework, dtype)
                if declared:  # a real pytest xfail: xfailed when it occurs, XPASS when it does not
                    item.add_marker(pytest.mark.xfail(reason="; ".join(declared), strict=False,
                                                      raises=KnownDiscrepancyOccurred))
                yield item

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseError):
            return f"invalid case file:\n{excinfo.value}"
        return super().repr_failure(excinfo, style)


class KnownDiscrepancyOccurred(Exception):
    """Only declared known discrepancies failed: the item is xfail."""


class ConformanceFailure(Exception):
    def __init__(self, rows: list[Row], everything: list[Row]):
        self.rows, self.everything = rows, everything
        super().__init__(f"{len(rows)} discrepancies")


class CaseItem(pytest.Item):
    def __init__(self, *, case, dtype: str, framework: str, **kwargs):
        super().__init__(**kwargs)
        self.case, self.dtype, self.framework = case, dtype, framework
        self.order = 0  # its place among the case items (pytest_collection_modifyitems)
        self.add_marker(pytest.mark.harness)

    def runtest(self) -> None:
        from .reports.record import run_entry

        state = self.config.stash[_STATE]
        run = state.plan(self.case, self.dtype)
        rows = [r for r in run.rows if r.framework == self.framework]
        self.user_properties.append((PAYLOAD, {"rows": [r.as_dict() for r in rows],
                                               "entry": run_entry(run), "order": self.order,
                                               "collected": state.collected}))
        bad = [r for r in rows if r.status in (FAIL, ERROR)]
        if bad:
            raise ConformanceFailure(bad, rows)
        plugin_known.strict(self.config, rows)  # an xpass fails under --harness-strict-known
        undecided = [r for r in rows if r.status in (SKIP, INCONCLUSIVE)]
        if undecided and len(undecided) == len(rows):
            pytest.skip(undecided[0].message)
        xfails = [r for r in rows if r.status == XFAIL]
        if xfails:
            raise KnownDiscrepancyOccurred(xfails[0].message)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ConformanceFailure):
            return failure_table(excinfo.value.rows, excinfo.value.everything)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.case.name} [{self.dtype}-{self.framework}]"
