"""heatmap.svg: written with the report, deterministic, report.md's verdict line on top, one line
per case and dtype, one colour per status (inconclusive included), a share far outside the
tolerance in words, case names escaped, bounded for many cases."""
from __future__ import annotations

import re
import xml.dom.minidom

from harness.cli import main
from harness.verdicts.compare import Row
from harness.reports.heatmap import CHAR_W, COL_W, MAX_ROWS, heatmap_svg
from harness.reports.markdown import verdict_line
from harness.reports.files import record_from_rows

from conftest import sigmoid_neuron_text

FRAMEWORKS = ("numpy", "torch", "jax")


def _rows(cases, status_of=lambda case, framework: "pass", folder="cases", dtype="float64",
          tol_used=None):
    rows = []
    for i, case in enumerate(cases):
        for framework in FRAMEWORKS:
            status = status_of(case, framework)
            used = tol_used if tol_used is not None and status != "pass" else \
                3.5 if status == "fail" else 10.0 ** -(i % 7)
            rows.append(Row(case, f"{folder}/{i}.yaml", dtype, framework, "numpy", 1, "grad",
                            "layers.0.weight", status, tol_used=used))
    return rows


def _cells(text):
    """{(line label, framework): (fill, text)} of every cell drawn."""
    found = re.findall(r'<g><title>(.*?) × (.*?): .*?</title><rect [^>]*fill="([^"]+)"[^>]*/>'
                       r"<text [^>]*>(.*?)</text></g>", text)
    return {(label, framework): (fill, word) for label, framework, fill, word in found}


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
        assert f">case-{i} [float64]<" in text
    for framework in FRAMEWORKS:
        assert f">{framework}<" in text


def test_a_failing_cell_is_marked_differently_from_a_passing_one():
    rows = _rows(["good", "bad"], lambda case, framework: "fail" if (case, framework) == (
        "bad", "jax") else "pass")
    text = _svg(rows)
    cells = [g for g in text.split("<g>")[1:] if g.startswith("<title>")]
    bad = next(g for g in cells if g.startswith("<title>bad [float64] × jax"))
    good = next(g for g in cells if g.startswith("<title>good [float64] × jax"))
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


def test_the_verdict_line_of_report_md_opens_the_picture_in_plain_text():
    rows = _rows(["good", "bad"], lambda case, framework: "fail" if (case, framework) == (
        "bad", "jax") else "pass")
    text = _svg(rows)
    lines = text.split("\n")[3:]  # after <svg>, <title> and the background, before the title
    first = " ".join(re.sub("<[^>]+>", "", l) for l in lines[:[
        i for i, l in enumerate(lines) if ">Worst share of the tolerance used" in l][0]])
    assert first.startswith("DISCREPANCIES: 2 case runs, 6 comparisons: 5 pass, 1 fail")
    assert first == verdict_line(rows, 2).replace("**", "") and "**" not in text
    cells_y = min(int(y) for y in re.findall(r'<rect x="\d+" y="(\d+)" width="\d+" height="17" '
                                             r'fill="[^"]+" stroke', text))
    assert int(re.search(r'y="(\d+)"', text.split("\n")[3]).group(1)) < cells_y
    assert ">everything conforms</tspan>" in _svg(_rows(["good"]))


def test_each_dtype_of_a_case_is_a_line_of_its_own():
    rows = _rows(["mlp-tanh"], lambda case, framework: "fail" if framework == "jax" else "pass",
                 dtype="float32") + _rows(["mlp-tanh"])
    cells = _cells(_svg(rows))
    assert len(cells) == 2 * len(FRAMEWORKS)
    assert cells[("mlp-tanh [float32]", "jax")][1] == "FAIL 3.5"
    assert cells[("mlp-tanh [float64]", "jax")][1] == "1"  # its own share, not float32's fail
    long_name = "a" * 80  # a long name is cut, its dtype never
    assert f"{'a' * 20}… [float32]<" in _svg(_rows([long_name], dtype="float32"))


def test_a_share_far_outside_the_tolerance_is_said_in_words_and_fits_its_cell():
    fail = lambda case, framework: "fail" if framework == "jax" else "pass"  # noqa: E731
    text = _svg(_rows(["wild"], fail, tol_used=1e16))
    assert "1e+16" not in text and "e+" not in text
    assert _cells(text)[("wild [float64]", "jax")] == ("#d62728", "FAIL far outside")
    assert "far outside the tolerance at" in text  # the tooltip says it in words too
    assert _cells(_svg(_rows(["near"], fail, tol_used=3.2)))[("near [float64]", "jax")][1] == \
        "FAIL 3.2"
    xfail = _svg(_rows(["known"], lambda case, framework: "xfail", tol_used=5e9))
    assert "xfail far outside" in xfail and "5e+09" not in xfail
    for picture in (text, xfail):
        for _, word in _cells(picture).values():
            assert len(word) * CHAR_W <= COL_W - 4, word


def test_inconclusive_is_one_colour_and_word_whatever_its_share_and_is_in_the_legend():
    def incon(case, framework):
        return "inconclusive" if framework == "jax" else "pass"
    rows = _rows(["finite"], incon, tol_used=0.3)
    rows += [r if r.framework != "jax" else Row("none", "cases/n.yaml", "float64", "jax", "numpy",
                                                1, "grad", "layers.0.weight", "inconclusive")
             for r in _rows(["none"], incon)]
    text = _svg(rows)
    cells = _cells(text)
    finite, none = cells[("finite [float64]", "jax")], cells[("none [float64]", "jax")]
    assert finite == none and finite[1] == "inconclusive"
    assert finite[0] not in {fill for key, (fill, _) in cells.items() if key[1] != "jax"}
    assert finite[0] != "#ffffff"  # not a skip's white, not an empty cell's grey
    assert re.search(f'fill="{finite[0]}" stroke[^>]*/><text [^>]*>inconclusive</text>',
                     text.split("</g>")[-1])  # the legend, after the last cell


def test_a_folder_line_covers_every_dtype_of_its_cases():
    rows = []
    for k in range(2):  # 100 cases × 2 dtypes: 200 case runs, more than MAX_ROWS lines
        cases = [f"c{k}-{i}" for i in range(50)]
        rows += _rows(cases, folder=f"cases/f{k}", dtype="float32") + \
            _rows(cases, folder=f"cases/f{k}")
    text = _svg(rows)
    assert len(_cells(text)) == 2 * len(FRAMEWORKS)
    assert ">cases/f1/ (50 cases, 100 runs)<" in text
    assert "100 cases (200 runs), one line per folder" in text
