"""Data sources of a case: inline values, {random: …} draws, {file: …} tables; and targets
checked against the loss that takes them."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from .. import catalog
from ..case import Layer
from ..seeded import random_data
from .problems import Checker, _brief, _kind, _shape


class DataSources(Checker):
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

