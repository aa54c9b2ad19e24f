"""JAX: jax.nn activations, optax losses and optimizers (harness.adapters.jax_ops), the step
under jax.jit or with jit off (harness.adapters.jax_program), forward mode and Hessian-vector
products for the oracles."""
from __future__ import annotations

import os

import numpy as np

from ..format import numerics
from ..format.case import Case, Inputs
from ..format.trace import Step, Trace, as_float64
from .base import Availability, Bindable, package_availability
from .compile_cache import describe
from .jax_ops import import_jax, lacking, loss_function, loss_of, network
from .jax_program import NOJIT, Recent, loss_structure, training_step
from .precision import effective, jax_notes, jax_precision

__all__ = ["JaxAdapter", "import_jax"]


def _cuda_plugin() -> bool:
    """Whether a JAX CUDA plugin is installed (found without importing it)."""
    import importlib.util

    return any(importlib.util.find_spec(m) is not None
               for m in ("jax_cuda12_plugin", "jax_cuda13_plugin"))


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
    forward = network(case)

    def both(primal, tangents, x, y):
        def loss(params):
            return loss_of(case.loss, case.loss_settings, forward(params, x), y)

        directional = jax.vmap(lambda t: jax.jvp(loss, (primal,), (t,))[1])
        return jax.grad(loss)(primal), directional(tangents)
    options = _check_compiler_options()  # none: an older JAX (0.4.13) takes no compiler_options
    return jax.jit(both, **({"compiler_options": options} if options else {}))


class JaxAdapter(Bindable):
    name = "jax"
    devices = ("cpu", "gpu")  # jax@cpu, jax@gpu (harness.running.devices; jax@cuda is jax@gpu)
    modes = (NOJIT,)  # jax+nojit: the step with jit disabled (harness.adapters.jax_program)

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
        loss = loss_function(case, jax.device_put(x), None if y is None else jax.device_put(y))
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
        """What this JAX or optax lacks of the case (jax_ops.lacking: a skip naming the version
        and the function); on the GPU, whether JAX has one in this worker (its JAX_PLATFORMS
        chose at import)."""
        missing = lacking(case)
        if missing or self.device in (None, "cpu"):
            return missing
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
        program, compiled_now = training_step(case, params, x, y, self.mode)
        state = program.init(params)
        steps = []
        for _ in range(case.steps):
            loss, out, grads, params, state = program.step(params, state, x, y)
            steps.append(Step(as_float64(out), as_float64(loss),
                              {k: as_float64(grads[k]) for k in case.param_names},
                              {k: as_float64(params[k]) for k in case.param_names}))
        with jax_precision(effective(case)):
            settings = jax_notes(device)
        return Trace(self.name, steps, notes=(
            program.describe(describe()),
            f"ran on {device.platform} ({device.device_kind}); JAX_PLATFORMS="
            f"{os.environ.get('JAX_PLATFORMS', '')}",
            f"precision {effective(case)}: {settings}", numbers(case)),
            timings={"compile": program.compile_seconds if compiled_now else 0.0})


def numbers(case: Case) -> str:
    """What JAX computed in, for the trace's notes."""
    form = numerics.of(case.dtype)
    if form.mixed:
        return (f"{form.name}: float32 parameters and optax state; parameters and data cast to "
                f"{form.compute} for the forward and backward, the output cast to float32 for "
                f"the loss")
    if form.low:
        return (f"{form.name}: parameters, data and optax state in {form.compute}; XLA rounds "
                f"each operation's result to {form.compute}, and accumulates its sums and "
                f"matrix products in float32")
    return f"{form.name} throughout"


# the forward-mode check's jitted function by loss structure; jax.jit keeps its programs per
# input shapes and dtypes
_FORWARD_AND_REVERSE = Recent(64)


def _forward_and_reverse(case: Case):
    """The forward-mode check's jitted function for the case's network and loss."""
    return _FORWARD_AND_REVERSE.get(loss_structure(case),
                                    lambda: _forward_and_reverse_program(case))[0]
