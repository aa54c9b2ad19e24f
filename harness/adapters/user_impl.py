"""Your own backprop, from a plain Python file, as one more framework (``--impl mine.py``).

The file defines::

    forward_backward(params, x, y)            # or (params, x, y, case) when it wants the case
        -> {"output": (batch, units), "loss": scalar, "grads": {name: array like params[name]}}

and may define::

    update(params, grads, case)               # or (params, grads, case, state): the optimizer
        -> new params (a dict of the same names); `state` is a dict kept across one run's steps
    supports(case) -> None or a reason         # a reason makes the case a skip

params maps canonical names (layers.0.weight of shape (units, fan_in), layers.0.bias of shape
(units,)) to NumPy arrays in the case's dtype; x is (batch, features); y the targets as the case
gives them (class indices as int64). The loss is a scalar (a 0-d array or a Python number); shape
(1,) is taken with a note in the report, any other shape is an error. Without ``update`` the
harness applies the case's optimizer. ``forward_backward`` is also exposed on the adapter, so the
self-check (harness.oracles.selfcheck) can call the file at perturbed parameters.
Every mistake in the file (missing, not importable, lacking the function, wrong names or shapes,
raising) becomes a message naming the file; the other frameworks still run.
"""
from __future__ import annotations

import importlib.util
import inspect
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..format.case import Case, Inputs
from ..format.parties import EXPECTED, RESERVED
from .interrupts import signalled
from ..format.trace import Step, Trace, as_float64
from .base import AdapterError, Availability
from .numpy_optim import NumpyOptimizer


class ImplementationError(AdapterError):
    """A problem with the user's file; the message names the file."""


# a loss of shape (1,) is taken, with this note in the report; any other non-scalar is an error
LOSS_SHAPE_NOTE = "loss returned as shape (1,): return a scalar (a 0-d array or a Python number)"


def _positional_count(fn) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return -1
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


class UserImplementation:
    """Adapter around a user's file; named after the file's stem."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = self.path.stem
        self._module: ModuleType | None = None
        self._load_error: str | None = None
        self._notes: dict[str, None] = {}  # notes on what the file returned, in order

    def __getstate__(self) -> dict:
        """Pickled for a worker process: the file is imported again there."""
        return {"path": self.path, "name": self.name, "_module": None, "_load_error": None,
                "_notes": {}}

    def _fail(self, problem: str) -> ImplementationError:
        return ImplementationError(f"{self.path}: {problem}")

    def module(self) -> ModuleType:
        """Import the file once; a failure is remembered and reported for every case."""
        if self._module is None and self._load_error is None:
            self._module, self._load_error = self._import()
        if self._load_error:
            raise ImplementationError(self._load_error)
        return self._module

    def _import(self) -> tuple[ModuleType | None, str | None]:
        if not self.path.is_file():
            return None, f"{self.path}: file not found"
        spec = importlib.util.spec_from_file_location(f"harness_impl_{self.name}", self.path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the student's syntax or import error, shown plainly
            line = getattr(exc, "lineno", None)
            where = f" (line {line})" if line else ""
            return None, f"{self.path}: does not import{where}: {type(exc).__name__}: {exc}"
        fn = getattr(module, "forward_backward", None)
        if not callable(fn):
            return None, (f"{self.path}: defines no forward_backward(params, x, y) function")
        if _positional_count(fn) not in (3, 4):
            return None, (f"{self.path}: forward_backward must take (params, x, y) or "
                          f"(params, x, y, case), found {inspect.signature(fn)}")
        update = getattr(module, "update", None)
        if update is not None and _positional_count(update) not in (3, 4):
            return None, (f"{self.path}: update must take (params, grads, case) or "
                          f"(params, grads, case, state), found {inspect.signature(update)}")
        return module, None

    # -- the adapter interface --------------------------------------------------------------
    def availability(self) -> Availability:
        return Availability(True, f"file {self.path}")

    def supports(self, case: Case) -> str | None:
        try:
            module = self.module()
        except ImplementationError:
            return None  # run() reports the problem as an error, never as a quiet skip
        check = getattr(module, "supports", None)
        if check is None:
            return None
        reason = self._call("supports", check, case)  # its exception: at its line, as an error
        return None if not reason else f"{self.name} ({self.path.name}): {reason}"

    def forward_backward(self, case: Case, params: dict[str, np.ndarray], x: np.ndarray,
                         y: np.ndarray | None):
        """One checked call of the file's forward_backward: (output, loss, grads), float64
        output and loss, gradients in the params' dtype. The self-check (harness.oracles.selfcheck)
        calls this at perturbed parameters."""
        fn = self.module().forward_backward
        args = (self._copy(params), x.copy(), None if y is None else y.copy())
        if _positional_count(fn) == 4:
            args += (case,)
        result = self._call("forward_backward", fn, *args)
        return self._check_result(result, params, (x.shape[0], case.layers[-1].units))

    def run(self, case: Case, inputs: Inputs) -> Trace:
        module = self.module()
        update = getattr(module, "update", None)
        state: dict[str, Any] = {}
        optimizer = NumpyOptimizer(case.optimizer)  # the case's optimizer, when the file has no update
        params = {k: v.copy() for k, v in inputs.params.items()}
        self._notes = {}
        steps = []
        for _ in range(case.steps):
            output, loss, grads = self.forward_backward(case, params, inputs.x, inputs.y)
            if update is None:
                new = optimizer.step(params, grads)
            else:
                call = (self._copy(params), self._copy(grads), case)
                if _positional_count(update) == 4:
                    call += (state,)
                new = self._check_params(self._call("update", update, *call), params)
            params = new
            steps.append(Step(output, loss, {k: as_float64(v) for k, v in grads.items()},
                              {k: as_float64(v) for k, v in params.items()}))
        return Trace(self.name, steps, (f"user implementation from {self.path}", *self._notes))

    def _call(self, what: str, fn, *args):
        """Call the user's function; an exception is reported at its line in the user's file."""
        try:
            return fn(*args)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            # in this process (--isolation none) a sys.exit() or a raised KeyboardInterrupt in
            # the file would end the whole run without a report: it is the file's error instead
            # (a real Ctrl-C still interrupts the run)
            if isinstance(exc, KeyboardInterrupt) and signalled():
                raise
            frames = [f for f in traceback.extract_tb(exc.__traceback__)
                      if Path(f.filename).resolve() == self.path.resolve()]
            where = f" at line {frames[-1].lineno} ({frames[-1].line})" if frames else ""
            if isinstance(exc, SystemExit):
                raise self._fail(f"{what} called sys.exit({exc.code!r}){where}: a file under test "
                                 "returns its results, it does not exit") from None
            raise self._fail(f"{what} raised {type(exc).__name__}: {exc}{where}") from None

    # -- checking what the file returned ------------------------------------------------------
    @staticmethod
    def _copy(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: np.array(v, copy=True) for k, v in tensors.items()}

    def _tensors(self, value: Any, like: dict[str, np.ndarray], what: str) -> dict[str, np.ndarray]:
        if not isinstance(value, dict):
            raise self._fail(f"{what} must be a dict of parameter names to arrays, "
                             f"found {type(value).__name__}")
        missing = [k for k in like if k not in value]
        extra = [k for k in value if k not in like]
        if missing or extra:
            details = "; ".join(part for part in (
                f"missing {', '.join(map(repr, missing))}" if missing else "",
                f"unexpected {', '.join(map(repr, extra))}" if extra else "") if part)
            raise self._fail(f"{what} has the wrong names ({details}); expected "
                             f"{', '.join(like)}")
        out = {}
        for name, reference in like.items():
            try:
                arr = np.asarray(value[name], dtype=np.float64)
            except (TypeError, ValueError):
                raise self._fail(f"{what}[{name!r}] is not an array of numbers") from None
            if arr.shape != reference.shape:
                transposed = ": transposed? a weight's gradient is (units, fan_in) like the " \
                    "weight, dL/dz^T @ (the layer's input)" if arr.ndim == 2 and \
                    arr.shape == reference.shape[::-1] else ""
                raise self._fail(f"{what}[{name!r}] has shape {arr.shape}, expected "
                                 f"{reference.shape} like params[{name!r}]{transposed}")
            out[name] = arr.astype(reference.dtype)  # the case's dtype, as the params
        return out

    def _check_result(self, result: Any, params: dict[str, np.ndarray],
                      output_shape: tuple[int, int]):
        if not isinstance(result, dict):
            raise self._fail("forward_backward must return a dict with 'output', 'loss' and "
                             f"'grads', found {type(result).__name__}")
        missing = [k for k in ("output", "loss", "grads") if k not in result]
        if missing:
            raise self._fail(f"forward_backward's result lacks {', '.join(map(repr, missing))} "
                             f"(it has {', '.join(map(repr, result)) or 'nothing'})")
        try:
            output = np.asarray(result["output"], dtype=np.float64)
            loss = np.asarray(result["loss"], dtype=np.float64)
        except (TypeError, ValueError):
            raise self._fail("'output' and 'loss' must be numbers or arrays of numbers") from None
        if output.shape != output_shape:
            raise self._fail(f"'output' has shape {output.shape}, expected {output_shape} "
                             "(batch, units of the last layer)")
        if loss.shape == (1,):
            self._notes[LOSS_SHAPE_NOTE] = None
        elif loss.shape != ():
            raise self._fail(f"'loss' must be a scalar (a 0-d array or a Python number), found "
                             f"shape {loss.shape}")
        grads = self._tensors(result["grads"], params, "'grads'")
        return output.copy(), loss.reshape(()).copy(), grads

    def _check_params(self, new: Any, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._tensors(new, params, "update()")


def _same_file(registered, impl: UserImplementation) -> bool:
    """True when ``registered`` is an earlier registration of the same file (a rerun in-process)."""
    return isinstance(registered, UserImplementation) and \
        registered.path.resolve() == impl.path.resolve()


def register_implementations(paths: list[str], option: str = "--impl") -> list[str]:
    """Register every ``--impl`` file as a framework; returns their names. A file that is not
    there, or whose name clashes with a framework, is a usage mistake (``option`` names it)."""
    from ..format.errors import UsageError
    from . import adapter_names, get_adapter, register

    names = []
    for path in paths:
        if not Path(path).is_file():
            found = "a folder" if Path(path).is_dir() else "no such file"
            raise UsageError(f"{option} {path}: {found}; expected a Python file defining "
                             "forward_backward(params, x, y)")
        if Path(path).suffix != ".py":
            raise UsageError(f"{option} {path}: expected a Python file (*.py) defining "
                             "forward_backward(params, x, y)")
        impl = UserImplementation(path)
        if impl.name in RESERVED:
            raise UsageError(f"{option} {path}: the name {impl.name!r} is what reports call "
                             f"{'golden values' if impl.name == EXPECTED else 'a verdict'}; "
                             "rename the file")
        if impl.name in adapter_names() and not _same_file(get_adapter(impl.name), impl):
            raise UsageError(f"{option} {path}: the name {impl.name!r} is already a framework; "
                             "rename the file")
        register(impl)
        names.append(impl.name)
    return names
