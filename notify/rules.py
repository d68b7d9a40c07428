"""Which notifications a message gets, when, and what follows each attempt (PURE).

Rules of this file:
- No clock, no I/O: the notifier reads the settings and the message, then asks `plan()` for
  the jobs and `after_call()` / `retry_at()` for what follows an attempt.
- Types filter every channel: all_faxes (fax messages), urgent_voice (urgent voice messages),
  all_voice (every voice message).
- Notification settings are the primary line's; message forwarding is the mailbox's own.
- Override, while enabled and before its end date (at the message's arrival), replaces the
  pager and outdial settings with its own call-out (number, types, delays, attempts,
  schedule). E-mail notifications and forwarding are not affected by it.
- Pager and call-out jobs are due when their schedule is open: a message that arrives
  outside the schedule is notified when it next opens, if still unheard then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from notify.schedule import ALWAYS, Schedule, dump_schedule, next_open, parse_schedule

MESSAGE_TYPES = ("all_faxes", "urgent_voice", "all_voice")

# Numeric pages (a call that sends the callback number as DTMF to a pager number).
PAGE_MAX_ATTEMPTS = 3
PAGE_RETRY_MINUTES = 5
FAX_MAX_ATTEMPTS = 3  # a fax forward: attempts per destination (busy / no answer / failed)
FAX_RETRY_MINUTES = 5

# Job kinds (NotificationJob.kind).
EMAIL = "email"  # notification e-mail (or SMS through an e-mail-to-SMS address)
FORWARD = "forward"  # the message itself as an e-mail attachment (message settings)
PAGER = "pager"  # pager e-mail
PAGE = "page"  # numeric page through the switch
OUTDIAL = "outdial"  # call-out through the switch: prompt + login
MAIL = "mail"  # an e-mail queued by the portal (forward as e-mail)
FAX = "fax"  # a fax sent through the switch (forward as fax): T.30 over an outdial call
CALL_KINDS = (PAGE, OUTDIAL, FAX)  # performed by a switch worker (outdial contract)
ALERT_KINDS = (PAGER, PAGE, OUTDIAL)  # pointless once the message is heard or deleted


def check_types(types: Iterable[str]) -> tuple[str, ...]:
    """Validate a list of message types; returns them in canonical order."""
    given = list(types)
    unknown = sorted(set(given) - set(MESSAGE_TYPES))
    if unknown:
        raise ValueError(
            f"unknown message type(s): {', '.join(unknown)} (expected {', '.join(MESSAGE_TYPES)})"
        )
    return tuple(t for t in MESSAGE_TYPES if t in given)


def matches(types: Iterable[str], kind: str, urgent: bool) -> bool:
    """Whether a message of `kind` (voice|fax) and urgency is wanted by `types`."""
    wanted = set(types)
    if kind == "fax":
        return "all_faxes" in wanted
    return "all_voice" in wanted or (urgent and "urgent_voice" in wanted)


@dataclass(frozen=True)
class CallOut:
    """Outdial or override settings: call `number` about new messages."""

    number: str
    types: frozenset[str]
    schedule: Schedule = ALWAYS
    delay_normal_minutes: int = 0
    delay_urgent_minutes: int = 0
    max_attempts: int = 3
    retry_minutes: int = 15
    stop_on_answer: bool = True
    stop_on_access: bool = True


@dataclass(frozen=True)
class Pager:
    address: str
    number: str
    callback_number: str
    types: frozenset[str]
    schedule: Schedule = ALWAYS


@dataclass(frozen=True)
class Prefs:
    """Everything that decides a message's notifications, read by the notifier."""

    timezone: str
    language: str
    email_enabled: bool = False
    email_targets: tuple[tuple[str, frozenset[str]], ...] = ()
    forward_to_email: bool = False
    forward_emails: tuple[str, ...] = ()
    keep_original: bool = True
    pager_enabled: bool = False
    pager: Pager | None = None
    outdial_enabled: bool = False
    outdial: CallOut | None = None
    override_enabled: bool = False
    override_end: datetime | None = None
    override: CallOut | None = None


@dataclass(frozen=True)
class MessageFacts:
    message_id: int
    line: str
    kind: str
    urgent: bool
    received_at: datetime


@dataclass(frozen=True)
class JobSpec:
    kind: str
    target: str
    due_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


def override_active(prefs: Prefs, at: datetime) -> bool:
    return (
        prefs.override_enabled
        and prefs.override is not None
        and (prefs.override_end is None or at < prefs.override_end)
    )


def _call_out_data(c: CallOut, source: str, prefs: Prefs, **extra: Any) -> dict[str, Any]:
    return {
        "source": source,
        "schedule": dump_schedule(c.schedule),
        "timezone": prefs.timezone,
        "language": prefs.language,
        "max_attempts": c.max_attempts,
        "retry_minutes": c.retry_minutes,
        "stop_on_answer": c.stop_on_answer,
        "stop_on_access": c.stop_on_access,
        **extra,
    }


def plan(prefs: Prefs, msg: MessageFacts, now: datetime) -> list[JobSpec]:
    """The jobs a newly deposited message gets, with when each is due."""
    jobs: list[JobSpec] = []
    if prefs.email_enabled:
        for address, types in prefs.email_targets:
            if matches(types, msg.kind, msg.urgent):
                jobs.append(JobSpec(EMAIL, address, now))
    if prefs.forward_to_email:
        for address in dict.fromkeys(prefs.forward_emails):
            jobs.append(JobSpec(FORWARD, address, now, {"keep_original": prefs.keep_original}))

    if override_active(prefs, msg.received_at):
        assert prefs.override is not None
        jobs.extend(_call_out(prefs.override, "override", prefs, msg, now))
        return jobs

    pager = prefs.pager
    if prefs.pager_enabled and pager is not None and matches(pager.types, msg.kind, msg.urgent):
        due = next_open(pager.schedule, now, prefs.timezone)
        if due is not None:
            base = {"schedule": dump_schedule(pager.schedule), "timezone": prefs.timezone}
            if pager.address:
                jobs.append(
                    JobSpec(PAGER, pager.address, due, {**base, "callback": pager.callback_number})
                )
            if pager.number:
                page = CallOut(
                    number=pager.number,
                    types=pager.types,
                    schedule=pager.schedule,
                    max_attempts=PAGE_MAX_ATTEMPTS,
                    retry_minutes=PAGE_RETRY_MINUTES,
                )
                jobs.append(
                    JobSpec(
                        PAGE,
                        pager.number,
                        due,
                        _call_out_data(
                            page, "pager", prefs, dtmf=pager.callback_number or msg.line
                        ),
                    )
                )
    if prefs.outdial_enabled and prefs.outdial is not None:
        jobs.extend(_call_out(prefs.outdial, "outdial", prefs, msg, now))
    return jobs


def _call_out(
    c: CallOut, source: str, prefs: Prefs, msg: MessageFacts, now: datetime
) -> list[JobSpec]:
    if not c.number or not matches(c.types, msg.kind, msg.urgent):
        return []
    delay = c.delay_urgent_minutes if msg.urgent else c.delay_normal_minutes
    due = next_open(
        c.schedule, max(now, msg.received_at + timedelta(minutes=delay)), prefs.timezone
    )
    if due is None:
        return []
    return [JobSpec(OUTDIAL, c.number, due, _call_out_data(c, source, prefs, dtmf=""))]


# ------------------------------------------------------------------------------------------------
# After an attempt


def retry_delay(attempts: int, base_seconds: int, max_seconds: int) -> timedelta:
    """Back-off after the `attempts`-th failed send: base * 2^(attempts - 1), capped."""
    if attempts < 1:
        raise ValueError("attempts start at 1")
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** min(attempts - 1, 32)))


@dataclass(frozen=True)
class Next:
    state: str  # pending | done | failed
    at: datetime | None = None
    note: str = ""


def after_call(result: str, attempts: int, data: Mapping[str, Any], now: datetime) -> Next:
    """What follows attempt number `attempts` of a page/outdial job that ended with `result`
    (answered | no-answer | busy | failed | timeout). `data` is the job's call-out data."""
    if result == "answered" and data.get("stop_on_answer", True):
        return Next("done", note="answered")
    if attempts >= int(data.get("max_attempts", 1)):
        if result in ("failed", "timeout"):
            return Next("failed", note=f"{result} after {attempts} attempt(s)")
        return Next("done", note=f"{result}; {attempts} attempt(s) made")
    schedule = parse_schedule(data.get("schedule") or [])
    earliest = now + timedelta(minutes=int(data.get("retry_minutes", 15)))
    due = next_open(schedule, earliest, str(data.get("timezone", "UTC")))
    if due is None:
        return Next("done", note="the schedule does not open again")
    return Next("pending", at=due, note=result)
