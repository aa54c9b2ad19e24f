"""Hostile case files, one by one: each gets its message (file:line: field: what was expected,
what was found), never a traceback; and the limits on sizes refuse a case in milliseconds, name
the limit and say how to raise it, and let the same case through once it is raised."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import numpy.lib.format as npy_format
import pytest

from harness.adapters import known_parties
from harness.format.limits import DEFAULTS, configured
from harness.format.loader import load_case

from conftest import GOOD_CASE, ROOT

# What refusing may allocate, in bytes rather than seconds (a busy machine is slow, never big):
# a refusal takes under 4 MiB; the smallest refused tensor here, the 2,000,000-row batch, is
# 16 MB, and an expanded "billion laughs" far more.
PEAK_LIMIT = 8 * 2**20


@contextlib.contextmanager
def allocation_peak():
    """The most Python (NumPy included) allocated inside the block, in ``.bytes``."""
    class Peak:
        bytes = 0
    peak = Peak()
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


GOOD = GOOD_CASE
X = "x: [[1.0, 2.0], [3.0, 4.0]]"


def with_x(spec: str) -> str:
    return GOOD.replace(X, f"x: {spec}")


def npy(array: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def npz_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", npy(np.ones((2, 2))))
    return buffer.getvalue()


def huge_header() -> bytes:
    """A .npy whose header claims 10^12 float64 elements (8 TB), followed by 16 bytes."""
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                               "shape": (1_000_000, 1_000_000)})
    return buffer.getvalue() + b"\0" * 16


TABLE = np.array([[1.0, 2.0], [3.0, 4.0]])
DIGITS_4300, DIGITS_5000 = "9" * 4300, "1" + "0" * 4999

# (id, case text, {data file: bytes}, field, message fragment)
HOSTILE = [
    # explicit tags with values they do not fit, and %TAG directives
    ("int-tag", GOOD + "steps: !!int abc\n", {}, "steps",
     "expected an integer (tagged !!int), found 'abc'"),
    ("bool-tag", GOOD + "finite_differences: {richardson: !!bool maybe}\n", {},
     "finite_differences.richardson", "expected true or false (tagged !!bool), found 'maybe'"),
    ("float-tag", GOOD.replace("lr: 0.1", "lr: !!float fast"), {}, "optimizer.lr",
     "expected a number (tagged !!float), found 'fast'"),
    ("empty-int-tag", GOOD + "steps: !!int ''\n", {}, "steps",
     "expected an integer (tagged !!int), found ''"),
    ("map-tag-on-a-scalar", GOOD + "steps: !!map 3\n", {}, "steps",
     "YAML tag !!map does not fit a single value"),
    ("seq-tag-on-a-mapping", GOOD.replace("optimizer: {", "optimizer: !!seq {"), {},
     "optimizer", "YAML tag !!seq does not fit a mapping"),
    ("str-tag-on-a-list", GOOD + "tags: !!str [a, b]\n", {}, "tags",
     "YAML tag !!str does not fit a list"),
    ("tag-directive", "%TAG !e! tag:yaml.org,2002:\n---\n" + GOOD + "steps: !e!int abc\n", {},
     "steps", "expected an integer (tagged !!int), found 'abc'"),
    ("tag-directive-elsewhere", "%TAG !! tag:example.com,2000:\n---\n" + GOOD +
     "steps: !!int 3\n", {}, "steps", "tag 'tag:example.com,2000:int' is not allowed"),
    # integers Python will not read or print, and those no size can be
    ("int-of-5000-digits", GOOD + f"steps: {DIGITS_5000}\n", {}, "steps",
     "found an integer of 5,000 digits: too long to read (Python reads at most 4,300 digits)"),
    ("int-of-4301-digits", GOOD + f"steps: -{DIGITS_4300}1\n", {}, "steps",
     "found an integer of 4,301 digits: too long to read"),
    ("int-of-4300-digits", GOOD + f"steps: {DIGITS_4300}\n", {}, "steps",
     "expected an integer below 2**63, found an integer of 4,300 digits"),
    ("hex-of-5000-digits-steps", GOOD + f"steps: 0x{'F' * 5000}\n", {}, "steps",
     "expected an integer below 2**63, found an integer of about 6,021 digits"),
    ("hex-of-5000-digits-lr", GOOD.replace("lr: 0.1", f"lr: 0x{'F' * 5000}"), {},
     "optimizer.lr", "expected a finite number, found an integer of about 6,021 digits"),
    ("hex-of-5000-digits-in-x", with_x(f"[[0x{'F' * 5000}, 1.0], [3.0, 4.0]]"), {}, "data.x",
     "expected numbers, found an integer of about 6,021 digits at [0][0]"),
    ("hex-in-a-known-step", GOOD + "known_discrepancies: [{framework: torch, quantity: grad, "
     f"reason: r, steps: [0x{'F' * 5000}]}}]\n", {}, "known_discrepancies[0].steps[0]",
     "expected an integer below 2**63"),
    ("hex-in-orders", GOOD + f"orders: [1, 0x{'F' * 5000}]\n", {}, "orders",
     "found [a number (1), an integer of about 6,021 digits]"),
    # the stack
    ("alias-to-itself", GOOD + "tags: &a [*a]\n", {}, "tags[0]",
     "an alias refers to the list or mapping that contains it"),
    ("alias-to-its-mapping", GOOD + "init: &a {scheme: normal, seed: 1, std: *a}\n", {},
     "init.std", "an alias refers to the list or mapping that contains it"),
    ("500-nested-brackets", GOOD + "tags: " + "[" * 500 + "]" * 500 + "\n", {}, "",
     "lists and mappings nested more than 32 deep"),
    ("500-nested-mappings", GOOD + "tags: " + "{a: " * 500 + "1" + "}" * 500 + "\n", {}, "",
     "lists and mappings nested more than 32 deep"),
    # settings that are null, or that nothing can be drawn with
    ("init-std-null", GOOD + "init: {scheme: normal, std: null, seed: 1}\n", {}, "init.std",
     "expected a number, found nothing (null)"),
    ("random-std-null", with_x("{random: normal, std: null, shape: [2, 2], seed: 1}"), {},
     "data.x.std", "expected a number, found nothing (null)"),
    ("random-std-negative", with_x("{random: normal, std: -1, shape: [2, 2], seed: 1}"), {},
     "data.x.std", "expected a number in (0, 1e+300], found -1.0"),
    ("random-low-above-high", with_x("{random: uniform, low: 2, high: 1, shape: [2, 2], "
                                     "seed: 1}"), {}, "data.x",
     "expected low < high, found 2.0 ≥ 1.0"),
    ("random-range-1e308", with_x("{random: uniform, low: -1.0e308, high: 1.0e308, "
                                  "shape: [2, 2], seed: 1}"), {}, "data.x.low",
     "expected a number in [-1e+300, 1e+300], found -1e+308"),
    ("init-range-1e308", GOOD + "init: {scheme: uniform, low: -1.0e308, high: 1.0e308, seed: 1}\n",
     {}, "init.high", "expected a number in [-1e+300, 1e+300], found 1e+308"),
    ("random-mean-1e308", with_x("{random: normal, mean: 1.0e308, shape: [2, 2], seed: 1}"), {},
     "data.x.mean", "expected a number in [-1e+300, 1e+300]"),
    ("random-p-above-1", GOOD.replace("y: [0, 1]", "y: {random: bernoulli, p: 1.5, shape: [2], "
                                                   "seed: 1}"), {}, "data.y.p",
     "expected a number in [0, 1], found 1.5"),
    ("random-p-below-0", GOOD.replace("y: [0, 1]", "y: {random: bernoulli, p: -0.1, "
                                                   "shape: [2], seed: 1}"), {}, "data.y.p",
     "expected a number in [0, 1], found -0.1"),
    # sizes
    ("units-1e30", GOOD.replace("units: 3", "units: 1e30"), {}, "network[0].units",
     "expected an integer, found a number (1e+30)"),
    ("units-10**9", GOOD.replace("units: 3", "units: 1000000000"), {}, "network[0].units",
     "expected at most 10,000,000 elements per tensor, found 2,000,000,000 in layers.0.weight "
     "(1000000000, 2): over the limit max_tensor_elements; to allow it, raise the limit: "
     "--limit max_tensor_elements=2000000000"),
    ("shape-1e30", with_x("{random: normal, shape: [1e30, 2], seed: 1}"), {}, "data.x.shape",
     "expected a list of one or two positive integers"),
    ("shape-10**9", with_x("{random: normal, shape: [1000000000, 2], seed: 1}"), {},
     "data.x.shape", "found 2,000,000,000 in shape (1000000000, 2): over the limit "
                     "max_tensor_elements"),
    ("shape-of-3-dimensions", with_x("{random: normal, shape: [2, 2, 2], seed: 1}"), {},
     "data.x.shape", "expected a list of one or two positive integers, found a list of 3"),
    # data files
    ("npy-of-0-bytes", with_x("{file: x.npy}"), {"x.npy": b""}, "data.x.file",
     "the file is empty (0 bytes)"),
    ("npz-renamed-npy", with_x("{file: x.npy}"), {"x.npy": npz_bytes()}, "data.x.file",
     "zip archive (an .npz renamed .npy?)"),
    ("npy-structured", with_x("{file: x.npy}"),
     {"x.npy": npy(np.zeros(2, dtype=[("a", "f8"), ("b", "f8")]))}, "data.x.file",
     "a structured array with fields a, b"),
    ("npy-complex", with_x("{file: x.npy}"), {"x.npy": npy(TABLE + 1j)}, "data.x.file",
     "found dtype complex128 in 'x.npy': complex numbers would lose their imaginary part"),
    ("npy-datetime", with_x("{file: x.npy}"),
     {"x.npy": npy(np.array([["2020-01-01"] * 2] * 2, dtype="datetime64[D]"))},
     "data.x.file", "found dtype datetime64[D] in 'x.npy': dates and times are not numbers"),
    ("npy-booleans", with_x("{file: x.npy}"), {"x.npy": npy(TABLE > 2)}, "data.x.file",
     "found dtype bool"),
    ("npy-header-claims-10**12", with_x("{file: x.npy}"), {"x.npy": huge_header()},
     "data.x.file", "expected at most 10,000,000 elements per tensor, found 1,000,000,000,000 "
                    "in 'x.npy' (its header says shape (1000000, 1000000))"),
    ("npy-cut-short", with_x("{file: x.npy}"), {"x.npy": npy(TABLE)[:-8]}, "data.x.file",
     "the file is cut short"),
    ("csv-field-over-128-KiB", with_x("{file: x.csv}"),
     {"x.csv": ("1," + "9" * 200_000 + "\n3,4\n").encode()}, "data.x.file",
     "cannot read 'x.csv' as a table of numbers: field larger than field limit (131072)"),
    ("csv-with-a-NUL", with_x("{file: x.csv}"), {"x.csv": b"1,2\n3,\x004\n"}, "data.x.file",
     "cannot read 'x.csv': row 2 is not numbers: '3,\\x004'"),
    ("file-name-with-NUL", with_x('{file: "x\\0.npy"}'), {}, "data.x.file",
     "expected a file name without control characters (NUL, newline, …), found 'x\\x00.npy'"),
    ("file-name-of-5000-characters", with_x("{file: " + "n" * 5000 + ".npy}"), {},
     "data.x.file", "expected a file name of at most 255 bytes per folder or file"),
    # accepted before, and wrong
    ("name-with-a-final-newline", GOOD.replace("name: good", 'name: "good\\n"'), {}, "name",
     "expected one line of letters, digits and _ . + ~ - (it becomes a test id), found 'good\\n'"),
    ("null-in-x", with_x("[[1.0, null], [3.0, 4.0]]"), {}, "data.x",
     "expected numbers, found nothing (null) at [0][1] (write .nan for a missing value)"),
    ("string-in-x", with_x("[[1.0, '2'], [3.0, 4.0]]"), {}, "data.x",
     "expected numbers, found a string ('2') at [0][1]"),
    ("string-nan-in-x", with_x("[[1.0, 2.0], [nan, 4.0]]"), {}, "data.x",
     "expected numbers, found a string ('nan') at [1][0]"),
    ("null-in-params", GOOD + "params:\n  layers.1.bias: [0.5, null]\n", {},
     "params.layers.1.bias", "expected numbers, found nothing (null) at [1]"),
]


@pytest.mark.parametrize("text, files, field, fragment",
                         [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_each_hostile_input_gets_its_message(text, files, field, fragment, tmp_path):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    with allocation_peak() as peak:  # refused before anything big is expanded or allocated
        case, problems = load_case(path, known_parties())
    assert peak.bytes < PEAK_LIMIT, f"{peak.bytes / 2**20:.1f} MiB allocated to refuse"
    assert case is None and problems
    assert any(p.field == field and fragment in p.message and p.file == str(path)
               for p in problems), f"{field} | {fragment}; got " + "; ".join(map(str, problems))
    for problem in problems:  # every one printable as file:line: field: message
        assert str(problem).startswith(f"{path}:")


def harness(*args, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "HARNESS_LIMITS"}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, env=environment)


def test_validate_reports_them_all_with_exit_2_and_no_traceback(tmp_path):
    for number, (_, text, files, _, _) in enumerate(HOSTILE):
        folder = tmp_path / f"{number:02d}"
        folder.mkdir()
        for name, content in files.items():
            (folder / name).write_bytes(content)
        (folder / "case.yaml").write_text(text, encoding="utf-8")
    result = harness("validate", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert f"in {len(HOSTILE)} file(s); nothing was run." in result.stderr


def test_a_complex_npy_is_refused_not_cast(load, tmp_path):
    np.save(tmp_path / "x.npy", TABLE + 0j)  # even with no imaginary part: the dtype says
    _, problems = load(with_x("{file: x.npy}"))
    assert [p.field for p in problems] == ["data.x.file"] and "complex" in problems[0].message


def test_a_data_file_outside_through_a_symbolic_link_loop(load, tmp_path):
    (tmp_path / "loop.npy").symlink_to("loop.npy")
    _, problems = load(with_x("{file: loop.npy}"))
    assert problems and all(p.field == "data.x.file" for p in problems)


# -- limits ------------------------------------------------------------------------------------

def layers(n: int) -> str:
    return "network:\n" + "  - {units: 1, activation: identity}\n" * n


def deep_case(n: int) -> str:
    return (f"name: deep-{n}\n{layers(n)}data:\n  x: [[0.5]]\n  y: [[0.25]]\nloss: mse\n"
            "optimizer: {name: sgd, lr: 0.1}\n")


# (id, case text, the limit it is over, what that limit counts)
OVER = [
    ("tensor", GOOD.replace("units: 3", "units: 1000000000"), "max_tensor_elements",
     "elements per tensor"),
    ("activations", with_x("{random: normal, shape: [100000, 2], seed: 1}").replace(
        "units: 3", "units: 1000").replace("y: [0, 1]", "y: {random: classes, shape: [100000], "
                                                        "seed: 2}"),
     "max_tensor_elements", "in layer 0's output (100000, 1000) (batch, units)"),
    ("parameters", "name: p\nnetwork:\n" + "  - {units: 3000, activation: tanh}\n" * 7 +
     "data:\n  x: [[1.0]]\n  y: {random: normal, shape: [1, 3000], seed: 1}\nloss: mse\n"
     "optimizer: {name: sgd, lr: 0.1}\n", "max_parameters",
     "parameters (weights and biases together)"),
    ("batch", with_x("{random: normal, shape: [2000000, 1], seed: 1}"), "max_batch",
     "rows (the batch)"),
    ("layers", deep_case(1001), "max_layers", "layers"),
    ("steps", GOOD + "steps: 100001\n", "max_steps", "training steps"),
    ("steps-in-hex", GOOD + "steps: 0xFFFFFFFFFFFF\n", "max_steps", "training steps"),
    ("random-of-10**12", with_x("{random: uniform, shape: [1000000, 1000000], seed: 1}"),
     "max_tensor_elements", "elements per tensor"),
]


@pytest.mark.parametrize("text, limit, what", [o[1:] for o in OVER], ids=[o[0] for o in OVER])
def test_a_size_over_a_limit_is_refused_at_once_naming_it(text, limit, what, load):
    with allocation_peak() as peak:
        case, problems = load(text)
    assert case is None
    over = [p for p in problems if f"over the limit {limit};" in p.message]
    assert over and what in over[0].message, [str(p) for p in problems]
    assert f"--limit {limit}=" in over[0].message and f"HARNESS_LIMITS={limit}=" in \
        over[0].message
    # nothing was drawn or allocated: measured in bytes, not seconds (a busy machine is slow)
    assert peak.bytes < PEAK_LIMIT, f"{peak.bytes / 2**20:.1f} MiB allocated to refuse"


def test_huge_sizes_are_refused_in_milliseconds(write_case, tmp_path):
    """What refusing costs: the largest sizes of the issue, timed (printed with -s)."""
    (tmp_path / "huge.npy").write_bytes(huge_header())
    texts = {
        "units 10**9": GOOD.replace("units: 3", "units: 1000000000"),
        "shape 10**6 x 10**6": with_x("{random: normal, shape: [1000000, 1000000], seed: 1}"),
        "npy header of 10**12 elements": with_x("{file: huge.npy}"),
        "steps 0x + 5,000 hex digits": GOOD + f"steps: 0x{'F' * 5000}\n",
        "1001 layers": deep_case(1001),
    }
    timings = {}
    for what, text in texts.items():
        path = write_case(text, f"{len(timings)}.yaml")
        start = time.perf_counter()
        with allocation_peak() as peak:
            case, problems = load_case(path, known_parties())
        timings[what] = time.perf_counter() - start
        assert case is None and problems, what
        assert peak.bytes < PEAK_LIMIT, (what, peak.bytes)
    print("\nrefused in: " + ", ".join(f"{w} {s * 1000:.1f} ms" for w, s in timings.items()))


def test_the_same_case_loads_once_the_limit_is_raised(write_case):
    path = write_case(deep_case(1001))
    _, problems = load_case(path, known_parties())
    assert any("max_layers" in p.message for p in problems)
    case, problems = load_case(path, known_parties(), configured(["max_layers=1001"]))
    assert problems == [] and len(case.layers) == 1001
    case, problems = load_case(path, known_parties(), configured(environ={
        "HARNESS_LIMITS": "max_layers=2000, max_steps=1e6"}))
    assert problems == [] and len(case.layers) == 1001


def test_a_lower_limit_refuses_what_the_default_allows(load, tmp_path, write_case):
    (tmp_path / "x.csv").write_text("1,2\n3,4\n" * 20)
    path = write_case(with_x("{file: x.csv}").replace("y: [0, 1]", "y: {random: classes, "
                                                                   "shape: [40], seed: 1}"))
    assert load_case(path, known_parties())[1] == []
    for setting, fragment in (("max_data_file_bytes=100", "found 160 in 'x.csv'"),
                              ("max_tensor_elements=50", "found more than 50 in 'x.csv'"),
                              ("max_batch=39", "found 40: over the limit max_batch")):
        _, problems = load_case(path, known_parties(), configured([setting]))
        assert any(fragment in p.message for p in problems), (setting, problems)
    big = write_case(GOOD, "big.yaml")
    _, problems = load_case(big, known_parties(), configured(["max_case_file_bytes=100"]))
    assert "--limit max_case_file_bytes=N" in problems[0].message


def test_harness_limits_from_the_environment_apply_to_load_case(write_case, monkeypatch):
    """pytest users have no --limit: HARNESS_LIMITS is read by every load."""
    path = write_case(GOOD + "steps: 100001\n")
    assert load_case(path, known_parties())[0] is None
    monkeypatch.setenv("HARNESS_LIMITS", "max_steps=200000")
    assert load_case(path, known_parties())[0].steps == 100001
    monkeypatch.setenv("HARNESS_LIMITS", "max_step=200000")
    _, problems = load_case(path, known_parties())
    assert "unknown limit 'max_step'" in problems[0].message
    assert "did you mean 'max_steps'?" in problems[0].message


def test_limit_on_the_command_line_and_in_the_environment(write_case):
    path = write_case(GOOD + "steps: 100001\n")
    result = harness("validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}:10: steps: expected at most 100,000 training steps, found 100,001: over " \
           "the limit max_steps; to allow it, raise the limit: --limit max_steps=100001" \
           in result.stderr
    assert harness("validate", str(path), "--limit", "max_steps=1e6").returncode == 0
    assert harness("validate", str(path), "--limit", "max_layers=5", "--limit",
                   "max_steps=100_001").returncode == 0
    assert harness("validate", str(path), env={"HARNESS_LIMITS": "max_steps=200000"}
                   ).returncode == 0
    for wrong, said in (("max_steps=abc", "expected a positive whole number"),
                        ("max_steps=0", "expected a positive whole number"),
                        ("max_stepz=5", "did you mean 'max_steps'?"),
                        ("max_steps", "expected NAME=VALUE")):
        result = harness("validate", str(path), "--limit", wrong)
        assert result.returncode == 2 and said in result.stderr and "Traceback" not in \
            result.stderr, result.stderr
    result = harness("validate", str(path), env={"HARNESS_LIMITS": "max_steps=-1"})
    assert result.returncode == 2 and "HARNESS_LIMITS" in result.stderr


def test_the_same_case_runs_once_the_limit_is_raised(write_case, tmp_path):
    path = write_case(deep_case(1001))
    refused = harness("run", str(path), "-f", "torch", "--isolation", "none", "--out",
                      str(tmp_path / "refused"))
    assert refused.returncode == 2 and "over the limit max_layers" in refused.stderr
    assert "--limit max_layers=1001" in refused.stderr and not (tmp_path / "refused").exists()
    ran = harness("run", str(path), "-f", "torch", "--isolation", "none", "--limit",
                  "max_layers=1001", "--out", str(tmp_path / "ran"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 case," in ran.stdout and (tmp_path / "ran" / "report.csv").exists()


def test_the_defaults_are_those_documented():
    assert DEFAULTS.max_tensor_elements == 10_000_000 and DEFAULTS.max_parameters == 50_000_000
    assert DEFAULTS.max_layers == 1_000 and DEFAULTS.max_steps == 100_000
    assert DEFAULTS.max_data_file_bytes == 256 * 2**20
    text = (ROOT / "docs" / "case-format.md").read_text(encoding="utf-8")
    for name in ("max_tensor_elements", "max_parameters", "max_batch", "max_layers", "max_steps",
                 "max_data_file_bytes", "max_case_file_bytes"):
        value = getattr(DEFAULTS, name)
        assert f"`{name}`" in text and (f"{value:,}" in text), name
    assert "--limit NAME=VALUE" in (ROOT / "docs" / "command-line.md").read_text(encoding="utf-8")
