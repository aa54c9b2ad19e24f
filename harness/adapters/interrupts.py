"""Whether a KeyboardInterrupt came from Ctrl-C or from code that raised it.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread is, so a file under test
that raises KeyboardInterrupt itself looks the same as the user pressing Ctrl-C. The command line
installs :func:`install`, which notes a real SIGINT before raising, so the run can tell the two
apart: Ctrl-C interrupts the run; a raise in a user's file is that file's error.
"""
from __future__ import annotations

import signal

_state = {"signalled": False}


def _handler(signum, frame):
    _state["signalled"] = True
    raise KeyboardInterrupt


def install() -> None:
    _state["signalled"] = False
    signal.signal(signal.SIGINT, _handler)


def signalled() -> bool:
    return _state["signalled"]
