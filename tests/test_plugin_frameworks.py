"""Third-party frameworks: the entry-point group, and the shipped autograd plug-in."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap

import pytest

from harness.adapters import adapter_names

from conftest import ROOT, sigmoid_neuron_text

INSTALL_HINT = ("the autograd plug-in is not installed; the README's test command installs it: "
                "pip install -e examples/autograd-plugin")


def harness(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_any_installed_distribution_can_register_a_framework(tmp_path, monkeypatch):
    """A distribution on sys.path with a `harness.adapters` entry point, no pip involved."""
    (tmp_path / "fakegrad_plugin.py").write_text(textwrap.dedent('''
        from harness.adapters.numpy_ref import NumpyAdapter
        from harness.format.trace import Trace

        class FakeGrad:
            name = "fakegrad"
            def availability(self):
                from harness.adapters.base import Availability
                return Availability(True, "9.9")
            def supports(self, case):
                return None
            def run(self, case, inputs):
                return Trace(self.name, NumpyAdapter().run(case, inputs).steps)
    '''))
    info = tmp_path / "fakegrad_plugin-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakegrad-plugin\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text(
        "[harness.adapters]\nfakegrad = fakegrad_plugin:FakeGrad\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    listed = harness("list", env=env)
    assert "fakegrad     9.9" in listed.stdout
    case = tmp_path / "neuron.yaml"
    case.write_text(sigmoid_neuron_text())
    ran = harness("run", str(case), "-f", "fakegrad", "--out", str(tmp_path / "out"), env=env)
    assert ran.returncode == 0, ran.stderr
    with open(tmp_path / "out" / "report.csv", newline="") as handle:
        assert {r["framework"] for r in csv.DictReader(handle)} == {"fakegrad"}


def test_a_plugin_that_fails_to_load_is_reported_not_fatal(tmp_path):
    info = tmp_path / "broken_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[harness.adapters]\nbroken = no_such_module:Adapter\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    listed = harness("list", env=env)
    assert listed.returncode == 0
    assert "broken       unavailable: adapter no_such_module:Adapter could not be loaded: " \
           "ModuleNotFoundError" in listed.stdout


@pytest.fixture
def autograd_installed():
    if "autograd" not in adapter_names():
        pytest.fail(INSTALL_HINT)


def test_autograd_plugin_appears_in_list(autograd_installed):
    result = harness("list")
    assert result.returncode == 0 and "autograd     1." in result.stdout


def test_autograd_plugin_runs_and_conforms(autograd_installed, tmp_path):
    result = harness("run", "cases", "-f", "autograd", "--out", str(tmp_path), "-q")
    assert result.returncode == 0, result.stdout
    with open(tmp_path / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["framework"] for r in rows} == {"autograd"} and len(rows) > 1000
    # its kink and saturation conventions are declared in the cases; exact gelu is skipped
    # (inconclusive: bce-saturated's reference is non-finite by definition)
    assert {r["status"] for r in rows} == {"pass", "xfail", "skip", "inconclusive"}
    assert {r["case"] for r in rows if r["status"] == "inconclusive"} == {"bce-saturated"}
    skips = {r["message"] for r in rows if r["status"] == "skip"}
    assert skips == {"exact gelu needs erf, which autograd takes from scipy (not installed)",
                     "autograd cannot compute second derivatives (its backward pass is not "
                     "differentiable)"}


def test_autograd_plugin_items_in_pytest(autograd_installed, pytester):
    pytester.makefile(".ini", pytest="[pytest]\nharness_cases = cases\n")
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text()})
    result = pytester.runpytest("--harness-frameworks", "autograd", "-v")
    result.stdout.fnmatch_lines(["*neuron[[]float64-autograd[]] PASSED*"])
