"""Durable, idempotent event consumers: the bus for speed, the outbox for completeness.

Rules of this file:
- A consumer handles each event id once: its handler runs in one transaction with the row
  that records (consumer, event_id) in `event_consumed`; a duplicate (QoS 1 redelivery, a
  republished event, the bus and a sweep racing) finds that row and is skipped.
- Events arrive from the bus at once; besides, `sweep` reads the outbox for events of the
  handled types that this consumer has not recorded yet. Sweeps run after every
  (re)subscription (nothing published while disconnected is missed) and periodically, so the
  consumer works, only later, even while the broker is down. At start the subscription's
  sweep is the catch-up; the periodic sweeper makes it only when the bus is not up within
  one period.
- A handler that raises leaves its event unrecorded: the next sweep tries it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from events.events import EVENT_TYPES, Event, parse_event
from events.mqtt import MqttAddress, subscribe
from store.models import EventConsumed, OutboxEvent
from store.session import Store

logger = logging.getLogger(__name__)

Handler = Callable[[Session, Event], None]

RECENT = timedelta(minutes=10)
"""How far back the frequent sweeps look; full sweeps cover the whole retention period."""


def topic_filter(event_type: str) -> str:
    """The MQTT filter of an event type on every line: relais/+/message/deposited."""
    return EVENT_TYPES[event_type].topic_fmt.format(line="+")


class DurableConsumer:
    def __init__(
        self,
        store: Store,
        name: str,
        handlers: Mapping[str, Handler],
        *,
        retention: timedelta = timedelta(hours=168),
        after_commit: Callable[[Event], None] | None = None,
        made_consumed: Callable[[Event], bool] | None = None,
    ) -> None:
        unknown = set(handlers) - set(EVENT_TYPES)
        if unknown:
            raise ValueError(f"unknown event type(s): {', '.join(sorted(unknown))}")
        if not 1 <= len(name) <= 32:
            raise ValueError("a consumer name has 1 to 32 characters")
        self.store = store
        self.name = name
        self.handlers = dict(handlers)
        self.retention = retention
        self.after_commit = after_commit
        self.made_consumed = made_consumed
        """Events written already recorded as consumed by this consumer (events.outbox.enqueue's
        `consumed_by`): the bus's copy is passed over without a transaction."""
        self.handled = 0
        self.handled_from_bus = 0
        self.subscribed = asyncio.Event()
        """Set once the bus subscription is up (and caught up from the outbox)."""

    @property
    def filters(self) -> list[str]:
        return [topic_filter(t) for t in sorted(self.handlers)]

    def handle(self, event: Event) -> bool:
        """Run the handler of `event` once; False when it was handled before or is not ours."""
        handler = self.handlers.get(event.type)
        if handler is None:
            return False
        try:
            with self.store.transaction() as s:
                if s.get(EventConsumed, (self.name, event.event_id)) is not None:
                    return False
                handler(s, event)
                s.add(EventConsumed(consumer=self.name, event_id=event.event_id))
        except IntegrityError:
            # Another path (bus vs sweep) recorded the same event first.
            return False
        self.handled += 1
        if self.after_commit is not None:
            self.after_commit(event)
        return True

    def _unconsumed(self, since: datetime, limit: int) -> list[Event]:
        suffixes = [EVENT_TYPES[t].topic_fmt.format(line="%") for t in self.handlers]
        done = exists().where(
            EventConsumed.consumer == self.name, EventConsumed.event_id == OutboxEvent.event_id
        )
        with self.store.read() as s:
            rows = s.execute(
                select(OutboxEvent.event_id, OutboxEvent.payload)
                .where(
                    OutboxEvent.created_at >= since,
                    or_(*(OutboxEvent.topic.like(p) for p in suffixes)),
                    ~done,
                )
                .order_by(OutboxEvent.id)
                .limit(limit)
            ).all()
        events = []
        for event_id, payload in rows:
            try:
                events.append(parse_event(payload))
            except ValueError as exc:
                logger.warning("%s: outbox event %s is unreadable: %s", self.name, event_id, exc)
        return events

    def sweep(self, *, full: bool = False, now: datetime | None = None, limit: int = 500) -> int:
        """Handle the events of the outbox this consumer has not recorded; returns how many."""
        now = now or datetime.now(UTC)
        since = now - (self.retention if full else RECENT)
        count = 0
        while True:
            batch = self._unconsumed(since, limit)
            progress = 0
            for event in batch:
                try:
                    if self.handle(event):
                        progress += 1
                except Exception:
                    logger.exception(
                        "%s: handling %s %s failed; will retry",
                        self.name,
                        event.type,
                        event.event_id,
                    )
            count += progress
            if len(batch) < limit or progress == 0:
                return count

    def purge(self, now: datetime | None = None) -> int:
        """Forget ledger rows older than the outbox retention."""
        before = (now or datetime.now(UTC)) - self.retention
        with self.store.transaction() as s:
            result = s.execute(
                delete(EventConsumed).where(
                    EventConsumed.consumer == self.name, EventConsumed.consumed_at < before
                )
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def run(
        self,
        address: MqttAddress | None,
        stop: asyncio.Event,
        *,
        sweep_seconds: float = 10.0,
        full_sweep_seconds: float = 3600.0,
    ) -> None:
        """Consume from the bus (when `address` is given) and sweep the outbox until `stop`."""
        bus = address is not None
        tasks = [asyncio.create_task(self._sweeper(stop, sweep_seconds, full_sweep_seconds, bus))]
        if address is not None:
            tasks.append(asyncio.create_task(self._listen(address)))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    async def _listen(self, address: MqttAddress) -> None:
        async def caught_up() -> None:
            await asyncio.to_thread(self.sweep, full=True)
            self.subscribed.set()

        async for event in subscribe(
            address,
            self.filters,
            # One client id per process: the same consumer runs on every switch host, and a
            # broker drops the older of two connections with one id (catch-up is the outbox's).
            identifier=f"relais-{self.name}-{uuid.uuid4().hex[:12]}",
            on_subscribed=caught_up,
        ):
            if self.made_consumed is not None and self.made_consumed(event):
                continue
            try:
                if await asyncio.to_thread(self.handle, event):
                    self.handled_from_bus += 1
            except Exception:
                logger.exception(
                    "%s: handling %s %s failed; the next sweep retries it",
                    self.name,
                    event.type,
                    event.event_id,
                )

    async def _sweeper(
        self, stop: asyncio.Event, every: float, full_every: float, bus: bool
    ) -> None:
        """Sweep every `every` seconds, the whole retention every `full_every`. The catch-up at
        start is one full sweep: the bus subscription's (`_listen`) when it is up within a sweep
        period, this one's otherwise. Both at once looked at the events written meanwhile twice
        (the second look a transaction that finds the first's record)."""
        loop = asyncio.get_running_loop()
        last_full = loop.time()
        if bus:
            await _first_of(self.subscribed, stop, timeout=every)
        due = not self.subscribed.is_set()  # the catch-up is this sweeper's
        while not stop.is_set():
            if not due:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every)
                if stop.is_set():
                    return
            full = due or loop.time() - last_full >= full_every
            due = False
            try:
                await asyncio.to_thread(self.sweep, full=full)
                if full:
                    last_full = loop.time()
                    await asyncio.to_thread(self.purge)
            except Exception:
                logger.exception("%s: outbox sweep failed; trying again later", self.name)


async def _first_of(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of `events` is set, `timeout` seconds at most."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
