"""Finding the parties of a run: two registries, frameworks and oracles.

Frameworks train (the ``harness.adapters`` entry-point group); oracles check the reference's
trajectory and return rows themselves (the ``harness.oracles`` group). Both are selected by name
in the same list (``--frameworks numpy,torch,fd``), so names are unique across the two. Entries
are loaded only when used, so listing names imports no framework.
"""
from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Mapping
from functools import lru_cache

from ..format.parties import MODE, SEPARATOR, Parties, canonical, parts
from .base import Adapter, Availability, package_availability

REFERENCE = "numpy"


class Registry:
    """Names to factories from one entry-point group, plus objects registered at run time."""

    def __init__(self, kind: str, group: str, builtin: dict[str, str]):
        # the same entry points pyproject.toml declares: used when the package runs from a plain
        # checkout without being installed (entry points then do not exist)
        self.kind, self.group, self.builtin = kind, group, builtin
        self.extra: dict[str, object] = {}
        self._targets: dict[str, str] | None = None

    def targets(self) -> dict[str, str]:
        if self._targets is None:
            found = dict(self.builtin)
            for ep in importlib.metadata.entry_points(group=self.group):
                found.setdefault(ep.name, ep.value)
            self._targets = found
        return self._targets

    def names(self) -> list[str]:
        names = list(self.targets())
        return names + [n for n in self.extra if n not in names]

    def __contains__(self, name: str) -> bool:
        return name in self.extra or name in self.targets()

    def load(self, name: str):
        if name in self.extra:
            return self.extra[name]
        target = self.targets()[name]
        module_name, _, attr = target.partition(":")
        try:
            made = getattr(importlib.import_module(module_name), attr)()
        except Exception as exc:  # a plug-in's bug must not stop the other frameworks
            return BrokenAdapter(name, f"{self.kind} {target} could not be loaded: "
                                       f"{type(exc).__name__}: {exc}")
        if made.name != name:
            return BrokenAdapter(name, f"{self.kind} {target} calls itself {made.name!r}, "
                                       f"registered as {name!r}")
        return made


FRAMEWORKS = Registry("adapter", "harness.adapters", {
    "numpy": "harness.adapters.numpy_ref:NumpyAdapter",
    "torch": "harness.adapters.torch_adapter:TorchAdapter",
    "jax": "harness.adapters.jax_adapter:JaxAdapter",
    "micrograd": "harness.adapters.micrograd_adapter:MicrogradAdapter",
})
ORACLES = Registry("oracle", "harness.oracles", {
    "fd": "harness.oracles:FiniteDifferences",
    "jax-fwd": "harness.oracles:jax_forward_mode",
    "torch-fwd": "harness.oracles:torch_forward_mode",
})

__all__ = ["Adapter", "Availability", "package_availability", "REFERENCE", "FRAMEWORKS",
           "ORACLES", "adapter_names", "framework_names", "is_oracle", "get_adapter", "register",
           "unregister"]


def framework_names() -> list[str]:
    """Every framework: the reference first, then built-ins, plug-ins, run-time additions."""
    return FRAMEWORKS.names()


def adapter_names() -> list[str]:
    """Every name a run may select: the frameworks, then the oracles."""
    return FRAMEWORKS.names() + [n for n in ORACLES.names() if n not in FRAMEWORKS]


class _Bindings(Mapping):
    """framework -> the devices (or execution modes) its adapter can be bound to, asked of an
    adapter only when a name with one is checked (loading an adapter imports its module)."""

    def __init__(self, attribute: str):
        self.attribute = attribute

    def __getitem__(self, base: str) -> tuple[str, ...]:
        if base not in FRAMEWORKS:
            raise KeyError(base)
        return tuple(getattr(get_adapter(base), self.attribute, ()))

    def __iter__(self):
        return iter(framework_names())

    def __len__(self) -> int:
        return len(framework_names())


def known_parties() -> Parties:
    """Every framework and oracle installed here, and the devices and execution modes each
    framework can take."""
    return Parties(tuple(adapter_names()), _Bindings("devices"), _Bindings("modes"))


def is_oracle(name: str) -> bool:
    return name in ORACLES and name not in FRAMEWORKS


def registered() -> list[Adapter]:
    """The frameworks added at run time with :func:`register` (--impl files, tests' fakes)."""
    return list(FRAMEWORKS.extra.values())


def register(adapter: Adapter) -> None:
    """Add a framework object at run time (used by tests and by --impl files)."""
    FRAMEWORKS.extra[adapter.name] = adapter
    get_adapter.cache_clear()


def unregister(name: str) -> None:
    FRAMEWORKS.extra.pop(name, None)
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
def get_adapter(name: str):
    """The framework or oracle of that name; a stand-in that says why for one not installed.

    ``framework+mode@device`` (torch@cuda, jax@gpu, torch+fused, jax+nojit) is the framework's
    adapter bound to that mode and device, its ``name`` the full party name
    (harness.format.parties)."""
    if SEPARATOR in name or MODE in name:
        trouble = known_parties().problem(name)
        if trouble:
            return BrokenAdapter(name, trouble)
        framework, mode, device = parts(canonical(name))
        return get_adapter(framework).bound(mode=mode, device=device)
    if name in FRAMEWORKS:
        return FRAMEWORKS.load(name)
    if name in ORACLES:
        return ORACLES.load(name)
    return BrokenAdapter(name, f"{name} is not installed here (no framework or oracle is "
                               f"registered under that name)")
