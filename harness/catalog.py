"""The one place that names what a case may use. Adapters map these names to their framework.

Each loss is defined here, not by whichever framework the name comes from (N is the batch size,
U the units of the last layer, out the last layer's output, p = out):

    sum            Σ out                                                  y: none (ignored)
    mse            mean over N·U elements of (out − y)²                   y: (N, U)
    bce            mean over N·U of −[y·log p + (1−y)·log(1−p)], no clamp y: (N, U)
    bce_with_logits  the same with p = sigmoid(out), computed stably      y: (N, U)
    cross_entropy  mean over N of −log softmax(out)[class]                y: (N,) indices or (N, U) one-hot
    nll            mean over N of −log(out[class]); out are probabilities y: as cross_entropy
"""
from __future__ import annotations

ACTIVATIONS: dict[str, str] = {
    "identity": "a = z",
    "sigmoid": "a = 1 / (1 + exp(−z))",
    "tanh": "a = tanh(z)",
    "relu": "a = max(z, 0); relu'(0) = 0",
    "softmax": "a = exp(z) / Σ exp(z), over the units of each sample",
}

# loss name -> kind of target it takes
TARGET_NONE, TARGET_LIKE_OUTPUT, TARGET_CLASSES = "none", "like-output", "classes"
LOSSES: dict[str, str] = {
    "sum": TARGET_NONE,
    "mse": TARGET_LIKE_OUTPUT,
    "bce": TARGET_LIKE_OUTPUT,
    "bce_with_logits": TARGET_LIKE_OUTPUT,
    "cross_entropy": TARGET_CLASSES,
    "nll": TARGET_CLASSES,
}

# optimizer name -> {parameter: default (None = required)}
OPTIMIZERS: dict[str, dict[str, float | None]] = {
    "sgd": {"lr": None},  # p ← p − lr·g
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
}

DTYPES = ("float32", "float64")

# quantities compared, in report order
QUANTITIES = ("output", "loss", "grad", "param")
