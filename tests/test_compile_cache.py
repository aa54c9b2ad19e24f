"""JAX's persistent compilation cache (harness.adapters.compile_cache): a second run loads what the first
compiled, with the same bits, says so, and never trusts a damaged entry."""
from __future__ import annotations

import json
import os
import stat

import pytest

from conftest import CASES
from harness.cli import main
from harness.adapters.compile_cache import cache_root, describe, jax_cache_dir

pytest.importorskip("jax")

CASE = str(CASES / "golden" / "mse-neuron.yaml")


def test_the_folder_follows_the_environment(tmp_path):
    assert cache_root({"XDG_CACHE_HOME": "/x"}) == tmp_path.__class__("/x/gradient-harness")
    assert str(cache_root({})).endswith(".cache/gradient-harness")
    assert jax_cache_dir({"HARNESS_COMPILE_CACHE": str(tmp_path)}) == tmp_path / "jax"
    assert jax_cache_dir({"HARNESS_COMPILE_CACHE": "OFF"}) is None
    assert describe({"HARNESS_COMPILE_CACHE": "off"}) == "off"
    # a user who set JAX's own folder chose for themselves: the harness sets nothing
    users = {"HARNESS_COMPILE_CACHE": str(tmp_path), "JAX_COMPILATION_CACHE_DIR": "/theirs"}
    assert jax_cache_dir(users) is None and "/theirs" in describe(users)


def _run(out, *extra) -> tuple[str, list[str]]:
    """Run the case through jax alone: (report.csv, the jax traces' notes on compiling)."""
    assert main(["run", CASE, "-f", "jax", "-q", "--out", str(out), *extra]) == 0
    record = json.loads((out / "run.json").read_text())
    notes = [note for run in record["runs"] for note in json.dumps(run["notes"]).split('"')
             if "the program" in note]
    return (out / "report.csv").read_text(), notes


def test_a_second_run_loads_the_programs_and_gets_the_same_report(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("HARNESS_COMPILE_CACHE", str(folder))
    first, compiled = _run(tmp_path / "first")
    entries = sorted(p.name for p in (folder / "jax").iterdir())
    assert any(name.endswith("-cache") for name in entries)
    assert stat.S_IMODE((folder / "jax").stat().st_mode) == 0o700  # JAX runs what it loads
    second, loaded = _run(tmp_path / "second")
    assert second == first
    assert compiled and all("compiled by XLA in this run" in n for n in compiled)
    assert loaded and all(f"loaded from JAX's persistent compilation cache ({folder / 'jax'})"
                          in n for n in loaded)


def test_no_compile_cache_reads_and_writes_nothing(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("HARNESS_COMPILE_CACHE", str(folder))
    _run(tmp_path / "first")
    before = sorted((folder / "jax").iterdir())
    _, notes = _run(tmp_path / "second", "--no-compile-cache")
    assert sorted((folder / "jax").iterdir()) == before
    assert notes and all("compiled by XLA in this run" in n for n in notes)
    record = json.loads((tmp_path / "second" / "run.json").read_text())
    assert record["options"]["compile_cache"] == "off"


def test_a_damaged_entry_is_compiled_again_never_run(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("HARNESS_COMPILE_CACHE", str(folder))
    first, _ = _run(tmp_path / "first")
    for entry in (folder / "jax").iterdir():
        if entry.name.endswith("-cache"):
            entry.write_bytes(entry.read_bytes()[: len(entry.read_bytes()) // 2])
    again, notes = _run(tmp_path / "again")
    assert again == first
    assert notes and all("compiled by XLA in this run" in n for n in notes)


def test_a_cache_over_its_limit_loses_its_oldest_entries_first_and_nothing_else(tmp_path):
    from harness.adapters.compile_cache import prune

    for age in range(10):  # entry-0 is the newest, entry-9 the oldest
        entry = tmp_path / f"entry-{age}-cache"
        entry.write_bytes(b"x" * 100)
        os.utime(entry, (1_000_000 - age, 1_000_000 - age))
    (tmp_path / "notes.txt").write_bytes(b"y" * 5000)  # not JAX's: never touched
    assert prune(tmp_path, limit=1000) == 0  # at the limit: nothing to do
    assert prune(tmp_path, limit=900) == 3  # down to KEEP_FRACTION of it, oldest first
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["entry-0-cache", "entry-1-cache", "entry-2-cache", "entry-3-cache",
                    "entry-4-cache", "entry-5-cache", "entry-6-cache", "notes.txt"]
    assert prune(tmp_path / "absent", limit=1) == 0


def test_off_turns_off_a_cache_the_user_set_for_jax_too(tmp_path, monkeypatch):
    theirs = tmp_path / "theirs"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(theirs))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # would cache all
    _, notes = _run(tmp_path / "out", "--no-compile-cache")
    assert not theirs.exists() or not any(theirs.iterdir())
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["options"]["compile_cache"] == "off"
    assert notes and all("compiled by XLA in this run" in n for n in notes)


def test_a_users_own_jax_cache_is_used_and_its_hits_are_said(tmp_path, monkeypatch):
    theirs = tmp_path / "theirs"
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(theirs))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    monkeypatch.setenv("HARNESS_COMPILE_CACHE", str(tmp_path / "ours"))
    _run(tmp_path / "first")
    _, notes = _run(tmp_path / "second")
    assert any(theirs.iterdir()) and not (tmp_path / "ours" / "jax").exists()
    assert notes and all("loaded from JAX's persistent compilation cache (JAX's own: "
                         f"{theirs}" in n for n in notes)


def test_a_folder_that_cannot_be_used_is_said_once_and_the_run_compiles(tmp_path, monkeypatch,
                                                                       capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("HARNESS_COMPILE_CACHE", str(blocker))
    first, notes = _run(tmp_path / "out")
    err = capsys.readouterr().err
    assert f"warning: the compilation cache cannot be used ({blocker / 'jax'}" in err
    assert "Traceback" not in err
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["options"]["compile_cache"] == "off"
    assert notes and all("compiled by XLA in this run" in n for n in notes)
    assert blocker.read_text() == "not a folder"


def test_the_pytest_plugin_says_an_unusable_folder_and_its_report_says_off(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", CASE, "-q", "-n", "0", "-p", "no:cacheprovider",
         "--harness-frameworks", "jax", "--harness-out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "HARNESS_COMPILE_CACHE": str(blocker)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"warning: the compilation cache cannot be used ({blocker / 'jax'}" in result.stderr
    assert json.loads((out / "run.json").read_text())["options"]["compile_cache"] == "off"
