"""A copy of ../mlp.py with one classic mistake, marked MISTAKE below. See it caught:

    python -m harness run examples/backprop/cases/three-layer-tanh-mse.yaml \
        --frameworks numpy,torch --impl examples/backprop/mistakes/mlp_carries_da.py
"""
import numpy as np

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu")
LOSSES = ("sum", "mse")


def supports(case):
    """None when this file can run the case, else the reason it cannot (reported as a skip)."""
    for layer in case.layers:
        if layer.activation not in ACTIVATIONS:
            return f"activation {layer.activation!r} is not written here"
    if case.loss not in LOSSES or case.loss_settings.get("reduction", "mean") != "mean":
        return f"loss {case.loss!r} with these settings is not written here"
    plain_sgd = {"momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}
    if case.optimizer.name != "sgd" or any(case.optimizer.settings[k] != v
                                           for k, v in plain_sgd.items()):
        return "only plain gradient descent is written here"
    return None


def activate(name, z):
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    return z


def derivative(name, z):
    """f'(z), taken at the pre-activation z."""
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(z.dtype)
    return np.ones_like(z)


def forward_backward(params, x, y, case):
    layers = case.layers

    # forward, keeping each layer's input and pre-activation for the backward pass
    a, kept = x, []
    for k, layer in enumerate(layers):
        z = a @ params[f"layers.{k}.weight"].T + params[f"layers.{k}.bias"]
        kept.append((a, z))
        a = activate(layer.activation, z)

    # the loss, and its gradient with respect to the output
    if case.loss == "mse":
        diff = a - y
        loss = np.mean(diff ** 2)
        upstream = 2 * diff / diff.size  # the mean runs over every element: batch × outputs
    else:  # sum
        loss = np.sum(a)
        upstream = np.ones_like(a)

    # backward, from the last layer down; upstream holds dL/da of the layer being visited
    grads = {}
    for k in reversed(range(len(layers))):
        a_in, z = kept[k]
        dz = upstream * derivative(layers[k].activation, z)  # dL/dz_k
        grads[f"layers.{k}.weight"] = dz.T @ a_in  # each weight sees its input
        grads[f"layers.{k}.bias"] = dz.sum(axis=0)  # each bias sees 1, summed over the batch
        # MISTAKE: carries dL/da_k down instead of dL/dz_k: the activation's derivative is
        # left out of what the layer below receives (the last layer's own gradients are right)
        upstream = upstream @ params[f"layers.{k}.weight"]
    return {"output": a, "loss": loss, "grads": grads}


def update(params, grads, case):
    """Plain gradient descent: step against the gradient."""
    lr = case.optimizer.lr
    return {name: params[name] - lr * grads[name] for name in params}
