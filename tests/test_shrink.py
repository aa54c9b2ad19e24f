"""python -m harness shrink: the smallest case that still fails the same way."""
from __future__ import annotations

import pytest

from harness.adapters import known_parties
from harness.cli import main
from harness.format.loader import load_case
from harness.running.runner import run_case
from harness.tools.shrink import Signature, signature

from conftest import TANH_MLP_16, WRONG_TANH_MLP

pytestmark = pytest.mark.usefixtures("forget_registered_impls")
IMPL = "tanh_mlp_wrong_derivative"


def shrink(path, out, *more):
    return main(["shrink", str(path), "--frameworks", "numpy", "--impl", str(WRONG_TANH_MLP),
                 "--out", str(out), *more])


def test_a_planted_bug_shrinks_to_two_units_a_batch_of_two_and_one_step(write_case, tmp_path,
                                                                       capsys):
    path = write_case(TANH_MLP_16, "tanh-mlp-16.yaml")
    before = path.read_text()
    assert shrink(path, tmp_path / "out") == 0
    out, err = capsys.readouterr()
    written = tmp_path / "out" / "tanh-mlp-16-shrunk.yaml"
    assert f"wrote {written}" in out and "steps 5 → 1" in out and "batch 32 → 1" in out
    assert "fails the same way: kept" in err and "passes: not kept" in err  # progress per attempt
    assert path.read_text() == before  # the input is never touched
    case, problems = load_case(written, known_parties())
    assert not problems
    assert all(layer.units <= 2 for layer in case.layers)
    assert case.batch <= 2 and case.steps == 1
    assert "steps 5 → 1" in case.description and "batch 32 → 1" in case.description
    rows = run_case(case, "float64", ["numpy", IMPL]).rows
    assert signature(rows) == Signature(IMPL, "grad")  # the very discrepancy of the original


def test_the_same_input_shrinks_to_the_same_file(write_case, tmp_path, capsys):
    path = write_case(TANH_MLP_16)
    assert shrink(path, tmp_path / "a") == 0
    assert shrink(path, tmp_path / "b") == 0
    assert (tmp_path / "a" / "tanh-mlp-16-shrunk.yaml").read_text() == \
        (tmp_path / "b" / "tanh-mlp-16-shrunk.yaml").read_text()


def test_the_attempt_cap_keeps_the_smallest_case_found_so_far(write_case, tmp_path, capsys):
    path = write_case(TANH_MLP_16)
    assert shrink(path, tmp_path / "out", "--max-attempts", "2") == 0
    out, err = capsys.readouterr()
    assert "cap of 2 attempts" in err and "steps 5 → 2" in out


def test_a_case_that_does_not_fail_has_nothing_to_shrink(write_case, tmp_path, capsys):
    path = write_case(TANH_MLP_16.replace("activation: tanh", "activation: identity"))
    assert shrink(path, tmp_path / "out") == 1
    assert "does not fail" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_bad_input_is_exit_2_without_a_traceback(write_case, tmp_path, capsys):
    path = write_case(TANH_MLP_16.replace("loss: mse", "loss: msee"))
    assert shrink(path, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and "loss" in err and "Traceback" not in err
    assert shrink(tmp_path / "missing.yaml", tmp_path / "out") == 2
