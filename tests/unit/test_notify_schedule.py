"""notify.schedule: days x time ranges in the account's time zone, DST-correct (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notify.schedule import (
    ALWAYS,
    dump_schedule,
    is_open,
    next_open,
    parse_schedule,
    schedule_summary,
)
from tests.support.text import exact

TORONTO = ZoneInfo("America/Toronto")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def local(*args: int) -> datetime:
    """A Toronto wall time (fold=0) as an aware instant."""
    return datetime(*args, tzinfo=TORONTO)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


OFFICE = parse_schedule([{"days": [MON, TUE, WED, THU, FRI], "start": "08:00", "end": "17:30"}])
FRIDAY_NIGHT = parse_schedule([{"days": [FRI], "start": "22:00", "end": "06:00"}])


def test_the_empty_schedule_is_always_open() -> None:
    at = utc(2026, 3, 8, 7, 0)
    assert parse_schedule([]) == ALWAYS
    assert parse_schedule(None) == ALWAYS
    assert is_open(ALWAYS, at, TORONTO)
    assert next_open(ALWAYS, at, TORONTO) == at
    assert schedule_summary(ALWAYS) == "always"


def test_weekday_office_hours_start_included_end_excluded() -> None:
    assert is_open(OFFICE, local(2026, 6, 1, 8, 0), TORONTO)  # Monday 08:00
    assert is_open(OFFICE, local(2026, 6, 5, 17, 29), TORONTO)  # Friday 17:29
    assert not is_open(OFFICE, local(2026, 6, 5, 17, 30), TORONTO)
    assert not is_open(OFFICE, local(2026, 6, 6, 12, 0), TORONTO)  # Saturday
    # Friday evening -> Monday 08:00 local.
    assert next_open(OFFICE, local(2026, 6, 5, 18, 0), TORONTO) == local(2026, 6, 8, 8, 0)
    # In UTC the answer is the same instant (the zone is the account's, not the server's).
    assert next_open(OFFICE, utc(2026, 6, 5, 22, 0), "America/Toronto") == utc(2026, 6, 8, 12, 0)
    assert schedule_summary(OFFICE) == "Mon,Tue,Wed,Thu,Fri 08:00-17:30"


def test_a_range_across_midnight_belongs_to_its_start_day() -> None:
    assert not is_open(FRIDAY_NIGHT, local(2026, 6, 5, 21, 59), TORONTO)
    assert is_open(FRIDAY_NIGHT, local(2026, 6, 5, 22, 0), TORONTO)  # Friday 22:00
    assert is_open(FRIDAY_NIGHT, local(2026, 6, 6, 5, 59), TORONTO)  # Saturday 05:59
    assert not is_open(FRIDAY_NIGHT, local(2026, 6, 6, 6, 0), TORONTO)
    assert not is_open(FRIDAY_NIGHT, local(2026, 6, 7, 1, 0), TORONTO)  # Sunday: not listed
    assert not is_open(FRIDAY_NIGHT, local(2026, 6, 5, 1, 0), TORONTO)  # Thursday night
    assert next_open(FRIDAY_NIGHT, local(2026, 6, 6, 6, 0), TORONTO) == local(2026, 6, 12, 22, 0)


def test_end_of_day_is_24_00() -> None:
    evening = parse_schedule([{"days": [SUN], "start": "20:00", "end": "24:00"}])
    assert is_open(evening, local(2026, 6, 7, 23, 59, 59), TORONTO)
    assert not is_open(evening, local(2026, 6, 8, 0, 0), TORONTO)
    assert dump_schedule(evening) == [{"days": [SUN], "start": "20:00", "end": "24:00"}]


def test_dst_spring_forward_a_start_in_the_gap_opens_at_the_transition() -> None:
    # 2026-03-08, Toronto: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    gap = parse_schedule([{"days": [SUN], "start": "02:30", "end": "04:00"}])
    assert next_open(gap, utc(2026, 3, 8, 5, 0), TORONTO) == utc(2026, 3, 8, 7, 0)
    assert is_open(gap, utc(2026, 3, 8, 7, 0), TORONTO)  # 03:00 EDT
    assert not is_open(gap, utc(2026, 3, 8, 8, 0), TORONTO)  # 04:00 EDT
    # A range that straddles the gap ends when the clock jumps past its end.
    straddle = parse_schedule([{"days": [SUN], "start": "01:30", "end": "02:30"}])
    assert is_open(straddle, utc(2026, 3, 8, 6, 45), TORONTO)  # 01:45 EST
    assert not is_open(straddle, utc(2026, 3, 8, 7, 0), TORONTO)  # 03:00 EDT


def test_dst_wall_times_keep_their_meaning_across_the_change() -> None:
    morning = parse_schedule([{"days": [SAT, SUN, MON], "start": "09:00", "end": "10:00"}])
    # Saturday 09:00 is 14:00 UTC (EST); Sunday and Monday 09:00 are 13:00 UTC (EDT).
    assert next_open(morning, utc(2026, 3, 7, 10, 0), TORONTO) == utc(2026, 3, 7, 14, 0)
    assert next_open(morning, utc(2026, 3, 7, 15, 0), TORONTO) == utc(2026, 3, 8, 13, 0)
    assert next_open(morning, utc(2026, 3, 8, 14, 0), TORONTO) == utc(2026, 3, 9, 13, 0)
    # Fall back (2026-11-01): Sunday 09:00 EST is 14:00 UTC again.
    assert next_open(morning, utc(2026, 10, 31, 14, 0), TORONTO) == utc(2026, 11, 1, 14, 0)


def test_dst_fall_back_a_repeated_wall_time_is_inside_both_times() -> None:
    # 2026-11-01, Toronto: 02:00 EDT goes back to 01:00 EST; 01:00-01:59 happens twice.
    twice = parse_schedule([{"days": [SUN], "start": "01:00", "end": "01:30"}])
    assert is_open(twice, utc(2026, 11, 1, 5, 15), TORONTO)  # 01:15 EDT
    assert not is_open(twice, utc(2026, 11, 1, 5, 45), TORONTO)  # 01:45 EDT
    assert is_open(twice, utc(2026, 11, 1, 6, 15), TORONTO)  # 01:15 EST
    assert next_open(twice, utc(2026, 11, 1, 5, 45), TORONTO) == utc(2026, 11, 1, 6, 0)
    # A night range across midnight and the change lasts one hour longer in UTC.
    night = parse_schedule([{"days": [SAT], "start": "23:00", "end": "06:00"}])
    opened = next_open(night, utc(2026, 10, 31, 12, 0), TORONTO)
    assert opened == utc(2026, 11, 1, 3, 0)  # Saturday 23:00 EDT
    assert is_open(night, utc(2026, 11, 1, 10, 59), TORONTO)  # 05:59 EST
    assert not is_open(night, utc(2026, 11, 1, 11, 0), TORONTO)  # 06:00 EST


def test_a_range_that_only_exists_in_the_gap_never_opens_that_day() -> None:
    only_gap = parse_schedule([{"days": [SUN], "start": "02:10", "end": "02:50"}])
    # Sunday 2026-03-08 has no 02:10-02:50; the next opening is the following Sunday.
    assert next_open(only_gap, utc(2026, 3, 8, 5, 0), TORONTO) == utc(2026, 3, 15, 6, 10)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match=exact("schedules need timezone-aware instants")):
        is_open(OFFICE, datetime(2026, 1, 1, 12, 0), TORONTO)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"days": [1]}, "a schedule is a list of ranges"),
        (["x"], "schedule range 1 is not an object with days, start and end"),
        (
            [{"days": [0], "start": "08:00", "end": "09:00", "tz": "x"}],
            "schedule range 1 has unknown field(s): tz",
        ),
        (
            [{"days": [], "start": "08:00", "end": "09:00"}],
            "schedule range 1: days must be a non-empty list of 0..6 (Monday = 0)",
        ),
        (
            [{"days": [7], "start": "08:00", "end": "09:00"}],
            "schedule range 1: days must be a non-empty list of 0..6 (Monday = 0)",
        ),
        (
            [{"days": [True], "start": "08:00", "end": "09:00"}],
            "schedule range 1: days must be a non-empty list of 0..6 (Monday = 0)",
        ),
        (
            [
                {"days": [0], "start": "08:00", "end": "09:00"},
                {"days": [0], "start": "8:00", "end": "09:00"},
            ],
            "schedule range 2: start must be a time such as 08:30",
        ),
        (
            [{"days": [0], "start": "24:00", "end": "09:00"}],
            "schedule range 1: start 24:00 is not a time of day",
        ),
        (
            [{"days": [0], "start": "08:00", "end": "08:60"}],
            "schedule range 1: end 08:60 is not a time of day",
        ),
        (
            [{"days": [0], "start": "08:00", "end": "08:00"}],
            "schedule range 1: start and end are the same time",
        ),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=exact(message)):
        parse_schedule(raw)


hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 30]))
ranges = st.fixed_dictionaries(
    {
        "days": st.lists(st.integers(0, 6), min_size=1, max_size=3, unique=True),
        "start": hhmm,
        "end": hhmm,
    }
).filter(lambda r: r["start"] != r["end"])


@settings(max_examples=40, deadline=None)
@given(
    raw=st.lists(ranges, min_size=1, max_size=3),
    minutes=st.integers(0, 366 * 24 * 60),
)
def test_next_open_is_the_first_open_minute(raw: list[dict[str, object]], minutes: int) -> None:
    schedule = parse_schedule(raw)
    at = utc(2026, 1, 1) + timedelta(minutes=minutes)
    found = next_open(schedule, at, TORONTO)
    assert found is not None and found >= at and is_open(schedule, found, TORONTO)
    # Nothing opens earlier (minute resolution; starts are on whole minutes).
    probe = at
    while probe < found - timedelta(minutes=1):
        probe += timedelta(minutes=1)
        assert not is_open(schedule, probe, TORONTO) or probe >= found
