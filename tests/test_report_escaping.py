"""Text from a case or a report folder is escaped for where it goes (issue 23): no HTML tag, link
or image of a case's making is live in report.md or diff.md, a code span cannot be closed from
inside, and no control character reaches the terminal."""
from __future__ import annotations

import csv
import re
import shutil

import pytest

from harness.cli import main
from harness.reports.text import md_code, md_text, terminal_text

from conftest import ROOT, sigmoid_neuron_text

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(2)>"
LINK = "[click](javascript:alert(3))"
HOSTILE_TEXT = f"{SCRIPT} {IMAGE} {LINK} <a href='javascript:alert(4)'>x</a> &lt;b&gt;"


def live_markup(markdown: str) -> list[str]:
    """What a Markdown renderer that passes HTML through would make live: tags, autolinks,
    entities it would decode, inline links or images, script schemes."""
    found = re.findall(r"<[A-Za-z!/?][^>]*>?", markdown)  # a tag, comment or autolink opening
    found += re.findall(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", markdown)  # [text]( of a link or image
    found += re.findall(r"(?<!&amp;)&[#A-Za-z0-9]+;", markdown.replace("&amp;", "&amp;"))
    found += re.findall(r"(?i)javascript:", markdown)
    return [f for f in found if f not in ("&amp;", "&lt;", "&gt;", "&#58;")]


@pytest.mark.parametrize("text", [SCRIPT, IMAGE, LINK, HOSTILE_TEXT, "![x](javascript:y)",
                                  "<javascript:alert(1)>", "JaVaScRiPt:alert(1)",
                                  "&#106;avascript&#58;alert(1)", "<!-- comment -->",
                                  "a | b\n## heading\r\n<b>"])
def test_md_text_leaves_no_live_markup(text):
    safe = md_text(text)
    assert live_markup(safe) == [], safe
    assert "\n" not in safe and "\r" not in safe


def test_md_text_shows_what_it_escapes():
    assert md_text("a < b & c > d [e]") == "a &lt; b &amp; c &gt; d \\[e\\]"
    assert md_text("javascript:x") == "javascript&#58;x"
    assert md_text("plain float32 grad layers.0.weight (0, 1)") == \
        "plain float32 grad layers.0.weight (0, 1)"  # ordinary text is untouched


@pytest.mark.parametrize("text, span", [("cases/a.yaml", "`cases/a.yaml`"),
                                        ("a`b", "``a`b``"), ("x``y`", "``` x``y` ```"),
                                        ("line\nbreak", "`line break`")])
def test_a_code_span_cannot_be_closed_from_inside(text, span):
    assert md_code(text) == span


@pytest.mark.parametrize("text, shown", [("\x1b[2Jred", "\\x1b[2Jred"), ("a\rb", "a\\rb"),
                                         ("a\nFAIL", "a\\nFAIL"), ("\u202eevil", "\\u202eevil"),
                                         ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"), ("tab\tok", "tab\tok"),
                                         ("café ✓", "café ✓")])
def test_terminal_text_neutralises_control_characters(text, shown):
    assert terminal_text(text) == shown


CASE = sigmoid_neuron_text(dw0="-0.2966") + f"""\
known_discrepancies:
  - framework: torch
    quantity: grad
    reason: "{HOSTILE_TEXT}"
    link: "javascript:alert(5)"
"""


def test_a_known_discrepancys_reason_and_link_are_not_markup_in_report_md(write_case, tmp_path):
    case = write_case(CASE, name="neuron.yaml")
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out), "-q", "-f", "numpy,torch",
                 "--isolation", "none"]) == 1
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Declared cause: " in report and "alert(5)" in report  # the reason is there, inert
    ours = "![The worst share of the tolerance used per case and framework, log scale]("
    assert live_markup(report.replace(ours, "")) == []
    # and read back from the folder, rendered again: still inert
    assert main(["report", str(out)]) == 0
    assert live_markup((out / "report.md").read_text(encoding="utf-8").replace(ours, "")) == []


def test_a_hostile_report_folder_reaches_neither_diff_md_nor_the_terminal_raw(tmp_path, capsys):
    source = ROOT / "cases" / "golden" / "sigmoid-neuron.yaml"
    old = tmp_path / "old"
    assert main(["run", str(source), "-f", "numpy", "--isolation", "none", "-q",
                 "--out", str(old)]) == 0
    new = tmp_path / "new"
    shutil.copytree(old, new)
    (new / "run.json").unlink()  # its runs would name the case; report.csv alone here
    path = new / "report.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    evil = f"\x1b[2J\x1b[31m{SCRIPT}\r\nFAIL forged"
    for row in rows[1:]:
        row[0] = evil  # the case column
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    diff_md = tmp_path / "diff.md"
    assert main(["diff", str(old), str(new), "--out", str(diff_md)]) == 0
    out = capsys.readouterr().out
    assert "\\x1b[2J" in out  # the case is named, its control characters shown, not obeyed
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", out)
    assert not any(line.startswith("FAIL forged") for line in out.splitlines())
    assert live_markup(diff_md.read_text(encoding="utf-8")) == []


def test_an_error_naming_a_hostile_path_reaches_the_terminal_neutralised(tmp_path, capsys):
    folder = tmp_path / "a\x1b[2J\rb"
    folder.mkdir()
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "a\\x1b[2J\\rb: no report.csv here" in err
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", err)
