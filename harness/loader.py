"""Load case files and validate them, finding every problem before anything runs.

Each problem names the file, the line, the field's path, what was expected and what was found.
Validation walks the whole document even after a problem, so a user fixes a file in one pass.
"""
from __future__ import annotations

import csv
import difflib
import re
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from . import catalog
from .case import FD_DEFAULTS, Case, Expected, KnownDiscrepancy, Layer, Optimizer
from .errors import CaseError, Problem
from .init import init_tensor, random_data, tensor_rng
from .tolerance import KEYS as TOLERANCE_KEYS
from .yamlsafe import Document, format_path, load_yaml

CASE_SUFFIXES = (".yaml", ".yml")
TOP_KEYS = ("name", "description", "tags", "dtype", "network", "params", "init", "data", "loss",
            "optimizer", "steps", "frameworks", "tolerance", "expected", "known_discrepancies",
            "orders", "finite_differences")
KNOWN_KEYS = ("framework", "quantity", "tensor", "dtype", "reason", "link", "steps", "from_step")
REQUIRED = ("network", "data", "loss", "optimizer")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_PARAM = re.compile(r"^layers\.(\d+)\.(weight|bias)$")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 40 else "a string"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _suggest(word: Any, valid: Iterable[str]) -> str:
    valid = list(valid)
    close = difflib.get_close_matches(str(word), valid, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"valid: {', '.join(valid)}{hint}"


class _Validator:
    """Walks one document, collecting problems; returns a Case when there are none."""

    def __init__(self, doc: Document, framework_names: list[str]):
        self.doc = doc
        self.file = doc.file
        self.folder = Path(doc.file).resolve().parent
        self.frameworks = framework_names
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    # -- helpers ---------------------------------------------------------------------------
    def problem(self, path: tuple, message: str) -> None:
        self.problems.append(Problem(self.file, self.doc.line(path), format_path(path), message))

    def mapping(self, value: Any, path: tuple, allowed: Iterable[str],
                required: Iterable[str] = ()) -> dict | None:
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, found {_kind(value)}")
            return None
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                self.problem(path + (key,), f"unknown key {key!r}; {_suggest(key, allowed)}")
        for key in required:
            if key not in value:
                self.problem(path, f"missing required key {key!r}")
        return value

    def integer(self, value: Any, path: tuple, minimum: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected an integer, found {_kind(value)}")
            return None
        if minimum is not None and value < minimum:
            self.problem(path, f"expected an integer ≥ {minimum}, found {value}")
            return None
        return value

    def number(self, value: Any, path: tuple, positive: bool = False,
               nonnegative: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.problem(path, f"expected a number, found {_kind(value)}")
            return None
        value = float(value)
        if not np.isfinite(value):
            self.problem(path, f"expected a finite number, found {value}")
            return None
        if positive and value <= 0:
            self.problem(path, f"expected a number > 0, found {value}")
            return None
        if nonnegative and value < 0:
            self.problem(path, f"expected a number ≥ 0, found {value}")
            return None
        return value

    def string(self, value: Any, path: tuple) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"expected a string, found {_kind(value)}")
            return None
        return value

    def choice(self, value: Any, path: tuple, valid: Iterable[str], what: str) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"expected {what} name, found {_kind(value)}")
            return None
        valid = list(valid)
        if value not in valid:
            self.problem(path, f"unknown {what} {value!r}; {_suggest(value, valid)}")
            return None
        return value

    def array(self, value: Any, path: tuple, shape: tuple[int, ...] | None = None,
              what: str = "") -> np.ndarray | None:
        """A nested list of numbers; checked against ``shape`` when one is given."""
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            self.problem(path, f"expected a (nested) list of numbers, found {_kind(value)} "
                               "with non-numbers or ragged rows")
            return None
        if _has_bool(value):  # float64 would silently read true as 1.0
            self.problem(path, "expected numbers, found booleans")
            return None
        if shape is not None and arr.shape != shape:
            self.problem(path, f"expected shape {_shape(shape)}{what}, found {_shape(arr.shape)}")
            return None
        return arr

    # -- the document ----------------------------------------------------------------------
    def case(self) -> Case | None:
        top = self.mapping(self.doc.value, (), TOP_KEYS, REQUIRED)
        if top is None:
            return None
        name = self.case_name(top)
        description = self.string(top.get("description", ""), ("description",)) or ""
        tags = self.tags(top.get("tags", []))
        dtypes = self.dtypes(top.get("dtype", "float64"))
        layers = self.network(top.get("network"))
        loss_spec = self.loss_spec(top["loss"]) if "loss" in top else None
        loss, loss_settings = loss_spec if loss_spec else (None, None)
        optimizer = self.optimizer(top.get("optimizer")) if "optimizer" in top else None
        steps = self.integer(top.get("steps", 1), ("steps",), minimum=1)
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

        x, y = self.data(top.get("data"), layers, loss) if "data" in top else (None, None)
        params = None
        if layers is not None and x is not None:
            params = self.initial_params(top.get("params", {}), top.get("init"), layers, x.shape[1])
        expected = None
        if "expected" in top and layers is not None and x is not None:
            expected = self.expected(top["expected"], layers, x.shape)
        if loss and layers:
            self.loss_warnings(loss, layers[-1].activation)
        if self.problems:
            return None
        return Case(name=name, file=self.file, description=description, tags=tags,
                    dtypes=dtypes, layers=layers, loss=loss, loss_settings=loss_settings,
                    optimizer=optimizer, steps=steps, frameworks=frameworks,
                    initial_params=params, x=x, y=y, tolerance=tolerance,
                    expected=expected, warnings=tuple(self.warnings),
                    known_discrepancies=known, framework_tolerance=framework_tolerance,
                    orders=orders, finite_differences=fd)

    def case_name(self, top: dict) -> str:
        name = top.get("name", Path(self.file).stem)
        if self.string(name, ("name",)) is not None and not _NAME.match(name):
            self.problem(("name",), f"expected letters, digits and _ . + - (it becomes a test id), "
                                    f"found {name!r}")
        return name if isinstance(name, str) else Path(self.file).stem

    def tags(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            self.problem(("tags",), f"expected a list of strings, found {_kind(value)}")
            return ()
        return tuple(value)

    def dtypes(self, value: Any) -> tuple[str, ...] | None:
        values = value if isinstance(value, list) else [value]
        if not values:
            self.problem(("dtype",), "expected a dtype or a non-empty list of dtypes")
            return None
        path = lambda i: ("dtype", i) if isinstance(value, list) else ("dtype",)  # noqa: E731
        chosen = [self.choice(v, path(i), catalog.DTYPES, "dtype") for i, v in enumerate(values)]
        if None in chosen:
            return None
        if len(set(chosen)) != len(chosen):
            self.problem(("dtype",), f"a dtype is listed twice: {chosen}")
            return None
        return tuple(chosen)

    def network(self, value: Any) -> tuple[Layer, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            self.problem(("network",), f"expected a non-empty list of layers like "
                                       f"{{units: 4, activation: tanh}}, found {_kind(value)}")
            return None
        layers = []
        for i, spec in enumerate(value):
            path = ("network", i)
            spec = self.mapping(spec, path, ("units", "activation"), ("units", "activation"))
            if spec is None or "units" not in spec or "activation" not in spec:
                layers.append(None)
                continue
            units = self.integer(spec["units"], path + ("units",), minimum=1)
            named = self.named(spec["activation"], path + ("activation",), catalog.ACTIVATIONS,
                               "activation")
            layers.append(Layer(units, *named) if units and named else None)
        return None if None in layers else tuple(layers)

    def named(self, value: Any, path: tuple, table: dict[str, catalog.Entry],
              what: str) -> tuple[str, dict] | None:
        """A catalog entry written as a name, or as {name: …, setting: value, …}."""
        if isinstance(value, dict):
            name = self.choice(value.get("name"), path + ("name",), table, what)
            if name is None:
                return None
            settings = self.settings(table[name], value, path)
            return None if settings is None else (name, settings)
        name = self.choice(value, path, table, what)
        if name is None:
            return None
        missing = table[name].required
        if missing:
            self.problem(path, f"{what} {name!r} needs {', '.join(missing)}: write it as "
                               f"{{name: {name}, {missing[0]}: …}}")
            return None
        return name, table[name].defaults()

    def settings(self, entry: catalog.Entry, value: dict, path: tuple) -> dict | None:
        """Every setting of one catalog entry, typed by its default and checked by its rule."""
        self.mapping(value, path, ["name", *entry.settings], entry.required)
        out, ok = {}, all(k in value for k in entry.required)
        for key, setting in entry.settings.items():
            if key not in value:
                out[key] = setting.default
                continue
            given, where = value[key], path + (key,)
            if setting.kind == "boolean":
                if not isinstance(given, bool):
                    self.problem(where, f"expected true or false, found {_kind(given)}")
                    ok = False
                out[key] = given
            elif setting.kind == "choice":
                ok = self.choice(given, where, setting.choices, key) is not None and ok
                out[key] = given
            else:
                number = self.number(given, where)
                problem = None if number is None else setting.problem(number)
                if problem:
                    self.problem(where, problem)
                    number = None
                ok = number is not None and ok
                out[key] = number
        broken = entry.constraint(out) if ok and entry.constraint else None
        if broken:
            key, message = broken
            self.problem(path + ((key,) if key else ()), message)
            ok = False
        return out if ok else None

    def optimizer(self, value: Any) -> Optimizer | None:
        if not isinstance(value, dict):
            self.problem(("optimizer",), f"expected a mapping like {{name: sgd, lr: 0.1}}, "
                                         f"found {_kind(value)}")
            return None
        named = self.named(value, ("optimizer",), catalog.OPTIMIZERS, "optimizer")
        return None if named is None else Optimizer(*named)

    def loss_spec(self, value: Any) -> tuple[str, dict] | None:
        return self.named(value, ("loss",), catalog.LOSSES, "loss")

    def framework_list(self, value: Any) -> tuple[str, ...] | None:
        if value == "all":
            return None
        if not isinstance(value, list) or not value:
            self.problem(("frameworks",), f"expected 'all' or a list of framework names, found "
                                          f"{_kind(value)}")
            return None
        names = [self.framework_name(v, ("frameworks", i), self.frameworks)
                 for i, v in enumerate(value)]
        return tuple(n for n in names if n)

    def framework_name(self, value: Any, path: tuple, valid: list[str]) -> str | None:
        """A framework name. One that is not installed here (a plug-in) is accepted with a
        warning, so a shared case still loads; one that looks like a typo is an error."""
        if isinstance(value, str) and value not in self.frameworks and _NAME.match(value) and \
                not difflib.get_close_matches(value, valid, n=1, cutoff=0.6):
            self.warnings.append(f"{format_path(path)}: framework {value!r} is not installed "
                                 f"here ({', '.join(valid)}); it applies where it is")
            return value
        return self.choice(value, path, valid, "framework")

    def tolerance(self, value: Any) -> tuple[dict, dict]:
        """({dtype: overrides}, {framework: {dtype: overrides}}).

        Overrides are flat ({atol, rtol, scale_rtol}) or per dtype ({float32: {…}}); under
        ``frameworks:``, each framework's overrides take the same two forms.
        """
        path = ("tolerance",)
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping of {', '.join(TOLERANCE_KEYS)}, "
                               f"found {_kind(value)}")
            return {}, {}
        rest = {k: v for k, v in value.items() if k != "frameworks"}
        per_framework = {}
        if "frameworks" in value:
            given = value["frameworks"]
            if not isinstance(given, dict):
                self.problem(path + ("frameworks",), f"expected a mapping of framework names "
                                                     f"to tolerances, found {_kind(given)}")
            else:
                for name, spec in given.items():
                    where = path + ("frameworks", name)
                    if self.framework_name(name, where, self.frameworks):
                        per_framework[name] = self.overrides(spec, where)
        return self.overrides(rest, path), per_framework

    def overrides(self, value: Any, path: tuple) -> dict[str, dict[str, float]]:
        if isinstance(value, dict) and value and all(k in catalog.DTYPES for k in value):
            return {dt: self.tolerance_keys(v, path + (dt,)) for dt, v in value.items()}
        flat = self.tolerance_keys(value, path)
        return {dt: flat for dt in catalog.DTYPES} if flat else {}

    def orders(self, value: Any) -> tuple[int, ...]:
        if value not in ([1], [1, 2], [2, 1]):
            self.problem(("orders",), f"expected [1] or [1, 2] (2 adds Hessian-vector products), "
                                      f"found {value!r}")
            return (1,)
        return tuple(sorted(value))

    def finite_differences(self, value: Any) -> dict:
        if self.mapping(value, ("finite_differences",), FD_DEFAULTS) is None:
            return dict(FD_DEFAULTS)
        out = dict(FD_DEFAULTS)
        if "samples" in value:
            out["samples"] = self.integer(value["samples"], ("finite_differences", "samples"),
                                          minimum=1) or FD_DEFAULTS["samples"]
        if "richardson" in value:
            if not isinstance(value["richardson"], bool):
                self.problem(("finite_differences", "richardson"),
                             f"expected true or false, found {_kind(value['richardson'])}")
            else:
                out["richardson"] = value["richardson"]
        return out

    def known_discrepancies(self, value: Any, dtypes: Iterable[str]):
        """Declared differences, each naming one framework and a quantity or tensor."""
        path = ("known_discrepancies",)
        if not isinstance(value, list):
            self.problem(path, f"expected a list of {{framework, quantity or tensor, reason}}, "
                               f"found {_kind(value)}")
            return ()
        out = []
        for i, spec in enumerate(value):
            where = path + (i,)
            if self.mapping(spec, where, KNOWN_KEYS, ("framework", "reason")) is None:
                continue
            framework = self.framework_name(spec["framework"], where + ("framework",),
                                            [n for n in self.frameworks if n != "numpy"]) \
                if "framework" in spec else None
            quantity = self.choice(spec["quantity"], where + ("quantity",), catalog.QUANTITIES,
                                   "quantity") if "quantity" in spec else None
            tensor = self.string(spec["tensor"], where + ("tensor",)) if "tensor" in spec else None
            dtype = self.choice(spec["dtype"], where + ("dtype",), list(dtypes), "dtype of this "
                                "case") if "dtype" in spec else None
            reason = self.string(spec.get("reason"), where + ("reason",)) \
                if "reason" in spec else None
            link = self.string(spec["link"], where + ("link",)) if "link" in spec else None
            steps = self.known_steps(spec.get("steps"), where + ("steps",)) \
                if "steps" in spec else None
            from_step = self.integer(spec["from_step"], where + ("from_step",), minimum=1) \
                if "from_step" in spec else None
            if quantity is None and tensor in (None, "*", "**"):
                if "quantity" not in spec:
                    self.problem(where, "a known discrepancy names a quantity or a tensor; none "
                                        "may cover a whole case")
                continue
            if reason is not None and not reason.strip():
                self.problem(where + ("reason",), "expected the cause of the difference, found "
                                                  "an empty string")
                continue
            if framework and reason:
                out.append(KnownDiscrepancy(framework, reason.strip(), quantity, tensor, dtype,
                                            link, steps, from_step))
        return tuple(out)

    def known_steps(self, value: Any, path: tuple) -> tuple[int, ...] | None:
        """The steps a known discrepancy is limited to: a list of step numbers (1-based)."""
        if not isinstance(value, list) or not value:
            self.problem(path, f"expected a list of step numbers like [2, 3], found {_kind(value)}")
            return None
        steps = [self.integer(v, path + (i,), minimum=1) for i, v in enumerate(value)]
        return None if None in steps else tuple(steps)

    def tolerance_keys(self, value: Any, path: tuple) -> dict[str, float]:
        if self.mapping(value, path, TOLERANCE_KEYS) is None:
            return {}
        out = {}
        for key in TOLERANCE_KEYS:
            if key in value:
                number = self.number(value[key], path + (key,), nonnegative=True)
                if number is not None:
                    out[key] = number
        return out

    # -- data ------------------------------------------------------------------------------
    def data(self, value: Any, layers: tuple[Layer, ...] | None,
             loss: str | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        spec = self.mapping(value, ("data",), ("x", "y"), ("x",))
        if spec is None or "x" not in spec:
            return None, None
        classes = layers[-1].units if layers else 1
        x = self.source(spec["x"], ("data", "x"), classes)
        if x is not None:
            if x.ndim != 2 or 0 in x.shape:
                self.problem(("data", "x"), f"expected a (batch, features) table with at least one "
                                            f"row and column, found shape {_shape(x.shape)}")
                x = None
            elif x.dtype.kind != "f":
                x = x.astype(np.float64)
        y = self.source(spec["y"], ("data", "y"), classes) if "y" in spec else None
        if loss is None or layers is None or x is None:
            return x, y
        return x, self.targets(y, loss, x.shape[0], layers[-1].units, "y" in spec)

    def targets(self, y: np.ndarray | None, loss: str, batch: int, units: int,
                given: bool) -> np.ndarray | None:
        path = ("data", "y")
        kind = catalog.LOSSES[loss].target
        if kind == catalog.TARGET_NONE:
            if given:
                self.warnings.append(f"loss {loss!r} takes no targets: data.y is ignored")
            return None
        if y is None:
            if not given:
                self.problem(("data",), f"loss {loss!r} needs targets: missing key 'y'")
            return None
        if kind in (catalog.TARGET_LIKE_OUTPUT, catalog.TARGET_DISTRIBUTION):
            if y.shape != (batch, units):
                self.problem(path, f"loss {loss!r} expects targets shaped like the output "
                                   f"{_shape((batch, units))}, found {_shape(y.shape)}")
                return None
            if loss.startswith("bce") and not np.all((y >= 0) & (y <= 1)):
                self.problem(path, f"loss {loss!r} expects targets in [0, 1], found values "
                                   f"{_brief(y[(y < 0) | (y > 1)])}")
                return None
            if kind == catalog.TARGET_DISTRIBUTION and not (
                    np.all(y >= 0) and np.allclose(y.sum(axis=1), 1, rtol=0, atol=1e-6)):
                self.problem(path, f"loss {loss!r} expects rows of probabilities (≥ 0, each "
                                   "row summing to 1)")
                return None
            return y.astype(np.float64)
        # class targets: (batch,) indices or (batch, units) one-hot rows
        if y.shape == (batch,):
            if not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0 or y.max() >= units:
                self.problem(path, f"class indices must be integers in [0, {units}) (the last "
                                   f"layer has {units} units), found values {_brief(y)}")
                return None
            return y.astype(np.int64)
        if y.shape == (batch, units):
            if not (np.isin(y, (0.0, 1.0)).all() and np.all(y.sum(axis=1) == 1)):
                self.problem(path, "one-hot targets must have a single 1 in each row and 0 "
                                   "elsewhere")
                return None
            return y.astype(np.float64)
        hint = " (a column of class indices is never broadcast: give a flat list)" \
            if y.shape == (batch, 1) and units != 1 else ""
        self.problem(path, f"loss {loss!r} expects class indices {_shape((batch,))} or one-hot "
                           f"rows {_shape((batch, units))}, found {_shape(y.shape)}{hint}")
        return None

    def source(self, value: Any, path: tuple, classes: int) -> np.ndarray | None:
        """Inline values, ``{random: …}`` or ``{file: …}``."""
        if isinstance(value, dict) and "random" in value:
            return self.random_source(value, path, classes)
        if isinstance(value, dict) and "file" in value:
            return self.file_source(value, path)
        if isinstance(value, dict):
            self.problem(path, "expected inline values, {random: …} or {file: …}, found a mapping "
                               f"with keys {sorted(map(str, value))}")
            return None
        return self.array(value, path)

    def random_source(self, value: dict, path: tuple, classes: int) -> np.ndarray | None:
        kind = self.choice(value["random"], path + ("random",), catalog.RANDOM_DATA,
                           "random data kind")
        if kind is None:
            return None
        settings_spec = catalog.RANDOM_DATA[kind]
        if self.mapping(value, path, ["random", "shape", "seed", *settings_spec],
                        ("shape", "seed")) is None or "shape" not in value or "seed" not in value:
            return None
        shape = value["shape"]
        if not isinstance(shape, list) or not shape or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
            self.problem(path + ("shape",), f"expected a list of positive integers, "
                                            f"found {_kind(shape)}")
            return None
        seed = self.integer(value["seed"], path + ("seed",), minimum=0)
        settings = {}
        for key in settings_spec:
            if key in value:
                settings[key] = self.number(value[key], path + (key,))
        if seed is None or None in settings.values():
            return None
        return random_data(kind, settings, tuple(shape), seed, classes)

    def file_source(self, value: dict, path: tuple) -> np.ndarray | None:
        if self.mapping(value, path, ("file", "columns", "column")) is None:
            return None
        name = self.string(value["file"], path + ("file",))
        if name is None:
            return None
        target = (self.folder / name).resolve()
        if not target.is_relative_to(self.folder):
            self.problem(path + ("file",), f"data files must be in the case's folder or below it, "
                                           f"found {name!r}")
            return None
        if not target.is_file():
            self.problem(path + ("file",), f"data file not found: {target}")
            return None
        try:
            if target.suffix == ".npy":
                table = np.load(target, allow_pickle=False).astype(np.float64)
            elif target.suffix == ".csv":
                table = _read_csv(target)
            else:
                self.problem(path + ("file",), f"expected a .csv or .npy file, found {name!r}")
                return None
        except (ValueError, OSError) as exc:
            self.problem(path + ("file",), f"cannot read {name!r}: {exc}")
            return None
        if "columns" in value and "column" in value:
            self.problem(path, "give 'columns' (a 2-D table) or 'column' (a flat list), not both")
            return None
        if "columns" not in value and "column" not in value:
            return table
        if table.ndim != 2:
            self.problem(path, f"column selection needs a 2-D table, {name!r} has shape "
                               f"{_shape(table.shape)}")
            return None
        key = "columns" if "columns" in value else "column"
        wanted = value[key] if key == "columns" else [value[key]]
        if not isinstance(wanted, list) or not all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c < table.shape[1]
                for c in wanted) or not wanted:
            self.problem(path + (key,), f"expected column numbers in [0, {table.shape[1]}) "
                                        f"({name!r} has {table.shape[1]} columns), found "
                                        f"{_kind(value[key])}")
            return None
        return table[:, wanted] if key == "columns" else table[:, wanted[0]]

    # -- parameters ------------------------------------------------------------------------
    def initial_params(self, explicit: Any, init: Any, layers: tuple[Layer, ...],
                       features: int) -> dict[str, np.ndarray] | None:
        fans = [(features if i == 0 else layers[i - 1].units, layer.units)
                for i, layer in enumerate(layers)]
        shapes = {}
        for i, (fan_in, units) in enumerate(fans):
            shapes[f"layers.{i}.weight"] = (units, fan_in)
            shapes[f"layers.{i}.bias"] = (units,)
        given = {}
        if self.mapping(explicit, ("params",), shapes) is not None:
            for key, value in explicit.items():
                if key in shapes:
                    arr = self.array(value, ("params", key), shapes[key], _layout(key))
                    if arr is not None:
                        given[key] = arr
        weight, bias = self.init_spec(init)
        if weight is None:
            return None
        params = {}
        for i, (fan_in, units) in enumerate(fans):
            for kind, (scheme, settings, seed) in (("weight", weight), ("bias", bias)):
                key = f"layers.{i}.{kind}"
                params[key] = given.get(key)
                if params[key] is None:
                    params[key] = init_tensor(scheme, settings, shapes[key], fan_in, units,
                                              tensor_rng(seed, i, kind))
        return params

    def init_spec(self, value: Any):
        """((scheme, settings, seed) for weights, the same for biases); defaults apply."""
        if value is None:
            value = {"scheme": "xavier_uniform", "seed": 0}
        path = ("init",)
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping like {{scheme: xavier_uniform, seed: 0}}, "
                               f"found {_kind(value)}")
            return None, None
        weight = self.scheme(value, path, extra=("seed", "bias"), seed=None)
        if weight is None:
            return None, None
        seed = weight[2]
        bias_value = value.get("bias", "zeros")
        if isinstance(bias_value, str):
            bias_value = {"scheme": bias_value}
        bias = self.scheme(bias_value, path + ("bias",), extra=(), seed=seed)
        return (weight, bias) if bias else (None, None)

    def scheme(self, value: Any, path: tuple, extra: tuple, seed: int | None):
        if not isinstance(value, dict):
            self.problem(path, f"expected a scheme name or mapping, found {_kind(value)}")
            return None
        name = self.choice(value.get("scheme"), path + ("scheme",), catalog.INIT_SCHEMES,
                           "init scheme")
        if name is None:
            return None
        spec = catalog.INIT_SCHEMES[name]
        required = [k for k, d in spec.items() if d is None] + (["seed"] if seed is None else [])
        if self.mapping(value, path, ["scheme", *spec, *extra], required) is None:
            return None
        if seed is None and "seed" in value:
            seed = self.integer(value["seed"], path + ("seed",), minimum=0)
        ok = seed is not None and all(k in value for k in required)
        settings = {}
        for key, default in spec.items():
            given = value.get(key, default)
            if given is None:
                continue  # a missing required key is already a problem
            number = self.number(given, path + (key,), positive=(key == "std"))
            ok = ok and number is not None
            settings[key] = number
        if ok and name == "uniform" and settings["low"] >= settings["high"]:
            self.problem(path, f"expected low < high, found {settings['low']} ≥ {settings['high']}")
            ok = False
        if not ok:
            return None
        return name, settings, seed

    # -- golden values ---------------------------------------------------------------------
    def expected(self, value: Any, layers: tuple[Layer, ...], x_shape: tuple[int, ...]):
        path = ("expected",)
        if self.mapping(value, path, ("output", "loss", "grads", "params", "tolerance")) is None:
            return None
        batch, features = x_shape
        shapes = {}
        for i, layer in enumerate(layers):
            fan_in = features if i == 0 else layers[i - 1].units
            shapes[f"layers.{i}.weight"] = (layer.units, fan_in)
            shapes[f"layers.{i}.bias"] = (layer.units,)
        out = {}
        if "output" in value:
            out["output"] = self.array(value["output"], path + ("output",),
                                       (batch, layers[-1].units), " (batch, units)")
        if "loss" in value:
            loss = self.number(value["loss"], path + ("loss",))
            out["loss"] = None if loss is None else np.array(loss)
        for group in ("grads", "params"):
            if group in value and self.mapping(value[group], path + (group,), shapes) is not None:
                out[group] = {k: self.array(v, path + (group, k), shapes[k], _layout(k))
                              for k, v in value[group].items() if k in shapes}
        tolerance = self.tolerance_keys(value["tolerance"], path + ("tolerance",)) \
            if "tolerance" in value else {}
        return Expected(output=out.get("output"), loss=out.get("loss"),
                        grads=out.get("grads", {}), params=out.get("params", {}),
                        tolerance=tolerance)

    def loss_warnings(self, loss: str, last: str) -> None:
        if loss == "kl_div" and last != "log_softmax":
            self.warnings.append(f"loss 'kl_div' takes log-probabilities; the last layer is "
                                 f"{last}, not log_softmax")
        if loss in ("cross_entropy", "bce_with_logits") and last in ("softmax", "sigmoid"):
            self.warnings.append(f"loss {loss!r} takes logits, but the last layer applies {last}: "
                                 "almost always a mistake (kept: its conformance is still checked)")
        if loss == "nll" and last != "softmax":
            self.warnings.append(f"loss 'nll' takes probabilities; the last layer is {last}, not "
                                 "softmax")
        if loss == "bce" and last != "sigmoid":
            self.warnings.append(f"loss 'bce' takes probabilities in (0, 1); the last layer is "
                                 f"{last}, not sigmoid")


def _has_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list) and any(_has_bool(v) for v in value)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _layout(name: str) -> str:
    return " (units, fan_in)" if name.endswith("weight") else " (units,)"


def _brief(arr: np.ndarray) -> str:
    flat = arr.ravel()
    text = ", ".join(f"{v:g}" for v in flat[:6])
    return f"[{text}{', …' if flat.size > 6 else ''}]"


def _read_csv(path: Path) -> np.ndarray:
    """A numeric CSV table; a first row that is not numeric is taken as a header."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if rows:
        try:
            [float(v) for v in rows[0]]
        except ValueError:
            rows = rows[1:]
    if not rows:
        raise ValueError("no data rows")
    try:
        return np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"non-numeric or ragged rows ({exc})") from None


def load_case(path: str | Path, framework_names: list[str]) -> tuple[Case | None, list[Problem]]:
    """Load and validate one case file: (the case, or None, and every problem found)."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return None, [Problem(file, None, "", f"cannot read file: {exc.strerror}")]
    doc, problems = load_yaml(raw, file)
    if doc is None or problems:
        return None, problems
    validator = _Validator(doc, framework_names)
    case = validator.case()
    return case, validator.problems


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


def load_cases(paths: Iterable[str | Path], framework_names: list[str],
               on_problems: Callable[[list[Problem]], None] | None = None) -> list[Case]:
    """Load every case under ``paths``; raise CaseError listing all problems of all files.

    With ``on_problems`` given, bad files are reported through it and the good ones returned.
    """
    files, problems = find_case_files(paths)
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for file in files:
        case, found = load_case(file, framework_names)
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
