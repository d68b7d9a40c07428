"""Debug only: where a worker's Python memory grows (tracemalloc), logged every few seconds.

Rules of this file:
- Off unless RELAIS_DEBUG_TRACEMALLOC is set to a number of seconds (e.g. 30): then tracemalloc
  starts (one frame per allocation: its source line) and a daemon thread logs, every that many
  seconds, the traced total and the source lines whose allocations grew most since the last
  report, and the project's classes whose live instances grew most.
- A wrong value is refused at start with a ValueError that names the variable.
- It costs CPU and memory (every allocation is traced): never for production or benchmarks.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import tracemalloc
from collections.abc import Callable

logger = logging.getLogger(__name__)

ENV = "RELAIS_DEBUG_TRACEMALLOC"
TOP = 15


def interval(value: str | None) -> float | None:
    """Seconds between two reports from the variable's value; None when it is unset or empty."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"{ENV} must be a number of seconds above 0, not {value!r}")
    return seconds


OWN = ("switch.", "ivr.", "routing.", "store.", "media.", "events.", "notify.")


def live_types() -> dict[str, int]:
    """Live (garbage-collector tracked) instances of the project's classes, by class."""
    counts: dict[str, int] = {}
    for obj in gc.get_objects():
        cls = type(obj)
        module = cls.__dict__.get("__module__")
        if isinstance(module, str) and module.startswith(OWN):
            name = f"{module}.{cls.__qualname__}"
            counts[name] = counts.get(name, 0) + 1
    return counts


def type_growth(before: dict[str, int], after: dict[str, int], top: int = TOP) -> str:
    """The classes whose live instances grew most."""
    diff = sorted(
        ((after.get(k, 0) - before.get(k, 0), k) for k in after.keys() | before.keys()),
        reverse=True,
    )
    return "\n".join(f"  {d:+7d} {k} ({after.get(k, 0)} live)" for d, k in diff[:top] if d)


def report(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int = TOP) -> str:
    """The traced total and the lines that grew most from `before` to `after`."""
    keep = (
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, __file__),
    )
    stats = after.filter_traces(keep).compare_to(before.filter_traces(keep), "lineno")
    total = sum(s.size for s in after.statistics("filename"))
    lines = [f"traced {total / 1e6:.1f} MB; growth by line:"]
    for s in stats[:top]:
        frame = s.traceback[0]
        lines.append(
            f"  {s.size_diff / 1024:+9.1f} KiB {s.count_diff:+7d} blocks "
            f"{frame.filename}:{frame.lineno}"
        )
    return "\n".join(lines)


def start_from_env(
    run_on: Callable[[Callable[[], dict[str, int]]], dict[str, int]] | None = None,
) -> threading.Thread | None:
    """Start tracing and the reporting thread when the variable asks for it.

    `run_on(fn)` runs fn where the objects are counted: the worker passes its pump, because the
    list of every object that gc.get_objects() returns may hold the last reference to a pjsua2
    object for a moment, and such an object must be freed on the pump thread."""
    count = live_types if run_on is None else (lambda: run_on(live_types))
    seconds = interval(os.environ.get(ENV))
    if seconds is None:
        return None
    tracemalloc.start(1)
    stop = threading.Event()

    def run() -> None:
        before = tracemalloc.take_snapshot()
        types: dict[str, int] | None = None
        while not stop.wait(seconds):
            after = tracemalloc.take_snapshot()
            try:
                now: dict[str, int] | None = count()
            except Exception as exc:  # e.g. the pump stopping
                logger.warning("memory: live instances not counted (%s)", exc)
                now = None
            growth = type_growth(types, now) if types is not None and now is not None else ""
            logger.warning("memory: %s\nlive instances:\n%s", report(before, after), growth)
            before, types = after, now

    thread = threading.Thread(target=run, name="memdebug", daemon=True)
    thread.start()
    return thread
