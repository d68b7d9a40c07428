"""routing.ringplan: UCN table validation, stage timing, continuous legs, simultaneous ringing."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.model import ACCOUNT_PHONE, Diversion, DiversionReason, Leg, RingEntry, RingTable
from routing.ringplan import Timeline, sequential, simultaneous, validate
from tests.unit.routing_strategies import ring_tables

A = ACCOUNT_PHONE
M = "6135550111"  # mobile
H = "6135550122"  # home
C = "8195550133"  # cottage


def table(*rows: tuple[str, tuple[int | None, ...]]) -> RingTable:
    return RingTable(tuple(RingEntry(number, cells) for number, cells in rows))


def spans(timeline: Timeline) -> list[tuple[str, int, int]]:
    return [(leg.target, leg.start, leg.end) for leg in timeline.legs]


# ------------------------------------------------------------------------------------------------
# Timing examples


@pytest.mark.parametrize(
    ("rows", "stages", "expected"),
    [
        pytest.param([(A, (20,))], (20,), [(A, 0, 20)], id="one cell"),
        pytest.param(
            [(A, (20,)), (M, (30,))],
            (30,),
            [(A, 0, 20), (M, 0, 30)],
            id="one stage, parallel, stage lasts its longest cell",
        ),
        pytest.param(
            [(A, (20, None)), (M, (None, 30))],
            (20, 30),
            [(A, 0, 20), (M, 20, 50)],
            id="one after the other",
        ),
        pytest.param(
            [(A, (20, 20)), (M, (None, 30))],
            (20, 30),
            [(A, 0, 40), (M, 20, 50)],
            id="full cell then a cell in the next stage: one continuous leg",
        ),
        pytest.param(
            [(A, (10, 20)), (M, (20, 30))],
            (20, 30),
            [(A, 0, 10), (M, 0, 50), (A, 20, 40)],
            id="short cell: a break, then a new leg at the next stage",
        ),
        pytest.param(
            [(A, (15, 15, 15)), (M, (None, 10, None)), (H, (None, None, 40))],
            (15, 15, 40),
            [(A, 0, 45), (M, 15, 25), (H, 30, 70)],
            id="one leg across three stages, cut short by its last cell",
        ),
        pytest.param(
            [(A, (20, None, 20)), (M, (None, 30, None))],
            (20, 30, 20),
            [(A, 0, 20), (M, 20, 50), (A, 50, 70)],
            id="non-adjacent stages: two legs",
        ),
        pytest.param(
            [(A, (20, 30, None, 5)), (M, (20,)), (H, (None, None, 60, 5)), (C, (None, 30))],
            (20, 30, 60, 5),
            [(A, 0, 50), (M, 0, 20), (C, 20, 50), (H, 50, 115), (A, 110, 115)],
            id="mixed, rows of different lengths",
        ),
        pytest.param(
            [(A, (5, 5, 5, 5, 5, 120))],
            (5, 5, 5, 5, 5, 120),
            [(A, 0, 145)],
            id="six columns, every cell full: one leg",
        ),
    ],
)
def test_sequential_timing(
    rows: list[tuple[str, tuple[int | None, ...]]],
    stages: tuple[int, ...],
    expected: list[tuple[str, int, int]],
) -> None:
    timeline = sequential(table(*rows))
    assert timeline.stages == stages
    assert timeline.total == sum(stages)
    assert spans(timeline) == expected


def test_sequential_keeps_remote_forwarding_per_row() -> None:
    timeline = sequential(
        RingTable((RingEntry(A, (20, 20)), RingEntry(M, (None, 30), allow_remote_forwarding=True)))
    )
    assert timeline.legs == (
        Leg(A, 0, 40, allow_remote_forwarding=False),
        Leg(M, 20, 30, allow_remote_forwarding=True, confirm=True),
    )
    assert all(leg.diversion is None for leg in timeline.legs)


def test_legs_to_other_numbers_carry_the_given_diversion() -> None:
    follow_me = Diversion("6135550100", DiversionReason.FOLLOW_ME)
    rows = table((A, (20, 20)), (M, (None, 30)))
    assert sequential(rows, follow_me).legs == (
        Leg(A, 0, 40),
        Leg(M, 20, 30, diversion=follow_me, confirm=True),
    )
    assert simultaneous(rows, 24, follow_me).legs == (
        Leg(A, 0, 24),
        Leg(M, 0, 24, diversion=follow_me, confirm=True),
    )


def test_stage_starts() -> None:
    timeline = sequential(table((A, (20, None, 10)), (M, (None, 30, None))))
    assert timeline.starts == (0, 20, 50)


def test_simultaneous_rings_every_row_at_once_for_the_timeout() -> None:
    rows = RingTable(
        (
            RingEntry(A, (20, None)),
            RingEntry(M, (), allow_remote_forwarding=True),  # no cell: fine in this mode
            RingEntry(H, (None, 90)),
        )
    )
    timeline = simultaneous(rows, 24)
    assert timeline.legs == (
        Leg(A, 0, 24),
        Leg(M, 0, 24, allow_remote_forwarding=True, confirm=True),
        Leg(H, 0, 24, confirm=True),
    )
    assert timeline.stages == (24,)
    assert timeline.total == 24


# ------------------------------------------------------------------------------------------------
# Validation


def _rows(n: int) -> list[tuple[str, tuple[int | None, ...]]]:
    return [(A, (20,))] + [(f"61355502{k:02d}", (20,)) for k in range(n - 1)]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "the ring table is empty"),
        (
            _rows(12),
            "the ring table has 12 rows: at most 11 (the account phone and 10 other numbers)",
        ),
        ([(A, (5, 5, 5, 5, 5, 5, 5))], "the ring table has 7 columns: at most 6"),
        ([(A, (20,)), (M, (None,) * 6 + (20,))], "the ring table has 7 columns: at most 6"),
        (
            [(A, (20,)), (A, (None, 20))],
            "the account phone appears more than once in the ring table",
        ),
        (
            [(M, (20,)), (A, (20,)), (M, (30,))],
            "6135550111 appears more than once in the ring table",
        ),
        ([(A, (4,))], "the account phone, column 1: 4 seconds is outside 5..120"),
        ([(A, (20,)), (M, (None, 121))], "6135550111, column 2: 121 seconds is outside 5..120"),
        ([(M, (0,))], "6135550111, column 1: 0 seconds is outside 5..120"),
        ([(M, (-20,))], "6135550111, column 1: -20 seconds is outside 5..120"),
        ([("613-555-0111", (20,))], "'613-555-0111' in the ring table is not a normalised number"),
        ([("mobile", (20,))], "'mobile' in the ring table is not a normalised number"),
        ([(A, ()), (M, (None, None))], "the ring table has no ring time in any cell"),
        ([(A, (20,)), (M, ())], "6135550111 has no ring time in any column"),
        ([(A, (None, None, 20)), (M, (20,))], "column 2 of the ring table has no ring time"),
        ([(A, (20, None, None))], "column 2 of the ring table has no ring time"),
        ([(A, (None, 20))], "column 1 of the ring table has no ring time"),
    ],
)
def test_sequential_validation_messages(
    rows: list[tuple[str, tuple[int | None, ...]]], message: str
) -> None:
    with pytest.raises(ValueError) as info:
        sequential(table(*rows))
    assert str(info.value) == message
    with pytest.raises(ValueError) as again:
        validate(table(*rows))
    assert str(again.value) == message


@pytest.mark.parametrize(
    ("rows", "timeout", "message"),
    [
        ([], 24, "the ring table is empty"),
        (
            _rows(12),
            24,
            "the ring table has 12 rows: at most 11 (the account phone and 10 other numbers)",
        ),
        ([(M, (20,)), (M, ())], 24, "6135550111 appears more than once in the ring table"),
        ([(M, (200,))], 24, "6135550111, column 1: 200 seconds is outside 5..120"),
        ([(A, (5,) * 7)], 24, "the ring table has 7 columns: at most 6"),
        ([(M, ())], 0, "the no-answer timeout is 0 seconds: it must be at least 1"),
    ],
)
def test_simultaneous_validation_messages(
    rows: list[tuple[str, tuple[int | None, ...]]], timeout: int, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        simultaneous(table(*rows), timeout)
    assert str(info.value) == message


def test_eleven_rows_and_six_columns_are_allowed() -> None:
    rows = _rows(11)
    rows[0] = (A, (20, 20, 20, 20, 20, 20))
    timeline = sequential(table(*rows))
    assert len(timeline.stages) == 6
    assert {leg.target for leg in timeline.legs} == {number for number, _ in rows}


# ------------------------------------------------------------------------------------------------
# Properties over valid tables


def _reference(tbl: RingTable, starts: tuple[int, ...]) -> dict[str, list[tuple[int, int]]]:
    """Per number: its cells as time intervals, touching intervals merged (one leg each)."""
    merged: dict[str, list[tuple[int, int]]] = {}
    for entry in tbl.entries:
        intervals: list[tuple[int, int]] = []
        for k, cell in enumerate(entry.cells):
            if cell is None:
                continue
            start, end = starts[k], starts[k] + cell
            if intervals and intervals[-1][1] == start:
                intervals[-1] = (intervals[-1][0], end)
            else:
                intervals.append((start, end))
        merged[entry.number] = intervals
    return merged


@given(ring_tables())
def test_stage_timings_add_up(tbl: RingTable) -> None:
    timeline = sequential(tbl)
    columns = max(len(entry.cells) for entry in tbl.entries)
    assert len(timeline.stages) == columns
    for k, length in enumerate(timeline.stages):
        cells = [e.cells[k] for e in tbl.entries if k < len(e.cells) and e.cells[k] is not None]
        assert length == max(c for c in cells if c is not None)
    assert timeline.total == sum(timeline.stages)
    starts = timeline.starts
    assert starts[0] == 0
    assert all(starts[k + 1] == starts[k] + timeline.stages[k] for k in range(columns - 1))
    assert all(leg.start in starts for leg in timeline.legs)
    assert all(leg.duration > 0 and leg.end <= timeline.total for leg in timeline.legs)


@given(ring_tables())
def test_legs_are_the_cells_with_continuous_ones_joined(tbl: RingTable) -> None:
    timeline = sequential(tbl)
    legs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for leg in timeline.legs:
        legs[leg.target].append((leg.start, leg.end))
    assert dict(legs) == _reference(tbl, timeline.starts)


@given(ring_tables())
def test_a_number_never_rings_twice_at_once_nor_is_re_invited(tbl: RingTable) -> None:
    timeline = sequential(tbl)
    by_number: dict[str, list[Leg]] = defaultdict(list)
    for leg in timeline.legs:
        by_number[leg.target].append(leg)
    cells = {e.number: sum(c is not None for c in e.cells) for e in tbl.entries}
    for number, legs in by_number.items():
        assert len(legs) <= cells[number]
        for before, after in pairwise(legs):
            # strictly after: a leg that ends when the next one starts would be one leg
            assert after.start > before.end


@given(ring_tables())
def test_legs_only_ring_table_numbers_in_start_order(tbl: RingTable) -> None:
    timeline = sequential(tbl)
    rows = {entry.number: entry for entry in tbl.entries}
    assert {leg.target for leg in timeline.legs} == set(rows)
    assert [leg.start for leg in timeline.legs] == sorted(leg.start for leg in timeline.legs)
    for leg in timeline.legs:
        assert leg.allow_remote_forwarding == rows[leg.target].allow_remote_forwarding


@given(ring_tables(), st.integers(1, 300))
def test_simultaneous_rings_each_row_once(tbl: RingTable, timeout: int) -> None:
    timeline = simultaneous(tbl, timeout)
    assert [leg.target for leg in timeline.legs] == [entry.number for entry in tbl.entries]
    assert all(leg.start == 0 and leg.duration == timeout for leg in timeline.legs)
    assert timeline.total == timeout
