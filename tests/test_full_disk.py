"""Writing reports where they cannot be written (issue 23): a full disk or a read-only folder is
a clear error naming the folder or file: exit 2 before any case runs where it can be known,
else exit 1 after the run; nothing half-written, no temporary file left, the previous report
kept byte for byte. ENOSPC and EROFS are simulated by making the writer raise them."""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from harness.cli import main
from harness.reports.files import write_atomically
from harness.running.outdir import PROBE_BYTES

from conftest import ROOT

CASE = str(ROOT / "cases" / "golden" / "sigmoid-neuron.yaml")
RUN = ["run", CASE, "-f", "numpy", "--isolation", "none", "-q", "--no-repro"]


def raising(code: int, calls_before: int = 0):
    """A stand-in for an OS call that fails with ``code`` after ``calls_before`` calls pass."""
    seen = []

    def fail(*args, **kwargs):
        seen.append(args)
        if len(seen) > calls_before:
            raise OSError(code, os.strerror(code))
        return fail.real(*args, **kwargs)
    return fail


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def earlier_report(tmp_path):
    """A report folder as an earlier run left it."""
    out = tmp_path / "out"
    assert main([*RUN, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("calls_before", [0, 2])  # the first file, or the third of four
def test_a_disk_that_fills_while_the_reports_are_written(calls_before, earlier_report,
                                                         monkeypatch, capsys):
    before = snapshot(earlier_report)
    fsync = raising(errno.ENOSPC, calls_before)
    fsync.real = os.fsync
    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", fsync)  # the cases run; writing their reports fails
        code = main([*RUN, "--out", str(earlier_report)])
    err = capsys.readouterr().err
    assert code == 1
    assert "error: cannot write the reports: " in err and "No space left on device" in err
    assert f"the previous report in {earlier_report} is kept as it was" in err
    assert "Traceback" not in err
    assert snapshot(earlier_report) == before  # nothing replaced, nothing half-written or left


def test_write_atomically_names_the_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("old a")
    fsync = raising(errno.ENOSPC, 1)
    fsync.real = os.fsync
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as caught:
        write_atomically({tmp_path / "a.txt": "new a", tmp_path / "b.txt": "new b"})
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path / "b.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old a"


@pytest.mark.parametrize("code, said", [(errno.ENOSPC, "No space left on device"),
                                        (errno.EDQUOT, "Disk quota exceeded")])
def test_a_full_disk_found_before_the_run_is_exit_2(code, said, earlier_report, monkeypatch,
                                                    capsys):
    before = snapshot(earlier_report)
    write = raising(code)
    write.real = os.write
    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", write)  # the probe's block cannot be written
        result = main([*RUN, "--out", str(earlier_report)])
    err = capsys.readouterr().err
    assert result == 2
    assert err == f"error: --out {earlier_report}: cannot write reports there ({said})\n"
    assert snapshot(earlier_report) == before
    assert not [p for p in earlier_report.iterdir() if p.name.startswith(".harness-probe")]


def test_a_read_only_folder_is_exit_2_before_the_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    mkstemp = raising(errno.EROFS)
    mkstemp.real = tempfile.mkstemp
    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", mkstemp)
        result = main([*RUN, "--out", str(out)])
    assert result == 2
    assert capsys.readouterr().err == (f"error: --out {out}: cannot write reports there "
                                       "(Read-only file system)\n")
    assert not out.exists()


def test_the_probe_docs_reliability_quotes_is_the_one_written():
    text = " ".join((ROOT / "docs" / "reliability.md").read_text(encoding="utf-8").split())
    assert f"too full for a {PROBE_BYTES:,}-byte probe" in text


def test_the_pytest_plugin_says_a_full_disk_and_keeps_the_report(pytester, monkeypatch):
    from conftest import sigmoid_neuron_text

    pytester.makefile(".ini", pytest="[pytest]\nharness_cases = cases\n")
    pytester.makefile(".yaml", **{"cases/neuron": sigmoid_neuron_text()})
    out = pytester.path / "out"
    out.mkdir()
    (out / "report.csv").write_text("the earlier report.csv\n")
    fsync = raising(errno.ENOSPC)
    fsync.real = os.fsync
    monkeypatch.setattr(os, "fsync", fsync)
    result = pytester.runpytest("--harness-frameworks", "numpy", "--harness-out", "out")
    monkeypatch.undo()
    assert result.ret == 1  # the items passed; their report could not be written
    result.stdout.fnmatch_lines(["*harness: cannot write the reports: *report.csv: No space left "
                                 "on device; the previous report is kept as it was*"])
    assert "INTERNALERROR" not in result.stdout.str()
    assert sorted(p.name for p in out.iterdir()) == ["report.csv"]
    assert (out / "report.csv").read_text() == "the earlier report.csv\n"
