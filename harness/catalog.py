"""The one place that names what a case may use, with every default spelt out.

Each name means one definition, written here. Adapters map a name to their framework's own
function or optimizer with the arguments that make it match this definition; libraries' own
defaults are never inherited (adamw's weight decay is 0.01 in torch and 1e-4 in optax; rmsprop's
decay is 0.99 in torch and 0.9 in optax). Where no argument can make a framework match, the
difference is declared as a known discrepancy in the cases that show it.

A setting's default decides its type: a bool default means the setting is a boolean, a number
default a number; None marks a required number.
"""
from __future__ import annotations

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# name -> (definition, {setting: default})
ACTIVATIONS: dict[str, tuple[str, dict]] = {
    "identity": ("z", {}),
    "sigmoid": ("1 / (1 + e^−z)", {}),
    "tanh": ("tanh z", {}),
    "relu": ("max(z, 0); relu′(0) = 0", {}),
    "leaky_relu": ("z if z > 0 else slope·z; leaky_relu′(0) = slope", {"slope": 0.01}),
    "elu": ("z if z > 0 else alpha·(e^z − 1); elu′(0) = alpha", {"alpha": 1.0}),
    "selu": (f"{SELU_SCALE:.6f}·elu(z, alpha={SELU_ALPHA:.6f})", {}),
    "gelu": ("z·Φ(z) (approximate: none), or 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³))) "
             "(approximate: tanh)", {"approximate": "none"}),
    "softplus": ("log(1 + e^(beta·z)) / beta, no linear threshold", {"beta": 1.0}),
    "silu": ("z·sigmoid(z)", {}),
    "mish": ("z·tanh(softplus(z))", {}),
    "hardtanh": ("clip(z, min_val, max_val); derivative 1 strictly inside, 0 at and beyond "
                 "the edges", {"min_val": -1.0, "max_val": 1.0}),
    "softmax": ("e^z / Σ e^z over each sample's units", {}),
    "log_softmax": ("z − log Σ e^z over each sample's units", {}),
}
GELU_APPROXIMATIONS = ("none", "tanh")

# loss -> (kind of target, reduced over, definition of one term, {setting: default})
TARGET_NONE, TARGET_LIKE_OUTPUT, TARGET_CLASSES, TARGET_DISTRIBUTION = (
    "none", "like-output", "classes", "distribution")
ELEMENTS, SAMPLES = "elements", "samples"  # what `reduction: mean` averages over
LOSSES: dict[str, tuple[str, str, str, dict]] = {
    "sum": (TARGET_NONE, ELEMENTS, "out (always summed)", {}),
    "mse": (TARGET_LIKE_OUTPUT, ELEMENTS, "(out − y)²", {"reduction": "mean"}),
    "l1": (TARGET_LIKE_OUTPUT, ELEMENTS, "|out − y|; its derivative at 0 is 0",
           {"reduction": "mean"}),
    "huber": (TARGET_LIKE_OUTPUT, ELEMENTS,
              "0.5·d² if |d| ≤ delta else delta·(|d| − 0.5·delta), d = out − y",
              {"delta": 1.0, "reduction": "mean"}),
    "smooth_l1": (TARGET_LIKE_OUTPUT, ELEMENTS,
                  "0.5·d²/beta if |d| < beta else |d| − 0.5·beta, d = out − y (huber / delta)",
                  {"beta": 1.0, "reduction": "mean"}),
    "bce": (TARGET_LIKE_OUTPUT, ELEMENTS, "−[y·log p + (1−y)·log(1−p)], p = out, no clamping",
            {"reduction": "mean"}),
    "bce_with_logits": (TARGET_LIKE_OUTPUT, ELEMENTS, "bce with p = sigmoid(out), computed stably",
                        {"reduction": "mean"}),
    "cross_entropy": (TARGET_CLASSES, SAMPLES, "−log softmax(out)[class]", {"reduction": "mean"}),
    "nll": (TARGET_CLASSES, SAMPLES, "−log out[class]; out are probabilities",
            {"reduction": "mean"}),
    "kl_div": (TARGET_DISTRIBUTION, SAMPLES,
               "Σ_units y·(log y − out), 0·log 0 = 0; out are log-probabilities, y probabilities",
               {"reduction": "mean"}),
}
REDUCTIONS = ("mean", "sum")

# optimizer -> {setting: default}; lr is always required
OPTIMIZERS: dict[str, dict] = {
    # g ← g + weight_decay·p; b ← momentum·b + (1 − dampening)·g (b = g at the first step);
    # g ← g + momentum·b if nesterov else b (when momentum ≠ 0); p ← p − lr·g
    "sgd": {"lr": None, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0},
    # g ← g + weight_decay·p; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
    # v_max ← max(v_max, v) with amsgrad (of the raw v); m̂ = m/(1−β1^t); v̂ = v/(1−β2^t) (v_max
    # likewise); p ← p − lr·m̂/(√v̂ + eps)
    "adam": {"lr": None, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
             "amsgrad": False},
    # as adam without the L2 term, then p ← p − lr·weight_decay·p (decoupled), applied first
    "adamw": {"lr": None, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01,
              "amsgrad": False},
    # g ← g + weight_decay·p; v ← alpha·v + (1−alpha)·g²; centered: ḡ ← alpha·ḡ + (1−alpha)·g,
    # v' = v − ḡ² (else v' = v); u = g/(√v' + eps), eps outside the root;
    # b ← momentum·b + u and u = b when momentum ≠ 0; p ← p − lr·u
    "rmsprop": {"lr": None, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
                "centered": False},
}

# init scheme -> {parameter: default (None = required)}; fan_in, fan_out are the layer's
INIT_SCHEMES: dict[str, dict[str, float | None]] = {
    "xavier_uniform": {},  # U(−b, b), b = sqrt(6 / (fan_in + fan_out))
    "xavier_normal": {},   # N(0, 2 / (fan_in + fan_out))
    "he_normal": {},       # N(0, 2 / fan_in)
    "normal": {"mean": 0.0, "std": None},
    "uniform": {"low": None, "high": None},
    "zeros": {},
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

DTYPES = ("float32", "float64")

# quantities compared, in report order
QUANTITIES = ("output", "loss", "grad", "param", "hvp")


def settings_with_defaults(given: dict, defaults: dict) -> dict:
    """Every setting of a catalog entry: the given ones, the defaults for the rest."""
    return {key: given.get(key, default) for key, default in defaults.items()}
