"""One run specification from either front end: the command line and the pytest plugin are thin
translations into harness.running.spec, and both reach the run through Run.case."""
from __future__ import annotations

from dataclasses import fields, replace

import pytest

from conftest import ROOT, sigmoid_neuron_text
from harness import cli, plugin, run_command
from harness.format.errors import UsageError
from harness.running import spec as spec_module
from harness.running.spec import CLI_OPTIONS, PYTEST_OPTIONS, RunSpec, make_spec

MINE = str(ROOT / "examples" / "backprop" / "mine.py")

# (command-line arguments of `run`, the same settings as pytest options)
SAME = [
    ([], []),
    (["-f", "numpy,torch@cpu,fd"], ["--harness-frameworks", "numpy,torch@cpu,fd"]),
    (["-f", "jax@cuda"], ["--harness-frameworks", "jax@cuda"]),
    (["--reference", "torch"], ["--harness-reference", "torch"]),
    (["--precision", "highest"], ["--harness-precision", "highest"]),
    (["--self-check", "torch", "--self-check", "torch"],
     ["--harness-self-check", "torch", "--harness-self-check", "torch"]),
    (["--variants", "2"], ["--harness-variants", "2"]),
    (["--isolation", "none"], ["--harness-isolation", "none"]),
    (["--timeout", "2.5"], ["--harness-timeout", "2.5"]),
    (["--limit", "max_layers=10"], ["--harness-limit", "max_layers=10"]),
    (["--impl", MINE, "-f", "numpy"], ["--harness-impl", MINE, "--harness-frameworks", "numpy"]),
    (["--impl", MINE, "--impl", MINE], ["--harness-impl", MINE, "--harness-impl", MINE]),
    (["--no-compile-cache"], ["--harness-no-compile-cache"]),
]

REFUSED = [
    (["-f", "numpyy"], ["--harness-frameworks", "numpyy"], "unknown framework 'numpyy'"),
    (["-f", "torch@tpu"], ["--harness-frameworks", "torch@tpu"], "unknown device 'tpu'"),
    (["-f", "numpy@cuda"], ["--harness-frameworks", "numpy@cuda"], "cannot be given a device"),
    (["-f", ","], ["--harness-frameworks", ","], "expected at least one framework"),
    (["--reference", "fd"], ["--harness-reference", "fd"], "an oracle checks a framework"),
    (["--reference", "nope"], ["--harness-reference", "nope"], "unknown framework"),
    (["--self-check", "jax-fwd"], ["--harness-self-check", "jax-fwd"], "an oracle"),
    (["--precision", "max"], ["--harness-precision", "max"], "expected one of"),
    (["--isolation", "thread"], ["--harness-isolation", "thread"], "expected one of"),
    (["--variants", "-1"], ["--harness-variants", "-1"], "whole number of at least 0"),
    (["--variants", "two"], ["--harness-variants", "two"], "whole number of at least 0"),
    (["--timeout", "0"], ["--harness-timeout", "0"], "finite number of seconds above 0"),
    (["--timeout", "inf"], ["--harness-timeout", "inf"], "finite number of seconds above 0"),
    (["--timeout", "soon"], ["--harness-timeout", "soon"], "a number of seconds"),
    (["--limit", "max_layer=3"], ["--harness-limit", "max_layer=3"], "unknown limit"),
    (["--impl", "missing.py"], ["--harness-impl", "missing.py"], "missing.py: no such file"),
    (["--impl", str(ROOT / "examples")], ["--harness-impl", str(ROOT / "examples")], "a folder"),
    (["--impl", str(ROOT / "README.md")], ["--harness-impl", str(ROOT / "README.md")],
     "expected a Python file"),
    (["--timeout", "1e7"], ["--harness-timeout", "1e7"], "expected at most 2e+06 seconds"),
    (["--variants", "100000"], ["--harness-variants", "100000"], "at most 1000"),
    (["--out", " "], ["--harness-out", " "], "expected a folder for the reports, found nothing"),
    (["--reference", "torch@cuda"], ["--harness-reference", "torch@cuda"], "bare name"),
    (["-f", "@cuda"], ["--harness-frameworks=@cuda"], "expected a framework before '@'"),
    (["-f", "Torch"], ["--harness-frameworks", "Torch"], "(did you mean 'torch'?)"),
    (["--reference", "pytorch"], ["--harness-reference", "pytorch"], "(did you mean 'torch'?)"),
]


def from_command_line(args: list[str]) -> RunSpec:
    args = cli.build_parser().parse_args(["run", *args])
    return make_spec(run_command.settings(args), CLI_OPTIONS)


def from_pytest(pytester, args: list[str]) -> RunSpec:
    config = pytester.parseconfig(*args)
    return make_spec(plugin.settings(config), PYTEST_OPTIONS)


def comparable(spec: RunSpec) -> RunSpec:
    """The fields the front ends share: the report folder's default differs (results/ for the
    command line; none for pytest, which writes one only with --harness-out), and pytest writes
    no repro folders (its runs' traces stay in its workers)."""
    return replace(spec, out=None, repro=True)


@pytest.mark.parametrize("command_line, options", SAME)
def test_the_same_settings_give_the_same_specification(pytester, command_line, options):
    ours, theirs = from_command_line(command_line), from_pytest(pytester, options)
    assert comparable(ours) == comparable(theirs)
    assert ours.out == "results" and theirs.out is None and not theirs.repro


def test_each_setting_reaches_the_specification(pytester):
    spec = from_command_line(["-f", "numpy,torch@cpu", "--reference", "torch", "--precision",
                              "highest", "--self-check", "numpy", "--variants", "1",
                              "--isolation", "none", "--timeout", "7", "--jobs", "3",
                              "--limit", "max_layers=10", "--out", str(pytester.path / "o"),
                              "--no-repro", "--no-compile-cache"])
    assert spec.parties == ("numpy", "torch@cpu") and spec.reference == "torch"
    assert (spec.precision, spec.self_check, spec.variants, spec.isolation, spec.timeout,
            spec.jobs) == ("highest", ("numpy",), 1, "none", 7.0, 3)
    assert spec.limits.max_layers == 10 and spec.chosen and not spec.repro
    assert not spec.compile_cache and spec.out == str(pytester.path / "o")


@pytest.mark.parametrize("command_line, options, words", REFUSED)
def test_the_same_mistake_gives_the_same_usage_error(pytester, command_line, options, words):
    with pytest.raises(UsageError) as ours:
        from_command_line(command_line)
    with pytest.raises(UsageError) as theirs:
        from_pytest(pytester, options)
    assert words in str(ours.value)
    assert str(theirs.value) == str(ours.value).replace("--", "--harness-", 1) or \
        str(theirs.value).replace("--harness-", "--") == str(ours.value)


def test_an_implementation_given_twice_is_one_party():
    spec = from_command_line(["--impl", MINE, "--impl", MINE, "-f", "numpy"])
    assert spec.parties == ("numpy", "mine") and spec.implementations == ("mine",)


def test_an_implementation_may_not_take_a_name_reports_give_other_parties(tmp_path):
    for name in ("self", "expected", "unclear"):
        path = tmp_path / f"{name}.py"
        path.write_text("def forward_backward(params, x, y):\n    return {}\n")
        with pytest.raises(UsageError, match="rename the file"):
            from_command_line(["--impl", str(path)])


def test_environment_mistakes_are_refused_by_both(pytester, monkeypatch):
    for name, value, words in [("HARNESS_JOBS", "0", "HARNESS_JOBS"),
                               ("HARNESS_WORKER_START", "fork", "HARNESS_WORKER_START"),
                               ("HARNESS_LIMITS", "max_layers=x", "HARNESS_LIMITS")]:
        monkeypatch.setenv(name, value)
        with pytest.raises(UsageError, match=words):
            from_command_line([])
        with pytest.raises(UsageError, match=words):
            from_pytest(pytester, [])
        monkeypatch.delenv(name)


def test_both_front_ends_refuse_with_exit_2_and_no_traceback(pytester, tmp_path, capsys):
    taken = tmp_path / "a-file"
    taken.write_text("mine")
    assert cli.main(["run", "--out", str(taken), "-q"]) == 2
    assert "--out" in capsys.readouterr().err
    result = pytester.runpytest("--harness-out", str(taken))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--harness-out" in result.stderr.str() and "Traceback" not in result.stderr.str()
    assert taken.read_text() == "mine"


RECORDING_CONFTEST = """
from harness.running import spec

original = spec.Run.case


def recorded(self, case, dtype, lane=0):
    with open("reached.txt", "a") as handle:
        handle.write(f"pytest {case.name} {dtype}\\n")
    return original(self, case, dtype, lane)


spec.Run.case = recorded
"""


def test_both_front_ends_reach_the_run_through_run_case(pytester, monkeypatch, tmp_path):
    reached: list[str] = []
    original = spec_module.Run.case

    def recorded(self, case, dtype, lane=0):
        reached.append(f"cli {case.name} {dtype}")
        return original(self, case, dtype, lane)

    monkeypatch.setattr(spec_module.Run, "case", recorded)
    folder = pytester.path / "cases"
    folder.mkdir()
    (folder / "neuron.yaml").write_text(sigmoid_neuron_text(), encoding="utf-8")
    # the frameworks run in worker processes: pytester unloads, when this test ends, every
    # module imported since it began, and torch cannot be imported twice in one process
    assert cli.main(["run", str(folder), "-f", "numpy,torch", "-q",
                     "--out", str(tmp_path / "out")]) == 0
    # pytest in a process of its own, its conftest recording the same way
    pytester.makeconftest(RECORDING_CONFTEST)
    result = pytester.runpytest_subprocess("-p", "no:xdist", "--harness-cases", "cases",
                                           "--harness-frameworks", "numpy,torch")
    result.assert_outcomes(passed=2)  # numpy (golden values) and torch
    reached += (pytester.path / "reached.txt").read_text().splitlines()
    assert reached == ["cli neuron float64", "pytest neuron float64"]


def test_every_setting_is_an_option_of_both_front_ends(pytester):
    settings = {f.name for f in fields(spec_module.Settings)}
    assert set(CLI_OPTIONS) <= settings and set(PYTEST_OPTIONS) == set(CLI_OPTIONS) - {"jobs"}
    run = cli.build_parser().parse_args(["run"])
    assert all(hasattr(run, name) for name in CLI_OPTIONS if name != "limits")
    config = pytester.parseconfig()
    for name, option in PYTEST_OPTIONS.items():  # an unknown one raises ValueError
        config.getoption(option[2:].replace("-", "_"))


def test_every_pytest_option_is_in_its_page_and_no_other(pytester):
    import re

    page = (ROOT / "docs" / "pytest.md").read_text(encoding="utf-8")
    table = [line.split("|")[1] for line in page.splitlines() if line.startswith("| `--harness-")]
    documented = {name for cell in table for name in re.findall(r"--harness-[a-z-]+", cell)}
    config = pytester.parseconfig()
    group = config._parser.getgroup("harness")
    offered = {name for option in group.options for name in option.names()
               if name.startswith("--harness-")}
    assert offered == documented
