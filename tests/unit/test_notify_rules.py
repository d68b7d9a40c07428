"""notify.rules: type filtering, override precedence, delays, schedules, retries (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notify.rules import (
    EMAIL,
    FORWARD,
    OUTDIAL,
    PAGE,
    PAGER,
    CallOut,
    MessageFacts,
    Pager,
    Prefs,
    after_call,
    check_types,
    matches,
    override_active,
    plan,
    retry_delay,
)
from notify.schedule import parse_schedule
from tests.support.text import exact

NOW = datetime(2026, 6, 3, 14, 0, tzinfo=UTC)  # Wednesday 10:00 in Toronto
LINE = "6135550100"
ALL = frozenset({"all_faxes", "urgent_voice", "all_voice"})


def msg(kind: str = "voice", urgent: bool = False, at: datetime = NOW) -> MessageFacts:
    return MessageFacts(message_id=1, line=LINE, kind=kind, urgent=urgent, received_at=at)


def kinds(jobs: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(j.kind, j.target) for j in jobs]


@pytest.mark.parametrize(
    ("types", "voice", "urgent_voice", "fax"),
    [
        ({"all_voice"}, True, True, False),
        ({"urgent_voice"}, False, True, False),
        ({"all_faxes"}, False, False, True),
        ({"all_faxes", "urgent_voice"}, False, True, True),
        (set(), False, False, False),
    ],
)
def test_type_filtering(types: set[str], voice: bool, urgent_voice: bool, fax: bool) -> None:
    assert matches(types, "voice", False) is voice
    assert matches(types, "voice", True) is urgent_voice
    assert matches(types, "fax", False) is fax
    assert matches(types, "fax", True) is fax


def test_check_types_orders_and_refuses_unknown_types() -> None:
    assert check_types(["all_voice", "all_faxes"]) == ("all_faxes", "all_voice")
    with pytest.raises(
        ValueError,
        match=exact("unknown message type(s): voice (expected all_faxes, urgent_voice, all_voice)"),
    ):
        check_types(["voice"])


def test_email_targets_each_get_their_types_and_forwarding_every_message() -> None:
    prefs = Prefs(
        timezone="America/Toronto",
        language="fr",
        email_enabled=True,
        email_targets=(
            ("all@example.com", frozenset({"all_voice", "all_faxes"})),
            ("6135550142@sms.example.com", frozenset({"urgent_voice"})),
            ("fax@example.com", frozenset({"all_faxes"})),
        ),
        forward_to_email=True,
        forward_emails=("me@example.com", "me@example.com", "boss@example.com"),
        keep_original=False,
    )
    assert kinds(plan(prefs, msg(), NOW)) == [
        (EMAIL, "all@example.com"),
        (FORWARD, "me@example.com"),
        (FORWARD, "boss@example.com"),
    ]
    assert kinds(plan(prefs, msg(urgent=True), NOW))[:2] == [
        (EMAIL, "all@example.com"),
        (EMAIL, "6135550142@sms.example.com"),
    ]
    fax_jobs = plan(prefs, msg(kind="fax"), NOW)
    assert kinds(fax_jobs)[:2] == [(EMAIL, "all@example.com"), (EMAIL, "fax@example.com")]
    assert fax_jobs[2].data == {"keep_original": False}
    # The e-mail section's check box turns every e-mail notification off.
    off = Prefs(
        timezone="UTC",
        language="en",
        email_enabled=False,
        email_targets=(("all@example.com", ALL),),
    )
    assert plan(off, msg(), NOW) == []


OUTDIAL_SETTINGS = CallOut(
    number="6135550199",
    types=frozenset({"all_voice"}),
    delay_normal_minutes=10,
    delay_urgent_minutes=2,
    max_attempts=4,
    retry_minutes=15,
)
PAGER_SETTINGS = Pager(
    address="pager@example.com",
    number="6135550177",
    callback_number="6135550100",
    types=frozenset({"all_voice"}),
)
OVERRIDE = CallOut(number="6135550155", types=frozenset({"urgent_voice"}), delay_urgent_minutes=1)


def prefs_with(**kw: object) -> Prefs:
    base: dict[str, object] = dict(
        timezone="America/Toronto",
        language="en",
        pager_enabled=True,
        pager=PAGER_SETTINGS,
        outdial_enabled=True,
        outdial=OUTDIAL_SETTINGS,
        override=OVERRIDE,
    )
    base.update(kw)
    return Prefs(**base)  # type: ignore[arg-type]


def test_outdial_delay_normal_vs_urgent_and_pager_now() -> None:
    jobs = plan(prefs_with(), msg(), NOW)
    assert kinds(jobs) == [
        (PAGER, "pager@example.com"),
        (PAGE, "6135550177"),
        (OUTDIAL, "6135550199"),
    ]
    pager, page, outdial = jobs
    assert pager.due_at == NOW and pager.data["callback"] == "6135550100"
    assert page.data["dtmf"] == "6135550100" and page.data["max_attempts"] == 3
    assert outdial.due_at == NOW + timedelta(minutes=10)
    assert outdial.data["source"] == "outdial" and outdial.data["max_attempts"] == 4
    urgent = plan(prefs_with(), msg(urgent=True), NOW)
    assert urgent[2].due_at == NOW + timedelta(minutes=2)
    # A message handled late (notifier down) is not dialled in the past.
    late = plan(prefs_with(), msg(at=NOW - timedelta(hours=2)), NOW)
    assert late[2].due_at == NOW


def test_schedules_defer_pager_and_outdial_to_the_next_opening() -> None:
    office = parse_schedule([{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "17:00"}])
    saturday = datetime(2026, 6, 6, 16, 0, tzinfo=UTC)  # Saturday noon in Toronto
    monday_8 = datetime(2026, 6, 8, 12, 0, tzinfo=UTC)
    p = prefs_with(
        pager=Pager("pager@example.com", "", "", frozenset({"all_voice"}), office),
        outdial=CallOut("6135550199", frozenset({"all_voice"}), office, delay_normal_minutes=5),
    )
    jobs = plan(p, msg(at=saturday), saturday)
    assert [(j.kind, j.due_at) for j in jobs] == [(PAGER, monday_8), (OUTDIAL, monday_8)]
    # Inside the schedule, the delay applies as is.
    jobs = plan(p, msg(), NOW)
    assert [(j.kind, j.due_at) for j in jobs] == [
        (PAGER, NOW),
        (OUTDIAL, NOW + timedelta(minutes=5)),
    ]


def test_override_replaces_pager_and_outdial_until_its_end_date() -> None:
    end = NOW + timedelta(days=1)
    p = prefs_with(override_enabled=True, override_end=end)
    assert override_active(p, NOW)
    # Not urgent: the override's types do not match, and the usual settings are replaced.
    assert plan(p, msg(), NOW) == []
    jobs = plan(p, msg(urgent=True), NOW)
    assert kinds(jobs) == [(OUTDIAL, "6135550155")]
    assert jobs[0].due_at == NOW + timedelta(minutes=1)
    assert jobs[0].data["source"] == "override"
    # After the end date (at the message's arrival) the usual settings apply again.
    after = msg(at=end)
    assert not override_active(p, end)
    assert kinds(plan(p, after, end)) == [
        (PAGER, "pager@example.com"),
        (PAGE, "6135550177"),
        (OUTDIAL, "6135550199"),
    ]
    # Without an end date it lasts until turned off; turned off, it changes nothing.
    assert override_active(
        prefs_with(override_enabled=True, override_end=None), NOW + timedelta(days=999)
    )
    assert len(plan(prefs_with(override_enabled=False), msg(urgent=True), NOW)) == 3


def test_override_does_not_touch_email_notifications_or_forwarding() -> None:
    p = prefs_with(
        override_enabled=True,
        email_enabled=True,
        email_targets=(("all@example.com", ALL),),
        forward_to_email=True,
        forward_emails=("me@example.com",),
    )
    assert kinds(plan(p, msg(), NOW)) == [(EMAIL, "all@example.com"), (FORWARD, "me@example.com")]


def test_disabled_or_empty_call_outs_plan_nothing() -> None:
    assert plan(prefs_with(pager_enabled=False, outdial_enabled=False), msg(), NOW) == []
    no_number = CallOut(number="", types=ALL)
    assert plan(prefs_with(pager_enabled=False, outdial=no_number), msg(), NOW) == []
    fax_only = prefs_with(pager_enabled=False)
    assert plan(fax_only, msg(kind="fax"), NOW) == []


def test_retry_back_off_doubles_up_to_the_cap() -> None:
    assert [retry_delay(n, 30, 3600).total_seconds() for n in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    assert retry_delay(500, 30, 3600) == timedelta(hours=1)
    with pytest.raises(ValueError, match=exact("attempts start at 1")):
        retry_delay(0, 30, 3600)


def test_after_call_stops_on_answer_retries_within_the_schedule_and_gives_up() -> None:
    data = {
        "max_attempts": 3,
        "retry_minutes": 15,
        "stop_on_answer": True,
        "schedule": [{"days": [2], "start": "08:00", "end": "10:30"}],
        "timezone": "America/Toronto",
    }
    assert after_call("answered", 1, data, NOW).state == "done"
    nxt = after_call("no-answer", 1, data, NOW)
    assert (nxt.state, nxt.at) == ("pending", NOW + timedelta(minutes=15))
    # 10:35 is outside Wednesday 08:00-10:30: next Wednesday 08:00.
    nxt = after_call("busy", 2, data, NOW + timedelta(minutes=20))
    assert nxt.at == datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    assert after_call("busy", 3, data, NOW).state == "done"
    assert after_call("failed", 3, data, NOW).state == "failed"
    assert after_call("timeout", 3, data, NOW).state == "failed"
    keep_calling = {**data, "stop_on_answer": False, "schedule": []}
    assert after_call("answered", 1, keep_calling, NOW).state == "pending"
    assert after_call("answered", 3, keep_calling, NOW).state == "done"
