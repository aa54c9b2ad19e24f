"""Party names: ``torch``, ``torch@cuda``, ``jax@gpu``, ``torch+fused``, ``torch+compile@cuda``:
``framework[+mode][@device]``. Pure names: which modes and devices exist is the framework
registry's to say (harness.adapters.known_parties), where a party runs is the runner's
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
ALL = "all"  # in a case's frameworks: every framework (beside the modes and devices listed)
SEPARATOR = "@"  # before a device
MODE = "+"  # before an execution mode
# other spellings of a framework's device, turned into its own name
ALIASES = {"jax": {"cuda": "gpu"}}
# set by the harness when it, not the user, chose JAX's platform: the JAX adapter pins a bare
# `jax` to the CPU, and a worker's environment tells that pin from a user's own choice
PINNED_MARK = "HARNESS_PINNED_JAX_PLATFORMS"


def parts(name: str) -> tuple[str, str | None, str | None]:
    """(framework, mode or None, device or None) of a party name."""
    base, at, device = name.partition(SEPARATOR)
    framework, plus, mode = base.partition(MODE)
    return framework, (mode if plus else None), (device if at else None)


def compose(framework: str, mode: str | None = None, device: str | None = None) -> str:
    """The party name of a framework in a mode on a device."""
    return framework + (f"{MODE}{mode}" if mode is not None else "") + \
        (f"{SEPARATOR}{device}" if device is not None else "")


def split(name: str) -> tuple[str, str | None]:
    """(framework, device or None) of a party name: its mode is the framework's still."""
    framework, _, device = parts(name)
    return framework, device


def mode_of(name: str) -> str | None:
    """The execution mode a party runs in (torch+fused: fused); None for the default."""
    return parts(name)[1]


def bound(name: str) -> bool:
    """Whether a name binds its framework to a mode or a device (torch+fused, jax@gpu)."""
    return SEPARATOR in name or MODE in name


def framework_of(name: str) -> str:
    """The framework of a party name: torch for torch+compile@cuda."""
    return parts(name)[0]


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
    framework, mode, device = parts(name)
    if device is None:
        return name
    return compose(framework, mode, ALIASES.get(framework, {}).get(device, device))


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
    modes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, names: Iterable[str], devices: Mapping[str, tuple[str, ...]] | None = None,
           modes: Mapping[str, tuple[str, ...]] | None = None) -> "Parties":
        return cls(tuple(names), dict(devices or {}), dict(modes or {}))

    def with_modes(self) -> list[str]:
        """Every framework in each of its execution modes."""
        return [compose(base, mode) for base in self.modes for mode in self.modes[base]]

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
        base, mode, device = parts(name)
        if device is None and mode is None:
            return None
        if not base:
            mark = MODE if mode is not None else SEPARATOR
            return f"{name!r}: expected a framework before {mark!r}, as in torch+fused or torch@cuda"
        if mode is not None and mode not in self.modes.get(base, ()):
            if not self.modes.get(base):
                return (f"{name!r}: {base!r} has no execution modes (frameworks with modes: "
                        f"{', '.join(self.with_modes())})")
            return (f"{name!r}: unknown mode {mode!r} for {base}; valid: "
                    f"{', '.join(compose(base, m) for m in self.modes[base])}")
        if device is None:
            return None
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
        ``framework+mode``, ``framework@device`` or ``framework+mode@device``."""
        out, problems = [], []
        for name in names:
            if bound(name):
                trouble = self.problem(name)
                if trouble:
                    problems.append(trouble)
                else:
                    out.append(canonical(name))
            elif name in self.names:
                out.append(name)
            else:
                others = ", ".join(self.with_modes() + self.with_devices())
                problems.append(f"unknown framework {name!r}{did_you_mean(name, self.names)}; "
                                f"valid: {', '.join(self.names)}" + (f", or {others}" if others
                                                                     else ""))
        return list(dict.fromkeys(out)), problems
