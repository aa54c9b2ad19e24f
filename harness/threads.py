"""One compute thread per worker process: parallelism comes from --jobs, not from each library.

Every worker starts with this, before any framework is imported. Two reasons:

- N lanes of workers on N cores do not oversubscribe: torch, the BLAS under NumPy and XLA each
  start a thread per core by default, so 2 lanes on 2 cores would run 8 or more busy threads.
- The results do not depend on --jobs or on the machine: a reduction split across threads sums
  in another order, which can change the last bits of a large matrix product. One thread in every
  worker gives the same bits with --jobs 1 as with --jobs 8, on a laptop as on a server.

A variable the user has set is theirs and is left alone.
"""
from __future__ import annotations

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false"


def pin_threads() -> dict[str, str]:
    """Set one thread for every library that reads its count from the environment; returns the
    settings in force (for the report's notes)."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {XLA_SINGLE_THREAD}".strip()
    return settings()


def settings() -> dict[str, str]:
    """The thread settings this process runs under."""
    return {name: os.environ.get(name, "") for name in THREAD_VARIABLES + ("XLA_FLAGS",)}
