"""JAX: jax.nn activations, optax losses and optimizers, jax.value_and_grad under jit."""
from __future__ import annotations

import os
import time
from collections import OrderedDict

import numpy as np

from ..format.case import Case, Inputs, bias_name, weight_name
from .compile_cache import configure_jax, describe, hits
from ..format.parties import PINNED_MARK
from .precision import effective, jax_notes, jax_precision
from ..format.trace import Step, Trace, as_float64
from .base import Availability, OnDevice, package_availability


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


def _cuda_plugin() -> bool:
    """Whether a JAX CUDA plugin is installed (found without importing it)."""
    import importlib.util

    return any(importlib.util.find_spec(m) is not None
               for m in ("jax_cuda12_plugin", "jax_cuda13_plugin"))


def activation_of(name: str, settings: dict):
    """jax.nn's own activation, with the arguments of the catalog's definition."""
    jax = import_jax()
    jnp = jax.numpy
    s = settings
    return {
        "identity": lambda z: z,
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
        "relu": jax.nn.relu,
        "leaky_relu": lambda z: jax.nn.leaky_relu(z, negative_slope=s.get("slope")),
        "elu": lambda z: jax.nn.elu(z, alpha=s.get("alpha")),
        "selu": jax.nn.selu,
        "celu": lambda z: jax.nn.celu(z, alpha=s.get("alpha")),
        # jax.nn.gelu approximates by default; the catalog's default is the exact one
        "gelu": lambda z: jax.nn.gelu(z, approximate=s.get("approximate") == "tanh"),
        "softplus": lambda z: jax.nn.softplus(s.get("beta", 1.0) * z) / s.get("beta", 1.0),
        "silu": jax.nn.silu,
        "mish": jax.nn.mish,
        "hardtanh": lambda z: (jax.nn.hard_tanh(z) if (s["min_val"], s["max_val"]) == (-1.0, 1.0)
                               else jnp.clip(z, s["min_val"], s["max_val"])),
        "softsign": jax.nn.soft_sign,
        "softmax": lambda z: jax.nn.softmax(z, axis=-1),
        "log_softmax": lambda z: jax.nn.log_softmax(z, axis=-1),
    }[name]


def loss_of(name: str, settings: dict, out, y):
    """optax's loss function for a catalog name where it has one, jax.numpy where it does not;
    then the reduction."""
    import optax

    jax = import_jax()
    jnp = jax.numpy
    reduce = jnp.mean if settings.get("reduction", "sum") == "mean" else jnp.sum
    beta = settings.get("beta", 1.0)
    terms = {  # what the reduction is applied to
        "mse": lambda: optax.losses.squared_error(out, y),
        "l1": lambda: jnp.abs(out - y),
        "huber": lambda: optax.losses.huber_loss(out, y, delta=settings.get("delta")),
        # optax has no smooth_l1: with beta it is huber with delta = beta, divided by beta
        "smooth_l1": lambda: optax.losses.huber_loss(out, y, delta=beta) / beta,
        "bce": lambda: -(y * jnp.log(out) + (1 - y) * jnp.log(1 - out)),
        "bce_with_logits": lambda: optax.losses.sigmoid_binary_cross_entropy(out, y),
        "poisson_nll": lambda: jnp.exp(out) - y * out,  # optax has none
        # class indices or one-hot rows
        "cross_entropy": lambda: (optax.losses.softmax_cross_entropy_with_integer_labels(out, y)
                                  if y.ndim == 1 else optax.losses.softmax_cross_entropy(out, y)),
        "nll": lambda: (-jnp.take_along_axis(jnp.log(out), y[:, None], axis=1)[:, 0]
                        if y.ndim == 1 else -jnp.sum(y * jnp.log(out), axis=1)),
        "kl_div": lambda: optax.losses.kl_divergence(out, y),
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
        if spec.name == "adam":  # L2: the decay joins the gradient before the moments
            return optax.chain(optax.add_decayed_weights(s["weight_decay"]), scale,
                               optax.scale_by_learning_rate(s["lr"]))
        return optax.chain(scale, optax.add_decayed_weights(s["weight_decay"]),
                           optax.scale_by_learning_rate(s["lr"]))
    if spec.name == "rmsprop":
        # eps_in_sqrt=False: the definition (and torch) add eps outside the square root
        return optax.chain(optax.add_decayed_weights(s["weight_decay"]),
                           optax.rmsprop(s["lr"], decay=s["alpha"], eps=s["eps"],
                                         initial_scale=0.0, eps_in_sqrt=False,
                                         centered=s["centered"], momentum=s["momentum"] or None,
                                         nesterov=False, bias_correction=False))
    raise ValueError(f"optimizer {spec.name!r} is not mapped to optax")


def _network(case: Case):
    """(params, x) -> the last layer's output, in jax.numpy."""
    activations = [activation_of(layer.activation, layer.settings) for layer in case.layers]

    def forward(params, x):
        a = x
        for i, act in enumerate(activations):
            a = act(a @ params[weight_name(i)].T + params[bias_name(i)])
        return a
    return forward


def _loss_function(case: Case, x, y):
    """params -> loss, for the second-order check."""
    forward = _network(case)
    return lambda params: loss_of(case.loss, case.loss_settings, forward(params, x), y)


# The forward-mode check's program is compiled without XLA's CPU fusion emitters (its older kernel
# emitters instead). It checks JAX's differentiation rules, jvp against grad within one program;
# XLA's kernels as JAX's users compile them are what the jax party's training step checks. On 300
# generated cases the check then compiled in two thirds of the time with the same verdicts and
# the same share of the tolerance used (worst, 99th percentile and mean); turning LLVM's
# optimizations off too was faster still but changed the bits of 80 % of the rows and nearly
# doubled the worst float32 share, so it is not done (docs/benchmarks.md, "Oracles").
CHECK_COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}
_known_options: dict | None = None


def _check_compiler_options() -> dict:
    """CHECK_COMPILER_OPTIONS where this XLA knows them all, else none: an XLA that dropped an
    option refuses every compile that names it, and the check must not fail for that."""
    global _known_options
    if _known_options is None:
        jax = import_jax()
        try:
            jax.jit(lambda a: a, compiler_options=CHECK_COMPILER_OPTIONS).lower(
                np.zeros(1)).compile()
            _known_options = dict(CHECK_COMPILER_OPTIONS)
        except Exception:  # JaxRuntimeError: INVALID_ARGUMENT: No such compile option
            _known_options = {}
    return _known_options


def _forward_and_reverse_program(case: Case):
    """(params, tangents, x, y) -> (jax.grad, the jvp along each stacked tangent), jitted; the data
    are arguments, not constants folded into the program, so one compiled program serves every
    case of the same structure, shapes and dtype (and JAX's persistent cache can hold it)."""
    jax = import_jax()
    forward = _network(case)

    def both(primal, tangents, x, y):
        def loss(params):
            return loss_of(case.loss, case.loss_settings, forward(params, x), y)

        directional = jax.vmap(lambda t: jax.jvp(loss, (primal,), (t,))[1])
        return jax.grad(loss)(primal), directional(tangents)
    return jax.jit(both, compiler_options=_check_compiler_options())


class JaxAdapter(OnDevice):
    name = "jax"
    devices = ("cpu", "gpu")  # jax@cpu, jax@gpu (harness.running.devices; jax@cuda is jax@gpu)

    def _device(self):
        """The device the party computes on, asked of JAX in this (worker) process."""
        return import_jax().devices(self.device or "cpu")[0]

    def forward_and_reverse(self, case: Case, param_sets, x, y, indices):
        """For each set of parameters: (jax.grad, jax.jvp along every sampled basis direction).
        The basis directions of all tensors are stacked and vmapped, in one jit for all sets."""
        jax = import_jax()
        shapes = {k: v.shape for k, v in param_sets[0].items()}
        total = sum(len(chosen) for chosen in indices.values())
        tangents = {k: np.zeros((total, int(np.prod(shape))), dtype=case.dtype)
                    for k, shape in shapes.items()}
        start = 0
        for name, chosen in indices.items():
            tangents[name][np.arange(start, start + len(chosen)), chosen] = 1
            start += len(chosen)
        # device_put, not jnp.asarray: no small program compiled per new shape
        tangents = {k: jax.device_put(t.reshape((total,) + shapes[k]))
                    for k, t in tangents.items()}
        x = jax.device_put(x)
        y = None if y is None else jax.device_put(y)
        both = _forward_and_reverse(case)
        results = []
        for params in param_sets:
            reverse, directional = both({k: jax.device_put(v) for k, v in params.items()},
                                        tangents, x, y)
            directional = np.asarray(directional)
            forward, start = {}, 0
            for name, chosen in indices.items():
                forward[name] = directional[start:start + len(chosen)]
                start += len(chosen)
            results.append(({k: np.asarray(v) for k, v in reverse.items()}, forward))
        return results

    def hvp(self, case: Case, params, x, y, vector):
        """H·v as the jvp of the gradient (forward over reverse)."""
        jax = import_jax()
        loss = _loss_function(case, jax.device_put(x), None if y is None else jax.device_put(y))
        primal = {k: jax.device_put(v) for k, v in params.items()}
        tangent = {k: jax.device_put(np.asarray(vector[k], dtype=case.dtype)) for k in primal}
        return {k: np.asarray(v) for k, v in
                jax.jvp(jax.grad(loss), (primal,), (tangent,))[1].items()}

    def prepare(self) -> None:
        """JAX's and optax's imports and the start of its backend: outside the time limit
        (harness.running.jobs). A device JAX lacks is left for supports() to explain."""
        import optax  # noqa: F401

        jax = import_jax()
        try:
            jax.devices(self.device or "cpu")
        except Exception:
            pass

    def availability(self) -> Availability:
        optax = package_availability("optax")  # JAX's optimizers and losses come from optax
        return package_availability("jax") if optax.available else optax

    def supports(self, case: Case) -> str | None:
        """On the GPU, whether JAX has one in this worker (its JAX_PLATFORMS chose at import)."""
        if self.device in (None, "cpu"):
            return None
        jax = import_jax()
        try:
            jax.devices(self.device)
        except Exception as exc:  # RuntimeError, or a bare AssertionError with no CUDA plugin
            said = (str(exc).splitlines() or [""])[0][:200]
            failed = f"{type(exc).__name__}: {said}" if said else type(exc).__name__
            plugin = "" if _cuda_plugin() else "; no CUDA plugin installed (pip install " \
                                               "'jax[cuda12]')"
            return (f"{self.name}: no GPU backend in jax {jax.__version__} (jax.devices("
                    f"{self.device!r}) failed: {failed}; JAX_PLATFORMS="
                    f"{os.environ.get('JAX_PLATFORMS', '')}{plugin})")
        return None

    def run(self, case: Case, inputs: Inputs) -> Trace:
        jax = import_jax()
        device = self._device()
        # device_put, not jnp.asarray: no small program compiled per new shape
        params = {k: jax.device_put(v, device) for k, v in inputs.params.items()}
        x = jax.device_put(inputs.x, device)
        y = None if inputs.y is None else jax.device_put(inputs.y, device)
        program, compiled_now = _program(case, params, x, y)
        state = program.init(params)
        steps = []
        for _ in range(case.steps):
            loss, out, grads, params, state = program.step(params, state, x, y)
            steps.append(Step(as_float64(out), as_float64(loss),
                              {k: as_float64(grads[k]) for k in case.param_names},
                              {k: as_float64(params[k]) for k in case.param_names}))
        with jax_precision(effective(case)):
            settings = jax_notes(device)
        compiled = "loaded from JAX's persistent compilation cache (" + describe() + ")" \
            if program.step_from_cache else "compiled by XLA in this run"
        return Trace(self.name, steps, notes=(
            "each step jit-compiled: jax.value_and_grad and the optax update in one jax.jit "
            "(the optimizer's state from optax's init, outside jit); "
            f"the program {compiled}",
            f"ran on {device.platform} ({device.device_kind}); JAX_PLATFORMS="
            f"{os.environ.get('JAX_PLATFORMS', '')}",
            f"precision {effective(case)}: {settings}"),
            timings={"compile": program.compile_seconds if compiled_now else 0.0})


def _frozen(settings: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in settings.items()))


def _loss_structure(case: Case) -> tuple:
    """What a function of the loss closes over: the layers with their activations' settings, the
    loss with its settings."""
    return (tuple((l.units, l.activation, _frozen(l.settings)) for l in case.layers), case.loss,
            _frozen(case.loss_settings))


def program_key(case: Case, inputs_shapes: tuple) -> tuple:
    """Everything that changes the compiled training step: the layers with their activations'
    settings, the loss and optimizer with theirs (constants in the program), the dtype and every
    input's shape and dtype, and the matmul precision it is compiled at. Parameter and data
    values are arguments, not part of it. (The device is in the input shapes' entries.)"""
    return (case.dtype, _loss_structure(case), case.optimizer.name,
            _frozen(case.optimizer.settings), effective(case), inputs_shapes)


class _Program:
    """One case structure's training step, compiled ahead of time, and its optimizer's init."""

    def __init__(self, case: Case, params, x, y):
        import optax

        jax = import_jax()
        forward = _network(case)
        optimizer = optimizer_of(case.optimizer)

        def loss_fn(params, x, y):
            out = forward(params, x)
            return loss_of(case.loss, case.loss_settings, out, y), out

        value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)

        def train_step(params, state, x, y):  # the step as users of JAX jit it
            (loss, out), grads = value_and_grad(params, x, y)
            updates, state = optimizer.update(grads, state, params)
            return loss, out, grads, optax.apply_updates(params, updates), state

        # The optimizer's state is made as optax's users make it, outside jit: zeros and a
        # step count, the values a compiled init would give; its small programs, one per new
        # shape, serve every later case (a compiled init was a program per case).
        self.init = optimizer.init
        start = time.perf_counter()
        with jax_precision(effective(case)):  # the precision is fixed when the step is traced
            state = jax.eval_shape(optimizer.init, params)
            loaded = hits()
            self.step = jax.jit(train_step).lower(params, state, x, y).compile()
        self.compile_seconds = time.perf_counter() - start
        # loaded from the persistent cache (harness.adapters.compile_cache): the executable a compile
        # gives, and said in the trace's notes for whoever suspects otherwise
        self.step_from_cache = hits() > loaded


class _Recent:
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
_PROGRAMS = _Recent(128)
# the forward-mode check's jitted function by loss structure; jax.jit keeps its programs per
# input shapes and dtypes
_FORWARD_AND_REVERSE = _Recent(64)


def _program(case: Case, params, x, y) -> tuple[_Program, bool]:
    """The case's compiled training step, and whether it was compiled (or loaded) just now."""
    shapes = tuple((k, v.shape, str(v.dtype)) for k, v in sorted(params.items())) + \
        tuple(None if a is None else (a.shape, str(a.dtype)) for a in (x, y)) + \
        (str(next(iter(x.devices()))),)  # a program is compiled for one device
    return _PROGRAMS.get(program_key(case, shapes), lambda: _Program(case, params, x, y))


def _forward_and_reverse(case: Case):
    """The forward-mode check's jitted function for the case's network and loss."""
    return _FORWARD_AND_REVERSE.get(_loss_structure(case),
                                    lambda: _forward_and_reverse_program(case))[0]
