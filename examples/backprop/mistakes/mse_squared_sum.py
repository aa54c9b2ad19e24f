"""A copy of ../mine.py with one classic mistake, marked MISTAKE below. See it caught:

    python -m harness run cases/golden examples/backprop/cases --frameworks numpy,torch \
        --impl examples/backprop/mistakes/mse_squared_sum.py
"""
import numpy as np

ACTIVATIONS = ("identity", "sigmoid", "tanh", "softmax")
LOSSES = ("sum", "mse", "cross_entropy", "nll")


def supports(case):
    """None when this file can run the case, else the reason it cannot (reported as a skip)."""
    if len(case.layers) != 1:
        return f"one layer only; this case has {len(case.layers)}"
    if case.layers[0].activation not in ACTIVATIONS:
        return f"activation {case.layers[0].activation!r} is not written here"
    if case.loss not in LOSSES or case.loss_settings.get("reduction", "mean") != "mean":
        return f"loss {case.loss!r} with these settings is not written here"
    plain_sgd = {"momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}
    if case.optimizer.name != "sgd" or any(case.optimizer.settings[k] != v
                                           for k, v in plain_sgd.items()):
        return "only plain gradient descent is written here"
    return None


def log_softmax(z):
    """Each sample's log-probabilities: the normalising sum runs over that sample's units (a
    row), shifted by the row's largest value so that exp never overflows."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(z):
    return np.exp(log_softmax(z))


def one_hot(y, units):
    """Class targets as one-hot rows: indices (batch,) or rows already one-hot (batch, units)."""
    if y.ndim == 1:
        return np.eye(units, dtype=np.float64)[y]
    return y


def forward_backward(params, x, y, case):
    W, b = params["layers.0.weight"], params["layers.0.bias"]  # (units, features), (units,)
    activation = case.layers[0].activation

    # forward: z = x W^T + b, then the activation
    z = x @ W.T + b  # (batch, units)
    if activation == "sigmoid":
        a = 1 / (1 + np.exp(-z))
    elif activation == "tanh":
        a = np.tanh(z)
    elif activation == "softmax":
        a = softmax(z)
    else:
        a = z

    # the loss, and its gradient with respect to the output a
    batch = x.shape[0]
    if case.loss == "mse":
        diff = a - y
        loss = np.sum(diff ** 2)  # MISTAKE: a sum of squares, not their mean
        dL_da = 2 * diff
    elif case.loss == "cross_entropy":  # a holds logits: softmax, then -log of the target's
        t = one_hot(y, a.shape[1]).astype(a.dtype)
        log_p = log_softmax(a)
        loss = -np.sum(t * log_p) / batch
        dL_da = (np.exp(log_p) - t) / batch
    elif case.loss == "nll":  # a holds probabilities: -log of the target's
        t = one_hot(y, a.shape[1]).astype(a.dtype)
        picked = np.where(t > 0, a, 1)  # the target's probability; 1 elsewhere (log 1 = 0)
        loss = -np.sum(t * np.log(picked)) / batch
        dL_da = -t / (picked * batch)
    else:  # sum
        loss = np.sum(a)
        dL_da = np.ones_like(a)

    # back through the activation: dL/dz = dL/da * da/dz, at this z
    if activation == "sigmoid":
        dL_dz = dL_da * a * (1 - a)
    elif activation == "tanh":
        dL_dz = dL_da * (1 - a ** 2)
    elif activation == "softmax":  # each row's Jacobian: diag(a) - a a^T, applied to dL/da
        dL_dz = a * (dL_da - np.sum(dL_da * a, axis=1, keepdims=True))
    else:
        dL_dz = dL_da

    # back through z = x W^T + b: each weight sees its input, each bias sees 1, summed over the batch
    grads = {"layers.0.weight": dL_dz.T @ x, "layers.0.bias": dL_dz.sum(axis=0)}
    return {"output": a, "loss": loss, "grads": grads}


def update(params, grads, case):
    """Plain gradient descent: step against the gradient."""
    lr = case.optimizer.lr
    return {name: params[name] - lr * grads[name] for name in params}
