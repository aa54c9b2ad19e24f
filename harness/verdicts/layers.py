"""Where in the network a backward-pass mistake enters, from which layers' gradients agree.

Backpropagation runs from the last layer down: layer k's gradients are made from the gradient
that reaches its pre-activation, dL/dz_k = dL/da_k · f_k'(z_k), and pass dL/da_(k-1) =
dL/dz_k · W_k on to the layer below. So a mistake in layer k's activation derivative, or in how
the gradient is carried from layer k+1 to layer k, makes layer k's gradients and every layer's
below differ while the layers above still agree: the first layer from the top whose gradients
differ locates the mistake. Within that layer, a bias that agrees while the weight does not
clears dL/dz_k and points at the weight's own product with the layer's input (and the other way
round for the bias's sum over the batch).
"""
from __future__ import annotations

import re

from .compare import FAIL, Row

_TENSOR = re.compile(r"^layers\.(\d+)\.(weight|bias)$")


def layer_of(tensor: str) -> tuple[int, str] | None:
    """(layer, "weight" or "bias") of a parameter's name, layers.1.bias; None for another."""
    match = _TENSOR.match(tensor)
    return (int(match.group(1)), match.group(2)) if match else None


def _layer_verdicts(rows: list[Row]) -> dict[int, dict[str, bool]]:
    """layer -> {"weight": differs, "bias": differs} from the gradient rows of one step."""
    layers: dict[int, dict[str, bool]] = {}
    for row in rows:
        found = layer_of(row.tensor) if row.quantity == "grad" else None
        if found:
            kinds = layers.setdefault(found[0], {})
            kinds[found[1]] = kinds.get(found[1], False) or row.status == FAIL
    return layers


def _input_of(layer: int) -> str:
    return "the input x" if layer == 0 else f"layer {layer - 1}'s output a{layer - 1}"


def locate(rows: list[Row], step: int, last_layer: int | None = None) -> str:
    """One sentence naming the last layer whose gradients agree at ``step`` and the first that
    differs, and whether its weight and bias agree; "" when every layer's gradients agree or
    there are no layer gradients. ``last_layer`` is the network's (taken from the rows when
    None)."""
    layers = _layer_verdicts([r for r in rows if r.step == step])
    differing = sorted((k for k, kinds in layers.items() if any(kinds.values())), reverse=True)
    if not differing:
        return ""
    top = differing[0]
    last = max(layers) if last_layer is None else last_layer
    kinds = layers[top]
    split = (kinds.get("weight"), kinds.get("bias")) in ((True, False), (False, True))
    if top == last == 0 and not split:
        return ""  # one layer, all of it wrong: nothing to locate within the network
    above = [f"layers.{k}" for k in sorted(layers, reverse=True) if k > top]
    agree = " and ".join(above) if len(above) <= 2 else ", ".join(above[:-1]) + " and " + above[-1]
    if split:  # the gradient reaching the layer is right: not a derivative, not the carry
        where = f"{agree} agree{'s' if len(above) == 1 else ''}; " if above else ""
        if kinds["weight"]:
            where += (f"in layers.{top} the bias agrees but the weight does not: the gradient "
                      f"reaching its pre-activation (dL/dz{top}) is right, so look at the "
                      f"weight's own product, dL/dz{top}ᵀ · {_input_of(top)}")
        else:
            where += (f"in layers.{top} the weight agrees but the bias does not: the gradient "
                      f"reaching its pre-activation (dL/dz{top}) is right, so look at the bias's "
                      f"gradient, the sum of dL/dz{top} over the batch")
        where = where[0].upper() + where[1:] if not above else where
    elif top == last:
        where = (f"layers.{top}, the last layer, already differs: the first gradients the "
                 "backward pass computes are wrong, so look at the derivative of the loss "
                 f"(dL/d output) or at the derivative of layer {top}'s activation")
    else:
        where = (f"{agree} agree{'s' if len(above) == 1 else ''}, layers.{top} does not "
                 "(backpropagation runs from the last layer down, so the mistake enters "
                 f"between them): look at the derivative of layer {top}'s activation, or at how "
                 f"the gradient is carried from layer {top + 1} to layer {top} "
                 f"(dL/da{top} = dL/dz{top + 1} · W{top + 1})")
    below = [k for k in sorted(layers, reverse=True) if k < top]
    agreeing_below = [f"layers.{k}" for k in below if k not in differing]
    if agreeing_below and not split:  # a weight-only or bias-only one leaves them as they were
        verb = "agrees" if len(agreeing_below) == 1 else "agree"
        where += f" ({', '.join(agreeing_below)} below it {verb} again)"
    return where + "."
