"""Malformed cases: every problem found at once, each with file, line, field and what was expected."""
from __future__ import annotations

import numpy as np
import pytest

from harness.adapters import known_parties
from harness.format.parties import Parties
from harness.verdicts.judge import tolerance_of
from harness.format.errors import CaseError
from harness.format.loader import load_cases

from conftest import GOOD_CASE

GOOD = GOOD_CASE


def only(problems):
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_good_case_loads(load):
    case, problems = load(GOOD)
    assert problems == []
    assert case.name == "good" and case.dtypes == ("float64",)
    assert case.initial_params["layers.0.weight"].shape == (3, 2)
    assert case.initial_params["layers.1.weight"].shape == (2, 3)
    assert case.y.dtype == np.int64


def test_misspelt_key_names_line_and_suggests(load):
    case, problems = load(GOOD.replace("network:", "netwrok:"))
    assert case is None
    messages = [str(p) for p in problems]
    misspelt = [p for p in problems if p.field == "netwrok"]
    assert misspelt and misspelt[0].line == 2
    assert "did you mean 'network'" in misspelt[0].message
    assert any("missing required key 'network'" in m for m in messages)


def test_unknown_activation_lists_valid_names(load):
    _, problems = load(GOOD.replace("activation: tanh", "activation: sigmod"))
    problem = only(problems)
    assert problem.field == "network[0].activation" and problem.line == 3
    assert "unknown activation 'sigmod'" in problem.message
    assert "identity, sigmoid, tanh, relu, leaky_relu, elu" in problem.message
    assert "did you mean 'sigmoid'" in problem.message


def test_wrong_type(load):
    _, problems = load(GOOD.replace("units: 3", "units: three"))
    problem = only(problems)
    assert problem.field == "network[0].units"
    assert "expected an integer, found a string ('three')" in problem.message


def test_zero_units_and_negative_lr(load):
    _, problems = load(GOOD.replace("units: 3", "units: 0").replace("lr: 0.1", "lr: -1"))
    fields = {p.field: p.message for p in problems}
    assert "expected an integer ≥ 1, found 0" in fields["network[0].units"]
    assert "expected a number ≥ 0" in fields["optimizer.lr"]


def test_explicit_param_shape_must_fit_network(load):
    text = GOOD + "params:\n  layers.0.weight: [[1.0, 2.0, 3.0]]\n"
    problem = only(load(text)[1])
    assert problem.field == "params.layers.0.weight" and problem.line == 11
    assert "expected shape (3, 2) (units, fan_in), found (1, 3)" in problem.message


def test_targets_must_fit_the_loss(load):
    problem = only(load(GOOD.replace("y: [0, 1]", "y: [[0], [1]]"))[1])
    assert problem.field == "data.y"
    assert "class indices (2,) or one-hot rows (2, 2), found (2, 1)" in problem.message
    assert "never broadcast" in problem.message
    problem = only(load(GOOD.replace("y: [0, 1]", "y: [0, 2]"))[1])
    assert "class indices must be integers in [0, 2)" in problem.message
    problem = only(load(GOOD.replace("y: [0, 1]", "y: [0, 1, 1]"))[1])
    assert "found (3,)" in problem.message


def test_missing_targets_and_batch_mismatch(load):
    problem = only(load(GOOD.replace("  y: [0, 1]\n", ""))[1])
    assert "loss 'cross_entropy' needs targets: missing key 'y'" in problem.message
    mse = GOOD.replace("loss: cross_entropy", "loss: mse").replace("y: [0, 1]", "y: [[1.0, 2.0]]")
    problem = only(load(mse)[1])
    assert "targets shaped like the output (2, 2), found (1, 2)" in problem.message


def test_yaml_syntax_error_has_line(load):
    problem = only(load(GOOD.replace("loss: cross_entropy", "loss: [cross_entropy"))[1])
    assert problem.line is not None and problem.line >= 8
    assert problem.message.startswith("YAML syntax error")


def test_duplicate_key_names_both_lines(load):
    problem = only(load(GOOD + "loss: mse\n")[1])
    assert problem.field == "loss" and problem.line == 10
    assert "duplicate key 'loss' (first given on line 8)" in problem.message


def test_object_building_tag_is_rejected_not_run(load, tmp_path):
    marker = tmp_path / "pwned"
    text = GOOD + f'description: !!python/object/apply:os.system ["touch {marker}"]\n'
    problem = only(load(text)[1])
    assert "tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in problem.message
    assert not marker.exists()


def test_number_without_dot_is_a_number(load):
    case, problems = load(GOOD + "tolerance: {atol: 1e-6, rtol: 2E-7}\n")
    assert problems == []
    assert tolerance_of(case, "float64").atol == 1e-6
    assert tolerance_of(case, "float64").rtol == 2e-7


def test_every_problem_reported_at_once(load):
    text = (GOOD.replace("tanh", "tahn").replace("lr: 0.1", "lr: fast")
            .replace("loss: cross_entropy", "loss: crossentropy"))
    _, problems = load(text)
    fields = sorted(p.field for p in problems)
    assert fields == ["loss", "network[0].activation", "optimizer.lr"]


def test_alias_bomb_is_bounded(load):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}, "
                     f"*a{i-1}, *a{i-1}, *a{i-1}, *a{i-1}]")
    problem = only(load("\n".join(lines) + "\n")[1])
    assert "expands to more than" in problem.message


def test_not_utf8_and_empty(write_case, tmp_path):
    from harness.format.loader import load_case

    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert "not UTF-8" in only(load_case(bad, known_parties())[1]).message
    empty = write_case("", "empty.yaml")
    assert "found an empty file" in only(load_case(empty, known_parties())[1]).message


def test_data_file_must_stay_in_case_folder(load, tmp_path):
    (tmp_path.parent / "outside.csv").write_text("1,2\n3,4\n")
    text = GOOD.replace("x: [[1.0, 2.0], [3.0, 4.0]]", "x: {file: ../outside.csv}")
    problem = only(load(text)[1])
    assert problem.field == "data.x.file" and "case's folder" in problem.message
    problem = only(load(GOOD.replace("x: [[1.0, 2.0], [3.0, 4.0]]", "x: {file: nope.csv}"))[1])
    assert "data file not found" in problem.message


def test_data_from_csv_and_npy(load, tmp_path):
    (tmp_path / "table.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    np.save(tmp_path / "x.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    text = GOOD.replace("x: [[1.0, 2.0], [3.0, 4.0]]", "x: {file: x.npy}") \
               .replace("y: [0, 1]", "y: {file: table.csv, column: 2}")
    case, problems = load(text)
    assert problems == []
    assert case.x.tolist() == [[1.0, 2.0], [3.0, 4.0]] and case.y.tolist() == [0, 1]


def test_random_data_is_seeded(load):
    text = GOOD.replace("x: [[1.0, 2.0], [3.0, 4.0]]", "x: {random: normal, shape: [2, 2], seed: 4}")
    first, second = load(text)[0], load(text, "again.yaml")[0]
    assert np.array_equal(first.x, second.x)
    assert np.array_equal(first.x, np.random.default_rng(4).normal(0, 1, (2, 2)))


def test_one_explicit_tensor_moves_no_other(load):
    base = load(GOOD)[0]
    given = load(GOOD + "params:\n  layers.0.bias: [1.0, 2.0, 3.0]\n", "b.yaml")[0]
    assert given.initial_params["layers.0.bias"].tolist() == [1.0, 2.0, 3.0]
    for name in ("layers.0.weight", "layers.1.weight", "layers.1.bias"):
        assert np.array_equal(base.initial_params[name], given.initial_params[name])
    rng = np.random.default_rng([0, 0, 0])  # the documented stream of layer 0's weight
    bound = np.sqrt(6 / (2 + 3))
    assert np.array_equal(base.initial_params["layers.0.weight"], rng.uniform(-bound, bound, (3, 2)))


def test_softmax_before_cross_entropy_warns(load):
    case, problems = load(GOOD.replace("activation: identity", "activation: softmax"))
    assert problems == [] and any("almost always a mistake" in w for w in case.warnings)


def test_duplicate_case_names_across_files(write_case, tmp_path):
    first = write_case(GOOD, "a.yaml")
    second = write_case(GOOD, "b.yaml")
    with pytest.raises(CaseError) as caught:
        load_cases([tmp_path], known_parties())
    message = str(caught.value)
    assert str(first) in message and str(second) in message and "unique" in message


def test_shipped_cases_are_valid():
    from conftest import CASES

    cases = load_cases([CASES], known_parties())
    assert len(cases) >= 12


def test_a_framework_that_is_not_installed_is_a_warning_a_typo_an_error(write_case):
    """A shared case may name a plug-in this machine lacks; it must still load."""
    from harness.format.loader import load_case

    text = GOOD + ("known_discrepancies:\n  - {framework: autograd, quantity: grad, reason: r}\n"
                   "tolerance: {frameworks: {autograd: {rtol: 1.0e-6}}}\n")
    without_plugin = ["numpy", "torch", "jax", "micrograd"]
    case, problems = load_case(write_case(text), without_plugin)
    assert problems == [] and case.known_discrepancies[0].framework == "autograd"
    assert any("framework 'autograd' is not installed here" in w for w in case.warnings)
    _, problems = load_case(write_case(text.replace("autograd", "jaxx"), "typo.yaml"),
                            without_plugin)
    assert problems and all("did you mean 'jax'" in p.message for p in problems)


def test_shipped_cases_load_without_the_plugin_installed():
    from conftest import CASES

    builtin = ("numpy", "torch", "jax", "micrograd", "fd", "jax-fwd", "torch-fwd")
    parties = known_parties()
    cases = load_cases([CASES], Parties(builtin, parties.devices, parties.modes))
    assert len(cases) >= 40
