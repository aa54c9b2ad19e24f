"""The report folder: checked before anything runs, held by one run at a time.

A bad ``--out`` (an existing file, a path under a file, a folder that cannot be written) is a
usage error at once, not a traceback after every case has run. A second run into a folder
another run is writing gets a clear error rather than silently replacing its report: the folder
holds a lock file naming the process, taken with O_EXCL and given up when the run ends; a lock
left by a process that no longer exists is taken over.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..format.errors import UsageError

LOCK_NAME = ".harness-run.lock"


def check_writable(folder: str | Path, option: str = "--out") -> Path:
    """The folder, after checking reports could be written there. Nothing is created: a run
    stopped by bad input leaves no folder behind (the lock creates it when the run starts)."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {folder}: expected a folder for the reports, found a file")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {folder}: {existing} is a file, not a folder")
    try:
        _probe(existing)
    except OSError as exc:
        raise UsageError(f"{option} {folder}: cannot write reports there "
                         f"({exc.strerror or exc})") from None
    return path


PROBE_BYTES = 4096  # a block: a folder on a full disk is refused before the run, not after


def _probe(folder: Path) -> None:
    """Write a block to a temporary file in ``folder`` and remove it (OSError if it cannot)."""
    handle, probe = tempfile.mkstemp(prefix=".harness-probe.", dir=folder)
    try:
        os.write(handle, b"\0" * PROBE_BYTES)
    finally:
        os.close(handle)
        os.unlink(probe)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Held while a run writes into a report folder."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self.held = False

    def acquire(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{self.path.parent}: cannot create the report folder "
                             f"({exc.strerror})") from None
        for _ in range(2):
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and _alive(pid):
                    raise UsageError(f"{self.path.parent}: another run (process {pid}) is "
                                     "writing its report here; wait for it to finish or give "
                                     "--out another folder") from None
                self.path.unlink(missing_ok=True)  # left by a run that died: take it over
                continue
            with os.fdopen(handle, "w") as stream:
                stream.write(f"{os.getpid()}\n")
            self.held = True
            return self
        raise UsageError(f"{self.path}: cannot take the report folder's lock")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
