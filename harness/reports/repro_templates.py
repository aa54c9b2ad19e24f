"""The text of each repro.py (harness.reports.repro), one template per kind of framework.

A repro.py imports only its framework and NumPy, never ``harness``. Where it needs the harness's
mapping from catalog names to the framework's calls (activations, losses, optimizers), the
generator pastes the adapter's own functions into it (inspect.getsource), so the adapter stays
the one source of truth and nothing is copied by hand. What is written here is the part every
repro shares (reading the folder, comparing, the exit code) and each framework's training loop,
which follows the adapter's ``run`` line for line.
"""
from __future__ import annotations

# Placeholders are @NAME@ (filled by str.replace, so the code's own braces stay as they are).
HEAD = '''\
"""Repro of a discrepancy found by the gradient conformance harness.

Case @CASE@ in @DTYPE@, framework @FRAMEWORK@, against the reference @REFERENCE@.
Run it from this folder: python repro.py
It trains the case as the harness ran @FRAMEWORK@ and compares every step with reference.npz,
under the per-element allowance the harness used (tolerance.json; |got - reference| must be at
most the allowance). Exit 1 while a tensor differs, 0 when none does. Needs only @NEEDS@.
"""
from __future__ import annotations  # the pasted functions' annotations name harness types

@IMPORTS@
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = json.loads(r\'\'\'@SPEC@\'\'\')


def load_inputs():
    with np.load(os.path.join(HERE, "inputs.npz")) as data:
        params = {k: data["param/" + k] for k in SPEC["param_names"]}
        x = data["x"]
        y = data["y"] if "y" in data.files else None
    return params, x, y


def weight_name(layer):
    return f"layers.{layer}.weight"


def bias_name(layer):
    return f"layers.{layer}.bias"


def as_float64(value):
    if hasattr(value, "detach"):  # a torch tensor, bfloat16 too (NumPy reads no bfloat16 tensor)
        value = value.detach().cpu().double()
    return np.array(np.asarray(value), dtype=np.float64)
'''

COMPARE = '''

def compare(steps):
    """Each step's tensors against reference.npz; prints what differs; True when anything does."""
    with open(os.path.join(HERE, "tolerance.json"), encoding="utf-8") as handle:
        tolerance = json.load(handle)
    print(f"tolerance ({tolerance['source']}): atol {tolerance['atol']:g}, rtol "
          f"{tolerance['rtol']:g}, scale_rtol {tolerance['scale_rtol']:g}, sum_rtol "
          f"{tolerance['sum_rtol']:g}; per-element allowances from the harness in reference.npz")
    differs, first, later = False, None, 0
    with np.load(os.path.join(HERE, "reference.npz")) as reference:
        if len(steps) != SPEC["steps"]:
            print(f"returned {len(steps)} steps, the case has {SPEC['steps']}")
            return True
        for number, got in enumerate(steps, start=1):
            for key, value in got:
                ref = reference[f"step{number}/{key}"]
                allowed = reference[f"allowed/step{number}/{key}"]
                value = np.asarray(value, dtype=np.float64)
                if value.shape != ref.shape:
                    print(f"step {number} {key}: shape {value.shape}, reference {ref.shape}")
                    differs, first = True, first or number
                    continue
                with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                    diff = np.abs(value - ref)
                    diff = np.where(np.isnan(diff), np.inf, diff)
                    diff = np.where(np.isfinite(ref), diff, 0.0)  # a non-finite reference: undecided
                    rel = np.where(ref != 0, diff / np.abs(ref), 0.0)
                bad = diff > allowed
                if bad.any() and first is not None and number > first:
                    later += 1  # a later step starts from parameters that already differ
                    differs = True
                elif bad.any():
                    worst = np.unravel_index(int(np.argmax(np.where(bad, diff - allowed, -np.inf))),
                                             ref.shape)
                    print(f"step {number} {key}: {int(bad.sum())}/{ref.size} elements differ; max "
                          f"abs diff {diff.max():.6g}, max rel diff {rel.max():.6g}; worst at "
                          f"{tuple(int(i) for i in worst)}: got {float(value[worst])!r}, "
                          f"reference {float(ref[worst])!r} (allowed {float(allowed[worst]):.3g})")
                    print(f"    got:       {np.array2string(value.ravel()[:6], precision=6)}")
                    print(f"    reference: {np.array2string(ref.ravel()[:6], precision=6)}")
                    differs, first = True, first or number
    if later:
        print(f"and {later} tensor(s) of later steps differ (they start from parameters that "
              "already differ)")
    if differs:
        print(f"DISCREPANCY: @FRAMEWORK@ differs from the reference, first at step {first}")
    else:
        print("no discrepancy: every tensor of every step is within the harness's tolerance")
    return differs


def tensors(output, loss, grads, params):
    """(key, value) in the harness's report order."""
    return ([("output", output), ("loss", loss)]
            + [(f"grad/{k}", grads[k]) for k in SPEC["param_names"]]
            + [(f"param/{k}", params[k]) for k in SPEC["param_names"]])


if __name__ == "__main__":
    try:
        trained = train()
    except Exception as exc:  # the harness reported this framework's error; so does the repro
        import traceback

        traceback.print_exc()
        print(f"DISCREPANCY: @FRAMEWORK@ raised {type(exc).__name__}: {exc}")
        sys.exit(1)
    sys.exit(1 if compare(trained) else 0)
'''

TORCH_LOOP = '''

class OptimizerSpec:
    def __init__(self, name, settings):
        self.name, self.settings = name, settings


def train():
    """As harness/adapters/torch_adapter.py's TorchAdapter.run, in the party's mode and numeric
    format (SPEC's mode, storage, compute and mixed)."""
    import torch.nn.functional as F

    start, x, y = load_inputs()
    storage = getattr(torch, SPEC["storage"])  # the inputs are exact in it
    params = {k: torch.tensor(v).to(storage).requires_grad_(True) for k, v in start.items()}
    x = torch.tensor(x).to(storage)
    y = None if y is None else torch.tensor(y).to(storage) if y.dtype.kind == "f" \\
        else torch.tensor(y)
    mode = SPEC["mode"]
    optimizer = optimizer_of(OptimizerSpec(SPEC["optimizer"], SPEC["optimizer_settings"]),
                             list(params.values()), None if mode == "compile" else mode)
    activations = [activation_of(layer["activation"], layer["settings"])
                   for layer in SPEC["layers"]]

    def forward(params, x):
        a = x
        for i, act in enumerate(activations):
            a = act(F.linear(a, params[weight_name(i)], params[bias_name(i)]))
        return a

    forward_backward, update = make_step(
        forward, lambda out, y: loss_of(SPEC["loss"], SPEC["loss_settings"], out, y), optimizer,
        getattr(torch, SPEC["compute"]) if SPEC["mixed"] else None, "cpu",
        compiled=mode == "compile")
    steps = []
    for _ in range(SPEC["steps"]):
        loss, a = forward_backward(params, x, y)
        grads = {k: as_float64(p.grad) for k, p in params.items()}
        update()
        steps.append(tensors(as_float64(a), as_float64(loss), grads,
                             {k: as_float64(p) for k, p in params.items()}))
    return steps
'''

JAX_LOOP = '''

def import_jax():
    """JAX on the CPU unless JAX_PLATFORMS says otherwise, with float64 on: as the harness
    imports it (harness/adapters/jax_ops.py)."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


class OptimizerSpec:
    def __init__(self, name, settings):
        self.name, self.settings = name, settings


def train():
    """As harness/adapters/jax_program.py's TrainingStep: one jax.jit per step, or jit off
    (mode nojit); under mixed precision the parameters and data cast for the forward."""
    import contextlib

    import optax

    jax = import_jax()
    jnp = jax.numpy
    activations = [activation_of(layer["activation"], layer["settings"])
                   for layer in SPEC["layers"]]

    def forward(params, x):
        a = x
        for i, act in enumerate(activations):
            a = act(a @ params[weight_name(i)].T + params[bias_name(i)])
        return a

    optimizer = optimizer_of(OptimizerSpec(SPEC["optimizer"], SPEC["optimizer_settings"]))
    low = jnp.dtype(SPEC["compute"]) if SPEC["mixed"] else None

    def loss_fn(params, x, y):
        if low is None:
            out = forward(params, x)
        else:  # cast in, compute low, cast the output up for the loss
            cast = {k: v.astype(low) for k, v in params.items()}
            out = forward(cast, x.astype(low)).astype(jnp.float32)
        return loss_of(SPEC["loss"], SPEC["loss_settings"], out, y), out

    value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(params, state, x, y):
        (loss, out), grads = value_and_grad(params, x, y)
        updates, state = optimizer.update(grads, state, params)
        return loss, out, grads, optax.apply_updates(params, updates), state

    eager = SPEC["mode"] == "nojit"
    step = train_step if eager else jax.jit(train_step)
    start, x, y = load_inputs()
    storage = jnp.dtype(SPEC["storage"])
    params = {k: jnp.asarray(v, dtype=storage) for k, v in start.items()}
    x = jnp.asarray(x, dtype=storage)
    y = None if y is None else jnp.asarray(y, dtype=storage) if y.dtype.kind == "f" \\
        else jnp.asarray(y)
    state = optimizer.init(params)
    steps = []
    with jax.disable_jit() if eager else contextlib.nullcontext():
        for _ in range(SPEC["steps"]):
            loss, out, grads, params, state = step(params, state, x, y)
            steps.append(tensors(as_float64(out), as_float64(loss),
                                 {k: as_float64(grads[k]) for k in SPEC["param_names"]},
                                 {k: as_float64(params[k]) for k in SPEC["param_names"]}))
    return steps
'''

IMPL_LOOP = '''

class _Named:
    def __init__(self, **values):
        self.__dict__.update(values)


class Layer(_Named):
    pass


class Optimizer(_Named):
    @property
    def lr(self):
        return self.settings["lr"]


# what your file's forward_backward(params, x, y, case) and update(…, case) get as `case`: the
# fields of harness.format.case.Case that docs/your-backprop.md promises, without importing harness
CASE = _Named(name=SPEC["case"], dtype=SPEC["dtype"], steps=SPEC["steps"], loss=SPEC["loss"],
              loss_settings=SPEC["loss_settings"], dtypes=(SPEC["dtype"],),
              layers=tuple(Layer(units=layer["units"], activation=layer["activation"],
                                 settings=layer["settings"]) for layer in SPEC["layers"]),
              optimizer=Optimizer(name=SPEC["optimizer"], settings=SPEC["optimizer_settings"]))


def _positional(fn):
    params = inspect.signature(fn).parameters.values()
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def train():
    """As harness/adapters/user_impl.py runs an --impl file: your forward_backward each step,
    then your update, or without one the case's optimizer (NumpyOptimizer, pasted below)."""
    spec = importlib.util.spec_from_file_location("impl_under_test", os.path.join(HERE, IMPL_FILE))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    update = getattr(module, "update", None)
    optimizer, state = NumpyOptimizer(CASE.optimizer), {}
    params, x, y = load_inputs()
    dtype = SPEC["dtype"]
    steps = []
    for _ in range(SPEC["steps"]):
        args = ({k: v.copy() for k, v in params.items()}, x.copy(), None if y is None else y.copy())
        if _positional(module.forward_backward) == 4:
            args += (CASE,)
        result = module.forward_backward(*args)
        grads = {k: np.asarray(result["grads"][k], dtype=np.float64).astype(dtype)
                 for k in params}
        if update is None:
            new = optimizer.step(params, grads)
        else:
            call = ({k: v.copy() for k, v in params.items()}, dict(grads), CASE)
            if _positional(update) == 4:
                call += (state,)
            new = update(*call)
        params = {k: np.asarray(new[k], dtype=np.float64).astype(dtype) for k in params}
        steps.append(tensors(as_float64(result["output"]),
                             as_float64(result["loss"]).reshape(()), grads, params))
    return steps
'''

UNAVAILABLE = '''\
"""Repro of a discrepancy found by the gradient conformance harness: NOT AVAILABLE for @FRAMEWORK@.

Case @CASE@ in @DTYPE@, framework @FRAMEWORK@, against the reference @REFERENCE@.
@WHY@
The folder still holds the case (case.yaml), the initial parameters and data (inputs.npz), the
reference's values of every step (reference.npz, with the allowances under allowed/) and the
tolerance (tolerance.json), so the numbers can be checked by hand or with another script.
"""
import sys

print(__doc__.strip())
sys.exit(3)
'''
