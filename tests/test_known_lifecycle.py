"""Known discrepancies with a life cycle: a version range each (``versions:``), an xpass told as
"fixed upstream: remove this declaration" with the file and line, --strict-known and
--harness-strict-known, a declaration outside its range not applied (report.md says so), and
``python -m harness known``."""
from __future__ import annotations

import html
import json
import re

import pytest

from harness.cli import main
from harness.format.versions import PATTERN, parse_range, release
from harness.verdicts import known_discrepancies

from conftest import CASES

KINK = (CASES / "edge" / "leaky-relu-at-kink.yaml").read_text()
# where KINK declares jax's leaky_relu'(0) = 1, and the line of that declaration
KINK_LINE = KINK.splitlines().index("known_discrepancies:") + 2
STALE = """\
name: stale
dtype: float64
network:
  - {units: 2, activation: tanh}
params:
  layers.0.weight: [[0.5, -0.25], [0.125, 1.0]]
  layers.0.bias: [0.0, 0.5]
data:
  x: [[1.0, 2.0]]
  y: [[0.5, -0.5]]
loss: mse
optimizer: {name: sgd, lr: 0.1}
known_discrepancies:
  - framework: torch
    quantity: grad
    reason: an old torch bug
    link: https://example.org/issue/1
"""
STALE_LINE = 14  # the line of `- framework: torch`
RUN = ["--frameworks", "numpy,torch", "--isolation", "none", "--no-repro", "--quiet"]


# -- the range itself -----------------------------------------------------------------------

@pytest.mark.parametrize("text, installed, inside", [
    ("torch<2.15", "2.13.0+cpu", True), ("torch<2.15", "2.15.0", False),
    ("torch<2.15", "2.15.0rc1", False),  # a release candidate is its release
    ("jax>=0.4.20,<0.6", "0.4.20", True), ("jax>=0.4.20,<0.6", "0.4.13", False),
    ("jax>=0.4.20,<0.6", "0.10.2", False),  # 0.10 > 0.6: numbers, not text
    ("torch==2.13", "2.13.0+cpu", True), ("torch==2.13", "2.13.1", False),
    ("torch!=2.13.0", "2.13", False), ("<=1.2", "1.2.post1", True), (">1.2", "1.2.0.dev3", False),
])
def test_a_range_compares_release_numbers(text, installed, inside):
    found, wrong = parse_range(text)
    assert wrong is None and found.contains(installed) is inside


def test_a_version_without_a_release_number_cannot_be_judged():
    assert release("unknown") is None and parse_range("torch<2")[0].contains("unknown") is None


@pytest.mark.parametrize("text, said", [
    ("torch", "names no versions"), ("torch~=2.1", "is not a comparison"),
    ("torch<2.x", "does not compare with a release number"), ("torch<2,", "an empty comparison"),
    ("", "expected a version range"),
])
def test_a_bad_range_says_what_is_wrong(text, said):
    found, wrong = parse_range(text)
    assert found is None and said in wrong


@pytest.mark.parametrize("text", ["torch<2.15", "jax>=0.4.20,<0.6", "<2.15", " a >= 1 , < 2 ",
                                  "torch", "torch<", "torch<2.x", "torch~=2.1", "torch<2,",
                                  "2.15", "torch=<2.15", "jax-fwd<1"])
def test_the_schema_s_pattern_accepts_what_the_loader_accepts(text):
    assert bool(re.match(PATTERN, text)) == (parse_range(text)[1] is None)


# -- loading ---------------------------------------------------------------------------------

def test_a_declaration_keeps_its_line_and_its_range_names_its_package(load):
    case, problems = load(KINK + '    versions: "<1"\n')
    assert problems == []
    (known,) = case.known_discrepancies
    assert known.line == KINK_LINE and str(known.versions) == "jax<1"


def test_bad_range_syntax_is_a_validation_error_naming_file_line_and_field(write_case, capsys):
    path = write_case(KINK + "    versions: torch=<2.15\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    line = len(KINK.splitlines()) + 1  # the line appended
    assert f"{path}:{line}: known_discrepancies[0].versions: expected a version range like" in err
    assert "'=<2.15' is not a comparison" in err


def test_a_range_that_is_not_text_is_a_validation_error(load):
    _, problems = load(KINK + "    versions: 2.15\n")
    assert [p.field for p in problems] == ["known_discrepancies[0].versions"]


# -- a run: xpass, --strict-known, ranges ------------------------------------------------------

def test_an_xpass_names_the_file_and_line_on_the_terminal_and_in_report_md(write_case, tmp_path,
                                                                          capsys):
    path = write_case(STALE, "stale.yaml")
    out = tmp_path / "out"
    assert main(["run", str(path), *RUN, "--out", str(out)]) == 0
    said = f"fixed upstream: remove this declaration ({path}:{STALE_LINE})"
    terminal = capsys.readouterr().out
    assert f"XPASS stale [float64-torch]: {said}" in terminal
    assert terminal.count("XPASS") == 1  # once per declaration and party, not once per tensor
    assert said in (out / "report.md").read_text()
    (entry,) = json.loads((out / "run.json").read_text())["runs"]
    assert [(d["line"], d["party"], d["status"]) for d in entry["declarations"]] == \
        [(STALE_LINE, "torch", "fixed")]


def test_strict_known_makes_an_xpass_exit_1(write_case, tmp_path, capsys):
    path = write_case(STALE, "stale.yaml")
    assert main(["run", str(path), *RUN, "--out", str(tmp_path / "out"), "--strict-known"]) == 1
    assert "--strict-known: 1 declared discrepancies did not occur" in capsys.readouterr().err


def test_strict_known_leaves_a_declaration_that_occurred_alone(write_case, tmp_path):
    path = write_case(KINK.replace("dtype: [float64, float32]", "dtype: float64"), "kink.yaml")
    assert main(["run", str(path), "--frameworks", "numpy,jax", "--isolation", "none",
                 "--quiet", "--out", str(tmp_path / "out"), "--strict-known"]) == 0


def _installed(versions: dict):
    return lambda package: versions.get(package)


def test_a_declaration_inside_its_range_is_applied(write_case, tmp_path, monkeypatch):
    monkeypatch.setattr(known_discrepancies, "installed", _installed({"jax": "0.4.30"}))
    text = KINK.replace("dtype: [float64, float32]", "dtype: float64") + \
        '    versions: "jax>=0.4.20,<0.6"\n'
    out = tmp_path / "out"
    assert main(["run", str(write_case(text)), "--frameworks", "numpy,jax", "--isolation",
                 "none", "--quiet", "--no-repro", "--out", str(out)]) == 0
    (entry,) = json.loads((out / "run.json").read_text())["runs"]
    assert entry["declarations"][0]["status"] == "occurred"


def test_a_declaration_outside_its_range_is_not_applied_and_report_md_says_so(
        write_case, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(known_discrepancies, "installed", _installed({"jax": "0.6.1"}))
    text = KINK.replace("dtype: [float64, float32]", "dtype: float64") + \
        '    versions: "jax>=0.4.20,<0.6"\n'
    path = write_case(text)
    out = tmp_path / "out"
    # the difference is real, and no longer excused: it fails
    assert main(["run", str(path), "--frameworks", "numpy,jax", "--isolation", "none",
                 "--quiet", "--no-repro", "--out", str(out)]) == 1
    report = html.unescape((out / "report.md").read_text())  # report.md escapes < and >
    assert f"- {path}:{KINK_LINE}: the known discrepancy for jax in case leaky-relu-at-kink is " \
           "not applied: jax 0.6.1 is outside jax>=0.4.20,<0.6" in report
    (entry,) = json.loads((out / "run.json").read_text())["runs"]
    assert entry["declarations"][0]["status"] == "not applied" and entry["known"] == {}
    capsys.readouterr()
    assert main(["known", str(path), "--report", str(out)]) == 0
    listed = capsys.readouterr().out
    assert f"{path}:{KINK_LINE}: jax, grad layers.0.*: not applied" in listed
    assert "versions: jax>=0.4.20,<0.6 (installed here: jax 0.6.1)" in listed
    assert "jax 0.6.1 is outside jax>=0.4.20,<0.6" in listed


def test_a_range_of_another_package_is_judged_by_that_package(write_case, monkeypatch):
    monkeypatch.setattr(known_discrepancies, "installed",
                        _installed({"jax": "0.4.30", "optax": "0.2.8"}))
    from harness.adapters import known_parties
    from harness.format.loader import load_case

    case, _ = load_case(write_case(KINK + '    versions: "optax<0.2"\n'), known_parties())
    assert known_discrepancies.out_of_range(case.known_discrepancies[0]) == \
        "optax 0.2.8 is outside optax<0.2"
    assert known_discrepancies.applied(case, "jax", "float64") == []


# -- pytest ----------------------------------------------------------------------------------

INI = "[pytest]\nharness_cases = cases\n"


def test_pytest_tells_an_xpass_with_its_file_and_line(pytester):
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/stale": STALE})
    result = pytester.runpytest("-q", "--harness-frameworks", "torch",
                                "--harness-isolation", "none")
    result.assert_outcomes(xpassed=1)
    result.stdout.fnmatch_lines(["harness: XPASS stale [[]float64-torch]: fixed upstream: remove "
                                 f"this declaration (*stale.yaml:{STALE_LINE})*"])


def test_harness_strict_known_fails_the_item_of_an_xpass(pytester):
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/stale": STALE})
    result = pytester.runpytest("-q", "--harness-frameworks", "torch",
                                "--harness-isolation", "none", "--harness-strict-known")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*--harness-strict-known: stale [[]float64-torch]: fixed "
                                 f"upstream: remove this declaration (*stale.yaml:{STALE_LINE})*"])
    assert result.ret == 1


def test_pytest_applies_no_declaration_outside_its_range(pytester, monkeypatch):
    monkeypatch.setattr(known_discrepancies, "installed", _installed({"torch": "2.20.0"}))
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/stale": STALE + "    versions: torch<2.15\n"})
    result = pytester.runpytest("-q", "--harness-frameworks", "torch",
                                "--harness-isolation", "none", "--harness-strict-known")
    result.assert_outcomes(passed=1)  # not xfail-marked: a plain pass, not an xpass


# -- python -m harness known ---------------------------------------------------------------

def test_known_lists_every_declaration_with_its_status(write_case, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "cases"
    kink = write_case(KINK.replace("dtype: [float64, float32]", "dtype: float64"), "kink.yaml",
                      folder)
    stale = write_case(STALE, "stale.yaml", folder)
    unused = write_case(STALE.replace("name: stale", "name: other").replace(
        "framework: torch", "framework: micrograd"), "other.yaml", folder)
    out = tmp_path / "out"
    assert main(["run", str(kink), str(stale), "--frameworks", "numpy,torch,jax",
                 "--isolation", "none", "--quiet", "--no-repro", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["known", str(folder), "--report", str(out)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert f"{kink}:{KINK_LINE}: jax, grad layers.0.*: occurred (xfail)" in listed
    assert f"{stale}:{STALE_LINE}: torch, grad: fixed (xpass): fixed upstream, remove this " \
           "declaration" in listed
    assert "    link: https://example.org/issue/1" in listed
    assert f"{unused}:{STALE_LINE}: micrograd, grad: not run (no run of its case in the " \
           "report)" in listed
    assert listed[-1].startswith("3 declarations in 3 files: 1 fixed, 1 occurred, 0 not "
                                 "applied, 0 inconclusive, 1 not run; report: ")


def test_known_without_a_report_lists_every_declaration_as_not_run(write_case, tmp_path, capsys):
    path = write_case(STALE)
    assert main(["known", str(path), "--report", str(tmp_path / "none")]) == 0
    listed = capsys.readouterr().out
    assert "torch, grad: not run" in listed and "every status is 'not run'" in listed


def test_known_refuses_a_broken_report_and_a_bad_case(write_case, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "run.json").write_text("{")
    assert main(["known", str(write_case(STALE)), "--report", str(tmp_path / "out")]) == 2
    assert "run.json: not JSON" in capsys.readouterr().err
    assert main(["known", str(write_case(STALE + "    versions: <\n", "bad.yaml"))]) == 2


def test_a_variant_or_a_shrunk_case_keeps_a_declaration_whole(load, write_case):
    """Variants and shrunk cases are written out (harness.running.variants.yaml_text): each
    declaration keeps its mode, device and version range (a torch+compile one written as torch
    would excuse eager torch too)."""
    from harness.adapters import known_parties
    from harness.format.loader import load_case
    from harness.running.variants import yaml_text

    case, problems = load(STALE.replace("framework: torch", "framework: torch+compile") +
                          '    device: cpu\n    versions: "<2.15"\n')
    assert problems == []
    again, problems = load_case(write_case(yaml_text(case), "again.yaml"), known_parties())
    assert problems == [] and again.known_discrepancies == case.known_discrepancies
    (known,) = again.known_discrepancies
    assert (known.party, str(known.versions)) == ("torch+compile@cpu", "torch<2.15")
