from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from harness.adapters import FRAMEWORKS, get_adapter, known_parties
from harness.format.loader import load_case

pytest_plugins = ["pytester"]

_CACHE = "HARNESS_COMPILE_CACHE"


def pytest_configure(config: pytest.Config) -> None:
    """One JAX compilation cache for the session (harness.adapters.compile_cache), new and empty, shared
    by every xdist worker and every run the tests start (they inherit the environment): the
    shipped cases are compiled once, not once per test that runs them, and nothing is read from
    or written to the user's own cache. And one lane per harness run (HARNESS_JOBS) unless a
    test asks for more: xdist already keeps every core busy, and a second lane would only start
    a second worker (torch and JAX imported again) to compete for them."""
    if hasattr(config, "workerinput"):
        return
    os.environ.setdefault("HARNESS_JOBS", "1")
    if os.environ.get(_CACHE):
        return
    folder = tempfile.mkdtemp(prefix="harness-test-cache-")
    os.environ[_CACHE] = folder
    config.stash[_session_cache] = folder


_session_cache = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_session_cache, None)
    if folder:
        os.environ.pop(_CACHE, None)
        shutil.rmtree(folder, ignore_errors=True)

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"
EXAMPLES_DIR = ROOT / "examples"

SIGMOID_NEURON = """\
name: {name}
description: the CS231n sigmoid neuron
network:
  - {{units: 1, activation: sigmoid}}
params:
  layers.0.weight: [[2.0, -3.0]]
  layers.0.bias: [-3.0]
data:
  x: [[-1.0, -2.0]]
loss: sum
optimizer: {{name: sgd, lr: 0.01}}
expected:
  grads:
    layers.0.weight: [[{dw0}, -0.3932238664829637]]
    layers.0.bias: [0.19661193324148185]
  tolerance: {{atol: 1.0e-9}}
"""


def sigmoid_neuron_text(name: str = "neuron", dw0: str = "-0.19661193324148185") -> str:
    return SIGMOID_NEURON.format(name=name, dw0=dw0)


@pytest.fixture
def write_case(tmp_path: Path):
    """Write YAML text (dedented) to a case file and return its path."""

    def write(text: str, name: str = "case.yaml", folder: Path | None = None) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load(write_case):
    """Write a case and load it: (case or None, problems)."""

    def run(text: str, name: str = "case.yaml"):
        return load_case(write_case(text, name), known_parties())

    return run


# a small valid case that validation tests change one field of
GOOD_CASE = """\
name: good
network:
  - {units: 3, activation: tanh}
  - {units: 2, activation: identity}
data:
  x: [[1.0, 2.0], [3.0, 4.0]]
  y: [0, 1]
loss: cross_entropy
optimizer: {name: sgd, lr: 0.1}
"""


@pytest.fixture(autouse=True)
def forget_registered_impls():
    """--impl files a test registers are forgotten after it, so no name leaks into the next
    (every test: a run without --frameworks takes every registered framework, so one test's
    --impl file would fail the golden values of whichever test follows it in that worker)."""
    before = dict(FRAMEWORKS.extra)
    yield
    FRAMEWORKS.extra.clear()
    FRAMEWORKS.extra.update(before)
    get_adapter.cache_clear()



# a 16-unit tanh MLP, batch 32, 5 steps, and a backprop with a planted bug that fails on it
TANH_MLP_16 = (EXAMPLES_DIR / "shrink" / "tanh-mlp-16.yaml").read_text(encoding="utf-8")
WRONG_TANH_MLP = EXAMPLES_DIR / "shrink" / "tanh_mlp_wrong_derivative.py"
