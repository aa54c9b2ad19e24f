"""Naming what is wrong in a student's backprop, even where the case's own point hides it.

The self-check (its gradients against finite differences of its own loss), the variants that
break a case's coincidences, the hint rules, the loss's shape, and the five classic mistakes of
examples/backprop/mistakes with the table of docs/your-backprop.md checked against what the
harness really says.
"""
from __future__ import annotations

import csv
import re
import subprocess
import sys

import numpy as np
import pytest

from harness.adapters import known_parties
from harness.cli import main
from harness.verdicts.compare import Context, compare_tensor
from harness.format.loader import load_case
from harness.verdicts.tolerance import DEFAULTS

from conftest import CASES, ROOT

EXAMPLES = ROOT / "examples" / "backprop"
MISTAKES = EXAMPLES / "mistakes"
SHIPPED = [str(CASES / "golden"), str(EXAMPLES / "cases")]
NEURON = CASES / "golden" / "sigmoid-neuron.yaml"
TWO_MISTAKES = ROOT / "tests" / "impls" / "tanh_mse_two_mistakes.py"
NOT_DERIVATIVE = "your gradients are not the derivative of your own loss"


pytestmark = pytest.mark.usefixtures("forget_registered_impls")


def run(impl, out, *paths, options=()):
    code = main(["run", *(paths or SHIPPED), "--impl", str(impl), "-f", "numpy,torch",
                 "--out", str(out), "-q", *options])
    with open(out / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return code, rows, (out / "report.md").read_text(encoding="utf-8")


def failing(rows, framework, case=None, reference=None):
    return [r for r in rows if r["framework"] == framework and r["status"] == "fail"
            and (case is None or r["case"] == case)
            and (reference is None or r["reference"] == reference)]


def section(report: str, heading_start: str) -> str:
    """The text of the first report.md section whose heading starts with ``heading_start``."""
    start = report.index(f"### {heading_start}")
    end = report.find("\n### ", start + 4)
    return report[start:end if end != -1 else len(report)]


# -- the must-shows ---------------------------------------------------------------------------
def test_fixed_point_sigmoid_is_caught_on_the_worked_neuron_through_a_variant(tmp_path):
    """σ′ taken at z = 1 is right on the worked neuron (z = 1): only a variant can see it."""
    impl = MISTAKES / "sigmoid_fixed_point.py"
    out = tmp_path / "out"
    code, rows, report = run(impl, out, str(NEURON))
    assert code == 1
    mine = [r for r in rows if r["framework"] == "sigmoid_fixed_point"]
    # the case itself cannot see it: right output, loss, gradients, golden values, self-check
    assert {r["status"] for r in mine if r["case"] == "sigmoid-neuron"} == {"pass"}
    # the first variant (other parameters) can, against the reference and against its own loss
    variant = "sigmoid-neuron~variant-1"
    against_reference = failing(rows, "sigmoid_fixed_point", variant, "numpy")
    against_itself = failing(rows, "sigmoid_fixed_point", variant, "self")
    assert {r["quantity"] for r in against_reference if r["step"] == "1"} >= {"grad"}
    assert not {"output", "loss"} & {r["quantity"] for r in against_reference}
    assert {r["tensor"] for r in against_itself} == {"layers.0.weight", "layers.0.bias"}
    assert all(r["quantity"] == "grad" and r["suspect"] == "sigmoid_fixed_point"
               and NOT_DERIVATIVE in r["message"] for r in against_itself)
    text = section(report, f"{variant} [float64-sigmoid_fixed_point] against the numpy")
    assert "other parameters" in text  # what the variant changed
    assert ("the output and loss agree but the gradients do not: the mistake is in the backward "
            f"pass; {NOT_DERIVATIVE} either") in text
    # the variant is a case file of its own, explicit, and reruns to the same failure
    path = out / "variants" / f"{variant}.yaml"
    case, problems = load_case(path, known_parties())
    assert not problems and case.name == variant and "variant" in case.tags
    assert "random" not in path.read_text() and "file:" not in path.read_text()
    again = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--impl", str(impl),
                            "-f", "numpy,torch", "--out", str(tmp_path / "again"), "-q"],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1, again.stdout + again.stderr
    with open(tmp_path / "again" / "report.csv", newline="") as handle:
        rerun = list(csv.DictReader(handle))
    key = lambda r: (r["reference"], r["step"], r["quantity"], r["tensor"])  # noqa: E731
    assert {key(r) for r in failing(rerun, "sigmoid_fixed_point", variant)} == \
        {key(r) for r in failing(rows, "sigmoid_fixed_point", variant) if r["dtype"] == "float64"}
    assert not (tmp_path / "again" / "variants").exists()  # a variant is not varied again


@pytest.mark.parametrize("case", ["logits-cross-entropy", "softmax-nll"])
def test_batch_wide_softmax_is_caught_on_a_batch_one_case_through_the_batch_variant(tmp_path,
                                                                                      case):
    path = CASES / "golden" / f"{case}.yaml"
    loaded, _ = load_case(path, known_parties())
    assert loaded.batch == 1  # the whole batch is the one sample: the case alone cannot see it
    code, rows, report = run(MISTAKES / "softmax_whole_batch.py", tmp_path / "out", str(path))
    assert code == 1
    assert not failing(rows, "softmax_whole_batch", case)
    batch = f"{case}~variant-2"
    assert failing(rows, "softmax_whole_batch", batch, "numpy")
    assert failing(rows, "softmax_whole_batch", batch, "self")
    text = section(report, f"{batch} [float64-softmax_whole_batch] against the numpy")
    assert "a batch of 3 samples" in text
    part = "the loss" if case == "logits-cross-entropy" else "the forward pass"
    assert f"both {part} and the backward pass are wrong" in text


def test_tanh_mse_with_both_the_loss_and_the_backward_wrong_names_the_backward_pass(tmp_path):
    case = str(EXAMPLES / "cases" / "one-layer-tanh-mse.yaml")
    code, rows, report = run(TWO_MISTAKES, tmp_path / "out", case, options=["--variants", "0"])
    assert code == 1
    first = {r["quantity"] for r in failing(rows, "tanh_mse_two_mistakes", reference="numpy")
             if r["step"] == "1"}
    assert {"loss", "grad"} <= first and "output" not in first
    assert failing(rows, "tanh_mse_two_mistakes", reference="self")
    text = section(report, "one-layer-tanh-mse [float64-tanh_mse_two_mistakes] against the numpy")
    assert (f"the output agrees but the loss differs from the reference AND {NOT_DERIVATIVE}: "
            "both the loss and the backward pass are wrong") in text
    assert "the mistake is in the loss." not in report  # never the loss alone


def test_a_consistent_backward_clears_the_backward_pass_when_only_the_loss_is_wrong(tmp_path):
    code, rows, report = run(MISTAKES / "mse_squared_sum.py", tmp_path / "out",
                             str(CASES / "golden" / "mse-neuron.yaml"), options=["--variants", "0"])
    assert code == 1 and not failing(rows, "mse_squared_sum", reference="self")
    assert {r["status"] for r in rows if r["reference"] == "self"} == {"pass"}
    assert ("the output agrees but the loss does not: the mistake is in the loss; your gradients "
            "are the derivative of your own loss (the self-check passes)") in report


# -- the five classic mistakes, and the table that says what the harness says about each ------
def _table() -> dict[str, list[str]]:
    """docs/your-backprop.md's table of the examples: file -> its cells."""
    text = (ROOT / "docs" / "your-backprop.md").read_text(encoding="utf-8")
    start = text.index("| file | the mistake | caught on | what the harness says |")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    return rows


MISTAKE_FILES = ["sigmoid_fixed_point.py", "tanh_no_upstream.py", "mse_squared_sum.py",
                 "update_adds_gradient.py", "softmax_whole_batch.py", "mlp_carries_da.py"]


def test_the_table_lists_the_mistakes_and_every_file_is_in_it():
    assert sorted(_table()) == sorted(MISTAKE_FILES) == \
        sorted(p.name for p in MISTAKES.glob("*.py"))


@pytest.mark.parametrize("file", MISTAKE_FILES)
def test_each_classic_mistake_is_caught_on_the_shipped_cases_as_the_table_says(tmp_path, file):
    _, _, caught_on, says = _table()[file]
    name = file[:-3]
    code, rows, report = run(MISTAKES / file, tmp_path / "out")
    assert code == 1
    caught = {r["case"] for r in failing(rows, name)}
    for case in re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", caught_on)):  # not (notes)
        assert case in caught, f"{file}: nothing fails on {case}"
    phrases = re.findall(r'"([^"]+)"', says)
    assert phrases, f"{file}: the table quotes nothing the harness says"
    for phrase in phrases:
        assert phrase in report, f"{file}: the report does not say {phrase!r}"
    # each mistake is hidden on a case's own point and found at a variant of it, or found on
    # the case itself: either way, every failure names this file as the suspect
    assert {r["suspect"] for r in failing(rows, name)} == {name}


# -- hint rules -----------------------------------------------------------------------------
def _hint(quantity, tensor, reference, value):
    ctx = Context("c", "c.yaml", "float64", "mine", "numpy")
    row = compare_tensor(ctx, 1, quantity, tensor, np.array(reference), np.array(value),
                         DEFAULTS["float64"])
    assert row.status == "fail"
    return row.hint


def test_a_one_element_quantity_gives_both_values_and_the_causes_never_a_ratio():
    hint = _hint("loss", "loss", 0.5, 0.1728)
    assert "the loss is 0.1728 against 0.5: a mean taken as a sum" in hint
    assert "a missing 1/2" in hint and "the wrong target" in hint
    assert "×" not in hint and "ratio" not in hint and "every element" not in hint
    bias = _hint("grad", "layers.0.bias", [0.19661193324148185], [0.25])
    assert "its one element is 0.25 against 0.1966" in bias and "×" not in bias


def test_two_elements_are_too_few_to_claim_a_ratio():
    hint = _hint("grad", "layers.0.weight", [[-0.19661193324148185, -0.3932238664829637]],
                 [[-0.25, -0.5]])
    assert "×" not in hint and "every element" not in hint
    assert "2 nonzero elements: too few to tell a pattern" in hint


def test_several_elements_with_one_ratio_claim_it():
    reference = np.array([[0.2, -0.4, 0.1], [0.3, 0.05, -0.7]])
    hint = _hint("grad", "layers.0.weight", reference, 1.272 * reference)
    assert "every element is 1.272× the reference" in hint
    assert "the opposite sign" in _hint("grad", "layers.0.weight", reference, -reference)
    # three nonzero elements among zeros still count, two do not
    sparse = np.array([0.0, 0.5, 0.0, 0.25, 0.125])
    assert "every element is 2× the reference" in _hint("grad", "g", sparse, 2 * sparse)
    assert "×" not in _hint("grad", "g", sparse[:4], 2 * sparse[:4])


# -- the loss's shape -----------------------------------------------------------------------
@pytest.mark.parametrize("loss, outcome", [
    ("loss", "pass"),
    ("float(loss)", "pass"),
    ("np.reshape(loss, (1,))", "note"),
    ("np.reshape(loss, (1, 1))", "error"),
])
def test_the_loss_is_a_scalar_and_shape_one_is_taken_with_a_note(tmp_path, loss, outcome):
    impl = tmp_path / "shaped.py"
    impl.write_text((EXAMPLES / "mine.py").read_text().replace(
        'return {"output": a, "loss": loss, "grads": grads}',
        f'return {{"output": a, "loss": {loss}, "grads": grads}}'))
    code, rows, report = run(impl, tmp_path / "out", str(NEURON), options=["--variants", "0"])
    mine = [r for r in rows if r["framework"] == "shaped"]
    note = "loss returned as shape (1,): return a scalar"
    if outcome == "error":
        assert code == 1 and [r["status"] for r in mine] == ["error"]
        assert "'loss' must be a scalar (a 0-d array or a Python number), found shape (1, 1)" \
            in mine[0]["message"]
    else:
        assert code == 0 and {r["status"] for r in mine} == {"pass"}
        assert (note in report) == (outcome == "note")


# -- options --------------------------------------------------------------------------------
def test_self_check_of_a_named_framework_and_variants_off(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", str(NEURON), "-f", "numpy,torch", "--self-check", "torch",
                 "--variants", "0", "--out", str(out), "-q"])
    assert code == 0
    with open(out / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    checked = [r for r in rows if r["reference"] == "self"]
    assert {r["framework"] for r in checked} == {"torch"}
    assert {r["status"] for r in checked} == {"pass"} and len(checked) == 2
    assert not (out / "variants").exists()
    capsys.readouterr()
    assert main(["run", str(NEURON), "--self-check", "tensorflow", "--out", str(out)]) == 2
    assert "--self-check tensorflow: unknown framework" in capsys.readouterr().err


def test_variants_are_off_with_zero_and_only_for_impl_runs(tmp_path):
    code, rows, _ = run(EXAMPLES / "mine.py", tmp_path / "a", str(NEURON),
                        options=["--variants", "0"])
    assert code == 0 and {r["case"] for r in rows} == {"sigmoid-neuron"}
    code, rows, report = run(EXAMPLES / "mine.py", tmp_path / "b", str(NEURON),
                             options=["--variants", "4"])
    assert code == 0
    assert {r["case"] for r in rows} == {"sigmoid-neuron"} | {
        f"sigmoid-neuron~variant-{k}" for k in range(1, 5)}
    assert "## Variants" in report and "0.5× and 10×" not in report  # variant 4: params again
    assert main(["run", str(NEURON), "-f", "numpy,torch", "--out", str(tmp_path / "c"),
                 "-q"]) == 0
    assert not (tmp_path / "c" / "variants").exists()
