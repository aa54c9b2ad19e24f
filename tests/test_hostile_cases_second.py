"""Hostile case files, second round (issue 23): what a fresh attack still broke on the case side.
An empty network, data files that are pipes or folders, tolerances no comparison can fail, and
non-finite or out-of-range data: each a message naming file, line and field, or a note, never a
traceback or a NumPy warning on stderr."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from harness.adapters import known_parties
from harness.cli import main
from harness.format.loader import load_case
from harness.format.numerics import rounded
from harness.format.sections import TOLERANCE_MAX

from conftest import GOOD_CASE, ROOT

X = "x: [[1.0, 2.0], [3.0, 4.0]]"


def with_x(spec: str) -> str:
    return GOOD_CASE.replace(X, f"x: {spec}")


def problems_of(tmp_path, text: str, name: str = "case.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    case, problems = load_case(path, known_parties())
    assert (case is None) == bool(problems)
    return [str(p) for p in problems]


# -- a network is a non-empty list ----------------------------------------------------------
NO_NETWORK = {"null": GOOD_CASE.replace("network:\n  - {units: 3, activation: tanh}\n"
                                        "  - {units: 2, activation: identity}\n",
                                        "network: null\n"),
              "empty": GOOD_CASE.replace("network:\n  - {units: 3, activation: tanh}\n"
                                         "  - {units: 2, activation: identity}\n", "network:\n"),
              "tilde": GOOD_CASE.replace("network:\n  - {units: 3, activation: tanh}\n"
                                         "  - {units: 2, activation: identity}\n",
                                         "network: ~\n")}


@pytest.mark.parametrize("kind", sorted(NO_NETWORK))
def test_a_null_or_empty_network_is_a_problem_naming_file_line_and_field(kind, tmp_path):
    assert "network" in NO_NETWORK[kind] and "units: 3" not in NO_NETWORK[kind]
    found = problems_of(tmp_path, NO_NETWORK[kind])
    assert found == [f"{tmp_path / 'case.yaml'}:2: network: expected a non-empty list of layers "
                     "like {units: 4, activation: tanh}, found nothing (null)"]


def test_a_missing_network_is_said_once(tmp_path):
    text = NO_NETWORK["null"].replace("network: null\n", "")
    assert problems_of(tmp_path, text) == [f"{tmp_path / 'case.yaml'}:1: missing required key "
                                           "'network'"]


@pytest.mark.parametrize("command", [["validate"], ["run", "--isolation", "none", "-q", "-f",
                                                    "numpy"], ["shrink", "-q", "-f", "numpy"]])
def test_run_validate_and_shrink_refuse_a_null_network_with_exit_2(command, tmp_path, capsys):
    case = tmp_path / "case.yaml"
    case.write_text(NO_NETWORK["null"], encoding="utf-8")
    out = ["--out", str(tmp_path / "out")] if command[0] != "validate" else []
    assert main([command[0], str(case), *command[1:], *out]) == 2
    err = capsys.readouterr().err
    assert f"{case}:2: network: expected a non-empty list of layers" in err
    assert not (tmp_path / "out").exists()  # refused before anything ran or was written


# -- a data file that is a pipe or a folder -------------------------------------------------
def test_a_data_file_that_is_a_fifo_or_a_folder_says_what_it_is(tmp_path):
    os.mkfifo(tmp_path / "x.csv")
    (tmp_path / "x.npy").mkdir()
    fifo = problems_of(tmp_path, with_x("{file: x.csv}"))  # returns: the pipe is never opened
    folder = problems_of(tmp_path, with_x("{file: x.npy}"))
    assert fifo == [f"{tmp_path / 'case.yaml'}:6: data.x.file: expected a data file (.csv or "
                    f".npy), found a named pipe (FIFO): '{tmp_path / 'x.csv'}'"]
    assert folder == [f"{tmp_path / 'case.yaml'}:6: data.x.file: expected a data file (.csv or "
                      f".npy), found a folder: '{tmp_path / 'x.npy'}'"]
    assert problems_of(tmp_path, with_x("{file: gone.csv}"))[0].endswith(
        f"data file not found: '{tmp_path / 'gone.csv'}'")  # what does not exist still says so


# -- tolerances are finite and bounded ------------------------------------------------------
OVER_BOUND = [
    ("{atol: 9223372036854775808}", "tolerance.atol", "9.22337e+18"),
    ("{rtol: 1.0e7}", "tolerance.rtol", "1e+07"),
    ("{float32: {scale_rtol: 1.0e300}}", "tolerance.float32.scale_rtol", "1e+300"),
    ("{frameworks: {torch: {sum_rtol: 2.0e6}}}", "tolerance.frameworks.torch.sum_rtol", "2e+06"),
]
NOT_FINITE = [(".inf", "expected a finite number, found inf"),
              (".nan", "expected a finite number, found nan"),
              ("-1", "expected a number ≥ 0, found -1.0")]


@pytest.mark.parametrize("tolerance, field, found", OVER_BOUND)
def test_a_tolerance_beyond_the_bound_is_refused_naming_the_bound(tolerance, field, found,
                                                                  tmp_path):
    text = GOOD_CASE + f"tolerance: {tolerance}\n"
    assert problems_of(tmp_path, text) == [
        f"{tmp_path / 'case.yaml'}:10: {field}: expected a number in [0, 1e+06], found {found}: "
        "a tolerance that large accepts any value"]


@pytest.mark.parametrize("value, message", NOT_FINITE)
def test_a_tolerance_is_finite_and_not_negative(value, message, tmp_path):
    assert problems_of(tmp_path, GOOD_CASE + f"tolerance: {{atol: {value}}}\n") == [
        f"{tmp_path / 'case.yaml'}:10: tolerance.atol: {message}"]


def test_the_bound_itself_is_accepted(tmp_path):
    assert TOLERANCE_MAX == 1e6
    assert problems_of(tmp_path, GOOD_CASE + "tolerance: {atol: 1.0e6, rtol: 1000000}\n") == []


# -- non-finite and out-of-range data: accepted, noted once, no NumPy warning ---------------
NON_FINITE = [("x-1e1000000", with_x("[[1e1000000, 2.0], [3.0, 4.0]]"), "data.x"),
              ("x-minus-1e309", with_x("[[-1e309, 2.0], [3.0, 4.0]]"), "data.x"),
              ("x-nan", with_x("[[.nan, 2.0], [3.0, 4.0]]"), "data.x"),
              ("weight-minus-inf", GOOD_CASE + "params:\n  layers.0.weight: [[-.inf, 1.0], "
               "[0.5, 0.5], [0.1, 0.2]]\n", "layers.0.weight")]


@pytest.mark.parametrize("text, tensor", [c[1:] for c in NON_FINITE],
                         ids=[c[0] for c in NON_FINITE])
def test_non_finite_data_is_accepted_with_one_note(text, tensor, tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    case, problems = load_case(path, known_parties())
    assert problems == [] and case is not None
    assert case.warnings == (f"{tensor}: 1 value(s) are inf or NaN; comparisons they reach are "
                             "inconclusive",)


def test_data_beyond_a_dtypes_range_is_noted_with_the_range(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(with_x("[[1.0e300, 2.0], [3.0, 4.0]]") + "dtype: [float64, float16]\n",
                    encoding="utf-8")
    case, problems = load_case(path, known_parties())
    assert not problems
    assert case.warnings == ("data.x: |values| up to 1e+300 are beyond float16's range "
                             "(6.55e+04); rounded to float16 they become infinite",)


def test_rounding_beyond_the_range_gives_inf_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would raise here
        assert np.isinf(rounded(np.array([1e300, -1e300]), "float32")).all()
        assert np.isinf(rounded(np.array([1e300]), "float16")).all()


def test_a_run_of_non_finite_and_overflowing_data_prints_no_numpy_warning(tmp_path):
    """Through worker processes, as a user runs it: the warnings would come from the parties."""
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "nan.yaml").write_text(NON_FINITE[2][1].replace("name: good", "name: nan"),
                                     encoding="utf-8")
    (folder / "big.yaml").write_text(with_x("[[1.0e300, 2.0], [3.0, 4.0]]").replace(
        "name: good", "name: big") + "dtype: float32\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "harness", "run", str(folder), "-q", "-j", "1",
                             "-f", "numpy,torch", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "inconclusive" in result.stdout


def test_the_figures_docs_reliability_quotes_are_these_tests():
    text = " ".join((ROOT / "docs" / "reliability.md").read_text(encoding="utf-8").split())
    assert TOLERANCE_MAX == 1e6 and "finite number from 0 to 1e6" in text
    assert f"{len(OVER_BOUND)} tolerances beyond the bound and {len(NOT_FINITE)} that are not " \
        "finite or negative" in text
    assert f"{len(NON_FINITE)} non-finite inline tensors and an out-of-range one" in text
