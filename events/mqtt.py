"""The MQTT side of the bus: broker addresses, the outbox relay, and a subscriber API.

Rules of this file:
- Every publication is QoS 1 and goes through the outbox: the relay publishes what the store
  committed and marks it sent only after the broker's PUBACK, so a broker outage delays
  events and loses none. A crash between PUBACK and `mark_sent` publishes an event again:
  consumers deduplicate by `event_id` (`subscribe` does it for its caller).
- aiomqtt does not reconnect by itself: the relay and `subscribe` loop around
  `async with connected(client):` with a capped back-off.
- Passwords in MQTT URLs are never logged (`MqttAddress.__str__` hides them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiomqtt

from config.settings import Settings
from events import outbox
from events.access import RELAIS_USER, bus_credentials
from events.events import Event, parse_event
from store.session import Store

logger = logging.getLogger(__name__)

HEARTBEAT_TOPIC = "relais/_bus/heartbeat"
HEARTBEAT_SECONDS = 5.0
"""The relay publishes a heartbeat this often; its PUBACK proves the broker answers, and the
time of the last one is written to the heartbeat file (`relais status` reads it)."""
RECONNECT_MIN_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 5.0
COMMAND_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class MqttAddress:
    """Where the broker is. `str()` never shows the password."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttAddress:
    """mqtt://[user[:password]@]host[:port] (1883) or mqtts://... (8883, TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError("the MQTT URL must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError("the MQTT URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the MQTT URL has an invalid port") from None
    tls = parts.scheme == "mqtts"
    return MqttAddress(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def embedded_address(cfg: Settings) -> MqttAddress:
    """The embedded broker, with the installation's generated `relais` credentials."""
    creds = bus_credentials(cfg.storage_root)
    return MqttAddress("127.0.0.1", cfg.mqtt_embedded_port, RELAIS_USER, creds.relais)


def bus_address(cfg: Settings) -> MqttAddress:
    """The configured broker (`mqtt_url`, which must carry a user and password), or the
    embedded one on loopback."""
    if not cfg.mqtt_url:
        return embedded_address(cfg)
    address = parse_mqtt_url(cfg.mqtt_url)
    if not (address.username and address.password):
        raise ValueError(
            "mqtt_url: give the broker's user and password (mqtt://user:password@host:1883)"
        )
    return address


def make_client(
    address: MqttAddress,
    *,
    identifier: str | None = None,
    clean_session: bool | None = None,
    timeout: float = COMMAND_TIMEOUT_SECONDS,
) -> aiomqtt.Client:
    return aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=identifier,
        clean_session=clean_session,
        timeout=timeout,
        keepalive=15,
        tls_context=ssl.create_default_context() if address.tls else None,
    )


@contextlib.asynccontextmanager
async def connected(client: aiomqtt.Client) -> AsyncIterator[aiomqtt.Client]:
    """`async with client`, and no "Future exception was never retrieved" after it.

    aiomqtt keeps a disconnection it did not ask for as the exception of a future that only
    its message iterator reads. Left any other way (the task cancelled while it handled an
    event or caught up, a generator closed at the end of the process), the future is dropped
    unread, and asyncio logs an ERROR for it when it is collected: at every stop of
    `relais run` whose broker went first. Read here; the exit itself is unchanged."""
    try:
        async with client:
            yield client
    finally:
        gone: asyncio.Future[None] | None = getattr(client, "_disconnected", None)
        if gone is not None and gone.done() and not gone.cancelled():
            gone.exception()


async def publish_event(client: aiomqtt.Client, event: Event) -> None:
    """Publish one event at QoS 1 on a connected client (waits for the PUBACK)."""
    await client.publish(event.topic, event.to_json(), qos=1)


class _Backoff:
    def __init__(self) -> None:
        self.delay = RECONNECT_MIN_SECONDS
        self.failures = 0

    def reset(self) -> None:
        self.delay = RECONNECT_MIN_SECONDS
        self.failures = 0

    def next(self) -> float:
        delay = self.delay
        self.delay = min(RECONNECT_MAX_SECONDS, self.delay * 2)
        self.failures += 1
        return delay


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


# ------------------------------------------------------------------------------------------------
# The outbox relay


def heartbeat_path(cfg: Settings) -> Path:
    return cfg.storage_root / "run" / "bus.heartbeat"


def write_heartbeat(path: Path, at: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(at + "\n")
    os.replace(tmp, path)


def heartbeat_line(path: Path, now: datetime, stale_after: float = 3 * HEARTBEAT_SECONDS) -> str:
    """What `relais status` says of the bus: from the relay's last acknowledged heartbeat, not
    from the bus process being alive."""
    try:
        last = datetime.fromisoformat(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return "bus     : no heartbeat yet (relais bus not running, or no broker answer so far)"
    age = max(0.0, (now - last).total_seconds())
    if age > stale_after:
        return f"bus     : no broker answer for {age:.0f} s (last heartbeat {last:%H:%M:%S} UTC)"
    return f"bus     : up (the broker acknowledged a heartbeat {age:.0f} s ago)"


class Relay:
    """Publishes committed outbox events at QoS 1 and marks them sent, reconnecting forever."""

    def __init__(
        self,
        store: Store,
        address: MqttAddress,
        *,
        poll_seconds: float = 0.05,
        batch: int = 100,
        retention: timedelta = timedelta(hours=168),
        identifier: str | None = None,
        heartbeat: Path | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.store = store
        self.heartbeat = heartbeat
        self.heartbeat_seconds = heartbeat_seconds
        self._last_beat = float("-inf")
        self.address = address
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.retention = retention
        self.identifier = identifier or f"relais-relay-{uuid.uuid4().hex[:12]}"
        """Unique per relay by default: a broker drops the older of two clients with one id, so
        two relays (two hosts' `relais bus`, or a restart before the broker noticed the old
        connection gone) sharing a fixed id would take the connection from each other."""
        self.published = 0
        self.connections = 0
        """Connections made to the broker (1 while it never dropped the relay)."""
        self.connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._last_purge = 0.0

    def wake(self) -> None:
        """Look at the outbox now (for producers in the same event loop)."""
        self._wake.set()

    def _fetch(self) -> list[tuple[int, str, bytes]]:
        with self.store.read() as s:
            rows = outbox.pending(s, self.batch)
            return [
                (
                    r.id,
                    r.topic,
                    json.dumps(r.payload, separators=(",", ":"), ensure_ascii=False).encode(),
                )
                for r in rows
            ]

    def _mark(self, sent: list[int], failed: list[int]) -> None:
        with self.store.transaction() as s:
            outbox.mark_sent(s, sent, datetime.now(UTC))
            outbox.count_failed_attempt(s, failed)

    def _purge(self) -> None:
        with self.store.transaction() as s:
            removed = outbox.purge_sent(s, datetime.now(UTC) - self.retention)
        if removed:
            logger.info(
                "outbox: removed %s published event(s) older than %s", removed, self.retention
            )

    async def _idle(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_purge > 3600:
            self._last_purge = loop.time()
            await asyncio.to_thread(self._purge)
        self._wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waiters:
                w.cancel()

    async def _beat(self, client: aiomqtt.Client) -> None:
        """Publish a heartbeat when one is due and record that the broker acknowledged it."""
        loop = asyncio.get_running_loop()
        if self.heartbeat is None or loop.time() - self._last_beat < self.heartbeat_seconds:
            return
        at = datetime.now(UTC).isoformat()
        payload = json.dumps({"type": "bus.heartbeat", "at": at}).encode()
        await client.publish(HEARTBEAT_TOPIC, payload, qos=1)  # raises when no PUBACK comes
        self._last_beat = loop.time()
        await asyncio.to_thread(write_heartbeat, self.heartbeat, at)

    async def _pump(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._beat(client)
            rows = await asyncio.to_thread(self._fetch)
            if not rows:
                await self._idle(stop)
                continue
            results = await asyncio.gather(
                *(client.publish(topic, payload, qos=1) for _, topic, payload in rows),
                return_exceptions=True,
            )
            sent = [row[0] for row, r in zip(rows, results, strict=True) if r is None]
            failed = [row[0] for row, r in zip(rows, results, strict=True) if r is not None]
            await asyncio.to_thread(self._mark, sent, failed)
            self.published += len(sent)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise aiomqtt.MqttError(f"publication failed: {errors[0]}")

    async def run(self, stop: asyncio.Event) -> None:
        backoff = _Backoff()
        while not stop.is_set():
            # A fresh client per connection: paho keeps in-flight state in a used one.
            client = make_client(self.address, identifier=self.identifier)
            try:
                async with connected(client):
                    if backoff.failures:
                        logger.info("relay: connected again to %s", self.address)
                    backoff.reset()
                    self.connections += 1
                    self.connected.set()
                    await self._pump(client, stop)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                if backoff.failures == 0:
                    logger.warning(
                        "relay: broker %s unavailable (%s); events wait in the outbox",
                        self.address,
                        exc,
                    )
                await _sleep_or_stop(stop, backoff.next())
        self.connected.clear()


# ------------------------------------------------------------------------------------------------
# Subscribers


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    raise ValueError("event payload is not JSON")


async def subscribe(
    address: MqttAddress,
    filters: Sequence[str],
    *,
    identifier: str | None = None,
    on_subscribed: Callable[[], Awaitable[None]] | None = None,
    remember: int = 4096,
) -> AsyncIterator[Event]:
    """Typed events matching the MQTT topic `filters`, forever, across broker outages.

    Examples: `subscribe(addr, ["relais/6135550100/#"])` (a line's events, e.g. the portal's
    server-sent events), `subscribe(addr, ["relais/+/mailbox/counts"])` (MWI).
    Each event id is yielded at most once (the last `remember` ids are kept). Events published
    while this subscriber is disconnected are not replayed by the broker: a consumer that must
    not miss any passes `on_subscribed`, called after every (re)subscription, to catch up from
    the outbox (events.consumer.DurableConsumer does).
    Payloads that are not events are logged and skipped.
    """
    seen: OrderedDict[str, None] = OrderedDict()
    backoff = _Backoff()
    identifier = identifier or f"relais-sub-{uuid.uuid4().hex[:12]}"
    while True:
        client = make_client(address, identifier=identifier)
        try:
            async with connected(client):
                for topic_filter in filters:
                    await client.subscribe(topic_filter, qos=1)
                if backoff.failures:
                    logger.info("subscriber: connected again to %s", address)
                backoff.reset()
                if on_subscribed is not None:
                    await on_subscribed()
                async for message in client.messages:
                    try:
                        event = parse_event(_payload_bytes(message.payload))
                    except ValueError as exc:
                        logger.warning("ignored a message on %s: %s", message.topic, exc)
                        continue
                    if event.event_id in seen:
                        continue
                    seen[event.event_id] = None
                    if len(seen) > remember:
                        seen.popitem(last=False)
                    yield event
        except aiomqtt.MqttError as exc:
            if backoff.failures == 0:
                logger.warning("subscriber: broker %s unavailable (%s); reconnecting", address, exc)
            await asyncio.sleep(backoff.next())
