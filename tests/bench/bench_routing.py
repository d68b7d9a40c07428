"""Routing benchmark (SPEC S13): decisions per second and the cost of large screening lists.

Every figure is measured in this run, on one core: the best of several timed runs after a
warm-up, with time.perf_counter. The reference is a no-op function called with the same loop and
the same two arguments, so the decision rate can be read as "N times the cost of a bare call".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from time import perf_counter

from routing.engine import decide
from routing.model import (
    ACCOUNT_PHONE,
    CallFacts,
    FallbackAction,
    IncomingMode,
    LineSettings,
    Plan,
    RingEntry,
    RingTable,
    Rule,
)
from tests.bench.table import Row

AREA = "routing"
LINE = "6135550100"
NOW = datetime(2025, 3, 14, 9, 30)
REPEATS = 5
STRANGER = "4165550199"  # on no list


def _numbers(area: str, count: int) -> frozenset[str]:
    return frozenset(f"{area}{2_000_000 + k:07d}" for k in range(count))


def full_line(list_size: int) -> LineSettings:
    """Sequential 6-column table with the account phone and 10 numbers, every option on."""
    cells: list[tuple[int | None, ...]] = [
        (20, 20, None, None, None, None),
        (20, None, 30, None, None, None),
        (None, 25, 30, 15, None, None),
        (None, None, None, 15, 40, None),
        (10, 10, 10, 10, 10, 10),
        (None, None, 30, None, 40, 20),
        (None, 25, None, None, None, 20),
        (15, None, None, 15, None, None),
        (None, None, None, None, 40, 20),
        (30, None, None, None, None, None),
        (None, None, None, None, None, 20),
    ]
    numbers = [ACCOUNT_PHONE] + [f"61355501{k:02d}" for k in range(10)]
    table = RingTable(
        tuple(
            RingEntry(number, row, allow_remote_forwarding=k % 3 == 0)
            for k, (number, row) in enumerate(zip(numbers, cells, strict=True))
        )
    )
    return LineSettings(
        line=LINE,
        incoming_mode=IncomingMode.SEQUENTIAL,
        ring_table=table,
        no_answer_action=FallbackAction.NUMBER,
        no_answer_to="6135550188",
        busy_action=FallbackAction.NUMBER,
        busy_to="6135550177",
        unavailable_forwarding=True,
        unavailable_to="6135550166",
        selective_forwarding=True,
        selective_forward_to="6135550155",
        forward_list=_numbers("819", list_size),
        selective_rejection=True,
        reject_list=_numbers("613", list_size),
        anonymous_rejection=True,
    )


def _call(caller: str) -> CallFacts:
    return CallFacts(called=LINE, caller=caller, now=NOW)


def _noop(settings: object, call: object) -> None:
    return None


def _loop(
    func: Callable[[LineSettings, CallFacts], object],
    settings: LineSettings,
    call: CallFacts,
    n: int,
) -> float:
    started = perf_counter()
    for _ in range(n):
        func(settings, call)
    return perf_counter() - started


def per_call(
    func: Callable[[LineSettings, CallFacts], object],
    settings: LineSettings,
    call: CallFacts,
    n: int,
) -> float:
    """Seconds per call: best of REPEATS runs of n calls, after a warm-up."""
    _loop(func, settings, call, max(1, n // 10))
    return min(_loop(func, settings, call, n) for _ in range(REPEATS)) / n


def per_fresh_call(lines: list[LineSettings], call: CallFacts) -> float:
    """Seconds per decision when every decision gets a settings object it has never seen."""
    best = float("inf")
    for _ in range(REPEATS):
        copies = [replace(line) for line in lines]  # new objects: nothing cached for them
        started = perf_counter()
        for line in copies:
            decide(line, call)
        best = min(best, perf_counter() - started)
    return best / len(lines)


@contextmanager
def one_core() -> Iterator[str]:
    """Pin this process to one CPU for the measurements (where the OS allows it)."""
    if not hasattr(os, "sched_getaffinity"):
        yield "unpinned"
        return
    before = os.sched_getaffinity(0)
    cpu = max(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield f"cpu {cpu}"
    finally:
        os.sched_setaffinity(0, before)


def _rate(seconds: float) -> str:
    return f"{1 / seconds:,.0f}/s"


def run() -> list[Row]:
    line = full_line(1_000)
    not_listed, rejected, forwarded = (
        _call(STRANGER),
        _call(min(line.reject_list)),
        _call(min(line.forward_list)),
    )
    checks = {
        not_listed: Rule.SEQUENTIAL,
        rejected: Rule.REJECT_LIST,
        forwarded: Rule.SELECTIVE_FORWARD,
    }
    for facts, rule in checks.items():
        plan: Plan = decide(line, facts)
        if plan.reason is not rule:
            raise AssertionError(f"benchmark line decided {plan.reason} instead of {rule}")
    small, large = full_line(10), full_line(100_000)
    small_listed, large_listed = _call(min(small.reject_list)), _call(min(large.reject_list))
    n = 100_000
    with one_core() as cpu:
        noop = per_call(_noop, line, not_listed, n)
        reference = f"no-op call {_rate(noop)} on {cpu}"
        rows: list[Row] = []
        for name, facts in (
            ("decisions, full line, caller on no list", not_listed),
            ("decisions, full line, caller on the reject list", rejected),
            ("decisions, full line, caller on the forward list", forwarded),
        ):
            seconds = per_call(decide, line, facts, n)
            rows.append(
                Row(
                    AREA,
                    name,
                    _rate(seconds),
                    f"{reference}; a decision = {seconds / noop:.1f} no-op calls",
                    ">= 100,000/s",
                )
            )
        fresh = per_fresh_call([full_line(1_000)] * 2_000, not_listed)
        rows.append(
            Row(
                AREA,
                "decisions, new settings object each call (plan built, not cached)",
                _rate(fresh),
                reference,
                "(information)",
            )
        )
        for name, (small_call, large_call) in (
            ("time ratio 100,000 vs 10-entry lists, caller on no list", (not_listed, not_listed)),
            (
                "time ratio 100,000 vs 10-entry lists, caller on the reject list",
                (small_listed, large_listed),
            ),
        ):
            small_best = large_best = float("inf")
            for _ in range(3):  # interleaved, so drift hits both sides alike
                small_best = min(small_best, per_call(decide, small, small_call, n))
                large_best = min(large_best, per_call(decide, large, large_call, n))
            rows.append(
                Row(
                    AREA,
                    name,
                    f"{large_best / small_best:.3f}",
                    f"10-entry lists {_rate(small_best)}",
                    "< 1.2",
                )
            )
    return rows
