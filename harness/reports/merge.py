"""``python -m harness merge``: report folders (the shards of a run, runs on other machines) made
into the one report a single run of all of them would write.

Each part is read back and checked (harness.reports.readback) before anything is written;
parts that cannot be one report are refused, each conflict named with its folders: another
run.json format, harness version or reference; one case name from two files, or a case run in
two parts with other settings; the same rows, a (case, dtype, framework, reference), in two
parts. Rows are kept as they were read; harness.reports.files orders them as a run does, so the
shards of a run merge into its report.csv byte for byte. The record keeps every part's record
(its versions, platform, parties' devices, options, shard) under ``parts``; the framework
columns are every part's, in the order the parts were given (a GPU runner's ``torch@cuda``
beside a CPU runner's ``torch``). Nothing here imports a framework.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from ..format.errors import UsageError
from ..format.parties import device_of, framework_of
from ..verdicts.compare import Row
from .readback import RECORD_FILE, read_report

EXAMPLES = 3  # overlapping rows named per pair of parts
VARIES = " / "  # between the values of a component whose versions differ between parts


@dataclass
class Part:
    folder: str  # as given
    rows: list[Row]
    record: dict

    @property
    def version(self) -> str | None:
        return dict(map(tuple, self.record.get("environment", []))).get("harness")


def read_parts(folders: list[str]) -> list[Part]:
    """Every folder read back and checked; a UsageError for the first that cannot be."""
    parts, seen = [], {}
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            raise UsageError(f"{folder}: {'not a folder' if path.exists() else 'no such folder'}"
                             "; expected a report folder written by `python -m harness run`")
        key = path.resolve()
        if key in seen:
            raise UsageError(f"{folder}: given twice (also as {seen[key]}); each part once")
        seen[key] = folder
        if not (path / "report.csv").is_file() and (path / "report.partial.csv").is_file():
            raise UsageError(f"{folder}: only an interrupted run's report.partial.csv here; "
                             "merge takes complete reports: run these cases again")
        if not (path / RECORD_FILE).is_file() and (path / "report.csv").is_file():
            raise UsageError(f"{folder}: no {RECORD_FILE} beside report.csv; merge needs each "
                             "part's record (harness version, reference, versions): run the "
                             "cases again with this version")
        rows, record = read_report(path)
        parts.append(Part(folder, rows, record))
    return parts


def version_of(part: Part, party: str) -> str:
    """The version of a party's framework in a part's record (``0.4.13`` for ``jax+nojit``; the
    last word of a description such as fd's ``central differences, numpy 1.26.4``)."""
    environment = dict(map(tuple, part.record.get("environment", [])))
    found = environment.get(party) or environment.get(framework_of(party)) or "unknown"
    return str(found).split()[-1]


def _renamed(entry: dict, renames: dict[str, str], dropped: set[str]) -> dict:
    """A run entry with its per-party maps (notes, known discrepancies) under the new names."""
    out = dict(entry)
    for key, value in entry.items():
        if isinstance(value, dict) and any(k in renames or k in dropped for k in value):
            out[key] = {renames.get(k, k): v for k, v in value.items() if k not in dropped}
    return out


def by_version(parts: list[Part]) -> tuple[list[Part], list[str]]:
    """Parts that ran other versions of a framework (an upgrade; the oldest supported versions
    beside today's) made into parts of one matrix: a party whose version differs between the
    parts that ran it is named with its version in each (``jax==0.4.13`` beside
    ``jax==0.10.2``); a party at one version in several parts is kept from the first of them
    (said in the notes returned), so only what changed stands twice."""
    holders: dict[str, list[int]] = {}
    for i, part in enumerate(parts):
        for party in dict.fromkeys(r.framework for r in part.rows):
            holders.setdefault(party, []).append(i)
    renames: list[dict[str, str]] = [{} for _ in parts]
    dropped: list[set[str]] = [set() for _ in parts]
    notes = []
    for party, owners in holders.items():
        groups: dict[str, list[int]] = {}
        for i in owners:
            groups.setdefault(version_of(parts[i], party), []).append(i)
        for version, same in groups.items():
            for i in same[1:]:
                dropped[i].add(party)
            if len(same) > 1:
                notes.append(f"{party} {version} ran in {', '.join(parts[i].folder for i in same)}"
                             f": its rows are taken from {parts[same[0]].folder}")
            if len(groups) > 1:
                renames[same[0]][party] = f"{party}=={version}"
    out = []
    for part, rename, drop in zip(parts, renames, dropped):
        rows = [replace(r, framework=rename.get(r.framework, r.framework))
                for r in part.rows if r.framework not in drop]
        record = {**part.record,
                  "frameworks": [rename.get(f, f) for f in part.record["frameworks"]
                                 if f not in drop],
                  "runs": [_renamed(e, rename, drop) for e in part.record["runs"]]}
        out.append(Part(part.folder, rows, record))
    return out, notes


def conflicts(parts: list[Part]) -> list[str]:
    """What keeps the parts from being one report, a sentence each naming the folders."""
    found = []
    for what, value in (("run.json format", lambda p: p.record.get("format")),
                        ("harness version", lambda p: p.version),
                        ("reference", lambda p: p.record.get("reference", "numpy"))):
        values: dict = {}
        for part in parts:
            values.setdefault(value(part), []).append(part.folder)
        if len(values) > 1:
            found.append(f"different {what}s: " + "; ".join(
                f"{v} in {', '.join(folders)}" for v, folders in values.items()))
    files: dict[str, tuple[str, str]] = {}  # case -> (file, folder)
    for part in parts:
        for entry in part.record["runs"]:
            # a variant's file is in its run's folder: it is the case it was made from that
            # must be the same
            mine = entry.get("origin", entry["file"]) if entry.get("variant_of") else entry["file"]
            file, folder = files.setdefault(entry["case"], (mine, part.folder))
            if file != mine:
                found.append(f"case {entry['case']} is {file} in {folder} but {mine} in "
                             f"{part.folder}: case names must be unique")
                files[entry["case"]] = (mine, part.folder)
    keys = [{(r.case, r.dtype, r.framework, r.reference) for r in part.rows} for part in parts]
    for i, first in enumerate(parts):
        for j in range(i + 1, len(parts)):
            both = sorted(keys[i] & keys[j])
            if both:
                shown = "; ".join(f"{c} [{d}] {f} against {r}" for c, d, f, r in both[:EXAMPLES])
                found.append(f"{first.folder} and {parts[j].folder} overlap: both hold the rows "
                             f"of {len(both)} (case, dtype, framework, reference), e.g. {shown}; "
                             "each must come from one part (another shard, other frameworks)")
    return found


def _union(a: list, b: list) -> list:
    return a + [x for x in b if x not in a]


def _entry(entries: list[tuple[dict, str]]) -> tuple[dict, list[str]]:
    """One run entry from a (case, dtype)'s entries in several parts (each with other parties):
    lists and per-party maps joined; anything else must agree."""
    merged, where = dict(entries[0][0]), entries[0][1]
    problems = []
    for entry, folder in entries[1:]:
        for key, value in entry.items():
            mine = merged.get(key)
            if key not in merged or mine == value:
                merged[key] = value
            elif isinstance(mine, list) and isinstance(value, list):
                merged[key] = _union(mine, value)
            elif isinstance(mine, dict) and isinstance(value, dict):
                merged[key] = {**value, **{k: _union(v, value[k]) if isinstance(v, list)
                                           and isinstance(value.get(k), list) else v
                                           for k, v in mine.items()}}
            elif key != "file":  # a name from two files: said once, by conflicts()
                problems.append(f"case {entry['case']} [{entry['dtype']}] was run with {key} "
                                f"{mine!r} in {where} but {value!r} in {folder}: the parts ran "
                                "different versions of the case")
    return merged, problems


def devices(record: dict) -> dict[str, str]:
    """Where each party of a record ran: the device its notes name (``cuda:0 (NVIDIA …)``),
    else its name's (a bare name is the CPU)."""
    found: dict[str, str] = {}
    for entry in record["runs"]:
        for party, notes in entry.get("notes", {}).items():
            said = [n[len("device "):].split(";")[0] for n in notes if n.startswith("device ")]
            if said and party not in found:
                found[party] = said[0]
    return {party: found.get(party, device_of(party)) for party in record["frameworks"]}


def part_entries(part: Part) -> list[dict]:
    """What run.json keeps of a part: a merged part's own parts (and where they were merged),
    or its record less its runs."""
    if part.record.get("parts"):
        return [{**p, "merged_in": part.folder} for p in part.record["parts"]]
    options = part.record.get("options", {})
    return [{"folder": part.folder, "shard": options.get("shard"),
             "generated": part.record.get("generated", ""),
             "environment": part.record.get("environment", []),
             "frameworks": part.record["frameworks"], "devices": devices(part.record),
             "options": options, "runs": len(part.record["runs"]), "rows": len(part.rows)}]


def missing_shards(entries: list[dict]) -> list[str]:
    """The shards of a split that no part holds, when every part is a shard (K/N)."""
    shards = [str(e.get("shard") or "") for e in entries]
    if not shards or not all("/" in s for s in shards):
        return []
    held: dict[int, set[int]] = {}
    for text in shards:
        index, count = (int(x) for x in text.split("/"))
        held.setdefault(count, set()).add(index)
    return [f"{k}/{n}" for n, indices in sorted(held.items()) for k in range(1, n + 1)
            if k not in indices]


def _environment(parts: list[Part]) -> list[list[str]]:
    """[component, version] as one run's header has it; a component whose value differs between
    parts gets every value, in the parts' order (``torch 2.13.0+cpu / 2.13.0+cu128``)."""
    values: dict[str, list[str]] = {}
    for part in parts:
        for component, value in part.record.get("environment", []):
            values.setdefault(component, [])
            if value not in values[component]:
                values[component].append(value)
    return [[component, VARIES.join(found)] for component, found in values.items()]


def merge(parts: list[Part], out: str | Path,
          versions: bool = False) -> tuple[list[Row], dict, list[str]]:
    """(rows, record, warnings) of the one report; a UsageError, naming every conflict, when
    the parts cannot be one. ``out`` is where it goes: repro folders are named from there.
    ``versions``: the parts ran other versions of the frameworks (:func:`by_version`)."""
    notes: list[str] = []
    if versions:
        parts, notes = by_version(parts)
    problems = conflicts(parts)
    by_run: dict[tuple[str, str], list[tuple[dict, str]]] = {}
    for part in parts:
        for entry in part.record["runs"]:
            by_run.setdefault((entry["case"], entry["dtype"]), []).append((entry, part.folder))
    runs = []
    for entries in by_run.values():
        entry, trouble = _entry(entries)
        runs.append(entry)
        problems += trouble
    if problems:
        raise UsageError("cannot merge these report folders; nothing was written:\n" +
                         "\n".join(f"  {p}" for p in problems))
    first = parts[0].record
    reference = first.get("reference", "numpy")
    frameworks = [reference]
    for part in parts:
        frameworks = _union(frameworks, part.record["frameworks"])
    if versions:  # a party's versions side by side: jax==0.10.2 beside jax==0.4.13
        first_seen = {}
        for name in frameworks:
            first_seen.setdefault(name.split("==")[0], len(first_seen))
        frameworks.sort(key=lambda name: first_seen[name.split("==")[0]])
    options = {key: value for key, value in first.get("options", {}).items()
               if key != "shard" and all(p.record.get("options", {}).get(key) == value
                                         for p in parts)}
    if "frameworks" not in options:  # the parties each part selected, together
        options["frameworks"] = []
        for part in parts:
            options["frameworks"] = _union(options["frameworks"],
                                           list(part.record.get("options", {}).get("frameworks")
                                                or part.record["frameworks"]))
    entries = [e for part in parts for e in part_entries(part)]
    record = {**{k: v for k, v in first.items() if k not in ("repro", "parts")},
              "generated": max(p.record.get("generated", "") for p in parts),
              "environment": _environment(parts), "reference": reference,
              "frameworks": frameworks, "options": options,
              "runs": sorted(runs, key=lambda e: (e.get("origin", e["file"]), e["case"],
                                                  e["dtype"])),
              "parts": entries}
    repro = [{**e, "folder": os.path.relpath(os.path.join(part.folder, e["folder"]), out)}
             for part in parts for e in part.record.get("repro", [])]
    if repro:
        record["repro"] = repro
    rows = [row for part in parts for row in part.rows]
    missing = missing_shards(entries)
    warnings = [f"shards missing: {', '.join(missing)}: their plans are not in the merged "
                "report"] if missing else []
    if notes:
        record["merged_by_version"] = notes
    return rows, record, warnings + notes
