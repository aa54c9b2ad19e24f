"""python -m harness merge: report folders (shards, machines) into the report one run of them all
would write; parts that cannot be one report refused with exit 2 and nothing written."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import ROOT, sigmoid_neuron_text
from harness.cli import main

# a representative subset of the shipped suite: golden values (the reference's own rows), two
# dtypes per case, kinks (inconclusive rows), multi-step optimizers, low precision with declared
# discrepancies (xfail rows), Hessian-vector products (rows against fd)
FOLDERS = ["cases/golden", "cases/activations", "cases/edge", "cases/optimizers",
           "cases/precision", "cases/second-order"]
QUICK = ["-f", "numpy,torch", "--isolation", "none", "-q", "--no-repro"]


def run(out, *args) -> int:
    return main(["run", *QUICK, *args, "--out", str(out)])  # a later -f wins


def merge(out, *parts) -> int:
    return main(["merge", *map(str, parts), "--out", str(out)])


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The subset run whole and in 4 shards, from the repository's root as a user runs it."""
    here = tmp_path_factory.mktemp("shipped")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        whole = run(here / "whole", *FOLDERS)
        codes = [run(here / f"shard-{k}", *FOLDERS, "--shard", f"{k}/4") for k in range(1, 5)]
    assert whole in (0, 1) and all(code in (0, 1) for code in codes)
    return here


def test_merged_shards_give_the_unsharded_report_csv_byte_for_byte(shipped, capsys):
    capsys.readouterr()
    parts = [shipped / f"shard-{k}" for k in (3, 1, 4, 2)]  # in any order
    assert merge(shipped / "merged", *parts) in (0, 1)
    said = capsys.readouterr().out
    assert "merged 4 report folders (shards 3/4, 1/4, 4/4, 2/4)" in said
    whole, merged = shipped / "whole", shipped / "merged"
    assert (merged / "report.csv").read_bytes() == (whole / "report.csv").read_bytes()
    assert (merged / "heatmap.svg").read_bytes() == (whole / "heatmap.svg").read_bytes()
    # report.md too, but for the time it was generated
    lines = [(folder / "report.md").read_text().splitlines() for folder in (whole, merged)]
    assert [x for x in lines[0] if not x.startswith("Generated")] == \
        [x for x in lines[1] if not x.startswith("Generated")]
    record = json.loads((merged / "run.json").read_text())
    assert sorted(p["shard"] for p in record["parts"]) == ["1/4", "2/4", "3/4", "4/4"]
    assert "shard" not in record["options"]
    assert all(p["environment"] and p["devices"] for p in record["parts"])
    # and the merged folder reads back as any report does
    assert main(["report", str(merged)]) == 0


def test_a_missing_shard_is_said(shipped, capsys):
    assert merge(shipped / "three", *(shipped / f"shard-{k}" for k in (1, 2, 4))) in (0, 1)
    assert "warning: shards missing: 3/4" in capsys.readouterr().err


# -- refusals: exit 2, the folders named, nothing written ------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    here = tmp_path_factory.mktemp("small")
    for name in ("a", "b"):
        (here / "cases" / name).mkdir(parents=True)
        (here / "cases" / name / f"{name}.yaml").write_text(
            sigmoid_neuron_text(f"neuron-{name}") + "dtype: [float32, float64]\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(here)
        assert run(here / "a", "cases/a") == 0
        assert run(here / "b", "cases/b") == 0
        assert run(here / "a-again", "cases/a") == 0
        assert run(here / "a-torch-reference", "cases/a", "--reference", "torch") == 0
        assert run(here / "gpu", "cases/a", "-f", "torch@cuda") in (0, 5)  # skips without one
    return here


def refused(capsys, out, *parts) -> str:
    assert merge(out, *parts) == 2
    assert not out.exists()
    return capsys.readouterr().err


def test_overlapping_parts_are_refused(small, capsys, tmp_path):
    err = refused(capsys, tmp_path / "o", small / "a", small / "b", small / "a-again")
    assert "cannot merge these report folders; nothing was written" in err
    assert f"{small / 'a'} and {small / 'a-again'} overlap" in err
    assert "neuron-a [float32] numpy against expected" in err


def test_a_different_reference_is_refused(small, capsys, tmp_path):
    err = refused(capsys, tmp_path / "o", small / "a-torch-reference", small / "b")
    assert "different references: torch in" in err and "numpy in" in err


@pytest.mark.parametrize("key, value, words", [
    ("harness", "0.0.1", "different harness versions"),
    ("format", 1, "different run.json formats"),
])
def test_another_harness_version_or_format_is_refused(small, capsys, tmp_path, key, value,
                                                      words):
    changed = tmp_path / "changed"
    shutil.copytree(small / "b", changed)
    record = json.loads((changed / "run.json").read_text())
    if key == "harness":
        record["environment"] = [[k, value if k == "harness" else v]
                                 for k, v in record["environment"]]
    else:
        record[key] = value
    (changed / "run.json").write_text(json.dumps(record))
    err = refused(capsys, tmp_path / "o", small / "a", changed)
    assert words in err and str(changed) in err


def test_one_case_name_from_two_files_is_refused(small, capsys, tmp_path):
    renamed = tmp_path / "renamed"
    shutil.copytree(small / "b", renamed)
    for name in ("report.csv", "run.json"):
        text = (renamed / name).read_text().replace("neuron-b", "neuron-a")
        (renamed / name).write_text(text.replace("cases/a", "cases/b"))
    err = refused(capsys, tmp_path / "o", small / "gpu", renamed)
    assert "case neuron-a is cases/a/a.yaml in" in err and "names must be unique" in err


def test_a_case_run_with_other_settings_in_two_parts_is_refused(small, capsys, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(small / "gpu", edited)
    record = json.loads((edited / "run.json").read_text())
    for entry in record["runs"]:
        entry["steps"] = 5  # the case was changed between the two machines' checkouts
    (edited / "run.json").write_text(json.dumps(record))
    err = refused(capsys, tmp_path / "o", small / "a", edited)
    assert "case neuron-a [float32] was run with steps 1 in" in err
    assert "but 5 in" in err and "different versions of the case" in err


@pytest.mark.parametrize("damage, words", [
    ("missing", "no such folder"),
    ("not a report", "no report.csv here"),
    ("no run.json", "no run.json beside report.csv"),
    ("corrupt csv", "report.csv: line 1: not a report.csv"),
    ("corrupt run.json", "run.json: not JSON"),
    ("interrupted", "only an interrupted run's report.partial.csv here"),
])
def test_a_missing_or_corrupt_part_is_refused(small, capsys, tmp_path, damage, words):
    part = tmp_path / "part"
    if damage != "missing":
        shutil.copytree(small / "b", part)
    if damage == "not a report":
        (part / "report.csv").unlink()
    elif damage == "no run.json":
        (part / "run.json").unlink()
    elif damage == "corrupt csv":
        (part / "report.csv").write_text("what,is,this\n1,2,3\n")
    elif damage == "corrupt run.json":
        (part / "run.json").write_text("{not json")
    elif damage == "interrupted":
        (part / "report.csv").rename(part / "report.partial.csv")
    err = refused(capsys, tmp_path / "o", small / "a", part)
    assert words in err and str(part) in err and "Traceback" not in err


def test_an_existing_report_is_left_as_it_was_when_refused(small, capsys, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(small / "a", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert merge(out, small / "a-again", small / "a") == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_out_may_not_be_a_part_and_a_part_may_not_come_twice(small, capsys, tmp_path):
    assert merge(small / "a", small / "a", small / "b") == 2
    assert "is one of the parts" in capsys.readouterr().err
    err = refused(capsys, tmp_path / "o", small / "a", small / "b", small / "a")
    assert "given twice" in err


# -- machines: a column per party and device ------------------------------------------------
def test_parts_from_two_machines_stand_side_by_side(small, capsys, tmp_path):
    out = tmp_path / "o"
    assert merge(out, small / "a", small / "gpu", small / "b") in (0, 5)
    report = (out / "report.md").read_text()
    assert "| case | dtype | numpy | torch | torch@cuda |" in report
    assert "| neuron-a | float64 | pass" in report and "| neuron-b | float64 | pass" in report
    record = json.loads((out / "run.json").read_text())
    assert record["frameworks"] == ["numpy", "torch", "torch@cuda"]
    assert [p["folder"] for p in record["parts"]] == [str(small / n) for n in ("a", "gpu", "b")]
    assert record["parts"][1]["devices"]["torch@cuda"].startswith("cuda")
    assert record["parts"][0]["devices"] == {"numpy": "cpu", "torch": "cpu"}
    # a (case, dtype) both machines ran is one run, each machine's notes kept
    run = next(e for e in record["runs"] if (e["case"], e["dtype"]) == ("neuron-a", "float64"))
    assert "torch" in run["notes"]


def test_a_merged_report_merges_again_keeping_every_part(small, tmp_path):
    assert merge(tmp_path / "ab", small / "a", small / "b") == 0
    assert merge(tmp_path / "abg", tmp_path / "ab", small / "gpu") == 0
    parts = json.loads((tmp_path / "abg" / "run.json").read_text())["parts"]
    assert [(p["folder"], p.get("merged_in")) for p in parts] == [
        (str(small / "a"), str(tmp_path / "ab")), (str(small / "b"), str(tmp_path / "ab")),
        (str(small / "gpu"), None)]


def test_shards_of_a_run_with_an_impl_file_merge_variants_and_repro_folders(tmp_path,
                                                                              monkeypatch):
    """A case's variants run in its shards, each written into its shard's folder: the merged
    report.csv is the unsharded one but for the variants' file column, and each repro folder is
    named from --out."""
    import csv
    import os

    monkeypatch.chdir(tmp_path)
    cases = str(ROOT / "examples" / "backprop" / "cases")
    mine = ["--impl", str(ROOT / "examples" / "backprop" / "mistakes" / "mlp_carries_da.py"),
            "-f", "numpy", "--isolation", "none", "-q", "--variants", "1"]
    assert main(["run", cases, *mine, "--out", "whole"]) == 1
    for k in (1, 2):
        assert main(["run", cases, *mine, "--shard", f"{k}/2", "--out", f"s{k}"]) == 1
    assert main(["merge", "s1", "s2", "--out", "out/merged"]) == 1
    whole, merged = ([line for line in csv.DictReader(open(f"{folder}/report.csv"))]
                     for folder in ("whole", "out/merged"))
    assert [{**r, "file": ""} for r in whole] == [{**r, "file": ""} for r in merged]
    variants = {r["file"] for r in merged if "~variant-" in r["case"]}
    assert variants and all(f.split("/")[0] in ("s1", "s2") and os.path.isfile(f)
                            for f in variants)
    listed = json.loads(open("out/merged/run.json").read())["repro"]
    assert listed and all(os.path.isdir(os.path.join("out/merged", e["folder"])) for e in listed)


def test_runs_of_two_framework_versions_merge_side_by_side_with_by_version(tmp_path, capsys):
    """An upgrade, or the oldest supported versions beside today's: the party whose version
    differs gets a column per version; one at the same version stands once."""
    case = tmp_path / "neuron.yaml"
    case.write_text(sigmoid_neuron_text(), encoding="utf-8")
    assert run(tmp_path / "today", str(case)) == 0
    older = tmp_path / "older"
    shutil.copytree(tmp_path / "today", older)
    record = json.loads((older / "run.json").read_text())
    record["environment"] = [[c, "2.0.0+cpu" if c == "torch" else v]
                             for c, v in record["environment"]]
    (older / "run.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert merge(tmp_path / "refused", tmp_path / "today", older) == 2  # without: an overlap
    assert "overlap" in capsys.readouterr().err and not (tmp_path / "refused").exists()
    assert main(["merge", str(tmp_path / "today"), str(older), "--by-version",
                 "--out", str(tmp_path / "both")]) == 0
    said = capsys.readouterr()
    report = (tmp_path / "both" / "report.md").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| case | dtype |"))
    assert "| torch==2.13.0+cpu | torch==2.0.0+cpu |" in header  # side by side
    assert header.count("| numpy") == 1  # the same numpy in both: once, from the first part
    assert "numpy 2" in said.err and "its rows are taken from" in said.err
    assert "torch 2.13.0+cpu / 2.0.0+cpu" in report  # both versions in the header line
    record = json.loads((tmp_path / "both" / "run.json").read_text())
    assert record["merged_by_version"] and len(record["parts"]) == 2
