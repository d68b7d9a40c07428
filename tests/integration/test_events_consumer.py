"""Durable consumers: each event once, from the bus or from the outbox, retried on failure."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events import outbox
from events.consumer import DurableConsumer, topic_filter
from events.events import Event, MessageChanged, SettingsChanged
from store.models import EventConsumed
from store.session import Store
from tests.support.text import exact

LINE = "6135550100"


def changed(i: int) -> MessageChanged:
    return MessageChanged(line=LINE, message_id=i, change="heard", folder="inbox", heard=True)


def test_rejects_unknown_event_types_and_bad_names(sqlite_store: Store) -> None:
    with pytest.raises(ValueError, match=exact("unknown event type(s): no.such")):
        DurableConsumer(sqlite_store, "x", {"no.such": lambda s, e: None})
    with pytest.raises(ValueError, match=exact("a consumer name has 1 to 32 characters")):
        DurableConsumer(sqlite_store, "x" * 33, {})
    assert topic_filter("mailbox.counts") == "relais/+/mailbox/counts"


def test_handles_each_event_once_and_only_its_types(store: Store) -> None:
    seen: list[int] = []
    consumer = DurableConsumer(
        store,
        "t",
        {"message.changed": lambda s, e: seen.append(e.message_id)},  # type: ignore[attr-defined]
    )
    event = changed(1)
    assert consumer.handle(event) is True
    assert consumer.handle(event) is False  # a redelivery
    assert consumer.handle(SettingsChanged(line=LINE, section="call")) is False
    with store.transaction() as s:
        outbox.enqueue(s, event)  # also in the outbox: the sweep does not handle it again
        outbox.enqueue(s, changed(2))
        outbox.enqueue(s, SettingsChanged(line=LINE, section="call"))
    assert consumer.sweep() == 1
    assert consumer.sweep() == 0
    assert seen == [1, 2]


def test_a_failing_handler_leaves_the_event_for_the_next_sweep(store: Store) -> None:
    calls: list[int] = []

    def flaky(s: Session, e: Event) -> None:
        calls.append(1)
        s.add(EventConsumed(consumer="side-effect", event_id=e.event_id))
        if len(calls) == 1:
            raise RuntimeError("temporary")

    consumer = DurableConsumer(store, "t", {"message.changed": flaky})
    with store.transaction() as s:
        outbox.enqueue(s, changed(1))
    assert consumer.sweep() == 0  # failed: rolled back, including its side effect
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(EventConsumed)) == 0
    assert consumer.sweep() == 1
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(EventConsumed)) == 2


def test_recent_sweeps_look_back_ten_minutes_full_sweeps_the_retention(store: Store) -> None:
    seen: list[int] = []
    consumer = DurableConsumer(
        store,
        "t",
        {"message.changed": lambda s, e: seen.append(e.message_id)},  # type: ignore[attr-defined]
        retention=timedelta(days=2),
    )
    old = MessageChanged(
        line=LINE,
        message_id=9,
        change="heard",
        folder="inbox",
        heard=True,
        at=datetime.now(UTC) - timedelta(hours=3),
    )
    with store.transaction() as s:
        outbox.enqueue(s, old)
    assert consumer.sweep() == 0
    assert consumer.sweep(full=True) == 1
    assert seen == [9]
    assert consumer.purge(now=datetime.now(UTC) + timedelta(days=3)) == 1


async def test_works_without_a_broker_by_sweeping_the_outbox(sqlite_store: Store) -> None:
    seen: list[int] = []
    consumer = DurableConsumer(
        sqlite_store,
        "t",
        {"message.changed": lambda s, e: seen.append(e.message_id)},  # type: ignore[attr-defined]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(None, stop, sweep_seconds=0.05))
    with sqlite_store.transaction() as s:
        outbox.enqueue(s, changed(3))
    for _ in range(200):
        if seen:
            break
        await asyncio.sleep(0.02)
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert seen == [3]
