"""Shrink a failing case to the smallest one that still fails the same way (``python -m harness
shrink``).

*The same way* means the same **signature**: the suspect and the quantity of the case's first
failing row. Failing rows are those with status ``fail`` or ``error``; the first is the earliest
by step (an error of a whole framework, which has no step, comes first), then by quantity in the
order of a training step (output, loss, grad, param, then anything else), and among rows of the
same step and quantity one that names a suspect comes before one whose suspect is ``unclear``
(with an --impl file and the reference alone, only the self-check can name the file). An error
row's quantity is ``error``. The case's dtype, tensor names and magnitudes may change; the
signature may not.

The search is greedy and deterministic: dimension by dimension (steps, layers, batch rows, input
features, the units of each layer, then the dtype) each candidate is run in this process with
harness.running.runner.run_case and kept when its signature is unchanged; passes repeat until none
changes anything, or the attempt cap or the time limit is reached. Rows, features and units are
reduced by keeping subsets of indices (halves first, then smaller chunks and their complements,
as in delta debugging), so inline data and parameters are sliced consistently: a dropped unit
takes its weight row, its bias and the next layer's weight column with it. A dropped hidden
layer is folded into the next (W' = W_next·W, b' = b_next + W_next·b). Generated data (``random:``)
is sliced the same way once drawn; the shrunk case is written with explicit parameters and data.

dtype: a float32 case is tried in float64 (kept only when it still fails the same way: then the
discrepancy is no float32 rounding effect, and the tighter float64 tolerance makes the repro
sharper). float64 is never tried in float32: its looser tolerance can only hide a discrepancy,
and it adds rounding noise without making any tensor smaller. A case of both dtypes is narrowed
to the dtype of its first failure.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..format import catalog
from ..adapters import REFERENCE
from ..format.case import Case, bias_name, param_shapes, weight_name
from ..verdicts.compare import ERROR, FAIL
from ..format.parties import UNCLEAR
from ..running.runner import run_case

DEFAULT_MAX_ATTEMPTS = 300
DEFAULT_TIME_LIMIT = 300.0  # seconds; checked between attempts
QUANTITY_ORDER = {"output": 0, "loss": 1, "grad": 2, "param": 3}


@dataclass(frozen=True)
class Signature:
    """What makes two failures "the same discrepancy"."""

    suspect: str
    quantity: str

    def __str__(self) -> str:
        return f"suspect {self.suspect or '(none)'}, quantity {self.quantity}"


def first_failure(rows) -> object | None:
    """The first failing row (see the module's docstring), or None when nothing fails."""
    failing = [(i, r) for i, r in enumerate(rows) if r.status in (FAIL, ERROR)]
    if not failing:
        return None

    def key(item):
        i, r = item
        return (r.step or 0, QUANTITY_ORDER.get(r.quantity, 9) if r.quantity else -1,
                r.suspect in ("", UNCLEAR), i)
    return min(failing, key=key)[1]


def signature(rows) -> Signature | None:
    row = first_failure(rows)
    if row is None:
        return None
    return Signature(row.suspect, row.quantity or "error")


@dataclass
class Outcome:
    case: Case  # the smallest case found, narrowed to one dtype
    signature: Signature
    first_row: object
    original: Case
    original_dtype: str
    attempts: int
    stopped: str  # "" when every dimension was tried to the end; else why it stopped

    def changes(self) -> list[str]:
        """Each dimension that changed, "what: from → to"."""
        before, after = _dims(self.original, self.original_dtype), _dims(self.case, self.case.dtype)
        return [f"{k} {before[k]} → {after[k]}" for k in before if before[k] != after[k]]


def _dims(case: Case, dtype: str) -> dict[str, str]:
    units = [layer.units for layer in case.layers]
    return {"layers": str(len(units)), "units per layer": str(units), "batch": str(case.batch),
            "input features": str(case.x.shape[1]), "steps": str(case.steps),
            "dtype": dtype if len(case.dtypes) == 1 else "+".join(case.dtypes) + f" (first failing {dtype})"}


class _Budget(Exception):
    """The attempt cap or the time limit was reached."""


class Shrinker:
    def __init__(self, case: Case, frameworks: list[str], reference: str = REFERENCE,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 time_limit: float = DEFAULT_TIME_LIMIT,
                 progress: Callable[[str], None] | None = None):
        self.original, self.frameworks, self.reference = case, frameworks, reference
        self.max_attempts, self.time_limit = max_attempts, time_limit
        self.say = progress or (lambda line: None)
        self.attempts = 0
        self.start = time.monotonic()

    def rows(self, case: Case) -> list:
        return run_case(case, case.dtype, self.frameworks, reference=self.reference).rows

    # -- the search -------------------------------------------------------------------------
    def shrink(self) -> Outcome | None:
        """The smallest case found, or None when the case does not fail at all."""
        found = None
        for dtype in self.original.dtypes:  # the first dtype that fails sets the signature
            rows = self.rows(self.original.for_dtype(dtype))
            found = signature(rows)
            if found is not None:
                self.target, self.dtype, self.first_row = found, dtype, first_failure(rows)
                break
        if found is None:
            return None
        self.say(f"{self.original.name} [{self.dtype}] fails: {found} (first failing row: "
                 f"{_where(self.first_row)})")
        self.case = self.original.for_dtype(self.dtype)
        stopped = ""
        try:
            changed = True
            while changed:
                before = self.case
                self.steps()
                self.layers()
                self.indices("batch", self.case.batch, _keep_rows)
                self.indices("input features", self.case.x.shape[1], _keep_features)
                for i in range(len(self.case.layers)):
                    self.indices(f"units of layer {i}", self.case.layers[i].units,
                                 lambda c, kept, i=i: _keep_units(c, i, kept))
                self.dtype_change()
                changed = self.case is not before
        except _Budget as why:
            stopped = str(why)
            self.say(f"stopped: {stopped}; keeping the smallest case found so far")
        return Outcome(self.case, self.target, self.first_row, self.original, self.dtype,
                       self.attempts, stopped)

    def attempt(self, what: str, candidate: Case) -> bool:
        """Run a candidate; keep it when it fails the same way."""
        if self.attempts >= self.max_attempts:
            raise _Budget(f"the cap of {self.max_attempts} attempts was reached")
        if time.monotonic() - self.start > self.time_limit:
            raise _Budget(f"the time limit of {self.time_limit:g} s was reached")
        self.attempts += 1
        got = signature(self.rows(candidate))
        same = got == self.target
        verdict = "fails the same way: kept" if same else \
            "passes: not kept" if got is None else f"fails differently ({got}): not kept"
        self.say(f"[{self.attempts}] {what}: {verdict}")
        if same:
            self.case = candidate
        return same

    def steps(self) -> None:
        """The smallest step count that still fails (binary search: later steps cannot change an
        earlier one, so failing is monotone in the count)."""
        low, high = 1, self.case.steps
        while low < high:
            mid = (low + high) // 2
            if self.attempt(f"steps {self.case.steps} → {mid}", _with_steps(self.case, mid)):
                high = mid
            else:
                low = mid + 1

    def layers(self) -> None:
        i = 0
        while i < len(self.case.layers) - 1:  # the last layer makes the output the loss needs
            n = len(self.case.layers)
            if not self.attempt(f"layers {n} → {n - 1} (layer {i} folded into layer {i + 1})",
                                _drop_layer(self.case, i)):
                i += 1

    def indices(self, what: str, n: int, keep) -> None:
        """Delta-debugging over the indices of one dimension: keep a chunk, else drop one."""
        kept, parts = list(range(n)), 2
        while len(kept) > 1:
            chunks = [[int(i) for i in c] for c in np.array_split(kept, min(parts, len(kept)))]
            tries = chunks + ([[i for i in kept if i not in c] for c in chunks] if parts > 2 else [])
            for chunk in tries:
                # the dimension is renumbered after each cut, so positions are indices
                if self.attempt(f"{what} {len(kept)} → {len(chunk)} (keeping {_span(chunk)})",
                                keep(self.case, chunk)):
                    kept, parts = list(range(len(chunk))), 2
                    break
            else:
                if parts >= len(kept):
                    return
                parts = min(len(kept), parts * 2)

    def dtype_change(self) -> None:
        if self.case.dtype == "float32":
            self.attempt("dtype float32 → float64", self.case.for_dtype("float64"))


def _where(row) -> str:
    if row.step is None:
        return f"{row.framework}: {row.status}: {row.message[:120]}"
    return f"step {row.step} {row.quantity} {row.tensor} of {row.framework} against {row.reference}"


def _span(chunk: list[int]) -> str:
    if len(chunk) == 1:
        return f"index {chunk[0]}"
    if chunk == list(range(chunk[0], chunk[-1] + 1)):
        return f"{chunk[0]}–{chunk[-1]}"
    return ",".join(map(str, chunk[:8])) + ("…" if len(chunk) > 8 else "")


# -- candidate cases: the same case with one dimension cut, consistently ------------------------
def _fit(case: Case, **changes) -> Case:
    """A candidate: golden values belong to the original shapes and are dropped with them."""
    shaped = any(k in changes for k in ("layers", "initial_params", "x", "y"))
    return replace(case, **changes, expected=None if shaped else case.expected, warnings=())


def _with_steps(case: Case, steps: int) -> Case:
    known = []
    for k in case.known_discrepancies:  # a declaration beyond the last step would not load
        if k.steps is not None:
            kept = tuple(s for s in k.steps if s <= steps)
            if kept:
                known.append(replace(k, steps=kept))
        elif k.from_step is None or k.from_step <= steps:
            known.append(k)
    return _fit(case, steps=steps, known_discrepancies=tuple(known))


def _keep_rows(case: Case, kept: list[int]) -> Case:
    return _fit(case, x=case.x[kept], y=None if case.y is None else case.y[kept])


def _keep_features(case: Case, kept: list[int]) -> Case:
    params = dict(case.initial_params)
    params[weight_name(0)] = params[weight_name(0)][:, kept]
    return _fit(case, x=case.x[:, kept], initial_params=params)


def _keep_units(case: Case, layer: int, kept: list[int]) -> Case:
    params = dict(case.initial_params)
    params[weight_name(layer)] = params[weight_name(layer)][kept]
    params[bias_name(layer)] = params[bias_name(layer)][kept]
    y = case.y
    if layer + 1 < len(case.layers):
        params[weight_name(layer + 1)] = params[weight_name(layer + 1)][:, kept]
    else:
        y = _targets_for_units(case, kept)
    layers = list(case.layers)
    layers[layer] = replace(layers[layer], units=len(kept))
    return _fit(case, layers=tuple(layers), initial_params=params, y=y)


def _targets_for_units(case: Case, kept: list[int]) -> np.ndarray | None:
    """The targets when the last layer keeps only the units ``kept``."""
    y, kind = case.y, catalog.LOSSES[case.loss].target
    if y is None or kind == catalog.TARGET_NONE:
        return y
    if kind == catalog.TARGET_CLASSES:
        classes = y if y.ndim == 1 else y.argmax(axis=1)
        where = {c: i for i, c in enumerate(kept)}
        classes = np.array([where.get(int(c), 0) for c in classes], dtype=np.int64)  # a dropped class: the first kept
        return classes if y.ndim == 1 else np.eye(len(kept))[classes]
    y = y[:, kept]
    if kind == catalog.TARGET_DISTRIBUTION:  # rows of probabilities must still sum to 1
        sums = y.sum(axis=1, keepdims=True)
        y = np.where(sums > 0, y / np.where(sums > 0, sums, 1), 1.0 / len(kept))
    return y


def _drop_layer(case: Case, layer: int) -> Case:
    """Layer ``layer`` (not the last) folded into the next: W' = W_next·W, b' = b_next + W_next·b."""
    p = case.initial_params
    w_next, b_next = p[weight_name(layer + 1)], p[bias_name(layer + 1)]
    folded = (w_next @ p[weight_name(layer)], b_next + w_next @ p[bias_name(layer)])
    layers = [lay for i, lay in enumerate(case.layers) if i != layer]
    old = [i for i in range(len(case.layers)) if i != layer]
    params = {}
    for new, i in enumerate(old):
        if i == layer + 1:
            params[weight_name(new)], params[bias_name(new)] = folded
        else:
            params[weight_name(new)], params[bias_name(new)] = p[weight_name(i)], p[bias_name(i)]
    assert list(params) == list(param_shapes([lay.units for lay in layers], case.x.shape[1]))
    return _fit(case, layers=tuple(layers), initial_params=params)


# -- the shrunk case as a file ----------------------------------------------------------------
def description(outcome: Outcome) -> str:
    changes = outcome.changes()
    what = "; ".join(changes) if changes else "nothing could be removed"
    return (f"Shrunk from {outcome.original.name} ({outcome.original.file}) by `python -m harness "
            f"shrink`: {what}. It still fails the same way: {outcome.signature} (first failing "
            f"row: {_where(outcome.first_row)}).")


def yaml_text(outcome: Outcome, frameworks: Iterable[str], impls: Iterable[str] = ()) -> str:
    """The shrunk case as a case file, explicit parameters and data, named ``<case>-shrunk``."""
    from ..running.variants import yaml_text as case_yaml

    case = replace(outcome.case, name=f"{outcome.original.name}-shrunk",
                   description=description(outcome))
    files = [str(path) for path in impls]
    named = [n for n in frameworks if n not in {Path(f).stem for f in files}]
    command = "python -m harness run THIS_FILE --frameworks " + ",".join(named) + \
        "".join(f" --impl {f}" for f in files)
    header = (f"Made by `python -m harness shrink` from {outcome.original.file}. Run it:",
              f"  {command}")
    return case_yaml(case, header)


def output_path(case: Case, out: str | Path) -> Path:
    """``<out>/<name>-shrunk.yaml``, never the input file itself."""
    path = Path(out) / f"{case.name}-shrunk.yaml"
    number = 2
    while path.resolve() == Path(case.file).resolve():
        path = Path(out) / f"{case.name}-shrunk-{number}.yaml"
        number += 1
    return path

