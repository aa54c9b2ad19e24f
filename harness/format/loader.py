"""Load case files and validate them, finding every problem before anything runs.

Each problem names the file, the line, the field's path, what was expected and what was found.
Validation walks the whole document even after a problem, so a user fixes a file in one pass.
The parts live beside it in harness/format/: the problem collector and typed readers (problems.py), one
parser per section (sections.py) and the data sources (sources.py); this module puts them
together and finds the files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import catalog, numerics
from .case import PRECISIONS, Case
from .parties import Parties
from .errors import CaseError, Problem, UsageError
from .limits import Limits, configured
from .parameters import Parameters
from .sections import Sections
from .sources import DataSources
from .yamlsafe import load_yaml

CASE_SUFFIXES = (".yaml", ".yml")
TOP_KEYS = ("name", "description", "tags", "dtype", "network", "params", "init", "data", "loss",
            "optimizer", "steps", "frameworks", "tolerance", "expected", "known_discrepancies",
            "orders", "finite_differences", "precision")
REQUIRED = ("network", "data", "loss", "optimizer")
# a file the loader failed on in a way it does not foresee: said as a problem, not a traceback
INTERNAL_ERROR = "the harness failed to read this case: an internal error"


class _Validator(Sections, Parameters, DataSources):
    """Walks one document, collecting problems; returns a Case when there are none."""

    def case(self) -> Case | None:
        top = self.mapping(self.doc.value, (), TOP_KEYS, REQUIRED)
        if top is None:
            return None
        name = self.case_name(top)
        description = self.string(top.get("description", ""), ("description",)) or ""
        tags = self.tags(top.get("tags", []))
        dtypes = self.dtypes(top.get("dtype", "float64"))
        layers = self.network(top["network"]) if "network" in top else None
        loss_spec = self.loss_spec(top["loss"]) if "loss" in top else None
        loss, loss_settings = loss_spec if loss_spec else (None, None)
        optimizer = self.optimizer(top.get("optimizer")) if "optimizer" in top else None
        steps = self.integer(top.get("steps", 1), ("steps",), minimum=1)
        if steps is not None and not self.within(("steps",), "max_steps", steps,
                                                 "training steps"):
            steps = None
        frameworks = self.framework_list(top.get("frameworks", "all"))
        tolerance, framework_tolerance = self.tolerance(top["tolerance"]) \
            if "tolerance" in top else ({}, {})
        known = self.known_discrepancies(top.get("known_discrepancies", []), dtypes or ())
        for i, k in enumerate(known):
            last = max(k.steps or (k.from_step or 1,))
            if steps and last > steps:
                self.problem(("known_discrepancies", i, "steps" if k.steps else "from_step"),
                             f"step {last} is beyond the case's {steps} step(s)")
        orders = self.orders(top.get("orders", [1]))
        fd = self.finite_differences(top.get("finite_differences", {}))
        precision = None
        if top.get("precision") in catalog.DTYPES:  # mixed-bfloat16 and the like: a dtype
            self.problem(("precision",), f"{top['precision']!r} is a numeric format: write it "
                                         f"in dtype (dtype: {top['precision']}); precision takes "
                                         f"{' or '.join(PRECISIONS)} (the float32 matmul "
                                         f"precision)")
        elif "precision" in top:
            precision = self.choice(top["precision"], ("precision",), PRECISIONS, "precision")

        x, y = self.data(top.get("data"), layers, loss) if "data" in top else (None, None)
        params = expected = None
        # sized from the shapes alone before any parameter is drawn
        if layers is not None and x is not None and self.network_size(layers, x.shape):
            params = self.initial_params(top.get("params", {}), top.get("init"), layers, x.shape[1])
            if "expected" in top:
                expected = self.expected(top["expected"], layers, x.shape)
        if loss and layers:
            self.loss_warnings(loss, layers[-1].activation)
        if x is not None and dtypes:
            self.warnings += range_notes({"data.x": x, "data.y": y, **(params or {})}, dtypes)
        if self.problems:
            return None
        return Case(name=name, file=self.file, description=description, tags=tags,
                    dtypes=dtypes, layers=layers, loss=loss, loss_settings=loss_settings,
                    optimizer=optimizer, steps=steps, frameworks=frameworks,
                    initial_params=params, x=x, y=y, tolerance=tolerance,
                    expected=expected, warnings=tuple(self.warnings),
                    known_discrepancies=known, framework_tolerance=framework_tolerance,
                    orders=orders, finite_differences=fd, precision=precision)



def range_notes(tensors: dict[str, np.ndarray | None], dtypes: Iterable[str]) -> list[str]:
    """A note per tensor with values that are inf or NaN, or beyond the range of a dtype the
    case runs in: accepted (a case may test non-finite handling, and its comparisons become
    inconclusive), and said once here rather than as a NumPy warning from every party."""
    notes = []
    for name, values in tensors.items():
        if values is None or values.size == 0:
            continue
        non_finite = int(values.size - np.count_nonzero(np.isfinite(values)))
        if non_finite:
            notes.append(f"{name}: {non_finite} value(s) are inf or NaN; comparisons they reach "
                         "are inconclusive")
            continue
        largest = float(np.max(np.abs(values)))
        for dtype in dtypes:
            storage = numerics.of(dtype).storage
            bound = float(_finfo(numerics.numpy_dtype(storage)).max)
            if largest > bound:
                notes.append(f"{name}: |values| up to {largest:.3g} are beyond {storage}'s range "
                             f"({bound:.3g}); rounded to {storage} they become infinite")
                break
    return notes


def _finfo(dtype: np.dtype):
    """np.finfo, or ml_dtypes' for its bfloat16: NumPy before 2 does not know it."""
    if dtype.name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.finfo(dtype)
    return np.finfo(dtype)


def load_case(path: str | Path, parties: Parties | Iterable[str],
              limits: Limits | None = None) -> tuple[Case | None, list[Problem]]:
    """Load and validate one case file: (the case, or None, and every problem found).

    ``parties`` are the framework names a case may use and the devices each can take
    (harness.adapters.known_parties(); a plain list of names allows no device).
    ``limits`` bounds the sizes a case may ask for (harness.format.limits); by default, the defaults
    as HARNESS_LIMITS changes them. Never raises for anything in the file: whatever is wrong
    with it is a problem.
    """
    file = str(path)
    if limits is None:
        try:
            limits = configured()
        except UsageError as exc:
            return None, [Problem(file, None, "", str(exc))]
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limits.max_case_file_bytes + 1)  # a larger file is not read whole
    except OSError as exc:
        return None, [Problem(file, None, "", f"cannot read file: {exc.strerror or exc}")]
    try:
        doc, problems = load_yaml(raw, file, max_bytes=limits.max_case_file_bytes)
        if doc is None or problems:
            return None, problems
        validator = _Validator(doc, parties, limits)
        case = validator.case()
        return case, validator.problems
    except Exception as exc:  # noqa: BLE001 - the last resort: a problem, never a traceback
        return None, [Problem(file, None, "", f"{INTERNAL_ERROR} ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); please report it with this file")]


def find_case_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """Expand folders into their case files (sorted); missing paths are problems."""
    files, problems = [], []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in CASE_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), None, "", "no such file or folder"))
    return files, problems


def load_cases(paths: Iterable[str | Path], parties: Parties | Iterable[str],
               on_problems: Callable[[list[Problem]], None] | None = None,
               limits: Limits | None = None) -> list[Case]:
    """Load every case under ``paths``; raise CaseError listing all problems of all files.

    With ``on_problems`` given, bad files are reported through it and the good ones returned.
    ``limits``: as for load_case.
    """
    files, problems = find_case_files(paths)
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for file in files:
        case, found = load_case(file, parties, limits)
        problems += found
        if case is None:
            continue
        if case.name in seen:
            problems.append(Problem(case.file, None, "name", f"case name {case.name!r} is also used "
                                    f"by {seen[case.name]}; names must be unique"))
            continue
        seen[case.name] = case.file
        cases.append(case)
    if problems:
        if on_problems is None:
            raise CaseError(problems)
        on_problems(problems)
    return cases
