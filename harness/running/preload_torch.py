"""torch for the fork server (harness.running.preload): the imports a torch party's first job would make
(harness.adapters.torch_adapter.import_torch), paid here once."""
from __future__ import annotations

from . import preload

try:
    from ..adapters.torch_adapter import import_torch

    import_torch()
except ImportError:  # the worker reports it, as without a fork server
    pass
preload.freeze()
