"""Party names: ``torch``, ``torch@cuda``, ``jax@gpu``. Pure names: which devices exist is the
framework registry's to say (harness.adapters.parties), where a party runs is the runner's
(harness.running.devices).

A bare name (``torch``, ``jax``) runs on the CPU wherever the run is, so the same command gives
the same verdicts on a laptop and on a GPU machine; a device is only ever chosen by name.
``jax@cuda`` is another spelling of ``jax@gpu`` and becomes it.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Mapping

CPU = "cpu"
# parties that are not frameworks, as report rows name them: no framework may take these names
EXPECTED = "expected"  # golden values
SELF = "self"  # the reference column of self-check rows: a party against its own loss
UNCLEAR = "unclear"  # the suspect when no majority settles who is wrong
RESERVED = (EXPECTED, SELF, UNCLEAR)
SEPARATOR = "@"
# other spellings of a framework's device, turned into its own name
ALIASES = {"jax": {"cuda": "gpu"}}
# set by the harness when it, not the user, chose JAX's platform: the JAX adapter pins a bare
# `jax` to the CPU, and a worker's environment tells that pin from a user's own choice
PINNED_MARK = "HARNESS_PINNED_JAX_PLATFORMS"


def split(name: str) -> tuple[str, str | None]:
    """(framework, device or None) of a party name."""
    base, at, device = name.partition(SEPARATOR)
    return (base, device) if at else (name, None)


def device_of(name: str) -> str:
    """The device a party runs on: a bare name is the CPU."""
    return split(name)[1] or CPU


def is_gpu(name: str) -> bool:
    return device_of(name) != CPU


def kind(device: str | None) -> str | None:
    """cpu or gpu: what a known discrepancy's device is compared by (cuda and gpu are one)."""
    return None if device is None else (CPU if device == CPU else "gpu")


def canonical(name: str) -> str:
    """The party's name with an alias device replaced (jax@cuda -> jax@gpu)."""
    base, device = split(name)
    if device is None:
        return name
    return f"{base}{SEPARATOR}{ALIASES.get(base, {}).get(device, device)}"


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """"; did you mean 'torch'?" for a name close to a valid one (``Torch``, ``pytorch``), else
    nothing."""
    valid = list(valid)
    lowered = {v.lower(): v for v in valid}
    close = [lowered[name.lower()]] if name.lower() in lowered else \
        difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Parties:
    """The parties a run may name: every installed framework and oracle, and the devices each
    framework can be bound to. The loader checks case files against it; the registry makes it
    (harness.adapters.parties)."""

    names: tuple[str, ...]
    devices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, names: Iterable[str], devices: Mapping[str, tuple[str, ...]] | None = None
           ) -> "Parties":
        return cls(tuple(names), dict(devices or {}))

    def spellings(self, base: str) -> list[str]:
        """Every valid ``base@device`` name, aliases included (for messages)."""
        names = [f"{base}{SEPARATOR}{d}" for d in self.devices.get(base, ())]
        return names + [f"{base}{SEPARATOR}{a}" for a in ALIASES.get(base, {})]

    def with_devices(self) -> list[str]:
        """Every framework that can be given a device, each spelling."""
        return [n for base in self.devices if self.devices[base] for n in self.spellings(base)]

    def problem(self, name: str) -> str | None:
        """Why a ``base@device`` name is not valid, naming the valid ones; None when it is (or
        when it names no device)."""
        base, device = split(name)
        if device is None:
            return None
        if not base:
            return f"{name!r}: expected a framework before {SEPARATOR!r}, as in torch@cuda"
        valid = self.devices.get(base, ())
        if not valid:
            return (f"{name!r}: {base!r} cannot be given a device (frameworks with devices: "
                    f"{', '.join(self.with_devices())})")
        if split(canonical(name))[1] not in valid:
            return (f"{name!r}: unknown device {device!r} for {base}; valid: "
                    f"{', '.join(self.spellings(base))}")
        return None

    def parse(self, names: Iterable[str]) -> tuple[list[str], list[str]]:
        """(the names, canonical, each once; the problems): each a known name or a valid
        ``base@device``."""
        out, problems = [], []
        for name in names:
            if SEPARATOR in name:
                trouble = self.problem(name)
                if trouble:
                    problems.append(trouble)
                else:
                    out.append(canonical(name))
            elif name in self.names:
                out.append(name)
            else:
                problems.append(f"unknown framework {name!r}{did_you_mean(name, self.names)}; "
                                f"valid: {', '.join(self.names)}, or "
                                f"{', '.join(self.with_devices())}")
        return list(dict.fromkeys(out)), problems
