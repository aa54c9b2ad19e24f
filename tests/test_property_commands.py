"""No command ever prints a traceback: a property over generated inputs, with hypothesis's
shrinking, so a failure comes back as the smallest input that shows it.

Three generators: case files (the sigmoid neuron with one field replaced by any JSON-like value,
through ``validate``), report folders (a real report.csv with one cell, a column or its end
changed, through ``report``), and run.json documents (the real record with one key replaced,
through ``report`` and ``diff``). Each command may accept or refuse (exit 0, 1 or 2); it may not
raise, and nothing it prints may be a traceback. tests/test_fuzz_reports.py and
tests/test_fuzz_input.py cover more inputs without shrinking.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from harness.cli import main  # noqa: E402

from conftest import ROOT  # noqa: E402

CASE = ROOT / "cases" / "golden" / "sigmoid-neuron.yaml"
# busy CI machines: no deadline; a modest number of examples keeps the suite short
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    text = out.getvalue() + err.getvalue()
    return code, text


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("property") / "good"
    code, text = _run(["run", str(CASE), "-f", "numpy", "--isolation", "none", "-q",
                       "--out", str(folder)])
    assert code == 0, text
    return folder


def _never_a_traceback(code: int, text: str, allowed=(0, 1, 2)) -> None:
    assert code in allowed, text
    assert "Traceback" not in text, text


@SETTINGS
@given(field=st.sampled_from(["network", "data", "loss", "optimizer", "steps", "dtype",
                              "frameworks", "tolerance", "init", "known_discrepancies"]),
       value=JSONISH)
def test_validate_never_raises_on_a_case_with_one_field_replaced(tmp_path_factory, field, value):
    case = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    case[field] = value
    path = tmp_path_factory.mktemp("case") / "case.yaml"
    path.write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
    _never_a_traceback(*_run(["validate", str(path)]), allowed=(0, 2))


@SETTINGS
@given(row=st.integers(min_value=0, max_value=40), column=st.integers(min_value=0, max_value=40),
       cell=st.text(max_size=30), cut=st.integers(min_value=0, max_value=4000),
       kind=st.sampled_from(["cell", "drop column", "cut"]))
def test_report_never_raises_on_a_changed_report_csv(good, tmp_path_factory, row, column, cell,
                                                      cut, kind):
    folder = tmp_path_factory.mktemp("folder") / "out"
    shutil.copytree(good, folder)
    lines = (good / "report.csv").read_text(encoding="utf-8").splitlines()
    if kind == "cut":
        text = "\n".join(lines)[:cut]
    else:
        rows = [line.split(",") for line in lines]
        r = rows[row % len(rows)]
        if kind == "cell":
            r[column % len(r)] = cell
        else:
            for each in rows:
                if each:
                    each.pop(column % len(each))
        text = "\n".join(",".join(r) for r in rows)
    (folder / "report.csv").write_text(text, encoding="utf-8")
    _never_a_traceback(*_run(["report", str(folder)]), allowed=(0, 2))


@SETTINGS
@given(key=st.text(max_size=12), value=JSONISH, replace_key=st.booleans())
def test_report_and_diff_never_raise_on_a_changed_run_json(good, tmp_path_factory, key, value,
                                                            replace_key):
    folder = tmp_path_factory.mktemp("record") / "out"
    shutil.copytree(good, folder)
    record = json.loads((good / "run.json").read_text(encoding="utf-8"))
    if replace_key and record:
        key = sorted(record)[len(key) % len(record)]
    record[key] = value
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    _never_a_traceback(*_run(["report", str(folder)]), allowed=(0, 2))
    _never_a_traceback(*_run(["diff", str(good), str(folder), "--out",
                              str(folder.parent / "diff.md")]))


def test_the_number_docs_reliability_quotes_is_the_setting():
    text = " ".join((ROOT / "docs" / "reliability.md").read_text(encoding="utf-8").split())
    assert f"{SETTINGS.max_examples} examples each" in text
