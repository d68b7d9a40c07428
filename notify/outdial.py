"""Outdial calls and numeric pages: the notifier's side of the outdial contract.

The switch performs the calls; the notifier decides them. The contract (also written out in
docs/architecture.md, "Outdial contract"):
- For each attempt of a `page` or `outdial` job the notifier writes, in the transaction that
  marks the job "sending", an OutdialRequest event (topic relais/<line>/outdial/request,
  QoS 1 through the outbox) with job_id, attempt, number (normalised, dial-plan checked),
  mode (notify | page), message_id, language, dtmf, ring_seconds and expires_at.
- A switch worker calls the number and answers with an OutdialResult event (topic
  relais/<line>/outdial/result) carrying the same job_id and attempt and a result: answered,
  no-answer, busy or failed (+ logged_in when the callee logged in to the mailbox).
- A result for another attempt, for a settled job, or after expires_at is ignored; no result
  by expires_at counts as a failed attempt ("timeout").
- Attempts stop when the message is heard or leaves the inbox, when the mailbox is accessed
  (stop_on_access), when answered (stop_on_answer), when the settings that created the job are
  turned off or changed, or after max_attempts; retries wait retry_minutes and the schedule.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from config.settings import DialPlanSettings
from events.events import MailboxAccessed, OutdialRequest, OutdialResult
from events.outbox import enqueue
from notify import queue
from notify.rules import CALL_KINDS, FAX, OUTDIAL, PAGE, Next, after_call
from routing.model import DialPlan
from routing.numbers import check_destination, for_account, normalize
from store.models import (
    Account,
    Line,
    Message,
    NotificationJob,
    NotificationSettings,
    OutboxEvent,
)

logger = logging.getLogger(__name__)


def dial_plan(cfg: DialPlanSettings) -> DialPlan:
    return DialPlan(
        allow_international=cfg.allow_international,
        allow_nanp_abroad=cfg.allow_nanp_abroad,
        extension_digits=tuple(cfg.extension_digits),
        blocked_area_codes=frozenset(cfg.blocked_area_codes),
        blocked_exchanges=frozenset(cfg.blocked_exchanges),
    )


def checked_number(number: str, plan: DialPlan, allow_international: bool) -> str:
    """The normalised destination, or ValueError("<number>: <reason>") (toll-fraud check)."""
    normalised = normalize(number)
    check_destination(normalised, plan, allow_international)
    return normalised


def _primary_settings(session: Session, line: str) -> tuple[Account, NotificationSettings | None]:
    row = session.get(Line, line)
    assert row is not None
    account = row.account
    primary = next((ln for ln in account.lines if ln.is_primary), row)
    return account, session.get(NotificationSettings, primary.number)


def _still_wanted(job: NotificationJob, ns: NotificationSettings | None, now: datetime) -> str:
    """'' when the settings that created `job` still ask for it, else why not."""
    source = job.data.get("source")
    if ns is None:
        return "the notification settings are gone"
    if source == "outdial":
        if not ns.outdial_enabled or ns.outdial_number != job.target:
            return "outdial notifications were turned off or changed"
    elif source == "override":
        ended = ns.override_end_date is not None and now >= ns.override_end_date
        if not ns.override_enabled or ended or ns.override_number != job.target:
            return "the notification override ended or changed"
    elif source == "pager" and (not ns.pager_enabled or ns.pager_number != job.target):
        return "pager notifications were turned off or changed"
    return ""


def accessed_since(session: Session, line: str, since: datetime) -> bool:
    """Whether the mailbox of `line` was accessed after `since` (from the event log)."""
    topic = MailboxAccessed.topic_fmt.format(line=line)
    return bool(
        session.scalar(
            select(exists().where(OutboxEvent.topic == topic, OutboxEvent.created_at > since))
        )
    )


def request(
    session: Session,
    job: NotificationJob,
    *,
    now: datetime,
    plan: DialPlan,
    ring_seconds: int,
    result_timeout: int,
) -> str:
    """Ask the switch for this attempt of a claimed page/outdial job (in the caller's
    transaction). Returns '' when requested, else why the job was settled instead."""
    assert job.kind in CALL_KINDS and job.state == "sending"
    message = session.get(Message, job.message_id) if job.message_id is not None else None
    reason = ""
    if job.kind == FAX:
        pass  # a fax forward sends its prepared document, whatever became of the message
    elif message is None:
        reason = "the message was deleted"
    elif message.heard:
        reason = "the message was heard"
    elif message.folder != "inbox":
        reason = "the message was deleted"
    elif job.data.get("stop_on_access", True) and accessed_since(
        session, job.line_number, message.received_at
    ):
        reason = "the mailbox was accessed"
    account, ns = _primary_settings(session, job.line_number)
    reason = reason or _still_wanted(job, ns, now)
    if reason:
        queue.settle(session, job, "cancelled", now=now, error=reason)
        return reason
    try:
        number = checked_number(
            job.target, for_account(plan, account.allow_nanp_abroad), account.allow_international
        )
    except ValueError as exc:
        error = f"refused by the dial plan: {exc}"
        queue.settle(session, job, "failed", now=now, error=error)
        logger.warning("job %s (%s): %s", job.id, job.kind, error)
        return error
    expires = now + timedelta(seconds=result_timeout)
    job.data = {
        **job.data,
        "attempt": job.attempts,
        "requested_at": now.isoformat(),
        "expires_at": expires.isoformat(),
    }
    enqueue(
        session,
        OutdialRequest(
            line=job.line_number,
            job_id=job.id,
            attempt=job.attempts,
            number=number,
            mode={PAGE: "page", FAX: "fax"}.get(job.kind, "notify"),
            message_id=job.message_id,
            language=str(job.data.get("language", account.language)),
            dtmf=str(job.data.get("dtmf", "")),
            ring_seconds=ring_seconds,
            expires_at=expires.isoformat(),
        ),
    )
    return ""


def _history(job: NotificationJob, entry: dict[str, Any]) -> None:
    results = [*job.data.get("results", []), entry][-20:]
    job.data = {**job.data, "results": results}


def on_result(session: Session, event: OutdialResult, now: datetime) -> bool:
    """Settle the attempt `event` reports; False when it is stale or unknown."""
    job = session.get(NotificationJob, event.job_id)
    if (
        job is None
        or job.kind not in CALL_KINDS
        or job.state != "sending"
        or job.attempts != event.attempt
        or job.line_number != event.line
    ):
        logger.info(
            "outdial result for job %s attempt %s ignored (stale or unknown)",
            event.job_id,
            event.attempt,
        )
        return False
    expires = job.data.get("expires_at")
    if expires and event.at > datetime.fromisoformat(expires):
        logger.info(
            "outdial result for job %s attempt %s came after it expired",
            event.job_id,
            event.attempt,
        )
        return False
    entry: dict[str, Any] = {
        "attempt": event.attempt,
        "result": event.result,
        "at": event.at.isoformat(),
    }
    if job.kind == FAX:
        entry |= {"pages": event.pages, "detail": event.detail}
    _history(job, entry)
    if job.kind == FAX:
        nxt = after_call(event.result, job.attempts, job.data, now)
        if nxt.state == "done" and event.result != "answered":
            nxt = Next("failed", note=nxt.note)  # a fax that never went through failed
        note = event.detail if event.result == "answered" else nxt.note
        if event.result != "answered" and event.detail:
            note = f"{event.detail}; {note}"
        if event.result == "answered":
            job.data = {**job.data, "pages_sent": event.pages}
        queue.settle(session, job, nxt.state, now=now, at=nxt.at, error=note)
        return True
    if event.logged_in and job.data.get("stop_on_access", True):
        queue.settle(session, job, "done", now=now, error="the callee logged in")
        return True
    nxt = after_call(event.result, job.attempts, job.data, now)
    queue.settle(session, job, nxt.state, now=now, at=nxt.at, error=nxt.note)
    return True


def _waiting(session: Session) -> list[NotificationJob]:
    """Call jobs whose current attempt was requested and has no result yet."""
    return [
        job
        for job in session.scalars(
            select(NotificationJob).where(
                NotificationJob.state == "sending", NotificationJob.kind.in_(CALL_KINDS)
            )
        )
        if job.data.get("attempt") == job.attempts and job.data.get("expires_at")
    ]


def next_expiry(session: Session) -> datetime | None:
    """When the first requested call attempt runs out of time, if any is waiting."""
    times = [datetime.fromisoformat(j.data["expires_at"]) for j in _waiting(session)]
    return min(times) if times else None


def expire(session: Session, now: datetime) -> list[int]:
    """Attempts whose result did not come in time count as failed; returns the job ids."""
    expired = []
    for job in _waiting(session):  # claimed but not yet requested jobs have no expiry yet
        if datetime.fromisoformat(job.data["expires_at"]) > now:
            continue
        _history(job, {"attempt": job.attempts, "result": "timeout", "at": now.isoformat()})
        nxt = after_call("timeout", job.attempts, job.data, now)
        queue.settle(
            session,
            job,
            nxt.state,
            now=now,
            at=nxt.at,
            error=f"no result from the switch ({nxt.note})",
        )
        expired.append(job.id)
    return expired


def on_access(session: Session, event: MailboxAccessed, now: datetime) -> int:
    """The mailbox was accessed: stop the calls set to stop on mailbox access."""
    jobs = [
        j
        for j in queue.active_alerts(session, line=event.line)
        if j.kind in (OUTDIAL, PAGE)
        and j.data.get("stop_on_access", True)
        and j.created_at <= event.at
    ]
    return queue.cancel(session, jobs, f"the mailbox was accessed ({event.via})", now)
