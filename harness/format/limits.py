"""The sizes a case may ask for, in one place, each with a way past it.

A case file is text anyone may write, and a few characters ask for a lot: ``units: 1000000000``
is 8 GB of weights, ``steps: 0xFFFF…`` a run that never ends. Every size a case asks for is
checked against these limits arithmetically, from the numbers written in the case (or from a
.npy file's header), before anything is drawn, read or allocated, so an oversized case is
refused in milliseconds with the limit's name. The defaults are chosen so that a laptop
(8-16 GB of memory, every framework running the case one after another, each in a worker
process of its own) survives any case within them:

``max_tensor_elements`` = 10,000,000
    Elements of any one tensor: the data ``x`` and ``y``, a weight, a bias, a layer's
    activations (batch × units). 80 MB in float64; each framework holds several such copies
    (forward values, gradients, optimizer state), and the reference, the frameworks and the
    oracles each hold their own.
``max_parameters`` = 50,000,000
    Weights and biases of the whole network together: 400 MB in float64 per copy, and Adam keeps
    four copies (parameters, gradients, two moments) in every framework.
``max_batch`` = 1,000,000
    Rows of ``x``. A conformance case needs a handful; a million rows of one feature is still
    within the element limit, and anything larger is a benchmark, not a conformance check.
``max_layers`` = 1,000
    Layers of the network. Frameworks that record a graph recurse once per layer (micrograd's
    backward pass is recursive); 1,000 is far past any case that checks a gradient.
``max_steps`` = 100,000
    Training steps; every step of every framework is compared and kept in the report, so this
    bounds the run's time and the report's size.
``max_data_file_bytes`` = 268,435,456 (256 MiB)
    The size of a ``{file: …}`` .npy or .csv, checked before it is read.
``max_case_file_bytes`` = 1,000,000
    The size of a case file itself (YAML is read into Python objects, about 100 times its size);
    large data belongs in a .npy or .csv file next to the case.

A case that needs more says so on the command line, ``--limit max_tensor_elements=1e8``
(repeatable), or for any command and pytest in the environment,
``HARNESS_LIMITS="max_tensor_elements=1e8,max_steps=1e6"``; a ``--limit`` wins over the
environment. Each problem message names its limit and the value that would let the case through.
"""
from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass, fields, replace
from typing import Iterable

from .errors import UsageError

ENVIRONMENT = "HARNESS_LIMITS"


@dataclass(frozen=True)
class Limits:
    """The sizes a case may ask for; the module's docstring says why each default."""

    max_tensor_elements: int = 10_000_000
    max_parameters: int = 50_000_000
    max_batch: int = 1_000_000
    max_layers: int = 1_000
    max_steps: int = 100_000
    max_data_file_bytes: int = 256 * 2**20
    max_case_file_bytes: int = 1_000_000

    def exceeded(self, name: str, found: int, what: str, detail: str = "",
                 more: bool = False) -> str | None:
        """None when ``found`` is within the limit ``name``; else the problem message, which
        names the limit and the setting that would let ``found`` through. ``detail`` says
        where (" in layers.0.weight (10, 5)"); ``more``: ``found`` is only a lower bound (a
        file read no further than the limit)."""
        limit = getattr(self, name)
        if found <= limit:
            return None
        if more:
            found_text, value = f"more than {limit:,}", "N"
        elif found < 10**30:
            found_text, value = f"{found:,}", str(found)
        else:  # beyond any machine; said without printing every digit
            found_text, value = "more than 10^30", "N"
        return (f"expected at most {limit:,} {what}, found {found_text}{detail}: over the limit "
                f"{name}; to allow it, raise the limit: --limit {name}={value} "
                f"(or {ENVIRONMENT}={name}={value})")


DEFAULTS = Limits()
NAMES = tuple(f.name for f in fields(Limits))


def _value(name: str, text: str, source: str) -> int:
    """A limit's value: a positive integer written as 100000000, 100_000_000 or 1e8."""
    text = text.strip()
    try:
        value = int(text.replace("_", "")) if text.replace("_", "").isdigit() else float(text)
    except ValueError:
        value = None
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) and value == int(value) else None
    if value is None or value < 1:
        raise UsageError(f"{source}: {name}={text!r}: expected a positive whole number such as "
                         "100000000, 100_000_000 or 1e8")
    return value


def parse(assignments: Iterable[str], source: str) -> dict[str, int]:
    """``["name=value", …]`` into {name: value}; a mistake is a UsageError naming ``source``."""
    out: dict[str, int] = {}
    for item in assignments:
        item = item.strip()
        if not item:
            continue
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep:
            raise UsageError(f"{source}: expected NAME=VALUE, found {item!r}; names: "
                             f"{', '.join(NAMES)}")
        if name not in NAMES:
            close = difflib.get_close_matches(name, NAMES, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"{source}: unknown limit {name!r}; valid: {', '.join(NAMES)}{hint}")
        out[name] = _value(name, text, source)
    return out


def from_environment(environ: dict[str, str] | None = None) -> dict[str, int]:
    """The limits set in HARNESS_LIMITS="name=value,name=value" (none when it is unset)."""
    text = (os.environ if environ is None else environ).get(ENVIRONMENT, "")
    return parse(text.split(","), f"environment variable {ENVIRONMENT}")


def configured(options: Iterable[str] = (), option: str = "--limit",
               environ: dict[str, str] | None = None) -> Limits:
    """The defaults, then HARNESS_LIMITS, then each ``NAME=VALUE`` of ``option`` (the last
    wins)."""
    chosen = from_environment(environ)
    chosen.update(parse(options, option))
    return replace(DEFAULTS, **chosen)
