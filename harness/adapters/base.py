"""The adapter interface: how one framework runs a Case.

An adapter is any object with these members (a ``typing.Protocol``, so no base class is needed).
Third-party adapters register a factory under the ``harness.adapters`` entry-point group, exactly
as the built-in ones do:

    [project.entry-points."harness.adapters"]
    mygrad = "my_package.adapter:MyGradAdapter"

Rules every adapter follows:
- it imports its framework inside ``run`` (not at module import), so ``list`` stays fast;
- it computes in ``case.dtype`` from exactly the arrays it is given, never re-initialising;
- it returns plain float64 NumPy arrays in canonical names and layouts: ``layers.{i}.weight`` is
  (units, fan_in), ``layers.{i}.bias`` is (units,), the output is (batch, units);
- ``supports`` says up front why a case is beyond it; the runner reports that as a skip.

Optionally, ``prepare()`` imports the framework (and starts its device): a worker calls it once,
before the party's first job, outside the per-comparison time limit (harness.running.jobs.Prepare).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..format.case import Case, Inputs
from ..format.parties import compose
from ..format.trace import Trace


class Bindable:
    """For an adapter that can be bound to a device or an execution mode: ``devices`` and
    ``modes`` list them, and the bound adapter is named ``<name>+<mode>@<device>``
    (harness.format.parties). Unbound (both None), it is the bare name: the framework's default
    way, on the CPU wherever the run is."""

    name: str
    devices: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()

    def __init__(self, device: str | None = None, mode: str | None = None):
        self.device, self.mode = device, mode
        if device is not None or mode is not None:
            self.name = compose(type(self).name, mode, device)

    def bound(self, mode: str | None = None, device: str | None = None):
        return type(self)(device, mode)


class AdapterError(Exception):
    """An adapter's own, complete explanation of why a case could not run (shown as it is)."""


@dataclass(frozen=True)
class Availability:
    available: bool
    version: str | None = None
    reason: str | None = None  # why it is not available


@runtime_checkable
class Adapter(Protocol):
    name: str

    def availability(self) -> Availability:
        """Whether the framework can be imported, and its version; must not import it."""

    def supports(self, case: Case) -> str | None:
        """None when the adapter can run ``case``, else the reason it cannot (a skip)."""

    def run(self, case: Case, inputs: Inputs) -> Trace:
        """Train for ``case.steps`` steps from ``inputs`` in ``case.dtype``."""


@runtime_checkable
class ForwardAndReverse(Protocol):
    """An adapter whose framework has a forward mode: the jax-fwd and torch-fwd oracles."""

    def forward_and_reverse(self, case: Case, param_sets: list[dict], x, y,
                            indices: dict) -> list[tuple[dict, dict]]:
        """Per parameter set, (reverse-mode gradients, forward-mode derivatives along the basis
        directions of the sampled ``indices``)."""


@runtime_checkable
class HessianVectorProduct(Protocol):
    """An adapter that differentiates its own backward pass: second order (``orders: [1, 2]``)."""

    def hvp(self, case: Case, params: dict, x, y, vector: dict) -> dict:
        """H·v of the loss at ``params`` along ``vector``, per parameter name."""


def package_availability(distribution: str, module: str | None = None) -> Availability:
    """Availability of an installed package, found without importing it."""
    if importlib.util.find_spec(module or distribution) is None:
        return Availability(False, None, f"{distribution} is not installed "
                                         f"(pip install {distribution})")
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return Availability(True, version)
