"""A tanh layer fitted with MSE, with TWO mistakes: the loss and the backward pass are both wrong.

Compared with the reference alone, the wrong loss already explains why every gradient differs,
so "the mistake is in the loss" would be said and the backward pass never looked at. The
self-check (gradients against finite differences of this file's own loss) names it too.
"""
import numpy as np


def supports(case):
    if len(case.layers) != 1 or case.layers[0].activation != "tanh" or case.loss != "mse":
        return "one tanh layer with mse only"
    return None


def forward_backward(params, x, y):
    W, b = params["layers.0.weight"], params["layers.0.bias"]
    a = np.tanh(x @ W.T + b)
    diff = a - y
    loss = np.sum(diff ** 2)  # MISTAKE 1 (the loss): a sum of squares, not their mean
    dL_dz = 1 - a ** 2        # MISTAKE 2 (the backward pass): the upstream dL/da = 2·diff dropped
    return {"output": a, "loss": loss,
            "grads": {"layers.0.weight": dL_dz.T @ x, "layers.0.bias": dL_dz.sum(axis=0)}}
