"""What CPU workers import before they are forked (harness.workers): torch, JAX, optax, micrograd
and the harness's adapters, once per run, not once per worker.

This module is imported only in the fork server, a process multiprocessing starts for the
purpose, never in the main process. Forking is safe from a process with one thread, so nothing
here computes: importing torch, JAX and the rest starts no thread (a test checks it, for every
version the suite runs with), where a first matrix product or JAX's first array would. The
environment is the CPU worker's (its thread counts and JAX's platform) before anything is
imported, as a spawned worker sets it. JAX's compilation cache is configured later, in each
worker, from the environment of the run that starts it.
"""
from __future__ import annotations

from .devices import enter_worker
from .threads import pin_threads

enter_worker("cpu")
pin_threads()

try:  # torch's optimizers import torch._dynamo at their first use: about 0.8 s, paid here once
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401
    import torch.func  # noqa: F401
    import torch.optim  # noqa: F401
except ImportError:
    pass
try:
    import optax  # noqa: F401

    from .adapters.jax_adapter import _import_jax

    _import_jax(configure_cache=False)
except ImportError:
    pass
try:
    import micrograd.engine  # noqa: F401
except ImportError:
    pass

from . import jobs  # noqa: E402,F401  (and through it the adapters' registry)
from .adapters import micrograd_adapter, numpy_ref, torch_adapter  # noqa: E402,F401
