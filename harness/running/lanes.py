"""Cases spread over lanes: each lane a thread with its own warm worker process.

A lane takes the next case when it is free, so a slow case does not hold the others back; the
results come back in the cases' order, whatever the scheduling, so the report does not depend on
--jobs. The threads only wait on their workers and compare (NumPy): the frameworks' work runs in
the worker processes, in parallel.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_lanes(items: Sequence[Item], lanes: Sequence, work: Callable[[Item, object], Result],
             stopped: threading.Event | None = None) -> list[Result]:
    """``work(item, lane)`` for every item, each lane working on one item at a time; the results
    in the items' order. With one lane, or one item, everything runs in this thread.

    Ctrl-C (KeyboardInterrupt in this thread) sets ``stopped``, so no lane starts another item,
    and is raised; the caller closes the lanes' workers. The first exception a lane raises
    stops the others the same way and is raised here.
    """
    stopped = stopped or threading.Event()
    if len(lanes) <= 1 or len(items) <= 1:
        return [work(item, lanes[0] if lanes else None) for item in items]
    queue = deque(enumerate(items))
    results: dict[int, Result] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()

    def lane(worker) -> None:
        while not stopped.is_set():
            with lock:
                if not queue:
                    return
                index, item = queue.popleft()
            try:
                results[index] = work(item, worker)
            except BaseException as exc:  # noqa: B902 - handed to the caller's thread
                failures.append(exc)
                stopped.set()
                return

    threads = [threading.Thread(target=lane, args=(worker,), name=f"harness-lane-{n}",
                                daemon=True) for n, worker in enumerate(lanes)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # a timed join lets Ctrl-C through
    except KeyboardInterrupt:
        stopped.set()
        raise
    if failures:
        raise failures[0]
    return [results[index] for index in range(len(items))]
