"""A seeded generator of small random cases, to run the harness over structures nobody wrote.

Run by hand from the repository root:

    python benchmarks/casegen.py --count 1000 --seed 0 --out DIR
    python -m harness validate DIR
    python -m harness run DIR --isolation none -q --out DIR_OUT

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

Every case is drawn in float32, float64 or both, unless ``--dtype`` names a numeric format
(bfloat16, float16, mixed-bfloat16, mixed-float16, or ``any`` to draw one of all six per case).
In a low-precision format two more rules hold, each a property of the format, not of a
framework, that the shipped cases show as known discrepancies instead
(cases/precision/):

- no bce after a sigmoid and no nll after a softmax: a probability that rounds to exactly 1 or 0
  makes log(1 − p) or log p infinite (torch's autocast refuses binary_cross_entropy on CUDA
  for that reason); bce_with_logits and cross_entropy take logits and stay;
- pure float16 trains with sgd only: adam's and rmsprop's second moment (1 − β₂)·g² underflows
  float16 for gradients below about 1e-2 (the default eps of 1e-8 rounds to 0 too), and the
  update divides by it.

``--modes`` makes every case name the execution modes among its frameworks (torch+compile,
torch+forloop, torch+foreach, torch+fused, jax+nojit, beside numpy, torch, jax and micrograd).

The generator knows the settings and target rules of the names it was written with; a name the
catalog gains later is still drawn (names are read from the catalog), with its default settings
and the generic rules of its target kind. One that needs a setting the generator does not know
makes tests/test_casegen.py fail: the signal to teach the generator about it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from harness.format import catalog  # noqa: E402

# the activations this generator was written with (a later one is drawn with its defaults)
KNOWN_ACTIVATIONS = {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu",
                     "softplus", "silu", "mish", "hardtanh", "softmax", "log_softmax"}
# activations whose output is exactly 0 over a range: in a hidden layer they get a random bias
ZERO_RANGE = {"relu"}
NEEDS_TWO_UNITS = {"softmax", "log_softmax"}

MAX_DEPTH, MAX_WIDTH, MAX_BATCH, MAX_FEATURES, MAX_STEPS = 3, 8, 8, 6, 3
SEED_RANGE = 1_000_000


class _Draw:
    """Plain Python values from one seeded NumPy stream (yaml.safe_dump takes no NumPy types)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high], both included."""
        return int(self.rng.integers(low, high + 1))

    def uniform(self, low: float, high: float, digits: int = 3) -> float:
        return round(float(self.rng.uniform(low, high)), digits)

    def log_uniform(self, low: float, high: float) -> float:
        value = float(np.exp(self.rng.uniform(np.log(low), np.log(high))))
        return float(f"{value:.3g}")

    def choice(self, options):
        options = list(options)
        return options[int(self.rng.integers(len(options)))]

    def seed(self) -> int:
        return int(self.rng.integers(SEED_RANGE))


# -- activations --------------------------------------------------------------------------------
def _activation_settings(draw: _Draw, name: str) -> dict:
    """Random valid settings, now and then (an empty dict keeps the catalog's defaults)."""
    if not draw.chance(0.5):
        return {}
    if name == "leaky_relu":
        return {"slope": draw.uniform(0.01, 0.3)}
    if name == "elu":
        return {"alpha": draw.uniform(0.5, 2.0)}
    if name == "softplus":
        return {"beta": draw.uniform(0.5, 3.0)}
    if name == "gelu":
        return {"approximate": draw.choice(catalog.GELU_APPROXIMATIONS)}
    if name == "hardtanh":  # bounds straddle 0: a zero input is strictly inside
        return {"min_val": draw.uniform(-2.0, -0.25), "max_val": draw.uniform(0.25, 2.0)}
    return {}


def _activation(draw: _Draw, name: str):
    settings = _activation_settings(draw, name)
    return {"name": name, **settings} if settings else name


def _last_activations(loss: str) -> list[str]:
    """The last activations that make ``loss`` well defined and generic."""
    names = list(catalog.ACTIVATIONS)
    if loss == "bce":
        return ["sigmoid"]
    if loss == "nll":
        return ["softmax"]
    if loss in ("cross_entropy", "bce_with_logits"):  # logits: no squashing before them
        return [n for n in names if n not in ("softmax", "sigmoid")]
    if loss in ("sum", "l1", "huber", "smooth_l1"):
        # their derivative is the same for every unit of a sample (sum always; l1, huber and
        # smooth_l1 when a sample's residuals share a sign in the linear part), and a softmax
        # maps a constant to an exactly zero gradient: what is left is rounding noise
        return [n for n in names if n != "softmax"]
    return names


def _last_activation(draw: _Draw, loss: str) -> str:
    if loss == "kl_div":  # takes log-probabilities; identity now and then (accepted, warned)
        return "identity" if draw.chance(0.15) else "log_softmax"
    return draw.choice(_last_activations(loss))


# -- losses and targets -------------------------------------------------------------------------
def _loss(draw: _Draw, name: str):
    defaults = catalog.LOSSES[name].defaults()
    settings = {}
    if "delta" in defaults and draw.chance(0.5):
        settings["delta"] = draw.uniform(0.2, 2.0)
    if "beta" in defaults and draw.chance(0.5):
        settings["beta"] = draw.uniform(0.2, 2.0)
    if "reduction" in defaults and draw.chance(0.4):
        settings["reduction"] = draw.choice(catalog.REDUCTIONS)
    return {"name": name, **settings} if settings else name


def _targets(draw: _Draw, loss: str, batch: int, units: int) -> dict | None:
    kind = catalog.LOSSES[loss].target
    seed = draw.seed()
    if kind == catalog.TARGET_NONE:
        return None
    if kind == catalog.TARGET_CLASSES:
        if draw.chance(0.5):
            return {"random": "classes", "shape": [batch], "seed": seed}
        return {"random": "onehot", "shape": [batch, units], "seed": seed}
    if kind == catalog.TARGET_DISTRIBUTION:
        return {"random": "simplex", "shape": [batch, units], "seed": seed}
    if loss.startswith("bce"):  # 0/1 targets
        y = {"random": "bernoulli", "shape": [batch, units], "seed": seed}
        if draw.chance(0.3):
            y["p"] = draw.uniform(0.2, 0.8, 2)
        return y
    y = {"random": "normal", "shape": [batch, units], "seed": seed}
    if draw.chance(0.4):
        y["std"] = draw.uniform(0.3, 1.5, 2)
    if draw.chance(0.2):
        y["mean"] = draw.uniform(-0.5, 0.5, 2)
    return y


def _inputs(draw: _Draw, batch: int, features: int) -> dict:
    x = {"random": "normal", "shape": [batch, features], "seed": draw.seed()}
    if draw.chance(0.4):
        x = {"random": "uniform", "shape": [batch, features], "seed": x["seed"],
             "low": draw.uniform(-2.0, -0.5, 2), "high": draw.uniform(0.5, 2.0, 2)}
    elif draw.chance(0.4):
        x["std"] = draw.uniform(0.3, 2.0, 2)
        if draw.chance(0.3):
            x["mean"] = draw.uniform(-0.5, 0.5, 2)
    return x


# -- parameters ---------------------------------------------------------------------------------
def _init(draw: _Draw, activations: list[str]) -> dict:
    # zeros only for one layer, with a random bias: z = b is generic. Deeper, zero weights make
    # every column of the next update alike (adam moves each by ±lr), so the gradient below is
    # exactly 0 in exact arithmetic (a softmax annihilates a constant) and rounding noise in
    # floating point, which adam and rmsprop then blow up to ±lr.
    schemes = [s for s in catalog.INIT_SCHEMES if s != "zeros" or len(activations) == 1]
    scheme = draw.choice(schemes)
    init: dict = {"scheme": scheme, "seed": draw.seed()}
    if scheme == "normal":
        init["std"] = draw.uniform(0.1, 0.7, 2)
        if draw.chance(0.3):
            init["mean"] = draw.uniform(-0.1, 0.1, 2)
    elif scheme == "uniform":
        bound = draw.uniform(0.2, 1.0, 2)
        init["low"], init["high"] = -bound, bound
    hidden_dead = any(a in ZERO_RANGE or a not in KNOWN_ACTIVATIONS for a in activations[:-1])
    if scheme == "zeros" or hidden_dead or draw.chance(0.4):
        if draw.chance(0.5):
            bound = draw.uniform(0.05, 0.5, 2)
            init["bias"] = {"scheme": "uniform", "low": -bound, "high": bound}
        else:
            init["bias"] = {"scheme": "normal", "std": draw.uniform(0.05, 0.3, 2)}
    return init


# -- optimizers ---------------------------------------------------------------------------------
def _optimizer(draw: _Draw, name: str) -> dict:
    opt: dict = {"name": name, "lr": draw.log_uniform(1e-3, 0.1)}
    defaults = catalog.OPTIMIZERS[name].defaults()
    if name == "sgd":
        if draw.chance(0.6):
            opt["momentum"] = draw.uniform(0.1, 0.95, 2)
            if draw.chance(0.35):
                opt["nesterov"] = True  # needs momentum > 0 and dampening 0
            elif draw.chance(0.4):
                opt["dampening"] = draw.uniform(0.1, 0.9, 2)
    elif name in ("adam", "adamw"):
        if draw.chance(0.3):
            opt["beta1"] = draw.uniform(0.5, 0.95, 2)
        if draw.chance(0.3):
            opt["beta2"] = draw.uniform(0.9, 0.9999, 4)
        if draw.chance(0.2):
            opt["eps"] = draw.log_uniform(1e-8, 1e-6)
        if draw.chance(0.35):
            opt["amsgrad"] = True
    elif name == "rmsprop":
        if draw.chance(0.4):
            opt["alpha"] = draw.uniform(0.8, 0.999, 3)
        if draw.chance(0.2):
            opt["eps"] = draw.log_uniform(1e-8, 1e-6)
        if draw.chance(0.4):
            opt["momentum"] = draw.uniform(0.1, 0.9, 2)
        if draw.chance(0.4):
            opt["centered"] = True
    if "weight_decay" in defaults and draw.chance(0.35):
        opt["weight_decay"] = draw.log_uniform(1e-4, 0.1)
    return opt


FUSED_SGD_BUG = {
    "framework": "torch+fused", "quantity": "param",
    "reason": "torch's fused SGD on the CPU skips the update of every full SIMD block of a "
              "bfloat16 or float16 parameter (torch 2.12 and 2.13; fixed upstream): the "
              "parameters stay where they were (as in precision/sgd-fused-bfloat16)",
    "link": "https://github.com/pytorch/pytorch/issues/191763"}


def _known_discrepancies(optimizer: dict, steps: int, dtype=None, modes: bool = False
                         ) -> list[dict]:
    """What the catalog documents optax cannot match, from the second step on; and torch's
    fused SGD in a low dtype, which modes run."""
    known = []
    if modes and optimizer["name"] == "sgd" and dtype in ("bfloat16", "float16"):
        known.append(dict(FUSED_SGD_BUG, dtype=dtype))
    return known + _optax_differences(optimizer, steps)


def _optax_differences(optimizer: dict, steps: int) -> list[dict]:
    if steps < 2:
        return []
    if optimizer["name"] == "sgd" and optimizer.get("momentum", 0) > 0 \
            and optimizer.get("dampening", 0) > 0:
        return [{"framework": "jax", "quantity": "param",
                 "reason": "optax.sgd has no dampening: its momentum buffer adds the whole "
                           "gradient from the second step on (as in optimizers/sgd-dampening)"}]
    if optimizer.get("amsgrad"):
        return [{"framework": "jax", "quantity": "param",
                 "reason": "optax.scale_by_amsgrad keeps the maximum of the bias-corrected second "
                           "moments, the definition the maximum of the raw ones (as in "
                           "optimizers/adam-amsgrad)"}]
    return []


# -- cases --------------------------------------------------------------------------------------
# the numeric formats --dtype may name, and the frameworks --modes lists
LOW_FORMATS = ("bfloat16", "float16", "mixed-bfloat16", "mixed-float16")
LOG_OF_PROBABILITY = ("bce", "nll")  # log of a sigmoid's or softmax's output
MODES = ["numpy", "torch", "jax", "micrograd", "torch+compile", "torch+forloop",
         "torch+foreach", "torch+fused", "jax+nojit"]


def _case(draw: _Draw, name: str, seed: int, dtype=None, modes: bool = False) -> dict:
    if dtype == "any":
        dtype = draw.choice(["float32", "float64", *LOW_FORMATS])
    low = dtype in LOW_FORMATS
    losses = [n for n in catalog.LOSSES if not (low and n in LOG_OF_PROBABILITY)]
    loss_name = draw.choice(losses)
    depth = draw.integer(1, MAX_DEPTH)
    activations = [draw.choice(catalog.ACTIVATIONS) for _ in range(depth - 1)]
    activations.append(_last_activation(draw, loss_name))
    classes = catalog.LOSSES[loss_name].target in (catalog.TARGET_CLASSES,
                                               catalog.TARGET_DISTRIBUTION)
    network = []
    for i, act in enumerate(activations):
        two = act in NEEDS_TWO_UNITS or (i == depth - 1 and classes)
        network.append({"units": draw.integer(2 if two else 1, MAX_WIDTH),
                        "activation": _activation(draw, act)})
    batch, features = draw.integer(1, MAX_BATCH), draw.integer(1, MAX_FEATURES)
    units = network[-1]["units"]
    drawn = draw.choice(["float32", "float64", ["float32", "float64"]])
    dtype = dtype or drawn
    init = _init(draw, activations)
    data: dict = {"x": _inputs(draw, batch, features)}
    y = _targets(draw, loss_name, batch, units)
    if y is not None:
        data["y"] = y
    loss = _loss(draw, loss_name)
    optimizer = _optimizer(draw, draw.choice(["sgd"] if dtype == "float16"
                                             else list(catalog.OPTIMIZERS)))
    steps = draw.integer(1, MAX_STEPS)
    case = {
        "name": name,
        "description": f"Generated by benchmarks/casegen.py (seed {seed}): a random "
                       f"{depth}-layer network, {loss_name} loss, {optimizer['name']}.",
        "tags": ["generated"],
        "dtype": dtype,
        "network": network,
        "init": init,
        "data": data,
        "loss": loss,
        "optimizer": optimizer,
        "steps": steps,
        "frameworks": list(MODES) if modes else "all",
    }
    known = _known_discrepancies(optimizer, steps, dtype, modes)
    if known:
        case["known_discrepancies"] = known
    return case


def generate(count: int, seed: int = 0, dtype: str | None = None,
             modes: bool = False) -> list[dict]:
    """``count`` random cases, as they would be written in YAML; the same seed, the same cases.
    ``dtype`` names every case's numeric format (``any``: one drawn per case); ``modes`` lists
    the execution modes among each case's frameworks."""
    draw = _Draw(seed)
    return [_case(draw, f"gen-{seed}-{i:04d}", seed, dtype, modes) for i in range(count)]


def write(cases: list[dict], folder: str | Path) -> list[Path]:
    """One YAML file per case, named after it; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in cases:
        path = folder / f"{case['name']}.yaml"
        path.write_text(yaml.safe_dump(case, sort_keys=False, default_flow_style=None,
                                       allow_unicode=True, width=100), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="how many cases (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="the generator's seed (default 0)")
    parser.add_argument("--out", required=True, help="the folder to write the YAML files to")
    parser.add_argument("--dtype", choices=[*catalog.DTYPES, "any"],
                        help="every case's numeric format (any: one drawn per case); default: "
                             "float32, float64 or both")
    parser.add_argument("--modes", action="store_true",
                        help="list the execution modes among every case's frameworks")
    args = parser.parse_args(argv)
    if args.count < 0 or args.seed < 0:
        parser.error("--count and --seed must be ≥ 0")
    write(generate(args.count, args.seed, args.dtype, args.modes), args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
