"""Outdial, numeric pages, pager schedules and override, end to end on the notifier side:
a real broker, the relay, the notifier (with a clock the test moves) and a double that
answers outdial requests the way the switch will."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from events.access import BusCredentials
from events.broker import EmbeddedBroker
from events.events import MailboxAccessed, MessageChanged
from events.mqtt import MqttAddress, parse_mqtt_url
from events.outbox import enqueue
from notify.email import SmtpMailer, parse_smtp_url
from store.files import FileStore
from store.models import Message
from store.session import Store
from tests.support.deposit import NUMBER, deposit, make_subscriber, set_notifications
from tests.support.mqtt import Mosquitto
from tests.support.notifying import Clock, jobs, notifier, relay, until
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer
from tests.support.switch_double import SwitchDouble

OUTDIAL = dict(
    outdial_enabled=True,
    outdial_number="613-555-0199",
    outdial_types=["all_voice"],
    outdial_delay_normal_minutes=10,
    outdial_delay_urgent_minutes=1,
    outdial_max_attempts=3,
    outdial_retry_minutes=15,
    outdial_stop_on_answer=True,
    outdial_stop_on_access=True,
)


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "var")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def job_state(store: Store) -> tuple[str, int]:
    found = jobs(store, kind="outdial")
    return (found[0].state, found[0].attempts) if found else ("none", 0)


async def test_outdial_waits_its_delay_retries_and_stops_when_answered(
    store: Store, files: FileStore, mosquitto: Mosquitto, smtp: SmtpServer
) -> None:
    make_subscriber(store)
    set_notifications(store, **OUTDIAL)
    bus = parse_mqtt_url(mosquitto.url)
    clock = Clock()
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    switch = SwitchDouble(store, bus, ["no-answer", "answered"])
    async with (
        relay(store, bus),
        notifier(store, files, mailer, bus=bus, clock=clock) as n,
        switch.running(),
    ):
        d = deposit(store, files, received_at=clock.now)
        await until(lambda: len(jobs(store)) == 1, what="the outdial job")
        (job,) = jobs(store)
        assert (job.kind, job.target, job.state) == ("outdial", "613-555-0199", "pending")
        assert job.next_attempt_at == clock.now + timedelta(minutes=10)
        await asyncio.sleep(0.3)
        assert switch.requests == []  # not before the delay
        clock.advance(minutes=10)
        n.wake()
        await until(lambda: len(switch.requests) == 1, what="the first call")
        req = switch.requests[0]
        assert (req.line, req.job_id, req.attempt, req.number, req.mode) == (
            NUMBER,
            job.id,
            1,
            "6135550199",
            "notify",
        )
        assert (req.message_id, req.language, req.ring_seconds) == (d.message_id, "fr", 20)
        await until(lambda: job_state(store) == ("pending", 1), what="no answer: retry")
        assert jobs(store)[0].next_attempt_at == clock.now + timedelta(minutes=15)
        clock.advance(minutes=15)
        n.wake()
        await until(lambda: job_state(store) == ("done", 2), what="answered: done")
    assert [r.attempt for r in switch.requests] == [1, 2]
    (job,) = jobs(store)
    assert [(r["attempt"], r["result"]) for r in job.data["results"]] == [
        (1, "no-answer"),
        (2, "answered"),
    ]


async def test_outdial_stops_when_the_mailbox_is_accessed(
    sqlite_store: Store, files: FileStore, mosquitto: Mosquitto, smtp: SmtpServer
) -> None:
    store = sqlite_store
    make_subscriber(store)
    set_notifications(store, **{**OUTDIAL, "outdial_delay_normal_minutes": 0})
    bus = parse_mqtt_url(mosquitto.url)
    clock = Clock()
    switch = SwitchDouble(store, bus, ["no-answer"])
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with (
        relay(store, bus),
        notifier(store, files, mailer, bus=bus, clock=clock) as n,
        switch.running(),
    ):
        deposit(store, files, received_at=clock.now)
        await until(lambda: job_state(store) == ("pending", 1), what="first attempt done")
        with store.transaction() as s:  # the owner logs in by phone (what the switch writes)
            enqueue(s, MailboxAccessed(line=NUMBER, via="phone"))
        await until(lambda: job_state(store)[0] == "cancelled", what="cancelled")
        clock.advance(hours=1)
        n.wake()
        await asyncio.sleep(0.3)
    assert len(switch.requests) == 1
    assert jobs(store)[0].last_error == "the mailbox was accessed (phone)"


async def test_outdial_stops_when_the_message_is_heard_and_gives_up_after_max_attempts(
    sqlite_store: Store, files: FileStore, mosquitto: Mosquitto, smtp: SmtpServer
) -> None:
    store = sqlite_store
    make_subscriber(store)
    set_notifications(
        store,
        **{
            **OUTDIAL,
            "outdial_delay_normal_minutes": 0,
            "outdial_retry_minutes": 5,
            "outdial_stop_on_access": False,
        },
    )
    bus = parse_mqtt_url(mosquitto.url)
    clock = Clock()
    switch = SwitchDouble(store, bus, ["busy"] * 10)
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with (
        relay(store, bus),
        notifier(store, files, mailer, bus=bus, clock=clock) as n,
        switch.running(),
    ):
        first = deposit(store, files, received_at=clock.now)
        second = deposit(store, files, received_at=clock.now)
        await until(lambda: len(switch.requests) == 2, what="both first attempts")
        # The first message is heard (its event comes from the IVR or the portal).
        with store.transaction() as s:
            m = s.get(Message, first.message_id)
            assert m is not None
            m.heard = True
            enqueue(
                s,
                MessageChanged(
                    line=NUMBER, message_id=m.id, change="heard", folder="inbox", heard=True
                ),
            )
        # Access does not stop calls here (stop_on_access off).
        with store.transaction() as s:
            enqueue(s, MailboxAccessed(line=NUMBER, via="portal"))
        for _ in range(3):
            await until(lambda: all(j.state != "sending" for j in jobs(store)), what="results in")
            clock.advance(minutes=5)
            n.wake()
            await asyncio.sleep(0.2)
        await until(lambda: all(j.state in ("done", "cancelled") for j in jobs(store)))
    by_message = {j.message_id: j for j in jobs(store)}
    assert by_message[first.message_id].state == "cancelled"
    assert by_message[first.message_id].last_error == "the message was heard"
    assert by_message[second.message_id].state == "done"
    assert by_message[second.message_id].attempts == 3
    assert by_message[second.message_id].last_error == "busy; 3 attempt(s) made"
    assert [r.message_id for r in switch.requests].count(second.message_id) == 3
    assert [r.message_id for r in switch.requests].count(first.message_id) == 1


async def test_a_number_refused_by_the_dial_plan_is_never_called(
    sqlite_store: Store, files: FileStore, mosquitto: Mosquitto, smtp: SmtpServer
) -> None:
    store = sqlite_store
    make_subscriber(store)
    set_notifications(
        store, **{**OUTDIAL, "outdial_delay_normal_minutes": 0, "outdial_number": "9005550123"}
    )
    bus = parse_mqtt_url(mosquitto.url)
    switch = SwitchDouble(store, bus, ["answered"])
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with relay(store, bus), notifier(store, files, mailer, bus=bus), switch.running():
        deposit(store, files)
        await until(lambda: jobs(store) and jobs(store)[0].state == "failed")
        await asyncio.sleep(0.3)
    assert switch.requests == []
    assert jobs(store)[0].last_error == (
        "refused by the dial plan: 9005550123: area code 900 is blocked"
    )


async def test_no_result_in_time_counts_as_a_failed_attempt_and_late_results_are_ignored(
    sqlite_store: Store, files: FileStore, mosquitto: Mosquitto, smtp: SmtpServer
) -> None:
    store = sqlite_store
    make_subscriber(store)
    set_notifications(store, **{**OUTDIAL, "outdial_delay_normal_minutes": 0})
    bus = parse_mqtt_url(mosquitto.url)
    clock = Clock()
    # The first attempt never gets an answer; the second is answered, straight over MQTT.
    switch = SwitchDouble(store, bus, [None, "answered"], direct=True)
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with (
        relay(store, bus),
        notifier(store, files, mailer, bus=bus, clock=clock) as n,
        switch.running(),
    ):
        deposit(store, files, received_at=clock.now)
        await until(lambda: len(switch.requests) == 1)
        assert job_state(store) == ("sending", 1)
        clock.advance(seconds=61)  # result_timeout_seconds is 60 in these tests
        n.wake()
        await until(lambda: job_state(store) == ("pending", 1), what="timed out")
        assert jobs(store)[0].last_error.startswith("no result from the switch (timeout)")
        clock.advance(minutes=15)
        n.wake()
        await until(lambda: job_state(store) == ("done", 2))
        # A late answer for attempt 1 changes nothing.
        from events.events import OutdialResult

        with store.transaction() as s:
            enqueue(
                s, OutdialResult(line=NUMBER, job_id=jobs(store)[0].id, attempt=1, result="busy")
            )
        await asyncio.sleep(0.3)
    assert job_state(store) == ("done", 2)


async def test_override_replaces_pager_and_outdial_until_its_end_date(
    sqlite_store: Store, files: FileStore, smtp: SmtpServer
) -> None:
    """Override with the embedded amqtt broker as the bus."""
    store = sqlite_store
    make_subscriber(store)
    clock = Clock()
    set_notifications(
        store,
        **{**OUTDIAL, "outdial_delay_normal_minutes": 0},
        pager_enabled=True,
        pager_address="pager@example.com",
        pager_types=["all_voice"],
        override_enabled=True,
        override_end_date=clock.now + timedelta(hours=2),
        override_number="6135550155",
        override_types=["all_voice"],
        override_delay_normal_minutes=0,
        override_max_attempts=1,
    )
    port = free_port()
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    creds = BusCredentials(relais="relais-pass-1", observer="observer-pass-1")
    async with EmbeddedBroker(port, creds):
        bus = MqttAddress("127.0.0.1", port, "relais", creds.relais)
        switch = SwitchDouble(store, bus, ["answered", "answered", "answered"])
        async with (
            relay(store, bus),
            notifier(store, files, mailer, bus=bus, clock=clock) as n,
            switch.running(),
        ):
            deposit(store, files, received_at=clock.now)
            await until(lambda: len(switch.requests) == 1)
            await until(lambda: all(j.state == "done" for j in jobs(store)))
            assert [(j.kind, j.target) for j in jobs(store)] == [("outdial", "6135550155")]
            assert jobs(store)[0].data["source"] == "override"
            # After the end date the usual pager and outdial come back.
            clock.advance(hours=3)
            deposit(store, files, received_at=clock.now)
            await until(lambda: len(switch.requests) == 2 and len(smtp.received) == 1)
            n.wake()
    assert [r.number for r in switch.requests] == ["6135550155", "6135550199"]
    assert smtp.received[0].rcpt_tos == ["pager@example.com"]


async def test_pager_mail_and_numeric_page_follow_the_schedule(
    sqlite_store: Store, files: FileStore, mosquitto: Mosquitto, smtp: SmtpServer
) -> None:
    store = sqlite_store
    make_subscriber(store, language="en")
    # A coming Sunday at noon in Toronto; the pager schedule opens on Monday at 08:00.
    # (Ahead of the real time: the switch double, like a switch, drops expired requests.)
    toronto = ZoneInfo("America/Toronto")
    today = datetime.now(toronto).date()
    sunday = today + timedelta(days=7 + (6 - today.weekday()) % 7)
    clock = Clock(datetime.combine(sunday, time(12, 0), toronto).astimezone(UTC))
    monday_8 = datetime.combine(sunday + timedelta(days=1), time(8, 0), toronto).astimezone(UTC)
    set_notifications(
        store,
        pager_enabled=True,
        pager_address="pager@example.com",
        pager_number="6135550177",
        pager_callback_number="6135550100",
        pager_types=["all_voice"],
        pager_schedule=[{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "17:00"}],
    )
    bus = parse_mqtt_url(mosquitto.url)
    switch = SwitchDouble(store, bus, ["answered"])
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with (
        relay(store, bus),
        notifier(store, files, mailer, bus=bus, clock=clock) as n,
        switch.running(),
    ):
        heard = deposit(store, files, received_at=clock.now)
        kept = deposit(store, files, received_at=clock.now, urgent=True)
        await until(lambda: len(jobs(store)) == 4)
        assert {(j.kind, j.next_attempt_at) for j in jobs(store)} == {
            ("pager", monday_8),
            ("page", monday_8),
        }
        with store.transaction() as s:
            m = s.get(Message, heard.message_id)
            assert m is not None
            m.heard = True
            enqueue(
                s,
                MessageChanged(
                    line=NUMBER, message_id=m.id, change="heard", folder="inbox", heard=True
                ),
            )
        await until(lambda: sum(j.state == "cancelled" for j in jobs(store)) == 2)
        await asyncio.sleep(0.2)
        assert smtp.received == [] and switch.requests == []
        clock.now = monday_8
        n.wake()
        await until(lambda: len(smtp.received) == 1 and len(switch.requests) == 1)
        await until(lambda: sum(j.state == "done" for j in jobs(store)) == 2)
    page = switch.requests[0]
    assert (page.mode, page.number, page.dtmf, page.message_id) == (
        "page",
        "6135550177",
        "6135550100",
        kept.message_id,
    )
    mail = smtp.received[0].message
    assert mail["Subject"] == "URGENT New voice message - 613-555-0100"
    assert mail.get_content().strip() == (
        "URGENT New voice message for 613-555-0100 from Élise Côté (613-555-0142)."
        " Call back: 613-555-0100"
    )
