"""Variants of a case that break the coincidences of its own point.

A case is one point: one set of parameters, one batch, one scale of inputs. A mistake can hide
there. A sigmoid derivative taken at a fixed z is right where z is that value (the worked sigmoid
neuron has z = 1); a softmax normalised over the whole batch is right on a batch of one; a loss
that forgets 1/N is right for N = 1. So each case an --impl file runs is run again at seeded
variants, each its own case named ``<case>~variant-<k>``, compared like any case:

1. other parameters: each weight drawn from N(0, 1/fan_in), each bias from N(0, 1/4), redrawn
   until no pre-activation or loss residual lies near a kink; the case's data;
2. a batch of several samples (one more than the case's, at least 3): x drawn from N(0, 1),
   targets that fit the loss (normal like the output; class indices or one-hot rows; 0/1 for
   bce; counts for poisson_nll; rows of probabilities for kl_div); the case's parameters;
3. the case's inputs at several scales, 0.1× and 3× in one batch (targets repeated); the case's
   parameters.

Beyond three, the kinds repeat with new seeds (and the scales 0.5× and 10×, then 0.03× and 2×).
Each variant is written as a YAML case with explicit parameters and data, loadable as it is, so a
failure found on one can be run again on its own. The variant leaves out the case's golden values
(they belong to its own point) and second order; it keeps the tolerances and the declared known
discrepancies. A variant is never varied again.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..format import catalog
from ..adapters import numpy_ref
from ..format.case import Case
from ..format.parties import compose
from ..format.yamlsafe import MAX_FILE_BYTES

TAG = "variant"
DEFAULT_COUNT = 3
KINDS = ("params", "batch", "scales")
SCALES = ((0.1, 3.0), (0.5, 10.0), (0.03, 2.0))
KINK_MARGIN = 1e-2  # no pre-activation or residual this close to a kink
TRIES = 20
DIGITS = 7  # drawn values are rounded to this many significant digits: short and exact in YAML


def name(case_name: str, k: int) -> str:
    return f"{case_name}~variant-{k}"


def make(case: Case, count: int) -> list[Case]:
    """The first ``count`` variants of ``case``; none of a variant."""
    if TAG in case.tags:
        return []
    return [variant(case, k) for k in range(1, count + 1)]


def variant(case: Case, k: int) -> Case:
    """Variant ``k`` (1-based): its kind cycles through KINDS, its seed is the case's and k's."""
    kind, round_ = KINDS[(k - 1) % len(KINDS)], (k - 1) // len(KINDS)
    seed = zlib.crc32(f"{case.name}/variant-{k}".encode())
    rng = np.random.default_rng(seed)
    params, x, y = case.initial_params, case.x, case.y
    if kind == "params":
        params = _draw(lambda: _params(case, rng), lambda p: _clear(case, p, x, y))
        what = (f"other parameters: each weight drawn from N(0, 1/fan_in), each bias from "
                f"N(0, 1/4) (seed {seed}), away from kinks; the case's data")
    elif kind == "batch":
        batch = max(3, case.batch + 1)
        x, y = _draw(lambda: _data(case, rng, batch), lambda d: _clear(case, params, *d))
        what = (f"a batch of {batch} samples: x drawn from N(0, 1), targets "
                f"{_target_words(case)} (seed {seed}); the case's parameters")
    else:
        low, high = SCALES[round_ % len(SCALES)]
        x = np.concatenate([low * case.x, high * case.x])
        y = None if case.y is None else np.concatenate([case.y, case.y])
        what = (f"the case's inputs at {low:g}× and {high:g}× in one batch of {len(x)} "
                f"(targets repeated); the case's parameters")
    return replace(case, name=name(case.name, k),
                   description=f"Variant {k} of {case.name} ({case.file}): {what}.",
                   tags=tuple(case.tags) + (TAG,), initial_params=params, x=x, y=y,
                   expected=None, orders=(1,), warnings=(), variant_of=(case.name, case.file))


def _draw(make_one, fits):
    """A draw that fits, or the last of TRIES."""
    for _ in range(TRIES):
        drawn = make_one()
        if fits(drawn):
            break
    return drawn


def _round(values: np.ndarray) -> np.ndarray:
    return np.array([float(f"{v:.{DIGITS}g}") for v in np.ravel(values)]).reshape(np.shape(values))


def _params(case: Case, rng: np.random.Generator) -> dict[str, np.ndarray]:
    params = {}
    for name_, value in case.initial_params.items():
        if name_.endswith(".weight"):  # (units, fan_in)
            params[name_] = _round(rng.normal(0.0, 1.0 / np.sqrt(value.shape[1]), value.shape))
        else:
            params[name_] = _round(rng.normal(0.0, 0.5, value.shape))
    return params


def _data(case: Case, rng: np.random.Generator, batch: int):
    x = _round(rng.normal(0.0, 1.0, (batch, case.x.shape[1])))
    return x, _targets(case, rng, batch)


def _targets(case: Case, rng: np.random.Generator, batch: int) -> np.ndarray | None:
    """Targets that fit the loss, in the form the case gives them."""
    loss = catalog.LOSSES[case.loss]
    units = case.layers[-1].units
    if loss.target == catalog.TARGET_NONE:
        return None
    if loss.target == catalog.TARGET_CLASSES:
        classes = rng.integers(0, units, batch)
        return np.eye(units)[classes] if case.y is not None and case.y.ndim == 2 else \
            classes.astype(np.int64)
    if loss.target == catalog.TARGET_DISTRIBUTION:
        return _round(rng.dirichlet(np.ones(units), batch))
    if case.loss.startswith("bce"):
        return (rng.random((batch, units)) < 0.5).astype(np.float64)
    if case.loss == "poisson_nll":
        return rng.poisson(2.0, (batch, units)).astype(np.float64)
    return _round(rng.normal(0.0, 1.0, (batch, units)))


def _target_words(case: Case) -> str:
    loss = catalog.LOSSES[case.loss]
    if loss.target == catalog.TARGET_NONE:
        return f"none (the loss {case.loss} takes none)"
    if loss.target == catalog.TARGET_CLASSES:
        return "one-hot rows" if case.y is not None and case.y.ndim == 2 else "class indices"
    if loss.target == catalog.TARGET_DISTRIBUTION:
        return "rows of probabilities"
    if case.loss.startswith("bce"):
        return "0 or 1 (bernoulli)"
    if case.loss == "poisson_nll":
        return "counts (poisson, mean 2)"
    return "drawn from N(0, 1) like the output"


def _clear(case: Case, params: dict, x: np.ndarray, y: np.ndarray | None) -> bool:
    """No pre-activation within KINK_MARGIN of its activation's kinks, nor a residual out − y of
    its loss's; and every value finite."""
    with np.errstate(all="ignore"):
        out, cache = numpy_ref.forward(case, params, x)
        if not np.all(np.isfinite(out)):
            return False
        for i, layer in enumerate(case.layers):
            for kink in catalog.ACTIVATIONS[layer.activation].kinks(layer.settings) or ():
                if np.any(np.abs(cache[i][1] - kink) < KINK_MARGIN):
                    return False
        for kink in catalog.LOSSES[case.loss].kinks(case.loss_settings) or ():
            if y is not None and np.any(np.abs(out - y - kink) < KINK_MARGIN):
                return False
    return True


# -- the variant as a case file ---------------------------------------------------------------
def _json(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value, ensure_ascii=False)


def _named(entry: catalog.Entry, settings: dict, always: tuple[str, ...] = ()) -> str:
    """A catalog entry as its bare name, or {name: …, setting: value} for the settings that
    differ from the defaults (and those in ``always``)."""
    defaults = entry.defaults()
    given = {k: v for k, v in settings.items() if k in always or v != defaults.get(k)}
    if not given:
        return entry.name
    return "{" + ", ".join([f"name: {entry.name}"] + [f"{k}: {_json(v)}"
                                                    for k, v in given.items()]) + "}"


VARIANT_HEADER = ("A variant made by `python -m harness run` for an --impl file, to break the",
                  "coincidences of its case's own point. Run it on its own:",
                  "  python -m harness run THIS_FILE --impl YOUR_FILE.py")


def yaml_text(case: Case, header: tuple[str, ...] = VARIANT_HEADER) -> str:
    """The case as a YAML case file: explicit parameters and data, nothing from other files;
    ``header`` is its opening comment, one line per item (harness.tools.shrink writes its own)."""
    w = [f"# {line}" for line in header]
    w.append(f"name: {_json(case.name)}")
    w.append(f"description: {_json(case.description)}")
    w.append(f"tags: {_json(list(case.tags))}")
    w.append(f"dtype: {_json(list(case.dtypes))}")
    w.append("network:")
    for layer in case.layers:
        activation = _named(catalog.ACTIVATIONS[layer.activation], layer.settings)
        w.append(f"  - {{units: {layer.units}, activation: {activation}}}")
    w.append("params:")
    for name_, value in case.initial_params.items():
        w.append(f"  {name_}: {_json(np.asarray(value, dtype=np.float64))}")
    w.append("data:")
    w.append(f"  x: {_json(np.asarray(case.x, dtype=np.float64))}")
    if case.y is not None:
        w.append(f"  y: {_json(case.y)}")
    w.append(f"loss: {_named(catalog.LOSSES[case.loss], case.loss_settings)}")
    optimizer = catalog.OPTIMIZERS[case.optimizer.name]
    w.append(f"optimizer: {_named(optimizer, case.optimizer.settings, ('lr',))}")
    w.append(f"steps: {case.steps}")
    w.append(f"frameworks: {'all' if case.frameworks is None else _json(list(case.frameworks))}")
    tolerance = {dt: t for dt, t in case.tolerance.items() if t}
    per_framework = {f: {dt: t for dt, t in d.items() if t}
                     for f, d in case.framework_tolerance.items()}
    per_framework = {f: d for f, d in per_framework.items() if d}
    if tolerance or per_framework:
        both = dict(tolerance)
        if per_framework:
            both["frameworks"] = per_framework
        w.append(f"tolerance: {_json(both)}")
    if case.finite_differences != {"samples": 64, "richardson": True}:
        w.append(f"finite_differences: {_json(case.finite_differences)}")
    if case.known_discrepancies:
        w.append("known_discrepancies:")
        for k in case.known_discrepancies:
            # its mode in the name (torch+compile), its device and version range beside it
            spec = {"framework": compose(k.framework, k.mode), "device": k.device,
                    "reason": k.reason, "quantity": k.quantity,
                    "tensor": k.tensor, "dtype": k.dtype, "link": k.link,
                    "steps": list(k.steps) if k.steps else None, "from_step": k.from_step,
                    "versions": None if k.versions is None else str(k.versions)}
            w.append(f"  - {_json({key: v for key, v in spec.items() if v is not None})}")
    return "\n".join(w) + "\n"


def write(case: Case, folder: str | Path) -> tuple[Case | None, str | None]:
    """Write the variant to ``folder/<name>.yaml``: (the case with that file, None), or (None,
    why not) when its explicit YAML would be too large for the loader."""
    text = yaml_text(case)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        return None, (f"{case.name} not made: with its parameters and data written out it is "
                      f"over the {MAX_FILE_BYTES // 1_000_000} MB a case file may have")
    path = Path(folder) / f"{case.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return replace(case, file=str(path)), None
