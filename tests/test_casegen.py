"""benchmarks/casegen.py: generated cases are valid, deterministic and cover the catalog."""
from __future__ import annotations

import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import casegen  # noqa: E402

from harness.format import catalog  # noqa: E402
from harness.adapters import known_parties  # noqa: E402
from harness.format.loader import load_cases  # noqa: E402

COUNT, SEED = 200, 0


def _name(spec) -> str:
    return spec["name"] if isinstance(spec, dict) else spec


def test_generated_cases_load_without_problems(tmp_path):
    cases = casegen.generate(COUNT, SEED)
    paths = casegen.write(cases, tmp_path)
    assert len(paths) == COUNT and all(p.is_file() for p in paths)
    problems = []
    loaded = load_cases(paths, known_parties(), on_problems=problems.extend)
    assert problems == []
    assert len(loaded) == COUNT
    assert sorted(c.name for c in loaded) == sorted(c["name"] for c in cases)
    assert all("tolerance" not in c for c in cases)  # the defaults must hold


def test_generation_is_deterministic():
    first = casegen.generate(COUNT, SEED)
    assert first == casegen.generate(COUNT, SEED)
    assert first != casegen.generate(COUNT, SEED + 1)
    assert [c["name"] for c in first[:2]] == [f"gen-{SEED}-0000", f"gen-{SEED}-0001"]
    assert all(f"seed {SEED}" in c["description"] for c in first)


def test_sample_covers_the_catalog():
    cases = casegen.generate(COUNT, SEED)
    activations = {_name(layer["activation"]) for c in cases for layer in c["network"]}
    losses = {_name(c["loss"]) for c in cases}
    optimizers = {c["optimizer"]["name"] for c in cases}
    schemes = {c["init"]["scheme"] for c in cases}
    assert set(catalog.ACTIVATIONS) - activations == set()
    assert set(catalog.LOSSES) - losses == set()
    assert set(catalog.OPTIMIZERS) - optimizers == set()
    assert set(catalog.INIT_SCHEMES) - schemes == set()


def test_every_numeric_format_and_the_modes_are_generated(tmp_path):
    """--dtype names each format (or any), --modes lists the execution modes: the cases load,
    and a low-precision format keeps to its two rules (no log of a probability; float16 sgd)."""
    for dtype in (*casegen.LOW_FORMATS, "any"):
        cases = casegen.generate(60, SEED, dtype, modes=True)
        problems = []
        loaded = load_cases(casegen.write(cases, tmp_path / dtype), known_parties(),
                            on_problems=problems.extend)
        assert problems == [] and len(loaded) == 60
        assert all(c["frameworks"] == casegen.MODES for c in cases)
        if dtype == "any":
            assert {c["dtype"] for c in cases} == set(catalog.DTYPES)
            continue
        assert {c["dtype"] for c in cases} == {dtype}
        assert not {_name(c["loss"]) for c in cases} & set(casegen.LOG_OF_PROBABILITY)
        optimizers = {c["optimizer"]["name"] for c in cases}
        assert optimizers == ({"sgd"} if dtype == "float16" else set(catalog.OPTIMIZERS))
    modes = {m for name in casegen.MODES if "+" in name for m in [name.split("+")[1]]}
    parties = known_parties()
    assert modes == {m for base in ("torch", "jax") for m in parties.modes[base]}
