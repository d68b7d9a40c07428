"""Answer confirmation on ring-table legs (issue 17): which legs ask their answerer to press 1."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing import engine
from routing.model import (
    ACCOUNT_PHONE,
    CallFacts,
    IncomingMode,
    LineSettings,
    Ring,
    RingEntry,
    RingTable,
    Rule,
)
from routing.ringplan import confirms, sequential, simultaneous
from tests.unit.routing_strategies import line_settings, ring_tables, small_pool

LINE = "6135550100"
MOBILE = "6135550111"
NEIGHBOUR = "6135550122"  # another line of the installation
NOW = datetime(2025, 3, 14, 9, 30)


@pytest.mark.parametrize(
    ("number", "setting", "local", "expected"),
    [
        pytest.param(MOBILE, None, frozenset(), True, id="outside number: on by default"),
        pytest.param(NEIGHBOUR, None, frozenset({NEIGHBOUR}), False, id="local line: off"),
        pytest.param(ACCOUNT_PHONE, None, frozenset(), False, id="account phone: off"),
        pytest.param(MOBILE, False, frozenset(), False, id="outside number turned off"),
        pytest.param(NEIGHBOUR, True, frozenset({NEIGHBOUR}), True, id="local line turned on"),
        pytest.param(ACCOUNT_PHONE, True, frozenset(), True, id="account phone turned on"),
    ],
)
def test_confirms(number: str, setting: bool | None, local: frozenset[str], expected: bool) -> None:
    assert confirms(RingEntry(number, (20,), confirm_answer=setting), local) is expected


def test_sequential_legs_carry_their_rows_confirmation_across_stages() -> None:
    table = RingTable(
        (
            RingEntry(ACCOUNT_PHONE, (20, None)),
            RingEntry(MOBILE, (20, 20)),  # one leg over both stages
            RingEntry(NEIGHBOUR, (None, 20)),
        )
    )
    legs = sequential(table, local=frozenset({NEIGHBOUR})).legs
    assert [(leg.target, leg.start, leg.end, leg.confirm) for leg in legs] == [
        (ACCOUNT_PHONE, 0, 20, False),
        (MOBILE, 0, 40, True),
        (NEIGHBOUR, 20, 40, False),
    ]


def test_simultaneous_legs_carry_their_rows_confirmation() -> None:
    table = RingTable(
        (
            RingEntry(MOBILE, (20,), confirm_answer=False),
            RingEntry(NEIGHBOUR, (20,), confirm_answer=True),
        )
    )
    legs = simultaneous(table, 25, local=frozenset({NEIGHBOUR})).legs
    assert [(leg.target, leg.confirm) for leg in legs] == [(MOBILE, False), (NEIGHBOUR, True)]


def test_the_plan_explains_which_legs_ask_for_a_1() -> None:
    settings = LineSettings(
        line=LINE,
        incoming_mode=IncomingMode.SEQUENTIAL,
        ring_table=RingTable(
            (
                RingEntry(ACCOUNT_PHONE, (20, None)),
                RingEntry(MOBILE, (None, 20)),
                RingEntry(NEIGHBOUR, (None, 20)),
            )
        ),
        local_numbers=frozenset({NEIGHBOUR}),
    )
    plan = engine.decide(settings, CallFacts(called=LINE, caller="8195550199", now=NOW))
    assert isinstance(plan.first, Ring)
    assert [leg.confirm for leg in plan.first.legs] == [False, True, False]
    assert plan.explanation.startswith(
        "ring in sequence for 40 s: the account phone 0-20 s, "
        "6135550111 20-40 s (press 1 to accept), 6135550122 20-40 s; "
    )


@given(ring_tables(), st.frozensets(small_pool, max_size=3))
def test_every_sequential_leg_confirms_as_its_row_says(
    table: RingTable, local: frozenset[str]
) -> None:
    rows = {entry.number: entry for entry in table.entries}
    for leg in sequential(table, local=local).legs:
        assert leg.confirm is confirms(rows[leg.target], local)


@given(line_settings())
def test_no_plan_asks_the_account_phone_or_a_local_line_for_a_1_by_default(
    settings: LineSettings,
) -> None:
    plan = engine.decide(settings, CallFacts(called=LINE, caller="8195550199", now=NOW))
    rows = {entry.number: entry for entry in settings.ring_table.entries}
    step = plan.first
    if not isinstance(step, Ring):
        return
    for leg in step.legs:
        if step.rule not in (Rule.SEQUENTIAL, Rule.SIMULTANEOUS):
            assert not leg.confirm  # the account phone alone, not the table
            continue
        entry = rows[leg.target]
        if entry.confirm_answer is None:
            outside = leg.target != ACCOUNT_PHONE and leg.target not in settings.local_numbers
            assert leg.confirm is outside
        else:
            assert leg.confirm is entry.confirm_answer
