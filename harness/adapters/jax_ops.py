"""JAX's side of the catalog: jax.nn activations, optax losses and optimizers, the network in
jax.numpy, and the one way JAX is imported (on the CPU unless the user chose, with x64 on)."""
from __future__ import annotations

import os

from ..format.case import Case, bias_name, weight_name
from ..format.parties import PINNED_MARK
from . import requires
from .compile_cache import configure_jax


def import_jax(configure_cache: bool = True):
    # A bare `jax` runs on the CPU, the same on a laptop and on a GPU machine: left to choose, JAX
    # takes a GPU, whose default float32 matrix products are reduced-precision (about 1e-3
    # relative: a false alarm on every float32 case), and each worker would preallocate most of
    # its memory. A user who sets JAX_PLATFORMS chooses for themselves.
    if "JAX_PLATFORMS" not in os.environ:  # marked as the harness's choice (harness.running.devices)
        os.environ["JAX_PLATFORMS"] = os.environ[PINNED_MARK] = "cpu"
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import jax

    # Without x64, float64 input silently becomes float32. float32 inputs stay float32 with it on.
    jax.config.update("jax_enable_x64", True)
    if configure_cache:  # compiled programs kept between runs (harness.adapters.compile_cache)
        configure_jax(jax)
    return jax


# What each catalog name calls, looked up per case (harness.adapters.requires): a JAX or optax
# that lacks one skips the cases that use it and runs the others. An older spelling of the same
# function follows the current one (optax's losses moved into optax.losses in 0.1.8).
ACTIVATION_NEEDS = {
    "identity": (), "sigmoid": (("jax.nn.sigmoid",),), "tanh": (("jax.numpy.tanh",),),
    "relu": (("jax.nn.relu",),), "leaky_relu": (("jax.nn.leaky_relu",),),
    "elu": (("jax.nn.elu",),), "selu": (("jax.nn.selu",),), "celu": (("jax.nn.celu",),),
    "gelu": (("jax.nn.gelu(approximate)",),), "softplus": (("jax.nn.softplus",),),
    "silu": (("jax.nn.silu",),), "mish": (("jax.nn.mish",),),  # jax 0.4.27
    "hardtanh": (("jax.nn.hard_tanh",), ("jax.numpy.clip",)),
    "softsign": (("jax.nn.soft_sign",),), "softmax": (("jax.nn.softmax",),),
    "log_softmax": (("jax.nn.log_softmax",),),
}


def _loss(name: str) -> tuple[str, ...]:
    return (f"optax.losses.{name}", f"optax.{name}")


LOSS_NEEDS = {
    "sum": (), "l1": (), "bce": (), "poisson_nll": (), "nll": (),  # jax.numpy: optax has none
    "mse": (_loss("squared_error"),),  # optax 0.1.5
    "huber": (_loss("huber_loss"),), "smooth_l1": (_loss("huber_loss"),),
    "bce_with_logits": (_loss("sigmoid_binary_cross_entropy"),),
    "cross_entropy": (_loss("softmax_cross_entropy"),),  # one-hot rows; class indices below
    "kl_div": (_loss("kl_divergence"),),  # optax 0.1.5
}
OPTIMIZER_NEEDS = {
    "sgd": (("optax.sgd",), ("optax.add_decayed_weights",)),
    "adam": (("optax.scale_by_adam(eps_root)",), ("optax.add_decayed_weights",),
             ("optax.scale",)),
    # eps outside the square root, no bias correction: optax 0.2.4
    "rmsprop": (("optax.rmsprop(eps_in_sqrt)",), ("optax.rmsprop(bias_correction)",),
                ("optax.add_decayed_weights",)),
}
OPTIMIZER_NEEDS["adamw"] = OPTIMIZER_NEEDS["adam"]


def lacking(case: Case) -> str | None:
    """What this JAX or optax lacks of what the case uses (a skip), or None."""
    import_jax()  # JAX imported the one way (on the CPU, x64) before anything is looked up
    wanted = {f"activation {layer.activation}": ACTIVATION_NEEDS[layer.activation]
              for layer in case.layers}
    wanted[f"loss {case.loss}"] = LOSS_NEEDS[case.loss]
    if case.loss == "cross_entropy" and case.y is not None and case.y.ndim == 1:
        wanted["loss cross_entropy"] = (_loss("softmax_cross_entropy_with_integer_labels"),)
    wanted[f"optimizer {case.optimizer.name}"] = OPTIMIZER_NEEDS[case.optimizer.name]
    if case.optimizer.name in ("adam", "adamw") and case.optimizer.settings.get("amsgrad"):
        wanted["optimizer adam with amsgrad"] = (("optax.scale_by_amsgrad(eps_root)",),)
    return requires.lacking(wanted)


def activation_of(name: str, settings: dict):
    """jax.nn's own activation, with the arguments of the catalog's definition. Each function is
    looked up when the activation is applied, so a JAX that lacks one (jax.nn.mish came in
    0.4.27) fails only the cases that use it, and those are skipped first (lacking)."""
    jax = import_jax()
    jnp = jax.numpy
    s = settings
    return {
        "identity": lambda z: z,
        "sigmoid": lambda z: jax.nn.sigmoid(z),
        "tanh": lambda z: jnp.tanh(z),
        "relu": lambda z: jax.nn.relu(z),
        "leaky_relu": lambda z: jax.nn.leaky_relu(z, negative_slope=s.get("slope")),
        "elu": lambda z: jax.nn.elu(z, alpha=s.get("alpha")),
        "selu": lambda z: jax.nn.selu(z),
        "celu": lambda z: jax.nn.celu(z, alpha=s.get("alpha")),
        # jax.nn.gelu approximates by default; the catalog's default is the exact one
        "gelu": lambda z: jax.nn.gelu(z, approximate=s.get("approximate") == "tanh"),
        "softplus": lambda z: jax.nn.softplus(s.get("beta", 1.0) * z) / s.get("beta", 1.0),
        "silu": lambda z: jax.nn.silu(z),
        "mish": lambda z: jax.nn.mish(z),
        "hardtanh": lambda z: (jax.nn.hard_tanh(z) if (s["min_val"], s["max_val"]) == (-1.0, 1.0)
                               else jnp.clip(z, s["min_val"], s["max_val"])),
        "softsign": lambda z: jax.nn.soft_sign(z),
        "softmax": lambda z: jax.nn.softmax(z, axis=-1),
        "log_softmax": lambda z: jax.nn.log_softmax(z, axis=-1),
    }[name]


def loss_of(name: str, settings: dict, out, y):
    """optax's loss function for a catalog name where it has one, jax.numpy where it does not;
    then the reduction. Only the named loss's functions are looked up."""
    import optax

    jax = import_jax()
    jnp = jax.numpy
    losses = getattr(optax, "losses", optax)  # optax.losses from 0.1.8; optax's top level before
    reduce = jnp.mean if settings.get("reduction", "sum") == "mean" else jnp.sum
    beta = settings.get("beta", 1.0)
    terms = {  # what the reduction is applied to
        "mse": lambda: losses.squared_error(out, y),
        "l1": lambda: jnp.abs(out - y),
        "huber": lambda: losses.huber_loss(out, y, delta=settings.get("delta")),
        # optax has no smooth_l1: with beta it is huber with delta = beta, divided by beta
        "smooth_l1": lambda: losses.huber_loss(out, y, delta=beta) / beta,
        "bce": lambda: -(y * jnp.log(out) + (1 - y) * jnp.log(1 - out)),
        "bce_with_logits": lambda: losses.sigmoid_binary_cross_entropy(out, y),
        "poisson_nll": lambda: jnp.exp(out) - y * out,  # optax has none
        # class indices or one-hot rows
        "cross_entropy": lambda: (losses.softmax_cross_entropy_with_integer_labels(out, y)
                                  if y.ndim == 1 else losses.softmax_cross_entropy(out, y)),
        "nll": lambda: (-jnp.take_along_axis(jnp.log(out), y[:, None], axis=1)[:, 0]
                        if y.ndim == 1 else -jnp.sum(y * jnp.log(out), axis=1)),
        "kl_div": lambda: losses.kl_divergence(out, y),
    }
    if name == "sum":
        return out.sum()
    if name not in terms:
        raise ValueError(f"loss {name!r} is not mapped to jax")
    return reduce(terms[name]())


def optimizer_of(spec):
    """An optax optimizer with every setting passed explicitly (optax's defaults differ)."""
    import optax

    s = spec.settings
    if spec.name == "sgd":
        # optax has no dampening: a case with dampening declares the difference
        sgd = optax.sgd(s["lr"], momentum=s["momentum"] or None, nesterov=s["nesterov"])
        return optax.chain(optax.add_decayed_weights(s["weight_decay"]), sgd)
    if spec.name in ("adam", "adamw"):
        # optax's amsgrad keeps the maximum of bias-corrected second moments, torch's (and the
        # definition's) the maximum of the raw ones: a case with amsgrad declares the difference
        scale = (optax.scale_by_amsgrad if s["amsgrad"] else optax.scale_by_adam)(
            b1=s["beta1"], b2=s["beta2"], eps=s["eps"], eps_root=0.0)
        # what optax.scale_by_learning_rate(lr) is for a constant rate (or none), in every
        # optax (scale_by_learning_rate came in 0.1.8)
        rate = optax.identity() if s["lr"] is None else optax.scale(-s["lr"])
        if spec.name == "adam":  # L2: the decay joins the gradient before the moments
            return optax.chain(optax.add_decayed_weights(s["weight_decay"]), scale, rate)
        return optax.chain(scale, optax.add_decayed_weights(s["weight_decay"]), rate)
    if spec.name == "rmsprop":
        # eps_in_sqrt=False: the definition (and torch) add eps outside the square root
        return optax.chain(optax.add_decayed_weights(s["weight_decay"]),
                           optax.rmsprop(s["lr"], decay=s["alpha"], eps=s["eps"],
                                         initial_scale=0.0, eps_in_sqrt=False,
                                         centered=s["centered"], momentum=s["momentum"] or None,
                                         nesterov=False, bias_correction=False))
    raise ValueError(f"optimizer {spec.name!r} is not mapped to optax")


def network(case: Case):
    """(params, x) -> the last layer's output, in jax.numpy."""
    activations = [activation_of(layer.activation, layer.settings) for layer in case.layers]

    def forward(params, x):
        a = x
        for i, act in enumerate(activations):
            a = act(a @ params[weight_name(i)].T + params[bias_name(i)])
        return a
    return forward


def loss_function(case: Case, x, y):
    """params -> loss, for the second-order check."""
    forward = network(case)
    return lambda params: loss_of(case.loss, case.loss_settings, forward(params, x), y)
