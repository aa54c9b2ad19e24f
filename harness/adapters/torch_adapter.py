"""PyTorch: the network built from torch ops, gradients by autograd, updates by torch.optim."""
from __future__ import annotations

import math

import numpy as np

from ..format.case import Case, Inputs, bias_name, weight_name
from ..format.trace import Step, Trace, as_float64
from .base import Availability, OnDevice, package_availability


def activation_of(name: str, settings: dict):
    """torch.nn.functional's own activation, with the arguments of the catalog's definition."""
    import torch
    import torch.nn.functional as F

    s = settings
    return {
        "identity": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=s.get("slope")),
        "elu": lambda z: F.elu(z, alpha=s.get("alpha")),
        "selu": F.selu,
        "celu": lambda z: F.celu(z, alpha=s.get("alpha")),
        "gelu": lambda z: F.gelu(z, approximate=s.get("approximate")),
        # torch switches to the identity above `threshold` (20 by default); the definition never
        "softplus": lambda z: F.softplus(z, beta=s.get("beta"), threshold=math.inf),
        "silu": F.silu,
        "mish": F.mish,
        "hardtanh": lambda z: F.hardtanh(z, min_val=s.get("min_val"), max_val=s.get("max_val")),
        "softsign": F.softsign,
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


def optimizer_of(spec, params: list):
    """torch.optim's own optimizer, every setting passed explicitly (no torch default used)."""
    import torch

    s = spec.settings
    if spec.name == "sgd":
        return torch.optim.SGD(params, lr=s["lr"], momentum=s["momentum"],
                               dampening=s["dampening"], nesterov=s["nesterov"],
                               weight_decay=s["weight_decay"])
    if spec.name in ("adam", "adamw"):
        cls = torch.optim.Adam if spec.name == "adam" else torch.optim.AdamW
        return cls(params, lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"],
                   weight_decay=s["weight_decay"], amsgrad=s["amsgrad"])
    if spec.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=s["lr"], alpha=s["alpha"], eps=s["eps"],
                                   weight_decay=s["weight_decay"], momentum=s["momentum"],
                                   centered=s["centered"])
    raise ValueError(f"optimizer {spec.name!r} is not mapped to torch")


def _network(case: Case):
    """(params, x) -> the last layer's output, from torch.nn.functional ops."""
    import torch.nn.functional as F

    activations = [activation_of(layer.activation, layer.settings) for layer in case.layers]

    def forward(params, x):
        a = x
        for i, act in enumerate(activations):
            a = act(F.linear(a, params[weight_name(i)], params[bias_name(i)]))
        return a
    return forward


def _loss_function(case: Case, x, y):
    """params -> loss, for the forward-mode and second-order checks."""
    forward = _network(case)
    return lambda params: loss_of(case.loss, case.loss_settings, forward(params, x), y)


def _tensors(params, requires_grad: bool = False, device=None):
    import torch

    return {k: torch.tensor(np.asarray(v), requires_grad=requires_grad, device=device)
            for k, v in params.items()}


def _host(tensor) -> np.ndarray:
    """A tensor on any device as a float64 NumPy array."""
    return as_float64(tensor.detach().cpu())


def import_torch() -> None:
    """Everything the adapter's first job would import: torch, torch.func, and torch.optim with
    the torch._dynamo its optimizers import at their first use (about 0.8 s on its own)."""
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401
    import torch.func  # noqa: F401
    import torch.optim  # noqa: F401


class TorchAdapter(OnDevice):
    name = "torch"
    devices = ("cpu", "cuda")  # torch@cpu, torch@cuda (harness.running.devices)

    def _device(self):
        import torch

        return torch.device(self.device or "cpu")

    def _on(self, array):
        import torch

        return None if array is None else torch.from_numpy(array).to(self._device())

    def forward_and_reverse(self, case: Case, param_sets, x, y, indices):
        """For each set of parameters: (reverse-mode gradients, forward-mode derivatives along
        each sampled basis direction): torch.autograd against torch.func.jvp."""
        loss = _loss_function(case, self._on(x), self._on(y))
        return [self._forward_and_reverse(loss, params, indices) for params in param_sets]

    def _forward_and_reverse(self, loss, params, indices):
        """The basis directions of every sampled index, stacked: one torch.func.jvp, vmapped
        over them (as JAX's is), not one call per direction."""
        import torch
        from torch.func import jvp, vmap

        tensors = _tensors(params, requires_grad=True, device=self._device())
        grads = torch.autograd.grad(loss(tensors), list(tensors.values()))
        reverse = {k: g.detach().cpu().numpy().copy() for k, g in zip(tensors, grads)}
        primal = {k: v.detach() for k, v in tensors.items()}
        total = sum(len(chosen) for chosen in indices.values())
        tangents = {k: torch.zeros((total, v.numel()), dtype=v.dtype, device=v.device)
                    for k, v in primal.items()}
        start = 0
        for name, chosen in indices.items():
            rows = torch.arange(start, start + len(chosen), device=tangents[name].device)
            tangents[name][rows, torch.as_tensor(np.asarray(chosen, dtype=np.int64),
                                                 device=rows.device)] = 1.0
            start += len(chosen)
        tangents = {k: t.reshape((total,) + tuple(primal[k].shape)) for k, t in tangents.items()}
        directional = vmap(lambda t: jvp(loss, (primal,), (t,))[1])(tangents)
        directional = directional.detach().cpu().numpy()
        forward, start = {}, 0
        for name, chosen in indices.items():
            forward[name] = directional[start:start + len(chosen)].astype(np.float64)
            start += len(chosen)
        return reverse, forward

    def hvp(self, case: Case, params, x, y, vector):
        """H·v by double backward: the gradient of (∇L · v)."""
        import torch

        loss = _loss_function(case, self._on(x), self._on(y))
        tensors = _tensors(params, requires_grad=True, device=self._device())
        grads = torch.autograd.grad(loss(tensors), list(tensors.values()), create_graph=True)
        dot = sum((g * self._on(np.asarray(vector[k], dtype=case.dtype))).sum()
                  for k, g in zip(tensors, grads))
        second = torch.autograd.grad(dot, list(tensors.values()), allow_unused=True)
        return {k: np.zeros(v.shape) if h is None else h.detach().cpu().numpy().copy()
                for (k, v), h in zip(tensors.items(), second)}

    def availability(self) -> Availability:
        return package_availability("torch")

    def prepare(self) -> None:
        """torch's imports, and on a GPU its CUDA context: outside the time limit (harness.running.jobs)."""
        import_torch()
        import torch

        if self.device == "cuda" and torch.cuda.is_available():
            torch.cuda.init()

    def supports(self, case: Case) -> str | None:
        """On a device, whether it is there: asked in the worker that would run the party."""
        if self.device != "cuda":
            return None
        import torch

        if not torch.cuda.is_available():
            return (f"{self.name}: no CUDA device (torch.cuda.is_available() is False; "
                    f"torch {torch.__version__})")
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        from .precision import effective, torch_notes, torch_precision

        with torch_precision(effective(case)):
            return self._run(case, inputs, torch_notes(self._device()))

    def _run(self, case: Case, inputs: Inputs, settings: str) -> Trace:
        import torch

        from .precision import effective

        device = self._device()  # set on every tensor, so nothing lands on another device
        params = {k: torch.tensor(v, requires_grad=True, device=device)
                  for k, v in inputs.params.items()}
        x, y = self._on(inputs.x), self._on(inputs.y)
        optimizer = optimizer_of(case.optimizer, list(params.values()))
        forward = _network(case)
        steps = []
        for _ in range(case.steps):
            optimizer.zero_grad()
            a = forward(params, x)
            loss = loss_of(case.loss, case.loss_settings, a, y)
            loss.backward()
            grads = {k: _host(p.grad) for k, p in params.items()}
            optimizer.step()
            steps.append(Step(_host(a), _host(loss), grads,
                              {k: _host(p) for k, p in params.items()}))
        where = "the cpu" if device.type == "cpu" else str(device)
        return Trace(self.name, steps, notes=(
            f"ran on {where}; float32 matmul precision {torch.get_float32_matmul_precision()}",
            f"precision {effective(case)}: {settings}"))
