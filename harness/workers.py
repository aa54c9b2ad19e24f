"""Frameworks in worker processes that can be killed.

A signal cannot interrupt a torch or XLA call inside C code, and a crash there takes the whole
process with it. So each framework runs in a worker process of its own, started once and reused
across cases: a comparison that runs past the time limit, or a worker that dies, costs that one
comparison an error row, and the next comparison gets a fresh worker.

Workers are started with "spawn", never "fork": a fork of a process that has started JAX's or
torch's threads can deadlock. A worker rebuilds adapters by name (built-ins and installed
plug-ins) and registers the run-time adapters it is sent (``--impl`` files, tests' fakes).
"""
from __future__ import annotations

import multiprocessing
import pickle
import signal
from multiprocessing.connection import Connection
from typing import Any

DEFAULT_TIMEOUT = 300.0  # seconds per (case, dtype, framework): far above any shipped case


def _serve(connection: Connection, adapters: list) -> None:
    """The worker's loop: run jobs until told to stop. Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .adapters import register

    for adapter in adapters:
        register(adapter)
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
    """One worker process per framework, restarted after a crash or a time-out."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT):
        from .adapters import registered

        self.timeout = timeout
        # adapters registered at run time (--impl files, a test's fakes) travel to each worker
        self.adapters = [a for a in registered() if _picklable(a)]
        self._context = multiprocessing.get_context("spawn")
        self._workers: dict[str, tuple[Any, Connection]] = {}

    def call(self, framework: str, job) -> tuple[Any, str | None, str | None]:
        """Run a job (harness.jobs) in the framework's worker: (result, skip, error)."""
        process, connection = self._worker(framework)
        try:
            connection.send(job)
            if not connection.poll(self.timeout):
                self._discard(framework, kill=True)
                return None, None, (f"timed out after {self.timeout:g} s, the limit per "
                                    "comparison (--timeout); the worker was killed")
            return connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            process.join(5)
            self._discard(framework, kill=True)
            return None, None, (f"the {framework} worker process died "
                                f"({_death(process.exitcode)}) while running this case")

    def _worker(self, framework: str):
        if framework not in self._workers:
            parent, child = self._context.Pipe()
            process = self._context.Process(target=_serve, args=(child, self.adapters),
                                            name=f"harness-{framework}", daemon=True)
            process.start()
            child.close()
            self._workers[framework] = (process, parent)
        return self._workers[framework]

    def _discard(self, framework: str, kill: bool) -> None:
        process, connection = self._workers.pop(framework)
        if kill and process.is_alive():
            process.kill()
        process.join(5)
        connection.close()

    def close(self) -> None:
        for framework, (process, connection) in list(self._workers.items()):
            try:
                connection.send(None)
            except (BrokenPipeError, OSError):
                pass
            process.join(2)
            self._discard(framework, kill=True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
