"""python -m harness fuzz: generated cases through the parties, each failure shrunk, resumable.

Kept fast: the parties are numpy and an --impl file (torch too where a suspect must be named by
consensus), the generator narrowed to the cases examples/backprop/mlp.py runs.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from conftest import EXAMPLES_DIR

from harness.cli import main
from harness.format import catalog
from harness.format.errors import UsageError
from harness.running.spec import CLI_OPTIONS, Settings, make_spec
from harness.tools import casegen, fuzz

MLP = EXAMPLES_DIR / "backprop" / "mlp.py"
# the cases mlp.py supports: its activations, its losses, plain gradient descent
FITS_MLP = ["--activations", "identity,sigmoid,tanh,relu", "--losses", "sum,mse",
            "--optimizers", "sgd", "--settings", "default"]


def fuzz_main(out, *more, impl=MLP, frameworks="numpy"):
    args = ["fuzz", "--out", str(out), "--frameworks", frameworks, "--jobs", "1", "-q", *more]
    return main(args + (["--impl", str(impl)] if impl else []))


def exit_code(args) -> int:
    try:
        return main(args)
    except SystemExit as stop:  # argparse's usage errors
        return stop.code


def case_files(folder):
    return {p.name: p.read_text() for p in sorted((folder / "cases").glob("*.yaml"))}


@pytest.fixture
def planted(tmp_path):
    """examples/backprop/mlp.py with tanh's derivative taken at z: 1 - z**2."""
    text = MLP.read_text()
    assert "return 1 - np.tanh(z) ** 2" in text
    path = tmp_path / "mlp_planted.py"
    path.write_text(text.replace("return 1 - np.tanh(z) ** 2", "return 1 - z ** 2"))
    return path


def test_the_same_seed_gives_the_same_case_files_and_a_shard_its_share(tmp_path, capsys):
    assert fuzz_main(tmp_path / "a", "--count", "8", "--seed", "3", *FITS_MLP) == 0
    assert fuzz_main(tmp_path / "b", "--count", "8", "--seed", "3", *FITS_MLP) == 0
    assert fuzz_main(tmp_path / "c", "--count", "8", "--seed", "4", *FITS_MLP) == 0
    a, b, c = (case_files(tmp_path / n) for n in "abc")
    assert a == b and len(a) == 8 and list(a) == [f"gen-3-{i:04d}.yaml" for i in range(8)]
    assert a != c
    assert (tmp_path / "a" / "report.csv").read_text().count("gen-3-0007") > 0
    # --shard 2/3: cases 1, 4, 7, the very files of the unsharded run
    assert fuzz_main(tmp_path / "s", "--count", "8", "--seed", "3", "--shard", "2/3",
                     *FITS_MLP) == 0
    assert case_files(tmp_path / "s") == {n: a[n] for n in
                                          ("gen-3-0001.yaml", "gen-3-0004.yaml", "gen-3-0007.yaml")}
    # the generator's options narrow what is drawn, and the same options draw the same cases
    options = casegen.Options(depth=(2, 2), widths=(3, 4), steps=(1, 1), dtypes=("float64",),
                              activations=("tanh",), losses=("mse",), optimizers=("adam",),
                              settings="default")
    cases = casegen.generate(20, 9, options=options)
    assert cases == casegen.generate(20, 9, options=options)
    assert all(len(c["network"]) == 2 and c["steps"] == 1 and c["dtype"] == "float64" and
               c["loss"] == "mse" and c["optimizer"].keys() == {"name", "lr"} and
               c["optimizer"]["name"] == "adam" and c["network"][0]["activation"] == "tanh" and
               all(3 <= layer["units"] <= 4 for layer in c["network"]) for c in cases)


@pytest.mark.parametrize("args, says", [
    (["--shard", "0/4"], "1 ≤ K ≤ N"),
    (["--shard", "5/4"], "1 ≤ K ≤ N"),
    (["--shard", "one/4"], "expected K/N"),
    (["--count", "-1"], "--count"),
    (["--depth", "0"], "--depth 0"),
    (["--widths", "4-2"], "MIN ≤ MAX"),
    (["--steps", "x"], "--steps x"),
    (["--activations", "sigmod"], "did you mean 'sigmoid'"),
    (["--losses", "mse,summ"], "unknown name 'summ'"),
    (["--dtypes", "float8"], "--dtypes"),
    (["--settings", "some"], "--settings"),
    (["--dtypes", "float16", "--optimizers", "adam"], "float16 trains with sgd only"),
    (["--activations", "softmax", "--widths", "1"], "need 2 units"),
    (["--losses", "bce", "--dtypes", "bfloat16"], "no loss of --losses"),
    (["--frameworks", "tourch"], "--frameworks"),
])
def test_bad_flags_are_usage_errors(tmp_path, capsys, args, says):
    out = tmp_path / "out"
    assert exit_code(["fuzz", "--out", str(out), "--count", "3", *args]) == 2
    assert says in capsys.readouterr().err
    assert not (out / "cases").exists()  # nothing generated, nothing run


def test_an_interrupted_run_goes_on_where_it_stopped(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(fuzz, "PART_CASES", 2)
    spec = make_spec(Settings(frameworks="numpy", impl=(str(MLP),), variants=0, jobs=1,
                              out=str(out)), CLI_OPTIONS)
    plan = fuzz.Plan(count=6, seed=2, options=casegen.Options(
        activations=("identity", "sigmoid", "tanh", "relu"), losses=("sum", "mse"),
        optimizers=("sgd",), settings="default"), impl_files=(str(MLP),))
    told = []

    def ctrl_c_at_the_fifth(number, total, case, dtype):  # Ctrl-C as the 5th run starts
        told.append(case.name)
        if len(told) == 5:
            raise KeyboardInterrupt
    with pytest.raises(fuzz.Interrupted, match="of 6 cases judged"):
        fuzz.run(plan, spec, progress=ctrl_c_at_the_fifth)
    progress = json.loads((out / fuzz.PROGRESS_FILE).read_text())
    judged = [name for part in progress["parts"]
              for name in json.loads((out / part).read_text())["cases"]]
    assert judged and len(judged) < 6 and judged == sorted(judged)
    assert not (out / "report.csv").exists()
    # the same command again: only the cases not judged are run, then the report of all six
    capsys.readouterr()
    assert fuzz_main(out, "--count", "6", "--seed", "2", *FITS_MLP, "--jobs", "1") == 0
    printed = capsys.readouterr().out
    assert f"({len(judged)} judged by an earlier run)" in printed
    rows = (out / "report.csv").read_text()
    assert all(f"gen-2-{i:04d}" in rows for i in range(6))
    # once more, and with a larger count: nothing judged twice
    assert fuzz_main(out, "--count", "8", "--seed", "2", *FITS_MLP) == 0
    assert "(6 judged by an earlier run)" in capsys.readouterr().out
    # other arguments in the same folder are refused, unless asked to start over
    assert fuzz_main(out, "--count", "8", "--seed", "5", *FITS_MLP) == 2
    assert "seed: 2 there, 5 here" in capsys.readouterr().err
    assert fuzz_main(out, "--count", "2", "--seed", "5", *FITS_MLP, "--restart") == 0
    assert "judged by an earlier run" not in capsys.readouterr().out


def test_a_planted_bug_is_found_shrunk_and_given_a_repro_folder(tmp_path, planted, capsys):
    out = tmp_path / "out"
    code = fuzz_main(out, "--count", "10", "--seed", "0", *FITS_MLP, "--max-shrinks", "2",
                     impl=planted, frameworks="numpy,torch")  # torch: a second opinion
    printed = capsys.readouterr().out
    assert code == 1
    progress = json.loads((out / "fuzz-progress.json").read_text())
    found = progress["found"]
    assert found and all(f["suspect"] == "mlp_planted" and f["quantity"] == "grad"
                         for f in found.values())
    summary = (out / "fuzz.md").read_text()
    assert "FINDINGS" in summary and "suspect mlp_planted, quantity grad" in printed
    shrunk_ones = [f for f in found.values() if f["shrunk"]]
    assert len(shrunk_ones) == 2  # the first two; --max-shrinks says so of the others
    for f in shrunk_ones:
        shrunk = yaml.safe_load((out / f["shrunk"]).read_text())
        assert shrunk["steps"] == 1 and all(layer["units"] <= 2 for layer in shrunk["network"])
        assert f["shrunk"] in summary and str(out / f["shrunk"]) in printed
        assert [e["framework"] for e in f["repro"]] == ["mlp_planted"]
    folder = out / shrunk_ones[0]["repro"][0]["folder"]
    assert (folder / "repro.py").is_file() and (folder / "mlp_planted.py").is_file()
    repro = subprocess.run([sys.executable, "repro.py"], cwd=folder, capture_output=True,
                           text=True, timeout=120)
    assert repro.returncode == 1, repro.stdout + repro.stderr  # it still shows the bug
    # the cases without tanh pass: no false alarm from the correct parts of the file
    assert "conform" in printed and f"{len(found)} failing" in printed
    assert len(found) < 10


def test_max_shrinks_leaves_the_rest_for_a_rerun(tmp_path, planted, capsys):
    out = tmp_path / "out"
    args = ["--count", "10", "--seed", "0", *FITS_MLP]
    assert fuzz_main(out, *args, "--max-shrinks", "1", impl=planted) == 1
    found = json.loads((out / fuzz.PROGRESS_FILE).read_text())["found"]
    assert len(found) > 1 and sum(bool(f["shrunk"]) for f in found.values()) == 1
    assert "--max-shrinks 1 reached" in (out / "fuzz.md").read_text()
    capsys.readouterr()
    assert fuzz_main(out, *args, impl=planted) == 1  # no case run again; the others shrunk
    printed = capsys.readouterr().out
    assert "(10 judged by an earlier run)" in printed and "reached" not in printed
    found = json.loads((out / fuzz.PROGRESS_FILE).read_text())["found"]
    assert all(f["shrunk"] for f in found.values())


def test_exit_codes_nothing_found_and_nothing_compared(tmp_path, capsys):
    assert fuzz_main(tmp_path / "ok", "--count", "4", *FITS_MLP) == 0
    assert "nothing found" in (tmp_path / "ok" / "fuzz.md").read_text()
    # mlp.py runs no cross_entropy case: every one is a skip, nothing is compared
    assert fuzz_main(tmp_path / "none", "--count", "3", "--losses", "cross_entropy") == 5
    assert "mlp skipped 3 of 3 cases" in capsys.readouterr().out


def test_options_are_checked_before_anything_is_drawn():
    with pytest.raises(UsageError, match="float16 trains with sgd only"):
        casegen.generate(3, 0, options=casegen.Options(dtypes=("float16",),
                                                       optimizers=("rmsprop",)))
    assert casegen.parse_dtypes("any", "--dtypes") == tuple(catalog.DTYPES)
    assert casegen.parse_names("mse,sum", "--losses", catalog.LOSSES) == ("sum", "mse")
    assert fuzz.parse_shard("3/3") == (3, 3) and [i for i in range(7) if fuzz.in_shard(i, (3, 3))] == [2, 5]
