"""A bare framework name runs on the CPU, wherever the run is, and the report says where."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

PROBE = """
import os
from harness.adapters import get_adapter
from harness.adapters.jax_adapter import import_jax
from harness.format.loader import load_cases
from harness.adapters import known_parties
case = load_cases(['cases/golden/sigmoid-neuron.yaml'], known_parties())[0].for_dtype('float64')
trace = get_adapter('jax').run(case, case.inputs('float64'))
print(os.environ.get('JAX_PLATFORMS'), os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE'))
print([n for n in trace.notes if n.startswith('ran on')][0])
torch_trace = get_adapter('torch').run(case, case.inputs('float64'))
print([n for n in torch_trace.notes if n.startswith('ran on')][0])
"""


def probe(env: dict) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_bare_jax_is_pinned_to_the_cpu_without_preallocation():
    env = {k: v for k, v in os.environ.items()
           if k not in ("JAX_PLATFORMS", "XLA_PYTHON_CLIENT_PREALLOCATE")}
    platforms, first, torch_line = probe(env)
    assert platforms.split() == ["cpu", "false"]
    assert first.startswith("ran on cpu") and "JAX_PLATFORMS=cpu" in first
    assert torch_line.startswith("ran on the cpu; float32 matmul precision")


def test_a_users_own_settings_are_respected():
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_PYTHON_CLIENT_PREALLOCATE="true")
    platforms, _, _ = probe(env)
    assert platforms.split() == ["cpu", "true"]  # set by the user: left as they are


# -- devices: torch@cuda, jax@gpu, and their CPU spellings ------------------------------------
import csv  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
from dataclasses import replace  # noqa: E402

import pytest  # noqa: E402

from conftest import CASES, GOOD_CASE, sigmoid_neuron_text  # noqa: E402
from harness.adapters import known_parties, get_adapter  # noqa: E402
from harness.format.case import KnownDiscrepancy  # noqa: E402
from harness.format.parties import canonical  # noqa: E402
from harness.running.devices import worker_environment, worker_key  # noqa: E402
from harness.format.loader import load_case  # noqa: E402

NEURON = CASES / "golden" / "sigmoid-neuron.yaml"
PARTIES = "numpy,torch@cuda,jax@gpu,jax@cpu,torch@cpu"


def _gpu_here() -> bool:
    import torch

    return torch.cuda.is_available()


def cli(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def cpu_machine_run(tmp_path_factory):
    """The issue's command on a machine without a GPU: GPU parties skip, CPU parties conform."""
    if _gpu_here():
        pytest.skip("a GPU is present: the GPU parties run instead of skipping")
    out = tmp_path_factory.mktemp("devices")
    result = cli("run", str(NEURON), "--frameworks", PARTIES + ",torch,jax", "--out", str(out))
    with open(out / "report.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return result, rows, out


def test_gpu_parties_are_skips_with_the_reason_and_cpu_parties_conform(cpu_machine_run):
    result, rows, _ = cpu_machine_run
    assert result.returncode == 0, result.stdout + result.stderr
    by = {}
    for row in rows:
        by.setdefault(row["framework"], set()).add(row["status"])
    assert by["torch@cuda"] == {"skip"} and by["jax@gpu"] == {"skip"}
    assert by["torch@cpu"] == by["jax@cpu"] == by["torch"] == by["jax"] == {"pass"}
    reasons = {r["framework"]: r["message"] for r in rows if r["status"] == "skip"}
    assert reasons["torch@cuda"].startswith("torch@cuda: no CUDA device (torch.cuda.is_available()")
    assert reasons["jax@gpu"].startswith("jax@gpu: no GPU backend in jax ")
    assert "jax.devices('gpu') failed" in reasons["jax@gpu"]


def test_a_cpu_spelling_gives_the_same_rows_as_the_bare_name(cpu_machine_run):
    _, rows, _ = cpu_machine_run
    ignore = ("framework", "suspect", "agreeing")
    for bare in ("torch", "jax"):
        same = [[{k: v for k, v in r.items() if k not in ignore} for r in rows
                 if r["framework"] == name] for name in (bare, f"{bare}@cpu")]
        assert same[0] == same[1] and same[0]


def test_precision_settings_reach_run_json_and_report_md(cpu_machine_run):
    _, _, out = cpu_machine_run
    notes = json.loads((out / "run.json").read_text())["runs"][0]["notes"]
    torch_note = [n for n in notes["torch@cpu"] if n.startswith("precision default")][0]
    assert "torch.get_float32_matmul_precision()=" in torch_note
    assert "torch.backends.cuda.matmul.allow_tf32=" in torch_note
    assert "torch.backends.cudnn.allow_tf32=" in torch_note
    jax_note = [n for n in notes["jax@cpu"] if n.startswith("precision default")][0]
    assert "device cpu" in jax_note and "jax_default_matmul_precision=None" in jax_note
    assert "jax_default_matmul_precision" in (out / "report.md").read_text()


@pytest.mark.parametrize("name, named", [("numpy@cuda", "torch@cuda"), ("torch@tpu", "torch@cuda"),
                                         ("jax@tpu", "jax@gpu"), ("torchh", "torch")])
def test_a_bad_device_name_is_a_usage_error_naming_the_valid_ones(name, named):
    result = cli("run", str(NEURON), "--frameworks", f"numpy,{name}", "--out", "/nonexistent")
    assert result.returncode == 2
    assert name in result.stderr and named in result.stderr


def test_party_names_are_parsed_with_jax_cuda_as_jax_gpu():
    names, problems = known_parties().parse(["torch@cuda", "jax@cuda", "jax", "torch@cpu"])
    assert names == ["torch@cuda", "jax@gpu", "jax", "torch@cpu"] and problems == []
    assert canonical("jax@cuda") == "jax@gpu" and get_adapter("jax@cuda").name == "jax@gpu"
    assert get_adapter("torch@cuda").name == "torch@cuda"
    assert not get_adapter("numpy@cuda").availability().available


def test_the_plugin_refuses_a_bad_device_name(pytester):
    pytester.makefile(".ini", pytest="[pytest]\nharness_cases = cases\n")
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text()})
    result = pytester.runpytest("-q", "--harness-frameworks", "numpy,torch@tpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "torch@tpu" in result.stderr.str() and "torch@cuda" in result.stderr.str()


def test_a_case_names_devices_and_a_bad_one_is_a_problem_of_its_field(load):
    case, problems = load(GOOD_CASE + "frameworks: [numpy, torch@cuda, jax@cuda]\n")
    assert problems == [] and case.frameworks == ("numpy", "torch@cuda", "jax@gpu")
    assert case.wants("torch@cuda") and not case.wants("torch") and not case.wants("torch@cpu")
    _, problems = load(GOOD_CASE + "frameworks: [numpy, numpy@cuda]\n")
    assert len(problems) == 1 and problems[0].field == "frameworks[1]"
    assert "numpy@cuda" in problems[0].message and "torch@cuda" in problems[0].message


def test_a_bare_framework_in_a_case_wants_it_on_any_device(load):
    case, _ = load(GOOD_CASE + "frameworks: [numpy, torch]\n")
    assert case.wants("torch") and case.wants("torch@cuda") and not case.wants("jax@gpu")


def test_precision_is_validated_like_any_field(load):
    case, problems = load(GOOD_CASE + "precision: highest\n")
    assert problems == [] and case.precision == "highest"
    case, _ = load(GOOD_CASE)
    assert case.precision is None
    _, problems = load(GOOD_CASE + "precision: tf32\n")
    assert [p.field for p in problems] == ["precision"]
    assert "tf32" in problems[0].message and "highest" in problems[0].message


def test_the_run_option_fills_in_only_cases_without_their_own_precision(load):
    from harness.adapters.precision import apply_option

    own, _ = load(GOOD_CASE + "precision: default\n")
    unset, _ = load(GOOD_CASE, name="other.yaml")
    done = apply_option([own, unset], "highest")
    assert [c.precision for c in done] == ["default", "highest"]


def _neuron(precision=None):
    case, _ = load_case(NEURON, known_parties())
    return replace(case.for_dtype("float32"), dtypes=("float32",), precision=precision)


def test_highest_precision_sets_torch_for_the_run_and_restores_it():
    import torch

    case = _neuron("highest")
    saved = (torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    try:
        torch.set_float32_matmul_precision("high")  # TF32 allowed for CUDA matmuls
        torch.backends.cudnn.allow_tf32 = True
        trace = get_adapter("torch").run(case, case.inputs("float32"))
        note = [n for n in trace.notes if n.startswith("precision highest")][0]
        assert "get_float32_matmul_precision()=highest" in note
        assert "matmul.allow_tf32=False" in note and "cudnn.allow_tf32=False" in note
        assert (torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32,
                torch.backends.cudnn.allow_tf32) == ("high", True, True)  # nothing leaks
        trace = get_adapter("torch").run(_neuron(), case.inputs("float32"))
        assert any("get_float32_matmul_precision()=high," in n for n in trace.notes)
    finally:
        torch.backends.cudnn.allow_tf32 = saved[2]
        torch.set_float32_matmul_precision(saved[0])


def test_the_jax_program_cache_key_includes_the_precision():
    from harness.adapters.jax_program import program_key

    shapes = (("x", (1, 2), "float32"),)
    assert program_key(_neuron(), shapes) == program_key(_neuron("default"), shapes)
    assert program_key(_neuron(), shapes) != program_key(_neuron("highest"), shapes)


def test_jax_compiles_at_highest_precision_and_says_so():
    case = _neuron("highest")
    trace = get_adapter("jax@cpu").run(case, case.inputs("float32"))
    assert any("jax_default_matmul_precision=highest" in n for n in trace.notes)


def test_a_known_discrepancy_holds_on_its_device_only():
    anywhere = KnownDiscrepancy("jax", "r", quantity="output")
    on_gpu = KnownDiscrepancy("jax", "r", quantity="output", device="gpu")
    on_cpu = KnownDiscrepancy("jax", "r", quantity="output", device="cpu")
    assert all(anywhere.applies_to(p) for p in ("jax", "jax@cpu", "jax@gpu"))
    assert [on_gpu.applies_to(p) for p in ("jax", "jax@cpu", "jax@gpu")] == [False, False, True]
    assert [on_cpu.applies_to(p) for p in ("jax", "jax@cpu", "jax@gpu")] == [True, True, False]
    assert not anywhere.applies_to("torch") and on_gpu.party == "jax@gpu"


def test_both_spellings_of_a_device_declaration_load(load):
    known = ("known_discrepancies:\n  - {framework: jax@cuda, quantity: output, reason: r}\n"
             "  - {framework: jax, device: cpu, quantity: loss, reason: r}\n")
    case, problems = load(GOOD_CASE + known)
    assert problems == []
    assert [(k.framework, k.device) for k in case.known_discrepancies] == [("jax", "gpu"),
                                                                           ("jax", "cpu")]
    _, problems = load(GOOD_CASE + "known_discrepancies:\n  - {framework: jax@gpu, device: cpu, "
                                   "quantity: output, reason: r}\n", name="both.yaml")
    assert [p.field for p in problems] == ["known_discrepancies[0].device"]


def test_flush_to_zero_is_excused_for_jax_on_the_cpu_but_not_for_jax_on_a_gpu():
    """cases/edge/near-smallest-normal.yaml declares it with device: cpu; moved to the GPU, the
    same declaration no longer turns the CPU's failure into xfail."""
    from harness.running.runner import run_case

    case, _ = load_case(CASES / "edge" / "near-smallest-normal.yaml", known_parties())
    statuses = lambda c: {r.status for r in run_case(c, "float32", ["jax"]).rows}  # noqa: E731
    assert "xfail" in statuses(case) and "fail" not in statuses(case)
    moved = replace(case, known_discrepancies=tuple(
        replace(k, device="gpu") for k in case.known_discrepancies))
    assert "fail" in statuses(moved) and "xfail" not in statuses(moved)


def test_the_worker_is_chosen_from_the_party_and_its_environment_set_before_jax():
    assert [worker_key(p) for p in ("numpy", "torch", "jax@cpu", "fd", "torch@cuda",
                                    "jax@gpu")] == ["cpu"] * 4 + ["gpu"] * 2
    assert worker_environment("gpu", {}) == {"JAX_PLATFORMS": "cuda",
                                             "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    assert worker_environment("cpu", {})["JAX_PLATFORMS"] == "cpu"
    users = {"JAX_PLATFORMS": "cpu", "XLA_PYTHON_CLIENT_PREALLOCATE": "true"}
    assert worker_environment("gpu", users) == {}  # the user's own choice is kept
    pinned = {"JAX_PLATFORMS": "cpu", "HARNESS_PINNED_JAX_PLATFORMS": "cpu"}
    assert worker_environment("gpu", pinned)["JAX_PLATFORMS"] == "cuda"  # the harness's is not


def test_gpu_parties_get_a_worker_process_of_their_own(monkeypatch):
    from harness.running.workers import WorkerPool

    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    monkeypatch.delenv("HARNESS_PINNED_JAX_PLATFORMS", raising=False)
    platforms = functools.partial(os.getenv, "JAX_PLATFORMS")
    with WorkerPool() as pool:
        assert pool.call("jax", platforms) == "cpu"
        assert pool.call("torch@cuda", platforms) == "cuda"
        assert pool.call("jax@gpu", os.getpid) != pool.call("numpy", os.getpid)
        assert pool.started == 2


def test_device_discovery_is_asked_in_the_adapter(monkeypatch):
    """What a GPU machine answers, mocked: a party whose device is there is not skipped."""
    import torch

    case = _neuron()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_adapter("torch@cuda").supports(case) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "no CUDA device" in get_adapter("torch@cuda").supports(case)
    from harness.adapters import jax_adapter

    jax = jax_adapter.import_jax()
    monkeypatch.setattr(jax, "devices", lambda *a: ["a GPU"])
    assert get_adapter("jax@gpu").supports(case) is None
    assert get_adapter("jax").supports(case) is None  # the CPU is never asked about


def test_shipped_gpu_cases_are_skips_on_a_machine_without_a_gpu(tmp_path):
    if _gpu_here():
        pytest.skip("a GPU is present")
    result = cli("run", str(CASES / "gpu"), str(NEURON), "--out", str(tmp_path), "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / "report.csv", newline="") as handle:
        gpu = [r for r in csv.DictReader(handle) if r["case"].startswith("gpu-")]
    assert {(r["framework"], r["status"]) for r in gpu} == {("torch@cuda", "skip"),
                                                            ("jax@gpu", "skip")}
    assert "warning" not in result.stderr
