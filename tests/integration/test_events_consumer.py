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
from events.events import (
    SWITCH_CONSUMER,
    Event,
    MailboxCounts,
    MessageChanged,
    SettingsChanged,
    parse_event,
)
from store import repository
from store.models import EventConsumed, OutboxEvent
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


def test_an_event_its_producer_recorded_as_consumed_is_left_to_the_others(store: Store) -> None:
    seen: list[tuple[str, int]] = []

    def consumer(name: str) -> DurableConsumer:
        return DurableConsumer(
            store,
            name,
            {"message.changed": lambda s, e: seen.append((name, e.message_id))},  # type: ignore[attr-defined]
        )

    mine, other = consumer("mine"), consumer("other")
    with store.transaction() as s:
        outbox.enqueue(s, changed(1), consumed_by=("mine",))
        outbox.enqueue(s, changed(2))
    assert (mine.sweep(), other.sweep()) == (1, 2)
    assert sorted(seen) == [("mine", 2), ("other", 1), ("other", 2)]
    assert mine.handle(changed(1)) is True  # another event (new id): handled as usual


def test_the_switch_records_its_own_changes_of_counts_as_consumed_by_its_bus(store: Store) -> None:
    """Its worker sent the NOTIFYs itself: the switch's consumer has nothing to do with them,
    and neither the bus's copy nor a sweep costs it a transaction (switch.bus)."""
    with store.transaction() as s:
        repository.create_account(
            s, number=LINE, name="Sub", password="motdepasse1", pin="4826", language="fr"
        )
    with store.transaction() as s:
        repository.mailbox_changed(s, LINE, origin="switch")
        repository.mailbox_changed(s, LINE)  # the portal's
    with store.read() as s:
        consumed = s.execute(
            select(EventConsumed.consumer, OutboxEvent.payload).join(
                OutboxEvent, OutboxEvent.event_id == EventConsumed.event_id
            )
        ).all()
    [(name, payload)] = consumed
    event = parse_event(payload)
    assert name == SWITCH_CONSUMER
    assert isinstance(event, MailboxCounts) and event.origin == "switch"


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
