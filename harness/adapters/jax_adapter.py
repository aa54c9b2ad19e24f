"""JAX: the loss written in jax.numpy, gradients by jax.value_and_grad under jit."""
from __future__ import annotations

from ..case import Case, Inputs
from ..trace import Step, Trace, as_float64
from .base import Availability, package_availability


def _import_jax():
    import jax

    # Without x64, float64 input silently becomes float32. float32 inputs stay float32 with it on.
    jax.config.update("jax_enable_x64", True)
    return jax


def _activation(name: str):
    jax = _import_jax()
    return {
        "identity": lambda z: z,
        "sigmoid": jax.nn.sigmoid,
        "tanh": jax.numpy.tanh,
        "relu": jax.nn.relu,
        "softmax": lambda z: jax.nn.softmax(z, axis=-1),
    }[name]


def _loss(name: str, out, y):
    jax = _import_jax()
    jnp = jax.numpy
    if name == "sum":
        return out.sum()
    if name == "mse":
        return jnp.mean((out - y) ** 2)
    if name == "bce":
        return -jnp.mean(y * jnp.log(out) + (1 - y) * jnp.log(1 - out))
    if name == "bce_with_logits":
        return jnp.mean(jnp.logaddexp(0, out) - out * y)  # log(1 + e^z) − z·y
    if name in ("cross_entropy", "nll"):
        logp = jax.nn.log_softmax(out, axis=-1) if name == "cross_entropy" else jnp.log(out)
        if y.ndim == 1:
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
        return -jnp.mean(jnp.sum(y * logp, axis=1))
    raise ValueError(f"loss {name!r} is not mapped to jax")


class JaxAdapter:
    name = "jax"

    def availability(self) -> Availability:
        return package_availability("jax")

    def supports(self, case: Case) -> str | None:
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        jax = _import_jax()
        jnp = jax.numpy
        activations = [_activation(layer.activation) for layer in case.layers]
        lr = case.optimizer.lr

        def loss_fn(params, x, y):
            a = x
            for i, act in enumerate(activations):
                a = act(a @ params[f"layers.{i}.weight"].T + params[f"layers.{i}.bias"])
            return _loss(case.loss, a, y), a

        value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)

        @jax.jit  # one compilation per case and dtype: the step as users of JAX run it
        def train_step(params, x, y):
            (loss, out), grads = value_and_grad(params, x, y)
            return loss, out, grads, jax.tree.map(lambda p, g: p - lr * g, params, grads)

        params = {k: jnp.asarray(v) for k, v in inputs.params.items()}
        x = jnp.asarray(inputs.x)
        y = None if inputs.y is None else jnp.asarray(inputs.y)
        steps = []
        for _ in range(case.steps):
            loss, out, grads, params = train_step(params, x, y)
            steps.append(Step(as_float64(out), as_float64(loss),
                              {k: as_float64(grads[k]) for k in case.param_names},
                              {k: as_float64(params[k]) for k in case.param_names}))
        return Trace(self.name, steps, notes=("each step jit-compiled: jax.value_and_grad and the update in one jax.jit",))
