"""Unit tests of harness.format.sources: data as inline values, {random: …} draws (seeded and
reproducible) and {file: …} tables, and targets checked against the loss that takes them."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from harness.format.case import Layer
from harness.format.sources import DataSources
from harness.format.yamlsafe import load_yaml

NAMES = ["numpy", "torch", "jax", "micrograd"]
TWO = (Layer(2, "identity"),)  # a last layer of 2 units: 2 classes


def reader(text: str, folder=None) -> DataSources:
    file = str((folder / "case.yaml") if folder else "case.yaml")
    doc, problems = load_yaml(textwrap.dedent(text), file)
    assert doc is not None and problems == []
    return DataSources(doc, NAMES)


def data(text: str, layers=TWO, loss: str | None = "mse", folder=None):
    r = reader(text, folder)
    x, y = r.data(r.doc.value["data"], layers, loss)
    return x, y, r


def fields(r: DataSources) -> list[tuple[int | None, str, str]]:
    return [(p.line, p.field, p.message) for p in r.problems]


# -- random -------------------------------------------------------------------------------------

def test_random_normal_is_seeded_and_reproducible():
    text = "data:\n  x: {random: normal, shape: [3, 2], seed: 42}\n  y: [[0, 0], [0, 0], [0, 0]]\n"
    x1, _, r = data(text)
    x2, _, _ = data(text)
    assert r.problems == []
    assert x1.shape == (3, 2) and x1.dtype == np.float64
    np.testing.assert_array_equal(x1, x2)
    # NumPy's generator seeded with the case's seed, standard normal by default
    np.testing.assert_array_equal(x1, np.random.default_rng(42).normal(0.0, 1.0, (3, 2)))
    x3, _, _ = data(text.replace("seed: 42", "seed: 43"))
    assert not np.array_equal(x1, x3)


def test_random_settings():
    x, _, r = data("data:\n  x: {random: uniform, shape: [200, 1], seed: 0, low: -3, high: -2}\n",
                   loss=None)
    assert r.problems == []
    assert x.min() >= -3 and x.max() < -2
    x, _, _ = data("data:\n  x: {random: normal, shape: [400, 1], seed: 0, mean: 5, std: 0.1}\n",
                   loss=None)
    assert abs(x.mean() - 5) < 0.05


def test_random_class_targets_onehot_and_simplex():
    x = "x: {random: normal, shape: [6, 3], seed: 1}"
    _, y, r = data(f"data:\n  {x}\n  y: {{random: classes, shape: [6], seed: 2}}\n",
                   loss="cross_entropy")
    assert r.problems == []
    assert y.dtype == np.int64 and y.shape == (6,) and set(y.tolist()) <= {0, 1}
    _, y, _ = data(f"data:\n  {x}\n  y: {{random: onehot, shape: [6], seed: 2}}\n",
                   loss="cross_entropy")
    assert y.shape == (6, 2) and np.all(y.sum(axis=1) == 1) and set(y.ravel()) <= {0.0, 1.0}
    _, y, _ = data(f"data:\n  {x}\n  y: {{random: simplex, shape: [6], seed: 2}}\n",
                   loss="kl_div")
    assert y.shape == (6, 2) and np.allclose(y.sum(axis=1), 1) and np.all(y > 0)
    _, y, _ = data(f"data:\n  {x}\n  y: {{random: bernoulli, shape: [6, 2], seed: 2, p: 1.0}}\n",
                   loss="bce")
    assert np.all(y == 1.0)


@pytest.mark.parametrize("source,field,message", [
    ("{random: normal, shape: [3, 2]}", "data.x", "missing required key 'seed'"),
    ("{random: gaussian, shape: [3, 2], seed: 0}", "data.x.random",
     "unknown random data kind 'gaussian'"),
    ("{random: normal, shape: [0, 2], seed: 0}", "data.x.shape",
     "expected a list of one or two positive integers, found a list of 2"),
    ("{random: normal, shape: [1, 2, 3], seed: 0}", "data.x.shape",
     "expected a list of one or two positive integers"),
    ("{random: uniform, shape: [3, 2], seed: 0, low: 1, high: 0}", "data.x",
     "expected low < high, found 1.0 ≥ 0.0"),
    ("{random: normal, shape: [3, 2], seed: 0, std: 0}", "data.x.std", "expected"),
    ("{rand: normal}", "data.x", "expected inline values, {random: …} or {file: …}, found a "
                                 "mapping with keys ['rand']"),
])
def test_random_problems(source, field, message):
    x, _, r = data(f"data:\n  x: {source}\n", loss=None)
    assert x is None
    assert [p.field for p in r.problems] == [field]
    assert message in r.problems[0].message
    assert r.problems[0].line == 2


def test_an_unknown_setting_of_a_random_source_is_a_problem():
    _, _, r = data("data:\n  x: {random: normal, shape: [3, 2], seed: 0, p: 0.5}\n", loss=None)
    assert fields(r) == [(2, "data.x.p", "unknown key 'p'; valid: random, shape, seed, mean, "
                                         "std")]


# -- inline and x's shape ----------------------------------------------------------------------

def test_inline_x_must_be_a_table():
    x, _, r = data("data:\n  x: [1.0, 2.0]\n", loss=None)
    assert x is None
    assert fields(r) == [(2, "data.x", "expected a (batch, features) table with at least one row "
                                       "and column, found shape (2,)")]


def test_x_is_required():
    x, y, r = data("data:\n  y: [[1.0]]\n")
    assert (x, y) == (None, None)
    assert fields(r) == [(1, "data", "missing required key 'x'")]


# -- targets ------------------------------------------------------------------------------------

@pytest.mark.parametrize("y,loss,message", [
    ("[0, 2]", "cross_entropy", "class indices must be integers in [0, 2) (the last layer has 2 "
                                "units), found values [0, 2]"),
    ("[0.5, 1]", "cross_entropy", "class indices must be integers in [0, 2)"),
    ("[[1, 1], [0, 1]]", "cross_entropy", "one-hot targets must have a single 1 in each row"),
    ("[[0], [1]]", "cross_entropy", "(a column of class indices is never broadcast: give a flat "
                                    "list)"),
    ("[[0.5, 1.5], [0, 1]]", "bce", "loss 'bce' expects targets in [0, 1], found values [1.5]"),
    ("[[0.5, 0.4], [0, 1]]", "kl_div", "expects rows of probabilities (≥ 0, each row summing to 1)"),
    ("[[1.0], [2.0]]", "mse", "loss 'mse' expects targets shaped like the output (2, 2), found "
                              "(2, 1)"),
])
def test_target_problems(y, loss, message):
    x, target, r = data(f"data:\n  x: [[1.0], [2.0]]\n  y: {y}\n", loss=loss)
    assert x is not None and target is None
    assert [p.field for p in r.problems] == ["data.y"]
    assert message in r.problems[0].message


def test_targets_read_as_their_loss_takes_them():
    _, y, _ = data("data:\n  x: [[1.0], [2.0]]\n  y: [1, 0]\n", loss="nll")
    assert y.dtype == np.int64 and y.tolist() == [1, 0]
    _, y, _ = data("data:\n  x: [[1.0], [2.0]]\n  y: [[0, 1], [1, 0]]\n", loss="cross_entropy")
    assert y.dtype == np.float64 and y.tolist() == [[0, 1], [1, 0]]


def test_a_loss_that_needs_targets_and_one_that_takes_none():
    _, y, r = data("data:\n  x: [[1.0]]\n", loss="mse")
    assert y is None and fields(r) == [(1, "data", "loss 'mse' needs targets: missing key 'y'")]
    _, y, r = data("data:\n  x: [[1.0]]\n  y: [[1.0, 2.0]]\n", loss="sum")
    assert y is None and r.problems == []
    assert r.warnings == ["loss 'sum' takes no targets: data.y is ignored"]


# -- files --------------------------------------------------------------------------------------

def test_a_csv_with_a_header_and_column_selection(tmp_path):
    (tmp_path / "table.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    x, y, r = data("data:\n  x: {file: table.csv, columns: [0, 2]}\n  y: {file: table.csv, "
                   "column: 1}\n", layers=(Layer(1, "identity"),), loss=None, folder=tmp_path)
    assert r.problems == []
    assert x.tolist() == [[1.0, 3.0], [4.0, 6.0]]
    assert y.tolist() == [2.0, 5.0]


def test_an_npy_table(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(6, dtype=np.int32).reshape(3, 2))
    x, _, r = data("data:\n  x: {file: x.npy}\n", loss=None, folder=tmp_path)
    assert r.problems == []
    assert x.dtype == np.float64 and x.tolist() == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.parametrize("setup,source,message", [
    (None, "{file: missing.csv}", "data file not found"),
    (None, "{file: ../outside.csv}", "data files must be in the case's folder or below it, found "
                                     "'../outside.csv'"),
    ("notes.txt", "{file: notes.txt}", "expected a .csv or .npy file, found 'notes.txt'"),
    ("table.csv", "{file: table.csv, columns: [3]}", "expected column numbers in [0, 3)"),
    ("table.csv", "{file: table.csv, column: 0, columns: [1]}", "give 'columns' (a 2-D table) or "
                                                                "'column' (a flat list), not both"),
    ("bad.csv", "{file: bad.csv}", "cannot read 'bad.csv': row 3 is not numbers: 'x,y,z'"),
    ("fake.npy", "{file: fake.npy}", "not a .npy file"),
])
def test_file_problems(tmp_path, setup, source, message):
    sub = tmp_path / "cases"
    sub.mkdir()
    (tmp_path / "outside.csv").write_text("1,2\n")
    (sub / "notes.txt").write_text("1,2\n")
    (sub / "table.csv").write_text("1,2,3\n4,5,6\n")
    (sub / "bad.csv").write_text("1,2,3\n4,5,6\nx,y,z\n")
    (sub / "fake.npy").write_bytes(b"not numpy at all")
    x, _, r = data(f"data:\n  x: {source}\n", loss=None, folder=sub)
    assert x is None
    assert len(r.problems) == 1 and r.problems[0].line == 2
    assert message in r.problems[0].message, r.problems[0].message
