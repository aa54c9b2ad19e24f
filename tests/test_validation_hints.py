"""The validator's hints for students: a 2-D tensor given transposed is said to be transposed, and
a name or key from another library (learning_rate, epsilon, mean_squared_error) gets the
catalog's name for it, where that name is valid."""
from __future__ import annotations

import subprocess
import sys

import pytest

from harness.adapters import known_parties
from harness.format import catalog
from harness.format.loader import load_case
from harness.format.problems import transposed

from conftest import ROOT

# 3 features → 4 units → 2 units; a batch of 2
CASE = """\
network:
  - {units: 4, activation: tanh}
  - {units: 2, activation: identity}
data:
  x: [[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]
  y: [[0.0, 1.0], [1.0, 0.0]]
loss: mse
optimizer: {name: sgd, lr: 0.1}
"""
WEIGHT_ROWS = "a weight is written (units, fan_in), one row per unit"


def problems_of(tmp_path, text: str, name: str = "case.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    case, problems = load_case(path, known_parties())
    assert case is None and problems, "the case should be refused"
    assert all(p.file == str(path) for p in problems)
    return problems


def at(problems, field: str):
    found = [p for p in problems if p.field == field]
    assert len(found) == 1, [str(p) for p in problems]
    return found[0]


def harness(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


# --- transposed tensors ------------------------------------------------------------------------

def test_a_weight_given_fan_in_by_units_is_said_to_be_transposed(tmp_path):
    text = CASE + "params:\n  layers.0.weight: [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]\n"
    p = at(problems_of(tmp_path, text), "params.layers.0.weight")
    assert p.line == 10
    assert p.message == ("expected shape (4, 3) (units, fan_in), found (3, 4): transposed? "
                         + WEIGHT_ROWS)


def test_a_wrong_shape_that_is_no_reversal_is_not_called_transposed(tmp_path):
    text = CASE + "params:\n  layers.0.weight: [[1, 2], [1, 2], [1, 2], [1, 2]]\n"
    p = at(problems_of(tmp_path, text), "params.layers.0.weight")
    assert p.message == "expected shape (4, 3) (units, fan_in), found (4, 2)"


def test_a_square_matrix_given_for_another_shape_is_not_called_transposed(tmp_path):
    text = CASE + "params:\n  layers.1.weight: [[1, 2], [3, 4]]\n"
    p = at(problems_of(tmp_path, text), "params.layers.1.weight")
    assert p.message == "expected shape (2, 4) (units, fan_in), found (2, 2)"


@pytest.mark.parametrize("expected, found, hint", [
    ((4, 3), (3, 4), True),
    ((1, 5), (5, 1), True),
    ((3, 3), (3, 3), False),   # square: a transposed square matrix has the same shape
    ((4, 3), (4, 2), False),
    ((4, 3), (3, 3), False),
    ((4,), (4,), False),
    ((4, 3), (3, 4, 1), False),
    ((4, 3), (12,), False),
])
def test_transposed_only_for_a_reversed_2d_shape_that_is_not_square(expected, found, hint):
    text = transposed(expected, found, "rows")
    assert text == (": transposed? rows" if hint else "")
    assert transposed(expected, found, None) == ""


def test_a_bias_with_a_column_is_not_called_transposed(tmp_path):
    text = CASE + "params:\n  layers.0.bias: [[1], [2], [3], [4]]\n"
    p = at(problems_of(tmp_path, text), "params.layers.0.bias")
    assert p.message == "expected shape (4,) (units,), found (4, 1)"


def test_targets_given_units_by_batch_are_said_to_be_transposed(tmp_path):
    text = CASE.replace("units: 2, activation: identity", "units: 3, activation: identity") \
        .replace("y: [[0.0, 1.0], [1.0, 0.0]]", "y: [[0, 1], [1, 0], [1, 1]]")
    p = at(problems_of(tmp_path, text), "data.y")
    assert p.line == 6
    assert p.message == ("loss 'mse' expects targets shaped like the output (2, 3), found (3, 2): "
                         "transposed? targets are written (batch, units), one row per sample")


def test_targets_of_a_wrong_shape_that_is_no_reversal_get_no_hint(tmp_path):
    text = CASE.replace("y: [[0.0, 1.0], [1.0, 0.0]]", "y: [[0, 1, 2], [1, 0, 2]]")
    p = at(problems_of(tmp_path, text), "data.y")
    assert p.message == "loss 'mse' expects targets shaped like the output (2, 2), found (2, 3)"


def test_one_hot_targets_given_transposed(tmp_path):
    text = CASE.replace("units: 2, activation: identity", "units: 3, activation: identity") \
        .replace("y: [[0.0, 1.0], [1.0, 0.0]]", "y: [[1, 0], [0, 1], [0, 0]]") \
        .replace("loss: mse", "loss: cross_entropy")
    p = at(problems_of(tmp_path, text), "data.y")
    assert p.message == ("loss 'cross_entropy' expects class indices (2,) or one-hot rows (2, 3), "
                         "found (3, 2): transposed? one-hot targets are written (batch, units), "
                         "one row per sample")


def test_a_column_of_class_indices_keeps_its_own_hint(tmp_path):
    text = CASE.replace("units: 2, activation: identity", "units: 3, activation: identity") \
        .replace("y: [[0.0, 1.0], [1.0, 0.0]]", "y: [[0], [1]]") \
        .replace("loss: mse", "loss: cross_entropy")
    p = at(problems_of(tmp_path, text), "data.y")
    assert "(a column of class indices is never broadcast: give a flat list)" in p.message
    assert "transposed" not in p.message


def test_golden_output_and_gradient_given_transposed(tmp_path):
    text = CASE.replace("units: 2, activation: identity", "units: 3, activation: identity") \
        .replace("y: [[0.0, 1.0], [1.0, 0.0]]", "y: [[0, 1, 0], [1, 0, 0]]") + (
        "expected:\n"
        "  output: [[1, 2], [3, 4], [5, 6]]\n"
        "  grads: {layers.1.weight: [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]],\n"
        "          layers.0.weight: [[1, 2, 3], [1, 2, 3]]}\n")
    problems = problems_of(tmp_path, text)
    assert at(problems, "expected.output").message == (
        "expected shape (2, 3) (batch, units), found (3, 2): transposed? the output is written "
        "(batch, units), one row per sample")
    assert at(problems, "expected.grads.layers.1.weight").message == (
        "expected shape (3, 4) (units, fan_in), found (4, 3): transposed? a gradient is written "
        "like its weight, (units, fan_in), one row per unit")
    assert at(problems, "expected.grads.layers.0.weight").message == \
        "expected shape (4, 3) (units, fan_in), found (2, 3)"


# --- other names for the catalog's names -------------------------------------------------------

@pytest.mark.parametrize("optimizer, field, hint", [
    ("{name: sgd, lr: 0.1, learning_rate: 0.1}", "learning_rate",
     "did you mean 'lr' (the learning rate)?"),
    ("{name: sgd, lr: 0.1, learningRate: 0.1}", "learningRate", "did you mean 'lr'"),
    ("{name: sgd, lr: 0.1, eta: 0.1}", "eta", "did you mean 'lr' (the learning rate)?"),
    ("{name: sgd, lr: 0.1, step_size: 0.1}", "step_size", "did you mean 'lr'"),
    ("{name: adam, lr: 0.1, betas: [0.9, 0.999]}", "betas",
     "did you mean 'beta1' and 'beta2' (two settings here, not one pair: beta1: 0.9, "
     "beta2: 0.999)?"),
    ("{name: adam, lr: 0.1, b2: 0.99}", "b2", "did you mean 'beta2'"),
    ("{name: adam, lr: 0.1, epsilon: 1e-8}", "epsilon", "did you mean 'eps'"),
    ("{name: adam, lr: 0.1, decay: 0.1}", "decay", "did you mean 'weight_decay'"),
    ("{name: sgd, lr: 0.1, wd: 0.1}", "wd", "did you mean 'weight_decay'"),
    ("{name: sgd, lr: 0.1, l2: 0.1}", "l2", "did you mean 'weight_decay'"),
    ("{name: rmsprop, lr: 0.1, decay: 0.9}", "decay", "did you mean 'alpha' (rmsprop's decay"),
    ("{name: sgd, lr: 0.1, mu: 0.9}", "mu", "did you mean 'momentum' (the momentum factor)?"),
    ("{name: sgd, lr: 0.1, momentum: 0.9, nesterov_momentum: true}", "nesterov_momentum",
     "did you mean 'nesterov'"),
])
def test_an_optimizer_setting_from_another_library_gets_the_catalogs_name(tmp_path, optimizer,
                                                                             field, hint):
    text = CASE.replace("optimizer: {name: sgd, lr: 0.1}", f"optimizer: {optimizer}")
    p = at(problems_of(tmp_path, text), f"optimizer.{field}")
    assert p.line == 8
    assert p.message.startswith(f"unknown key {field!r}; valid: name, lr, ")  # the old wording
    assert hint in p.message, p.message


def test_learning_rate_alone_also_says_lr_is_missing(tmp_path):
    text = CASE.replace("{name: sgd, lr: 0.1}", "{name: sgd, learning_rate: 0.1}")
    problems = problems_of(tmp_path, text)
    assert at(problems, "optimizer.learning_rate").message == (
        "unknown key 'learning_rate'; valid: name, lr, momentum, dampening, nesterov, "
        "weight_decay; did you mean 'lr' (the learning rate)?")
    assert at(problems, "optimizer").message == "missing required key 'lr'"


@pytest.mark.parametrize("optimizer, field", [
    ("{name: adam, lr: 0.1, mu: 0.9}", "mu"),           # adam has no momentum
    ("{name: sgd, lr: 0.1, betas: [0.9, 0.999]}", "betas"),  # nor sgd betas
    ("{name: sgd, lr: 0.1, foo: 1}", "foo"),
    ("{name: sgd, lr: 0.1, gamma: 0.5}", "gamma"),
])
def test_an_alias_is_never_suggested_where_its_name_is_invalid(tmp_path, optimizer, field):
    text = CASE.replace("optimizer: {name: sgd, lr: 0.1}", f"optimizer: {optimizer}")
    p = at(problems_of(tmp_path, text), f"optimizer.{field}")
    assert "did you mean" not in p.message, p.message


def test_learning_rate_under_a_layer_gets_no_lr(tmp_path):
    text = CASE.replace("{units: 4, activation: tanh}", "{units: 4, activation: tanh, "
                                                         "learning_rate: 0.1}")
    p = at(problems_of(tmp_path, text), "network[0].learning_rate")
    assert p.message == "unknown key 'learning_rate'; valid: units, activation"


@pytest.mark.parametrize("before, after, field, hint", [
    ("activation: identity}", "activation: linear}", "network[1].activation",
     "'linear'; valid: identity, sigmoid, tanh, relu, leaky_relu, elu, selu, celu, gelu, "
     "softplus, silu, mish, hardtanh, softsign, softmax, log_softmax; did you mean 'identity' "
     "(no activation: z)?"),
    ("activation: identity}", "activation: none}", "network[1].activation",
     "did you mean 'identity' (no activation: z)?"),
    ("activation: tanh}", "activation: logistic}", "network[0].activation",
     "did you mean 'sigmoid'"),
    ("activation: tanh}", "activation: swish}", "network[0].activation", "did you mean 'silu'"),
    ("{units: 4, activation: tanh}", "{units: 4, activation: {name: leaky_relu, "
     "negative_slope: 0.1}}", "network[0].activation.negative_slope", "did you mean 'slope'"),
    ("{units: 4, activation: tanh}", "{neurons: 4, activation: tanh}", "network[0].neurons",
     "did you mean 'units' (the number of units in the layer)?"),
    ("loss: mse", "loss: mean_squared_error", "loss", "did you mean 'mse'"),
    ("loss: mse", "loss: l2", "loss", "did you mean 'mse'"),
    ("loss: mse", "loss: {name: mse, reduction: average}", "loss.reduction",
     "did you mean 'mean'"),
    ("optimizer: {name: sgd, lr: 0.1}", "optimizer: {name: gradient_descent, lr: 0.1}",
     "optimizer.name", "did you mean 'sgd'"),
    ("optimizer: {name: sgd, lr: 0.1}", "optimizer: {type: sgd, lr: 0.1}", "optimizer.type",
     "did you mean 'name'"),
    ("network:", "dtype: fp32\nnetwork:", "dtype", "did you mean 'float32'"),
    ("network:", "init: {scheme: glorot_uniform, seed: 0}\nnetwork:", "init.scheme",
     "did you mean 'xavier_uniform'"),
    ("network:", "init: {name: he_normal, seed: 0}\nnetwork:", "init.name",
     "did you mean 'scheme'"),
    ("network:", "layers:", "layers", "did you mean 'network' (the list of layers)?"),
])
def test_names_from_other_libraries_in_every_place(tmp_path, before, after, field, hint):
    assert before in CASE
    p = at(problems_of(tmp_path, CASE.replace(before, after, 1)), field)
    assert hint in p.message, p.message


@pytest.mark.parametrize("loss", ["ce", "crossentropy", "softmax_cross_entropy",
                                  "sparse_categorical_crossentropy"])
def test_cross_entropy_aliases(tmp_path, loss):
    p = at(problems_of(tmp_path, CASE.replace("loss: mse", f"loss: {loss}")), "loss")
    assert "did you mean 'cross_entropy'" in p.message


def test_a_null_activation_means_identity_but_a_missing_name_suggests_nothing(tmp_path):
    text = CASE.replace("activation: identity}", "activation: null}")
    assert at(problems_of(tmp_path, text), "network[1].activation").message == \
        "expected activation name, found nothing (null); did you mean 'identity' (no activation: z)?"
    text = CASE.replace("loss: mse", "loss: {reduction: sum}")
    assert at(problems_of(tmp_path, text, "b.yaml"), "loss.name").message == \
        "expected loss name, found nothing (null)"


def test_an_unrelated_unknown_name_gets_no_alias(tmp_path):
    p = at(problems_of(tmp_path, CASE.replace("loss: mse", "loss: hinge")), "loss")
    assert "did you mean" not in p.message
    p = at(problems_of(tmp_path, CASE.replace("loss: mse", "loss: sigmoid"), "b.yaml"), "loss")
    assert "did you mean" not in p.message  # an activation's alias is no loss


# --- the table itself --------------------------------------------------------------------------

NAMES = {"activation": catalog.ACTIVATIONS, "loss": catalog.LOSSES,
         "optimizer": catalog.OPTIMIZERS, "init scheme": catalog.INIT_SCHEMES,
         "random data kind": catalog.RANDOM_DATA, "dtype": catalog.DTYPES,
         "reduction": catalog.REDUCTIONS}


def test_every_alias_stands_for_names_that_exist_in_its_place():
    assert set(catalog.ALIASES) <= {"key", *NAMES}
    for place, rows in catalog.ALIASES.items():
        for spellings, found in rows:
            if place in NAMES:
                assert set(found.names) <= set(NAMES[place]), (place, spellings)
                # an alias is not a spelling of a valid name (that is no alias)
                assert not {catalog.folded(s) for s in spellings} & \
                    {catalog.folded(n) for n in NAMES[place]}, (place, spellings)
            assert all(o in catalog.OPTIMIZERS or o in catalog.ACTIVATIONS or o in catalog.LOSSES
                       for o in found.only)


def test_validate_says_file_line_field_and_exits_2(tmp_path):
    (tmp_path / "a.yaml").write_text(
        CASE.replace("{name: sgd, lr: 0.1}", "{name: sgd, lr: 0.1, learning_rate: 0.1}") +
        "params:\n  layers.0.weight: [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]\n")
    result = harness("validate", str(tmp_path / "a.yaml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    file = tmp_path / "a.yaml"
    assert (f"{file}:8: optimizer.learning_rate: unknown key 'learning_rate'; valid: name, lr, "
            "momentum, dampening, nesterov, weight_decay; did you mean 'lr' (the learning rate)?"
            ) in result.stderr
    assert (f"{file}:10: params.layers.0.weight: expected shape (4, 3) (units, fan_in), found "
            f"(3, 4): transposed? {WEIGHT_ROWS}") in result.stderr
