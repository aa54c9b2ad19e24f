"""Repro folders: each failing framework of a run gets a folder that shows it without harness."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from harness.reports import repro
from harness.adapters import known_parties
from harness.cli import main
from harness.format.loader import load_case

from conftest import TANH_MLP_16, WRONG_TANH_MLP

pytestmark = pytest.mark.usefixtures("forget_registered_impls")
FOLDER = "repro/tanh-mlp-16-float64-tanh_mlp_wrong_derivative"

# runs repro.py with every import of harness refused: the proof that it needs none
WITHOUT_HARNESS = """\
import runpy, sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "harness":
            raise ImportError("harness may not be imported by a repro")
sys.meta_path.insert(0, Refuse())
sys.argv = ["repro.py"]
runpy.run_path("repro.py", run_name="__main__")
"""


def run_repro(folder):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-I", "-c", WITHOUT_HARNESS], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_planted_bug_writes_a_repro_folder_that_fails_on_its_own(write_case, tmp_path, capsys):
    path = write_case(TANH_MLP_16)
    out = tmp_path / "out"
    assert main(["run", str(path), "--frameworks", "numpy", "--impl", str(WRONG_TANH_MLP),
                 "--out", str(out), "--variants", "0", "--isolation", "none", "-q"]) == 1
    folder = out / FOLDER
    assert sorted(p.name for p in folder.iterdir()) == [
        "case.yaml", "inputs.npz", "reference.npz", "repro.py", "tanh_mlp_wrong_derivative.py",
        "tolerance.json"]
    assert f"`{FOLDER}`" in (out / "report.md").read_text()
    script = (folder / "repro.py").read_text()
    assert not re.search(r"^\s*(import|from)\s+harness", script, re.MULTILINE)
    done = run_repro(folder)
    assert done.returncode == 1, done.stderr
    assert "step 1 grad/layers.0.weight" in done.stdout
    assert "DISCREPANCY: tanh_mlp_wrong_derivative differs from the reference, first at step 1" \
        in done.stdout
    assert not [p for p in (out / "repro").iterdir() if p.name.startswith(".")]  # no leftovers
    case, problems = load_case(folder / "case.yaml", known_parties())  # the case loads as it is
    assert not problems and case.steps == 5


def test_no_repro_writes_none(write_case, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(write_case(TANH_MLP_16)), "--frameworks", "numpy", "--impl",
                 str(WRONG_TANH_MLP), "--out", str(out), "--variants", "0", "--isolation",
                 "none", "-q", "--no-repro"]) == 1
    assert not (out / "repro").exists()
    assert "Repro folders" not in (out / "report.md").read_text()


def test_a_torch_repro_exits_0_where_torch_agrees(write_case, tmp_path):
    case, _ = load_case(write_case(TANH_MLP_16), known_parties())
    entry = repro.write(case, "float64", "torch", tmp_path)  # forced: torch passes this case
    folder = tmp_path / entry["folder"]
    script = (folder / "repro.py").read_text()
    assert "torch.optim" in script and "F.mse_loss" in script  # the adapter's own mapping
    done = run_repro(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no discrepancy" in done.stdout
    # written again, the folder is replaced whole
    assert repro.write(case, "float64", "torch", tmp_path) == entry
    assert sorted(p.name for p in (tmp_path / "repro").iterdir()) == [folder.name]


def test_micrograd_gets_the_data_and_says_why_there_is_no_script(write_case, tmp_path):
    case, _ = load_case(write_case(TANH_MLP_16), known_parties())
    entry = repro.write(case, "float64", "micrograd", tmp_path)
    assert entry["available"] is False
    done = run_repro(tmp_path / entry["folder"])
    assert done.returncode == 3 and "NOT AVAILABLE for micrograd" in done.stdout
    assert (tmp_path / entry["folder"] / "reference.npz").exists()


def test_a_run_keeps_the_reference_trajectory_for_its_repro_folders_only_when_it_failed(
        write_case, tmp_path, monkeypatch):
    """The folder is made from the run's own reference values: the reference is not run again
    in the main process, outside its worker's time limit (a planted rerun would raise here)."""
    from harness.adapters.user_impl import register_implementations
    from harness.running.runner import run_case

    case, problems = load_case(write_case(TANH_MLP_16), known_parties())
    assert not problems
    [impl] = register_implementations([str(WRONG_TANH_MLP)])
    failing = run_case(case, "float64", ["numpy", impl])
    passing = run_case(case, "float64", ["numpy", "torch"])
    assert failing.reference_trace is not None and passing.reference_trace is None

    def no_rerun(*args, **kwargs):
        raise AssertionError("the reference was run again for a repro folder")
    monkeypatch.setattr(repro, "Train", no_rerun)
    [entry] = repro.write_all([failing], tmp_path)
    assert (tmp_path / entry["folder"] / "reference.npz").exists()


@pytest.mark.parametrize("dtype,party", [("bfloat16", "torch+foreach"),
                                         ("mixed-float16", "torch+fused"),
                                         ("mixed-bfloat16", "jax+nojit"),
                                         ("float16", "jax")])
def test_a_repro_reproduces_its_mode_and_numeric_format(write_case, tmp_path, dtype, party):
    """A repro folder runs the party as the harness did: its execution mode (the optimizer
    implementation, jit off) and its numeric format (low-precision storage, autocast or casts
    under mixed precision); where the party agrees, so does its repro."""
    case, _ = load_case(write_case(TANH_MLP_16), known_parties())
    entry = repro.write(case, dtype, party, tmp_path)
    folder = tmp_path / entry["folder"]
    script = (folder / "repro.py").read_text()
    assert f'"mode": "{party.partition("+")[2]}"' in script or "+" not in party
    done = run_repro(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no discrepancy" in done.stdout
