"""JAX's persistent compilation cache: a program compiled once is loaded, not compiled, next run.

Compiling the training step is most of what JAX costs the harness (about 0.2 s a case, against
milliseconds to run it: docs/benchmarks.md). JAX can keep what it compiled on disk, keyed by the
program itself (its HLO), the compile options, the jaxlib version, the platform and XLA_FLAGS, so
a hit is the very executable a compile would give, never one for another program or version.
The harness turns it on for JAX parties, in a folder of the user's cache:

- ``HARNESS_COMPILE_CACHE`` chooses the folder, or ``off`` to compile every time (``run
  --no-compile-cache`` sets it for one run); the default is ``$XDG_CACHE_HOME/gradient-harness``
  (``~/.cache/gradient-harness``), JAX's entries in ``jax/`` under it;
- a user who set ``JAX_COMPILATION_CACHE_DIR`` chose for themselves: JAX's own settings are then
  left as they are (but ``off`` turns JAX's cache off too: off means off);
- the folder is made private (mode 0700): JAX runs what it loads from there, so nobody else may
  write to it (JAX's documentation says the same);
- it is kept under ``MAX_BYTES`` by ``prune``, once at the start of a run, oldest entries
  first. JAX's own cap is not used: it lists and reads the whole folder under a file lock at
  every entry it writes, a cost that grows with the folder (a cold run of 1,000 generated cases,
  2,600 entries: 462.9 s with it, 440.9 s without, within this machine's noise; a full 512 MiB
  folder holds some 35,000). Without it JAX writes entries unlocked; two processes that
  compile the same program at once can leave one reading an entry half written, which fails
  to decompress, so JAX warns and compiles: slower, never wrong.
"""
from __future__ import annotations

import os
from pathlib import Path

SUFFIX = "-cache"  # JAX's name for an entry's file

ENVIRONMENT = "HARNESS_COMPILE_CACHE"
OFF = "off"
MAX_BYTES = 512 * 2**20  # a generated case's step is about 15 kB: tens of thousands fit
KEEP_FRACTION = 0.8  # pruned to this share of MAX_BYTES, so a run starts with room to write
HITS = "/jax/compilation_cache/cache_hits"  # the event JAX records for each program it loads


def cache_root(environ: os._Environ | dict = os.environ) -> Path | None:
    """The harness's cache folder, or None when the user turned it off."""
    chosen = environ.get(ENVIRONMENT, "").strip()
    if chosen.lower() == OFF:
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = environ.get("XDG_CACHE_HOME", "").strip() or os.path.join("~", ".cache")
    return Path(base).expanduser() / "gradient-harness"


def jax_cache_dir(environ: os._Environ | dict = os.environ) -> Path | None:
    """Where JAX's compiled programs are kept: None when off, or when the user set JAX's own."""
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    root = cache_root(environ)
    return None if root is None else root / "jax"


def describe(environ: os._Environ | dict = os.environ) -> str:
    """For run.json and the docs: where compiled programs are kept, in words."""
    if cache_root(environ) is None:
        return "off"
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return f"JAX's own: {environ['JAX_COMPILATION_CACHE_DIR']} (JAX_COMPILATION_CACHE_DIR)"
    return str(jax_cache_dir(environ))


def unusable(environ: os._Environ | dict = os.environ) -> str | None:
    """Why the harness's cache folder cannot be used (made, made private), or None. Asked once
    by the main process, so a run says it compiles everything rather than naming a folder it
    never wrote to."""
    folder = jax_cache_dir(environ)
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
    except OSError as error:
        return f"{folder}: {error.strerror or error}"
    return None


_hits = 0
_configured = False


def _count(event: str, **kwargs) -> None:
    global _hits
    if event == HITS:
        _hits += 1


def hits() -> int:
    """Programs this process has loaded from the persistent cache so far."""
    return _hits


def configure_jax(jax) -> None:
    """Point JAX at the cache (before its first compile), unless it is off or the user's own.
    A folder that cannot be made is no error: JAX then compiles every time, as without one.
    Once per process: later calls change nothing."""
    global _configured
    if _configured:
        return
    _configured = True
    if cache_root() is None:  # off, JAX's own folder included
        jax.config.update("jax_enable_compilation_cache", False)
        return
    jax.monitoring.register_event_listener(_count)  # hits in the harness's folder or the user's
    folder = jax_cache_dir()
    if folder is None or unusable():
        return
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # ours take ~0.2 s
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # every size


def prune(folder: Path | None = None, limit: int = MAX_BYTES) -> int:
    """Keep the cache under ``limit`` bytes: when over it, delete the oldest entries (by the
    time they were written) until KEEP_FRACTION of it is left. Once per run, in the main
    process, before any worker writes; returns the entries deleted. A folder that cannot be
    read, or an entry another process deletes first, is no error."""
    folder = jax_cache_dir() if folder is None else folder
    if folder is None:
        return 0
    entries = []
    try:
        for path in folder.glob(f"*{SUFFIX}"):
            try:
                info = path.stat()
            except OSError:
                continue
            entries.append((info.st_mtime, info.st_size, path))
    except OSError:
        return 0
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return 0
    deleted = 0
    for _, size, path in sorted(entries):
        if total <= limit * KEEP_FRACTION:
            break
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        deleted += 1
    return deleted


def begin_run(turn_off: bool = False) -> str | None:
    """A run's one step for the cache, in its main process before any worker starts (workers
    inherit the environment): off when asked, off with a warning (returned, for the caller to
    print) when the folder cannot be used, so run.json never names a folder nothing was written
    to; then pruned."""
    if turn_off:
        os.environ[ENVIRONMENT] = OFF
    problem = unusable()
    if problem:
        os.environ[ENVIRONMENT] = OFF
        return (f"warning: the compilation cache cannot be used ({problem}); JAX compiles every "
                "program in this run")
    prune()
    return None
