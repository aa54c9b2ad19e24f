"""Where a party runs: the worker of a lane that serves it, and that worker's environment.

Party names (``torch@cuda``, ``jax@gpu``) are harness.format.parties. Nothing here imports a
framework: whether the device exists is asked in the worker that runs the party (the adapter's
``supports``), so a GPU party on a machine without one is a skip with the reason.
"""
from __future__ import annotations

import os
from typing import Mapping

from ..format.parties import CPU, PINNED_MARK, is_gpu


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
