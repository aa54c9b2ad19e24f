"""The pieces of a generated case (harness.tools.casegen), each drawn from one seeded stream:
activations and their settings, the loss and its targets, the inputs, the initial parameters,
the optimizer, and the known discrepancies a case of those names must declare.

Every rule here keeps a case well defined and away from a kink on purpose; casegen's docstring
says each one and why. ``settings="default"`` draws no optional setting at all (the catalog's
defaults), the learning rate aside, which every optimizer needs.
"""
from __future__ import annotations

import numpy as np

from ..format import catalog

# the activations this generator was written with (a later one is drawn with its defaults)
KNOWN_ACTIVATIONS = {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu",
                     "softplus", "silu", "mish", "hardtanh", "softmax", "log_softmax"}
# activations whose output is exactly 0 over a range: in a hidden layer they get a random bias
ZERO_RANGE = {"relu"}
NEEDS_TWO_UNITS = {"softmax", "log_softmax"}
SEED_RANGE = 1_000_000
SETTINGS = ("random", "default")  # optional settings drawn now and then, or never


class Draw:
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
def _activation_settings(draw: Draw, name: str) -> dict:
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


def activation(draw: Draw, name: str, settings: str = "random"):
    """An activation as a case writes it: its name, or a mapping with drawn settings."""
    drawn = _activation_settings(draw, name) if settings == "random" else {}
    return {"name": name, **drawn} if drawn else name


def last_activations(loss: str) -> list[str]:
    """The last activations that make ``loss`` well defined and generic."""
    names = list(catalog.ACTIVATIONS)
    if loss == "bce":
        return ["sigmoid"]
    if loss == "nll":
        return ["softmax"]
    if loss == "kl_div":  # log-probabilities; identity now and then (accepted, warned)
        return ["log_softmax", "identity"]
    if loss in ("cross_entropy", "bce_with_logits"):  # logits: no squashing before them
        return [n for n in names if n not in ("softmax", "sigmoid")]
    if loss in ("sum", "l1", "huber", "smooth_l1"):
        # their derivative is the same for every unit of a sample (sum always; l1, huber and
        # smooth_l1 when a sample's residuals share a sign in the linear part), and a softmax
        # maps a constant to an exactly zero gradient: what is left is rounding noise
        return [n for n in names if n != "softmax"]
    return names


def last_activation(draw: Draw, loss: str, allowed: list[str]) -> str:
    """The last layer's activation for ``loss``, among ``allowed`` (never empty for it)."""
    fitting = [n for n in last_activations(loss) if n in allowed]
    if loss == "kl_div" and len(fitting) == 2:
        return "identity" if draw.chance(0.15) else "log_softmax"
    return draw.choice(fitting)


# -- losses and targets -------------------------------------------------------------------------
def loss(draw: Draw, name: str, settings: str = "random"):
    defaults = catalog.LOSSES[name].defaults()
    drawn = {}
    if settings == "random":
        if "delta" in defaults and draw.chance(0.5):
            drawn["delta"] = draw.uniform(0.2, 2.0)
        if "beta" in defaults and draw.chance(0.5):
            drawn["beta"] = draw.uniform(0.2, 2.0)
        if "reduction" in defaults and draw.chance(0.4):
            drawn["reduction"] = draw.choice(catalog.REDUCTIONS)
    return {"name": name, **drawn} if drawn else name


def targets(draw: Draw, loss_name: str, batch: int, units: int) -> dict | None:
    kind = catalog.LOSSES[loss_name].target
    seed = draw.seed()
    if kind == catalog.TARGET_NONE:
        return None
    if kind == catalog.TARGET_CLASSES:
        if draw.chance(0.5):
            return {"random": "classes", "shape": [batch], "seed": seed}
        return {"random": "onehot", "shape": [batch, units], "seed": seed}
    if kind == catalog.TARGET_DISTRIBUTION:
        return {"random": "simplex", "shape": [batch, units], "seed": seed}
    if loss_name.startswith("bce"):  # 0/1 targets
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


def inputs(draw: Draw, batch: int, features: int) -> dict:
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
def init(draw: Draw, activations: list[str]) -> dict:
    # zeros only for one layer, with a random bias: z = b is generic. Deeper, zero weights make
    # every column of the next update alike (adam moves each by ±lr), so the gradient below is
    # exactly 0 in exact arithmetic (a softmax annihilates a constant) and rounding noise in
    # floating point, which adam and rmsprop then blow up to ±lr.
    schemes = [s for s in catalog.INIT_SCHEMES if s != "zeros" or len(activations) == 1]
    scheme = draw.choice(schemes)
    drawn: dict = {"scheme": scheme, "seed": draw.seed()}
    if scheme == "normal":
        drawn["std"] = draw.uniform(0.1, 0.7, 2)
        if draw.chance(0.3):
            drawn["mean"] = draw.uniform(-0.1, 0.1, 2)
    elif scheme == "uniform":
        bound = draw.uniform(0.2, 1.0, 2)
        drawn["low"], drawn["high"] = -bound, bound
    hidden_dead = any(a in ZERO_RANGE or a not in KNOWN_ACTIVATIONS for a in activations[:-1])
    if scheme == "zeros" or hidden_dead or draw.chance(0.4):
        if draw.chance(0.5):
            bound = draw.uniform(0.05, 0.5, 2)
            drawn["bias"] = {"scheme": "uniform", "low": -bound, "high": bound}
        else:
            drawn["bias"] = {"scheme": "normal", "std": draw.uniform(0.05, 0.3, 2)}
    return drawn


# -- optimizers ---------------------------------------------------------------------------------
def optimizer(draw: Draw, name: str, settings: str = "random") -> dict:
    opt: dict = {"name": name, "lr": draw.log_uniform(1e-3, 0.1)}
    if settings != "random":
        return opt
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


def known_discrepancies(opt: dict, steps: int, dtype=None, modes: bool = False) -> list[dict]:
    """What the catalog documents optax cannot match, from the second step on; and torch's
    fused SGD in a low dtype, which modes run."""
    known = []
    if modes and opt["name"] == "sgd" and dtype in ("bfloat16", "float16"):
        known.append(dict(FUSED_SGD_BUG, dtype=dtype))
    return known + _optax_differences(opt, steps)


def _optax_differences(opt: dict, steps: int) -> list[dict]:
    if steps < 2:
        return []
    if opt["name"] == "sgd" and opt.get("momentum", 0) > 0 and opt.get("dampening", 0) > 0:
        return [{"framework": "jax", "quantity": "param",
                 "reason": "optax.sgd has no dampening: its momentum buffer adds the whole "
                           "gradient from the second step on (as in optimizers/sgd-dampening)"}]
    if opt.get("amsgrad"):
        return [{"framework": "jax", "quantity": "param",
                 "reason": "optax.scale_by_amsgrad keeps the maximum of the bias-corrected second "
                           "moments, the definition the maximum of the raw ones (as in "
                           "optimizers/adam-amsgrad)"}]
    return []
