"""The Case: the validated, framework-neutral description of a training run.

A Case is the only input every adapter sees. It holds plain data (NumPy arrays in float64,
strings, tuples), so it pickles and can be handed to a worker process.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import numerics
from .parties import ALL, compose, device_of, kind, parts, split
from .versions import VersionRange


# a case's `precision:` (harness.adapters.precision applies it): the frameworks' own float32
# matmul defaults, or full precision (TF32 off)
HIGHEST, DEFAULT = "highest", "default"
PRECISIONS = (DEFAULT, HIGHEST)
# the keys a tolerance has (harness.verdicts.tolerance.Tolerance's fields; a test checks)
TOLERANCE_KEYS = ("atol", "rtol", "scale_rtol", "sum_rtol", "rounding")

# elements checked per tensor (seeded sample beyond that), and Richardson extrapolation
FD_DEFAULTS = {"samples": 64, "richardson": True}


def weight_name(layer: int) -> str:
    """The canonical name of a layer's weight, (units, fan_in)."""
    return f"layers.{layer}.weight"


def bias_name(layer: int) -> str:
    """The canonical name of a layer's bias, (units,)."""
    return f"layers.{layer}.bias"


def param_shapes(units: list[int], features: int) -> dict[str, tuple[int, ...]]:
    """Every parameter's canonical name and shape, in canonical order (weight, then bias, per
    layer), for layers of ``units`` fed ``features`` inputs."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, n in enumerate(units):
        shapes[weight_name(i)] = (n, features if i == 0 else units[i - 1])
        shapes[bias_name(i)] = (n,)
    return shapes


@dataclass(frozen=True)
class Layer:
    units: int
    activation: str
    settings: dict = field(default_factory=dict)  # every setting of the activation, defaults filled


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    settings: dict[str, float]

    @property
    def lr(self) -> float:
        return self.settings["lr"]


@dataclass(frozen=True)
class Expected:
    """Golden first-step values from an independent calculation; any subset may be given."""

    output: np.ndarray | None = None
    loss: np.ndarray | None = None
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=dict)

    def tensors(self) -> list[tuple[str, str, np.ndarray]]:
        """(quantity, tensor name, value) for every golden value given."""
        out: list[tuple[str, str, np.ndarray]] = []
        if self.output is not None:
            out.append(("output", "output", self.output))
        if self.loss is not None:
            out.append(("loss", "loss", self.loss))
        out += [("grad", name, value) for name, value in self.grads.items()]
        out += [("param", name, value) for name, value in self.params.items()]
        return out


@dataclass(frozen=True)
class KnownDiscrepancy:
    """A difference the case expects, with its cause: matching failures are xfail, not fail."""

    framework: str
    reason: str
    quantity: str | None = None  # output | loss | grad | param; None: any
    tensor: str | None = None  # a glob pattern over tensor names; None: any
    dtype: str | None = None  # None: every dtype of the case
    link: str | None = None
    steps: tuple[int, ...] | None = None  # only these steps; None: any
    from_step: int | None = None  # this step and every later one; None: from the first
    device: str | None = None  # cpu or gpu (harness.format.parties.kind); None: every device
    mode: str | None = None  # an execution mode (torch+compile); None: every mode
    # the versions it holds for (harness.format.versions), its package filled in; None: every one
    versions: VersionRange | None = None
    # where it is declared in the case file (1-based): not part of what it declares
    line: int | None = field(default=None, compare=False)

    @property
    def party(self) -> str:
        """The declaration's framework as written in reports: jax, jax@gpu, torch+compile."""
        return compose(self.framework, self.mode, self.device)

    def applies_to(self, party: str) -> bool:
        """Whether it covers that party: its framework in its mode on its device (a bare name
        is the CPU), or in every mode and on every device when it names none."""
        framework, mode, _ = parts(party)
        return framework == self.framework and (self.mode is None or mode == self.mode) and (
            self.device is None or kind(device_of(party)) == self.device)

    def matches(self, framework: str, dtype: str, quantity: str, tensor: str,
                step: int | None = None) -> bool:
        from fnmatch import fnmatchcase

        return (self.applies_to(framework) and (self.dtype is None or dtype == self.dtype)
                and (self.quantity is None or quantity == self.quantity)
                and (self.tensor is None or fnmatchcase(tensor, self.tensor))
                and self.covers_step(step))

    def covers_step(self, step: int | None) -> bool:
        if step is None:
            return True
        if self.steps is not None and step not in self.steps:
            return False
        return self.from_step is None or step >= self.from_step


@dataclass(frozen=True)
class Inputs:
    """Initial parameters and data, rounded to one dtype: identical for every adapter."""

    params: dict[str, np.ndarray]
    x: np.ndarray
    y: np.ndarray | None  # class indices stay int64


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    description: str
    tags: tuple[str, ...]
    dtypes: tuple[str, ...]
    layers: tuple[Layer, ...]
    loss: str
    loss_settings: dict  # every setting of the loss (reduction, delta, beta), defaults filled
    optimizer: OptimizerSpec
    steps: int
    frameworks: tuple[str, ...] | None  # None: every framework
    initial_params: dict[str, np.ndarray]  # float64, canonical names and layouts
    x: np.ndarray  # float64, (batch, features)
    y: np.ndarray | None
    tolerance: dict[str, dict[str, float]] = field(default_factory=dict)  # dtype -> overrides
    expected: Expected | None = None
    warnings: tuple[str, ...] = ()
    known_discrepancies: tuple[KnownDiscrepancy, ...] = ()
    framework_tolerance: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    orders: tuple[int, ...] = (1,)  # 2 adds Hessian-vector products
    finite_differences: dict = field(default_factory=lambda: dict(FD_DEFAULTS))
    variant_of: tuple[str, str] | None = None  # (name, file) of the case a variant was made from
    precision: str | None = None  # highest | default (harness.adapters.precision); None: not set here

    @property
    def dtype(self) -> str:
        """The dtype of a case narrowed to one dtype by :meth:`for_dtype`."""
        if len(self.dtypes) != 1:
            raise ValueError(f"case {self.name!r} has several dtypes; use for_dtype()")
        return self.dtypes[0]

    def for_dtype(self, dtype: str) -> "Case":
        return replace(self, dtypes=(dtype,))

    @property
    def batch(self) -> int:
        return int(self.x.shape[0])

    @property
    def param_names(self) -> list[str]:
        return list(param_shapes([layer.units for layer in self.layers], self.x.shape[1]))

    def wants(self, framework: str) -> bool:
        """A listed bare name wants its framework on any device the run names; a listed
        ``base@device`` only that party; ``all`` in the list every party the run names."""
        return self.frameworks is None or ALL in self.frameworks or \
            framework in self.frameworks or split(framework)[0] in self.frameworks

    @property
    def named_parties(self) -> tuple[str, ...]:
        """The parties the case lists by name (``all`` left out)."""
        return tuple(n for n in self.frameworks or () if n != ALL)

    def party_overrides(self, party: str, dtype: str) -> dict[str, float]:
        """A party's own tolerance keys (harness.verdicts.judge): under its full name
        (torch+compile@cuda), else its framework's in its mode (torch+compile), else its
        framework's (torch)."""
        framework, mode, _ = parts(party)
        for name in (party, compose(framework, mode), framework):
            if self.framework_tolerance.get(name, {}).get(dtype):
                return self.framework_tolerance[name][dtype]
        return {}

    def inputs(self, dtype: str) -> Inputs:
        """The shared starting point: float64 values rounded once to the dtype the numeric
        format stores them in (harness.format.numerics: float32 under mixed precision)."""
        storage = numerics.of(dtype).storage
        params = {k: numerics.rounded(v, storage) for k, v in self.initial_params.items()}
        y = self.y
        if y is not None and y.dtype.kind == "f":
            y = numerics.rounded(y, storage)
        return Inputs(params, numerics.rounded(self.x, storage), y)
