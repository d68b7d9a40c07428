"""Notification settings (SPEC S2, S7, S8): held by the primary line, checked as a whole,
written with their targets and a settings.changed event in one transaction."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store.models import NotificationSettings, NotificationTarget, OutboxEvent
from tests.support.portal import (
    A_NUMBER,
    A_SECOND,
    PortalEnv,
    accounts_db,
    bearer,
    env,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]

PATH = f"/api/v1/lines/{A_NUMBER}/notifications"


@pytest.fixture
def api(env: PortalEnv) -> TestClient:
    return env.client(headers=bearer(sign_in(env.client())))


def test_defaults_light_the_own_phone(api: TestClient) -> None:
    body = api.get(PATH).json()
    assert body["held_by"] == A_NUMBER
    assert body["mwi"] == {
        "enabled": True,
        "targets": [{"number": A_NUMBER, "types": ["all_faxes", "urgent_voice", "all_voice"]}],
    }
    assert body["email"] == {"enabled": False, "targets": []}
    assert body["pager"]["enabled"] is False and body["pager"]["schedule"] == []
    assert body["outdial"]["max_attempts"] == 3
    assert body["override"]["end_date"] is None


def test_everything_is_saved(env: PortalEnv, api: TestClient) -> None:
    change: dict[str, Any] = {
        "mwi": {
            "enabled": True,
            "targets": [
                {"number": "613 555 0100", "types": ["urgent_voice", "all_voice"]},
                {"number": "819-555-0142", "types": ["all_faxes"]},
            ],
        },
        "email": {
            "enabled": True,
            "targets": [{"address": "6135550123@msg.telus.com", "types": ["all_voice"]}],
        },
        "pager": {
            "enabled": True,
            "schedule": [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "17:30"}],
            "address": "pager@example.com",
            "number": "613 555 0155",
            "callback_number": "613 555 0100",
            "types": ["urgent_voice"],
        },
        "outdial": {
            "enabled": True,
            "schedule": [{"days": [5, 6], "start": "10:00", "end": "24:00"}],
            "number": "613 555 0199",
            "types": ["urgent_voice", "all_voice"],
            "delay_normal_minutes": 30,
            "delay_urgent_minutes": 5,
            "max_attempts": 4,
            "retry_minutes": 20,
            "stop_on_answer": False,
            "stop_on_access": True,
        },
        "override": {
            "enabled": True,
            "end_date": "2026-03-20",
            "number": "819 555 0188",
            "types": ["urgent_voice"],
            "delay_normal_minutes": 0,
            "delay_urgent_minutes": 0,
            "max_attempts": 2,
            "retry_minutes": 60,
        },
    }
    r = api.put(PATH, json=change)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mwi"]["targets"] == [
        {"number": "6135550100", "types": ["urgent_voice", "all_voice"]},
        {"number": "8195550142", "types": ["all_faxes"]},
    ]
    assert body["override"]["end_date"] == "2026-03-20"
    assert body["outdial"]["number"] == "6135550199"
    with env.store.read() as s:
        n = s.get(NotificationSettings, A_NUMBER)
        assert n is not None
        assert n.pager_schedule == [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "17:30"}]
        assert (n.pager_number, n.pager_callback_number) == ("6135550155", "6135550100")
        assert (n.outdial_delay_normal_minutes, n.outdial_max_attempts) == (30, 4)
        assert n.outdial_stop_on_answer is False
        # The last day ends at midnight in Toronto (EDT from March 8, 2026: UTC-4).
        assert n.override_end_date == datetime(2026, 3, 21, 4, 0, tzinfo=UTC)
        targets = s.execute(
            select(NotificationTarget.channel, NotificationTarget.address)
            .where(NotificationTarget.line_number == A_NUMBER)
            .order_by(NotificationTarget.id)
        ).all()
        events = s.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.topic.not_like("%/mailbox/accessed"))
        ).all()
    assert [tuple(t) for t in targets] == [
        ("mwi", "6135550100"),
        ("mwi", "8195550142"),
        ("email", "6135550123@msg.telus.com"),
    ]
    assert [e["section"] for e in events] == ["notifications"]


def test_clear_list_and_partial_updates(api: TestClient) -> None:
    api.put(
        PATH,
        json={
            "email": {
                "enabled": False,
                "targets": [{"address": "a@example.com", "types": ["all_voice"]}],
            }
        },
    )
    r = api.put(PATH, json={"mwi": {"enabled": False, "targets": []}})
    assert r.status_code == 200
    body = r.json()
    assert body["mwi"] == {"enabled": False, "targets": []}
    assert body["email"]["targets"] == [{"address": "a@example.com", "types": ["all_voice"]}]


def test_secondary_line_reads_and_writes_the_primary(env: PortalEnv, api: TestClient) -> None:
    second = f"/api/v1/lines/{A_SECOND}/notifications"
    body = api.get(second).json()
    assert (body["line"], body["held_by"]) == (A_SECOND, A_NUMBER)
    api.put(
        second,
        json={
            "email": {
                "enabled": True,
                "targets": [{"address": "jeanne@example.com", "types": ["all_voice"]}],
            }
        },
    )
    assert api.get(PATH).json()["email"]["enabled"] is True
    with env.store.read() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(NotificationTarget)
                .where(
                    NotificationTarget.line_number == A_SECOND,
                    NotificationTarget.channel == "email",
                )
            )
            == 0
        )


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        (
            {"mwi": {"targets": [{"number": "1234", "types": ["all_voice"]}]}},
            "mwi.targets.0.number",
            "invalid-number",
        ),
        (
            {"mwi": {"targets": [{"number": "6135550100", "types": []}]}},
            "mwi.targets.0.types",
            "required",
        ),
        (  # lamps go through the dial plan like calls: no one-plus Caribbean number
            {"mwi": {"targets": [{"number": "809 555 0123", "types": ["all_voice"]}]}},
            "mwi.targets.0.number",
            "destination-refused",
        ),
        (
            {"mwi": {"targets": [{"number": "900 555 0123", "types": ["all_voice"]}]}},
            "mwi.targets.0.number",
            "destination-refused",
        ),
        ({"mwi": {"enabled": True, "targets": []}}, "mwi.targets", "required"),
        (
            {"email": {"enabled": True, "targets": [{"address": "nope", "types": ["all_voice"]}]}},
            "email.targets.0.address",
            "invalid-email",
        ),
        ({"email": {"enabled": True, "targets": []}}, "email.targets", "required"),
        (
            {"pager": {"enabled": True, "address": "", "types": ["all_voice"]}},
            "pager.address",
            "required",
        ),
        (
            {"pager": {"schedule": [{"days": [], "start": "08:00", "end": "09:00"}]}},
            "pager.schedule.0.days",
            "required",
        ),
        (
            {"pager": {"schedule": [{"days": [1], "start": "8h", "end": "09:00"}]}},
            "pager.schedule.0.start",
            "invalid-time",
        ),
        (
            {"pager": {"schedule": [{"days": [1], "start": "09:00", "end": "09:00"}]}},
            "pager.schedule.0.end",
            "same-time",
        ),
        (
            {"pager": {"schedule": [{"days": [7], "start": "08:00", "end": "09:00"}]}},
            "pager.schedule.0.days",
            "invalid-day",
        ),
        (
            {"outdial": {"enabled": True, "number": "", "types": ["all_voice"]}},
            "outdial.number",
            "required",
        ),
        (
            {"outdial": {"enabled": True, "number": "1 900 555 0100", "types": ["all_voice"]}},
            "outdial.number",
            "destination-refused",
        ),
        (
            {"outdial": {"enabled": True, "number": "6135550199", "types": []}},
            "outdial.types",
            "required",
        ),
        ({"outdial": {"max_attempts": 0}}, "outdial.max_attempts", "out-of-range"),
        (
            {"outdial": {"delay_urgent_minutes": 2000}},
            "outdial.delay_urgent_minutes",
            "out-of-range",
        ),
        (
            {"override": {"enabled": True, "number": "6135550199", "types": ["all_voice"]}},
            "override.end_date",
            "required",
        ),
        (
            {
                "override": {
                    "enabled": True,
                    "number": "6135550199",
                    "types": ["all_voice"],
                    "end_date": "2026-03-01",
                }
            },
            "override.end_date",
            "date-in-past",
        ),
        ({"override": {"retry_minutes": 0}}, "override.retry_minutes", "out-of-range"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(
    env: PortalEnv, api: TestClient, change: dict[str, Any], field: str, error: str
) -> None:
    before = api.get(PATH).json()
    r = api.put(PATH, json=change)
    assert r.status_code == 422, r.text
    assert (field, error) in {(f["field"], f["error"]) for f in r.json()["fields"]}, r.json()
    assert api.get(PATH).json() == before
    with env.store.read() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.topic.not_like("%/mailbox/accessed"))
            )
            == 0
        )


def test_unknown_types_are_refused_by_the_schema(api: TestClient) -> None:
    r = api.put(PATH, json={"pager": {"types": ["carrier_pigeon"]}})
    assert r.status_code == 422
    assert r.json()["error"] == "invalid-request"


def test_notifications_page_form(env: PortalEnv) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    page = c.get("/notifications")
    assert "Indicateur de message en attente" in page.text
    form = {
        "csrf_token": csrf,
        "line": A_NUMBER,
        "mwi_enabled": "on",
        "mwi_rows": "2",
        "mwi-0-number": A_NUMBER,
        "mwi-0-types": ["all_voice", "urgent_voice"],
        "mwi-1-number": "819 555 0142",
        "mwi-1-types": ["all_faxes"],
        "email_rows": "1",
        "email-0-address": "jeanne@example.com",
        "email-0-types": ["urgent_voice"],
        "pager_sched_rows": "1",
        "pager-sched-0-days": ["0", "2", "4"],
        "pager-sched-0-start": "09:00",
        "pager-sched-0-end": "12:00",
        "pager_address": "pager@example.com",
        "pager_types": ["all_voice"],
        "outdial_enabled": "on",
        "outdial_number": "613 555 0199",
        "outdial_types": ["urgent_voice"],
        "outdial_delay_normal_minutes": "15",
        "outdial_delay_urgent_minutes": "1",
        "outdial_max_attempts": "5",
        "outdial_retry_minutes": "10",
        "outdial_stop_on_access": "on",
        "override_end_date": "",
        "override_max_attempts": "3",
        "override_retry_minutes": "15",
    }
    r = c.post("/notifications", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    with env.store.read() as s:
        n = s.get(NotificationSettings, A_NUMBER)
        assert n is not None
        assert n.pager_schedule == [{"days": [0, 2, 4], "start": "09:00", "end": "12:00"}]
        assert (n.outdial_enabled, n.outdial_max_attempts, n.outdial_stop_on_answer) == (
            True,
            5,
            False,
        )
        assert n.email_enabled is False
    page = c.get("/notifications").text
    assert "(819) 555-0142" in page and "jeanne@example.com" in page
    bad = c.post(
        "/notifications",
        data={**form, "outdial_max_attempts": "lots", "pager-sched-0-end": "09:00"},
    )
    assert bad.status_code == 422
    shown = html.unescape(bad.text)
    assert "Entrez un nombre entier." in shown
    assert "Le début et la fin sont à la même heure." in shown
    assert "819 555 0142" in shown  # the refused form is shown again as typed


def test_secondary_line_page_shows_the_note(env: PortalEnv) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    c.post("/line", data={"csrf_token": csrf, "number": A_SECOND, "next": "/notifications"})
    page = html.unescape(c.get("/notifications").text)
    assert "Ces réglages s'appliquent à la ligne principale seulement" in page
    assert "(613) 555-0100" in page


def test_overnight_ranges_are_what_the_notifier_reads(env: PortalEnv, api: TestClient) -> None:
    from zoneinfo import ZoneInfo

    from notify.schedule import is_open, parse_schedule

    r = api.put(
        PATH,
        json={
            "pager": {
                "schedule": [
                    {"days": [4], "start": "22:00", "end": "06:00"},
                    {"days": [5, 6], "start": "09:00", "end": "24:00"},
                ]
            }
        },
    )
    assert r.status_code == 200, r.text
    with env.store.read() as s:
        n = s.get(NotificationSettings, A_NUMBER)
        assert n is not None
        schedule = parse_schedule(n.pager_schedule)
    toronto = ZoneInfo("America/Toronto")
    assert is_open(schedule, datetime(2026, 3, 7, 3, 0, tzinfo=toronto), toronto)  # Sat 03:00
    assert not is_open(schedule, datetime(2026, 3, 7, 7, 0, tzinfo=toronto), toronto)
    assert is_open(schedule, datetime(2026, 3, 8, 23, 59, tzinfo=toronto), toronto)  # Sunday
