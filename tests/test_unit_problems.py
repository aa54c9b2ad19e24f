"""Unit tests of harness.format.problems: the typed readers record a problem naming the file,
the line and the field's path, what was expected and what was found, and never stop early."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from harness.format.errors import Problem
from harness.format.problems import Checker
from harness.format.yamlsafe import load_yaml

NAMES = ["numpy", "torch", "jax", "micrograd"]
FILE = "cases/unit.yaml"


def checker(text: str) -> Checker:
    doc, problems = load_yaml(textwrap.dedent(text), FILE)
    assert doc is not None and problems == []
    return Checker(doc, NAMES)


DOC = """\
name: unit
steps: three
lr: -1
flag: true
network:
  - {units: 4, activation: tanh}
  - units: 2
    activation: tanhh
big: 100000000000000000000000000000000000000000
huge: 9223372036854775808
inf: .inf
params:
  w: [[1.0, null]]
  v: [1.0, 2.0]
  ragged: [[1.0], [2.0, 3.0]]
"""


def only(c: Checker) -> Problem:
    assert len(c.problems) == 1, c.problems
    return c.problems[0]


def test_a_problem_names_file_line_and_field():
    c = checker(DOC)
    assert c.integer(c.doc.value["steps"], ("steps",), minimum=1) is None
    p = only(c)
    assert (p.file, p.line, p.field) == (FILE, 2, "steps")
    assert p.message == "expected an integer, found a string ('three')"
    assert str(p) == "cases/unit.yaml:2: steps: expected an integer, found a string ('three')"


def test_a_nested_field_is_named_by_its_path_and_its_own_line():
    c = checker(DOC)
    layer = c.doc.value["network"][1]
    assert c.choice(layer["activation"], ("network", 1, "activation"),
                    ["identity", "tanh", "relu"], "activation") is None
    p = only(c)
    assert (p.line, p.field) == (8, "network[1].activation")
    assert p.message == "unknown activation 'tanhh'; valid: identity, tanh, relu; did you mean " \
                        "'tanh'?"


def test_a_missing_path_takes_the_line_of_its_nearest_ancestor():
    c = checker(DOC)
    c.problem(("network", 0, "nothing", "deeper"), "m")
    assert (c.problems[0].line, c.problems[0].field) == (6, "network[0].nothing.deeper")


def test_every_problem_is_collected():
    c = checker(DOC)
    v = c.doc.value
    c.integer(v["steps"], ("steps",))
    c.number(v["lr"], ("lr",), positive=True)
    c.integer(v["flag"], ("flag",))
    assert [(p.line, p.field) for p in c.problems] == [(2, "steps"), (3, "lr"), (4, "flag")]


@pytest.mark.parametrize("key,kwargs,message", [
    ("flag", {}, "expected an integer, found a boolean (True)"),
    ("lr", {"minimum": 0}, "expected an integer ≥ 0, found -1"),
    ("huge", {}, "expected an integer below 2**63, found 9223372036854775808"),
    ("big", {}, "expected an integer below 2**63, found an integer of 42 digits"),
    ("inf", {}, "expected an integer, found a number (inf)"),
])
def test_integer(key, kwargs, message):
    c = checker(DOC)
    assert c.integer(c.doc.value[key], (key,), **kwargs) is None
    assert only(c).message == message


def test_integer_accepts():
    c = checker("n: 7\n")
    assert c.integer(c.doc.value["n"], ("n",), minimum=7) == 7
    assert c.problems == []


@pytest.mark.parametrize("key,kwargs,message", [
    ("steps", {}, "expected a number, found a string ('three')"),
    ("flag", {}, "expected a number, found a boolean (True)"),
    ("inf", {}, "expected a finite number, found inf"),
    ("lr", {"positive": True}, "expected a number > 0, found -1.0"),
    ("lr", {"nonnegative": True}, "expected a number ≥ 0, found -1.0"),
])
def test_number(key, kwargs, message):
    c = checker(DOC)
    assert c.number(c.doc.value[key], (key,), **kwargs) is None
    assert only(c).message == message


def test_number_reads_1e_minus_6_as_a_number():
    c = checker("tol: 1e-6\nn: 3\n")  # YAML 1.1 would read 1e-6 as a string
    assert c.number(c.doc.value["tol"], ("tol",), positive=True) == 1e-6
    assert c.number(c.doc.value["n"], ("n",)) == 3.0
    assert c.problems == []


def test_string():
    c = checker(DOC)
    assert c.string(c.doc.value["name"], ("name",)) == "unit"
    assert c.string(c.doc.value["lr"], ("lr",)) is None
    assert only(c).message == "expected a string, found a number (-1)"


def test_choice_of_a_non_string():
    c = checker(DOC)
    assert c.choice(c.doc.value["lr"], ("lr",), ["sgd"], "optimizer") is None
    assert only(c).message == "expected optimizer name, found a number (-1)"


def test_mapping_unknown_and_missing_keys():
    c = checker(DOC)
    layer = c.doc.value["network"][0]
    assert c.mapping(layer, ("network", 0), ["unit", "activation", "dropout"],
                     ["unit", "activation", "dropout"]) is layer
    messages = [(p.field, p.message) for p in c.problems]
    assert messages == [
        ("network[0].units", "unknown key 'units'; valid: unit, activation, dropout; did you "
                             "mean 'unit'?"),
        ("network[0]", "missing required key 'unit'"),
        ("network[0]", "missing required key 'dropout'")]


def test_mapping_of_a_list():
    c = checker(DOC)
    assert c.mapping(c.doc.value["network"], ("network",), ["units"]) is None
    assert (only(c).line, only(c).message) == (5, "expected a mapping, found a list of 2")


def test_array_reads_nested_numbers():
    c = checker(DOC)
    arr = c.array(c.doc.value["params"]["v"], ("params", "v"), (2,))
    assert arr.dtype == np.float64 and arr.tolist() == [1.0, 2.0]
    assert c.problems == []


def test_array_with_a_null_says_where_and_how_to_write_a_missing_value():
    c = checker(DOC)
    assert c.array(c.doc.value["params"]["w"], ("params", "w")) is None
    p = only(c)
    assert (p.line, p.field) == (13, "params.w")
    assert p.message == "expected numbers, found nothing (null) at [0][1] (write .nan for a " \
                        "missing value)"


def test_array_of_the_wrong_shape():
    c = checker(DOC)
    assert c.array(c.doc.value["params"]["v"], ("params", "v"), (1, 2), " (units, fan_in)") is None
    assert only(c).message == "expected shape (1, 2) (units, fan_in), found (2,)"


def test_array_with_ragged_rows():
    c = checker(DOC)
    assert c.array(c.doc.value["params"]["ragged"], ("params", "ragged")) is None
    assert "ragged rows" in only(c).message


def test_array_of_a_single_string():
    c = checker(DOC)
    assert c.array(c.doc.value["name"], ("name",)) is None
    assert only(c).message == "expected a (nested) list of numbers, found a string ('unit')"


def test_draw_setting_checks_the_catalogs_bounds():
    c = checker("std: 0\np: 1.5\nmean: 2\n")
    assert c.draw_setting(c.doc.value["std"], ("std",), "std") is None
    assert c.draw_setting(c.doc.value["p"], ("p",), "p") is None
    assert c.draw_setting(c.doc.value["mean"], ("mean",), "mean") == 2.0
    assert [p.field for p in c.problems] == ["std", "p"]
    assert all(p.message.startswith("expected") for p in c.problems)


def test_a_problem_without_a_line():
    assert str(Problem("a.yaml", None, "", "no such file or folder")) == \
        "a.yaml: no such file or folder"
    assert str(Problem("a.yaml", 3, "loss", "m")) == "a.yaml:3: loss: m"
