"""Repro folders: for each failing (case, dtype, framework) of a run, a folder that shows the
discrepancy without the harness (``<out>/repro/<case>-<dtype>-<framework>/``).

Each folder holds case.yaml (explicit parameters and data), inputs.npz (``param/<name>``, ``x``,
``y``), reference.npz (the reference's ``step<n>/output``, ``…/loss``, ``…/grad/<name>``,
``…/param/<name>`` and, under ``allowed/``, the per-element allowance the harness compared each
with), tolerance.json (the tolerance of that framework's rows and where it came from) and
repro.py, which imports only that framework and NumPy, trains the case as the harness ran it and
exits 1 while a tensor differs (0 when none does). Templates: harness.reports.repro_templates.

A folder is written for a framework with a failing (or erroring) row against the run's
reference; failures only against golden values, an oracle or the self-check are not repro'd
(the repro compares with the reference's trajectory). Its values come from the run itself: a
run with a failing row keeps the reference's trajectory (harness.running.runner.CaseRun), so the
reference is not run again, outside its worker and time limit. Each folder is built in a temporary folder
beside it and renamed into place: a folder is whole or absent.
"""
from __future__ import annotations

import inspect
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import repro_templates as t
from ..adapters import get_adapter, is_oracle
from ..format import numerics
from ..format.parties import parts
from ..format.case import Case
from ..verdicts.compare import ERROR, FAIL
from ..running.jobs import Train
from ..format.trace import Trace
from ..verdicts.judge import Judges
from ..running.variants import yaml_text

FOLDER = "repro"  # under the report folder
DEFAULT_LIMIT = 20  # folders per run: report.md lists each


def failing(runs) -> list[tuple[object, str]]:
    """(run, framework) for every framework with a failing row against the run's reference."""
    found = []
    for run in runs:
        names = []
        for r in run.rows:
            if r.status in (FAIL, ERROR) and r.reference == run.reference and \
                    r.framework != run.reference and not is_oracle(r.framework) and \
                    r.framework not in names and not _reference_failed(run, r):
                names.append(r.framework)
        found += [(run, name) for name in names]
    return found


def _reference_failed(run, row) -> bool:
    """A whole-run error blamed on the reference: nothing to repro against."""
    return row.step is None and row.suspect == run.reference


def write_all(runs, out_dir: str | Path, limit: int = DEFAULT_LIMIT,
              warn: Callable[[str], None] | None = None) -> list[dict]:
    """A folder per failing (case, dtype, framework), at most ``limit``; their entries for the
    run's record (folder relative to ``out_dir``, case, dtype, framework, available)."""
    entries = []
    todo = failing(runs)
    for run, framework in todo[:limit]:
        try:
            entries.append(write(run.case, run.dtype, framework, out_dir, run.reference,
                                 run.reference_trace, run.judges))
        except Exception as exc:  # noqa: BLE001 - a repro is extra: the report is still written
            if warn:
                warn(f"repro folder for {run.case.name} [{run.dtype}-{framework}] not written: "
                     f"{type(exc).__name__}: {exc}")
    if len(todo) > limit and warn:
        warn(f"{len(todo) - limit} more repro folders not written (at most {limit} per run)")
    return entries


def folder_name(case: str, dtype: str, framework: str) -> str:
    return f"{case}-{dtype}-{framework}"


def write(case: Case, dtype: str, framework: str, out_dir: str | Path,
          reference: str = "numpy", trace: Trace | None = None,
          judges: Judges | None = None) -> dict:
    """Write one repro folder (whether or not the framework fails: a test forces one); returns
    its record entry. ``trace`` and ``judges`` are the reference's trajectory and the judges as
    the run made them; without them the reference is run here, in this process, and judged."""
    narrowed = case.for_dtype(dtype)
    inputs = case.inputs(dtype)
    if trace is None:
        trace, skip, error = Train(reference, narrowed, inputs)()
        if trace is None:
            raise RuntimeError(f"the reference {reference} did not run: {skip or error}")
    if judges is None:
        judges = Judges(case, dtype)
        judges.weigh(inputs, trace)
    judge = judges.of(framework)
    arrays: dict[str, np.ndarray] = {}
    for number, step in enumerate(trace.steps, start=1):
        for quantity, name, value in step.tensors():
            key = quantity if quantity in ("output", "loss") else f"{quantity}/{name}"
            _, allowed = judge.allowance(number, quantity, name, value)
            arrays[f"step{number}/{key}"] = np.asarray(value, dtype=np.float64)
            arrays[f"allowed/step{number}/{key}"] = np.broadcast_to(allowed, np.shape(value)).copy()
    inputs_npz = {f"param/{k}": _plain(v) for k, v in inputs.params.items()}
    inputs_npz["x"] = _plain(inputs.x)
    if inputs.y is not None:
        inputs_npz["y"] = _plain(inputs.y)
    files = {
        "case.yaml": yaml_text(replace(narrowed, frameworks=None), (
            f"The case of this repro folder ({case.file}, {dtype}), explicit parameters and data.",
            f"  python -m harness run case.yaml --frameworks {framework}")),
        "tolerance.json": json.dumps({
            "source": str(judge.source), "atol": judge.tolerance.atol,
            "rtol": judge.tolerance.rtol, "scale_rtol": judge.tolerance.scale_rtol,
            "sum_rtol": judge.tolerance.sum_rtol, "rounding": judge.tolerance.rounding,
            "rule": "|got - reference| <= atol + scale_rtol*scale + rtol*|reference| + "
                    "sum_rtol*magnitude + inherited + rounding*(low-precision rounding); "
                    "the result per element is reference.npz's allowed/<key>"},
            indent=1) + "\n",
    }
    script, available, extra_files = _script(narrowed, framework, reference, case.param_names)
    files["repro.py"] = script
    name = folder_name(case.name, dtype, framework)
    root = Path(out_dir) / FOLDER
    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        for file, text in files.items():
            (building / file).write_text(text, encoding="utf-8")
        for file, source in extra_files.items():
            shutil.copyfile(source, building / file)
        np.savez(building / "inputs.npz", **inputs_npz)
        np.savez(building / "reference.npz", **arrays)
        building.chmod(0o755)
        _replace(building, root / name)
    finally:
        if building.exists():
            shutil.rmtree(building)
    return {"folder": f"{FOLDER}/{name}", "case": case.name, "dtype": dtype,
            "framework": framework, "available": available}


def _replace(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an older folder there is moved aside first, then removed."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old)


def _plain(array: np.ndarray) -> np.ndarray:
    """An array NumPy saves: bfloat16 (ml_dtypes') as float32, which holds it exactly."""
    return array.astype(np.float32) if array.dtype.name == "bfloat16" else array


def _spec(case: Case, framework: str, reference: str, param_names: list[str]) -> str:
    form = numerics.of(case.dtype)
    return json.dumps({
        "case": case.name, "dtype": case.dtype, "framework": framework, "reference": reference,
        "mode": parts(framework)[1], "storage": form.storage, "compute": form.compute,
        "mixed": form.mixed,
        "steps": case.steps, "param_names": param_names,
        "layers": [{"units": layer.units, "activation": layer.activation,
                    "settings": layer.settings} for layer in case.layers],
        "loss": case.loss, "loss_settings": case.loss_settings,
        "optimizer": case.optimizer.name, "optimizer_settings": case.optimizer.settings,
    }, indent=1)


def _pasted(*functions) -> str:
    """The adapters' own functions, verbatim: the single source of each name's mapping."""
    parts = []
    for fn in functions:
        module = inspect.getsourcefile(fn)
        where = Path(module).name if module else "?"
        parts.append(f"# from harness {where}, pasted verbatim\n{inspect.getsource(fn)}")
    return "\n\n" + "\n\n".join(parts)


def _script(case: Case, framework: str, reference: str,
            param_names: list[str]) -> tuple[str, bool, dict[str, Path]]:
    """(repro.py, whether it reproduces, files to copy beside it)."""
    from ..adapters.user_impl import UserImplementation

    adapter = get_adapter(framework)
    extra: dict[str, Path] = {}
    base, _, device = parts(framework)
    on_cpu = device in (None, "cpu")  # a bare name is the cpu
    if base == "torch" and on_cpu:
        from ..adapters import torch_ops as a
        from ..adapters import torch_step as step

        needs = "torch and NumPy"
        imports = "import contextlib\nimport math\n\nimport torch"
        body = _pasted(a.activation_of, a.loss_of, a.optimizer_of, step.make_step) + \
            t.TORCH_LOOP
    elif base == "jax" and on_cpu:
        from ..adapters import jax_ops as a

        needs, imports = "jax, optax and NumPy", ""
        body = _pasted(a.activation_of, a.loss_of, a.optimizer_of) + t.JAX_LOOP
    elif isinstance(adapter, UserImplementation):
        from ..adapters.numpy_optim import NumpyOptimizer

        file = adapter.path.name
        extra[file] = adapter.path
        needs, imports = f"NumPy and your file {file} (copied here)", \
            "import importlib.util\nimport inspect"
        body = f"\nIMPL_FILE = {file!r}\n" + _pasted(NumpyOptimizer) + t.IMPL_LOOP
    else:
        why = ("micrograd is run by the harness through composites of add, mul, pow and relu "
               "that live in harness/adapters/micrograd_adapter.py (micrograd has no exp, log or "
               "tanh of its own); a repro without harness would have to copy that module, so none "
               "is written." if framework == "micrograd" else
               f"{framework} runs on a device (harness/running/devices.py): the repro templates run on "
               "the CPU at the framework's defaults, so they would not show a difference of the "
               "device or its precision; none is written." if not on_cpu else
               f"{framework} is run through an adapter of the harness (a plug-in or the NumPy "
               "reference) that has no repro template.")
        text = t.UNAVAILABLE
        for key, value in (("@WHY@", why), ("@FRAMEWORK@", framework), ("@CASE@", case.name),
                           ("@DTYPE@", case.dtype), ("@REFERENCE@", reference)):
            text = text.replace(key, value)
        return text, False, extra
    text = t.HEAD + body + t.COMPARE
    for key, value in (("@IMPORTS@", imports), ("@SPEC@", _spec(case, framework, reference,
                                                                 param_names)),
                       ("@NEEDS@", needs), ("@FRAMEWORK@", framework), ("@CASE@", case.name),
                       ("@DTYPE@", case.dtype), ("@REFERENCE@", reference)):
        text = text.replace(key, value)
    return text, True, extra
