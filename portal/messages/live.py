"""Server-sent events of a line (GET /api/v1/lines/{n}/events, SPEC S7, S8): what makes new
messages appear on the Messages page without a reload.

Rules of this file:
- Two sources feed one stream, deduplicated by event id: the bus (events.mqtt.subscribe on
  relais/<line>/#) when `portal_events.bus` is on and the broker answers, and the store's
  outbox, where every producer writes its events in the same transaction as its change. The
  outbox is polled every `poll_seconds` while the bus is not connected and every
  `bus_poll_seconds` while it is, so the stream works with and without a broker.
- Each SSE event is `id: <event id>`, `event: <type>`, `data: <the event's JSON>`; a client
  that reconnects with Last-Event-ID resumes after that event (from the outbox).
- The outbox is read by id with an overlap window, because ids of concurrent transactions
  may commit out of order on PostgreSQL; the dedup set makes the overlap harmless.
- Internal commands (outdial.request, outdial.result) are not sent to browsers.
- A stream lasts at most `max_stream_seconds` (the browser reconnects by itself) and sends a
  comment every `keepalive_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from config.settings import Settings
from events.mqtt import MqttAddress, bus_address, subscribe
from store.models import OutboxEvent
from store.session import Store

logger = logging.getLogger(__name__)

HIDDEN = frozenset({"outdial.request", "outdial.result"})
OVERLAP = 500
BATCH = 200
PROBE_SECONDS = 1.0
REPROBE_SECONDS = 10.0


@dataclass(frozen=True)
class Options:
    bus: MqttAddress | None
    poll_seconds: float
    bus_poll_seconds: float
    keepalive_seconds: float
    max_stream_seconds: float

    @classmethod
    def from_settings(cls, cfg: Settings) -> Options:
        e = cfg.portal_events
        return cls(
            bus=bus_address(cfg) if e.bus else None,
            poll_seconds=e.poll_seconds,
            bus_poll_seconds=e.bus_poll_seconds,
            keepalive_seconds=e.keepalive_seconds,
            max_stream_seconds=e.max_stream_seconds,
        )


def sse(event_id: str, kind: str, payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n".encode()


def outbox_cursor(store: Store, last_event_id: str | None) -> int:
    """The outbox row id to read after: the row of `last_event_id`, else the newest row."""
    with store.read() as s:
        if last_event_id:
            row = s.scalar(select(OutboxEvent.id).where(OutboxEvent.event_id == last_event_id))
            if row is not None:
                return int(row)
        return int(s.scalar(select(func.max(OutboxEvent.id))) or 0)


def _read_outbox(store: Store, line: str, after: int) -> list[tuple[int, dict[str, Any]]]:
    with store.read() as s:
        rows = s.execute(
            select(OutboxEvent.id, OutboxEvent.payload)
            .where(OutboxEvent.id > after, OutboxEvent.topic.like(f"relais/{line}/%"))
            .order_by(OutboxEvent.id)
            .limit(BATCH)
        ).all()
    return [(int(rid), payload) for rid, payload in rows]


async def _reachable(address: MqttAddress) -> bool:
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(address.host, address.port), PROBE_SECONDS
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class LineStream:
    """One browser's stream of a line's events."""

    def __init__(self, store: Store, line: str, options: Options, after: int) -> None:
        self.store = store
        self.line = line
        self.options = options
        self.after = after
        self.queue: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue()
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.bus_connected = asyncio.Event()
        self.wake = asyncio.Event()
        self.high = after

    def _push(self, payload: dict[str, Any]) -> None:
        event_id = str(payload.get("event_id") or "")
        kind = str(payload.get("type") or "")
        if not event_id or kind in HIDDEN or payload.get("line") != self.line:
            return
        if event_id in self.seen:
            return
        self.seen[event_id] = None
        while len(self.seen) > 4096:
            self.seen.popitem(last=False)
        self.queue.put_nowait((event_id, kind, payload))

    async def _poll_once(self) -> None:
        cursor = max(self.after, self.high - OVERLAP)
        while True:
            rows = await asyncio.to_thread(_read_outbox, self.store, self.line, cursor)
            for rid, payload in rows:
                cursor = rid
                self.high = max(self.high, rid)
                self._push(payload)
            if len(rows) < BATCH:
                return

    async def poll(self) -> None:
        while True:
            try:
                await self._poll_once()
            except Exception as exc:  # the store may be busy or restarting: try again later
                logger.warning("line %s events: outbox poll failed (%s)", self.line, exc)
            interval = (
                self.options.bus_poll_seconds
                if self.bus_connected.is_set()
                else self.options.poll_seconds
            )
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), interval)

    async def bus(self) -> None:
        address = self.options.bus
        assert address is not None
        while not await _reachable(address):
            await asyncio.sleep(REPROBE_SECONDS)

        async def subscribed() -> None:
            self.bus_connected.set()
            self.wake.set()  # catch up with what was committed while subscribing

        try:
            async for event in subscribe(
                address, [f"relais/{self.line}/#"], on_subscribed=subscribed
            ):
                self._push(event.payload())
        finally:
            self.bus_connected.clear()

    async def events(self, now: Callable[[], float]) -> AsyncIterator[bytes]:
        opts = self.options
        tasks = [asyncio.create_task(self.poll(), name=f"events-poll-{self.line}")]
        if opts.bus is not None:
            tasks.append(asyncio.create_task(self.bus(), name=f"events-bus-{self.line}"))
        deadline = now() + opts.max_stream_seconds
        try:
            yield b"retry: 3000\n: connected\n\n"
            while True:
                left = deadline - now()
                if left <= 0:
                    return
                try:
                    event_id, kind, payload = await asyncio.wait_for(
                        self.queue.get(), min(opts.keepalive_seconds, left)
                    )
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                yield sse(event_id, kind, payload)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
