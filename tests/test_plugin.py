"""The pytest plugin: YAML cases as items, readable failures, clean collection errors."""
from __future__ import annotations

from conftest import sigmoid_neuron_text

INI = "[pytest]\nharness_cases = cases\n"
BUILTIN = "numpy,torch,jax,micrograd"  # plug-ins installed beside them would add items


def test_cases_become_items_with_readable_ids(pytester):
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text()})
    result = pytester.runpytest("--collect-only", "-q", "--harness-frameworks", BUILTIN)
    for framework in ("numpy", "torch", "jax", "micrograd"):
        result.stdout.fnmatch_lines([f"cases/neuron.yaml::neuron[[]float64-{framework}[]]"])
    result = pytester.runpytest("-q", "--harness-frameworks", BUILTIN)
    result.assert_outcomes(passed=4)


def test_failing_item_prints_its_worst_discrepancies(pytester):
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text(dw0="-0.2966")})
    result = pytester.runpytest("-q", "--harness-frameworks", "torch")
    result.assert_outcomes(failed=1)
    # verdict first: who is suspect and where, then the table, the first wrong step first
    result.stdout.fnmatch_lines([
        "FAIL neuron [[]float64-torch[]] against the golden values: suspect expected; first wrong "
        "at step 1, grad layers.0.weight",
        "*the golden value differs*",
        "1 tensor(s) disagree with the golden values (float64), the first wrong step first*",
        "*step*quantity*tensor*mismatched*worst*reference*value*max abs*allowed*used",
        "*1*grad*layers.0.weight*1/2*(0, 0)*-0.2966*-0.1966*far outside",
    ])


def test_malformed_case_is_a_clean_collection_error(pytester):
    pytester.makefile(".ini", pytest=INI)
    text = sigmoid_neuron_text().replace("units: 1", "units: one")
    pytester.makefile(".yaml", **{"cases/broken": text})
    result = pytester.runpytest("-q")
    result.stdout.fnmatch_lines(["*invalid case file:*",
                                 "*broken.yaml:4: network[[]0[]].units: expected an integer*"])
    assert "Traceback" not in result.stdout.str()
    assert result.ret != 0


def test_yaml_outside_case_folders_is_not_collected(pytester):
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"tests/fixtures/broken": "network: ["})
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text()})
    result = pytester.runpytest("-q", "--harness-frameworks", "jax")
    result.assert_outcomes(passed=1)  # jax only: the broken fixture is never collected


def test_duplicate_names_across_files_fail_collection(pytester):
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/a": sigmoid_neuron_text(), "cases/b": sigmoid_neuron_text()})
    result = pytester.runpytest("-q", "--harness-frameworks", "torch")
    result.stdout.fnmatch_lines(["*case name 'neuron' is also used by*a.yaml*"])


def test_reports_written_at_session_end_on_request(pytester):
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text()})
    result = pytester.runpytest("-q", "--harness-frameworks", BUILTIN, "--harness-out", "out")
    result.assert_outcomes(passed=4)
    assert (pytester.path / "out" / "report.csv").exists()
    assert "everything conforms" in (pytester.path / "out" / "report.md").read_text()
    # the session's summary says where the report is
    result.stdout.fnmatch_lines(["harness: reports written: out*report.csv, out*report.md*"])


def test_no_report_path_is_printed_without_harness_out(pytester):
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text()})
    result = pytester.runpytest("-q", "--harness-frameworks", "torch")
    result.assert_outcomes(passed=1)
    assert "reports written" not in result.stdout.str()


def test_xdist_workers_rows_make_the_same_report_as_a_serial_run(pytester):
    """Each item's rows travel on its report, so the controller writes the one report."""
    import pytest

    pytest.importorskip("xdist", reason="pytest-xdist is part of the test extra")
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text(),
                                  "cases/wrong": sigmoid_neuron_text(name="wrong",
                                                                      dw0="-0.2966")})
    args = ("-q", "-p", "no:randomly", "--harness-frameworks", "numpy,torch,micrograd")
    serial = pytester.runpytest(*args, "--harness-out", "serial")
    parallel = pytester.runpytest(*args, "-n", "2", "--harness-out", "parallel")
    assert serial.ret == parallel.ret == 1
    csv_serial = (pytester.path / "serial" / "report.csv").read_text()
    csv_parallel = (pytester.path / "parallel" / "report.csv").read_text()
    assert csv_serial.count("\n") > 10 and csv_serial == csv_parallel
    md = [(pytester.path / d / "report.md").read_text().splitlines() for d in ("serial", "parallel")]
    summary = [next(l for l in lines if l.startswith("**")) for lines in md]
    assert summary[0] == summary[1] and summary[0].startswith("**DISCREPANCIES**")
    assert [l for l in md[0] if l.startswith("| ")] == [l for l in md[1] if l.startswith("| ")]
