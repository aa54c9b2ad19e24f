"""The JSON Schema of the case format: made from the catalog, kept in docs/, true to the loader."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.format.loader import find_case_files
from harness.tools.schema import schema_text
from harness.format.yamlsafe import load_yaml

from conftest import CASES, ROOT, sigmoid_neuron_text

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is part of the test extra")
SCHEMA = json.loads((ROOT / "docs" / "case.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def errors(text: str) -> list[str]:
    doc, problems = load_yaml(text, "case.yaml")  # as an editor reads YAML: 1e-6 is a number
    assert not problems
    return [e.message for e in VALIDATOR.iter_errors(doc.value)]


def test_the_kept_copy_is_the_commands_output():
    result = subprocess.run([sys.executable, "-m", "harness", "schema"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout == schema_text() == (ROOT / "docs" / "case.schema.json").read_text(
        encoding="utf-8"), "run: python -m harness schema > docs/case.schema.json"


def test_it_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_shipped_case_is_accepted():
    files, _ = find_case_files([CASES, ROOT / "examples"])
    files = [f for f in files if not f.is_relative_to(ROOT / "examples" / "ci")]  # workflows
    assert len(files) > 50
    for path in files:
        assert errors(path.read_text(encoding="utf-8")) == [], path


@pytest.mark.parametrize("change, found", [
    (("network:", "netwrk:"), "'netwrk' was unexpected"),
    (("activation: sigmoid", "activation: sigmod"), "is not valid under any of the given schemas"),
    (("loss: sum", "loss: summ"), "is not valid under any of the given schemas"),
    (("lr: 0.01", "lr: -0.01"), "is not valid under any of the given schemas"),
    (("units: 1", "units: 0"), "0 is less than the minimum of 1"),
])
def test_mistakes_are_rejected(change, found):
    text = sigmoid_neuron_text()
    assert errors(text) == []
    wrong = text.replace(*change)
    assert wrong != text
    assert any(found in message for message in errors(wrong)), errors(wrong)
