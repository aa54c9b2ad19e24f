"""A JSON Schema (draft 2020-12) of the case format, made from the catalog.

Editors with YAML support (the YAML language server behind VS Code's and others' YAML modes)
complete and check a case as it is typed when pointed at it. It says what the harness's own
validation says about structure, names and settings; the harness still checks what a schema
cannot (shapes that must fit the network, targets that must fit the loss, data files) and gives
the line and a did-you-mean. ``python -m harness schema`` prints it; docs/case.schema.json is a
copy that a test keeps equal to the command's output.
"""
from __future__ import annotations

import json

from ..format import catalog
from ..format.case import PRECISIONS
from ..format.versions import PATTERN as VERSION_RANGE
from ..verdicts.tolerance import KEYS as TOLERANCE_KEYS

# a framework, optionally on a device: torch, torch@cuda, jax@gpu (harness.running.devices)
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*(@[A-Za-z0-9]+)?$"
CASE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+~-]*$"  # ~ names a variant: <case>~variant-<k>
PARAM_PATTERN = r"^layers\.[0-9]+\.(weight|bias)$"
FRAMEWORK = {"type": "string", "pattern": NAME_PATTERN}
NUMBER = {"type": "number"}
MATRIX = {"type": "array", "items": {"type": "array", "items": NUMBER}}
VECTOR = {"type": "array", "items": NUMBER}


def _setting(setting: catalog.Setting) -> dict:
    if setting.kind == "boolean":
        return {"type": "boolean", "default": setting.default}
    if setting.kind == "choice":
        return {"enum": list(setting.choices), "default": setting.default}
    out: dict = {"type": "number"}
    if setting.default is not None:
        out["default"] = setting.default
    if setting.low is not None:
        out["exclusiveMinimum" if setting.low_open else "minimum"] = setting.low
    if setting.high is not None:
        out["exclusiveMaximum" if setting.high_open else "maximum"] = setting.high
    return out


def _named(table: dict[str, catalog.Entry], what: str) -> dict:
    """A catalog entry as a bare name, or as {name: …, setting: value, …}."""
    bare = [name for name, entry in table.items() if not entry.required]
    forms = [{"enum": bare, "description": f"a {what} with its default settings"}]
    for name, entry in table.items():
        forms.append({
            "type": "object", "description": f"{name}: {entry.definition}",
            "properties": {"name": {"const": name},
                           **{k: _setting(s) for k, s in entry.settings.items()}},
            "required": ["name", *entry.required], "additionalProperties": False})
    return {"oneOf": forms}


def _scheme(extra: dict) -> dict:
    forms = []
    for name, params in catalog.INIT_SCHEMES.items():
        forms.append({
            "type": "object",
            "properties": {"scheme": {"const": name},
                           **{k: _setting(catalog.DRAW_SETTINGS[k]) for k in params}, **extra},
            "required": ["scheme", *[k for k, d in params.items() if d is None]],
            "additionalProperties": False})
    return {"oneOf": forms}


def _source(inline: dict) -> dict:
    random = {"type": "object", "properties": {
        "random": {"enum": list(catalog.RANDOM_DATA)},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1,
                  "maxItems": 2},
        "seed": {"type": "integer", "minimum": 0},
        **{k: _setting(catalog.DRAW_SETTINGS[k]) for params in catalog.RANDOM_DATA.values()
           for k in params}},
        "required": ["random", "shape", "seed"], "additionalProperties": False}
    file = {"type": "object", "properties": {
        "file": {"type": "string"},
        "columns": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
        "column": {"type": "integer", "minimum": 0}},
        "required": ["file"], "additionalProperties": False}
    return {"anyOf": [inline, random, file]}


def _tolerance() -> dict:
    flat = {"type": "object", "properties": {k: {"type": "number", "minimum": 0}
                                             for k in TOLERANCE_KEYS},
            "additionalProperties": False}
    per_dtype = {"type": "object", "properties": {d: flat for d in catalog.DTYPES},
                 "additionalProperties": False}
    either = {"anyOf": [flat, per_dtype]}
    return {"type": "object",
            "properties": {**flat["properties"], **per_dtype["properties"],
                           "frameworks": {"type": "object", "additionalProperties": either}},
            "additionalProperties": False}


def case_schema() -> dict:
    dtype = {"enum": list(catalog.DTYPES)}
    tensors = {"type": "object", "propertyNames": {"pattern": PARAM_PATTERN},
               "additionalProperties": {"anyOf": [MATRIX, VECTOR]}}
    known = {"type": "object", "properties": {
        "framework": FRAMEWORK, "device": {"enum": ["cpu", "gpu", "cuda"]}, "quantity": {"enum": list(catalog.QUANTITIES)},
        "tensor": {"type": "string"}, "dtype": dtype, "reason": {"type": "string", "minLength": 1},
        "link": {"type": "string"},
        "steps": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
        "from_step": {"type": "integer", "minimum": 1},
        "versions": {"type": "string", "pattern": VERSION_RANGE}},
        "required": ["framework", "reason"], "additionalProperties": False,
        "anyOf": [{"required": ["quantity"]}, {"required": ["tensor"]}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Gradient conformance harness: a case",
        "description": "One training step written once, run through every framework. "
                       "See docs/case-format.md.",
        "type": "object",
        "required": ["network", "data", "loss", "optimizer"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": CASE_NAME_PATTERN},
            "description": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "dtype": {"anyOf": [dtype, {"type": "array", "items": dtype, "minItems": 1,
                                        "uniqueItems": True}]},
            "network": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["units", "activation"],
                "additionalProperties": False,
                "properties": {"units": {"type": "integer", "minimum": 1},
                               "activation": {"$ref": "#/$defs/activation"}}}},
            "params": tensors,
            "init": {"allOf": [_scheme({"seed": {"type": "integer", "minimum": 0},
                                        "bias": {"anyOf": [{"enum": list(catalog.INIT_SCHEMES)},
                                                           _scheme({})]}}),
                               {"required": ["seed"]}]},
            "data": {"type": "object", "required": ["x"], "additionalProperties": False,
                     "properties": {"x": _source(MATRIX),
                                    "y": _source({"anyOf": [MATRIX, VECTOR]})}},
            "loss": {"$ref": "#/$defs/loss"},
            "optimizer": {"$ref": "#/$defs/optimizer"},
            "steps": {"type": "integer", "minimum": 1},
            "frameworks": {"anyOf": [{"const": "all"},
                                     {"type": "array", "items": FRAMEWORK, "minItems": 1}]},
            "tolerance": _tolerance(),
            "expected": {"type": "object", "additionalProperties": False, "properties": {
                "output": MATRIX, "loss": {"anyOf": [NUMBER, VECTOR]}, "grads": tensors, "params": tensors,
                "tolerance": _tolerance()}},
            "known_discrepancies": {"type": "array", "items": known},
            "orders": {"enum": [[1], [1, 2], [2, 1]]},
            "finite_differences": {"type": "object", "additionalProperties": False,
                                   "properties": {"samples": {"type": "integer", "minimum": 1},
                                                  "richardson": {"type": "boolean"}}},
            "precision": {"enum": list(PRECISIONS), "default": "default",
                          "description": "float32 matmul precision: the frameworks' own "
                                         "defaults, or highest (full float32, TF32 off)"},
        },
        "$defs": {
            "activation": _named(catalog.ACTIVATIONS, "activation"),
            "loss": _named(catalog.LOSSES, "loss"),
            # lr is required: an optimizer is always a mapping
            "optimizer": {"oneOf": _named(catalog.OPTIMIZERS, "optimizer")["oneOf"][1:]},
        },
    }


def schema_text() -> str:
    return json.dumps(case_schema(), indent=2, ensure_ascii=False) + "\n"
