"""Speed without changing a verdict: lanes (--jobs), warm workers, pinned threads, JAX's
compiled programs reused, and pytest-xdist keeping a case's items on one worker."""
from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from conftest import CASES, ROOT, sigmoid_neuron_text
from harness.adapters import known_parties
from harness.cli import main
from harness.running.spec import default_jobs, lane_count
from harness.running.lanes import in_lanes
from harness.running.workers import WorkerPool


# -- lanes ----------------------------------------------------------------------------------------
def test_lanes_return_results_in_the_items_order_whatever_finishes_first():
    """The first items take longest, so they finish last: the results still come in order."""
    seen: dict[str, set] = {}

    def work(item: int, lane: str) -> int:
        seen.setdefault(lane, set()).add(item)
        time.sleep(0.05 * (6 - item))
        return item * 10

    assert in_lanes(list(range(6)), ["a", "b"], work) == [0, 10, 20, 30, 40, 50]
    assert set(seen) == {"a", "b"}  # both lanes worked
    assert seen["a"].isdisjoint(seen["b"])  # no item ran twice


def test_a_lane_that_raises_stops_the_others_and_the_error_reaches_the_caller():
    started = []

    def work(item: int, lane) -> int:
        started.append(item)
        if item == 0:
            raise ValueError("boom")
        time.sleep(0.05)
        return item

    stopped = threading.Event()
    with pytest.raises(ValueError, match="boom"):
        in_lanes(list(range(40)), [1, 2], work, stopped)
    assert stopped.is_set() and len(started) < 40


def test_one_lane_runs_in_this_thread():
    threads = set()
    in_lanes([1, 2, 3], [None], lambda item, lane: threads.add(threading.get_ident()))
    assert threads == {threading.get_ident()}


def test_lanes_default_to_the_usable_cores_and_never_exceed_the_cases(monkeypatch):
    monkeypatch.delenv("HARNESS_JOBS", raising=False)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert lane_count(None, 1000) == cores
    assert lane_count(8, 3) == 3 and lane_count(2, 0) == 1 and lane_count(1, 50) == 1



def test_harness_jobs_sets_the_lanes_a_run_gives_no_jobs_for(monkeypatch):
    monkeypatch.setenv("HARNESS_JOBS", "3")
    assert lane_count(default_jobs(), 1000) == 3 and lane_count(2, 1000) == 2  # --jobs wins


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_harness_jobs_is_a_usage_error_before_anything_runs(monkeypatch, tmp_path, capsys,
                                                                  value):
    monkeypatch.setenv("HARNESS_JOBS", value)
    assert main(["run", str(CASES / "golden" / "sigmoid-neuron.yaml"), "-q",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"HARNESS_JOBS: expected a whole number of at least 1, found {value!r}" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()

# -- warm workers, pinned threads -----------------------------------------------------------------
def test_one_worker_process_serves_every_job_of_its_lane():
    with WorkerPool(timeout=120) as pool:
        pids = {pool.call(party, os.getpid) for party in ("numpy", "torch", "jax", "numpy")}
        assert len(pids) == 1 and os.getpid() not in pids
        assert pool.started == 1


def test_a_worker_is_restarted_after_a_crash_and_the_pool_counts_it():
    with WorkerPool(timeout=120) as pool:
        first = pool.call("numpy", os.getpid)
        result, skip, error = pool.call("numpy", functools.partial(os._exit, 3))
        assert result is None and "died (exit code 3)" in error and "numpy" in error
        assert pool.call("numpy", os.getpid) != first and pool.started == 2


def test_a_closed_pool_starts_no_worker():
    pool = WorkerPool(timeout=60)
    pool.close()
    result, _, error = pool.call("numpy", os.getpid)
    assert result is None and "stopped" in error and pool.started == 0


def test_workers_run_one_compute_thread_each(monkeypatch):
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "XLA_FLAGS"):
        monkeypatch.delenv(name, raising=False)
    torch = pytest.importorskip("torch")
    with WorkerPool(timeout=120) as pool:
        assert pool.call("numpy", functools.partial(os.getenv, "OMP_NUM_THREADS")) == "1"
        assert pool.call("torch", torch.get_num_threads) == 1
        assert pool.call("jax", functools.partial(os.getenv, "XLA_FLAGS")) is None  # its own


def test_a_thread_count_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with WorkerPool(timeout=120) as pool:
        assert pool.call("numpy", functools.partial(os.getenv, "OMP_NUM_THREADS")) == "3"


# -- the report does not depend on --jobs ---------------------------------------------------------
SMALL_CASES = ["activations/gelu-tanh.yaml", "losses/cross-entropy-sum.yaml",
               "optimizers/adam.yaml", "networks/deep-mixed-5-layers.yaml"]


@pytest.fixture(scope="module")
def reports_by_jobs(tmp_path_factory):
    """The same four cases through numpy, torch, jax and micrograd with --jobs 1 and 2."""
    base = tmp_path_factory.mktemp("jobs")
    paths = [str(CASES / name) for name in SMALL_CASES if (CASES / name).exists()]
    assert len(paths) >= 3, "pick small shipped cases that exist"
    out = {}
    for jobs in (1, 2):
        folder = base / f"jobs{jobs}"
        code = main(["run", *paths, "-q", "--no-repro", "--frameworks",
                     "numpy,torch,jax,micrograd", "--jobs", str(jobs), "--out", str(folder)])
        assert code == 0
        out[jobs] = folder
    return out


def test_report_csv_is_byte_identical_with_one_lane_and_two_apart_from_micrograd(reports_by_jobs):
    import csv

    def rows(folder, keep):
        with open(folder / "report.csv", newline="") as handle:
            return [row for row in csv.reader(handle) if keep(row)]
    one, two = reports_by_jobs[1], reports_by_jobs[2]
    not_micrograd = lambda row: row[3] != "micrograd"  # noqa: E731
    assert len(rows(one, not_micrograd)) > 100
    assert rows(one, not_micrograd) == rows(two, not_micrograd)
    # micrograd sums a node's gradient contributions in an order its backward() takes from a
    # set (docs/frameworks.md): its last bits may move, its verdicts may not
    verdicts = lambda folder: [row[:9] for row in rows(folder, lambda r: True)]  # noqa: E731
    assert verdicts(one) == verdicts(two)


def test_run_json_records_the_lanes(reports_by_jobs):
    import json

    for jobs, folder in reports_by_jobs.items():
        assert json.loads((folder / "run.json").read_text())["options"]["jobs"] == jobs


# -- JAX: one compilation per program ---------------------------------------------------------------
def test_jax_reuses_a_compiled_program_and_gets_the_same_bits():
    pytest.importorskip("jax")
    import numpy as np

    from harness.adapters.jax_adapter import JaxAdapter
    from harness.format.loader import load_case

    case, problems = load_case(CASES / "optimizers" / "adam.yaml", known_parties())
    assert not problems
    narrowed, inputs = case.for_dtype("float64"), case.inputs("float64")
    first = JaxAdapter().run(narrowed, inputs)
    again = JaxAdapter().run(narrowed, inputs)
    assert again.timings["compile"] == 0.0  # the same program: taken from the cache
    for a, b in zip(first.steps, again.steps):
        for (_, name, x), (_, _, y) in zip(a.tensors(), b.tensors()):
            assert np.array_equal(x, y), name
    other = narrowed.__class__(**{**narrowed.__dict__, "optimizer": narrowed.optimizer.__class__(
        narrowed.optimizer.name, {**narrowed.optimizer.settings, "lr": 0.5})})
    changed = JaxAdapter().run(other, inputs)
    assert changed.timings["compile"] > 0  # the learning rate is a constant in the program
    assert not np.array_equal(changed.steps[0].params[case.param_names[0]],
                              first.steps[0].params[case.param_names[0]])


def test_jax_forward_mode_check_reuses_its_program_for_other_data():
    """The jax-fwd oracle's program takes the data as arguments: a second case of the same
    structure with other data compiles nothing, and its gradients are its own (jax.grad's)."""
    jax = pytest.importorskip("jax")
    import numpy as np

    from harness.adapters import jax_adapter, jax_ops
    from harness.format.loader import load_case

    case, problems = load_case(CASES / "optimizers" / "adam.yaml", known_parties())
    assert not problems
    narrowed, inputs = case.for_dtype("float64"), case.inputs("float64")
    indices = {name: np.array([0]) for name in case.param_names}
    adapter = jax_adapter.JaxAdapter()
    first = adapter.forward_and_reverse(narrowed, [inputs.params], inputs.x, inputs.y, indices)
    both = jax_adapter._forward_and_reverse(narrowed)
    compiles, listening = [], [True]  # JAX has no public way to remove a listener
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **kw: listening[0] and "backend_compile" in event
        and compiles.append(event))
    other_x = inputs.x * 1.5 + 0.25
    again = adapter.forward_and_reverse(narrowed, [inputs.params], other_x, inputs.y, indices)
    listening[0] = False
    assert jax_adapter._forward_and_reverse(narrowed) is both
    assert compiles == []  # same shapes: no new program
    loss = jax_ops.loss_function(narrowed, other_x, inputs.y)
    expected = jax.grad(loss)({k: np.asarray(v) for k, v in inputs.params.items()})
    for name in case.param_names:
        assert np.allclose(again[0][0][name], expected[name], rtol=1e-12, atol=0)
        assert not np.allclose(again[0][0][name], first[0][0][name])  # not the first data's
        # forward mode along the first basis direction: that element of the gradient
        assert np.isclose(again[0][1][name][0], np.asarray(expected[name]).reshape(-1)[0],
                          rtol=1e-12)


# -- pytest-xdist ---------------------------------------------------------------------------------
INI = "[pytest]\nharness_cases = cases\naddopts = -p no:cacheprovider -p no:randomly\n"


def test_xdist_keeps_every_item_of_a_case_on_one_worker(pytester):
    pytest.importorskip("xdist", reason="pytest-xdist is part of the test extra")
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{f"cases/n{k}": sigmoid_neuron_text(name=f"n{k}")
                                  for k in range(4)})
    args = ("--harness-frameworks", "numpy,torch,micrograd")
    result = pytester.runpytest("-v", "-n", "2", *args, "--harness-out", "parallel")
    workers: dict[str, set] = {}
    for line in result.outlines:
        found = re.match(r"\[(gw\d)\].*::(n\d)\[", line)
        if found:
            workers.setdefault(found.group(2), set()).add(found.group(1))
    assert set(workers) == {"n0", "n1", "n2", "n3"}
    assert all(len(on) == 1 for on in workers.values()), workers
    assert len(set().union(*workers.values())) == 2  # and both workers had cases
    # the cases finished in parallel, in any order: the report is still the serial run's
    pytester.runpytest("-q", *args, "--harness-out", "serial").assert_outcomes(passed=12)
    csv = [(pytester.path / d / "report.csv").read_text() for d in ("serial", "parallel")]
    assert csv[0] == csv[1] and csv[0].count("\n") > 30


def test_a_dist_mode_the_user_gives_is_kept(pytester):
    pytest.importorskip("xdist", reason="pytest-xdist is part of the test extra")
    pytester.makefile(".ini", pytest=INI)
    pytester.makefile(".yaml", **{"cases/n0": sigmoid_neuron_text(name="n0")})
    result = pytester.runpytest("-v", "-n", "2", "--dist", "each",
                                "--harness-frameworks", "numpy,torch")
    assert sum("n0[float64-torch]" in line and "PASSED" in line for line in result.outlines) == 2


# -- the time limit is per comparison: starts and imports run outside it ---------------------------
class _SlowImport:
    """A framework whose import (prepare) takes ``seconds``; its jobs are instant."""

    prepared = 0  # in the worker process: how many times prepare ran there

    def __init__(self, name: str, seconds: float):
        self.name, self.seconds = name, seconds

    def availability(self):
        from harness.adapters.base import Availability

        return Availability(True, "1")

    def supports(self, case):
        return None

    def prepare(self) -> None:
        type(self).prepared += 1
        time.sleep(self.seconds)

    def run(self, case, inputs):
        raise NotImplementedError


def _times_prepared() -> int:
    return _SlowImport.prepared


@pytest.fixture
def slow_import():
    from harness.adapters import register, unregister

    names = []

    def add(name: str, seconds: float) -> str:
        register(_SlowImport(name, seconds))
        names.append(name)
        return name

    yield add
    for name in names:
        unregister(name)


def test_a_slow_import_does_not_count_against_the_time_limit_and_runs_once(slow_import):
    party = slow_import("slowimport", 3)
    with WorkerPool(timeout=1) as pool:  # a third of the import's time
        assert pool.call(party, _times_prepared) == 1
        assert pool.call(party, _times_prepared) == 1  # the same worker: not imported again
        assert pool.started == 1


def test_an_import_that_hangs_is_stopped_by_the_start_up_limit_and_the_next_job_runs(slow_import):
    party = slow_import("hangsonimport", 600)
    with WorkerPool(timeout=60, prepare_timeout=2) as pool:
        result, skip, error = pool.call(party, os.getpid)
        assert result is None and skip is None
        assert "timed out after 2 s while hangsonimport's framework was imported" in error
        assert isinstance(pool.call("numpy", os.getpid), int) and pool.started == 2


class _DiesOnArrival:
    """Unpickled in the worker, it ends the process: a worker that dies while starting."""

    name = "diesonarrival"

    def __reduce__(self):
        return os._exit, (4,)


def test_a_worker_that_dies_while_starting_is_an_error_for_the_job_not_a_hang():
    from harness.adapters import register, unregister

    register(_DiesOnArrival())
    try:
        with WorkerPool(timeout=60) as pool:
            result, skip, error = pool.call("numpy", os.getpid)
    finally:
        unregister(_DiesOnArrival.name)
    assert result is None and skip is None
    assert error == ("the worker process died while starting (exit code 4); numpy could not run "
                     "this case")


# -- CPU workers forked from a fork server that has imported the frameworks ----------------------
def _fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter (nothing imported there before it)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _forked_from_the_server() -> bool:
    """Whether this worker holds the fork server's imports (the first pool to start a worker
    chose which frameworks; harness.running.preload is always among them)."""
    return "harness.running.preload" in sys.modules


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_the_fork_servers_imports_start_no_thread():
    """Forking is safe only from a process with one thread: harness.running.preload must start none,
    whatever torch and JAX versions are installed."""
    assert _fresh_python("import os, harness.running.preload, harness.running.preload_torch, "
                         "harness.running.preload_jax; print(len(os.listdir('/proc/self/task')))") == "1"


def test_cpu_workers_start_with_the_frameworks_imported_and_the_runs_environment(monkeypatch):
    from harness.running.workers import _start_method

    if _start_method("cpu") != "forkserver":
        pytest.skip("no fork server here (platform, or an environment changed by another test)")
    monkeypatch.setenv("HARNESS_TEST_MARK", "this run's")  # set after the server started
    with WorkerPool(timeout=120) as pool:
        assert pool.call("numpy", _forked_from_the_server) is True
        assert pool.call("numpy", functools.partial(os.getenv, "HARNESS_TEST_MARK")) == \
            "this run's"
    monkeypatch.setenv("HARNESS_WORKER_START", "spawn")
    with WorkerPool(timeout=120) as pool:
        assert pool.call("numpy", _forked_from_the_server) is False


def test_the_fork_server_imports_only_the_frameworks_of_the_runs_parties():
    from harness.running.workers import preload_modules

    assert preload_modules(["numpy", "mine"]) == ["harness.running.preload"]
    assert preload_modules(["numpy", "torch-fwd"]) == ["harness.running.preload", "harness.running.preload_torch"]
    assert preload_modules(["numpy", "jax@cpu"]) == ["harness.running.preload", "harness.running.preload_jax"]
    assert preload_modules(None) == ["harness.running.preload", "harness.running.preload_torch",
                                     "harness.running.preload_jax"]


def test_a_torch_partys_preparation_imports_what_its_first_job_would():
    """Else a spawned worker (GPU, HARNESS_WORKER_START=spawn) pays torch._dynamo's import, about
    a second, inside its first timed job: a false time-out under a short --timeout."""
    assert _fresh_python("import sys; from harness.adapters.torch_adapter import TorchAdapter; "
                         "TorchAdapter().prepare(); print(sorted({'torch._dynamo', "
                         "'torch.optim', 'torch.func'} - set(sys.modules)))") == "[]"


def test_running_torch_and_jax_in_this_process_keeps_the_fork_server_usable():
    """torch and JAX set variables of their own when used; were they compared, every pool after
    an in-process run would spawn its workers (slower, silently)."""
    code = ("from harness.running.workers import _import_environment as env; before = env(); "
            "import torch; p = torch.zeros(2, requires_grad=True); "
            "o = torch.optim.SGD([p], lr=0.1); (p * p).sum().backward(); o.step(); "
            "from harness.adapters.jax_adapter import import_jax; jax = import_jax(); "
            "jax.numpy.zeros(1).block_until_ready(); after = env(); "
            "print({k: (before.get(k), after.get(k)) for k in set(before) | set(after) "
            "if before.get(k) != after.get(k)})")
    assert _fresh_python(code) == "{}"


def test_a_misspelt_worker_start_method_is_a_usage_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HARNESS_WORKER_START", "spwan")
    assert main(["run", str(CASES / "golden" / "sigmoid-neuron.yaml"), "-q",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "HARNESS_WORKER_START: expected one of auto, spawn, found 'spwan'" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
