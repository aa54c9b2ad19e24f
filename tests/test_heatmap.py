"""heatmap.svg: written with the report, deterministic, every case and framework, failing cells
marked, case names escaped, bounded for many cases."""
from __future__ import annotations

import xml.dom.minidom

from harness.cli import main
from harness.verdicts.compare import Row
from harness.reports.heatmap import MAX_ROWS, heatmap_svg
from harness.reports.files import record_from_rows

from conftest import sigmoid_neuron_text

FRAMEWORKS = ("numpy", "torch", "jax")


def _rows(cases, status_of=lambda case, framework: "pass", folder="cases"):
    rows = []
    for i, case in enumerate(cases):
        for framework in FRAMEWORKS:
            status = status_of(case, framework)
            rows.append(Row(case, f"{folder}/{i}.yaml", "float64", framework, "numpy", 1, "grad",
                            "layers.0.weight", status,
                            tol_used=3.5 if status == "fail" else 10.0 ** -(i % 7)))
    return rows


def _svg(rows):
    text = heatmap_svg(rows, record_from_rows(rows))
    xml.dom.minidom.parseString(text)  # well-formed whatever the names
    return text


def test_the_run_writes_the_heatmap_beside_report_md_and_rerenders_it_the_same(write_case,
                                                                             tmp_path):
    out = tmp_path / "out"
    main(["run", str(write_case(sigmoid_neuron_text(dw0="-0.2966"))), "--out", str(out), "-q",
          "-f", "numpy,torch", "--isolation", "none"])
    picture = (out / "heatmap.svg").read_bytes()
    assert b"neuron" in picture and b">torch<" in picture and b"FAIL" in picture
    assert "![" in (out / "report.md").read_text() and "](heatmap.svg)" in \
        (out / "report.md").read_text()
    (out / "heatmap.svg").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "heatmap.svg").read_bytes() == picture  # same rows, same bytes


def test_every_case_and_framework_is_drawn_and_the_same_rows_give_the_same_bytes():
    rows = _rows([f"case-{i}" for i in range(64)])
    text = _svg(rows)
    assert text == _svg(list(rows))
    for i in range(64):
        assert f">case-{i}<" in text
    for framework in FRAMEWORKS:
        assert f">{framework}<" in text


def test_a_failing_cell_is_marked_differently_from_a_passing_one():
    rows = _rows(["good", "bad"], lambda case, framework: "fail" if (case, framework) == (
        "bad", "jax") else "pass")
    text = _svg(rows)
    cells = [g for g in text.split("<g>")[1:] if g.startswith("<title>")]
    bad = next(g for g in cells if g.startswith("<title>bad × jax"))
    good = next(g for g in cells if g.startswith("<title>good × jax"))
    assert 'fill="#d62728"' in bad and ">FAIL 3.5<" in bad and 'font-weight="bold"' in bad
    assert "#d62728" not in good and "FAIL" not in good
    error = _svg(_rows(["x"], lambda case, framework: "error" if framework == "jax" else "pass"))
    assert ">ERROR<" in error


def test_case_names_are_escaped():
    name = 'a<b & "c"\x01'
    text = _svg(_rows([name]))
    assert "a&lt;b &amp; &quot;c&quot;\ufffd" in text and name not in text


def test_a_thousand_cases_are_drawn_per_folder_and_bounded():
    rows = []
    for k in range(20):  # 1,000 cases in 20 folders: one line per folder
        rows += _rows([f"c{k}-{i}" for i in range(50)], folder=f"cases/f{k}")
    text = _svg(rows)
    assert text.count("<g>") == 20 * len(FRAMEWORKS)
    assert ">cases/f7/ (50 cases)<" in text and "1000 cases, one line per folder" in text
    rows = []  # 1,000 folders: capped, and it says so
    for k in range(1000):
        rows += _rows([f"c{k}"], folder=f"cases/f{k}")
    text = _svg(rows)
    assert text.count("<g>") == MAX_ROWS * len(FRAMEWORKS)
    assert f"the first {MAX_ROWS} of 1000 folders shown" in text
