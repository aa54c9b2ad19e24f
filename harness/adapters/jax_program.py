"""JAX's training step as its users write it, compiled once per case structure and kept.

The step is ``jax.value_and_grad`` of the loss and the optax update, in one ``jax.jit``; with
the ``nojit`` mode the same function runs under ``jax.disable_jit()``, every operation
dispatched on its own, as a user debugging a step sees it. Under mixed precision
(harness.format.numerics) the step casts the float32 parameters and data to the low dtype for
the forward, as JAX's users do (JAX has no autocast), and the output back to float32 for the
loss; the gradients reach the float32 parameters through the casts, and optax updates those.
"""
from __future__ import annotations

import time
from collections import OrderedDict

from ..format import numerics
from ..format.case import Case
from .compile_cache import hits
from .jax_ops import import_jax, loss_of, network, optimizer_of
from .precision import effective, jax_precision

NOJIT = "nojit"


def _frozen(settings: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in settings.items()))


def loss_structure(case: Case) -> tuple:
    """What a function of the loss closes over: the layers with their activations' settings, the
    loss with its settings."""
    return (tuple((l.units, l.activation, _frozen(l.settings)) for l in case.layers), case.loss,
            _frozen(case.loss_settings))


def program_key(case: Case, inputs_shapes: tuple, mode: str | None = None) -> tuple:
    """Everything that changes the compiled training step: the layers with their activations'
    settings, the loss and optimizer with theirs (constants in the program), the numeric format
    and every input's shape and dtype, the matmul precision it is compiled at, and the mode.
    Parameter and data values are arguments, not part of it. (The device is in the input
    shapes' entries.)"""
    return (case.dtype, loss_structure(case), case.optimizer.name,
            _frozen(case.optimizer.settings), effective(case), inputs_shapes, mode)


def loss_and_output(case: Case):
    """(params, x, y) -> (loss, output) in the case's numeric format."""
    jax = import_jax()
    jnp = jax.numpy
    forward = network(case)
    form = numerics.of(case.dtype)
    if not form.mixed:
        return lambda params, x, y: _with_output(case, forward(params, x), y)
    low, full = jnp.dtype(form.compute), jnp.dtype(form.loss)

    def mixed(params, x, y):  # cast in, compute low, cast the output up for the loss
        cast = {k: v.astype(low) for k, v in params.items()}
        out = forward(cast, x.astype(low)).astype(full)
        return _with_output(case, out, y)
    return mixed


def _with_output(case: Case, out, y):
    return loss_of(case.loss, case.loss_settings, out, y), out


class TrainingStep:
    """One case structure's training step (compiled ahead of time unless ``mode`` is nojit), and
    its optimizer's init."""

    def __init__(self, case: Case, params, x, y, mode: str | None = None):
        import optax

        jax = import_jax()
        optimizer = optimizer_of(case.optimizer)
        value_and_grad = jax.value_and_grad(loss_and_output(case), has_aux=True)

        def train_step(params, state, x, y):  # the step as users of JAX write it
            (loss, out), grads = value_and_grad(params, x, y)
            updates, state = optimizer.update(grads, state, params)
            return loss, out, grads, optax.apply_updates(params, updates), state

        # The optimizer's state is made as optax's users make it, outside jit: zeros and a
        # step count, the values a compiled init would give; its small programs, one per new
        # shape, serve every later case (a compiled init was a program per case).
        self.init = optimizer.init
        self.jitted = mode != NOJIT
        start = time.perf_counter()
        loaded = hits()
        if self.jitted:
            with jax_precision(effective(case)):  # the precision is fixed when the step is traced
                state = jax.eval_shape(optimizer.init, params)
                self.step = jax.jit(train_step).lower(params, state, x, y).compile()
        else:
            precision = effective(case)

            def eager(*args):
                with jax.disable_jit(), jax_precision(precision):
                    return train_step(*args)
            self.step = eager
        self.compile_seconds = time.perf_counter() - start
        # loaded from the persistent cache (harness.adapters.compile_cache): the executable a
        # compile gives, and said in the trace's notes for whoever suspects otherwise
        self.step_from_cache = hits() > loaded

    def describe(self, cached: str) -> str:
        """How the step ran, for the trace's notes."""
        if not self.jitted:
            return ("jit disabled (jax.disable_jit): jax.value_and_grad and the optax update "
                    "run op by op, each operation dispatched on its own")
        compiled = f"loaded from JAX's persistent compilation cache ({cached})" \
            if self.step_from_cache else "compiled by XLA in this run"
        return ("each step jit-compiled: jax.value_and_grad and the optax update in one jax.jit "
                f"(the optimizer's state from optax's init, outside jit); the program {compiled}")


class Recent:
    """The most recently used values by key, up to ``size``: a worker runs many cases, and what
    one compiled (a training step, the forward-mode check's jitted function) serves every later
    case with the same key. The same program gives the same bits, so reuse changes no result."""

    def __init__(self, size: int):
        self.size = size
        self.values: OrderedDict = OrderedDict()

    def get(self, key, make) -> tuple[object, bool]:
        """(the value for key, whether it was made now by calling ``make()``)."""
        if key in self.values:
            self.values.move_to_end(key)
            return self.values[key], False
        value = self.values[key] = make()
        if len(self.values) > self.size:
            self.values.popitem(last=False)
        return value, True


# training steps by program_key: a case again in another plan, variants that change values only,
# cases that differ in data or initial parameters compile once
PROGRAMS = Recent(128)


def training_step(case: Case, params, x, y, mode: str | None = None
                  ) -> tuple[TrainingStep, bool]:
    """The case's training step, and whether it was compiled (or loaded) just now."""
    shapes = tuple((k, v.shape, str(v.dtype)) for k, v in sorted(params.items())) + \
        tuple(None if a is None else (a.shape, str(a.dtype)) for a in (x, y)) + \
        (str(next(iter(x.devices()))),)  # a program is compiled for one device
    return PROGRAMS.get(program_key(case, shapes, mode),
                        lambda: TrainingStep(case, params, x, y, mode))

