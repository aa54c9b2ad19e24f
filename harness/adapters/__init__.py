"""Finding adapters: the built-in ones and any registered under the ``harness.adapters`` group.

Adapters are loaded only when selected, so listing names imports no framework.
"""
from __future__ import annotations

import importlib
import importlib.metadata
from functools import lru_cache

from .base import Adapter, Availability, package_availability

REFERENCE = "numpy"
GROUP = "harness.adapters"

# The same entry points pyproject.toml declares; used when the package runs from a plain checkout
# without being installed (entry points then do not exist).
BUILTIN: dict[str, str] = {
    "numpy": "harness.adapters.numpy_ref:NumpyAdapter",
    "torch": "harness.adapters.torch_adapter:TorchAdapter",
    "jax": "harness.adapters.jax_adapter:JaxAdapter",
    "micrograd": "harness.adapters.micrograd_adapter:MicrogradAdapter",
    # oracles: checks that need no framework to be right (harness.oracles)
    "fd": "harness.oracles:FiniteDifferences",
    "jax-fwd": "harness.oracles:jax_forward_mode",
    "torch-fwd": "harness.oracles:torch_forward_mode",
}

__all__ = ["Adapter", "Availability", "package_availability", "REFERENCE", "adapter_names",
           "get_adapter", "register"]

_EXTRA: dict[str, Adapter] = {}


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in importlib.metadata.entry_points(group=GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def adapter_names() -> list[str]:
    """Every framework name: the reference first, then built-ins, then plug-ins."""
    names = list(_entry_points())
    return names + [n for n in _EXTRA if n not in names]


def registered() -> list[Adapter]:
    """The adapters added at run time with :func:`register`."""
    return list(_EXTRA.values())


def register(adapter: Adapter) -> None:
    """Add an adapter object at run time (used by tests and by --impl style extensions)."""
    _EXTRA[adapter.name] = adapter
    get_adapter.cache_clear()


class BrokenAdapter:
    """Stands in for a plug-in whose module cannot be loaded: reported, never fatal."""

    def __init__(self, name: str, reason: str):
        self.name, self.reason = name, reason

    def availability(self) -> Availability:
        return Availability(False, None, self.reason)

    def supports(self, case) -> str | None:
        return self.reason

    def run(self, case, inputs):
        raise RuntimeError(self.reason)


@lru_cache(maxsize=None)
def get_adapter(name: str) -> Adapter:
    if name in _EXTRA:
        return _EXTRA[name]
    if name not in _entry_points():  # a case may name a plug-in installed elsewhere
        return BrokenAdapter(name, f"{name} is not installed here (no adapter is registered "
                                   f"under that name in the {GROUP!r} entry-point group)")
    target = _entry_points()[name]
    module_name, _, attr = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
        adapter = factory()
    except Exception as exc:  # a plug-in's bug must not stop the other frameworks
        return BrokenAdapter(name, f"adapter {target} could not be loaded: "
                                   f"{type(exc).__name__}: {exc}")
    if adapter.name != name:
        return BrokenAdapter(name, f"adapter {target} calls itself {adapter.name!r}, "
                                   f"registered as {name!r}")
    return adapter
