"""report.md details: merged notes, the CSV cell format."""
from __future__ import annotations

from harness.report import _cell_text
from harness.report_md import _merge_notes


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
