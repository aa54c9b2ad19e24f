"""Devices: party names like ``torch@cuda`` and ``jax@gpu``, and the worker each runs in.

A bare name (``torch``, ``jax``) runs on the CPU wherever the run is, so the same command gives
the same verdicts on a laptop and on a GPU machine; a device is only ever chosen by name. The
name is ``<framework>@<device>`` for a framework whose adapter lists ``devices``; ``jax@cuda``
is accepted as another spelling of ``jax@gpu`` and becomes it. Nothing here imports a framework:
whether the device exists is asked in the worker that runs the party (the adapter's
``supports``), so a GPU party on a machine without one is a skip with the reason.
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping

CPU = "cpu"
SEPARATOR = "@"
# other spellings of a framework's device, turned into its own name
ALIASES = {"jax": {"cuda": "gpu"}}
# set by the harness when it, not the user, chose JAX's platform (harness.adapters.jax_adapter)
PINNED_MARK = "HARNESS_PINNED_JAX_PLATFORMS"


def split(name: str) -> tuple[str, str | None]:
    """(framework, device or None) of a party name."""
    base, at, device = name.partition(SEPARATOR)
    return (base, device) if at else (name, None)


def device_of(name: str) -> str:
    """The device a party runs on: a bare name is the CPU."""
    return split(name)[1] or CPU


def is_gpu(name: str) -> bool:
    return device_of(name) != CPU


def kind(device: str | None) -> str | None:
    """cpu or gpu: what a known discrepancy's device is compared by (cuda and gpu are one)."""
    return None if device is None else (CPU if device == CPU else "gpu")


def devices_of(base: str) -> tuple[str, ...]:
    """The devices a framework's adapter can be bound to; () when it has none."""
    from ..adapters import FRAMEWORKS, get_adapter

    if base not in FRAMEWORKS:
        return ()
    return tuple(getattr(get_adapter(base), "devices", ()))


def spellings(base: str) -> list[str]:
    """Every valid ``base@device`` name, aliases included (for messages)."""
    names = [f"{base}{SEPARATOR}{d}" for d in devices_of(base)]
    return names + [f"{base}{SEPARATOR}{a}" for a in ALIASES.get(base, {})]


def canonical(name: str) -> str:
    """The party's name with an alias device replaced (jax@cuda -> jax@gpu)."""
    base, device = split(name)
    if device is None:
        return name
    return f"{base}{SEPARATOR}{ALIASES.get(base, {}).get(device, device)}"


def problem(name: str) -> str | None:
    """Why a ``base@device`` name is not valid, naming the valid ones; None when it is (or when
    it names no device)."""
    base, device = split(name)
    if device is None:
        return None
    valid = devices_of(base)
    if not valid:
        having = [n for n in _device_frameworks()]
        return (f"{name!r}: {base!r} cannot be given a device (frameworks with devices: "
                f"{', '.join(n for b in having for n in spellings(b))})")
    if split(canonical(name))[1] not in valid:
        return f"{name!r}: unknown device {device!r} for {base}; valid: {', '.join(spellings(base))}"
    return None


def _device_frameworks() -> list[str]:
    from ..adapters import framework_names

    return [n for n in framework_names() if devices_of(n)]


def parse_parties(names: Iterable[str], known: Iterable[str]) -> tuple[list[str], list[str]]:
    """(the names, canonical; the problems): each a known name or a valid ``base@device``."""
    known = list(known)
    out, problems = [], []
    for name in names:
        if SEPARATOR in name:
            trouble = problem(name)
            if trouble:
                problems.append(trouble)
            else:
                out.append(canonical(name))
        elif name in known:
            out.append(name)
        else:
            problems.append(f"unknown framework {name!r}; valid: {', '.join(known)}, or "
                            f"{', '.join(n for b in _device_frameworks() for n in spellings(b))}")
    return out, problems


def worker_key(party: str) -> str:
    """Which of a lane's workers runs the party: GPU parties get a process of their own, whose
    JAX is started on the GPU; every other party shares the CPU worker."""
    return "gpu" if is_gpu(party) else CPU


def worker_environment(key: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables a worker sets before anything imports JAX: the CPU worker pins JAX to the
    CPU, the GPU worker starts it on CUDA without preallocating most of the GPU's memory. A
    JAX_PLATFORMS the user set is theirs and kept (one the harness set in the parent is not)."""
    environ = os.environ if environ is None else environ
    given = environ.get("JAX_PLATFORMS")
    users = given is not None and given != environ.get(PINNED_MARK)
    changes: dict[str, str] = {}
    if not users:
        changes["JAX_PLATFORMS"] = "cuda" if key == "gpu" else CPU
    if "XLA_PYTHON_CLIENT_PREALLOCATE" not in environ:
        changes["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    return changes


def enter_worker(key: str) -> None:
    """Set this worker process's environment (harness.running.workers._serve, before any import)."""
    changes = worker_environment(key)
    os.environ.update(changes)
    if "JAX_PLATFORMS" in changes:  # the harness's choice, not the user's
        os.environ[PINNED_MARK] = changes["JAX_PLATFORMS"]
