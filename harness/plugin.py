"""pytest plugin: YAML cases as test items, one per (case, dtype, framework).

Registered through the ``pytest11`` entry point. Only YAML files under the configured case folders
(ini ``harness_cases``, default ``cases``; or ``--harness-cases``) are collected, so malformed
fixtures under tests/ never become cases. Reports are written once, at session end, by the main
process only, when ``--harness-out`` is given.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from .adapters import REFERENCE, adapter_names
from .adapters.user_impl import register_implementations
from .compare import ERROR, FAIL, INCONCLUSIVE, SKIP, XFAIL, Row
from .diagnose import hints
from .errors import CaseError, Problem, UsageError
from .loader import CASE_SUFFIXES, load_case
from .runner import CaseRun, frameworks_for, run_case
from .workers import DEFAULT_TIMEOUT

_STATE = pytest.StashKey["_State"]()
MAX_TABLE_ROWS = 8


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
            impls = register_implementations(config.getoption("harness_impl") or [])
        except UsageError as error:
            raise pytest.UsageError(str(error)) from None
        frameworks = config.getoption("harness_frameworks")
        self.frameworks = frameworks.split(",") if frameworks else adapter_names()
        self.frameworks += [name for name in impls if name not in self.frameworks]
        self.names: dict[str, str] = {}  # case name -> file, for uniqueness across files
        self.runs: list[CaseRun] = []
        self.isolation = config.getoption("harness_isolation")
        self.timeout = config.getoption("harness_timeout")
        self._pool = None

    def pool(self):
        """Worker processes, started at the first item that needs one."""
        if self.isolation != "process":
            return None
        if self._pool is None:
            from .workers import WorkerPool

            self._pool = WorkerPool(self.timeout)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def is_case_file(self, path: Path) -> bool:
        path = path.resolve()
        return path.suffix in CASE_SUFFIXES and any(path.is_relative_to(f) for f in self.folders)


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
                    choices=("process", "none"),
                    help="run frameworks in worker processes that can be killed (default)")
    group.addoption("--harness-timeout", dest="harness_timeout", type=float,
                    default=DEFAULT_TIMEOUT, help="time limit per case, dtype and framework")
    group.addoption("--harness-out", dest="harness_out", default=None,
                    help="also write report.csv and report.md to this folder at the end")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "harness: a YAML conformance case (case, dtype, framework)")
    config.stash[_STATE] = _State(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if parent.config.stash[_STATE].is_case_file(file_path):
        return CaseFile.from_parent(parent, path=file_path)
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    config.stash[_STATE].close()
    out = config.getoption("harness_out")
    if not out or hasattr(config, "workerinput"):  # xdist workers leave reports to the main process
        return
    from .report import write_reports

    write_reports(config.stash[_STATE].runs, out)


class CaseFile(pytest.File):
    def collect(self):
        state = self.config.stash[_STATE]
        case, problems = load_case(self.path, adapter_names())
        if case is not None and case.name in state.names and state.names[case.name] != str(self.path):
            problems.append(Problem(str(self.path), None, "name", f"case name {case.name!r} is "
                                    f"also used by {state.names[case.name]}; names must be unique"))
        if problems:
            raise CaseError(problems)
        state.names[case.name] = str(self.path)
        for dtype in case.dtypes:
            for framework in frameworks_for(case, state.frameworks):
                item = CaseItem.from_parent(self, name=f"{case.name}[{dtype}-{framework}]",
                                            case=case, dtype=dtype, framework=framework)
                declared = [k.reason for k in case.known_discrepancies
                            if k.framework == framework and k.dtype in (None, dtype)]
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
        self.add_marker(pytest.mark.harness)

    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        run = run_case(self.case, self.dtype, [self.framework], state.pool())
        self.config.stash[_STATE].runs.append(run)
        rows = run.rows
        bad = [r for r in rows if r.status in (FAIL, ERROR)]
        if bad:
            raise ConformanceFailure(bad, rows)
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


def failure_table(rows: list[Row], everything: list[Row] | None = None) -> str:
    """The worst discrepancies of one item as a small fixed-width table, then the hints that
    ``everything`` (all rows of the item, passing ones too) supports."""
    everything = rows if everything is None else everything
    errors = [r for r in rows if r.status == ERROR]
    fails = sorted((r for r in rows if r.status == FAIL),
                   key=lambda r: (r.max_rel or 0.0, r.max_abs or 0.0), reverse=True)
    lines = [f"{r.framework} error: {r.message}" for r in errors]
    if fails:
        first = fails[0]
        lines.append(f"{len(fails)} tensor(s) disagree ({first.dtype}; element passes when "
                     f"|value - reference| <= atol + rtol*|reference|):")
        header = ("against", "step", "quantity", "tensor", "mismatched", "worst", "reference",
                  "value", "max abs", "max rel", "atol", "rtol")
        table = [header]
        for r in fails[:MAX_TABLE_ROWS]:
            table.append((r.reference, str(r.step), r.quantity, r.tensor,
                          f"{r.mismatched}/{r.size}", r.worst_index, f"{r.reference_value:.10g}",
                          f"{r.value:.10g}", f"{r.max_abs:.3g}", f"{r.max_rel:.3g}",
                          f"{r.atol:.3g}", f"{r.rtol:.3g}"))
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                  for row in table]
        if len(fails) > MAX_TABLE_ROWS:
            lines.append(f"  … {len(fails) - MAX_TABLE_ROWS} more tensor(s)")
        # hints against the reference; golden values only when the reference agrees
        for reference in (REFERENCE, "expected"):
            found = hints([r for r in everything if r.reference == reference])
            if found:
                lines += [f"- {hint}" for hint in found]
                break
    return "\n".join(lines)
