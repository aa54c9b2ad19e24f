"""The one place that names what a case may use, with every default spelt out.

Each name means one definition, written here as an entry: its formula, its settings (type,
default, the rule a value must meet), where its derivative is a convention rather than a limit
(its kinks), and for a loss the kind of target it takes. The loader checks cases against the
entries, the fd oracle reads their kinks, `python -m harness schema` and `python -m harness
vocabulary` are made from them. Adapters map a name to their framework's own function with the
arguments that make it match the definition; libraries' own defaults are never inherited
(adamw's weight decay is 0.01 in torch and 1e-4 in optax; rmsprop's decay is 0.99 in torch and
0.9 in optax). Where no argument can make a framework match, the difference is declared as a
known discrepancy in the cases that show it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .numerics import DTYPES as NUMERIC_FORMATS

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

GELU_APPROXIMATIONS = ("none", "tanh")
REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class Setting:
    """One setting of an entry. Its default decides its type: a bool is a boolean, a str one of
    ``choices``, a number a number; None marks a required number. A number may have bounds."""

    default: float | bool | str | None
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is excluded
    high_open: bool = False
    choices: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        if isinstance(self.default, bool):
            return "boolean"
        return "choice" if isinstance(self.default, str) else "number"

    @property
    def rule(self) -> str:
        """The bounds in words: "≥ 0", "> 0", "in [0, 1)"; "" when there are none."""
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '≥'} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '≤'} {self.high:g}"
        return ""

    def problem(self, value: float) -> str | None:
        """None when a number is within the bounds, else what was expected."""
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        high_ok = self.high is None or (value < self.high if self.high_open else
                                        value <= self.high)
        return None if low_ok and high_ok else f"expected a number {self.rule}, found {value}"


def _at_least_0(default: float = 0.0) -> Setting:
    return Setting(default, low=0.0)


def _positive(default: float) -> Setting:
    return Setting(default, low=0.0, low_open=True)


def _unit_interval(default: float) -> Setting:
    return Setting(default, low=0.0, high=1.0, high_open=True)


NO_KINKS: Callable[[dict], tuple[float, ...]] = lambda settings: ()  # noqa: E731


@dataclass(frozen=True)
class Entry:
    name: str
    definition: str
    settings: dict[str, Setting] = field(default_factory=dict)
    # a rule across settings: (setting it names, problem) or None
    constraint: Callable[[dict], tuple[str, str] | None] | None = field(default=None,
                                                                         compare=False)

    def defaults(self) -> dict:
        return {key: setting.default for key, setting in self.settings.items()}

    def with_defaults(self, given: dict) -> dict:
        """Every setting: the given ones, the defaults for the rest."""
        return {key: given.get(key, s.default) for key, s in self.settings.items()}

    @property
    def required(self) -> list[str]:
        return [key for key, s in self.settings.items() if s.default is None]


@dataclass(frozen=True)
class Activation(Entry):
    # pre-activation values z where the derivative is a convention (relu′(0) = 0)
    kinks: Callable[[dict], tuple[float, ...]] = field(default=NO_KINKS, compare=False)
    per_sample: bool = False  # acts on each sample's units together (softmax)


TARGET_NONE, TARGET_LIKE_OUTPUT, TARGET_CLASSES, TARGET_DISTRIBUTION = (
    "none", "like-output", "classes", "distribution")
ELEMENTS, SAMPLES = "elements", "samples"  # what `reduction: mean` averages over


@dataclass(frozen=True)
class Loss(Entry):
    target: str = TARGET_LIKE_OUTPUT
    reduced_over: str = ELEMENTS
    # residuals d = out − y where the derivative is a convention (|d|′ at 0)
    kinks: Callable[[dict], tuple[float, ...]] = field(default=NO_KINKS, compare=False)


@dataclass(frozen=True)
class OptimizerEntry(Entry):
    pass


def _hardtanh_bounds(s: dict) -> tuple[str, str] | None:
    if s["min_val"] >= s["max_val"]:
        return "", f"expected min_val < max_val, found {s['min_val']} ≥ {s['max_val']}"
    return None


def _nesterov(s: dict) -> tuple[str, str] | None:
    if s["nesterov"] and (s["momentum"] <= 0 or s["dampening"] != 0):
        return "nesterov", (f"nesterov needs momentum > 0 and dampening 0 (found momentum "
                            f"{s['momentum']}, dampening {s['dampening']})")
    return None


_ZERO = lambda s: (0.0,)  # noqa: E731

ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("identity", "z"),
    Activation("sigmoid", "1 / (1 + e^−z)"),
    Activation("tanh", "tanh z"),
    Activation("relu", "max(z, 0); relu′(0) = 0", kinks=_ZERO),
    Activation("leaky_relu", "z if z > 0 else slope·z; leaky_relu′(0) = slope",
               {"slope": Setting(0.01)}, kinks=_ZERO),
    Activation("elu", "z if z > 0 else alpha·(e^z − 1); elu′(0) = alpha",
               {"alpha": Setting(1.0)}, kinks=_ZERO),
    Activation("selu", f"{SELU_SCALE:.6f}·elu(z, alpha={SELU_ALPHA:.6f})", kinks=_ZERO),
    # its derivative is 1 on both sides of 0, its curvature is not: fd there is inconclusive
    Activation("celu", "max(z, 0) + min(0, alpha·(e^(z/alpha) − 1)); celu′(0) = 1",
               {"alpha": _positive(1.0)}, kinks=_ZERO),
    Activation("gelu", "z·Φ(z) (approximate: none), or 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³))) "
                       "(approximate: tanh)",
               {"approximate": Setting("none", choices=GELU_APPROXIMATIONS)}),
    Activation("softplus", "log(1 + e^(beta·z)) / beta, no linear threshold",
               {"beta": _positive(1.0)}),
    Activation("silu", "z·sigmoid(z)"),
    Activation("mish", "z·tanh(softplus(z))"),
    Activation("hardtanh", "clip(z, min_val, max_val); derivative 1 strictly inside, 0 at and "
                           "beyond the edges",
               {"min_val": Setting(-1.0), "max_val": Setting(1.0)}, _hardtanh_bounds,
               kinks=lambda s: (s["min_val"], s["max_val"])),
    Activation("softsign", "z / (1 + |z|)"),
    Activation("softmax", "e^z / Σ e^z over each sample's units", per_sample=True),
    Activation("log_softmax", "z − log Σ e^z over each sample's units", per_sample=True),
)}

_REDUCTION = {"reduction": Setting("mean", choices=REDUCTIONS)}

LOSSES: dict[str, Loss] = {entry.name: entry for entry in (
    Loss("sum", "out (always summed)", target=TARGET_NONE),
    Loss("mse", "(out − y)²", dict(_REDUCTION)),
    Loss("l1", "|out − y|; its derivative at 0 is 0", dict(_REDUCTION), kinks=_ZERO),
    Loss("huber", "0.5·d² if |d| ≤ delta else delta·(|d| − 0.5·delta), d = out − y",
         {"delta": _positive(1.0), **_REDUCTION}, kinks=lambda s: (-s["delta"], s["delta"])),
    Loss("smooth_l1", "0.5·d²/beta if |d| < beta else |d| − 0.5·beta, d = out − y (huber / delta)",
         {"beta": _positive(1.0), **_REDUCTION}, kinks=lambda s: (-s["beta"], s["beta"])),
    Loss("bce", "−[y·log p + (1−y)·log(1−p)], p = out, no clamping", dict(_REDUCTION)),
    Loss("bce_with_logits", "bce with p = sigmoid(out), computed stably", dict(_REDUCTION)),
    Loss("poisson_nll", "e^out − y·out; out is the log of the rate (torch's log_input=True, "
                        "full=False: no Stirling term)", dict(_REDUCTION)),
    Loss("cross_entropy", "−log softmax(out)[class]", dict(_REDUCTION), target=TARGET_CLASSES,
         reduced_over=SAMPLES),
    Loss("nll", "−log out[class]; out are probabilities", dict(_REDUCTION),
         target=TARGET_CLASSES, reduced_over=SAMPLES),
    Loss("kl_div", "Σ_units y·(log y − out), 0·log 0 = 0; out are log-probabilities, "
                   "y probabilities", dict(_REDUCTION), target=TARGET_DISTRIBUTION,
         reduced_over=SAMPLES),
)}

_LR = {"lr": Setting(None, low=0.0)}

OPTIMIZERS: dict[str, OptimizerEntry] = {entry.name: entry for entry in (
    OptimizerEntry(
        "sgd", "g ← g + weight_decay·p; b ← momentum·b + (1 − dampening)·g (b = g at the first "
               "step); g ← g + momentum·b if nesterov else b (when momentum ≠ 0); p ← p − lr·g",
        {**_LR, "momentum": _at_least_0(),
         "dampening": Setting(0.0, low=0.0, high=1.0),
         "nesterov": Setting(False), "weight_decay": _at_least_0()}, _nesterov),
    OptimizerEntry(
        "adam", "g ← g + weight_decay·p; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; v_max ← "
                "max(v_max, v) with amsgrad (of the raw v); m̂ = m/(1−β1^t); v̂ = v/(1−β2^t) "
                "(v_max likewise); p ← p − lr·m̂/(√v̂ + eps)",
        {**_LR, "beta1": _unit_interval(0.9), "beta2": _unit_interval(0.999),
         "eps": _at_least_0(1e-8), "weight_decay": _at_least_0(),
         "amsgrad": Setting(False)}),
    OptimizerEntry(
        "adamw", "as adam without the L2 term, then p ← p − lr·weight_decay·p (decoupled), "
                 "applied first",
        {**_LR, "beta1": _unit_interval(0.9), "beta2": _unit_interval(0.999),
         "eps": _at_least_0(1e-8),
         "weight_decay": _at_least_0(0.01), "amsgrad": Setting(False)}),
    OptimizerEntry(
        "rmsprop", "g ← g + weight_decay·p; v ← alpha·v + (1−alpha)·g²; centered: ḡ ← "
                   "alpha·ḡ + (1−alpha)·g, v′ = v − ḡ² (else v′ = v); u = g/(√v′ + eps), eps "
                   "outside the root; b ← momentum·b + u and u = b when momentum ≠ 0; p ← p − lr·u",
        {**_LR, "alpha": _unit_interval(0.99), "eps": _at_least_0(1e-8),
         "weight_decay": _at_least_0(), "momentum": _at_least_0(), "centered": Setting(False)}),
)}

# init scheme -> {parameter: default (None = required)}; fan_in, fan_out are the layer's
INIT_SCHEMES: dict[str, dict[str, float | None]] = {
    "xavier_uniform": {},  # U(−b, b), b = sqrt(6 / (fan_in + fan_out))
    "xavier_normal": {},   # N(0, 2 / (fan_in + fan_out))
    "he_normal": {},       # N(0, 2 / fan_in)
    "normal": {"mean": 0.0, "std": None},
    "uniform": {"low": None, "high": None},
    "zeros": {},
}

# the bounds on a setting of an init scheme or a random data generator: values are drawn with
# them, so each must be finite and so must the range between them (uniform(-1e308, 1e308)
# overflows); a spread is positive and a probability lies in [0, 1]
DRAW_BOUND = 1e300
DRAW_SETTINGS: dict[str, Setting] = {
    "mean": Setting(None, low=-DRAW_BOUND, high=DRAW_BOUND),
    "low": Setting(None, low=-DRAW_BOUND, high=DRAW_BOUND),
    "high": Setting(None, low=-DRAW_BOUND, high=DRAW_BOUND),
    "std": Setting(None, low=0.0, low_open=True, high=DRAW_BOUND),
    "p": Setting(None, low=0.0, high=1.0),
}

# random data generator -> {parameter: default (None = required)}
RANDOM_DATA: dict[str, dict[str, float | None]] = {
    "normal": {"mean": 0.0, "std": 1.0},
    "uniform": {"low": 0.0, "high": 1.0},
    "bernoulli": {"p": 0.5},  # 0/1 values, e.g. bce targets
    "classes": {},            # class indices in [0, units of the last layer)
    "onehot": {},             # one-hot rows over the units of the last layer
    "simplex": {},            # rows of positive probabilities summing to 1 (kl_div targets)
}

DTYPES = NUMERIC_FORMATS  # harness.format.numerics says what each one means

# quantities compared, in report order
QUANTITIES = ("output", "loss", "grad", "param", "hvp")

CATALOG: dict[str, dict[str, Entry]] = {"activation": ACTIVATIONS, "loss": LOSSES,
                                        "optimizer": OPTIMIZERS}


def settings_with_defaults(given: dict, entry: Entry) -> dict:
    """Every setting of a catalog entry: the given ones, the defaults for the rest."""
    return entry.with_defaults(given)



# -- other names for the names above ------------------------------------------------------------
# What students bring from other libraries (learning_rate, epsilon, glorot_uniform,
# mean_squared_error), suggested when a case gives an unknown key or name. An alias is suggested
# only where every name it stands for is valid in that place (learning_rate → lr under an
# optimizer, never under a layer); the first valid one wins. Places: "key" (a mapping's keys) and
# the names a choice takes, by what it calls them (activation, loss, optimizer, dtype, …).

@dataclass(frozen=True)
class Alias:
    names: tuple[str, ...]  # what to write instead: one name, or settings written apart (betas)
    meaning: str            # said beside the suggestion
    only: tuple[str, ...] = ()  # the catalog entries it holds under (rmsprop); () anywhere


def _rows(*rows: tuple) -> tuple[tuple[tuple[str, ...], Alias], ...]:
    """((spellings, Alias), …) from rows ("spelling spelling …", names, meaning, only?)."""
    return tuple((tuple(spellings.split()), Alias((names,) if isinstance(names, str) else names,
                                                  meaning, tuple(only[0]) if only else ()))
                 for spellings, names, meaning, *only in rows)


ALIASES: dict[str, tuple[tuple[tuple[str, ...], Alias], ...]] = {
    "key": _rows(  # settings of optimizers, activations, losses; then the keys of a case
        ("learning_rate eta step_size", "lr", "the learning rate"),
        ("betas beta", ("beta1", "beta2"), "two settings here, not one pair: beta1: 0.9, "
                                           "beta2: 0.999"),
        ("b1", "beta1", "the first moment's decay rate, β1"),
        ("b2", "beta2", "the second moment's decay rate, β2"),
        ("epsilon", "eps", "the constant added to the denominator"),
        ("decay rho", "alpha", "rmsprop's decay rate of its average of squared gradients, "
                               "optax's decay, keras's rho; an L2 penalty is weight_decay",
         ("rmsprop",)),
        ("decay l2 wd l2_penalty", "weight_decay", "the L2 penalty on the parameters"),
        ("mu", "momentum", "the momentum factor"),
        ("nesterov_momentum use_nesterov", "nesterov", "true or false"),
        ("negative_slope", "slope", "leaky_relu's slope for z < 0, torch's negative_slope"),
        ("min min_value", "min_val", "hardtanh's lower bound"),
        ("max max_value", "max_val", "hardtanh's upper bound"),
        ("neurons nodes size width out_features hidden_units", "units",
         "the number of units in the layer"),
        ("act activation_function nonlinearity", "activation", "the layer's activation"),
        ("layers model", "network", "the list of layers"),
        ("initialization initialisation initializer", "init", "how parameters are drawn"),
        ("weights", "params", "explicit initial parameters"),
        ("epochs iterations num_steps", "steps", "the number of training steps"),
        ("criterion objective loss_fn", "loss", "the loss"),
        ("inputs input features", "x", "the inputs, (batch, features)"),
        ("targets labels", "y", "the targets"),
        ("name type", "scheme", "the init scheme's name"),
        ("type kind", "name", "the name of the optimizer, loss or activation"),
        ("size", "shape", "the shape drawn"),
        ("mu loc", "mean", "the mean"),
        ("sigma stddev scale", "std", "the standard deviation"),
        ("min minval", "low", "the lower bound"),
        ("max maxval", "high", "the upper bound"),
        ("abs_tol", "atol", "the absolute tolerance"),
        ("rel_tol", "rtol", "the relative tolerance")),
    "activation": _rows(
        ("linear none null id", "identity", "no activation: z"),
        ("logistic", "sigmoid", "the logistic function, 1 / (1 + e^−z)"),
        ("swish", "silu", "z·sigmoid(z), also called swish"),
        ("lrelu", "leaky_relu", "z if z > 0 else slope·z"),
        ("gelu_tanh gelu_new", "gelu", "write {name: gelu, approximate: tanh}")),
    "loss": _rows(
        ("mean_squared_error l2 squared_error", "mse", "the mean squared error, (out − y)²"),
        ("mae mean_absolute_error", "l1", "the absolute error, |out − y|"),
        ("ce xent softmax_cross_entropy categorical_crossentropy "
         "sparse_categorical_crossentropy", "cross_entropy",
         "softmax cross-entropy on logits"),
        ("binary_crossentropy binary_cross_entropy log_loss", "bce", "binary cross-entropy on probabilities"),
        ("sigmoid_cross_entropy sigmoid_binary_cross_entropy binary_crossentropy_with_logits "
         "binary_cross_entropy_with_logits", "bce_with_logits", "binary cross-entropy on logits"),
        ("nll_loss negative_log_likelihood", "nll", "the negative log-likelihood of probabilities"),
        ("kl kld kl_divergence", "kl_div", "the KL divergence, on log-probabilities"),
        ("poisson", "poisson_nll", "the Poisson negative log-likelihood")),
    "optimizer": _rows(
        ("gd gradient_descent momentum nesterov", "sgd",
         "gradient descent; momentum and nesterov are its settings")),
    "init scheme": _rows(
        ("glorot_uniform glorot", "xavier_uniform", "Glorot's uniform scheme"),
        ("glorot_normal", "xavier_normal", "Glorot's normal scheme"),
        ("kaiming_normal kaiming he", "he_normal", "He's (Kaiming's) normal scheme"),
        ("gaussian", "normal", "{scheme: normal, std: …}")),
    "random data kind": _rows(("gaussian", "normal", "normal values")),
    "dtype": _rows(("single fp32 f32", "float32", "32-bit floats"),
                   ("double fp64 f64", "float64", "64-bit floats"),
                   ("half fp16 f16", "float16", "16-bit floats"), ("bf16", "bfloat16", "")),
    "reduction": _rows(("average", "mean", ""), ("total", "sum", "")),
}


def folded(word: str) -> str:
    """A name as it is matched with aliases: lower case, without "_", "-" or spaces."""
    return "".join(c for c in word.lower() if c not in "_- ")


def alias(word: str, place: str, valid: list[str], entry: str | None = None
          ) -> tuple[tuple[str, ...], str] | None:
    """(names, meaning) of the first alias of ``word`` in ``place`` whose names are all in
    ``valid`` and that holds under ``entry``; else (name, "") of a valid name written in other
    case or separators (Adam, weightDecay); else None."""
    key = folded(word)
    for spellings, found in ALIASES.get(place, ()):
        if key in map(folded, spellings) and all(n in valid for n in found.names) and (
                not found.only or entry in found.only):
            return found.names, found.meaning
    same = [name for name in valid if folded(name) == key]
    return ((same[0],), "") if same else None
