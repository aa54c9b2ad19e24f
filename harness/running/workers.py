"""Parties in a worker process that can be killed: one warm worker per lane.

A signal cannot interrupt a torch or XLA call inside C code, and a crash there takes the whole
process with it. So every party (the reference, each framework, oracle and --impl file) runs in a
worker process, started once and reused across cases with its imports and JAX's compiled
programs warm: a job that runs past the time limit, or a worker that dies, costs that one job an
error row, and the next job gets a fresh worker.

The time limit (--timeout) is per comparison, so what is not part of one runs outside it, under
the start-up limit (the larger of --timeout and 300 s): a worker's start, and each party's
imports (torch, JAX, a CUDA context) before its first job in that worker (harness.running.jobs.Prepare).
A limit of a few seconds then means a few seconds of computing, not of reading torch from disk.

One worker serves every party of its lane (a lane runs one case at a time, harness.running.lanes), not
one per framework: a plan calls its parties one after another anyway, and N lanes then cost N
processes, not N times the number of parties (each holding torch or JAX: a few hundred MB).
The one exception is a GPU party (torch@cuda, jax@gpu, harness.running.devices): JAX picks its platform
once per process, so GPU parties share a second worker of the lane, started only when one runs.

Workers are never forked from the main process: a fork of a process that has started JAX's or
torch's threads can deadlock. CPU workers are forked from multiprocessing's fork server, a
process with one thread that has imported torch, JAX and the adapters and computed nothing
(harness.running.preload): a worker then starts in milliseconds with its frameworks imported, where a
spawned one spends about 2.5 s of a core importing them (torch's optimizers alone pull in
torch._dynamo), and a run with N lanes imports them once, not N times. The server's imports
read the environment (thread counts, JAX's whole configuration, torch's and CUDA's settings)
once, when it starts, so a pool whose environment differs there from the one it started under
(a test, a pytest session that changes it) spawns instead, as GPU workers always do (JAX picks
its platform at import), as every worker does where the platform has no fork server, and as
HARNESS_WORKER_START=spawn asks. A worker takes the environment of the run that starts it, pins
its thread counts (harness.running.threads), then
rebuilds adapters by name (built-ins and installed plug-ins) and registers the run-time adapters
it is sent (``--impl`` files, tests' fakes).
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any, Sequence

from ..format.parties import framework_of

DEFAULT_TIMEOUT = 300.0  # seconds per (case, dtype, framework): far above any shipped case
READY = "ready"  # a worker's first message: it has pinned its threads and loaded the adapters


def _serve(connection: Connection, adapters: bytes, key: str = "cpu",
           environment: dict[str, str] | None = None) -> None:
    """The worker's loop: run jobs until told to stop. Ctrl-C is the parent's to handle.

    The adapters come pickled, so nothing (NumPy's BLAS included) is imported before the thread
    counts are pinned (harness.running.threads) and JAX's platform is chosen for the worker's ``key``
    (harness.running.devices: JAX reads it once, at import). ``environment`` is the run's: a forked
    worker would otherwise keep the fork server's, from when the server started."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    from .devices import enter_worker
    from .threads import pin_threads

    enter_worker(key)
    pin_threads()
    from ..adapters import register

    for adapter in pickle.loads(adapters):
        register(adapter)
    connection.send(READY)
    while True:
        try:
            job = connection.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            connection.send(job())
        except Exception as exc:  # e.g. a framework this worker cannot build
            connection.send((None, None, f"in the worker process: {type(exc).__name__}: {exc}"))
        _settle()


def _settle() -> None:
    """Between jobs (the result is already on its way): collect this job's garbage, then
    freeze what survives. torch, JAX and their caches are millions of objects that live as long
    as the worker; every full collection Python starts during a job would walk all of them again
    (micrograd's graphs and JAX's tracing allocate enough to start many): frozen, they are
    skipped. Measured on 100 generated cases in one process: 63.5 s without, 43.1 s with."""
    gc.collect()
    gc.freeze()


START_METHOD = "HARNESS_WORKER_START"  # "spawn": never fork, even from the fork server
START_CHOICES = ("auto", "spawn")  # auto (or unset): the fork server where it can serve


def _start_choice(environ=os.environ) -> str:
    return environ.get(START_METHOD, "").strip().lower()


def check_start_method(environ=os.environ) -> str | None:
    """Why HARNESS_WORKER_START is not a value it takes, or None (asked once, at a run's
    start, so a misspelt value is a usage error rather than silently the default)."""
    value = _start_choice(environ)
    if value and value not in START_CHOICES:
        return (f"{START_METHOD}: expected one of {', '.join(START_CHOICES)}, found "
                f"{environ[START_METHOD]!r}")
    return None


# what the fork server's imports may read from the environment, once (harness.running.preload): thread
# counts, and every setting of JAX, XLA, torch and CUDA (JAX reads its whole configuration from
# JAX_* variables at import)
_IMPORT_PREFIXES = ("OMP_", "MKL_", "OPENBLAS_", "JAX_", "XLA_", "TORCH", "PYTORCH_", "CUDA",
                    "NVIDIA_", "TF_")
# set by torch and JAX themselves when they are imported or first used, in the fork server as in
# any process: a process that ran them in-process (the pytest plugin without isolation) is no
# different for it (a test checks that using them leaves the comparison unchanged)
_SET_BY_FRAMEWORKS = {"TORCHINDUCTOR_CACHE_DIR", "TF_CPP_MIN_LOG_LEVEL", "TPU_SKIP_MDS_QUERY"}
_server_environment: dict | None = None  # the environment the fork server started under
_server_lock = threading.Lock()


def preload_modules(parties: Sequence[str] | None) -> list[str]:
    """What the fork server imports for a run of these parties (all of it when not known):
    torch only for torch's parties, JAX only for JAX's, so a run without them imports neither."""
    bases = None if parties is None else {framework_of(p).removesuffix("-fwd") for p in parties}
    modules = ["harness.running.preload"]
    if bases is None or "torch" in bases:
        modules.append("harness.running.preload_torch")
    if bases is None or "jax" in bases:
        modules.append("harness.running.preload_jax")
    return modules


def _start_method(key: str, parties: Sequence[str] | None = None) -> str:
    """"forkserver" for a CPU worker where the fork server can serve this environment, else
    "spawn" (see the module's docstring). The first pool to start a worker chooses what the
    server imports; a party it did not import is imported by the worker, as a spawned one
    would."""
    global _server_environment
    if key != "cpu" or _start_choice() == "spawn" or \
            "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"
    now = _import_environment()
    with _server_lock:
        if _server_environment is None:
            multiprocessing.get_context("forkserver").set_forkserver_preload(
                preload_modules(parties))
            _server_environment = now
        return "forkserver" if now == _server_environment else "spawn"


def _import_environment() -> dict[str, str | None]:
    """What a CPU worker's imports would read, given this process's environment: after the
    worker's own settings (harness.running.devices, harness.running.threads), so that the pin JAX's adapter
    leaves in this process (an in-process run) compares equal to no pin at all."""
    from .devices import worker_environment
    from .threads import THREAD_VARIABLES

    environment = dict(os.environ)
    environment.update(worker_environment("cpu", environment))
    for name in THREAD_VARIABLES:
        environment.setdefault(name, "1")
    return {name: value for name, value in environment.items()
            if name.startswith(_IMPORT_PREFIXES) and name not in _SET_BY_FRAMEWORKS}


def _picklable(adapter) -> bool:
    try:
        pickle.dumps(adapter)
        return True
    except Exception:  # it stays in this process; the worker reports it as unknown
        return False


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerPool:
    """One lane's worker processes, by key (harness.running.devices.worker_key: "cpu" for every party
    but the GPU ones, "gpu" for those), each started at its first job and restarted after a
    crash or a time-out."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, prepare_timeout: float | None = None,
                 parties: Sequence[str] | None = None):
        """``parties``: the run's, when known, so that a fork server started for it imports
        only the frameworks they need (preload_modules)."""
        from ..adapters import registered

        self.timeout = timeout
        self.parties = None if parties is None else list(parties)
        # a start or an import is not a comparison: never held to a shorter limit than the default
        self.startup_timeout = max(timeout, DEFAULT_TIMEOUT)
        self.prepare_timeout = prepare_timeout or self.startup_timeout  # a party's imports
        # adapters registered at run time (--impl files, a test's fakes) travel to the worker
        self.adapters = pickle.dumps([a for a in registered() if _picklable(a)])
        self._workers: dict[str, tuple[Any, Connection]] = {}
        self._prepared: dict[str, set[str]] = {}  # by worker key: parties already imported there
        self.closed = False
        self.started = 0  # worker processes started: 1 for a whole CPU run without a crash
        self._lock = threading.Lock()  # close() may come from another thread than call()

    def call(self, party: str, job) -> tuple[Any, str | None, str | None]:
        """Run a job (harness.running.jobs) for ``party`` in the worker: (result, skip, error)."""
        if self.closed:  # a lane still finishing after Ctrl-C: start nothing new
            return None, None, "the run was stopped before this job ran"
        from .devices import worker_key
        from .jobs import Prepare

        key = worker_key(party)
        failed = self._start(key, party)
        if failed:
            return None, None, failed
        if party not in self._prepared.get(key, ()):
            _, _, failed = self._exchange(key, party, Prepare(party), self.prepare_timeout,
                                          f"while {party}'s framework was imported")
            if failed:
                return None, None, failed
            self._prepared.setdefault(key, set()).add(party)
        return self._exchange(key, party, job, self.timeout, "")

    def _exchange(self, key: str, party: str, job, limit: float, doing: str):
        """Send a job to the worker of ``key`` and wait up to ``limit`` seconds for its outcome;
        a worker that overruns is killed, one that died is forgotten: the next job starts anew."""
        process, connection = self._workers[key]
        try:
            connection.send(job)
            if not connection.poll(limit):
                self._discard(key, kill=True)
                if doing:
                    return None, None, (f"timed out after {limit:g} s {doing} (the start-up "
                                        "limit); the worker was killed")
                return None, None, (f"timed out after {limit:g} s, the limit per "
                                    "comparison (--timeout); the worker was killed")
            return connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            process.join(5)
            self._discard(key, kill=True)
            return None, None, (f"the worker process died ({_death(process.exitcode)}) "
                                f"{doing or 'while ' + party + ' ran this case'}")

    def _start(self, key: str, party: str) -> str | None:
        """Start the worker of ``key`` unless it runs, and wait until it is ready; why not, or
        None."""
        if key in self._workers:
            return None
        context = multiprocessing.get_context(_start_method(key, self.parties))
        parent, child = context.Pipe()
        process = context.Process(target=_serve,
                                  args=(child, self.adapters, key, dict(os.environ)),
                                  name=f"harness-worker-{key}", daemon=True)
        process.start()
        child.close()
        self._workers[key] = (process, parent)
        self._prepared[key] = set()
        self.started += 1
        try:
            if parent.poll(self.startup_timeout) and parent.recv() == READY:
                return None
            problem = f"did not start within {self.startup_timeout:g} s"
        except (EOFError, OSError):
            process.join(5)
            problem = f"died while starting ({_death(process.exitcode)})"
        self._discard(key, kill=True)
        return f"the worker process {problem}; {party} could not run this case"

    def _discard(self, key: str, kill: bool) -> None:
        with self._lock:
            worker = self._workers.pop(key, None)
            self._prepared.pop(key, None)
            if worker is None:
                return
            process, connection = worker
        if kill and process.is_alive():
            process.kill()
        process.join(5)
        connection.close()

    def close(self) -> None:
        self.closed = True
        for key, worker in list(self._workers.items()):
            try:
                worker[1].send(None)
            except (BrokenPipeError, OSError):
                pass
            worker[0].join(2)
            self._discard(key, kill=True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
