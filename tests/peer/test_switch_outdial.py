"""Outdial and page calls over a real broker and real SIP (SPEC S7; docs/architecture.md
"Outdial contract", steps 3 and 4), and MWI for changes made outside the switch (SPEC S6).

A switch worker (index 0, no edge) consumes the bus of a mosquitto broker; requests are
published straight to the broker (so they can only arrive through the bus); the worker calls
SIPp on its trunk; results are read from the outbox, where the worker writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from events.events import OutdialRequest
from events.mqtt import make_client, parse_mqtt_url, publish_event
from portal.auth.services import LineRef
from portal.messages import services as messages
from store import repository
from store.files import FileStore
from store.models import NotificationJob, OutboxEvent
from tests.support.deposit import deposit
from tests.support.mqtt import Mosquitto
from tests.support.phone import PROMPTS, Phones
from tests.support.sip import RtpCapture, SwitchUnderTest, free_ports, run_worker, stop_process

pytestmark = pytest.mark.peer

CALLED = "6135559876"
CALLBACK = "6135550142"
DTMF_EVENTS = "0123456789*#"


@dataclass
class Setup:
    sut: SwitchUnderTest
    broker: Mosquitto
    trunk_port: int


@pytest.fixture(scope="module")
def bus_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("outdial")
    trunk_port = free_ports(1)
    with (
        Mosquitto(tmp / "mqtt") as broker,
        run_worker(
            tmp,
            {
                "RELAIS_TRUNK_URI": f"sip:127.0.0.1:{trunk_port}",
                "RELAIS_MQTT_URL": broker.url,
                "RELAIS_PROMPTS_DIR": str(PROMPTS),
                # Requests published straight to the broker are not in the outbox: only the
                # bus can bring them. Sweeps stay rare.
                "RELAIS_NOTIFY__SWEEP_SECONDS": "600",
                # a cap small enough to reach in a test (the default is 128 calls)
                "RELAIS_MAX_CALLS_PER_WORKER": "4",
            },
        ) as sut,
    ):
        assert sut.log is not None
        sut.wait_for(lambda: "switch bus consumer subscribed" in sut.log.read_text(), 20)  # type: ignore[union-attr]
        yield Setup(sut, broker, trunk_port)


def request(line: str, job_id: int, **fields: Any) -> OutdialRequest:
    values: dict[str, Any] = {
        "attempt": 1,
        "number": CALLED,
        "mode": "notify",
        "message_id": None,
        "language": "en",
        "dtmf": "",
        "ring_seconds": 10,
        "expires_at": (datetime.now(UTC) + timedelta(minutes=3)).isoformat(),
    }
    values.update(fields)
    return OutdialRequest(line=line, job_id=job_id, **values)


def publish(setup: Setup, *events: OutdialRequest) -> None:
    async def send() -> None:
        async with make_client(parse_mqtt_url(setup.broker.url)) as client:
            for event in events:
                await publish_event(client, event)

    asyncio.run(send())


def results(sut: SwitchUnderTest, line: str) -> list[dict[str, Any]]:
    with sut.store.read() as s:
        rows = s.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.topic == f"relais/{line}/outdial/result")
            .order_by(OutboxEvent.id)
        ).all()
    return [dict(r) for r in rows]


def result_of(
    sut: SwitchUnderTest, line: str, job_id: int, timeout: float = 30.0
) -> dict[str, Any]:
    found = sut.wait_for(
        lambda: [r for r in results(sut, line) if r["job_id"] == job_id], timeout=timeout
    )
    assert len(found) == 1, found
    return found[0]


def new_job(
    sut: SwitchUnderTest,
    line: str,
    *,
    attempt: int = 1,
    kind: str = "outdial",
    target: str = CALLED,
    dtmf: str = "",
) -> int:
    """A notification job waiting for a call, as the notifier leaves it when it publishes the
    request (the switch dials only what such a job asks for)."""
    with sut.store.transaction() as s:
        job = NotificationJob(
            event_id=str(uuid.uuid4()),
            kind=kind,
            line_number=line,
            target=target,
            state="sending",
            attempts=attempt,
            data={"dtmf": dtmf} if dtmf else {},
        )
        s.add(job)
        s.flush()
        return job.id


def test_answered_notify_call_reports_answered(bus_switch: Setup, work: Path) -> None:
    sut = bus_switch.sut
    line = sut.account()
    job = new_job(sut, line, attempt=2)
    callee = sut.sipp(
        "callee",
        "uas_answer_bye.xml",
        workdir=work,
        uas=True,
        port=bus_switch.trunk_port,
        answer_ms=200,
        hold_ms=1500,
    ).start()
    publish(bus_switch, request(line, job, attempt=2))
    result = result_of(sut, line, job)
    assert (result["result"], result["attempt"], result["logged_in"]) == ("answered", 2, False)
    callee.wait()
    assert callee.ok, callee.describe()
    [invite] = callee.received("INVITE")
    assert invite.first_line.startswith(f"INVITE sip:{CALLED}@127.0.0.1:{bus_switch.trunk_port}")
    assert "sip:*98@relais.local" in invite.header("From")[0]


def test_busy_callee_reports_busy(bus_switch: Setup, work: Path) -> None:
    sut = bus_switch.sut
    line = sut.account()
    job = new_job(sut, line)
    callee = sut.sipp(
        "callee",
        "uas_status.xml",
        workdir=work,
        uas=True,
        port=bus_switch.trunk_port,
        code=486,
        reason="Busy Here",
    ).start()
    publish(bus_switch, request(line, job))
    assert result_of(sut, line, job)["result"] == "busy"
    callee.wait()
    assert callee.ok, callee.describe()


def test_callee_that_only_rings_is_cancelled_after_ring_seconds(
    bus_switch: Setup, work: Path
) -> None:
    sut = bus_switch.sut
    line = sut.account()
    job = new_job(sut, line)
    callee = sut.sipp(
        "callee", "uas_ring.xml", workdir=work, uas=True, port=bus_switch.trunk_port
    ).start()
    publish(bus_switch, request(line, job, ring_seconds=2))
    assert result_of(sut, line, job)["result"] == "no-answer"
    callee.wait()
    assert callee.ok, callee.describe()
    assert len(callee.received("CANCEL")) == 1


def test_expired_and_repeated_requests_are_not_called(bus_switch: Setup, work: Path) -> None:
    """An expired request is ignored; two requests for the same job and attempt (different
    event ids) make one call and one result. The bus delivers in order: once the last job's
    result is in, every request before it was looked at."""
    sut = bus_switch.sut
    line = sut.account()
    expired, twice, last = new_job(sut, line), new_job(sut, line), new_job(sut, line)
    callee = sut.sipp(
        "callee",
        "uas_status.xml",
        workdir=work,
        uas=True,
        port=bus_switch.trunk_port,
        calls=2,
        code=486,
        reason="Busy Here",
    ).start()
    gone = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    first = request(line, twice)
    publish(
        bus_switch,
        request(line, expired, expires_at=gone),
        first,
        request(line, twice),
        request(line, last),
    )
    result_of(sut, line, last)
    assert result_of(sut, line, twice)["result"] == "busy"
    callee.wait()
    assert callee.ok, callee.describe()
    assert len(callee.received("INVITE")) == 2
    assert [r["job_id"] for r in results(sut, line)].count(expired) == 0
    assert len(results(sut, line)) == 2


def dtmf_digits(packets: list[bytes]) -> str:
    """RFC 4733 telephone events (payload type 101) in the order sent: one per timestamp."""
    digits: list[str] = []
    seen: set[bytes] = set()
    for pkt in packets:
        if len(pkt) < 16 or pkt[0] >> 6 != 2 or pkt[1] & 0x7F != 101:
            continue
        stamp = pkt[4:8]
        if stamp in seen:
            continue
        seen.add(stamp)
        digits.append(DTMF_EVENTS[pkt[12]] if pkt[12] < len(DTMF_EVENTS) else "?")
    return "".join(digits)


def test_page_sends_the_callback_number_and_pound_then_hangs_up(
    bus_switch: Setup, work: Path
) -> None:
    sut = bus_switch.sut
    line = sut.account()
    job = new_job(sut, line, kind="page", dtmf=CALLBACK)
    pager = sut.sipp(
        "pager",
        "uas_answer.xml",
        workdir=work,
        uas=True,
        port=bus_switch.trunk_port,
        answer_ms=200,
    )
    pager.media_port = free_ports(4)
    with RtpCapture([pager.media_port], seconds=12) as capture:
        pager.start()
        publish(bus_switch, request(line, job, mode="page", dtmf=CALLBACK))
        assert result_of(sut, line, job)["result"] == "answered"
        pager.wait()  # the worker hung up (the scenario ends with its BYE)
    assert pager.ok, pager.describe()
    assert dtmf_digits(capture.packets.get(pager.media_port, [])) == CALLBACK + "#"


def test_message_heard_in_the_portal_turns_the_lamp_off(bus_switch: Setup, phones: Phones) -> None:
    """The change is made by the portal's service, not by the switch: the worker's consumer
    of mailbox.counts (from the outbox sweep at first, then from the bus through a relay)
    sends the new counts to the line's phone (static contact)."""
    sut = bus_switch.sut
    line = sut.account()
    desk = phones.phone(line)
    sut.device(line, desk.contact)
    files = FileStore(sut.root)
    d = deposit(sut.store, files, line)
    now = datetime.now(UTC)
    with relay(sut, bus_switch):
        with sut.store.transaction() as s:  # the deposit's counts, as the portal writes them
            repository.mailbox_changed(s, line)
        desk.wait_notify(lambda t: "Messages-Waiting: yes" in t and "Voice-Message: 1/0" in t)
        messages.update(
            sut.store, LineRef(line, True), d.message_id, heard=True, folder=None, now=now
        )
        text = desk.wait_notify(lambda t: "Messages-Waiting: no" in t)
    assert "Voice-Message: 0/1" in text
    assert f"Message-Account: sip:{line}@" in text


@contextlib.contextmanager
def relay(sut: SwitchUnderTest, setup: Setup) -> Iterator[None]:
    """The outbox relay (`relais bus` with mqtt_url set: relay only) for the test's store."""
    env = dict(sut.env, RELAIS_MQTT_URL=setup.broker.url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "relais.cli", "bus"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield
    finally:
        stop_process(proc)


def test_at_the_call_cap_an_attempt_fails_with_busy_switch(bus_switch: Setup, work: Path) -> None:
    """Four calls ring (the worker's cap); a fifth request is answered at once, failed."""
    sut = bus_switch.sut
    line = sut.account()
    jobs = [new_job(sut, line) for _ in range(5)]
    callee = sut.sipp(
        "callee", "uas_ring.xml", workdir=work, uas=True, port=bus_switch.trunk_port, calls=4
    ).start()
    publish(bus_switch, *(request(line, job, ring_seconds=4) for job in jobs))
    found = [result_of(sut, line, job) for job in jobs]
    assert sorted((r["result"], r["detail"]) for r in found) == [
        ("failed", "busy switch"),
        *[("no-answer", "")] * 4,
    ]
    callee.wait()
    assert callee.ok, callee.describe()
    assert len(callee.received("INVITE")) == 4


def test_forged_requests_are_not_dialed(bus_switch: Setup, work: Path) -> None:
    """Requests the store's jobs do not ask for, or that the dial plan refuses, make no call:
    the worker logs why. The bus delivers in order: once the last (real) job's call is made,
    every request before it was looked at."""
    sut = bus_switch.sut
    assert sut.log is not None
    line = sut.account()
    other = sut.account()
    renumbered, abroad, stolen, replayed, paged = (new_job(sut, line) for _ in range(5))
    premium = new_job(sut, line, target="9005550123")  # in the store, but a 1-900 number
    caribbean = new_job(sut, line, target="8095550123")  # one-plus, but abroad
    last = new_job(sut, line)
    callee = sut.sipp(
        "callee",
        "uas_status.xml",
        workdir=work,
        uas=True,
        port=bus_switch.trunk_port,
        calls=1,
        code=486,
        reason="Busy Here",
    ).start()
    publish(
        bus_switch,
        request(line, 987654321),  # no such job
        request(line, renumbered, number="9005550199"),  # a real job, another number
        request(line, abroad, number="011441234567890"),
        request(other, stolen),  # a real job of another line
        request(line, replayed, attempt=2),  # not the attempt the job waits for
        request(line, paged, mode="page", dtmf="5551234"),
        request(line, premium, number="9005550123"),
        request(line, caribbean, number="8095550123"),
        request(line, last),
    )
    assert result_of(sut, line, last)["result"] == "busy"
    callee.wait()
    assert callee.ok, callee.describe()
    assert len(callee.received("INVITE")) == 1  # the last one only
    log = sut.log.read_text()
    assert "outdial job 987654321 attempt 1: not dialed: no notification job 987654321" in log
    for job in (renumbered, abroad, paged):
        assert f"outdial job {job} attempt 1: not dialed: job {job} asks for another call" in log
    assert f"not dialed: job {stolen} belongs to another line" in log
    assert f"not dialed: job {replayed} is not waiting for attempt 2" in log
    assert (
        f"outdial job {premium} attempt 1: not dialed: refused by the dial plan: "
        "area code 900 is blocked"
    ) in log
    assert (
        f"outdial job {caribbean} attempt 1: not dialed: refused by the dial plan: area code 809 "
        "is in the Dominican Republic, outside Canada and the United States"
    ) in log
    # A real job refused by the dial plan is reported failed (its notifier settles it);
    # forged requests get no result at all.
    found = {r["job_id"]: r for r in results(sut, line)}
    assert found[premium]["result"] == found[caribbean]["result"] == "failed"
    assert set(found) == {premium, caribbean, last}
    assert not results(sut, other)
