"""JAX and optax for the fork server (harness.running.preload), with float64 enabled; no array is made
(that would start XLA's threads)."""
from __future__ import annotations

from . import preload

try:
    import optax  # noqa: F401

    from ..adapters.jax_adapter import import_jax

    import_jax(configure_cache=False)  # the cache is the run's: each worker configures it
except ImportError:  # the worker reports it, as without a fork server
    pass
preload.freeze()
