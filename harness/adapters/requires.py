"""What an adapter needs of its framework's API, looked up when a case needs it.

An adapter names the functions it calls for each activation, loss and optimizer as dotted
spellings (``jax.nn.mish``; ``optax.rmsprop(eps_in_sqrt)`` for a keyword the function must take),
each with the older spellings of the same function (``optax.huber_loss`` before optax moved its
losses into ``optax.losses``). Nothing is looked up when an adapter's module is imported or its
table built: a framework version that lacks one function (jax 0.4.13 has no ``jax.nn.mish``)
makes a skip of the cases that use it, naming the version and what is missing, and every other
case runs (docs/frameworks.md, "Supported versions").
"""
from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from functools import lru_cache
from typing import Iterable, Mapping

# one need: the spellings of one function, the current one first
Need = tuple[str, ...]


def _attribute(spelling: str):
    """The object a dotted name names, importing its top module (and a submodule not yet
    imported); None when there is none."""
    names = spelling.split(".")
    try:
        found = importlib.import_module(names[0])
    except ImportError:
        return None
    for i, name in enumerate(names[1:], start=1):
        try:
            found = getattr(found, name)
        except AttributeError:
            try:
                found = importlib.import_module(".".join(names[:i + 1]))
            except ImportError:
                return None
    return found


def _takes(function, keyword: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature: taken at its word
        return True
    return keyword in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


@lru_cache(maxsize=None)
def resolve(spelling: str):
    """``module.function`` or ``module.function(keyword)``: the function (when it takes that
    keyword), or None when this version has none."""
    name, _, keyword = spelling.partition("(")
    found = _attribute(name)
    keyword = keyword.rstrip(")").strip()
    if found is None or (keyword and not _takes(found, keyword)):
        return None
    return found


def first(need: Need):
    """The first spelling of ``need`` this version has; raises LookupError naming what is
    missing when it has none (an adapter checked ``lacking`` before, so this is a bug)."""
    for spelling in need:
        found = resolve(spelling)
        if found is not None:
            return found
    raise LookupError(f"{' or '.join(need)} not found")


def version(module: str) -> str:
    """The installed version of a top-level module's distribution, without importing it."""
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def _said(need: Need) -> str:
    return " or ".join(need)


def lacking(wanted: Mapping[str, Iterable[Need]]) -> str | None:
    """Why a case cannot run here: ``wanted`` maps what the case uses ("activation mish") to
    the functions it needs; the answer names each missing function with its package's version:
    "jax 0.4.13 has no jax.nn.mish (needed by activation mish)". None when everything is there."""
    missing: dict[str, dict[str, list[str]]] = {}  # package -> use -> the functions it lacks
    for use, needs in wanted.items():
        for need in needs:
            if not any(resolve(spelling) is not None for spelling in need):
                package = need[0].split(".")[0]
                missing.setdefault(package, {}).setdefault(use, []).append(_said(need))
    if not missing:
        return None
    return "; ".join(f"{package} {version(package)} has no " + ", ".join(
        f"{', '.join(said)} (needed by {use})" for use, said in uses.items())
        for package, uses in missing.items())
