"""report.csv (one tidy row per comparison), report.md (for people) and run.json (the record).

Made from rows and the run's record alone (harness.reports.record): nothing here imports the runner or
an adapter, so a saved report folder can be re-rendered, or read, without the frameworks.
report.md's text is harness.reports.markdown's. Files are written whole or not at all.
"""
from __future__ import annotations

import io
import json
import os
import stat
import tempfile
from pathlib import Path

from ..verdicts.compare import COLUMNS, Row
from .heatmap import HEATMAP_FILE, heatmap_svg
from ..running.outdir import current_umask
from .markdown import STATUSES, markdown_text, ordered, rollup  # noqa: F401 (the API)
from .readback import (RECORD_FILE, read_report, record_from_rows,  # noqa: F401 (the API)
                       rows_from_csv)
from .text import formula_safe


# -- rows in and out ------------------------------------------------------------------------
def csv_text(rows: list[Row]) -> str:
    import pandas as pd  # only the report needs it; keeps `validate` and `list` light

    frame = pd.DataFrame([{k: _cell_text(v) for k, v in row.as_dict().items()} for row in rows],
                         columns=COLUMNS, dtype=object)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _cell_text(value) -> str:
    """Floats at full round-trip precision (repr: nan and inf spelt out), nothing as empty;
    text a spreadsheet would run as a formula escaped (see :func:`formula_safe`)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return formula_safe(str(value))


# -- writing --------------------------------------------------------------------------------
def write_atomically(files: dict[Path, str]) -> None:
    """Write every file to a temporary file beside it, then rename each into place.

    A reader never sees a half-written report, and a failure before the renames leaves the
    previous reports untouched.
    """
    temporary: list[tuple[str, Path]] = []
    mode = (stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH
            | stat.S_IWOTH) & ~current_umask()  # as open() would have made it, not mkstemp's 0600
    try:
        for path, text in files.items():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
                temporary.append((name, path))
                os.fchmod(handle, mode)
                with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                    stream.write(text)
                    stream.flush()
                    os.fsync(stream.fileno())  # a full disk is found here, before any rename
            except OSError as error:  # named by the file it was for, not the temporary one
                raise OSError(error.errno, error.strerror or str(error), str(path)) from None
        for name, path in temporary:
            os.replace(name, path)
    finally:
        for name, _ in temporary:
            if os.path.exists(name):
                os.unlink(name)


def picture_name(partial: bool = False) -> str:
    """heatmap.svg, or heatmap.partial.svg beside an interrupted run's report.partial.md."""
    return HEATMAP_FILE.replace(".svg", ".partial.svg") if partial else HEATMAP_FILE


def write_reports(rows: list[Row], record: dict, out_dir: str | Path, *,
                  partial: bool = False) -> list[Path]:
    """report.csv, report.md, run.json and heatmap.svg (harness.reports.heatmap); an interrupted run
    writes report.partial.csv, .md, run.partial.json and heatmap.partial.svg instead, so an
    existing report is only ever replaced by a complete one."""
    out_dir = Path(out_dir)
    rows, _ = ordered(rows, record)
    stem = "report.partial" if partial else "report"
    record_name = "run.partial.json" if partial else RECORD_FILE
    picture = picture_name(partial)
    files = {out_dir / f"{stem}.csv": csv_text(rows),
             out_dir / f"{stem}.md": markdown_text(rows, record, partial=partial,
                                                    picture=picture),
             out_dir / record_name: json.dumps(record, indent=1, sort_keys=True) + "\n",
             out_dir / picture: heatmap_svg(rows, record)}
    write_atomically(files)
    if not partial:  # a complete report makes an older partial one stale
        for name in ("report.partial.csv", "report.partial.md", "run.partial.json",
                     picture_name(partial=True)):
            (out_dir / name).unlink(missing_ok=True)
    return list(files)


def rerender(folder: str | Path) -> Path:
    """report.md and heatmap.svg again from a report folder's report.csv and run.json."""
    rows, record = read_report(folder)
    path = Path(folder) / "report.md"
    write_atomically({path: markdown_text(rows, record, picture=HEATMAP_FILE),
                      Path(folder) / HEATMAP_FILE: heatmap_svg(rows, record)})
    return path
