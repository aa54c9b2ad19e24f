"""One compute thread for torch and the BLAS under NumPy in every worker process.

Every worker starts with this, before any framework is imported. Two reasons:

- N lanes of workers on N cores do not oversubscribe: torch and the BLAS under NumPy each start
  a thread per core by default, so 2 lanes on 2 cores would run 4 or more busy threads.
- Their results do not depend on --jobs or on the machine: a reduction split across threads
  sums in another order, which can change the last bits of a large matrix product.

XLA is left with its own thread pool: pinned to one thread, its compiler (JAX's largest cost by
far) got slower and lanes gained less (benchmarks.md). Its pool is sized by the machine, never by
--jobs, so report.csv is still the same bytes with any --jobs; across machines with different
core counts JAX's last bits can differ (measured: 14 % of tensors, at most 4e-14 relative, one
thread against two). ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` pins it too.

A variable the user has set is theirs and is left alone.
"""
from __future__ import annotations

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pin_threads() -> dict[str, str]:
    """Set one thread for every library that reads its count from the environment; returns the
    settings in force (for the report's notes)."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    return settings()


def settings() -> dict[str, str]:
    """The thread settings this process runs under."""
    return {name: os.environ.get(name, "") for name in THREAD_VARIABLES + ("XLA_FLAGS",)}
