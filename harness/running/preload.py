"""What CPU workers import before they are forked (harness.running.workers): the harness's adapters here,
torch in harness.running.preload_torch and JAX in harness.running.preload_jax when the run has parties that use
them; once per run, not once per worker.

These modules are imported only in the fork server, a process multiprocessing starts for the
purpose, never in the main process. Forking is safe from a process with one thread, so nothing
here computes: importing torch, JAX and the rest starts no thread (a test checks it, for every
version the suite runs with), where a first matrix product or JAX's first array would. The
environment is the CPU worker's (its thread counts and JAX's platform) before anything is
imported, as a spawned worker sets it. JAX's compilation cache is configured later, in each
worker, from the environment of the run that starts it.
"""
from __future__ import annotations

import gc

from .devices import enter_worker
from .threads import pin_threads

enter_worker("cpu")
pin_threads()

from . import jobs  # noqa: E402,F401  (and through it the adapters' registry)
from ..adapters import numpy_ref  # noqa: E402,F401


def freeze() -> None:
    """The server's objects stay out of the workers' garbage collections: a collection would
    write to every inherited object's header, copying each page torch and JAX were imported
    into, once per worker (Python's gc.freeze documentation describes this use)."""
    gc.collect()
    gc.freeze()


freeze()
