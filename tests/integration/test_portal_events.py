"""Server-sent events of a line (SPEC S7, S8, S14 `GET /api/v1/lines/{n}/events`): a deposit
appears without a reload, from the outbox when there is no broker, from a real mosquitto when
there is one; resumed after Last-Event-ID; only the session's own lines."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.events import MessageDeposited, OutdialRequest
from events.mqtt import Relay, make_client, parse_mqtt_url, publish_event
from events.outbox import enqueue
from tests.support.deposit import deposit
from tests.support.mqtt import Mosquitto
from tests.support.portal import (
    A_NUMBER,
    B_NUMBER,
    PortalEnv,
    accounts_db,
    bearer,
    build,
    env,
    serve,
    sign_in,
)
from tests.support.ports import free_port

__all__ = ["accounts_db", "env"]

EVENTS = f"/api/v1/lines/{A_NUMBER}/events"
FAST = {"poll_seconds": 0.1, "keepalive_seconds": 0.3}


class Stream:
    """An SSE client on a thread: events as dicts {id, event, data} in arrival order."""

    def __init__(self, url: str, token: str, headers: dict[str, str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.status: int | None = None
        self._stop = threading.Event()
        self._headers = {**bearer(token), **(headers or {})}
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)

    def _run(self, url: str) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(10.0)) as client,
            client.stream("GET", url, headers=self._headers) as r,
        ):
            self.status = r.status_code
            if r.status_code != 200:
                self.connected.set()
                return
            current: dict[str, Any] = {}
            for line in r.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith(("id:", "event:", "data:")):
                    key, _sep, value = line.partition(": ")
                    current[key] = json.loads(value) if key == "data" else value
                elif line == "" and current:
                    self.events.append(current)
                    current = {}

    def __enter__(self) -> Stream:
        self._thread.start()
        assert self.connected.wait(10), "the stream did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def wait(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in list(self.events):
                if predicate(e):
                    return e
            time.sleep(0.02)
        raise AssertionError(f"no such event; got {[e.get('event') for e in self.events]}")


@pytest.fixture
def no_bus(env: PortalEnv, tmp_path: Path) -> Iterator[tuple[PortalEnv, str]]:
    """The portal with the bus on but no broker answering: events come from the outbox."""
    portal = build(
        tmp_path,
        env.store,
        mqtt_url=f"mqtt://relais:secret-1@127.0.0.1:{free_port()}",
        portal_events=FAST,
    )
    with serve(portal.app) as url:
        yield portal, url


def deposited(message_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("event") == "message.deposited" and e["data"]["message_id"] == message_id


def test_a_deposit_appears_without_a_broker(no_bus: tuple[PortalEnv, str]) -> None:
    portal, url = no_bus
    token = sign_in(portal.client())
    earlier = deposit(portal.store, portal.files, A_NUMBER)  # before the stream: not replayed
    with Stream(url + EVENTS, token) as stream:
        m = deposit(portal.store, portal.files, A_NUMBER, caller_number="8195550177", urgent=True)
        deposit(portal.store, portal.files, B_NUMBER)  # another account's line: not sent
        event = stream.wait(deposited(m.message_id))
        assert event["id"] == event["data"]["event_id"] == m.event_id
        assert event["data"]["caller_number"] == "8195550177" and event["data"]["urgent"] is True
        counts = stream.wait(lambda e: e.get("event") == "mailbox.counts")
        assert counts["data"]["voice_new"] == 2
        time.sleep(0.3)
    assert all(e["data"]["line"] == A_NUMBER for e in stream.events)
    assert not any(deposited(earlier.message_id)(e) for e in stream.events)
    assert [e["id"] for e in stream.events].count(m.event_id) == 1


def test_resume_after_last_event_id_and_hidden_commands(no_bus: tuple[PortalEnv, str]) -> None:
    portal, url = no_bus
    token = sign_in(portal.client())
    with Stream(url + EVENTS, token) as stream:
        first = deposit(portal.store, portal.files, A_NUMBER)
        seen = stream.wait(deposited(first.message_id))
    # While the page is away: a deposit, and a command for the switch (never sent to browsers).
    second = deposit(portal.store, portal.files, A_NUMBER)
    with portal.store.transaction() as s:
        enqueue(
            s,
            OutdialRequest(
                line=A_NUMBER, job_id=1, attempt=1, number="6135550199", mode="notify",
                message_id=None, language="fr", dtmf="", ring_seconds=30,
                expires_at=datetime.now(UTC).isoformat(),
            ),
        )  # fmt: skip
    with Stream(url + EVENTS, token, {"Last-Event-ID": seen["id"]}) as again:
        again.wait(deposited(second.message_id))
        time.sleep(0.3)
    assert not any(e["event"] == "outdial.request" for e in again.events)
    assert not any(deposited(first.message_id)(e) for e in again.events)


def test_only_the_accounts_own_lines(no_bus: tuple[PortalEnv, str]) -> None:
    portal, url = no_bus
    token = sign_in(portal.client())
    r = httpx.get(f"{url}/api/v1/lines/{B_NUMBER}/events", headers=bearer(token), timeout=5)
    assert (r.status_code, r.json()["error"]) == (404, "line-not-found")
    r = httpx.get(url + EVENTS, timeout=5)
    assert r.status_code == 401


def test_events_come_from_the_bus_when_a_broker_answers(env: PortalEnv, tmp_path: Path) -> None:
    with Mosquitto(tmp_path / "mqtt") as broker:
        # The outbox is read once at the start and then every minute: what arrives sooner came
        # through the broker.
        portal = build(
            tmp_path,
            env.store,
            mqtt_url=broker.url,
            portal_events={"poll_seconds": 60, "bus_poll_seconds": 60, "keepalive_seconds": 0.3},
        )
        address = parse_mqtt_url(broker.url)
        token = sign_in(portal.client())
        with serve(portal.app) as url, Stream(url + EVENTS, token) as stream:
            # An event published on the broker only (never written to this store's outbox).
            direct = MessageDeposited(
                line=A_NUMBER, message_id=4242, kind="voice", urgent=False, private=False,
                caller_number="5145550100", caller_name=None,
                received_at=datetime.now(UTC).isoformat(), duration_seconds=3.0,
            )  # fmt: skip

            async def publish_until_seen() -> None:
                async with make_client(address) as client:
                    while not stream.events:
                        await publish_event(client, direct)  # same id: delivered once
                        await asyncio.sleep(0.1)

            asyncio.run(asyncio.wait_for(publish_until_seen(), 10))
            event = stream.wait(lambda e: e.get("id") == direct.event_id)
            assert event["data"]["message_id"] == 4242
            # A real deposit, published by the outbox relay.
            stop = threading.Event()

            def relay() -> None:
                async def main() -> None:
                    halt = asyncio.Event()
                    task = asyncio.create_task(
                        Relay(env.store, address, poll_seconds=0.05).run(halt)
                    )
                    while not stop.is_set():
                        await asyncio.sleep(0.05)
                    halt.set()
                    await task

                asyncio.run(main())

            worker = threading.Thread(target=relay)
            worker.start()
            try:
                m = deposit(portal.store, portal.files, A_NUMBER)
                stream.wait(deposited(m.message_id), timeout=10)
            finally:
                stop.set()
                worker.join(10)
        assert [e["id"] for e in stream.events].count(direct.event_id) == 1
