"""What a new user's pass over the learner's verdict found, each kept from coming back."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from harness.adapters import FRAMEWORKS, get_adapter
from harness.cli import main
from harness.verdicts.compare import Context, compare_tensor
from harness.verdicts.layers import locate
from harness.verdicts.patterns import pattern
from harness.verdicts.tolerance import DEFAULTS

from conftest import ROOT

pytestmark = pytest.mark.usefixtures("forget_registered_impls")
THREE = ROOT / "examples" / "backprop" / "cases" / "three-layer-tanh-mse.yaml"
REFERENCE = np.array([[0.5, 0.25, -0.3], [0.7, -0.1, 0.2]])


def test_a_rounding_size_difference_is_not_called_a_constant_ratio():
    said = pattern(REFERENCE, REFERENCE * (1 + 4e-9), 6, None, "output", None, "float64")
    assert "relative difference is 4.0e-09" in said and "lower precision than float64" in said
    assert "missing or extra factor" not in said
    # a float64 case that differs by 4e-4 is no rounding: a factor just off 1, printed as such
    said = pattern(REFERENCE, REFERENCE * (1 + 4e-4), 6, None, "output", None, "float64")
    assert "1.0004× the reference" in said and "1×" not in said
    # a low-precision format's own rounding is that size: nothing is claimed about precision
    assert "lower precision" not in pattern(REFERENCE, REFERENCE * (1 + 4e-4), 6, None,
                                            "output", None, "bfloat16")


def test_one_number_off_by_rounding_gets_no_loss_formula_causes():
    ctx = Context("c", "c.yaml", "float64", "mine", "numpy")
    row = compare_tensor(ctx, 1, "loss", "loss", np.array(0.1032013307),
                         np.array(0.1032013311), DEFAULTS["float64"])
    assert row.status == "fail" and "the size of rounding" in row.hint
    assert "a mean taken as a sum" not in row.hint


def _row(layer, kind, status):
    from harness.verdicts.compare import Row
    return Row("c", "c.yaml", "float64", "mine", "numpy", 1, "grad", f"layers.{layer}.{kind}",
               status)


def test_a_split_layer_gets_no_advice_its_agreeing_tensor_rules_out():
    rows = [_row(2, "weight", "pass"), _row(2, "bias", "fail"),
            _row(1, "weight", "pass"), _row(1, "bias", "pass")]
    said = locate(rows, 1)
    assert said.startswith("In layers.2 the weight agrees but the bias does not")
    assert "derivative" not in said.split("bias does not")[0] and "carried" not in said


def test_an_impl_whose_supports_raises_is_an_error_at_its_line(tmp_path, capsys):
    impl = tmp_path / "raises_in_supports.py"
    impl.write_text("def supports(case):\n    return case.loss.name\n\n"
                    "def forward_backward(params, x, y):\n    return {}\n", encoding="utf-8")
    for isolation in ("process", "none"):
        code = main(["run", str(THREE), "-f", "numpy,torch", "--impl", str(impl), "--variants",
                     "0", "--isolation", isolation, "--out", str(tmp_path / isolation), "-q"])
        out = capsys.readouterr().out
        assert code == 1, out
        assert "supports raised AttributeError" in out and "at line 2 (return case.loss.name)" \
            in out


def test_a_transposed_gradient_says_transposed(tmp_path, capsys):
    impl = tmp_path / "transposed.py"
    impl.write_text(
        "import numpy as np\n"
        "def forward_backward(params, x, y):\n"
        "    grads = {k: (v.T.copy() if k.endswith('weight') else v * 0) for k, v in "
        "params.items()}\n"
        "    out = np.zeros((x.shape[0], 2))\n"
        "    return {'output': out, 'loss': 0.0, 'grads': grads}\n", encoding="utf-8")
    main(["run", str(THREE), "-f", "numpy", "--impl", str(impl), "--variants", "0",
          "--out", str(tmp_path / "out"), "-q"])
    out = capsys.readouterr().out
    assert "has shape (2, 4), expected (4, 2) like params['layers.0.weight']: transposed?" in out


def test_a_failing_run_piped_to_a_reader_that_leaves_still_exits_1(tmp_path):
    """`true` leaves at once, long before the run prints: every write meets a closed pipe."""
    impl = ROOT / "examples" / "backprop" / "mistakes" / "mlp_carries_da.py"
    script = (f"{sys.executable} -m harness run {THREE} -f numpy,torch --impl {impl} "
              f"--variants 0 --out {tmp_path / 'out'} 2>/dev/null | true; "
              "exit ${PIPESTATUS[0]}")
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, timeout=600)
    assert done.returncode == 1


def test_validate_lists_a_file_s_problems_in_the_order_of_its_lines(tmp_path, capsys):
    case = tmp_path / "two-problems.yaml"
    case.write_text("name: two-problems\n"
                    "dtype: float64\n"
                    "network:\n"
                    "  - {units: 2, activation: sigmoud}\n"
                    "data:\n"
                    "  x: {random: normal, shape: [3, 2], seed: 1}\n"
                    "  y: {random: normal, shape: [3, 2], seed: 2}\n"
                    "loss: mse\n"
                    "optimizer: {name: sgd, learning_rate: 0.1}\n"
                    "steps: 1\n"
                    "init: {scheme: normal, seed: 0}\n"
                    "bogus: 1\n", encoding="utf-8")
    assert main(["validate", str(case)]) == 2
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith(str(case) + ":")]
    numbers = [int(l[len(str(case)) + 1:].split(":")[0]) for l in lines]
    assert len(numbers) >= 3 and numbers == sorted(numbers), lines
    assert any("did you mean 'lr'" in l for l in lines)


def test_diff_and_merge_piped_to_a_reader_that_leaves_keep_their_exit_codes(tmp_path):
    """`diff` exits 1 when a verdict changed, `merge` 1 for a failing merged report: a reader
    that leaves before they print changes neither."""
    examples = ROOT / "examples" / "backprop"
    for folder, source, code in (("clean", examples / "mlp.py", 0),
                                 ("failing", examples / "mistakes" / "mlp_carries_da.py", 1)):
        impl = tmp_path / folder / "mine.py"  # one party, "mine", in both reports
        impl.parent.mkdir()
        impl.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        assert main(["run", str(THREE), "-f", "numpy,torch", "--impl", str(impl), "--variants",
                     "0", "-q", "--out", str(tmp_path / folder / "report")]) == code
        FRAMEWORKS.extra.pop("mine", None)  # the next file of that name is another party
        get_adapter.cache_clear()
    clean, failing = tmp_path / "clean" / "report", tmp_path / "failing" / "report"
    for command in (f"diff {clean} {failing} --out {tmp_path}",
                    f"merge {failing} --out {tmp_path / 'merged'}"):
        done = subprocess.run(["bash", "-c", f"{sys.executable} -m harness {command} "
                               "2>/dev/null | true; exit ${PIPESTATUS[0]}"], cwd=ROOT,
                              timeout=600)
        assert done.returncode == 1, command
