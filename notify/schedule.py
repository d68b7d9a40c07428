"""Notification schedules: days of the week x time ranges in the account's time zone (PURE).

Rules of this file:
- No clock, no I/O: every function takes the instant it reasons about.
- A schedule is the JSON list stored in NotificationSettings (*_schedule columns):
  [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "17:30"}, ...], Monday = 0. The empty
  list means "always".
- A range is wall-clock time on each listed day, start included, end excluded. "24:00" ends
  at midnight. A range whose end is before its start crosses midnight and belongs to its
  start day: {"days": [4], "start": "22:00", "end": "06:00"} is Friday 22:00 to Saturday 06:00.
- Wall-clock semantics make daylight saving time right by construction: on the spring-forward
  day a range starting at 02:30 (a time that does not exist) opens at 03:00, the transition;
  on the fall-back day a wall time that happens twice is inside a range both times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = range(7)
_HHMM = re.compile(r"(\d{2}):(\d{2})")
_SEARCH_DAYS = 15


@dataclass(frozen=True)
class Range:
    days: frozenset[int]
    start: int
    """Minutes after midnight, 0..1439."""
    end: int
    """Minutes after midnight, 1..1440; <= start means the range ends the next day."""

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


Schedule = tuple[Range, ...]
ALWAYS: Schedule = ()


def _minutes(value: Any, what: str, *, allow_24: bool) -> int:
    m = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"{what} must be a time such as 08:30")
    hours, minutes = int(m.group(1)), int(m.group(2))
    if allow_24 and hours == 24 and minutes == 0:
        return 1440
    if hours > 23 or minutes > 59:
        raise ValueError(f"{what} {value} is not a time of day")
    return hours * 60 + minutes


def parse_schedule(raw: Any) -> Schedule:
    """Validate the stored JSON form; ValueError names the entry (1-based) and the problem."""
    if raw is None:
        return ALWAYS
    if not isinstance(raw, list | tuple):
        raise ValueError("a schedule is a list of ranges")
    ranges = []
    for n, item in enumerate(raw, start=1):
        where = f"schedule range {n}"
        if not isinstance(item, dict):
            raise ValueError(f"{where} is not an object with days, start and end")
        unknown = set(item) - {"days", "start", "end"}
        if unknown:
            raise ValueError(f"{where} has unknown field(s): {', '.join(sorted(unknown))}")
        days = item.get("days")
        if (
            not isinstance(days, list | tuple)
            or not days
            or not all(isinstance(d, int) and not isinstance(d, bool) and d in DAYS for d in days)
        ):
            raise ValueError(f"{where}: days must be a non-empty list of 0..6 (Monday = 0)")
        start = _minutes(item.get("start"), f"{where}: start", allow_24=False)
        end = _minutes(item.get("end"), f"{where}: end", allow_24=True)
        if start == end:
            raise ValueError(f"{where}: start and end are the same time")
        ranges.append(Range(frozenset(days), start, end))
    return tuple(ranges)


def dump_schedule(schedule: Schedule) -> list[dict[str, Any]]:
    """The stored JSON form of a schedule (inverse of parse_schedule)."""

    def hhmm(m: int) -> str:
        return f"{m // 60:02d}:{m % 60:02d}"

    return [{"days": sorted(r.days), "start": hhmm(r.start), "end": hhmm(r.end)} for r in schedule]


def _zone(tz: ZoneInfo | str) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _check_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("schedules need timezone-aware instants")


def _wall_minutes(local: datetime) -> float:
    return local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60


def is_open(schedule: Schedule, at: datetime, tz: ZoneInfo | str) -> bool:
    """Whether notifications may be sent at instant `at` (always, for the empty schedule)."""
    _check_aware(at)
    if not schedule:
        return True
    local = at.astimezone(_zone(tz))
    day = local.weekday()
    yesterday = (day - 1) % 7
    wall = _wall_minutes(local)
    for r in schedule:
        if r.crosses_midnight:
            if (day in r.days and wall >= r.start) or (yesterday in r.days and wall < r.end):
                return True
        elif day in r.days and r.start <= wall < r.end:
            return True
    return False


def _instants(day: date, minutes: int, zone: ZoneInfo) -> Iterable[datetime]:
    """The UTC instants whose wall time in `zone` is `day` at `minutes` (0, 1 or 2 of them),
    plus, when that wall time falls in a spring-forward gap, the transition instant."""
    naive = datetime.combine(day, time(minutes // 60, minutes % 60))
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    yield first
    if second != first:
        yield second
    if first.astimezone(zone).replace(tzinfo=None) != naive:
        # A gap: fold=0 and fold=1 land on either side of the transition; find it.
        lo, hi = min(first, second), max(first, second)
        offset = lo.astimezone(zone).utcoffset()
        while hi - lo > timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            if mid.astimezone(zone).utcoffset() == offset:
                lo = mid
            else:
                hi = mid
        yield hi.replace(microsecond=0)


def next_open(schedule: Schedule, at: datetime, tz: ZoneInfo | str) -> datetime | None:
    """The earliest instant >= `at` when the schedule is open (`at` itself if it is open now);
    None when the schedule never opens in the next two weeks (a range inside a DST gap)."""
    _check_aware(at)
    if is_open(schedule, at, tz):
        return at
    zone = _zone(tz)
    local_day = at.astimezone(zone).date()
    candidates: list[datetime] = []
    for offset in range(-1, _SEARCH_DAYS):
        day = local_day + timedelta(days=offset)
        for r in schedule:
            if day.weekday() in r.days:
                candidates.extend(_instants(day, r.start, zone))
    for instant in sorted(c for c in candidates if c >= at):
        if is_open(schedule, instant, zone):
            return instant.astimezone(at.tzinfo)
    return None


def schedule_summary(schedule: Sequence[Range]) -> str:
    """A compact English description for logs: 'always' or 'Mon-Fri 08:00-17:30; ...'."""
    if not schedule:
        return "always"
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    parts = []
    for entry in dump_schedule(tuple(schedule)):
        days = ",".join(names[d] for d in entry["days"])
        parts.append(f"{days} {entry['start']}-{entry['end']}")
    return "; ".join(parts)
