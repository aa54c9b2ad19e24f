"""The format's contract with what reads it: a renamed report.csv column is still read under its
old name, and the keys a case may give a tolerance are the tolerance's own."""
from __future__ import annotations

from conftest import sigmoid_neuron_text
from harness.cli import main
from harness.reports.files import rows_from_csv
from harness.verdicts.compare import COLUMNS, RENAMED_COLUMNS


def test_no_renamed_column_is_still_written():
    assert not set(RENAMED_COLUMNS) & set(COLUMNS)
    assert set(RENAMED_COLUMNS.values()) <= set(COLUMNS)


def test_a_report_written_before_a_rename_is_read_rendered_and_diffed(tmp_path, write_case):
    case = write_case(sigmoid_neuron_text(), "cases/neuron.yaml")
    new = tmp_path / "new"
    assert main(["run", str(case), "-f", "numpy,torch", "--isolation", "none", "-q",
                 "--out", str(new)]) == 0
    old = tmp_path / "old"
    old.mkdir()
    text = (new / "report.csv").read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    for renamed, name in RENAMED_COLUMNS.items():
        header = header.replace(name, renamed)
    (old / "report.csv").write_text(header + "\n" + rest, encoding="utf-8")
    (old / "run.json").write_text((new / "run.json").read_text(encoding="utf-8"))
    assert rows_from_csv(old / "report.csv") == rows_from_csv(new / "report.csv")
    assert rows_from_csv(old / "report.csv")[0].absolute_allowance is not None
    assert main(["diff", str(old), str(new), "--out", str(tmp_path / "diff.md")]) == 0
    assert main(["report", str(old)]) == 0


def test_the_case_formats_tolerance_keys_are_the_tolerances_fields():
    from harness.format.case import TOLERANCE_KEYS
    from harness.verdicts.tolerance import KEYS

    assert TOLERANCE_KEYS == KEYS
