"""A bare framework name runs on the CPU, wherever the run is, and the report says where."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

PROBE = """
import os
from harness.adapters import get_adapter
from harness.adapters.jax_adapter import _import_jax
from harness.loader import load_cases
from harness.adapters import adapter_names
case = load_cases(['cases/golden/sigmoid-neuron.yaml'], adapter_names())[0].for_dtype('float64')
trace = get_adapter('jax').run(case, case.inputs('float64'))
print(os.environ.get('JAX_PLATFORMS'), os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE'))
print([n for n in trace.notes if n.startswith('ran on')][0])
torch_trace = get_adapter('torch').run(case, case.inputs('float64'))
print([n for n in torch_trace.notes if n.startswith('ran on')][0])
"""


def probe(env: dict) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_bare_jax_is_pinned_to_the_cpu_without_preallocation():
    env = {k: v for k, v in os.environ.items()
           if k not in ("JAX_PLATFORMS", "XLA_PYTHON_CLIENT_PREALLOCATE")}
    platforms, first, torch_line = probe(env)
    assert platforms.split() == ["cpu", "false"]
    assert first.startswith("ran on cpu") and "JAX_PLATFORMS=cpu" in first
    assert torch_line.startswith("ran on the cpu; float32 matmul precision")


def test_a_users_own_settings_are_respected():
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_PYTHON_CLIENT_PREALLOCATE="true")
    platforms, _, _ = probe(env)
    assert platforms.split() == ["cpu", "true"]  # set by the user: left as they are
