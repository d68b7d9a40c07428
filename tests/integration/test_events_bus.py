"""The outbox relay and subscribers against real brokers: mosquitto and the embedded amqtt."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from events import outbox
from events.access import BusCredentials, bus_credentials
from events.broker import EmbeddedBroker
from events.consumer import DurableConsumer
from events.events import Event, MessageChanged, OutdialRequest, SettingsChanged
from events.mqtt import MqttAddress, Relay, heartbeat_line, parse_mqtt_url, subscribe
from store.migrate import upgrade
from store.session import Store
from tests.support.mqtt import Mosquitto, wait_port
from tests.support.ports import free_port
from tests.support.text import starts

LINE = "6135550100"
CREDS = BusCredentials(relais="relais-pass-1", observer="observer-pass-1")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


def enqueue(store: Store, *events: Event) -> None:
    with store.transaction() as s:
        for e in events:
            outbox.enqueue(s, e)


def changed(i: int) -> MessageChanged:
    return MessageChanged(line=LINE, message_id=i, change="heard", folder="inbox", heard=True)


def backlog(store: Store) -> int:
    with store.read() as s:
        return outbox.backlog(s)


@contextlib.asynccontextmanager
async def running(relay: Relay) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def collect(
    address: MqttAddress, topic: str, n: int, ready: asyncio.Event, **kw: object
) -> list[Event]:
    got: list[Event] = []

    async def subscribed() -> None:
        ready.set()

    async for event in subscribe(address, [topic], on_subscribed=subscribed, **kw):  # type: ignore[arg-type]
        got.append(event)
        if len(got) == n:
            break
    return got


async def test_relay_publishes_committed_events_at_qos1_and_marks_them_sent(
    store: Store, mosquitto: Mosquitto
) -> None:
    address = parse_mqtt_url(mosquitto.url)
    events = [changed(i) for i in range(5)] + [SettingsChanged(line="6135550199", section="call")]
    ready = asyncio.Event()
    listener = asyncio.create_task(collect(address, f"relais/{LINE}/#", 5, ready))
    await asyncio.wait_for(ready.wait(), 10)
    enqueue(store, *events)
    relay = Relay(store, address, poll_seconds=0.02)
    async with running(relay):
        got = await asyncio.wait_for(listener, 10)
    # Typed events come back equal, in the order they were written; the other line's event
    # is not delivered to this line's subscriber.
    assert got == events[:5]
    assert backlog(store) == 0
    assert relay.published == 6


async def test_two_relays_on_one_broker_keep_their_connections(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """Two relays (two `relais bus`, each with its own outbox here) hold one connection each to
    the broker: a broker drops the older of two clients with the same id, so a shared fixed id
    would make them take the connection from each other in turn."""
    address = parse_mqtt_url(mosquitto.url)
    stores = [Store(f"sqlite:///{tmp_path}/relay-{i}.db") for i in range(2)]
    for st in stores:
        upgrade(st.engine)
    ready = asyncio.Event()
    listener = asyncio.create_task(collect(address, f"relais/{LINE}/#", 6, ready))
    await asyncio.wait_for(ready.wait(), 10)
    relays = [Relay(st, address, poll_seconds=0.02) for st in stores]
    assert relays[0].identifier != relays[1].identifier
    async with running(relays[0]), running(relays[1]):
        await asyncio.wait_for(asyncio.gather(*(r.connected.wait() for r in relays)), 10)
        for round_ in range(3):
            for i, st in enumerate(stores):
                enqueue(st, changed(10 * round_ + i))
            await asyncio.sleep(0.5)
        got = await asyncio.wait_for(listener, 10)
        await asyncio.sleep(1.0)
        assert [r.connections for r in relays] == [1, 1]
    assert sorted(e.message_id for e in got) == [0, 1, 10, 11, 20, 21]  # type: ignore[attr-defined]
    for st in stores:
        st.dispose()


async def test_broker_down_then_up_delivers_every_event_once(
    store: Store, mosquitto: Mosquitto
) -> None:
    """Events written while the broker is down wait in the outbox and are published once when
    it is back; a raw persistent QoS 1 subscriber receives every one (QoS 1 may redeliver:
    mosquitto replays in-flight messages of a persistent session after its restart), and a
    durable consumer handles each exactly once."""
    address = parse_mqtt_url(mosquitto.url)
    raw: list[bytes] = []
    handled: list[int] = []

    async def persistent_subscriber(stop: asyncio.Event, subscribed: asyncio.Event) -> None:
        while not stop.is_set():
            client = aiomqtt.Client(
                "127.0.0.1", mosquitto.port, identifier="t-persistent", clean_session=False
            )
            try:
                async with client:
                    await client.subscribe(f"relais/{LINE}/#", qos=1)
                    subscribed.set()
                    async for m in client.messages:
                        raw.append(bytes(m.payload))  # type: ignore[arg-type]
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    consumer = DurableConsumer(
        store,
        "test",
        {"message.changed": lambda _s, e: handled.append(e.message_id)},  # type: ignore[attr-defined]
    )
    stop = asyncio.Event()
    subscribed = asyncio.Event()
    tasks = [
        asyncio.create_task(persistent_subscriber(stop, subscribed)),
        asyncio.create_task(consumer.run(address, stop, sweep_seconds=30)),
    ]
    await asyncio.wait_for(subscribed.wait(), 10)
    # The consumer too: what is published before its subscription reaches it only by its sweep,
    # 30 s away here (seen once in CI: 10 events written while it was still connecting).
    await asyncio.wait_for(consumer.subscribed.wait(), 10)
    relay = Relay(store, address, poll_seconds=0.02)
    async with running(relay):
        enqueue(store, *(changed(i) for i in range(10)))
        await wait_until(lambda: len(handled) == 10 and len(raw) >= 10)
        mosquitto.stop()
        enqueue(store, *(changed(i) for i in range(10, 30)))
        await asyncio.sleep(1.0)
        assert backlog(store) == 20  # held in the outbox while the broker is away
        assert not relay.connected.is_set()
        mosquitto.start()
        await wait_until(lambda: {json.loads(p)["message_id"] for p in raw} == set(range(30)))
        await wait_until(lambda: len(handled) == 30)
        await asyncio.sleep(0.5)  # nothing more arrives
    stop.set()
    for t in tasks:
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await t
    assert relay.published == 30  # each outbox row was published once
    assert sorted(handled) == list(range(30))  # and handled once
    assert backlog(store) == 0


async def test_a_consumer_passes_over_the_bus_copy_of_what_was_recorded_as_its_own(
    store: Store, mosquitto: Mosquitto
) -> None:
    """Events written as consumed by a consumer (outbox.enqueue's consumed_by) that it knows by
    `made_consumed` cost it no transaction when the bus delivers them; the others are handled."""
    address = parse_mqtt_url(mosquitto.url)
    handled: list[int] = []
    consumer = DurableConsumer(
        store,
        "test",
        {"message.changed": lambda _s, e: handled.append(e.message_id)},  # type: ignore[attr-defined]
        made_consumed=lambda e: e.message_id % 2 == 1,  # type: ignore[attr-defined]
    )
    looked_at: list[int] = []
    handle = consumer.handle

    def counting(event: Event) -> bool:
        looked_at.append(event.message_id)  # type: ignore[attr-defined]
        return handle(event)

    consumer.handle = counting  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(address, stop, sweep_seconds=30))
    await asyncio.wait_for(consumer.subscribed.wait(), 10)
    relay = Relay(store, address, poll_seconds=0.02)
    async with running(relay):
        with store.transaction() as s:
            for i in range(6):
                outbox.enqueue(s, changed(i), consumed_by=("test",) if i % 2 else ())
        await wait_until(lambda: relay.published == 6 and len(handled) == 3)
        await asyncio.sleep(0.3)  # the odd ones arrived too, and were passed over
    stop.set()
    await asyncio.wait_for(task, 10)
    assert sorted(handled) == [0, 2, 4]
    assert sorted(looked_at) == [0, 2, 4]


async def test_embedded_broker_carries_events_and_is_loopback_only(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    with pytest.raises(ValueError, match=starts("the embedded broker listens on the loopback")):
        EmbeddedBroker(port, CREDS, host="0.0.0.0")
    async with EmbeddedBroker(port, CREDS):
        # A readiness probe (connect, close) is not logged as an error.
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await asyncio.sleep(0.2)
        assert not [
            r for r in caplog.records if r.name.startswith("amqtt") and r.levelno >= logging.ERROR
        ]
        address = MqttAddress("127.0.0.1", port, "relais", CREDS.relais)
        ready = asyncio.Event()
        listener = asyncio.create_task(collect(address, "relais/+/message/changed", 3, ready))
        await asyncio.wait_for(ready.wait(), 10)
        enqueue(sqlite_store, *(changed(i) for i in range(3)))
        async with running(Relay(sqlite_store, address, poll_seconds=0.02)):
            got = await asyncio.wait_for(listener, 10)
        assert [e.message_id for e in got] == [0, 1, 2]  # type: ignore[attr-defined]


async def test_the_embedded_broker_admits_its_users_only_and_observers_cannot_command() -> None:
    port = free_port()
    async with EmbeddedBroker(port, CREDS):
        for user, password in ((None, None), ("relais", "wrong"), ("intruder", "relais-pass-1")):
            with pytest.raises(aiomqtt.MqttError):
                async with aiomqtt.Client("127.0.0.1", port, username=user, password=password):
                    pass
        # An observer reads events but cannot subscribe outside relais/ nor publish at all.
        relais = MqttAddress("127.0.0.1", port, "relais", CREDS.relais)
        observer = MqttAddress("127.0.0.1", port, "observer", CREDS.observer)
        ready = asyncio.Event()
        watched = asyncio.create_task(collect(observer, f"relais/{LINE}/#", 1, ready))
        await asyncio.wait_for(ready.wait(), 10)
        ready = asyncio.Event()
        commands = asyncio.create_task(collect(relais, "relais/+/outdial/request", 1, ready))
        await asyncio.wait_for(ready.wait(), 10)
        forged = OutdialRequest(
            line=LINE,
            job_id=1,
            attempt=1,
            number="8095550123",
            mode="notify",
            message_id=None,
            language="en",
            dtmf="",
            ring_seconds=30,
            expires_at="2099-01-01T00:00:00+00:00",
        )
        real = OutdialRequest(**{**forged.__dict__, "number": "6135550123", "job_id": 2})
        async with aiomqtt.Client(
            "127.0.0.1", port, username="observer", password=CREDS.observer
        ) as spy:
            await spy.publish(forged.topic, forged.to_json(), qos=1)
        async with aiomqtt.Client(
            "127.0.0.1", port, username="relais", password=CREDS.relais
        ) as ours:
            await ours.publish(real.topic, real.to_json(), qos=1)
        # Delivered in order: the observer's command never reached the switch's subscription.
        assert await asyncio.wait_for(commands, 10) == [real]
        assert await asyncio.wait_for(watched, 10) == [real]


async def test_subscriber_yields_each_event_id_once_and_skips_foreign_payloads(
    mosquitto: Mosquitto,
) -> None:
    address = parse_mqtt_url(mosquitto.url)
    ready = asyncio.Event()
    listener = asyncio.create_task(collect(address, f"relais/{LINE}/#", 2, ready))
    await asyncio.wait_for(ready.wait(), 10)
    first, second = changed(1), changed(2)
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
        await pub.publish(first.topic, first.to_json(), qos=1)
        await pub.publish(first.topic, first.to_json(), qos=1)  # a redelivery
        await pub.publish(f"relais/{LINE}/junk", b"not json", qos=1)
        await pub.publish(f"relais/{LINE}/junk", b'{"type": "no.such"}', qos=1)
        await pub.publish(second.topic, second.to_json(), qos=1)
    assert await asyncio.wait_for(listener, 10) == [first, second]


async def test_subscriber_reconnects_by_itself(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "m")
    address = parse_mqtt_url(broker.url)
    ready = asyncio.Event()
    # The broker is not running yet: the subscriber keeps trying.
    listener = asyncio.create_task(collect(address, f"relais/{LINE}/#", 1, ready))
    await asyncio.sleep(0.5)
    assert not ready.is_set()
    with broker:
        await asyncio.wait_for(ready.wait(), 10)
        event = changed(7)
        async with aiomqtt.Client("127.0.0.1", broker.port) as pub:
            await pub.publish(event.topic, event.to_json(), qos=1)
        assert await asyncio.wait_for(listener, 10) == [event]


def test_relais_bus_runs_the_embedded_broker_and_the_relay(tmp_path: Path) -> None:
    """`relais bus` with no mqtt_url: amqtt on loopback + relay, stopped cleanly by SIGTERM."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(
        RELAIS_STORAGE_ROOT=str(tmp_path / "var"),
        RELAIS_MQTT_EMBEDDED_PORT=str(port),
    )
    relais = str(Path(sys.executable).with_name("relais"))
    subprocess.run([relais, "db", "upgrade"], env=env, check=True, capture_output=True)
    creds = bus_credentials(tmp_path / "var")  # what `relais bus` reads (or makes: mode 0600)
    assert (tmp_path / "var" / "bus-credentials.toml").stat().st_mode & 0o777 == 0o600
    store = Store(f"sqlite:///{tmp_path / 'var' / 'relais.db'}")
    proc = subprocess.Popen([relais, "bus"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        wait_port(port)

        async def scenario() -> list[Event]:
            ready = asyncio.Event()
            listener = asyncio.create_task(
                collect(
                    MqttAddress("127.0.0.1", port, "observer", creds.observer),
                    f"relais/{LINE}/#",
                    1,
                    ready,
                )
            )
            await asyncio.wait_for(ready.wait(), 10)
            enqueue(store, changed(42))
            return await asyncio.wait_for(listener, 10)

        got = asyncio.run(scenario())
        assert [e.message_id for e in got] == [42]  # type: ignore[attr-defined]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0
        assert f"bus ready: mqtt://relais@127.0.0.1:{port}" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        store.dispose()


async def wait_until(predicate: object, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("condition not met in time")


async def test_the_bus_status_comes_from_a_heartbeat_the_broker_acknowledged(
    store: Store, tmp_path: Path
) -> None:
    """A frozen broker (its process alive but not answering) shows as such in `relais status`."""
    beat = tmp_path / "run" / "bus.heartbeat"
    broker = Mosquitto(tmp_path / "m").start()
    try:
        assert broker.process is not None
        relay = Relay(
            store, parse_mqtt_url(broker.url), poll_seconds=0.02, heartbeat=beat,
            heartbeat_seconds=0.2,
        )  # fmt: skip
        async with running(relay):
            await wait_until(beat.exists)
            assert heartbeat_line(beat, datetime.now(UTC), stale_after=2.0).startswith(
                "bus     : up (the broker acknowledged a heartbeat"
            )
            broker.process.send_signal(signal.SIGSTOP)  # frozen: the process is still there
            try:
                first = beat.read_text()
                await asyncio.sleep(1.0)
                assert beat.read_text() == first  # no acknowledgement, no new heartbeat
                later = datetime.fromisoformat(first.strip()) + timedelta(seconds=10)
                assert heartbeat_line(beat, later, stale_after=2.0).startswith(
                    "bus     : no broker answer for 10 s (last heartbeat "
                )
            finally:
                broker.process.send_signal(signal.SIGCONT)
            await wait_until(lambda: beat.read_text() != first, timeout=20)
    finally:
        broker.stop()
    assert heartbeat_line(tmp_path / "none", datetime.now(UTC)) == (
        "bus     : no heartbeat yet (relais bus not running, or no broker answer so far)"
    )


async def test_a_client_left_after_the_broker_went_away_leaves_no_unread_error(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    """The broker stops first (`relais run` stopped by Ctrl-C), and a subscriber leaves its
    client while it handles an event instead of reading the next message: aiomqtt's
    disconnection error is read on the way out, so asyncio has no "Future exception was never
    retrieved" to log (it did, as an ERROR, at the end of the run)."""
    import gc

    from events.mqtt import connected, make_client

    async def leave_after_the_broker_went_away() -> None:
        client = make_client(parse_mqtt_url(mosquitto.url))
        async with connected(client):
            mosquitto.stop()
            # aiomqtt's own record of the disconnection (its message iterator reads it)
            gone = client._disconnected
            for _ in range(200):
                if gone.done():
                    break
                await asyncio.sleep(0.05)
            assert gone.done()  # (not read here: that is what the test is about)

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        await leave_after_the_broker_went_away()
        gc.collect()
        await asyncio.sleep(0)
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


async def test_a_consumer_catches_up_once_at_start(store: Store, mosquitto: Mosquitto) -> None:
    """At start the outbox is read once: by the bus subscription's sweep when the broker is up,
    by the periodic sweeper after one period when it is not. Both at once (the sweeper's first
    sweep ran as the consumer started) looked at the events written meanwhile twice: a CI failure
    of the test above, each event the bus delivered also found by a sweep still under way."""

    def counted(consumer: DurableConsumer) -> list[bool]:
        sweeps: list[bool] = []
        sweep = consumer.sweep

        def counting(*, full: bool = False, **kw: object) -> int:
            sweeps.append(full)
            return sweep(full=full, **kw)  # type: ignore[arg-type]

        consumer.sweep = counting  # type: ignore[method-assign]
        return sweeps

    handlers = {"message.changed": lambda _s, _e: None}
    up = DurableConsumer(store, "up", handlers)
    sweeps = counted(up)
    stop = asyncio.Event()
    task = asyncio.create_task(up.run(parse_mqtt_url(mosquitto.url), stop, sweep_seconds=30))
    await asyncio.wait_for(up.subscribed.wait(), 10)
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert sweeps == [True]

    # no broker where the address says: the sweeper catches up after one period
    mosquitto.stop()
    down = DurableConsumer(store, "down", handlers)
    sweeps = counted(down)
    stop = asyncio.Event()
    task = asyncio.create_task(down.run(parse_mqtt_url(mosquitto.url), stop, sweep_seconds=0.3))
    await wait_until(lambda: len(sweeps) >= 1)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert sweeps[0] is True and not down.subscribed.is_set()
