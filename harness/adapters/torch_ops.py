"""PyTorch's side of the catalog: torch.nn.functional activations and losses, torch.optim
optimizers (each implementation by name), the network from torch ops, and torch's imports.
Each function is pasted verbatim into repro folders (harness.reports.repro): they stay plain."""
from __future__ import annotations

import math

import numpy as np

from ..format.case import Case, bias_name, weight_name
from ..format.trace import as_float64


def activation_of(name: str, settings: dict):
    """torch.nn.functional's own activation, with the arguments of the catalog's definition.
    Each function is looked up when the activation is applied, so a torch that lacks one fails
    only the cases that use it, and those are skipped first (lacking)."""
    import torch
    import torch.nn.functional as F

    s = settings
    return {
        "identity": lambda z: z,
        "sigmoid": lambda z: torch.sigmoid(z),
        "tanh": lambda z: torch.tanh(z),
        "relu": lambda z: torch.relu(z),
        "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=s.get("slope")),
        "elu": lambda z: F.elu(z, alpha=s.get("alpha")),
        "selu": lambda z: F.selu(z),
        "celu": lambda z: F.celu(z, alpha=s.get("alpha")),
        "gelu": lambda z: F.gelu(z, approximate=s.get("approximate")),
        # torch switches to the identity above `threshold` (20 by default); the definition never
        "softplus": lambda z: F.softplus(z, beta=s.get("beta"), threshold=math.inf),
        "silu": lambda z: F.silu(z),
        "mish": lambda z: F.mish(z),
        "hardtanh": lambda z: F.hardtanh(z, min_val=s.get("min_val"), max_val=s.get("max_val")),
        "softsign": lambda z: F.softsign(z),
        "softmax": lambda z: torch.softmax(z, dim=-1),
        "log_softmax": lambda z: F.log_softmax(z, dim=-1),
    }[name]


def loss_of(name: str, settings: dict, out, y):
    """torch's own loss function for a catalog name, with the arguments that match it."""
    import torch
    import torch.nn.functional as F

    s, reduction = settings, settings.get("reduction", "sum")
    losses = {
        "sum": lambda: out.sum(),
        "mse": lambda: F.mse_loss(out, y, reduction=reduction),
        "l1": lambda: F.l1_loss(out, y, reduction=reduction),
        "huber": lambda: F.huber_loss(out, y, delta=s.get("delta"), reduction=reduction),
        "smooth_l1": lambda: F.smooth_l1_loss(out, y, beta=s.get("beta"), reduction=reduction),
        # clamps log at −100 and p(1−p) at 1e-12 in backward: the definition unless p is within
        # ~1e-12 of 0 or 1
        "bce": lambda: F.binary_cross_entropy(out, y, reduction=reduction),
        "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(out, y, reduction=reduction),
        "poisson_nll": lambda: F.poisson_nll_loss(out, y, log_input=True, full=False,
                                                  reduction=reduction),
        # class indices (long) or one-hot rows as probabilities
        "cross_entropy": lambda: F.cross_entropy(out, y, reduction=reduction),
        # nll_loss takes log-probabilities and class indices only
        "nll": lambda: F.nll_loss(torch.log(out), y if y.ndim == 1 else y.argmax(dim=1),
                                  reduction=reduction),
        # torch's 'mean' averages over every element; the definition's mean is over the batch
        "kl_div": lambda: F.kl_div(out, y, reduction="batchmean" if reduction == "mean" else "sum"),
    }
    if name not in losses:
        raise ValueError(f"loss {name!r} is not mapped to torch")
    return losses[name]()


def optimizer_of(spec, params: list, implementation: str | None = None):
    """torch.optim's own optimizer, every setting passed explicitly (no torch default used).

    ``implementation``: None for torch's own choice (the for-loop on the CPU, foreach on CUDA),
    or forloop, foreach or fused, asked for by name."""
    import torch

    s = spec.settings
    chosen = {None: {}, "forloop": {"foreach": False}, "foreach": {"foreach": True},
              "fused": {"fused": True}}[implementation]
    if spec.name == "sgd":
        return torch.optim.SGD(params, lr=s["lr"], momentum=s["momentum"],
                               dampening=s["dampening"], nesterov=s["nesterov"],
                               weight_decay=s["weight_decay"], **chosen)
    if spec.name in ("adam", "adamw"):
        cls = torch.optim.Adam if spec.name == "adam" else torch.optim.AdamW
        return cls(params, lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"],
                   weight_decay=s["weight_decay"], amsgrad=s["amsgrad"], **chosen)
    if spec.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=s["lr"], alpha=s["alpha"], eps=s["eps"],
                                   weight_decay=s["weight_decay"], momentum=s["momentum"],
                                   centered=s["centered"], **chosen)
    raise ValueError(f"optimizer {spec.name!r} is not mapped to torch")


def network(case: Case):
    """(params, x) -> the last layer's output, from torch.nn.functional ops."""
    import torch.nn.functional as F

    activations = [activation_of(layer.activation, layer.settings) for layer in case.layers]

    def forward(params, x):
        a = x
        for i, act in enumerate(activations):
            a = act(F.linear(a, params[weight_name(i)], params[bias_name(i)]))
        return a
    return forward


def loss_function(case: Case, x, y):
    """params -> loss, for the forward-mode and second-order checks."""
    forward = network(case)
    return lambda params: loss_of(case.loss, case.loss_settings, forward(params, x), y)


# What each catalog name calls, looked up per case (harness.adapters.requires): a torch that
# lacks one skips the cases that use it and runs the others.
_F = "torch.nn.functional."
ACTIVATION_NEEDS = {
    "identity": (), "sigmoid": (("torch.sigmoid",),), "tanh": (("torch.tanh",),),
    "relu": (("torch.relu",),), "leaky_relu": ((_F + "leaky_relu",),), "elu": ((_F + "elu",),),
    "selu": ((_F + "selu",),), "celu": ((_F + "celu",),),
    "gelu": ((_F + "gelu(approximate)",),),  # torch 1.12
    "softplus": ((_F + "softplus(threshold)",),), "silu": ((_F + "silu",),),
    "mish": ((_F + "mish",),),  # torch 1.9
    "hardtanh": ((_F + "hardtanh",),), "softsign": ((_F + "softsign",),),
    "softmax": (("torch.softmax",),), "log_softmax": ((_F + "log_softmax",),),
}
LOSS_NEEDS = {
    "sum": (), "mse": ((_F + "mse_loss",),), "l1": ((_F + "l1_loss",),),
    "huber": ((_F + "huber_loss",),),  # torch 1.9
    "smooth_l1": ((_F + "smooth_l1_loss(beta)",),),
    "bce": ((_F + "binary_cross_entropy",),),
    "bce_with_logits": ((_F + "binary_cross_entropy_with_logits",),),
    "poisson_nll": ((_F + "poisson_nll_loss",),), "cross_entropy": ((_F + "cross_entropy",),),
    "nll": ((_F + "nll_loss",),), "kl_div": ((_F + "kl_div",),),
}
OPTIMIZER_NEEDS = {"sgd": (("torch.optim.SGD",),), "adam": (("torch.optim.Adam",),),
                   "adamw": (("torch.optim.AdamW",),), "rmsprop": (("torch.optim.RMSprop",),)}


def lacking(case: Case) -> str | None:
    """What this torch lacks of what the case uses (a skip), or None."""
    from . import requires

    wanted = {f"activation {layer.activation}": ACTIVATION_NEEDS[layer.activation]
              for layer in case.layers}
    wanted[f"loss {case.loss}"] = LOSS_NEEDS[case.loss]
    wanted[f"optimizer {case.optimizer.name}"] = OPTIMIZER_NEEDS[case.optimizer.name]
    return requires.lacking(wanted)


def to_tensor(array, device=None, requires_grad: bool = False):
    """A NumPy array as a torch tensor of the same dtype; ml_dtypes' bfloat16 (which torch does
    not read) goes through float32, exactly: every bfloat16 is a float32."""
    import torch

    array = np.asarray(array)
    if array.dtype.name == "bfloat16":
        made = torch.tensor(array.astype(np.float32), device=device).to(torch.bfloat16)
    else:
        made = torch.tensor(array, device=device)
    return made.requires_grad_(requires_grad)


def tensors(params, requires_grad: bool = False, device=None) -> dict:
    return {k: to_tensor(v, device, requires_grad) for k, v in params.items()}


def host(tensor) -> np.ndarray:
    """A tensor on any device, in any dtype, as a float64 NumPy array."""
    return as_float64(tensor.detach().cpu().double())


def import_torch() -> None:
    """Everything the adapter's first job would import: torch, torch.func, and torch.optim with
    the torch._dynamo its optimizers import at their first use (about 0.8 s on its own)."""
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401
    import torch.func  # noqa: F401
    import torch.optim  # noqa: F401
