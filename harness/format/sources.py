"""Data sources of a case: inline values, {random: …} draws, {file: …} tables; and targets
checked against the loss that takes them."""
from __future__ import annotations

import csv
import math
import stat
from array import array
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from . import catalog
from .case import Layer
from .seeded import random_data
from .yamlsafe import quoted
from .problems import INT_BOUND, Checker, brief_values, kind_of, shape_text, transposed

MAX_NAME_BYTES = 255  # one folder's or file's name, on every common file system
MAX_PATH_CHARACTERS = 1_024
TARGET_ROWS = "targets are written (batch, units), one row per sample"
MAX_CSV_LINE = 4 * 2**20  # characters in one line of a CSV file


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
                                            f"row and column, found shape {shape_text(x.shape)}")
                x = None
            elif not self.within(("data", "x"), "max_batch", x.shape[0], "rows (the batch)"):
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
                                   f"{shape_text((batch, units))}, found {shape_text(y.shape)}"
                                   f"{transposed((batch, units), y.shape, TARGET_ROWS)}")
                return None
            if loss.startswith("bce") and not np.all((y >= 0) & (y <= 1)):
                self.problem(path, f"loss {loss!r} expects targets in [0, 1], found values "
                                   f"{brief_values(y[(y < 0) | (y > 1)])}")
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
                                   f"layer has {units} units), found values {brief_values(y)}")
                return None
            return y.astype(np.int64)
        if y.shape == (batch, units):
            if not (np.isin(y, (0.0, 1.0)).all() and np.all(y.sum(axis=1) == 1)):
                self.problem(path, "one-hot targets must have a single 1 in each row and 0 "
                                   "elsewhere")
                return None
            return y.astype(np.float64)
        hint = " (a column of class indices is never broadcast: give a flat list)" \
            if y.shape == (batch, 1) and units != 1 else \
            transposed((batch, units), y.shape, "one-hot " + TARGET_ROWS)
        self.problem(path, f"loss {loss!r} expects class indices {shape_text((batch,))} or one-hot "
                           f"rows {shape_text((batch, units))}, found {shape_text(y.shape)}{hint}")
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
        if not isinstance(shape, list) or not 1 <= len(shape) <= 2 or not all(
                isinstance(n, int) and not isinstance(n, bool) and 0 < n < INT_BOUND
                for n in shape):
            self.problem(path + ("shape",), f"expected a list of one or two positive integers, "
                                            f"found {kind_of(shape)}")
            return None
        seed = self.integer(value["seed"], path + ("seed",), minimum=0)
        settings = {}
        for key in settings_spec:
            if key in value:
                settings[key] = self.draw_setting(value[key], path + (key,), key)
        if seed is None or None in settings.values():
            return None
        if kind == "uniform":
            low, high = (settings.get(k, settings_spec[k]) for k in ("low", "high"))
            if low >= high:
                self.problem(path, f"expected low < high, found {low} ≥ {high}")
                return None
        # sized from the numbers alone, before anything is drawn
        drawn = (shape[0], classes) if kind in ("simplex", "onehot") else tuple(shape)
        if not (self.within(path + ("shape",), "max_tensor_elements", math.prod(drawn),
                            "elements per tensor", f" in shape {shape_text(drawn)}")
                and self.within(path + ("shape",), "max_batch", shape[0], "rows (the batch)")):
            return None
        return random_data(kind, settings, tuple(shape), seed, classes)

    def file_source(self, value: dict, path: tuple) -> np.ndarray | None:
        if self.mapping(value, path, ("file", "columns", "column")) is None:
            return None
        where = path + ("file",)
        name = self.file_name(value["file"], where)
        if name is None:
            return None
        try:
            target = (self.folder / name).resolve()
            inside = target.is_relative_to(self.folder)
            found = inside and target.is_file()
            size = target.stat().st_size if found else 0
            special = _special_kind(target) if inside and not found else None
        except (OSError, RuntimeError, ValueError) as exc:  # a symbolic link loop, …
            self.problem(where, f"cannot use data file {quoted(name)}: {exc}")
            return None
        if not inside:
            self.problem(where, f"data files must be in the case's folder or below it, "
                                f"found {quoted(name)}")
            return None
        if special:  # the path exists: reading a pipe would wait forever, a folder fails
            self.problem(where, f"expected a data file (.csv or .npy), found {special}: "
                                f"{quoted(str(target), 200)}")
            return None
        if not found:
            self.problem(where, f"data file not found: {quoted(str(target), 200)}")
            return None
        if target.suffix not in (".npy", ".csv"):
            self.problem(where, f"expected a .csv or .npy file, found {quoted(name)}")
            return None
        if not self.within(where, "max_data_file_bytes", size, "bytes in a data file",
                           f" in {quoted(name)}"):
            return None
        try:
            if target.suffix == ".npy":
                table = self.read_npy(target, name, where)
            else:
                table = _read_csv(target, self.limits.max_tensor_elements)
        except _TooManyValues:
            self.within(where, "max_tensor_elements", self.limits.max_tensor_elements + 1,
                        "elements per tensor", f" in {quoted(name)}", more=True)
            return None
        except csv.Error as exc:  # a field over 128 KiB, a NUL, …: not a table of numbers
            self.problem(where, f"cannot read {quoted(name)} as a table of numbers: {exc}")
            return None
        except (ValueError, OSError, EOFError) as exc:
            self.problem(where, f"cannot read {quoted(name)}: {exc}")
            return None
        if table is None:
            return None
        if "columns" in value and "column" in value:
            self.problem(path, "give 'columns' (a 2-D table) or 'column' (a flat list), not both")
            return None
        if "columns" not in value and "column" not in value:
            return table
        if table.ndim != 2:
            self.problem(path, f"column selection needs a 2-D table, {quoted(name)} has shape "
                               f"{shape_text(table.shape)}")
            return None
        key = "columns" if "columns" in value else "column"
        wanted = value[key] if key == "columns" else [value[key]]
        if not isinstance(wanted, list) or not all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c < table.shape[1]
                for c in wanted) or not wanted:
            self.problem(path + (key,), f"expected column numbers in [0, {table.shape[1]}) "
                                        f"({quoted(name)} has {table.shape[1]} columns), found "
                                        f"{kind_of(value[key])}")
            return None
        return table[:, wanted] if key == "columns" else table[:, wanted[0]]

    def file_name(self, value: Any, path: tuple) -> str | None:
        """A data file's name as given: one line a file system can hold."""
        name = self.string(value, path)
        if name is None:
            return None
        if not name.strip():
            self.problem(path, "expected a file name, found an empty string")
            return None
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            self.problem(path, f"expected a file name without control characters (NUL, "
                               f"newline, …), found {quoted(name)}")
            return None
        longest = max(len(part.encode("utf-8", "surrogatepass")) for part in name.split("/"))
        if longest > MAX_NAME_BYTES or len(name) > MAX_PATH_CHARACTERS:
            self.problem(path, f"expected a file name of at most {MAX_NAME_BYTES} bytes per "
                               f"folder or file and {MAX_PATH_CHARACTERS:,} characters in all "
                               f"(what file systems hold), found {quoted(name)}")
            return None
        return name

    def read_npy(self, target: Path, name: str, where: tuple) -> np.ndarray | None:
        """A .npy table of integers or floats, as float64. Its header is read first and
        checked (the format, the dtype, the number of elements against the limit, the size the
        data needs against the file's), so nothing is read that would be refused."""
        with open(target, "rb") as handle:
            start = handle.read(len(npy_format.MAGIC_PREFIX))
            if not start:
                raise ValueError("the file is empty (0 bytes); expected a .npy file written by "
                                 "numpy.save")
            if start.startswith(b"PK\x03\x04"):
                raise ValueError("this is a zip archive (an .npz renamed .npy?), not a .npy file; "
                                 "save one array with numpy.save")
            if start != npy_format.MAGIC_PREFIX:
                raise ValueError("not a .npy file: it does not start with NumPy's magic string "
                                 "(\\x93NUMPY)")
            handle.seek(0)
            version = npy_format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = npy_format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = npy_format.read_array_header_2_0(handle)
            else:
                raise ValueError(f".npy format version {version[0]}.{version[1]} is not read "
                                 "(1.0 and 2.0 are; numpy.save writes them for numbers)")
            problem = _npy_dtype_problem(dtype)
            if problem:
                self.problem(where, f"expected a .npy of integers or floats, found dtype "
                                    f"{str(dtype)[:60]} in {quoted(name)}: {problem}")
                return None
            if len(shape) not in (1, 2) or any(n < 0 for n in shape):
                found = shape_text(shape) if len(shape) < 10 else f"of {len(shape)} dimensions"
                self.problem(where, f"expected a 1-D or 2-D array (sizes ≥ 0), found shape "
                                    f"{found} in {quoted(name)}")
                return None
            elements = math.prod(shape)
            if not self.within(where, "max_tensor_elements", elements, "elements per tensor",
                               f" in {quoted(name)} (its header says shape "
                               f"{shape_text(shape)})"):
                return None
            needed, held = elements * dtype.itemsize, target.stat().st_size - handle.tell()
            if held < needed:
                raise ValueError(f"the file is cut short: its header says shape "
                                 f"{shape_text(shape)} of {dtype}, {needed:,} bytes of data, and it holds {held:,}")
            handle.seek(0)
            table = npy_format.read_array(handle, allow_pickle=False)
        return table.astype(np.float64)


class _TooManyValues(Exception):
    """A CSV file holds more values than one tensor may."""


_SPECIAL_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                  (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"))


def _special_kind(target: Path) -> str | None:
    """What a path that exists and is not a regular file is, in words; None when it does not
    exist (or is a regular file)."""
    try:
        mode = target.stat().st_mode
    except OSError:
        return None
    return next((kind for test, kind in _SPECIAL_KINDS if test(mode)), None)


def _npy_dtype_problem(dtype: np.dtype) -> str | None:
    """Why a .npy's dtype is not data (None when it is: integers and floats)."""
    if dtype.fields is not None:
        return f"a structured array with fields {', '.join(list(dtype.names)[:5])}; save one " \
               "plain array of numbers"
    if dtype.subdtype is not None:
        return "an array of sub-arrays; save one plain array of numbers"
    if dtype.kind in "iuf":
        return None
    return {"c": "complex numbers would lose their imaginary part",
            "b": "booleans are not numbers here (write 0 and 1)",
            "M": "dates and times are not numbers", "m": "time spans are not numbers",
            "O": "Python objects are never unpickled", "U": "text is not numbers",
            "S": "bytes are not numbers"}.get(dtype.kind, "not numbers")


def _lines(handle, limit: int = MAX_CSV_LINE):
    """The lines of a text file, none longer than ``limit`` characters (a table's row is a few
    thousand; one line of a whole file would be read into memory at once)."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) > limit:
            raise ValueError(f"a line is longer than {limit:,} characters; expected a table "
                             "of numbers, one row per line")
        yield line


def _read_csv(path: Path, max_values: int) -> np.ndarray:
    """A numeric CSV table; a first row that is not numeric is taken as a header. Values are
    kept 8 bytes each as they are read, and reading stops past ``max_values``."""
    values, width, rows = array("d"), None, 0
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(_lines(handle)), 1):
            if not row:
                continue
            try:
                numbers = [float(v) for v in row]
            except ValueError:
                if rows == 0 and width is None:
                    width = -1  # the header: a first row that is not numbers
                    continue
                raise ValueError(f"row {number} is not numbers: "
                                 f"{quoted(','.join(row), 60)}") from None
            if width not in (None, -1) and len(numbers) != width:
                raise ValueError(f"non-numeric or ragged rows (row {number} has {len(numbers)} "
                                 f"values, the rows before it {width})")
            width = len(numbers)
            rows += 1
            values.extend(numbers)
            if len(values) > max_values:
                raise _TooManyValues()
    if not rows:
        raise ValueError("no data rows")
    return np.frombuffer(values, dtype=np.float64).reshape(rows, width).copy()
