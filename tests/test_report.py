"""report.md details: merged notes, the CSV cell format, one matrix column per framework."""
from __future__ import annotations

import json

from harness.cli import main
from harness.reports.files import _cell_text
from harness.reports.markdown import _merge_notes

from conftest import sigmoid_neuron_text


def test_notes_ending_in_name_lists_merge_per_framework():
    notes = {("micrograd", "ops added to micrograd (not native): exp, log"),
             ("micrograd", "ops added to micrograd (not native): sigmoid"),
             ("micrograd", "float32 computed in float64: micrograd has Python floats only"),
             ("jax", "ops added: exp")}
    assert _merge_notes(notes) == [
        ("jax", "ops added: exp"),
        ("micrograd", "float32 computed in float64: micrograd has Python floats only"),
        ("micrograd", "ops added to micrograd (not native): exp, log, sigmoid")]


def test_csv_cells_keep_full_precision_and_spell_out_nan():
    assert _cell_text(0.1 + 0.2) == "0.30000000000000004"
    assert (_cell_text(float("nan")), _cell_text(float("-inf")), _cell_text(None)) == \
        ("nan", "-inf", "")


def test_the_matrix_has_one_column_per_framework_when_the_reference_is_also_a_party(
        write_case, tmp_path):
    """The reference (numpy) is also a party checked against golden values: one column, not two,
    also when a report is rendered again from a run.json that listed it twice."""
    out = tmp_path / "out"
    case = write_case(sigmoid_neuron_text())
    assert main(["run", str(case), "--out", str(out), "-q", "-f", "numpy,micrograd",
                 "--isolation", "none"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["frameworks"] == ["numpy", "micrograd"]
    assert _matrix_header(out / "report.md") == ["case", "dtype", "numpy", "micrograd"]
    record["frameworks"] = ["numpy"] + record["frameworks"]  # as older runs wrote it
    (out / "run.json").write_text(json.dumps(record))
    assert main(["report", str(out)]) == 0
    assert _matrix_header(out / "report.md") == ["case", "dtype", "numpy", "micrograd"]


def _matrix_header(path) -> list[str]:
    lines = path.read_text().splitlines()
    header = lines[lines.index("## Matrix") + 1:]
    header = next(line for line in header if line.startswith("| case |"))
    return [cell.strip() for cell in header.strip("|").split("|")]


def test_the_tolerances_section_gives_each_tolerance_the_case_set_whole(tmp_path, write_case):
    """atol and sum_rtol too: a row's absolute allowance has the scale term added, so the case's
    atol comes from the record (run.json), the judge's whole tolerance."""
    from harness.cli import main

    case = write_case(sigmoid_neuron_text().replace(
        "expected:\n", "tolerance: {float64: {atol: 1.0e-5}}\nexpected:\n"), "cases/neuron.yaml")
    assert main(["run", str(case), "-f", "numpy,torch", "--isolation", "none", "-q",
                 "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    section = report[report.index("## Tolerances"):]
    assert "neuron [float64] torch: case: atol 1e-05, rtol 1e-10, scale_rtol 1e-12, " \
           "sum_rtol 4e-15" in section
    assert "case + expected: atol 1e-09" in section  # the golden values' own atol on top
