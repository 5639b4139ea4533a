"""A global bound on concurrent model work, so a crowd gets "busy, try again" instead of an endless queue.

Every model run in the app goes through ``zoo.use`` (one lock per model). Without a bound, 35 workshop
sessions asking for 35 different sweeps would all wait on those locks, each request holding a thread,
and the last visitor would wait for everyone else's work. ``model_work()`` admits at most
``MAX_ACTIVE`` outer model runs at a time (running or waiting on a model lock); a further caller waits
at most ``WAIT_S`` seconds for a slot and then gets ``Busy`` -- a ``ValueError``, so the widgets'
usual "bad input" path shows its message in place. Nested ``zoo.use`` calls in one thread share their
outer slot.

Both numbers are read once at start-up (``INTERP_MAX_MODEL_WORK``, ``INTERP_BUSY_WAIT_S``) and can be
changed by ``configure`` (tests). ``runs`` counts admitted outer runs: the load bench reads it, with
``zoo.load_counts``, from the JSON file named by ``INTERP_STATS_FILE`` (written only when that is set).
"""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MAX_ACTIVE = int(os.environ.get("INTERP_MAX_MODEL_WORK", "8"))
WAIT_S = float(os.environ.get("INTERP_BUSY_WAIT_S", "2.0"))
STATS_FILE = os.environ.get("INTERP_STATS_FILE", "")

_cond = threading.Condition()
_active = 0
_local = threading.local()
runs = 0  # admitted outer model runs since start-up
busy = 0  # callers turned away


class Busy(ValueError):
    """Too much model work in flight; the caller should try again shortly."""


def configure(max_active: int | None = None, wait_s: float | None = None) -> None:
    global MAX_ACTIVE, WAIT_S
    with _cond:
        MAX_ACTIVE = MAX_ACTIVE if max_active is None else max_active
        WAIT_S = WAIT_S if wait_s is None else wait_s
        _cond.notify_all()


def active() -> int:
    return _active


@contextmanager
def model_work() -> Iterator[None]:
    """Hold one of the ``MAX_ACTIVE`` slots for a model run; raise ``Busy`` after ``WAIT_S`` without one."""
    global _active, runs, busy
    depth = getattr(_local, "depth", 0)
    if depth:  # nested in this thread's outer run
        _local.depth = depth + 1
        try:
            yield
        finally:
            _local.depth -= 1
        return
    deadline = time.monotonic() + WAIT_S
    with _cond:
        while _active >= MAX_ACTIVE:
            left = deadline - time.monotonic()
            if left <= 0:
                busy += 1
                raise Busy("The server is busy with other visitors' experiments: try again in a few seconds.")
            _cond.wait(left)
        _active += 1
        runs += 1
    _local.depth = 1
    try:
        yield
    finally:
        _local.depth = 0
        with _cond:
            _active -= 1
            _cond.notify()


def stats() -> dict:
    """Counters for the load bench: model loads per (name, checkpoint), admitted runs, busy answers."""
    from app import zoo

    loads = {f"{n}@{c if c is not None else 'final'}": k for (n, c), k in zoo.load_counts().items()}
    return {"model_loads": loads, "model_runs": runs, "busy": busy, "active": _active}


def _write_stats_forever(path: Path) -> None:
    while True:
        try:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(stats()))
            tmp.replace(path)
        except Exception:  # a bench aid must never disturb the app
            pass
        time.sleep(0.2)


if STATS_FILE:
    threading.Thread(target=_write_stats_forever, args=(Path(STATS_FILE),), daemon=True, name="interp-stats").start()
