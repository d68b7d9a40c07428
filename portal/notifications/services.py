"""Notification settings (SPEC S2, S7): MWI numbers, e-mail addresses, pager, outdial, override.

Rules of this file:
- The primary line holds the notification settings of every line of the account (the guide
  says so): reading or writing them for a secondary line reads or writes the primary's.
- save() merges a partial update section by section, checks everything (numbers, the dial
  plan for outdial/override numbers, e-mail addresses, schedules, ranges, an end date in the
  future), then writes the settings row, the targets and a settings.changed event in one
  transaction. Nothing is written when anything is refused.
- Schedules are lists of {"days": [0..6], "start": "HH:MM", "end": "HH:MM"} in the account's
  time zone (notify.schedule reads them): an empty schedule means always, "24:00" ends at
  midnight, and a range that ends before it starts runs overnight.
- The override's end date is kept as the UTC instant its last day ends in the account's time
  zone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from events.events import SettingsChanged
from events.outbox import enqueue
from portal import validate
from portal.auth.services import Auth, LineRef
from portal.errors import Problems
from portal.i18n import Msg
from portal.notifications.schemas import (
    EmailSection,
    EmailTarget,
    MwiSection,
    MwiTarget,
    NotificationsIn,
    NotificationsOut,
    OutdialSection,
    OverrideSection,
    PagerSection,
    TimeRange,
)
from routing import numbers
from routing.model import DialPlan
from store.models import NotificationSettings, NotificationTarget
from store.session import Store

logger = logging.getLogger(__name__)

MAX_TARGETS = 10
MAX_RANGES = 14
MAX_DELAY = 24 * 60
MAX_ATTEMPTS = 10
TYPES_ORDER = ("all_faxes", "urgent_voice", "all_voice")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")


def holder(auth: Auth, line: LineRef) -> LineRef:
    """The line whose notification settings apply to `line`: the account's primary line."""
    return auth.primary if not line.is_primary else line


def _types(values: list[str]) -> list[str]:
    return [t for t in TYPES_ORDER if t in values]


def end_instant(day: date, tz: str) -> datetime:
    """The UTC instant the day `day` ends in time zone `tz`."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(tz)).astimezone(
        ZoneInfo("UTC")
    )


def end_day(instant: datetime, tz: str) -> date:
    return (instant.astimezone(ZoneInfo(tz)) - timedelta(microseconds=1)).date()


def load(store: Store, auth: Auth, line: LineRef) -> NotificationsOut:
    owner = holder(auth, line)
    with store.read() as s:
        n = s.get(NotificationSettings, owner.number) or NotificationSettings(
            line_number=owner.number
        )
        targets = s.scalars(
            select(NotificationTarget)
            .where(NotificationTarget.line_number == owner.number)
            .order_by(NotificationTarget.id)
        ).all()

        def sched(value: Any) -> list[TimeRange]:
            return [TimeRange(**r) for r in (value or [])]

        return NotificationsOut(
            line=line.number,
            held_by=owner.number,
            mwi=MwiSection(
                enabled=n.mwi_enabled if n.mwi_enabled is not None else True,
                targets=[
                    MwiTarget(number=t.address, types=_types(t.types))  # type: ignore[arg-type]
                    for t in targets
                    if t.channel == "mwi"
                ],
            ),
            email=EmailSection(
                enabled=bool(n.email_enabled),
                targets=[
                    EmailTarget(address=t.address, types=_types(t.types))  # type: ignore[arg-type]
                    for t in targets
                    if t.channel == "email"
                ],
            ),
            pager=PagerSection(
                enabled=bool(n.pager_enabled),
                schedule=sched(n.pager_schedule),
                address=n.pager_address or "",
                number=n.pager_number or "",
                callback_number=n.pager_callback_number or "",
                types=_types(n.pager_types or []),  # type: ignore[arg-type]
            ),
            outdial=OutdialSection(
                enabled=bool(n.outdial_enabled),
                schedule=sched(n.outdial_schedule),
                number=n.outdial_number or "",
                types=_types(n.outdial_types or []),  # type: ignore[arg-type]
                delay_normal_minutes=n.outdial_delay_normal_minutes or 0,
                delay_urgent_minutes=n.outdial_delay_urgent_minutes or 0,
                max_attempts=n.outdial_max_attempts or 3,
                retry_minutes=n.outdial_retry_minutes or 15,
                stop_on_answer=n.outdial_stop_on_answer is not False,
                stop_on_access=n.outdial_stop_on_access is not False,
            ),
            override=OverrideSection(
                enabled=bool(n.override_enabled),
                schedule=sched(n.override_schedule),
                end_date=end_day(n.override_end_date, auth.timezone)
                if n.override_end_date
                else None,
                number=n.override_number or "",
                types=_types(n.override_types or []),  # type: ignore[arg-type]
                delay_normal_minutes=n.override_delay_normal_minutes or 0,
                delay_urgent_minutes=n.override_delay_urgent_minutes or 0,
                max_attempts=n.override_max_attempts or 3,
                retry_minutes=n.override_retry_minutes or 15,
                stop_on_answer=n.override_stop_on_answer is not False,
                stop_on_access=n.override_stop_on_access is not False,
            ),
        )


def merge(current: NotificationsOut, update: NotificationsIn) -> NotificationsOut:
    data = current.model_dump()
    for section, patch in update.model_dump(exclude_unset=True).items():
        if patch is not None:
            data[section].update(patch)
    return NotificationsOut.model_validate(data)


def _schedule(ranges: list[TimeRange], field: str, problems: Problems) -> list[dict[str, Any]]:
    if len(ranges) > MAX_RANGES:
        problems.add(
            field,
            "too-many-ranges",
            Msg("A schedule has at most %(max)s time ranges.", max=MAX_RANGES),
        )
    out = []
    for i, r in enumerate(ranges):
        where = f"{field}.{i}"
        days = sorted(set(r.days))
        if not days:
            problems.add(f"{where}.days", "required", Msg("Choose at least one day."))
        elif any(not 0 <= d <= 6 for d in days):
            problems.add(f"{where}.days", "invalid-day", Msg("Days are 0 (Monday) to 6 (Sunday)."))
        good = True
        for part in ("start", "end"):
            if not _HHMM.fullmatch(getattr(r, part)):
                problems.add(f"{where}.{part}", "invalid-time", Msg("Enter a time such as 08:30."))
                good = False
        if good and r.start == "24:00":
            problems.add(f"{where}.start", "invalid-time", Msg("Enter a time such as 08:30."))
        elif good and r.start == r.end:
            problems.add(
                f"{where}.end", "same-time", Msg("The start and the end are the same time.")
            )
        out.append({"days": days, "start": r.start, "end": r.end})
    return out


def _need_types(types: list[str], field: str, problems: Problems) -> None:
    if not types:
        problems.add(field, "required", Msg("Choose at least one type of message."))


def _calls(
    sec: OutdialSection, field: str, problems: Problems, plan: DialPlan, intl: bool
) -> str | None:
    number = validate.destination(
        sec.number, f"{field}.number", problems, plan, intl, required=sec.enabled
    )
    if sec.enabled:
        _need_types(list(sec.types), f"{field}.types", problems)
    for name in ("delay_normal_minutes", "delay_urgent_minutes"):
        if not 0 <= getattr(sec, name) <= MAX_DELAY:
            problems.add(
                f"{field}.{name}",
                "out-of-range",
                Msg("Enter 0 to %(max)s minutes.", max=MAX_DELAY),
            )
    if not 1 <= sec.max_attempts <= MAX_ATTEMPTS:
        problems.add(
            f"{field}.max_attempts",
            "out-of-range",
            Msg("Enter 1 to %(max)s attempts.", max=MAX_ATTEMPTS),
        )
    if not 1 <= sec.retry_minutes <= MAX_DELAY:
        problems.add(
            f"{field}.retry_minutes",
            "out-of-range",
            Msg("Enter 1 to %(max)s minutes.", max=MAX_DELAY),
        )
    return number


@dataclass(frozen=True)
class Checked:
    merged: NotificationsOut
    mwi: dict[str, list[str]]
    emails: dict[str, list[str]]
    pager_address: str
    pager_number: str
    pager_callback: str
    pager_schedule: list[dict[str, Any]]
    outdial_number: str
    outdial_schedule: list[dict[str, Any]]
    override_number: str
    override_schedule: list[dict[str, Any]]


def check(
    merged: NotificationsOut,
    problems: Problems,
    *,
    plan: DialPlan,
    allow_international: bool,
    today: date,
) -> Checked:
    """Check `merged` as a whole, adding to `problems` (the caller raises)."""

    mwi: dict[str, list[str]] = {}
    for i, t in enumerate(merged.mwi.targets):
        value = validate.number(t.number, f"mwi.targets.{i}.number", problems)
        if value is not None and not numbers.is_valid_line_number(value):
            problems.add(
                f"mwi.targets.{i}.number",
                "invalid-number",
                Msg("Message waiting lamps light on 10-digit numbers only."),
            )
            value = None
        if value is not None and numbers.refusal(value, plan, allow_international):
            # Lamps go through the same dial plan as calls (a NOTIFY reaches the number too).
            problems.add(
                f"mwi.targets.{i}.number",
                "destination-refused",
                validate.refusal_message(value, plan, allow_international),
            )
            value = None
        if value is not None:
            mwi.setdefault(value, [])
            mwi[value] = _types(mwi[value] + list(t.types))
            _need_types(list(t.types), f"mwi.targets.{i}.types", problems)
    if len(mwi) > MAX_TARGETS:
        problems.add("mwi.targets", "too-many", Msg("At most %(max)s entries.", max=MAX_TARGETS))
    if merged.mwi.enabled and not mwi and not problems.has("mwi.targets"):
        problems.add("mwi.targets", "required", Msg("Add at least one phone number."))

    emails: dict[str, list[str]] = {}
    for i, e in enumerate(merged.email.targets):
        value = validate.email(e.address, f"email.targets.{i}.address", problems)
        if value is not None:
            emails.setdefault(value, [])
            emails[value] = _types(emails[value] + list(e.types))
            _need_types(list(e.types), f"email.targets.{i}.types", problems)
    if len(emails) > MAX_TARGETS:
        problems.add("email.targets", "too-many", Msg("At most %(max)s entries.", max=MAX_TARGETS))
    if merged.email.enabled and not emails and not problems.has("email.targets"):
        problems.add("email.targets", "required", Msg("Add at least one e-mail address."))

    pager = merged.pager
    pager_address = ""
    if pager.address.strip() or pager.enabled:
        pager_address = validate.email(pager.address, "pager.address", problems) or ""
    pager_number = validate.number(pager.number, "pager.number", problems, required=False)
    pager_callback = validate.number(
        pager.callback_number, "pager.callback_number", problems, required=False
    )
    if pager.enabled:
        _need_types(list(pager.types), "pager.types", problems)
    pager_schedule = _schedule(pager.schedule, "pager.schedule", problems)

    outdial = merged.outdial
    outdial_number = _calls(outdial, "outdial", problems, plan, allow_international)
    outdial_schedule = _schedule(outdial.schedule, "outdial.schedule", problems)

    override = merged.override
    override_number = _calls(override, "override", problems, plan, allow_international)
    override_schedule = _schedule(override.schedule, "override.schedule", problems)
    if override.enabled and override.end_date is None:
        problems.add("override.end_date", "required", Msg("Choose the last day of the override."))
    elif override.enabled and override.end_date is not None and override.end_date < today:
        problems.add(
            "override.end_date", "date-in-past", Msg("The end date cannot be in the past.")
        )
    return Checked(
        merged=merged,
        mwi=mwi,
        emails=emails,
        pager_address=pager_address,
        pager_number=pager_number or "",
        pager_callback=pager_callback or "",
        pager_schedule=pager_schedule,
        outdial_number=outdial_number or "",
        outdial_schedule=outdial_schedule,
        override_number=override_number or "",
        override_schedule=override_schedule,
    )


def save(
    store: Store,
    auth: Auth,
    line: LineRef,
    update: NotificationsIn,
    *,
    plan: DialPlan,
    allow_international: bool,
    today: date,
) -> NotificationsOut:
    """Apply `update` (all or nothing); `today` is the date in the account's time zone."""
    owner = holder(auth, line)
    problems = Problems()
    c = check(
        merge(load(store, auth, line), update),
        problems,
        plan=plan,
        allow_international=allow_international,
        today=today,
    )
    problems.check()
    merged, pager, outdial, override = c.merged, c.merged.pager, c.merged.outdial, c.merged.override

    with store.transaction() as s:
        n = s.get(NotificationSettings, owner.number)
        if n is None:
            n = NotificationSettings(line_number=owner.number)
            s.add(n)
        n.mwi_enabled = merged.mwi.enabled
        n.email_enabled = merged.email.enabled
        n.pager_enabled = pager.enabled
        n.pager_schedule = c.pager_schedule
        n.pager_address = c.pager_address
        n.pager_number = c.pager_number
        n.pager_callback_number = c.pager_callback
        n.pager_types = _types(list(pager.types))
        n.outdial_enabled = outdial.enabled
        n.outdial_schedule = c.outdial_schedule
        n.outdial_number = c.outdial_number
        n.outdial_types = _types(list(outdial.types))
        n.outdial_delay_normal_minutes = outdial.delay_normal_minutes
        n.outdial_delay_urgent_minutes = outdial.delay_urgent_minutes
        n.outdial_max_attempts = outdial.max_attempts
        n.outdial_retry_minutes = outdial.retry_minutes
        n.outdial_stop_on_answer = outdial.stop_on_answer
        n.outdial_stop_on_access = outdial.stop_on_access
        n.override_enabled = override.enabled
        n.override_schedule = c.override_schedule
        n.override_end_date = (
            end_instant(override.end_date, auth.timezone) if override.end_date else None
        )
        n.override_number = c.override_number
        n.override_types = _types(list(override.types))
        n.override_delay_normal_minutes = override.delay_normal_minutes
        n.override_delay_urgent_minutes = override.delay_urgent_minutes
        n.override_max_attempts = override.max_attempts
        n.override_retry_minutes = override.retry_minutes
        n.override_stop_on_answer = override.stop_on_answer
        n.override_stop_on_access = override.stop_on_access
        s.execute(delete(NotificationTarget).where(NotificationTarget.line_number == owner.number))
        s.flush()
        s.add_all(
            [
                NotificationTarget(line_number=owner.number, channel="mwi", address=k, types=v)
                for k, v in c.mwi.items()
            ]
            + [
                NotificationTarget(line_number=owner.number, channel="email", address=k, types=v)
                for k, v in c.emails.items()
            ]
        )
        enqueue(s, SettingsChanged(line=owner.number, section="notifications"))
    logger.info(
        "notification settings of line %s saved (account %s)", owner.number, auth.account_id
    )
    return load(store, auth, line)
