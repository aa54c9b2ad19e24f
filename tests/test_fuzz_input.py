"""Fuzzing the loader with hostile variants of the shipped cases: whatever is in a case file, the
answer is a case or a list of problems, never an exception, and `validate` exits 0 or 2 with no
traceback.

A seeded generator of its own (no dependency) mutates every case under cases/: keys deleted,
values swapped for another type (number, string, list, mapping, null, boolean), extreme numbers
(0, -1, ±1e308, nan, inf, 1e30, a 5,000-digit integer written out, a 5,000-digit hex integer),
explicit tags and %TAG directives, deep nesting and aliases to themselves, odd encodings (UTF-16,
UTF-32, a BOM, Latin-1 bytes), truncation at a random byte, stray characters, and broken data
files (a case pointed at a {file: …} written next to it). HARNESS_FUZZ_SEED and
HARNESS_FUZZ_VARIANTS explore further: a failure names its seed, variant and mutations, and
Mutator(seed) making variants 0, 1, … in order remakes it.
"""
from __future__ import annotations

import copy
import functools
import os
import random
import subprocess
import sys
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.lib.format as npy_format
import yaml

from harness.adapters import known_parties
from harness.format.loader import INTERNAL_ERROR, load_case
from harness.format.yamlsafe import load_yaml

from conftest import CASES, ROOT

SEED = int(os.environ.get("HARNESS_FUZZ_SEED", "1729"))
VARIANTS = int(os.environ.get("HARNESS_FUZZ_VARIANTS", "520"))
SAMPLE = 40  # of them also run through `python -m harness validate` in a subprocess
SHIPPED = sorted(p for p in CASES.rglob("*") if p.suffix in (".yaml", ".yml"))

BIG_DECIMAL = "1" + "0" * 5000  # 10**5000 as text: beyond what Python reads as an int
BIG_HEX = "0x" + "F" * 5000  # read (hex has no such limit), but beyond any float or size
SWAPS = [0, -1, 1.5, "text", "", "1.5", [1, 2], [], {"a": 1}, {}, None, True, False,
         [[1.0, 2.0], [3.0]], [None], ["1", "2"]]
EXTREMES = ["0", "-1", "1.0e308", "-1.0e308", ".nan", ".inf", "-.inf", "1e30", "1.0e30",
            BIG_DECIMAL, "-" + BIG_DECIMAL, BIG_HEX, "1000000000", "9223372036854775808",
            "-0.0", "1e-320", "0.5", "4294967296"]
TAGS = ["!!int abc", "!!int ''", "!!bool maybe", "!!float nope", "!!map 3", "!!seq x",
        "!!str [1, 2]", "!!null {a: 1}", "!!int [1]", "!!python/object:os.system x",
        "!!python/object/apply:os.system ['true']", "!!binary aGVsbG8=",
        "!!timestamp 2001-12-14", "!custom 1", "!!set {a: null}", "!!omap [{a: 1}]",
        "!<tag:yaml.org,2002:int> 12x", "!!int " + BIG_HEX, "!!float " + BIG_DECIMAL,
        "!!int " + BIG_DECIMAL, "!!bool ''"]
DIRECTIVES = ["%TAG !e! tag:yaml.org,2002:\n---\n", "%TAG !! tag:example.com,2000:\n---\n",
              "%TAG ! tag:yaml.org,2002:\n---\n", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n",
              "%YAML 2.0\n---\n", "%FOO bar\n---\n", "%TAG !e! !\n%TAG !e! !\n---\n"]
STRAY = [":", "-", "[", "]", "{", "}", "&a ", "*a ", "!", "%", '"', "'", "\t", "\n", "#", "|",
         ">", "? ", "<<: ", "\x00", "\x85", "\ufeff", "é", "\u2028"]


@dataclass
class Variant:
    seed: int
    number: int
    source: Path
    family: str
    steps: list[str] = field(default_factory=list)
    content: bytes = b""
    files: dict[str, bytes | str] = field(default_factory=dict)  # next to it; "dir"/"loop"

    def label(self) -> str:
        return (f"seed {self.seed} variant {self.number} ({self.family}) from "
                f"{self.source.relative_to(ROOT)}: {'; '.join(self.steps)}")


def _paths(value, path=()):
    """Every path to a value inside a document (the document itself excluded)."""
    out = []
    if isinstance(value, dict):
        for key, item in value.items():
            out.append(path + (key,))
            out += _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.append(path + (i,))
            out += _paths(item, path + (i,))
    return out


def _get(doc, path):
    for part in path:
        doc = doc[part]
    return doc


def _set(doc, path, value):
    _get(doc, path[:-1])[path[-1]] = value


@functools.lru_cache(maxsize=1)
def _shipped_documents() -> dict:
    """The shipped cases' YAML documents, parsed once per session (pure-Python YAML: seconds)."""
    docs = {}
    for path in SHIPPED:
        doc, problems = load_yaml(path.read_bytes(), str(path))
        assert doc is not None and not problems, problems
        docs[path] = doc.value
    return docs


class Mutator:
    """Makes variants of the shipped cases; each family of mutation is one method."""

    def __init__(self, seed: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.docs = copy.deepcopy(_shipped_documents())  # a variant may change its own copy
        self.raw: dict[str, str] = {}

    # -- structure: change the document, dump it again -----------------------------------
    def sentinel(self, text: str) -> str:
        """A string that becomes ``text`` verbatim in the dumped YAML (tags, nesting, …)."""
        key = f"__RAW{len(self.raw)}__"
        self.raw[key] = text
        return key

    def dump(self, doc) -> str:
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10**6)
        for key, raw in self.raw.items():
            text = text.replace(key, raw)
        self.raw = {}
        return text

    def pick_path(self, doc, numbers_first: bool = False):
        paths = _paths(doc)
        if numbers_first and self.rng.random() < 0.7:
            numeric = [p for p in paths if isinstance(_get(doc, p), (int, float))
                       and not isinstance(_get(doc, p), bool)]
            paths = numeric or paths
        return self.rng.choice(paths) if paths else None

    def delete_key(self, doc, v: Variant):
        mappings = [p for p in [()] + _paths(doc) if isinstance(_get(doc, p), dict)
                    and _get(doc, p)]
        where = self.rng.choice(mappings)
        key = self.rng.choice(list(_get(doc, where)))
        del _get(doc, where)[key]
        v.steps.append(f"deleted {'.'.join(map(str, where + (key,)))}")

    def swap_type(self, doc, v: Variant):
        path = self.pick_path(doc)
        new = copy.deepcopy(self.rng.choice(SWAPS))
        _set(doc, path, new)
        v.steps.append(f"{'.'.join(map(str, path))} = {new!r}")

    def extreme_number(self, doc, v: Variant):
        path = self.pick_path(doc, numbers_first=True)
        raw = self.rng.choice(EXTREMES)
        _set(doc, path, self.sentinel(raw))
        v.steps.append(f"{'.'.join(map(str, path))} = {raw[:20]}{'…' if len(raw) > 20 else ''}")

    def explicit_tag(self, doc, v: Variant):
        path = self.pick_path(doc)
        raw = self.rng.choice(TAGS)
        _set(doc, path, self.sentinel(raw))
        v.steps.append(f"{'.'.join(map(str, path))} = {raw[:30]}")

    def deep_nesting(self, doc, v: Variant):
        path = self.pick_path(doc)
        n = self.rng.choice([5, 31, 33, 100, 500, 2000])
        raw = self.rng.choice(["[" * n + "1" + "]" * n, "{a: " * n + "1" + "}" * n,
                               "&a [*a]", "&a {k: *a}", "&a [1, [2, *a]]", "[*undefined]",
                               "&a [1, 2]\nextra: *a"])
        if path is None:
            return
        _set(doc, path, self.sentinel(raw))
        v.steps.append(f"{'.'.join(map(str, path))} = {raw[:24]}{'…' if len(raw) > 24 else ''}")

    # -- data files ----------------------------------------------------------------------
    def data_file(self, doc, v: Variant):
        which = self.rng.choice(["x", "x", "y"])
        name, content, description = self.rng.choice(_broken_data_files(self.rng))
        spec = {"file": name}
        if self.rng.random() < 0.3:
            spec["columns"] = self.rng.choice([[0], [0, 1], [5], [], "all"])
        if not isinstance(doc.get("data"), dict):
            doc["data"] = {}
        doc["data"][which] = spec
        if content is not None and "\x00" not in name and len(name) < 200:
            v.files[name] = content
        v.steps.append(f"data.{which} = {{file: {name[:30]!r}}}: {description}")

    # -- text and bytes: after dumping ---------------------------------------------------
    def text_mutation(self, text: str, v: Variant) -> bytes:
        kind = self.rng.choice(["truncate", "stray", "stray", "line", "directive", "encoding",
                                "latin-1"])
        data = text.encode("utf-8")
        if kind == "truncate":
            cut = self.rng.randrange(len(data) + 1)
            v.steps.append(f"truncated at byte {cut} of {len(data)}")
            return data[:cut]
        if kind == "stray":
            at = self.rng.randrange(len(text) + 1)
            char = self.rng.choice(STRAY)
            v.steps.append(f"inserted {char!r} at {at}")
            return (text[:at] + char + text[at:]).encode("utf-8")
        if kind == "line":
            lines = text.splitlines(keepends=True)
            i = self.rng.randrange(len(lines))
            if self.rng.random() < 0.5:
                v.steps.append(f"line {i + 1} deleted")
                del lines[i]
            else:
                v.steps.append(f"line {i + 1} repeated")
                lines.insert(i, lines[i])
            return "".join(lines).encode("utf-8")
        if kind == "directive":
            directive = self.rng.choice(DIRECTIVES)
            v.steps.append(f"directive {directive.splitlines()[0]!r}")
            body = text if self.rng.random() < 0.5 else text.replace(": ", ": !e!str ", 1)
            return (directive + body).encode("utf-8")
        if kind == "encoding":
            codec = self.rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig",
                                     "cp1252"])
            v.steps.append(f"encoded {codec}")
            return text.encode(codec, errors="replace")
        at = self.rng.randrange(len(text) + 1)
        v.steps.append(f"Latin-1 byte at {at}")
        return (text[:at] + "é" + text[at:]).encode("latin-1", errors="replace")

    # -- one variant ---------------------------------------------------------------------
    def variant(self, number: int) -> Variant:
        source = SHIPPED[number % len(SHIPPED)]  # every shipped case, in turn
        doc = copy.deepcopy(self.docs[source])
        family = self.rng.choice(["structure", "structure", "structure", "numbers", "tags",
                                  "nesting", "data-file", "data-file", "text", "text"])
        v = Variant(self.seed, number, source, family)
        if family == "structure":
            for _ in range(self.rng.randint(1, 3)):
                self.rng.choice([self.delete_key, self.swap_type, self.swap_type])(doc, v)
        elif family == "numbers":
            for _ in range(self.rng.randint(1, 2)):
                self.extreme_number(doc, v)
        elif family == "tags":
            self.explicit_tag(doc, v)
        elif family == "nesting":
            self.deep_nesting(doc, v)
        elif family == "data-file":
            self.data_file(doc, v)
        text = self.dump(doc)
        if family == "text" and self.rng.random() < 0.5:  # the file as written: comments, flow
            text = source.read_text(encoding="utf-8")
        v.content = self.text_mutation(text, v) if family == "text" else text.encode("utf-8")
        for sibling in source.parent.iterdir():  # data files the case reads (xor.csv)
            if sibling.suffix not in (".yaml", ".yml") and sibling.is_file():
                content = sibling.read_bytes()
                if self.rng.random() < 0.2:
                    cut = self.rng.randrange(len(content) + 1)
                    content = content[:cut] + self.rng.choice([b"", b"x,y\n", b"\xff", b"\x00"])
                    v.steps.append(f"{sibling.name} cut at {cut}")
                v.files.setdefault(sibling.name, content)
        return v


def _npy(array: np.ndarray, **kwargs) -> bytes:
    import io
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def _npy_header_only(shape, descr="<f8", version=(1, 0), tail=b"\0" * 16) -> bytes:
    import io
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    if version == (1, 0):
        npy_format.write_array_header_1_0(buffer, header)
    else:
        npy_format.write_array_header_2_0(buffer, header)
    return buffer.getvalue() + tail


def _npy_raw_header(shape: str) -> bytes:
    """A .npy whose header says ``shape`` verbatim (numpy.save writes only valid ones)."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }" % shape
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return npy_format.magic(1, 0) + len(header).to_bytes(2, "little") + header.encode() + \
        b"\0" * 16


def _broken_data_files(rng: random.Random):
    """(name, content, description): content None writes nothing; "dir" makes a folder."""
    import io
    good = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]])
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a.npy", _npy(good))
    truncated = _npy(good)
    return [
        ("empty.npy", b"", "a 0-byte .npy"),
        ("archive.npy", zipped.getvalue(), "an .npz renamed .npy"),
        ("fields.npy", _npy(np.zeros(3, dtype=[("a", "f8"), ("b", "i4")])), "structured dtype"),
        ("complex.npy", _npy(good + 1j), "complex"),
        ("dates.npy", _npy(np.array(["2020-01-01"] * 4, dtype="datetime64[D]")), "datetime"),
        ("spans.npy", _npy(np.array([1, 2], dtype="timedelta64[s]")), "timedelta"),
        ("objects.npy", _npy(np.array([1, None], dtype=object), allow_pickle=True), "objects"),
        ("flags.npy", _npy(good > 0.5), "booleans"),
        ("text.npy", _npy(np.array(["a", "b"])), "strings"),
        ("cube.npy", _npy(np.zeros((2, 2, 2))), "3-D"),
        ("scalar.npy", _npy(np.float64(3.0)), "0-D"),
        ("huge.npy", _npy_header_only((1_000_000, 1_000_000)), "header claims 10^12 elements"),
        ("negative.npy", _npy_header_only((-4, 2)), "negative shape"),
        ("hexshape.npy", _npy_raw_header("(0x" + "F" * 5000 + ", 2)"), "a 5,000-digit size"),
        ("floatshape.npy", _npy_raw_header("(2.5, 2)"), "a fractional size"),
        ("v2.npy", _npy_header_only((2, 2), version=(2, 0), tail=b"\0" * 32), "version 2.0"),
        ("cut.npy", truncated[:rng.randrange(len(truncated))], "truncated at a random byte"),
        ("short.npy", _npy_header_only((4, 2), tail=b"\0" * 8), "data cut short"),
        ("magic.npy", b"\x93NUMPY\x09\x00" + b"\0" * 40, "unknown .npy version"),
        ("garbage.npy", bytes(rng.randrange(256) for _ in range(64)), "random bytes"),
        ("good.npy", _npy(good), "a valid table"),
        ("ints.npy", _npy(np.array([[0, 1], [1, 0], [1, 1], [0, 0]], dtype=np.int32)), "ints"),
        ("fortran.npy", _npy(np.asfortranarray(good)), "Fortran order"),
        ("halves.npy", _npy(good.astype(np.float16)), "float16"),
        ("field.csv", ("1," + "9" * 200_000 + "\n").encode(), "a CSV field over 128 KiB"),
        ("nul.csv", b"1,2\n3,\x004\n", "a NUL in a CSV"),
        ("latin.csv", "a,b\ncaf\xe9,1\n".encode("latin-1"), "Latin-1 CSV"),
        ("utf16.csv", "1,2\n3,4\n".encode("utf-16"), "UTF-16 CSV"),
        ("ragged.csv", b"1,2\n3\n4,5,6\n", "ragged CSV"),
        ("header.csv", b"a,b\n", "header only"),
        ("empty.csv", b"", "an empty CSV"),
        ("words.csv", b"1,2\nthree,four\n", "a row of words"),
        ("specials.csv", b"nan,inf\n-inf,1e999\n", "nan and inf"),
        ("quoted.csv", b'"1\n2",3\n4,5\n', "a quoted newline"),
        ("dir.npy", "dir", "a folder named .npy"),
        ("loop.npy", "loop", "a symbolic link to itself"),
        ("missing.npy", None, "no such file"),
        ("../outside.npy", None, "outside the folder"),
        ("/etc/passwd", None, "an absolute path"),
        ("table.txt", b"1,2\n", "neither .csv nor .npy"),
        ("a\x00b.npy", None, "a NUL in the name"),
        ("n" * 5000 + ".npy", None, "a 5,000-character name"),
        ("", None, "an empty name"),
        ("sub/../../x.csv", None, "climbing out"),
        (".", None, "the folder itself"),
    ]


def _write(variant: Variant, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, content in variant.files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if content == "dir":
            target.mkdir(exist_ok=True)
        elif content == "loop":
            target.symlink_to(target.name)
        else:
            target.write_bytes(content)
    path = folder / "case.yaml"
    path.write_bytes(variant.content)
    return path


def _outcome(variant: Variant, path: Path, names: list[str]):
    """(accepted?, seconds, failure or None) of one in-process load."""
    start = time.perf_counter()
    try:
        case, problems = load_case(path, names)
    except BaseException as exc:  # noqa: BLE001 - the point of the test
        return None, time.perf_counter() - start, f"{type(exc).__name__}: {exc!s:.300}"
    seconds = time.perf_counter() - start
    if (case is None) == (not problems):
        return None, seconds, f"case {case!r:.60} with problems {problems!r:.300}"
    for problem in problems:
        text = str(problem)
        if INTERNAL_ERROR in text or problem.file != str(path) or not problem.message:
            return None, seconds, f"problem {text:.400}"
    return case is not None, seconds, None


def test_hostile_variants_of_the_shipped_cases_never_raise(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    mutator = Mutator(SEED)
    names = known_parties()  # the modes and devices too, as the command line reads cases
    variants = [mutator.variant(i) for i in range(VARIANTS)]
    assert len(variants) >= 500 and {v.source for v in variants} == set(SHIPPED)
    outcomes: Counter = Counter()
    failures, slowest, paths = [], (0.0, ""), {}
    for variant in variants:
        path = _write(variant, folder / f"v{variant.number:04d}")
        paths[variant.number] = path
        accepted, seconds, failure = _outcome(variant, path, names)
        slowest = max(slowest, (seconds, variant.label()))
        if failure:
            failures.append(f"{variant.label()}\n    {failure}")
            continue
        outcomes[(variant.family, "accepted" if accepted else "refused")] += 1
        variant.steps.append("accepted" if accepted else "refused")
    summary = ", ".join(f"{family} {what} {n}" for (family, what), n in sorted(outcomes.items()))
    print(f"\nfuzz: seed {SEED}, {len(variants)} variants of {len(SHIPPED)} cases: {summary}; "
          f"slowest load {slowest[0]:.3f} s ({slowest[1][:120]})")
    assert not failures, f"{len(failures)} of {len(variants)} variants:\n" + "\n".join(failures)
    assert sum(n for (_, what), n in outcomes.items() if what == "refused") > len(variants) / 2
    assert slowest[0] < 10, slowest

    # a sample through the command line, in subprocesses: exit 0 or 2, never a traceback
    rng = random.Random(SEED)
    by_family: dict[str, list[Variant]] = {}
    for variant in variants:
        by_family.setdefault(variant.family, []).append(variant)
    sample = [v for group in by_family.values() for v in rng.sample(group, min(4, len(group)))]
    rest = [v for v in variants if v not in sample]
    sample += rng.sample(rest, SAMPLE - len(sample))
    environment = {k: v for k, v in os.environ.items() if k != "HARNESS_LIMITS"}

    def validate(variant: Variant):
        result = subprocess.run([sys.executable, "-m", "harness", "validate",
                                 str(paths[variant.number])], capture_output=True, text=True,
                                cwd=ROOT, env=environment, timeout=120)
        return variant, result

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(validate, sample))
    for variant, result in results:
        accepted = variant.steps[-1] == "accepted"
        assert result.returncode == (0 if accepted else 2), (variant.label(), result.stderr)
        assert "Traceback" not in result.stderr + result.stdout, (variant.label(), result.stderr)
        if not accepted:
            assert "problem(s) in 1 file(s); nothing was run." in result.stderr, result.stderr
    assert len(results) == SAMPLE


def test_the_generator_is_seeded():
    first = [Mutator(7).variant(i) for i in range(30)]
    second = [Mutator(7).variant(i) for i in range(30)]
    assert [(v.content, v.files, v.steps) for v in first] == \
        [(v.content, v.files, v.steps) for v in second]
