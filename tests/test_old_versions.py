"""Framework versions that lack a function: the cases that use it are skipped, naming the version
and what is missing, and every other case runs (harness.adapters.requires). The old versions
themselves are run by .ci/oldest; here their gaps are made by taking a function away."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from harness.adapters import get_adapter, jax_ops, micrograd_adapter, requires, torch_ops
from harness.format import catalog
from harness.running.runner import run_case

ROOT = Path(__file__).resolve().parent.parent

CASE = """\
name: {name}
dtype: float64
network:
  - {{units: 2, activation: {activation}}}
  - {{units: 1, activation: identity}}
init: {{scheme: xavier_normal, seed: 1}}
data:
  x: {{random: normal, shape: [3, 2], seed: 2}}
  y: {{random: normal, shape: [3, 1], seed: 3}}
loss: {loss}
optimizer: {optimizer}
"""


@pytest.fixture(autouse=True)
def fresh_lookups():
    """What requires.resolve found is kept per process: a test that takes a function away
    looks again, and so does the next test once it is back."""
    requires.resolve.cache_clear()
    yield
    requires.resolve.cache_clear()


def case_of(load, activation="tanh", loss="mse", optimizer="{name: sgd, lr: 0.1}", name="c"):
    case, problems = load(CASE.format(name=name, activation=activation, loss=loss,
                                      optimizer=optimizer), f"{name}.yaml")
    assert problems == []
    return case


def statuses(rows, party):
    return {r.status for r in rows if r.framework == party}


def test_resolve_finds_a_function_a_keyword_and_nothing_else():
    assert requires.resolve("jax.nn.relu") is not None
    assert requires.resolve("optax.rmsprop(eps_in_sqrt)") is not None
    assert requires.resolve("optax.rmsprop(no_such_keyword)") is None
    assert requires.resolve("jax.nn.no_such_function") is None
    assert requires.resolve("no_such_package.f") is None


def test_every_catalog_name_is_in_every_adapter_s_table_and_found_here():
    """No shipped case is skipped for lack of a function with the versions installed here."""
    for table, names in [(jax_ops.ACTIVATION_NEEDS, catalog.ACTIVATIONS),
                         (torch_ops.ACTIVATION_NEEDS, catalog.ACTIVATIONS),
                         (jax_ops.LOSS_NEEDS, catalog.LOSSES),
                         (torch_ops.LOSS_NEEDS, catalog.LOSSES),
                         (jax_ops.OPTIMIZER_NEEDS, catalog.OPTIMIZERS),
                         (torch_ops.OPTIMIZER_NEEDS, catalog.OPTIMIZERS)]:
        assert set(table) == set(names)
        assert requires.lacking({name: needs for name, needs in table.items()}) is None
    assert requires.lacking({"micrograd": micrograd_adapter.VALUE_NEEDS}) is None


def test_a_jax_without_mish_skips_the_mish_case_and_runs_the_others(load, monkeypatch):
    """The upgrading team's jax 0.4.13: every jax row was an error, "module 'jax.nn' has no
    attribute 'mish'", since the adapter named every function when it built its map."""
    jax = jax_ops.import_jax()
    monkeypatch.delattr(jax.nn, "mish")
    mish, tanh = case_of(load, "mish", name="m"), case_of(load, "tanh", name="t")
    rows = run_case(mish, "float64", ["jax", "torch", "jax-fwd"]).rows
    version = requires.version("jax")
    reason = f"jax {version} has no jax.nn.mish (needed by activation mish)"
    assert [r.message for r in rows if r.framework == "jax"] == [reason]
    assert statuses(rows, "jax") == {"skip"} and statuses(rows, "jax-fwd") == {"skip"}
    assert statuses(rows, "torch") == {"pass"}
    rows = run_case(tanh, "float64", ["jax", "torch", "jax-fwd"]).rows
    assert statuses(rows, "jax") == statuses(rows, "jax-fwd") == {"pass"}


def test_an_optax_whose_rmsprop_takes_no_eps_in_sqrt_skips_rmsprop(load, monkeypatch):
    import optax

    monkeypatch.setattr(optax, "rmsprop", lambda learning_rate, decay=0.9, eps=1e-8: None)
    rmsprop = case_of(load, optimizer="{name: rmsprop, lr: 0.01}")
    assert get_adapter("jax").supports(rmsprop) == (
        f"optax {requires.version('optax')} has no optax.rmsprop(eps_in_sqrt), "
        "optax.rmsprop(bias_correction) (needed by optimizer rmsprop)")
    assert get_adapter("jax").supports(case_of(load, name="sgd")) is None


def test_an_optax_with_its_losses_at_the_top_level_runs_them(load, monkeypatch):
    """optax before 0.1.8 had no optax.losses: the same functions at optax's top level."""
    import optax

    monkeypatch.delattr(optax, "losses")
    monkeypatch.setitem(sys.modules, "optax.losses", None)  # no such module to import either
    case = case_of(load, loss="{name: huber, delta: 0.5}")
    assert get_adapter("jax").supports(case) is None
    assert statuses(run_case(case, "float64", ["jax"]).rows, "jax") == {"pass"}
    monkeypatch.delattr(optax, "huber_loss")
    requires.resolve.cache_clear()
    assert "optax.losses.huber_loss or optax.huber_loss (needed by loss huber)" in \
        get_adapter("jax").supports(case)


def test_a_torch_without_mish_skips_the_mish_case_in_every_mode(load, monkeypatch):
    import torch.nn.functional as F

    monkeypatch.delattr(F, "mish")
    mish = case_of(load, "mish")
    reason = f"torch {requires.version('torch')} has no torch.nn.functional.mish (needed by " \
             "activation mish)"
    for party in ("torch", "torch+foreach", "torch-fwd"):
        assert reason in get_adapter(party).supports(mish), party
    assert get_adapter("torch").supports(case_of(load, "tanh", name="t")) is None


def test_a_micrograd_without_relu_skips_the_relu_case(load, monkeypatch):
    from micrograd.engine import Value

    monkeypatch.delattr(Value, "relu")
    reason = get_adapter("micrograd").supports(case_of(load, "relu"))
    assert re.fullmatch(r"micrograd \S+ has no micrograd\.engine\.Value\.relu \(needed by "
                        r"activation relu\)", reason), reason
    assert get_adapter("micrograd").supports(case_of(load, "tanh", name="t")) is None


# -- the oldest versions: script, constraints and the supported-versions table agree ------

CONSTRAINTS = ROOT / ".ci" / "oldest-constraints.txt"


def pins() -> dict[str, str]:
    found = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            found[name.strip().lower()] = version.strip()
    return found


def test_the_oldest_pins_are_the_supported_versions_the_docs_state():
    pinned = pins()
    assert {"torch", "jax", "jaxlib", "optax", "chex", "micrograd", "numpy"} <= set(pinned)
    table = (ROOT / "docs" / "frameworks.md").read_text()
    table = table[table.index("## Supported versions"):]
    rows = {line.split("|")[1].split()[0]: line.split("|")[2] for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| package")}
    for name, companion in (("torch", None), ("jax", "jaxlib"), ("optax", "chex"),
                            ("micrograd", None), ("numpy", None)):
        assert rows[name].split()[0] == pinned[name], name  # the oldest supported
        if companion:
            assert f"({pinned[companion]})" in rows[name], companion
    script = (ROOT / ".ci" / "oldest").read_text()
    assert "oldest-constraints.txt" in script and "python -m harness run" in script
