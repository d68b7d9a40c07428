"""The notification queue: notification_job rows, claimed and settled in short transactions.

Rules of this file:
- A job is created once: unique (event_id, kind, target); `add_jobs` skips existing ones.
- Claiming is compare-and-set (pending -> sending, attempts + 1), so two runners never send
  the same job; settling writes done / pending (retry at) / failed / cancelled.
- Nothing is ever deleted: failed jobs stay visible to `relais status` and to operators.
- A mail job found in "sending" at start-up was interrupted (the process died while sending):
  `recover_interrupted` makes it pending again. Page/outdial jobs in "sending" are waiting
  for the switch's result and are left alone (their result or their timeout settles them).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from notify.rules import ALERT_KINDS, CALL_KINDS, JobSpec
from store.models import NotificationJob

ACTIVE = ("pending", "sending")


def add_jobs(
    session: Session,
    *,
    event_id: str,
    line: str,
    message_id: int | None,
    specs: Iterable[JobSpec],
    common: dict[str, Any] | None = None,
) -> list[NotificationJob]:
    added = []
    for spec in specs:
        exists = session.scalar(
            select(NotificationJob.id).where(
                NotificationJob.event_id == event_id,
                NotificationJob.kind == spec.kind,
                NotificationJob.target == spec.target,
            )
        )
        if exists is not None:
            continue
        job = NotificationJob(
            event_id=event_id,
            kind=spec.kind,
            line_number=line,
            message_id=message_id,
            target=spec.target,
            state="pending",
            attempts=0,
            next_attempt_at=spec.due_at,
            data={**(common or {}), **spec.data},
        )
        session.add(job)
        added.append(job)
    session.flush()
    return added


def claim_due(session: Session, now: datetime, limit: int) -> list[NotificationJob]:
    """Take up to `limit` due pending jobs (oldest due first) for this runner."""
    candidates = session.scalars(
        select(NotificationJob.id)
        .where(NotificationJob.state == "pending", NotificationJob.next_attempt_at <= now)
        .order_by(NotificationJob.next_attempt_at, NotificationJob.id)
        .limit(limit)
    ).all()
    claimed = []
    for job_id in candidates:
        result = session.execute(
            update(NotificationJob)
            .where(NotificationJob.id == job_id, NotificationJob.state == "pending")
            .values(state="sending", attempts=NotificationJob.attempts + 1, updated_at=now)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(job_id)
    if not claimed:
        return []
    return list(
        session.scalars(
            select(NotificationJob)
            .where(NotificationJob.id.in_(claimed))
            .order_by(NotificationJob.next_attempt_at, NotificationJob.id)
            .execution_options(populate_existing=True)
        )
    )


def next_due(session: Session) -> datetime | None:
    return session.scalar(
        select(func.min(NotificationJob.next_attempt_at)).where(NotificationJob.state == "pending")
    )


def settle(
    session: Session,
    job: NotificationJob,
    state: str,
    *,
    now: datetime,
    at: datetime | None = None,
    error: str = "",
) -> None:
    job.state = state
    job.updated_at = now
    if at is not None:
        job.next_attempt_at = at
    if error or state in ("failed", "cancelled"):
        job.last_error = error[:2000]


def cancel(session: Session, jobs: Sequence[NotificationJob], reason: str, now: datetime) -> int:
    for job in jobs:
        settle(session, job, "cancelled", now=now, error=reason)
    return len(jobs)


def active_alerts(
    session: Session, *, message_id: int | None = None, line: str | None = None
) -> list[NotificationJob]:
    """Pager, page and outdial jobs not settled yet, of a message or of a line."""
    query = select(NotificationJob).where(
        NotificationJob.state.in_(ACTIVE), NotificationJob.kind.in_(ALERT_KINDS)
    )
    if message_id is not None:
        query = query.where(NotificationJob.message_id == message_id)
    if line is not None:
        query = query.where(NotificationJob.line_number == line)
    return list(session.scalars(query))


def orphans(session: Session, in_flight: Collection[int] = ()) -> list[NotificationJob]:
    """Jobs in "sending" that nobody is working on: mail jobs, and call jobs claimed but not
    requested yet (a requested call waits for the switch's result), except `in_flight`."""
    rows = session.scalars(select(NotificationJob).where(NotificationJob.state == "sending")).all()
    return [
        j
        for j in rows
        if j.id not in in_flight
        and (j.kind not in CALL_KINDS or j.data.get("attempt") != j.attempts)
    ]


def recover_interrupted(session: Session, now: datetime, in_flight: Collection[int] = ()) -> int:
    """Make orphaned jobs pending again, due now; a call job gets its claimed attempt back
    (it was never requested). At start-up every "sending" mail job is an orphan: the process
    that claimed it died (one notifier per installation)."""
    found = orphans(session, in_flight)
    for job in found:
        if job.kind in CALL_KINDS:
            job.attempts -= 1
        settle(session, job, "pending", now=now, at=now)
    return len(found)


def summary(session: Session) -> dict[str, dict[str, int]]:
    """{kind: {state: count}} for pending, sending and failed jobs (`relais status`)."""
    rows = session.execute(
        select(NotificationJob.kind, NotificationJob.state, func.count())
        .where(NotificationJob.state.in_(("pending", "sending", "failed")))
        .group_by(NotificationJob.kind, NotificationJob.state)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for kind, state, count in rows:
        out.setdefault(kind, {})[state] = int(count)
    return out
