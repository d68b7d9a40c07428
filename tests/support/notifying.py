"""Running the bus relay and the notifier inside a test's event loop, and waiting for things."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from events.mqtt import MqttAddress, Relay
from notify.email import Mailer
from notify.notifier import Notifier, NotifierOptions
from store.files import FileStore
from store.models import NotificationJob
from store.session import Store


class Clock:
    """A clock the test moves forward (starts at the real time)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


@contextlib.asynccontextmanager
async def relay(store: Store, address: MqttAddress) -> AsyncIterator[Relay]:
    r = Relay(store, address, poll_seconds=0.02)
    stop = asyncio.Event()
    task = asyncio.create_task(r.run(stop))
    try:
        yield r
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def notifier(
    store: Store,
    files: FileStore,
    mailer: Mailer,
    *,
    bus: MqttAddress | None = None,
    clock: Callable[[], datetime] | None = None,
    **options: Any,
) -> AsyncIterator[Notifier]:
    defaults: dict[str, Any] = dict(
        sender="relais <voicemail@relais.test>",
        poll_seconds=0.05,
        # With a bus, new events must arrive through it: the periodic sweep is slow.
        sweep_seconds=60.0 if bus is not None else 0.1,
        retry_base_seconds=1,
        retry_max_seconds=2,
        ring_seconds=20,
        result_timeout_seconds=60,
    )
    defaults.update(options)
    n = Notifier(
        store,
        files,
        mailer,
        NotifierOptions(**defaults),
        bus=bus,
        clock=clock or (lambda: datetime.now(UTC)),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(n.run(stop))
    try:
        yield n
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def jobs(store: Store, **where: Any) -> list[NotificationJob]:
    with store.read() as s:
        query = select(NotificationJob).order_by(NotificationJob.id)
        for key, value in where.items():
            query = query.where(getattr(NotificationJob, key) == value)
        return list(s.scalars(query))
