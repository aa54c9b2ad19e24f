"""PyTorch: the network built from torch ops, gradients by autograd, updates by torch.optim."""
from __future__ import annotations

from ..case import Case, Inputs
from ..trace import Step, Trace, as_float64
from .base import Availability, package_availability


def _activation(name: str):
    import torch

    return {
        "identity": lambda z: z,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "softmax": lambda z: torch.softmax(z, dim=-1),
    }[name]


def _loss(name: str, out, y):
    """torch's own loss functions, with the arguments that match harness.catalog."""
    import torch
    import torch.nn.functional as F

    if name == "sum":
        return out.sum()
    if name == "mse":
        return F.mse_loss(out, y)
    if name == "bce":
        # Clamps log at −100 and p(1−p) at 1e-12 in backward: equal to the definition unless p is
        # within ~1e-12 of 0 or 1.
        return F.binary_cross_entropy(out, y)
    if name == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(out, y)
    if name == "cross_entropy":
        return F.cross_entropy(out, y)  # class indices (long) or one-hot rows as probabilities
    if name == "nll":
        # nll_loss takes log-probabilities and class indices only
        indices = y if y.ndim == 1 else y.argmax(dim=1)
        return F.nll_loss(torch.log(out), indices)
    raise ValueError(f"loss {name!r} is not mapped to torch")


class TorchAdapter:
    name = "torch"

    def availability(self) -> Availability:
        return package_availability("torch")

    def supports(self, case: Case) -> str | None:
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        import torch
        import torch.nn.functional as F

        params = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.params.items()}
        x = torch.from_numpy(inputs.x)
        y = None if inputs.y is None else torch.from_numpy(inputs.y)
        optimizer = torch.optim.SGD(list(params.values()), lr=case.optimizer.lr)
        activations = [_activation(layer.activation) for layer in case.layers]
        steps = []
        for _ in range(case.steps):
            optimizer.zero_grad()
            a = x
            for i, act in enumerate(activations):
                a = act(F.linear(a, params[f"layers.{i}.weight"], params[f"layers.{i}.bias"]))
            loss = _loss(case.loss, a, y)
            loss.backward()
            grads = {k: as_float64(p.grad) for k, p in params.items()}
            optimizer.step()
            steps.append(Step(as_float64(a.detach()), as_float64(loss.detach()), grads,
                              {k: as_float64(p.detach()) for k, p in params.items()}))
        return Trace(self.name, steps)
