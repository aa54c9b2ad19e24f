"""examples/ci/harness.yml, the example GitHub Actions workflow: every `python -m harness` command
in it is one the parser takes, each sharded matrix covers its shards 1..N exactly, and it
installs what the README installs."""
from __future__ import annotations

import itertools
import re
import shlex

import pytest
import yaml

from conftest import ROOT
from harness.cli import build_parser
from harness.running.shards import parse as parse_shard

WORKFLOW = ROOT / "examples" / "ci" / "harness.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
GITHUB = {"github.run_number": "17"}  # the github context's values a command may use


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def matrices(job: dict) -> list[dict[str, str]]:
    """Every combination of the job's matrix, as ``matrix.NAME`` -> value."""
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    names = sorted(matrix)
    return [{f"matrix.{n}": str(v) for n, v in zip(names, values)}
            for values in itertools.product(*(matrix[n] for n in names))]


def commands(job: dict) -> list[str]:
    """The `python -m harness …` commands of the job's run steps, as written (with `${{ }}`)."""
    found = []
    for step in job.get("steps", []):
        script = str(step.get("run", "")).replace("\\\n", " ")
        for line in script.splitlines():
            for command in re.split(r"&&|\|\||;", line):
                if "python -m harness" in command:
                    found.append(command[command.index("python -m harness"):].strip())
    return found


def expanded(command: str, values: dict[str, str]) -> list[str]:
    def value(found):
        assert found.group(1) in values, f"{found.group(1)} has no value here: {command}"
        return values[found.group(1)]
    return shlex.split(EXPRESSION.sub(value, command))[3:]  # after `python -m harness`


def every_command():
    for name, job in workflow()["jobs"].items():
        for combination in matrices(job) or [{}]:
            for command in commands(job):
                yield name, command, expanded(command, {**GITHUB, **combination})


def test_the_workflow_runs_the_suite_fuzz_and_merge():
    jobs = workflow()["jobs"]
    said = [(name, argv[0]) for name, _, argv in every_command()]
    assert {command for _, command in said} == {"run", "fuzz", "merge"}
    assert jobs["merge"]["needs"] == ["suite", "fuzz"] and jobs["merge"]["if"] == "always()"


@pytest.mark.parametrize("job, command, argv", list(every_command()),
                         ids=lambda x: x if isinstance(x, str) and " " not in x else None)
def test_every_harness_command_is_one_the_parser_takes(job, command, argv):
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    if argv[0] == "fuzz" and "fuzz" not in subcommands:
        pytest.skip("the fuzz command is not in this checkout yet")
    args = parser.parse_args(argv)  # a mistake is SystemExit(2) here (fuzz's --shard too)
    if argv[0] == "run" and args.shard is not None:
        parse_shard(args.shard)  # run's is checked by the run specification, not by argparse


def test_each_sharded_matrix_covers_its_shards_exactly():
    sharded = 0
    for name, job in workflow()["jobs"].items():
        for command in commands(job):
            if "--shard" not in command:
                continue
            sharded += 1
            shards = [parse_shard(dict(zip(argv, argv[1:]))["--shard"])
                      for argv in (expanded(command, {**GITHUB, **c}) for c in matrices(job))]
            counts = {shard.count for shard in shards}
            assert len(counts) == 1, (name, counts)
            assert sorted(s.index for s in shards) == list(range(1, counts.pop() + 1)), name
    assert sharded == 2  # the suite and fuzz


def test_every_shard_keeps_its_folder_and_merge_takes_the_suites():
    jobs = workflow()["jobs"]
    for name in ("suite", "fuzz"):
        outs = {dict(zip(argv, argv[1:]))["--out"] for job, _, argv in every_command()
                if job == name}
        kept = {step["with"]["path"] for step in jobs[name]["steps"]
                if "upload-artifact" in str(step.get("uses"))}
        assert {o.rsplit("-", 1)[0] + "-${{ matrix.shard }}" for o in outs} == kept
        assert all(step.get("if") == "always()" for step in jobs[name]["steps"]
                   if "upload-artifact" in str(step.get("uses")))
    merged = next(argv for job, _, argv in every_command() if job == "merge")
    assert merged[1:] == ["reports/suite-*", "--out", "reports/merged"]
    summary = " ".join(str(step.get("run", "")) for step in jobs["merge"]["steps"])
    assert "reports/merged/report.md" in summary and "$GITHUB_STEP_SUMMARY" in summary


def test_it_installs_torch_pinned_as_the_readme_does():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pin = re.search(r'"(torch==[0-9.]+)"', readme).group(1)
    installs = [str(step["run"]) for job in workflow()["jobs"].values() for step in job["steps"]
                if str(step.get("name")) == "Install"]
    assert sum(f'"{pin}" -e .' in command for command in installs) == 2  # suite and fuzz
    assert all("torch" in command or "--no-deps" in command for command in installs)
