"""End to end (SPEC S7): a deposit with outdial notifications on -> the real notifier asks for
a call -> the switch calls the owner's phone -> the owner logs in with the PIN from that
phone -> mailbox.accessed (via outdial) -> the notifier makes no further attempt.

Every process is the product's: `relais bus` (embedded amqtt broker + outbox relay),
`relais notifier` and a switch worker (index 0) whose trunk reaches a scripted pjsua2 phone.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from media import say
from store.files import FileStore
from store.models import NotificationJob, OutboxEvent
from tests.support.deposit import deposit, set_notifications
from tests.support.phone import PROMPTS, Phone, Phones, ids
from tests.support.ports import free_port
from tests.support.sip import SwitchUnderTest, free_ports, run_worker, stop_process

pytestmark = pytest.mark.peer

CALLED = "6135559877"
PIN = "4826"


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "relais.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def payloads(sut: SwitchUnderTest, topic: str) -> list[dict[str, object]]:
    with sut.store.read() as s:
        rows = s.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
        ).all()
    return [dict(r) for r in rows]


@contextmanager
def running(tmp_path: Path, trunk_port: int, **env: str) -> Iterator[SwitchUnderTest]:
    """A switch worker whose trunk is 127.0.0.1:`trunk_port`, with `relais bus` (embedded
    broker) and `relais notifier` on its store."""
    settings = {
        "RELAIS_TRUNK_URI": f"sip:127.0.0.1:{trunk_port}",
        "RELAIS_MQTT_EMBEDDED_PORT": str(free_port()),
        "RELAIS_PROMPTS_DIR": str(PROMPTS),
        **env,
    }
    with run_worker(tmp_path, settings) as sut:
        procs = [
            start(["bus"], sut.env, tmp_path / "bus.log"),
            start(["notifier"], sut.env, tmp_path / "notifier.log"),
        ]
        try:
            yield sut
        finally:
            for proc in procs:
                stop_process(proc)


@pytest.fixture
def installation(tmp_path: Path, phones: Phones) -> Iterator[tuple[SwitchUnderTest, Phone]]:
    owner_phone = phones.phone(CALLED)
    owner_phone.answering = True
    with running(tmp_path, owner_phone.port) as sut:
        yield sut, owner_phone


def test_outdial_call_login_with_pin_stops_the_notifications(
    installation: tuple[SwitchUnderTest, Phone],
) -> None:
    sut, owner_phone = installation
    line = sut.account()
    set_notifications(
        sut.store,
        line,
        outdial_enabled=True,
        outdial_number=CALLED,
        outdial_types=["all_voice"],
        outdial_delay_normal_minutes=0,
        outdial_max_attempts=3,
        outdial_retry_minutes=1,
        outdial_stop_on_answer=False,
        outdial_stop_on_access=True,
    )
    deposit(sut.store, FileStore(sut.root), line)

    call = owner_phone.wait_incoming(timeout=30)
    call.wait_answered()
    call.hear(*ids("en", say.outdial_announcement()))
    call.press("1")
    call.hear(*ids("en", "enter_pin"))
    call.press(PIN + "#")
    call.hear(*ids("en", say.mailbox_summary(1, 0, "en")))
    accessed = sut.wait_for(lambda: payloads(sut, f"relais/{line}/mailbox/accessed"), 15)
    assert [a["via"] for a in accessed] == ["outdial"]

    def settled() -> NotificationJob | None:
        with sut.store.read() as s:
            job = s.scalars(select(NotificationJob).where(NotificationJob.kind == "outdial")).one()
            return job if job.state not in ("pending", "sending") else None

    # Still on the call: only the mailbox access can have stopped the job.
    job = sut.wait_for(settled, 15)
    assert (job.state, job.attempts) == ("cancelled", 1)
    assert "accessed" in (job.last_error or "")
    call.hangup()

    [result] = sut.wait_for(lambda: payloads(sut, f"relais/{line}/outdial/result"), 15)
    assert (result["result"], result["logged_in"]) == ("answered", True)
    assert len(payloads(sut, f"relais/{line}/outdial/request")) == 1
    assert len(owner_phone.incoming) == 1
    assert re.search(rf"\b{PIN}\b", sut.tail(400)) is None  # logs never hold a PIN


@pytest.fixture
def ringing_trunk(tmp_path: Path) -> Iterator[tuple[SwitchUnderTest, int]]:
    """The same installation, with SIPp on the trunk as the called number."""
    trunk_port = free_ports(1)
    with running(tmp_path, trunk_port, RELAIS_NOTIFY__OUTDIAL_RING_SECONDS="5") as sut:
        yield sut, trunk_port


def test_outdial_waits_its_delay_and_retries_an_unanswered_number(
    ringing_trunk: tuple[SwitchUnderTest, int], work: Path
) -> None:
    """Issue "events and notifications", peer: the call comes after the configured delay, an
    unanswered call is tried again after the retry interval, the configured number of times,
    and then the job ends. The test moves each due time to now instead of waiting minutes:
    the notifier computes them, claims the job, asks the switch, and settles each result."""
    sut, trunk_port = ringing_trunk
    line = sut.account()
    set_notifications(
        sut.store,
        line,
        outdial_enabled=True,
        outdial_number=CALLED,
        outdial_types=["all_voice"],
        outdial_delay_normal_minutes=1,
        outdial_max_attempts=2,
        outdial_retry_minutes=1,
    )
    callee = sut.sipp(
        "callee", "uas_ring.xml", workdir=work, uas=True, port=trunk_port, calls=2
    ).start()
    deposit(sut.store, FileStore(sut.root), line)

    def job() -> NotificationJob | None:
        with sut.store.read() as s:
            return s.scalars(
                select(NotificationJob).where(NotificationJob.kind == "outdial")
            ).first()

    def due_again(attempts: int) -> NotificationJob | None:
        found = job()
        return found if found and found.state == "pending" and found.attempts == attempts else None

    first = sut.wait_for(lambda: due_again(0), 15)
    delay = (first.next_attempt_at - first.created_at).total_seconds()
    assert 55 <= delay <= 65, delay  # the normal delay: one minute after the message
    assert payloads(sut, f"relais/{line}/outdial/request") == []

    def make_due() -> None:
        with sut.store.transaction() as s:
            row = s.get(NotificationJob, first.id)
            assert row is not None
            row.next_attempt_at = datetime.now(UTC)

    make_due()
    retry = sut.wait_for(lambda: due_again(1), 30)
    gap = (retry.next_attempt_at - retry.updated_at).total_seconds()
    assert 55 <= gap <= 65, gap  # the retry interval: one minute
    make_due()

    def ended() -> NotificationJob | None:
        found = job()
        return found if found and found.state not in ("pending", "sending") else None

    final = sut.wait_for(ended, 30)
    assert (final.state, final.attempts) == ("done", 2)
    results = payloads(sut, f"relais/{line}/outdial/result")
    assert [(r["attempt"], r["result"]) for r in results] == [(1, "no-answer"), (2, "no-answer")]
    callee.wait()
    assert callee.ok, callee.describe()
    assert len(callee.received("INVITE")) == 2
    assert len(callee.received("CANCEL")) == 2
