"""The transactional outbox: events are written in the same transaction as their cause."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from events.events import Event
from store.models import OutboxEvent


def enqueue(session: Session, event: Event) -> OutboxEvent:
    """Add `event` to the outbox inside the caller's transaction (no commit here)."""
    row = OutboxEvent(
        event_id=event.event_id, topic=event.topic, payload=event.payload(), created_at=event.at
    )
    session.add(row)
    return row


def backlog(session: Session) -> int:
    """Events not yet published."""
    return (
        session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.sent_at.is_(None))
        )
        or 0
    )
