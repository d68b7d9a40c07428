"""The transactional outbox: events are written in the same transaction as their cause.

Rules of this file:
- `enqueue` never commits: the event becomes visible exactly when the caller's change does.
- The relay (events.mqtt.Relay) reads `pending`, publishes, then calls `mark_sent`; a crash in
  between publishes again, so consumers deduplicate by `event_id`.
- Sent rows are kept for `outbox_retention_hours` (durable consumers catch up from them) and
  then removed by `purge_sent`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from events.events import Event
from store.models import EventConsumed, OutboxEvent
from store.session import core

_OUTBOX: Final = cast(Table, OutboxEvent.__table__)
_INSERT: Final = insert(_OUTBOX)
_CONSUMED: Final = insert(cast(Table, EventConsumed.__table__))


def enqueue(session: Session, event: Event, *, consumed_by: Iterable[str] = ()) -> None:
    """Add `event` to the outbox inside the caller's transaction (no commit here).

    A Core insert, run at once (after the session's pending changes are flushed, so the order
    of rows is the order of the changes): the ORM's unit of work costs several times more.

    `consumed_by`: durable consumers (events.consumer) recorded, in the same transaction, as
    having handled the event already: its producer did what they would do with it."""
    conn = core(session)
    conn.execute(
        _INSERT,
        {
            "event_id": event.event_id,
            "topic": event.topic,
            "payload": event.payload(),
            "created_at": event.at,
            "attempts": 0,
        },
    )
    rows = [
        {"consumer": name, "event_id": event.event_id, "consumed_at": event.at}
        for name in consumed_by
    ]
    if rows:
        conn.execute(_CONSUMED, rows)


def backlog(session: Session) -> int:
    """Events not yet published."""
    return (
        session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None))
        )
        or 0
    )


def pending(session: Session, limit: int) -> list[OutboxEvent]:
    """The oldest events not yet published, in the order they were written."""
    return list(
        session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.sent_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
    )


def mark_sent(session: Session, ids: Sequence[int], at: datetime) -> None:
    """Record that the broker acknowledged the events with these row ids."""
    if ids:
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.sent_at.is_(None))
            .values(sent_at=at)
        )


def count_failed_attempt(session: Session, ids: Sequence[int]) -> None:
    """Count one more publication attempt of these rows (shown by `relais status`)."""
    if ids:
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(list(ids)))
            .values(attempts=OutboxEvent.attempts + 1)
        )


def purge_sent(session: Session, before: datetime) -> int:
    """Remove events published before `before`; returns how many were removed."""
    result = session.execute(
        delete(OutboxEvent).where(OutboxEvent.sent_at.is_not(None), OutboxEvent.sent_at < before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
