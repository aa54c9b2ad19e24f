"""--shard K/N and --harness-shard K/N: a partition of the (case, dtype) plans that is the same
on every machine, never moved for a case by the others, and balanced enough on the shipped
suite (harness.running.shards)."""
from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from conftest import CASES, ROOT, sigmoid_neuron_text
from harness.adapters import known_parties
from harness.cli import main
from harness.format.errors import UsageError
from harness.format.loader import load_cases
from harness.running import shards
from harness.running.runner import frameworks_for
from harness.running.spec import Settings, make_spec

BAD = ["0/4", "5/4", "1/0", "0/0", "text", "/4", "2/", "2", "1/4x", "-1/4", "1.5/4", "2 of 4"]
MINE = str(ROOT / "examples" / "backprop" / "mine.py")


@pytest.fixture(scope="module")
def suite():
    return load_cases([str(CASES)], known_parties())


def plans(cases):
    return [(case.name, dtype) for case in cases for dtype in case.dtypes]


def placed(cases, count):
    """{(case, dtype): shard} through select(), as a run chooses its plans."""
    where = {}
    for index in range(1, count + 1):
        for case in shards.select(cases, shards.Shard(index, count)):
            for dtype in case.dtypes:
                where[(case.name, dtype)] = index
    return where


def test_parse_reads_k_of_n():
    assert shards.parse("2/4") == shards.Shard(2, 4) and str(shards.parse(" 1 / 1 ")) == "1/1"
    assert shards.parse(None) is None


@pytest.mark.parametrize("text", BAD + ["10001/10001"])
def test_bad_values_are_usage_errors_naming_the_option(text):
    with pytest.raises(UsageError) as error:
        shards.parse(text, "--my-option")
    assert str(error.value).startswith(f"--my-option {text}: expected")


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 8, 16])
def test_every_plan_is_in_exactly_one_shard(suite, count):
    seen: dict = {}
    for index in range(1, count + 1):
        for case in shards.select(suite, shards.Shard(index, count)):
            for dtype in case.dtypes:
                assert (case.name, dtype) not in seen, (case.name, dtype)
                seen[(case.name, dtype)] = index
    assert sorted(seen) == sorted(plans(suite))


def test_adding_a_case_moves_no_other_case(suite):
    extra = [replace(suite[0], name=f"added-{n}") for n in range(20)]
    grown = suite[:5] + extra + suite[5:]  # anywhere in the order, not only at the end
    for count in (2, 4, 7):
        before, after = placed(suite, count), placed(grown, count)
        assert {k: v for k, v in after.items() if not k[0].startswith("added-")} == before
        assert placed(suite[1:], count) == {k: v for k, v in before.items()
                                            if k[0] != suite[0].name}  # nor removing one


def test_a_cases_dtypes_go_to_different_shards(suite):
    """A case's plans cost alike: two of them never share a shard while another is free."""
    for case in suite:
        for count in (2, 4):
            where = shards.plan_shards(case.name, case.dtypes, count)
            assert len(set(where.values())) == min(count, len(case.dtypes)), case.name


def test_the_partition_is_fixed_across_versions_and_machines():
    """Shards of one suite run by two harness versions must still merge: changing the hash
    changes every place, so these pins change only with a note in docs/ci.md."""
    assert shards.plan_shards("sigmoid-neuron", ["float64"], 4) == {"float64": 4}
    assert shards.plan_shards("celu", ["float64", "float32"], 4) == {"float32": 3, "float64": 4}
    assert [shards.jump(key, 10) for key in (0, 1, 2**32, 2**64 - 1)] == [0, 6, 2, 9]


def test_more_shards_move_only_what_the_new_shard_takes():
    """Jump consistent hashing: from N to N+1 shards a key stays or moves to the new one."""
    keys = [random.Random(seed).getrandbits(64) for seed in range(2000)]
    for count in (1, 3, 4, 9):
        moved = [k for k in keys if shards.jump(k, count) != shards.jump(k, count + 1)]
        assert all(shards.jump(k, count + 1) == count for k in moved)
        assert abs(len(moved) / len(keys) - 1 / (count + 1)) < 0.05


# the bound the partition is held to on the shipped suite (estimated cost of the heaviest shard
# over the mean; docs/ci.md gives it with the measured times)
BALANCE = {2: 1.15, 4: 1.35}


@pytest.mark.parametrize("count", sorted(BALANCE))
def test_the_shipped_suite_is_balanced_within_the_stated_bound(suite, count):
    spec = make_spec(Settings())
    costs = [(case, dtype, shards.estimated_cost(
        case, frameworks_for(case, spec.parties, spec.reference, uninstalled=True)))
        for case in suite for dtype in case.dtypes]
    loads = shards.loads(costs, count)
    assert max(loads) / (sum(loads) / count) <= BALANCE[count], loads


# -- the command line --------------------------------------------------------------------------
@pytest.mark.parametrize("text", BAD)
def test_run_refuses_a_bad_shard_with_exit_2(text, tmp_path, capsys):
    assert main(["run", str(CASES / "golden"), f"--shard={text}", "--out", str(tmp_path / "o")]) \
        == 2
    assert f"error: --shard {text}: expected K/N" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_run_without_a_shard_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--shard"])
    assert stop.value.code == 2 and "--shard" in capsys.readouterr().err


def test_a_shard_run_runs_its_plans_and_records_its_shard(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    suite = load_cases(["cases/golden"], known_parties())
    mine = {(c.name, d) for c in shards.select(suite, shards.Shard(2, 3)) for d in c.dtypes}
    out = tmp_path / "o"
    assert main(["run", "cases/golden", "--shard", "2/3", "-f", "numpy,torch", "--isolation",
                 "none", "--out", str(out)]) == 0
    assert f"shard 2/3: {len(mine)} of {len(plans(suite))} (case, dtype) plans" in \
        capsys.readouterr().err
    record = json.loads((out / "run.json").read_text())
    assert record["options"]["shard"] == "2/3"
    assert {(e["case"], e["dtype"]) for e in record["runs"]} == mine


def test_a_shard_with_no_plan_writes_an_empty_report_and_exits_0(write_case, tmp_path):
    case = write_case(sigmoid_neuron_text())
    empty = next(k for k in range(1, 5) if shards.plan_shards("neuron", ["float64"], 4)
                 ["float64"] != k)
    out = tmp_path / "o"
    assert main(["run", str(case), "--shard", f"{empty}/4", "-q", "-f", "numpy,torch",
                 "--isolation", "none", "--out", str(out)]) == 0
    assert (out / "report.csv").read_text().count("\n") == 1  # the header alone


# -- pytest ------------------------------------------------------------------------------------
INI = "[pytest]\nharness_cases = cases\n"


def _collected(pytester, *args) -> set[str]:
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider", *args)
    return {line.split("::", 1)[1] for line in result.outlines if "::" in line}


def test_pytest_collects_only_its_shards_items(pytester):
    pytester.makefile(".ini", pytest=INI)
    for n in range(6):
        text = sigmoid_neuron_text(f"neuron-{n}") + "dtype: [float32, float64]\n"
        pytester.makefile(".yaml", **{f"cases/neuron-{n}": text})
    every = _collected(pytester, "--harness-frameworks", "torch")
    assert len(every) == 12
    parts = [_collected(pytester, "--harness-frameworks", "torch", "--harness-shard", f"{k}/3")
             for k in (1, 2, 3)]
    assert set().union(*parts) == every and sum(map(len, parts)) == len(every)
    for k, part in enumerate(parts, start=1):  # the command line's partition
        for item in part:
            name, dtype = item.split("[")[0], item.split("[")[1].split("-")[0]
            assert shards.plan_shards(name, ["float32", "float64"], 3)[dtype] == k


def test_pytest_keeps_a_variant_in_the_shard_of_the_case_it_was_made_from(pytester):
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text()})
    home = shards.plan_shards("neuron", ["float64"], 2)["float64"]
    args = ("--harness-frameworks", "numpy", f"--harness-impl={MINE}", "--harness-variants", "2")
    here = _collected(pytester, *args, "--harness-shard", f"{home}/2")
    assert "neuron~variant-1[float64-mine]" in here and "neuron[float64-mine]" in here
    assert not _collected(pytester, *args, "--harness-shard", f"{3 - home}/2")


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "text", "/4"])
def test_pytest_refuses_a_bad_shard_as_a_usage_error(pytester, text):
    pytester.makefile(".ini", pytest=INI)
    result = pytester.runpytest("--harness-shard", text)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--harness-shard {text}: expected K/N" in result.stderr.str()
