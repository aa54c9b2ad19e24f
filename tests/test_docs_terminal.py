"""What the docs show of the terminal, a failing pytest item and report.md comes from real runs.

Each block between `<!-- terminal: NAME -->` and `<!-- /terminal -->` in docs/ and the README is
the output of the run NAME below (a page may show an excerpt: consecutive lines of it). Digits
are compared as digits, not values, so a last-bit difference of another machine's BLAS does not
break the page; every word and every line is compared. `python tests/test_docs_terminal.py`
writes the blocks again from fresh runs.
"""
from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import sigmoid_neuron_text  # noqa: E402

from harness.adapters import FRAMEWORKS, get_adapter  # noqa: E402
from harness.cli import main  # noqa: E402
from harness.reports.failure_table import failure_table  # noqa: E402
from harness.reports.readback import rows_from_csv  # noqa: E402

EXAMPLES = ROOT / "examples" / "backprop"
BLOCK = re.compile(r"(<!-- terminal: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /terminal -->)",
                   re.DOTALL)
PAGES = [ROOT / "README.md", ROOT / "docs" / "your-backprop.md", ROOT / "docs" / "pytest.md",
         ROOT / "docs" / "verdicts.md"]


def _run(arguments: list[str], out: Path) -> str:
    """The run's standard output, its report folder written as results/ would be."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(io.StringIO()):
        main(["run", *arguments, "--out", str(out)])
    return captured.getvalue().replace(str(out), "results")


def carries(work: Path) -> str:
    """The terminal of examples/backprop/mistakes/mlp_carries_da.py on three tanh layers."""
    return _run([str(EXAMPLES / "cases" / "three-layer-tanh-mse.yaml"), "--frameworks",
                 "numpy,torch", "--impl", str(EXAMPLES / "mistakes" / "mlp_carries_da.py")],
                work / "carries").replace(str(ROOT) + "/", "")


def squared_sum(work: Path) -> str:
    """report.md's sentences for mse_squared_sum.py on one-layer-sigmoid-mse."""
    _run([str(EXAMPLES / "cases" / "one-layer-sigmoid-mse.yaml"), "--frameworks", "numpy,torch",
          "--impl", str(EXAMPLES / "mistakes" / "mse_squared_sum.py"), "--variants", "0",
          "-q"], work / "squared")
    report = (work / "squared" / "report.md").read_text(encoding="utf-8")
    start = report.index("### one-layer-sigmoid-mse [float64-mse_squared_sum] against the numpy")
    section = report[start:re.compile(r"\n##+ ").search(report, start + 4).start()]
    return "\n".join(line for line in section.splitlines()
                     if line.startswith(("Suspect:", "- "))) + "\n"


def golden(work: Path) -> str:
    """A failing pytest item's text: torch against a wrong golden value of the sigmoid neuron."""
    case = work / "neuron.yaml"
    case.write_text(sigmoid_neuron_text(dw0="-0.2966"), encoding="utf-8")
    _run([str(case), "--frameworks", "torch", "-q"], work / "neuron")
    rows = rows_from_csv(work / "neuron" / "report.csv")
    mine = [r for r in rows if r.framework == "torch"]
    return failure_table([r for r in mine if r.status in ("fail", "error")], mine) + "\n"


RUNS = {"carries": carries, "squared-sum": squared_sum, "golden": golden}


def _shape(text: str) -> list[str]:
    """Lines with every digit run replaced: the words and layout, not the last bits."""
    return [re.sub(r"\d+", "0", line.rstrip()) for line in text.strip("\n").splitlines()]


def _blocks():
    for page in PAGES:
        for found in BLOCK.finditer(page.read_text(encoding="utf-8")):
            body = found.group("body")
            inner = body.split("\n", 1)[1].rsplit("```", 1)[0] if body.startswith("```") else body
            yield page, found.group("name"), inner


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Every run once for the module; the --impl files they register forgotten after."""
    work = tmp_path_factory.mktemp("docs-terminal")
    before = dict(FRAMEWORKS.extra)
    try:
        return {name: make(work) for name, make in RUNS.items()}
    finally:
        FRAMEWORKS.extra.clear()
        FRAMEWORKS.extra.update(before)
        get_adapter.cache_clear()


def test_every_block_names_a_run():
    found = list(_blocks())
    assert {name for _, name, _ in found} == set(RUNS), found
    for page, name, inner in found:
        assert inner.strip(), f"{page.name}: the block {name} is empty"


@pytest.mark.parametrize("page,name", [(p, n) for p, n, _ in _blocks()],
                         ids=lambda v: v.name if isinstance(v, Path) else v)
def test_each_block_is_what_the_run_prints(outputs, page, name):
    shown = next(inner for p, n, inner in _blocks() if p == page and n == name)
    real, excerpt = _shape(outputs[name]), _shape(shown)
    # the whole output, or consecutive lines of it
    starts = [i for i, line in enumerate(real) if line == excerpt[0]]
    assert any(real[i:i + len(excerpt)] == excerpt for i in starts), (
        f"{page.name}'s block {name} is not what the run prints; run "
        f"`python tests/test_docs_terminal.py` to write it again.\nthe run:\n" + outputs[name])


def write_blocks() -> None:
    """Each block written again whole from a fresh run (an excerpt keeps its first and last
    line's span)."""
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        outputs = {name: make(Path(work)) for name, make in RUNS.items()}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")

        def fill(found: re.Match) -> str:
            body = found.group("body")
            real = outputs[found.group("name")].strip("\n").splitlines()
            shown = (body.split("\n", 1)[1].rsplit("```", 1)[0] if body.startswith("```")
                     else body).strip("\n").splitlines()
            if shown:  # keep the excerpt's span: from its first line's match to its last's
                first = next((i for i, line in enumerate(real)
                              if _shape(line) == _shape(shown[0])), 0)
                last = next((i for i in range(len(real) - 1, first - 1, -1)
                             if _shape(real[i]) == _shape(shown[-1])), len(real) - 1)
                real = real[first:last + 1]
            return f"{found.group(1)}```text\n" + "\n".join(real) + f"\n```\n{found.group(4)}"
        page.write_text(BLOCK.sub(fill, text), encoding="utf-8")


if __name__ == "__main__":
    write_blocks()
