"""torch for the fork server (harness.preload): its optimizers import torch._dynamo at their
first use, about 0.8 s, paid here once."""
from __future__ import annotations

from . import preload

try:
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401
    import torch.func  # noqa: F401
    import torch.optim  # noqa: F401

    from .adapters import torch_adapter  # noqa: F401
except ImportError:  # the worker reports it, as without a fork server
    pass
preload.freeze()
