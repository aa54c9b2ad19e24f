"""The learner's verdict where the learner looks: the terminal, the layer, the numbers.

Mistakes planted in a copy of examples/backprop/mlp.py, at each layer of a three-layer network,
must be located at that layer; a sum taken for a mean must be explained by the case's own batch
and outputs; the terminal and a failing pytest item lead with the verdict.
"""
from __future__ import annotations

import re

import pytest

from harness.cli import main
from harness.reports.findings import Finding, block, findings, headline
from harness.verdicts.compare import Row
from harness.verdicts.layers import locate
from harness.verdicts.numbers import against_allowance, distinct, share
from harness.verdicts.ratios import CaseSizes, explain_ratio

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "backprop"
MLP = EXAMPLES / "mlp.py"
THREE = EXAMPLES / "cases" / "three-layer-tanh-mse.yaml"

pytestmark = pytest.mark.usefixtures("forget_registered_impls")

DZ = "        dz = upstream * derivative(layers[k].activation, z)  # dL/dz_k\n"
WEIGHT = "        grads[f\"layers.{k}.weight\"] = dz.T @ a_in  # each weight sees its input\n"
BIAS = "        grads[f\"layers.{k}.bias\"] = dz.sum(axis=0)  # each bias sees 1, summed over the batch\n"
CARRY = "        upstream = dz @ params[f\"layers.{k}.weight\"]  # dL/da_(k-1), for the layer below\n"
# each plant: the line it replaces, and the line with the mistake at layer K
PLANTS = {
    # the derivative taken at the activation's output instead of at z
    "derivative": (DZ, "        dz = upstream * derivative(layers[k].activation, "
                       "z if k != K else np.tanh(z))\n"),
    # dL/da carried down instead of dL/dz: the activation's derivative left out of the carry
    "carry": (CARRY, "        upstream = (dz if k != K + 1 else upstream) @ "
                     "params[f\"layers.{k}.weight\"]\n"),
    # the weight's gradient takes the layer below's pre-activation instead of its output
    "weight": (WEIGHT, "        grads[f\"layers.{k}.weight\"] = dz.T @ "
                       "(a_in if k != K else kept[k - 1][1])\n"),
    # the bias's gradient averaged over the batch instead of summed
    "bias": (BIAS, "        grads[f\"layers.{k}.bias\"] = "
                   "dz.sum(axis=0) if k != K else dz.mean(axis=0)\n"),
}


def planted(tmp_path, kind: str, layer: int):
    old, new = PLANTS[kind]
    source = MLP.read_text(encoding="utf-8")
    assert source.count(old) == 1, f"the line the {kind} plant replaces moved in mlp.py"
    path = tmp_path / f"mlp_{kind}_{layer}.py"
    path.write_text(source.replace(old, new).replace("import numpy as np\n",
                                                     f"import numpy as np\nK = {layer}\n", 1),
                    encoding="utf-8")
    return path


def run(impl, out, *options, paths=(THREE,)):
    return main(["run", *map(str, paths), "--impl", str(impl), "-f", "numpy,torch",
                 "--variants", "0", "--out", str(out), *options])


def terminal_block(text: str, party: str, dtype: str = "float64") -> str:
    """The terminal's lines about one (case, dtype, party), from its headline on."""
    start = text.index(f"[{dtype}-{party}] against")
    following = re.search(r"\n  (FAIL|ERROR) ", text[start:])
    return text[start:start + following.start()] if following else text[start:]


EXPECTED_LOCATION = {
    ("derivative", 2): "layers.2, the last layer, already differs",
    ("derivative", 1): "layers.2 agrees, layers.1 does not",
    ("derivative", 0): "layers.2 and layers.1 agree, layers.0 does not",
    ("carry", 1): "layers.2 agrees, layers.1 does not",
    ("carry", 0): "layers.2 and layers.1 agree, layers.0 does not",
    ("weight", 2): "In layers.2 the bias agrees but the weight does not",
    ("weight", 1): "layers.2 agrees; in layers.1 the bias agrees but the weight does not",
    ("bias", 2): "In layers.2 the weight agrees but the bias does not",
    ("bias", 1): "layers.2 agrees; in layers.1 the weight agrees but the bias does not",
    ("bias", 0): "layers.2 and layers.1 agree; in layers.0 the weight agrees but the bias does "
                 "not",
}


def test_the_clean_multilayer_example_passes_every_shipped_case_it_supports(tmp_path, capsys):
    paths = (ROOT / "cases" / "golden", ROOT / "cases" / "networks", EXAMPLES / "cases")
    assert run(MLP, tmp_path / "out", paths=paths) == 0
    assert "0 fail" in capsys.readouterr().out


@pytest.mark.parametrize("kind,layer", sorted(EXPECTED_LOCATION))
def test_a_planted_backward_mistake_is_located_at_its_layer(tmp_path, capsys, kind, layer):
    impl = planted(tmp_path, kind, layer)
    assert run(impl, tmp_path / "out") == 1
    out = capsys.readouterr().out
    told = terminal_block(out, impl.stem)
    assert EXPECTED_LOCATION[kind, layer] in told, told
    assert "the mistake is in the backward pass" in told
    # the layers above the planted one are named as agreeing, never as the place
    for other in range(layer + 1, 3):
        assert f"layers.{other} does not" not in told
    if kind in ("weight", "bias"):  # the gradient reaching the layer is right: no other lead
        assert "derivative of the loss" not in told and "is carried" not in told
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert EXPECTED_LOCATION[kind, layer] in report


def test_a_weight_only_mistake_says_where_to_look(tmp_path, capsys):
    impl = planted(tmp_path, "weight", 1)
    run(impl, tmp_path / "out")
    told = terminal_block(capsys.readouterr().out, impl.stem)
    assert "dL/dz1ᵀ · layer 0's output a0" in told
    assert "below it" not in told  # the layers below stay right: no remark about them


def test_a_sum_taken_for_the_mean_is_explained_by_batch_and_outputs(tmp_path, capsys):
    source = MLP.read_text(encoding="utf-8")
    wrong = source.replace("        loss = np.mean(diff ** 2)\n", "        loss = np.sum(diff ** 2)\n") \
        .replace("        upstream = 2 * diff / diff.size", "        upstream = 2 * diff")
    assert wrong != source
    impl = tmp_path / "sum_for_mean.py"
    impl.write_text(wrong, encoding="utf-8")
    assert run(impl, tmp_path / "out") == 1
    told = terminal_block(capsys.readouterr().out, "sum_for_mean")
    # batch 5 × 2 outputs = 10: the loss and every gradient are 10× the reference
    assert "10 = batch 5 × 2 outputs: a mean over all 10 elements (batch × outputs) taken as a " \
           "sum" in told, told
    assert "the mistake is in the loss" in told


def test_the_terminal_leads_with_the_verdict_and_quiet_keeps_one_line(tmp_path, capsys):
    impl = planted(tmp_path, "derivative", 0)
    run(impl, tmp_path / "out")
    out = capsys.readouterr().out
    told = terminal_block(out, impl.stem)
    lines = told.splitlines()
    assert lines[0].endswith("against numpy: suspect mlp_derivative_0; first wrong at step 1, "
                             "grad layers.0.weight")
    order = [told.index(s) for s in ("agree with each other", "First wrong at step 1",
                                     "layers.0 does not", "worst tensors, first wrong step first",
                                     "step 1 grad layers.0.weight:")]
    assert order == sorted(order)
    steps = [int(m) for m in re.findall(r"^\s+step (\d+) ", told, re.MULTILINE)]
    assert steps == sorted(steps) and steps[0] == 1
    assert "e+" not in told.split("worst tensors")[1]  # "far outside", never 3.5e+12 shares
    run(impl, tmp_path / "quiet", "-q")
    quiet = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("  FAIL ")]
    assert len(quiet) == 2  # (case, float64, party) and (case, float32, party): one line each
    assert all("first wrong at step 1, grad layers.0.weight" in line for line in quiet)


# -- the parts, on hand-made rows and numbers ---------------------------------------------------
def _row(step, quantity, tensor, status, **fields):
    return Row("c", "c.yaml", "float64", "mine", "numpy", step, quantity, tensor, status,
               suspect="mine" if status == "fail" else "", **fields)


def test_locate_names_the_first_layer_from_the_top_that_differs():
    rows = [_row(1, "grad", f"layers.{k}.{kind}", "fail" if k <= 1 else "pass")
            for k in range(4) for kind in ("weight", "bias")]
    assert locate(rows, 1).startswith("layers.3 and layers.2 agree, layers.1 does not")
    assert locate([r for r in rows if r.status == "pass"], 1) == ""
    one = [_row(1, "grad", "layers.0.weight", "fail"), _row(1, "grad", "layers.0.bias", "fail")]
    assert locate(one, 1) == ""  # one layer, all wrong: nothing to locate


def test_numbers_that_differ_look_different():
    assert distinct(0.2508881, 0.2508884) == ("0.2508881", "0.2508884")
    assert distinct(0.8968786007, 0.177077786) == ("0.8969", "0.1771")
    assert distinct(1.0, 1.0 + 2 ** -52)[0] != distinct(1.0, 1.0 + 2 ** -52)[1]
    assert share(3.5e12) == "far outside" and share(999.0) == "999" and share(0.5) == "0.5"
    assert share(999.7) == "1000" and share(123.4) == "123" and "e+" not in share(250.0)
    assert against_allowance(0.72, 1.8e-11) == \
        "far outside the tolerance: |diff| 0.72, allowed 1.8e-11"
    assert "(2.5× the tolerance)" in against_allowance(0.025, 0.01)


@pytest.mark.parametrize("ratio,sizes,reading", [
    (10, CaseSizes(5, 2), "10 = batch 5 × 2 outputs: a mean over all 10 elements"),
    (0.1, CaseSizes(5, 2), "divided by all 10 elements (batch × outputs) once too often"),
    (4, CaseSizes(4, 3), "4 = batch 4: a mean over the batch taken as a sum"),
    (3, CaseSizes(4, 3), "3 = 3 outputs: a mean over each sample's outputs taken as a sum"),
    (2, CaseSizes(4, 3), "2 = 2: a 2 too many"),
    (0.5, CaseSizes(4, 3), "0.5 = 1 / 2: a 2 dropped"),
    (-12, CaseSizes(4, 3), "the opposite sign, and 12 = batch 4 × 3 outputs"),
])
def test_a_ratio_is_read_in_the_case_s_own_numbers(ratio, sizes, reading):
    assert explain_ratio(ratio, sizes).startswith(reading) or reading in explain_ratio(ratio,
                                                                                       sizes)


def test_a_ratio_the_case_s_numbers_do_not_make_is_not_explained():
    assert explain_ratio(7.3, CaseSizes(5, 2, 0.1)) == ""
    assert explain_ratio(1.00001, CaseSizes(5, 2)) == ""
    assert explain_ratio(10, None) == ""
    # the learning rate is a reading of an update's ratio only
    assert "learning rate" in explain_ratio(1 / 0.3, CaseSizes(5, 2, 0.3), update=True)
    assert explain_ratio(1 / 0.3, CaseSizes(5, 2, 0.3)) == ""


def test_findings_group_by_case_dtype_and_party_and_tell_errors():
    rows = [_row(1, "grad", "layers.0.weight", "fail", tol_used=5e9, message="m",
                 mismatched=2, size=2),
            _row(None, "", "", "error", message="it raised"),
            Row("c", "c.yaml", "float64", "torch", "numpy", 1, "loss", "loss", "pass")]
    found = findings(rows)
    assert [f.framework for f in found] == ["mine"]
    assert isinstance(found[0], Finding)
    assert headline(found[0]).startswith("FAIL c [float64-mine] against numpy: suspect mine")
    assert any("ERROR whole run: it raised" in line for line in block(found[0]))


# -- report.md: the comparisons that could not be decided -------------------------------------
def test_report_lists_inconclusive_comparisons_grouped_by_reason(tmp_path):
    from harness.reports.discrepancies import inconclusive_section

    edge = ROOT / "cases" / "edge"
    code = main(["run", str(edge / "bce-saturated.yaml"), str(edge / "l1-at-zero.yaml"),
                 "-f", "numpy,torch,fd", "--out", str(tmp_path / "out"), "-q"])
    assert code == 0
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    section = report[report.index("## Inconclusive"):]
    section = section[:section.index("\n## ", 4)]
    reasons = re.findall(r"^### (.+) \((\d+)\)$", section, re.MULTILINE)
    counts = [int(n) for _, n in reasons]
    assert counts == sorted(counts, reverse=True)  # the commonest reason first
    named = {reason for reason, _ in reasons}
    assert "the reference is NaN or infinite there, so there is nothing to compare against" in named
    assert any("kink lies within a finite-difference step" in reason for reason in named)
    # every inconclusive row of report.csv is counted under exactly one reason
    import csv
    with open(tmp_path / "out" / "report.csv", newline="") as handle:
        undecided = [r for r in csv.DictReader(handle) if r["status"] == "inconclusive"]
    assert sum(int(n) for _, n in reasons) == len(undecided) > 0
    assert f"{len(undecided)} comparisons could not be decided" in section
    assert "bce-saturated [float64-torch] against numpy" in section
    assert inconclusive_section([]) == []


def test_the_figures_of_the_rules_in_docs_are_the_code_s():
    from harness.verdicts import numbers, ratios

    text = " ".join((ROOT / "docs" / "verdicts.md").read_text(encoding="utf-8").split())
    assert f"above {numbers.FAR_OUTSIDE:,.0f} says \"far outside\"" in text
    assert f"(at least {numbers.LEAST_DIGITS})" in text
    assert "must match within 0.1 %" in text and ratios.RATIO_RTOL == 1e-3
    assert "a hundred roundings of its format (at least 1e-6)" in text
    from harness.reports.discrepancies import INCONCLUSIVE_LINES

    report = " ".join((ROOT / "docs" / "report.md").read_text(encoding="utf-8").split())
    assert f"(at most {INCONCLUSIVE_LINES} lines per reason" in report
