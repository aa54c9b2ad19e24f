"""A tanh MLP fitted with MSE whose backward pass takes tanh's derivative at the pre-activation:
1 − z² instead of 1 − tanh(z)². The forward pass and the loss are right; every gradient below
the last layer is wrong. A planted bug: examples/shrink/tanh-mlp-16.yaml shows it, and
tests/test_shrink.py and tests/test_repro.py use it."""
import numpy as np


def supports(case):
    if case.loss != "mse" or any(layer.activation not in ("tanh", "identity")
                                 for layer in case.layers):
        return "tanh or identity layers with mse only"
    return None


def forward_backward(params, x, y, case):
    activations = [layer.activation for layer in case.layers]
    a, cache = x, []
    for i, act in enumerate(activations):
        z = a @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"]
        cache.append((a, z))
        a = np.tanh(z) if act == "tanh" else z
    loss = np.mean((a - y) ** 2)
    g = 2 * (a - y) / a.size
    grads = {}
    for i in reversed(range(len(activations))):
        a_in, z = cache[i]
        if activations[i] == "tanh":
            g = g * (1 - z ** 2)  # MISTAKE: the derivative at z, not 1 - tanh(z)**2
        grads[f"layers.{i}.weight"] = g.T @ a_in
        grads[f"layers.{i}.bias"] = g.sum(axis=0)
        g = g @ params[f"layers.{i}.weight"]
    return {"output": a, "loss": loss, "grads": grads}
