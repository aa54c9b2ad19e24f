"""--harness-out and --out: an existing report is only ever replaced by a complete one."""
from __future__ import annotations

import pytest

from conftest import sigmoid_neuron_text

INI = "[pytest]\nharness_cases = cases\n"
RIGHT, WRONG = sigmoid_neuron_text(), sigmoid_neuron_text(dw0="-0.2966")


def _seeded(pytester):
    """A folder holding a complete report, as an earlier run left it."""
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/a-right": RIGHT.replace("name: neuron", "name: a-right"),
                                  "cases/b-wrong": WRONG.replace("name: neuron", "name: b-wrong"),
                                  "cases/c-right": RIGHT.replace("name: neuron", "name: c-right")})
    out = pytester.path / "out"
    out.mkdir()
    kept = {name: f"the earlier {name}\n" for name in ("report.csv", "report.md", "run.json")}
    for name, text in kept.items():
        (out / name).write_text(text)
    return out, kept


def _untouched(out, kept) -> bool:
    return all((out / name).read_text() == text for name, text in kept.items())


def test_collecting_only_leaves_the_report_folder_as_it_was(pytester):
    out, kept = _seeded(pytester)
    result = pytester.runpytest("--collect-only", "--harness-frameworks", "torch",
                                "--harness-out", "out")
    assert _untouched(out, kept) and sorted(p.name for p in out.iterdir()) == sorted(kept)
    result.stdout.fnmatch_lines(["*harness: no case item ran: out is left as it was*"])


def test_a_session_stopped_early_writes_a_partial_report_beside_the_complete_one(pytester):
    out, kept = _seeded(pytester)
    result = pytester.runpytest("-x", "--harness-frameworks", "torch", "--harness-out", "out")
    result.assert_outcomes(passed=1, failed=1)  # c-right is never run
    assert _untouched(out, kept)
    assert (out / "report.partial.csv").exists() and (out / "report.partial.md").exists()
    result.stdout.fnmatch_lines(["*harness: 2 of 3 case items ran*previous complete report is "
                                 "untouched*"])


def test_a_complete_session_replaces_the_report(pytester):
    out, kept = _seeded(pytester)
    result = pytester.runpytest("--harness-frameworks", "torch", "--harness-out", "out")
    result.assert_outcomes(passed=2, failed=1)
    assert "b-wrong" in (out / "report.csv").read_text()
    assert not (out / "report.partial.csv").exists()


def test_cases_chosen_with_k_are_a_complete_report_of_what_was_chosen(pytester):
    out, kept = _seeded(pytester)
    result = pytester.runpytest("-k", "a-right", "--harness-frameworks", "torch",
                                "--harness-out", "out")
    result.assert_outcomes(passed=1)
    report = (out / "report.csv").read_text()
    assert "a-right" in report and "b-wrong" not in report


def test_under_xdist_a_complete_session_is_complete_too(pytester):
    out, kept = _seeded(pytester)
    result = pytester.runpytest_subprocess("-n", "2", "--harness-frameworks", "torch",
                                           "--harness-out", "out")
    result.assert_outcomes(passed=2, failed=1)
    assert "c-right" in (out / "report.csv").read_text()
    assert not (out / "report.partial.csv").exists()


def test_keep_going_with_every_file_bad_leaves_the_report_as_it_was(tmp_path, capsys):
    from harness.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "report.csv").write_text("the earlier report\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n")
    assert main(["run", str(bad), "--keep-going", "--out", str(out), "-q"]) == 2
    assert (out / "report.csv").read_text() == "the earlier report\n"
    assert sorted(p.name for p in out.iterdir()) == ["report.csv"]
    assert "left as it was" in capsys.readouterr().err


def test_yaml_outside_the_case_folders_under_a_named_path_is_said(pytester):
    """A student who names their cases folder expects its cases to run: pytest collects cases
    only from the case folders, so the others are named at the end with the option to add."""
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"mine/neuron": RIGHT})
    result = pytester.runpytest("mine", "--harness-frameworks", "torch")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["*harness: 1 YAML file(s) under the paths you named are not in "
                                 "the case folders*were not run as cases*--harness-cases*mine*"])
    result = pytester.runpytest("mine", "--harness-frameworks", "torch", "--harness-cases", "mine")
    result.assert_outcomes(passed=1)
    assert "not run as cases" not in result.stdout.str()
