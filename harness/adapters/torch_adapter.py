"""PyTorch: the network built from torch ops (harness.adapters.torch_ops), gradients by
autograd, updates by torch.optim, eagerly or in an execution mode (harness.adapters.torch_step)."""
from __future__ import annotations

import numpy as np

from ..format.case import Case, Inputs
from ..format.trace import Step, Trace
from .base import Availability, Bindable, package_availability
from .torch_ops import (activation_of, host, import_torch, loss_function, loss_of, network,
                        optimizer_of, tensors, to_tensor)
from .torch_step import MODES, autocast_dtype, describe, make_step, mode_problem

__all__ = ["TorchAdapter", "activation_of", "loss_of", "optimizer_of", "import_torch"]


class TorchAdapter(Bindable):
    name = "torch"
    devices = ("cpu", "cuda")  # torch@cpu, torch@cuda (harness.running.devices)
    modes = MODES  # torch+compile, torch+fused, … (harness.adapters.torch_step)

    def _device(self):
        import torch

        return torch.device(self.device or "cpu")

    def _on(self, array):
        return None if array is None else to_tensor(array, self._device())

    def forward_and_reverse(self, case: Case, param_sets, x, y, indices):
        """For each set of parameters: (reverse-mode gradients, forward-mode derivatives along
        each sampled basis direction): torch.autograd against torch.func.jvp."""
        loss = loss_function(case, self._on(x), self._on(y))
        return [self._forward_and_reverse(loss, params, indices) for params in param_sets]

    def _forward_and_reverse(self, loss, params, indices):
        """The basis directions of every sampled index, stacked: one torch.func.jvp, vmapped
        over them (as JAX's is), not one call per direction."""
        import torch
        from torch.func import jvp, vmap

        made = tensors(params, requires_grad=True, device=self._device())
        grads = torch.autograd.grad(loss(made), list(made.values()))
        reverse = {k: g.detach().cpu().numpy().copy() for k, g in zip(made, grads)}
        primal = {k: v.detach() for k, v in made.items()}
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

        loss = loss_function(case, self._on(x), self._on(y))
        made = tensors(params, requires_grad=True, device=self._device())
        grads = torch.autograd.grad(loss(made), list(made.values()), create_graph=True)
        dot = sum((g * self._on(np.asarray(vector[k], dtype=case.dtype))).sum()
                  for k, g in zip(made, grads))
        second = torch.autograd.grad(dot, list(made.values()), allow_unused=True)
        return {k: np.zeros(v.shape) if h is None else h.detach().cpu().numpy().copy()
                for (k, v), h in zip(made.items(), second)}

    def availability(self) -> Availability:
        return package_availability("torch")

    def prepare(self) -> None:
        """torch's imports, and on a GPU its CUDA context: outside the time limit (harness.running.jobs)."""
        import_torch()
        import torch

        if self.device == "cuda" and torch.cuda.is_available():
            torch.cuda.init()

    def supports(self, case: Case) -> str | None:
        """On a device, whether it is there; in a mode, whether torch offers it for the case
        here: asked in the worker that would run the party."""
        import torch

        if self.device == "cuda" and not torch.cuda.is_available():
            return (f"{self.name}: no CUDA device (torch.cuda.is_available() is False; "
                    f"torch {torch.__version__})")
        trouble = mode_problem(self.mode, case, self._device().type)
        return None if trouble is None else f"{self.name}: {trouble}"

    def run(self, case: Case, inputs: Inputs) -> Trace:
        from .precision import effective, torch_notes, torch_precision

        with torch_precision(effective(case)):
            return self._run(case, inputs, torch_notes(self._device()))

    def _run(self, case: Case, inputs: Inputs, settings: str) -> Trace:
        import torch

        from .precision import effective
        from .torch_step import COMPILE

        device = self._device()  # set on every tensor, so nothing lands on another device
        params = tensors(inputs.params, requires_grad=True, device=device)
        x, y = self._on(inputs.x), self._on(inputs.y)
        optimizer = optimizer_of(case.optimizer, list(params.values()),
                                 None if self.mode == COMPILE else self.mode)
        forward = network(case)
        if self.mode == COMPILE:
            torch._dynamo.reset()  # each case compiles on its own, from a clean state
        forward_backward, update = make_step(
            forward, lambda out, y: loss_of(case.loss, case.loss_settings, out, y), optimizer,
            autocast_dtype(case), device.type, compiled=self.mode == COMPILE)
        steps = []
        for _ in range(case.steps):
            loss, a = forward_backward(params, x, y)
            grads = {k: host(p.grad) for k, p in params.items()}
            update()
            steps.append(Step(host(a), host(loss), grads,
                              {k: host(p) for k, p in params.items()}))
        where = "the cpu" if device.type == "cpu" else str(device)
        return Trace(self.name, steps, notes=(
            f"ran on {where}; float32 matmul precision {torch.get_float32_matmul_precision()}",
            f"precision {effective(case)}: {settings}") + describe(self.mode, case, device.type))
