"""Facts in the README and docs/ that come from code are checked here, so they cannot drift."""
from __future__ import annotations

import re
import shlex
import unicodedata

from harness import run_command
from harness.adapters import known_parties
from harness.verdicts.compare import COLUMNS
from harness.format.loader import load_case
from harness.verdicts.tolerance import DEFAULTS

from conftest import ROOT

README_PATH = ROOT / "README.md"
DOCS = ROOT / "docs"
README = README_PATH.read_text(encoding="utf-8")
README_MAX_BYTES = 15_000


def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def _markdown_files():
    return [README_PATH, *sorted(DOCS.glob("*.md"))]


def _table_after(text: str, heading: str) -> list[list[str]]:
    """The first Markdown table at or after ``heading`` in ``text``: its body rows as cells."""
    assert heading in text, f"{heading!r} not found"
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("|"))
    body = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        body.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    assert len(body) > 2, f"no table rows after {heading!r}"
    return body[2:]


def test_default_tolerance_table_matches_the_code():
    text = _text("docs/verdicts.md")
    rows = {r[0]: r for r in _table_after(
        text, "| dtype | atol | rtol | scale_rtol | sum_rtol | rounding |")}
    assert set(rows) == set(DEFAULTS)
    for dtype, tolerance in DEFAULTS.items():
        _, atol, rtol, scale_rtol, sum_rtol, rounding = rows[dtype]
        assert atol.startswith(f"{tolerance.atol:.2g}")
        assert (float(rtol), float(scale_rtol), float(sum_rtol), float(rounding)) == \
            (tolerance.rtol, tolerance.scale_rtol, tolerance.sum_rtol, tolerance.rounding)


def test_every_csv_column_is_documented():
    documented = set()
    for row in _table_after(_text("docs/report.md"), "| column | meaning |"):
        documented |= {name.strip() for name in row[0].split(",")}
    assert documented == set(COLUMNS)


def test_exit_codes_are_documented():
    codes = {int(r[0]) for r in _table_after(README, "| exit code | meaning |")}
    assert {run_command.EXIT_OK, run_command.EXIT_DISCREPANCY, run_command.EXIT_BAD_INPUT,
            run_command.EXIT_NOTHING_COMPARED, 130} == codes


# --- the README stays readable -------------------------------------------------------------

def test_readme_is_short_enough_to_read():
    size = len(README_PATH.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size} bytes, over {README_MAX_BYTES}: move reference material to docs/")


# --- links ----------------------------------------------------------------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code, where brackets are not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    kept = "".join(c for c in heading
                   if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for match in re.finditer(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", _FENCE.sub("", text), re.M):
        slug = _slug(match.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _relative_links():
    for path in _markdown_files():
        for target in _LINK.findall(_prose(path.read_text(encoding="utf-8"))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):   # http:, https:, mailto:
                continue
            yield path, target


def test_docs_exist_and_readme_links_every_page():
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert pages, "docs/ has no pages"
    linked = {target.split("#")[0] for path, target in _relative_links() if path == README_PATH}
    assert {f"docs/{p}" for p in pages} <= linked, "a docs page the README does not link"


def test_every_relative_link_points_to_a_file_that_exists():
    broken = []
    for path, target in _relative_links():
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}: {target}"
        if not linked.exists():
            broken.append(f"{where} (no such file)")
        elif anchor and linked.suffix == ".md" and \
                anchor not in _anchors(linked.read_text(encoding="utf-8")):
            broken.append(f"{where} (no heading with that anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken)


# --- the set-up commands are what CI runs -----------------------------------------------------

def _setup_blocks() -> list[str]:
    section = README.split("\n## Set up and run\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)\n```$", section, re.S | re.M)
    assert len(blocks) == 2, "the set-up section has the run command and the test command"
    assert all("\n" not in b for b in blocks), "each set-up command is one line"
    return blocks


def _commands(line: str) -> list[list[str]]:
    return [shlex.split(part) for part in line.split("&&")]


def _pip_install_args(commands: list[list[str]]) -> list[str]:
    installs = [c for c in commands if c[:2] == ["pip", "install"] and "--upgrade" not in c]
    assert len(installs) == 1, commands
    return [a for a in installs[0][2:] if a != "--quiet"]


def _ci_commands() -> list[list[str]]:
    lines = [l.strip() for l in _text(".ci/run").splitlines()]
    return [shlex.split(l) for l in lines if l and not l.startswith("#")]


def test_readme_setup_commands_install_what_ci_installs():
    run_command, test_command = (_commands(b) for b in _setup_blocks())
    ci = _ci_commands()
    ci_install = _pip_install_args(ci)
    pins = [a for a in ci_install if a.startswith("torch")]
    assert len(pins) == 1 and re.fullmatch(r"torch==\d+(\.\d+)+", pins[0]), ci_install
    assert ci_install == [pins[0], "-e", ".[test]", "-e", "examples/autograd-plugin"]

    # the test command is CI's: the same virtual environment, install and pytest
    assert _pip_install_args(test_command) == ci_install
    for command in (["python3", "-m", "venv", ".venv"], [".", ".venv/bin/activate"],
                    ["python", "-m", "pytest"]):
        assert command in ci and command in test_command
    assert test_command[-1] == ["python", "-m", "pytest"]

    # the run command installs the same torch and the package without its test extra
    assert _pip_install_args(run_command) == [pins[0], "-e", "."]
    assert run_command[:2] == test_command[:2]
    assert run_command[-1] == ["python", "-m", "harness", "run"]


def test_readme_case_example_is_a_valid_case(tmp_path):
    """The sigmoid neuron in "Writing a case" is a public contract: it must load as written."""
    section = README.split("\n## Writing a case\n", 1)[1]
    example = re.search(r"^```yaml\n(.*?)^```$", section, re.S | re.M).group(1)
    path = tmp_path / "sigmoid-neuron.yaml"
    path.write_text(example, encoding="utf-8")
    case, problems = load_case(path, known_parties())
    assert not problems, [str(p) for p in problems]
    assert case is not None and case.name == "sigmoid-neuron"


def test_the_vocabulary_page_holds_the_catalog_as_generated():
    from harness.format import catalog
    from harness.tools.vocabulary import BEGIN, END, markdown

    page = (ROOT / "docs" / "vocabulary.md").read_text(encoding="utf-8")
    generated = page[page.index(BEGIN):page.index(END) + len(END)] + "\n"
    assert generated == markdown(), "regenerate: python -m harness vocabulary"
    # and every name has a row in the hand-written tables of how each framework maps it
    mapped = page[page.index(END):]
    rows = {line.split("|")[1].strip() for line in mapped.splitlines() if line.startswith("| ")}
    for table in (catalog.ACTIVATIONS, catalog.LOSSES, catalog.OPTIMIZERS):
        assert set(table) <= rows, set(table) - rows


def test_the_layout_page_names_every_module():
    layout = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    package = ROOT / "harness"
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if path.name == "__init__.py" and len(path.read_text(encoding="utf-8")) < 200:
            continue  # a package marker: its folder's modules are what is named
        name = relative if "/" in relative else path.name
        assert name in layout, f"docs/layout.md does not mention {relative}"


def test_every_subcommand_is_in_both_synopses():
    from harness.cli import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)
    for page in (README, (ROOT / "docs" / "command-line.md").read_text(encoding="utf-8")):
        synopsis = page[page.index("python -m harness run ["):]
        synopsis = synopsis[:synopsis.index("```")]
        named = set(re.findall(r"python -m harness (\w+)", synopsis))
        named |= set(re.findall(r"\| (\w+)", synopsis))
        assert named == commands, (named, commands)


def test_every_option_of_every_subcommand_is_in_both_synopses():
    from harness.cli import build_parser

    subcommands = build_parser()._subparsers._group_actions[0].choices
    for page in (README, (ROOT / "docs" / "command-line.md").read_text(encoding="utf-8")):
        synopsis = page[page.index("python -m harness run ["):]
        synopsis = synopsis[:synopsis.index("```")]
        lines, current = {}, None  # subcommand -> its synopsis (continuation lines included)
        for line in synopsis.splitlines():
            found = re.match(r"python -m harness (\w+)", line)
            current = found.group(1) if found else current
            lines[current] = lines.get(current, "") + line
        for name, parser in subcommands.items():
            options = {o for action in parser._actions for o in action.option_strings
                       if o.startswith("--") and o != "--help"}
            missing = {o for o in options if o not in lines.get(name, "")}
            assert not missing, (name, missing)


def test_every_speed_figure_is_in_a_saved_benchmark_output():
    """The README's and benchmarks.md's speed tables quote benchmarks/results/*.md, which
    benchmarks/speed.py and benchmarks/jax_modes.py wrote: a figure typed by hand, or left behind
    by a new measurement, fails here."""
    saved = " ".join(p.read_text() for p in sorted((ROOT / "benchmarks" / "results").glob("*.md")))
    assert saved, "benchmarks/results/ holds the benchmarks' saved output"
    for page in ("README.md", "docs/benchmarks.md"):
        sections = re.findall(r"<!-- speed -->(.*?)<!-- /speed -->", _text(page), re.S)
        assert sections, f"{page} marks its speed tables with <!-- speed --> … <!-- /speed -->"
        figures = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?= (?:s|GiB|ms)\b)", " ".join(sections))
        assert figures, page
        missing = [f for f in figures if not re.search(rf"(?<![\w.]){re.escape(f)}(?![\d])",
                                                      saved)]
        assert not missing, f"{page}: figures not in benchmarks/results/: {missing}"


def test_the_compile_cost_table_is_the_benchmark_s_saved_output():
    text = _text("docs/benchmarks.md")
    block = re.search(r"<!-- compile-cost: [^>]*-->\n(.*?)<!-- /compile-cost -->", text, re.S)
    assert block, "docs/benchmarks.md marks the compile-cost table"
    assert block.group(1) == _text("benchmarks/results/compile-cost.md")


def test_the_low_precision_calibration_figures_are_the_saved_ones():
    """docs/verdicts.md's calibration block is what benchmarks/calibrate.py renders from the
    figures it saved (benchmarks/results/calibrate-*.json): no figure typed by hand."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import calibrate

    results = ROOT / "benchmarks" / "results"
    assert sorted(results.glob("calibrate-*.json")), "the calibration's saved figures"
    text = _text("docs/verdicts.md")
    block = re.search(r"<!-- calibration: [^>]*-->\n(.*?)<!-- end calibration -->", text, re.S)
    assert block, "docs/verdicts.md marks its calibration block"
    assert block.group(1) == calibrate.render(results)


def test_the_case_format_states_the_tolerance_bound_the_loader_holds():
    from harness.format.sections import TOLERANCE_MAX

    assert TOLERANCE_MAX == 1e6 and "each finite, ≥ 0 and at most 1e6" in _text(
        "docs/case-format.md")


def test_the_calibration_prose_figures_follow_from_the_saved_outputs():
    """The figures verdicts.md's calibration prose quotes: the modes' case count, the compile
    cost per case (benchmarks/results/compile-cost.md), the hours 1,000 cases per format would
    take, assert_close's bfloat16 rtol."""
    import json
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import calibrate

    text = " ".join(_text("docs/verdicts.md").split())
    results = ROOT / "benchmarks" / "results"
    modes = [json.loads(p.read_text()) for p in sorted(results.glob("calibrate-modes-*.json"))]
    assert modes and {m["count"] for m in modes} == {30}
    assert "the compiled and jit-off parties on 30 more per format" in text
    total = next(l for l in _text("benchmarks/results/compile-cost.md").splitlines()
                 if l.startswith("| all "))
    cases, harness_seconds = int(total.split()[2]), float(total.split("|")[3])
    per_case = harness_seconds / cases
    assert round(per_case) == 5 and "about 5 s a case" in text
    assert round(1000 * len(calibrate.FORMATS) * per_case / 3600) == 6 and "some six hours" in text
    assert calibrate.ASSERT_CLOSE["bfloat16"][0] == 0.016 and "1.6 % in bfloat16" in text
