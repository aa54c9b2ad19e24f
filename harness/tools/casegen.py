"""A seeded generator of small random cases, to run the harness over structures nobody wrote
(``python -m harness fuzz`` runs them; ``benchmarks/casegen.py`` writes them for the benchmarks).

The same seed, options and harness version give the same cases, byte for byte; case ``i`` of a
seed is the same whatever the count (the cases are drawn one after another from one stream).

Every name comes from harness.format.catalog, so a case can use any activation, loss, optimizer and
init scheme the catalog lists; settings are drawn at random now and then, always valid. What
would make a case ill-defined or put a point on a kink on purpose is avoided:

- the last activation fits the loss: sigmoid before bce, softmax before nll, log_softmax (or
  now and then identity) before kl_div, never softmax or sigmoid before cross_entropy or
  bce_with_logits, never softmax before sum, l1, huber or smooth_l1 (their derivative can be
  the same for every unit of a sample, sum's always, which a softmax maps to an exactly zero
  gradient: what is computed is rounding noise, which adam and rmsprop blow up to ±lr);
- softmax and log_softmax have at least 2 units (one unit is a constant);
- targets fit the loss: bernoulli for bce and bce_with_logits, classes or onehot for
  cross_entropy and nll, simplex for kl_div, normal for the regression losses, none for sum;
- data and parameters are continuous random draws of moderate scale; the zeros init is used
  for one-layer networks only and always with a random bias (z = b, never exactly 0), and a relu
  in a hidden layer gets a random bias, so a unit whose inputs are all dead relus does not sit
  at z = 0 (a kink);
- hardtanh's bounds straddle 0; rmsprop's alpha stays in [0.8, 0.999] (near 0 the centered
  variance cancels to 0).

Where the catalog documents that optax cannot match the definition (sgd dampening, amsgrad's
maximum; both from the second step on), the case declares it as a known discrepancy of jax, as
the shipped cases do. No case sets a tolerance: the defaults must hold.

Every case is drawn in float32, float64 or both, unless :class:`Options` ``dtypes`` names numeric
formats (one drawn per case; ``any`` is all six). In a low-precision format two more rules hold,
each a property of the format, not of a framework, that the shipped cases show as known
discrepancies instead (cases/precision/):

- no bce after a sigmoid and no nll after a softmax: a probability that rounds to exactly 1 or 0
  makes log(1 − p) or log p infinite (torch's autocast refuses binary_cross_entropy on CUDA
  for that reason); bce_with_logits and cross_entropy take logits and stay;
- pure float16 trains with sgd only: adam's and rmsprop's second moment (1 − β₂)·g² underflows
  float16 for gradients below about 1e-2 (the default eps of 1e-8 rounds to 0 too), and the
  update divides by it.

``modes`` makes every case name the execution modes among its frameworks (torch+compile,
torch+forloop, torch+foreach, torch+fused, jax+nojit, beside numpy, torch, jax and micrograd).
The other options narrow what is drawn (depth, widths, batch, features, steps as ranges; the
activations, losses and optimizers as lists; ``settings="default"`` for the catalog's defaults of
every optional setting); :meth:`Options.problems` refuses options no case can be drawn from.
With every option at its default the stream is the one the benchmarks' figures were made with.

The generator knows the settings and target rules of the names it was written with; a name the
catalog gains later is still drawn (names are read from the catalog), with its default settings
and the generic rules of its target kind. One that needs a setting the generator does not know
makes tests/test_casegen.py fail: the signal to teach the generator about it.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

import yaml

from ..format import catalog
from ..format.errors import UsageError
from ..format.parties import did_you_mean
from . import casegen_draws as pieces
from .casegen_draws import NEEDS_TWO_UNITS, SETTINGS, Draw

MAX_DEPTH, MAX_WIDTH, MAX_BATCH, MAX_FEATURES, MAX_STEPS = 3, 8, 8, 6, 3
# the numeric formats a case may be drawn in, and the frameworks ``modes`` lists
LOW_FORMATS = ("bfloat16", "float16", "mixed-bfloat16", "mixed-float16")
LOG_OF_PROBABILITY = ("bce", "nll")  # log of a sigmoid's or softmax's output
MODES = ["numpy", "torch", "jax", "micrograd", "torch+compile", "torch+forloop",
         "torch+foreach", "torch+fused", "jax+nojit"]
ANY_DTYPE = "any"
# each option as the command line spells it, for the messages of Options.problems
FLAGS = {"depth": "--depth", "widths": "--widths", "batch": "--batch", "features": "--features",
         "steps": "--steps", "dtypes": "--dtypes", "activations": "--activations",
         "losses": "--losses", "optimizers": "--optimizers", "settings": "--settings",
         "modes": "--modes"}
RANGES = ("depth", "widths", "batch", "features", "steps")


@dataclass(frozen=True)
class Options:
    """What the generator may draw. Ranges are (least, most), both included; an empty list is
    every name of the catalog (for ``dtypes``: float32, float64 or both per case)."""

    depth: tuple[int, int] = (1, MAX_DEPTH)
    widths: tuple[int, int] = (1, MAX_WIDTH)  # units of each layer
    batch: tuple[int, int] = (1, MAX_BATCH)
    features: tuple[int, int] = (1, MAX_FEATURES)
    steps: tuple[int, int] = (1, MAX_STEPS)
    dtypes: tuple[str, ...] = ()
    activations: tuple[str, ...] = ()
    losses: tuple[str, ...] = ()
    optimizers: tuple[str, ...] = ()
    settings: str = "random"
    modes: bool = False

    def described(self) -> dict:
        """The options as plain JSON-able data (a fuzz run's record)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def flags(self) -> list[str]:
        """The command-line flags that give these options (only those not at their default)."""
        default, words = Options(), []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            if f.name == "modes":
                words.append(FLAGS["modes"])
            elif f.name in RANGES:
                words += [FLAGS[f.name], f"{value[0]}" if value[0] == value[1]
                          else f"{value[0]}-{value[1]}"]
            else:
                words += [FLAGS[f.name], value if isinstance(value, str) else ",".join(value)]
        return words

    def problems(self) -> list[str]:
        """Why no case (or not every case) could be drawn with these options; empty when fine."""
        found = []
        for name in RANGES:
            least, most = getattr(self, name)
            if not 1 <= least <= most:
                found.append(f"{FLAGS[name]} {least}-{most}: expected MIN-MAX with 1 ≤ MIN ≤ MAX")
        if self.settings not in SETTINGS:
            found.append(f"{FLAGS['settings']} {self.settings}: expected one of "
                         f"{', '.join(SETTINGS)}")
        for name, valid in (("dtypes", catalog.DTYPES), ("activations", catalog.ACTIVATIONS),
                            ("losses", catalog.LOSSES), ("optimizers", catalog.OPTIMIZERS)):
            for value in getattr(self, name):
                if value not in valid:
                    found.append(f"{FLAGS[name]}: unknown name {value!r}"
                                 f"{did_you_mean(value, valid)}; valid: {', '.join(valid)}")
        if found:
            return found
        choices = _Choices(self)
        if not choices.activations:
            found.append(f"{FLAGS['activations']} {','.join(self.activations)}: softmax and "
                         f"log_softmax need 2 units, and {FLAGS['widths']} allows at most "
                         f"{self.widths[1]}; add another activation or widen {FLAGS['widths']}")
            return found
        for dtype in choices.dtypes or ("float32",):
            low = dtype in LOW_FORMATS
            if not choices.losses(low):
                found.append(f"no loss of {FLAGS['losses']} can be drawn in {dtype}: each needs "
                             f"a last activation {FLAGS['activations']} does not give"
                             + (", or units above --widths' most" if self.widths[1] < 2 else "")
                             + (f" ({', '.join(LOG_OF_PROBABILITY)} take the log of a "
                                "probability, never drawn in a low-precision format)"
                                if low else ""))
            if dtype == "float16" and "sgd" not in choices.optimizers:
                found.append(f"{FLAGS['dtypes']} float16 trains with sgd only (adam's and "
                             "rmsprop's second moment underflows float16): add sgd to "
                             f"{FLAGS['optimizers']} or leave float16 out of {FLAGS['dtypes']}")
        return found


class _Choices:
    """The names a case may be drawn from under some options, in the catalog's order (so the
    order a user lists them in changes nothing)."""

    def __init__(self, options: Options):
        self.options = options
        wanted = set(options.activations or catalog.ACTIVATIONS)
        self.activations = [n for n in catalog.ACTIVATIONS if n in wanted and
                            not (n in NEEDS_TWO_UNITS and options.widths[1] < 2)]
        wanted = set(options.optimizers or catalog.OPTIMIZERS)
        self.optimizers = [n for n in catalog.OPTIMIZERS if n in wanted]
        wanted = set(options.dtypes)
        self.dtypes = [n for n in catalog.DTYPES if n in wanted]

    def fits(self, loss: str) -> bool:
        """A last activation for ``loss`` is allowed, and its targets' units can be drawn."""
        kind = catalog.LOSSES[loss].target
        if kind in (catalog.TARGET_CLASSES, catalog.TARGET_DISTRIBUTION) and \
                self.options.widths[1] < 2:
            return False
        return any(n in self.activations for n in pieces.last_activations(loss))

    def losses(self, low: bool) -> list[str]:
        wanted = set(self.options.losses or catalog.LOSSES)
        return [n for n in catalog.LOSSES if n in wanted and self.fits(n)
                and not (low and n in LOG_OF_PROBABILITY)]


def _case(draw: Draw, name: str, seed: int, options: Options, choices: _Choices) -> dict:
    dtype = choices.dtypes[0] if len(choices.dtypes) == 1 else None
    if len(choices.dtypes) > 1:
        dtype = draw.choice(choices.dtypes)
    loss_name = draw.choice(choices.losses(dtype in LOW_FORMATS))
    depth = draw.integer(*options.depth)
    activations = [draw.choice(choices.activations) for _ in range(depth - 1)]
    activations.append(pieces.last_activation(draw, loss_name, choices.activations))
    classes = catalog.LOSSES[loss_name].target in (catalog.TARGET_CLASSES,
                                                   catalog.TARGET_DISTRIBUTION)
    network = []
    least, most = options.widths
    for i, act in enumerate(activations):
        two = act in NEEDS_TWO_UNITS or (i == depth - 1 and classes)
        network.append({"units": draw.integer(max(2, least) if two else least, most),
                        "activation": pieces.activation(draw, act, options.settings)})
    batch, features = draw.integer(*options.batch), draw.integer(*options.features)
    units = network[-1]["units"]
    drawn = draw.choice(["float32", "float64", ["float32", "float64"]])
    dtype = dtype or drawn
    init = pieces.init(draw, activations)
    data: dict = {"x": pieces.inputs(draw, batch, features)}
    y = pieces.targets(draw, loss_name, batch, units)
    if y is not None:
        data["y"] = y
    loss = pieces.loss(draw, loss_name, options.settings)
    optimizer = pieces.optimizer(draw, draw.choice(["sgd"] if dtype == "float16"
                                                   else choices.optimizers), options.settings)
    steps = draw.integer(*options.steps)
    case = {
        "name": name,
        "description": f"Generated by harness.tools.casegen (seed {seed}): a random "
                       f"{depth}-layer network, {loss_name} loss, {optimizer['name']}.",
        "tags": ["generated"],
        "dtype": dtype,
        "network": network,
        "init": init,
        "data": data,
        "loss": loss,
        "optimizer": optimizer,
        "steps": steps,
        "frameworks": list(MODES) if options.modes else "all",
    }
    known = pieces.known_discrepancies(optimizer, steps, dtype, options.modes)
    if known:
        case["known_discrepancies"] = known
    return case


def case_name(seed: int, index: int) -> str:
    return f"gen-{seed}-{index:04d}"


def generate(count: int, seed: int = 0, dtype: str | None = None, modes: bool = False,
             options: Options | None = None) -> list[dict]:
    """``count`` random cases, as they would be written in YAML; the same seed, the same cases.
    ``options`` narrow what is drawn; ``dtype`` (one numeric format, or ``any``: one drawn per
    case) and ``modes`` are the benchmarks' older spelling of two of them."""
    if options is None:
        dtypes = tuple(catalog.DTYPES) if dtype == ANY_DTYPE else (dtype,) if dtype else ()
        options = Options(dtypes=dtypes, modes=modes)
    return list(itertools.islice(stream(seed, options), count))


def stream(seed: int, options: Options | None = None) -> Iterator[dict]:
    """The cases of a seed one after another, without end (case i is the i-th of every count)."""
    options = options or Options()
    problems = options.problems()
    if problems:
        raise UsageError("\n".join(problems))
    draw, choices = Draw(seed), _Choices(options)
    for i in itertools.count():
        yield _case(draw, case_name(seed, i), seed, options, choices)


def yaml_text(case: dict) -> str:
    return yaml.safe_dump(case, sort_keys=False, default_flow_style=None, allow_unicode=True,
                          width=100)


def write(cases: list[dict], folder: str | Path) -> list[Path]:
    """One YAML file per case, named after it; returns the paths. A file that already holds
    the same text is left as it is."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in cases:
        path = folder / f"{case['name']}.yaml"
        text = yaml_text(case)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


# -- the options as the command line gives them ----------------------------------------------
def parse_range(text: str, option: str) -> tuple[int, int]:
    """``N`` or ``MIN-MAX``: whole numbers, 1 ≤ MIN ≤ MAX."""
    parts = str(text).strip().split("-")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2) or not 1 <= numbers[0] <= numbers[-1]:
        raise UsageError(f"{option} {text}: expected a whole number N ≥ 1 or a range MIN-MAX "
                         "with 1 ≤ MIN ≤ MAX, such as 1-3")
    return numbers[0], numbers[-1]


def parse_names(text: str, option: str, valid) -> tuple[str, ...]:
    """A comma-separated list of names from ``valid``, in ``valid``'s order, each once."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    valid = list(valid)
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        what = "; ".join(f"unknown name {n!r}{did_you_mean(n, valid)}" for n in unknown) or \
            f"expected at least one name, found {text!r}"
        raise UsageError(f"{option}: {what}; valid: {', '.join(valid)}")
    return tuple(n for n in valid if n in names)


def parse_dtypes(text: str, option: str) -> tuple[str, ...]:
    """Numeric formats, or ``any`` for all six."""
    if str(text).strip() == ANY_DTYPE:
        return tuple(catalog.DTYPES)
    return parse_names(text, option, catalog.DTYPES)
