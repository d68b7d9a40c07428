"""The notifier service (`relais notifier`): events in, e-mails and call requests out.

Rules of this file:
- Events come through a DurableConsumer ("notifier"): each event is handled once, in one
  transaction with the jobs it creates, from the bus at once or from the outbox later.
- message.deposited plans the jobs (notify.rules.plan) from the PRIMARY line's notification
  settings and the mailbox's own forwarding settings; message.changed (heard, deleted) and
  mailbox.accessed cancel pager/page/outdial jobs; outdial.result settles call attempts.
- The runner claims due jobs (notify.queue), sends mails outside any transaction, then
  settles them: done, retry with back-off, or failed (kept). A forward with "keep original"
  off moves the message to Deleted in the transaction that records the SMTP acceptance.
- Everything that touches the outside world is passed in (store, files, mailer, bus address,
  clock), so tests run it against real servers and drive its clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.settings import Settings
from events.consumer import DurableConsumer
from events.events import (
    MailboxAccessed,
    MessageChanged,
    MessageDeposited,
    OutdialResult,
)
from events.mqtt import MqttAddress, bus_address
from events.outbox import enqueue
from notify import outdial, queue
from notify.email import (
    MAX_RECIPIENTS,
    Attachment,
    Envelope,
    Mailer,
    MailError,
    MessageInfo,
    attachment_name,
    check_address,
    domain_of,
    forward_mail,
    make_mailer,
    notification_mail,
    pager_mail,
)
from notify.rules import (
    CALL_KINDS,
    EMAIL,
    FORWARD,
    MAIL,
    PAGER,
    CallOut,
    MessageFacts,
    Pager,
    Prefs,
    plan,
    retry_delay,
)
from notify.schedule import ALWAYS, Schedule, parse_schedule
from routing.model import DialPlan
from store import repository
from store.files import FileStore
from store.models import (
    Line,
    Mailbox,
    Message,
    NotificationJob,
    NotificationSettings,
    NotificationTarget,
)
from store.session import Store

logger = logging.getLogger(__name__)

CONSUMER = "notifier"
ORPHAN_CHECK_SECONDS = 60.0
CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".pdf": "application/pdf",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NotifierOptions:
    sender: str = "relais <voicemail@relais.local>"
    pilot: str = "*98"
    poll_seconds: float = 1.0
    sweep_seconds: float = 10.0
    concurrency: int = 4
    retry_base_seconds: int = 30
    retry_max_seconds: int = 3600
    max_attempts: int = 48
    ring_seconds: int = 30
    result_timeout_seconds: int = 180
    retention: timedelta = timedelta(hours=168)
    dial_plan: DialPlan = field(default_factory=DialPlan)

    @classmethod
    def from_settings(cls, cfg: Settings) -> NotifierOptions:
        n = cfg.notify
        return cls(
            sender=cfg.smtp_from,
            pilot=cfg.access_number or cfg.pilot_number,
            poll_seconds=n.poll_seconds,
            sweep_seconds=n.sweep_seconds,
            concurrency=n.concurrency,
            retry_base_seconds=n.retry_base_seconds,
            retry_max_seconds=n.retry_max_seconds,
            max_attempts=n.max_attempts,
            ring_seconds=n.outdial_ring_seconds,
            result_timeout_seconds=n.outdial_result_timeout_seconds,
            retention=timedelta(hours=cfg.bus.outbox_retention_hours),
            dial_plan=outdial.dial_plan(cfg.dialplan),
        )


# ------------------------------------------------------------------------------------------------
# Settings -> Prefs


def _schedule(raw: Any, line: str, what: str) -> Schedule:
    try:
        return parse_schedule(raw)
    except ValueError as exc:
        # The portal validates schedules; a bad stored one must not lose notifications.
        logger.warning("line %s: %s schedule ignored (%s); notifying at any time", line, what, exc)
        return ALWAYS


def primary_line(session: Session, number: str) -> Line:
    line = repository.get_line(session, number)
    return next((ln for ln in line.account.lines if ln.is_primary), line)


def load_prefs(session: Session, number: str) -> Prefs:
    """The notification preferences that apply to a message deposited on line `number`."""
    line = repository.get_line(session, number)
    account = line.account
    primary = primary_line(session, number)
    ns = session.get(NotificationSettings, primary.number) or NotificationSettings(
        line_number=primary.number
    )
    mailbox = session.get(Mailbox, number)
    targets = session.scalars(
        select(NotificationTarget)
        .where(
            NotificationTarget.line_number == primary.number, NotificationTarget.channel == "email"
        )
        .order_by(NotificationTarget.id)
    ).all()
    p = primary.number

    def call_out(prefix: str) -> CallOut:
        return CallOut(
            number=getattr(ns, f"{prefix}_number") or "",
            types=frozenset(getattr(ns, f"{prefix}_types") or ()),
            schedule=_schedule(getattr(ns, f"{prefix}_schedule"), p, prefix),
            delay_normal_minutes=getattr(ns, f"{prefix}_delay_normal_minutes") or 0,
            delay_urgent_minutes=getattr(ns, f"{prefix}_delay_urgent_minutes") or 0,
            max_attempts=max(1, getattr(ns, f"{prefix}_max_attempts") or 1),
            retry_minutes=max(0, getattr(ns, f"{prefix}_retry_minutes") or 0),
            stop_on_answer=bool(getattr(ns, f"{prefix}_stop_on_answer")),
            stop_on_access=bool(getattr(ns, f"{prefix}_stop_on_access")),
        )

    return Prefs(
        timezone=account.timezone,
        language=account.language,
        email_enabled=bool(ns.email_enabled),
        email_targets=tuple((t.address, frozenset(t.types or ())) for t in targets),
        forward_to_email=bool(mailbox and mailbox.forward_to_email),
        forward_emails=tuple(mailbox.forward_emails or ()) if mailbox else (),
        keep_original=bool(mailbox.keep_original) if mailbox else True,
        pager_enabled=bool(ns.pager_enabled),
        pager=Pager(
            address=ns.pager_address or "",
            number=ns.pager_number or "",
            callback_number=ns.pager_callback_number or "",
            types=frozenset(ns.pager_types or ()),
            schedule=_schedule(ns.pager_schedule, p, "pager"),
        ),
        outdial_enabled=bool(ns.outdial_enabled),
        outdial=call_out("outdial"),
        override_enabled=bool(ns.override_enabled),
        override_end=ns.override_end_date,
        override=call_out("override"),
    )


def _info(message: Message) -> dict[str, Any]:
    return {
        "line": message.line_number,
        "kind": message.kind,
        "urgent": message.urgent,
        "private": message.private,
        "caller_number": message.caller_number,
        "caller_name": message.caller_name,
        "received_at": message.received_at.isoformat(),
        "duration_seconds": message.duration_seconds,
        "pages": message.pages,
    }


def _info_from_event(e: MessageDeposited) -> dict[str, Any]:
    return {
        "line": e.line,
        "kind": e.kind,
        "urgent": e.urgent,
        "private": e.private,
        "caller_number": e.caller_number,
        "caller_name": e.caller_name,
        "received_at": e.received_at,
        "duration_seconds": e.duration_seconds,
        "pages": e.pages,
    }


def message_info(data: dict[str, Any]) -> MessageInfo:
    return MessageInfo(
        line=data["line"],
        kind=data["kind"],
        urgent=bool(data["urgent"]),
        private=bool(data["private"]),
        caller_number=data.get("caller_number"),
        caller_name=data.get("caller_name"),
        received_at=datetime.fromisoformat(data["received_at"]),
        duration_seconds=float(data.get("duration_seconds") or 0),
        pages=int(data.get("pages") or 0),
    )


def message_attachment(files: FileStore, message: Message, timezone: str) -> Attachment:
    """The WAV of a voice message, the PDF of a fax (next to its TIFF when stored as TIFF)."""
    path = message.file_path
    if message.kind == "fax" and not path.endswith(".pdf"):
        pdf = str(PurePosixPath(path).with_suffix(".pdf"))
        if files.exists(pdf):
            path = pdf
    suffix = PurePosixPath(path).suffix.lower()
    data = files.read(path)
    return Attachment(
        filename=attachment_name(message_info(_info(message)), suffix, timezone),
        content_type=CONTENT_TYPES.get(suffix, "application/octet-stream"),
        data=data,
    )


def move_to_deleted(session: Session, message: Message, now: datetime) -> None:
    """Move an inbox message to Deleted, with its message.changed and mailbox.counts events."""
    message.folder = "deleted"
    message.deleted_at = now
    enqueue(
        session,
        MessageChanged(
            line=message.line_number,
            message_id=message.id,
            change="deleted",
            folder="deleted",
            heard=message.heard,
        ),
    )
    session.flush()
    repository.mailbox_changed(session, message.line_number)


# ------------------------------------------------------------------------------------------------
# The service


class Notifier:
    def __init__(
        self,
        store: Store,
        files: FileStore,
        mailer: Mailer,
        options: NotifierOptions,
        *,
        bus: MqttAddress | None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.files = files
        self.mailer = mailer
        self.options = options
        self.bus = bus
        self.clock = clock
        self.domain = domain_of(options.sender)
        self.consumer = DurableConsumer(
            store,
            CONSUMER,
            {
                MessageDeposited.type: self._on_deposited,  # type: ignore[dict-item]
                MessageChanged.type: self._on_changed,  # type: ignore[dict-item]
                MailboxAccessed.type: self._on_accessed,  # type: ignore[dict-item]
                OutdialResult.type: self._on_result,  # type: ignore[dict-item]
            },
            retention=options.retention,
            after_commit=lambda _e: self.wake(),
        )
        self.sent = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._running: dict[asyncio.Task[None], int] = {}

    # Event handlers (inside the consumer's transaction) -------------------------------------

    def _on_deposited(self, session: Session, event: MessageDeposited) -> None:
        if session.get(Line, event.line) is None:
            logger.warning(
                "message.deposited %s: line %s does not exist", event.event_id, event.line
            )
            return
        message = session.get(Message, event.message_id)
        info = _info(message) if message is not None else _info_from_event(event)
        prefs = load_prefs(session, event.line)
        facts = MessageFacts(
            message_id=event.message_id,
            line=event.line,
            kind=info["kind"],
            urgent=bool(info["urgent"]),
            received_at=datetime.fromisoformat(info["received_at"]),
        )
        specs = plan(prefs, facts, self.clock())
        jobs = queue.add_jobs(
            session,
            event_id=event.event_id,
            line=event.line,
            message_id=message.id if message is not None else None,
            specs=specs,
            common={"message": info, "language": prefs.language, "timezone": prefs.timezone},
        )
        if jobs:
            logger.info(
                "message %s on %s: %s",
                event.message_id,
                event.line,
                ", ".join(f"{j.kind} {j.target}" for j in jobs),
            )

    def _on_changed(self, session: Session, event: MessageChanged) -> None:
        if not (event.heard or event.folder == "deleted" or event.change == "purged"):
            return
        jobs = [
            j
            for j in queue.active_alerts(session, message_id=event.message_id)
            if j.state == "pending" or j.kind in CALL_KINDS
        ]
        why = "the message was heard" if event.heard else "the message was deleted"
        queue.cancel(session, jobs, why, self.clock())

    def _on_accessed(self, session: Session, event: MailboxAccessed) -> None:
        outdial.on_access(session, event, self.clock())

    def _on_result(self, session: Session, event: OutdialResult) -> None:
        outdial.on_result(session, event, self.clock())

    # Runner ---------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due jobs now (safe from any thread)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _recover(self, in_flight: frozenset[int] = frozenset()) -> int:
        """Give orphaned "sending" jobs back to the queue (all of them at start-up; later,
        those not in flight here: their settling failed, e.g. the store was unreachable)."""
        with self.store.read() as s:
            if not queue.orphans(s, in_flight):
                return 0
        with self.store.transaction() as s:
            return queue.recover_interrupted(s, self.clock(), in_flight)

    def _next_times(self) -> tuple[datetime | None, datetime | None]:
        with self.store.read() as s:
            return queue.next_due(s), outdial.next_expiry(s)

    def _claim(self, limit: int) -> tuple[list[NotificationJob], datetime | None]:
        """Settle expired calls and claim due jobs; also returns when to look again. Takes
        the store's write lock only when there is something to do."""
        now = self.clock()
        due, expiry = self._next_times()
        jobs: list[NotificationJob] = []
        if (due is not None and due <= now and limit > 0) or (expiry is not None and expiry <= now):
            with self.store.transaction() as s:
                for job_id in outdial.expire(s, now):
                    logger.info("job %s: no outdial result in time", job_id)
                jobs = queue.claim_due(s, now, limit) if limit > 0 else []
            due, expiry = self._next_times()
        times = [t for t in (due, expiry) if t is not None]
        return jobs, min(times) if times else None

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        recovered = await asyncio.to_thread(self._recover)
        if recovered:
            logger.info("%s interrupted job(s) are due again", recovered)
        consumer = asyncio.create_task(
            self.consumer.run(self.bus, stop, sweep_seconds=self.options.sweep_seconds)
        )
        try:
            await self._runner(stop)
        finally:
            await consumer
            if self._running:
                await asyncio.wait(list(self._running), timeout=30)

    async def _runner(self, stop: asyncio.Event) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        last_check = loop.time()
        while not stop.is_set():
            self._wake.clear()
            if loop.time() - last_check >= ORPHAN_CHECK_SECONDS:
                last_check = loop.time()
                try:
                    released = await asyncio.to_thread(
                        self._recover, frozenset(self._running.values())
                    )
                    if released:
                        logger.warning("%s stuck job(s) are due again", released)
                except Exception:
                    logger.exception("cannot check for stuck jobs; trying again later")
            free = self.options.concurrency - len(self._running)
            try:
                jobs, next_due = await asyncio.to_thread(self._claim, free)
            except Exception:
                logger.exception("cannot read the notification queue; trying again")
                jobs, next_due = [], None
            for job in jobs:
                task = asyncio.create_task(self._execute(job))
                self._running[task] = job.id
                task.add_done_callback(self._done)
            delay = self.options.poll_seconds
            if next_due is not None:
                delay = max(0.0, min(delay, (next_due - self.clock()).total_seconds()))
            if jobs and free - len(jobs) > 0:
                delay = 0.0
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self.wake()
        if not task.cancelled() and task.exception() is not None:
            logger.error("notification job crashed", exc_info=task.exception())

    async def _execute(self, job: NotificationJob) -> None:
        if job.kind in CALL_KINDS:
            await asyncio.to_thread(self._request_call, job.id)
            return
        try:
            prepared = await asyncio.to_thread(self._prepare_mail, job.id)
        except Exception as exc:
            logger.exception("job %s (%s): cannot build the mail", job.id, job.kind)
            await asyncio.to_thread(
                self._mail_failed,
                job.id,
                MailError(f"cannot build the mail: {exc}", temporary=True),
            )
            return
        if isinstance(prepared, str):
            await asyncio.to_thread(self._settle, job.id, "cancelled", prepared)
            return
        try:
            await self.mailer.send(prepared)
        except MailError as exc:
            await asyncio.to_thread(self._mail_failed, job.id, exc)
            return
        self.sent += 1
        await asyncio.to_thread(self._mail_sent, job.id)

    def _request_call(self, job_id: int) -> None:
        with self.store.transaction() as s:
            job = s.get(NotificationJob, job_id)
            if job is None or job.state != "sending":
                return
            why = outdial.request(
                s,
                job,
                now=self.clock(),
                plan=self.options.dial_plan,
                ring_seconds=self.options.ring_seconds,
                result_timeout=self.options.result_timeout_seconds,
            )
        if why:
            logger.info("job %s (%s to %s): %s", job_id, job.kind, job.target, why)
        else:
            logger.info("job %s: call %s requested (attempt %s)", job_id, job.target, job.attempts)

    def _envelope(self, job: NotificationJob) -> Envelope:
        return Envelope(
            sender=self.options.sender,
            message_id=f"<relais.{job.kind}.{job.id}.{job.event_id[:8]}@{self.domain}>",
            timezone=str(job.data.get("timezone", "UTC")),
            language=str(job.data.get("language", "en")),
            pilot=self.options.pilot,
        )

    def _prepare_mail(self, job_id: int) -> EmailMessage | str:
        """The mail of a claimed job, or why it cannot be sent any more."""
        with self.store.read() as s:
            job = s.get(NotificationJob, job_id)
            assert job is not None
            env = self._envelope(job)
            message = s.get(Message, job.message_id) if job.message_id is not None else None
            if job.kind == EMAIL:
                data = _info(message) if message is not None else job.data["message"]
                return notification_mail(message_info(data), job.target, env)
            if job.kind == PAGER:
                if message is None or message.folder != "inbox":
                    return "the message was deleted"
                if message.heard:
                    return "the message was heard"
                return pager_mail(
                    message_info(_info(message)),
                    job.target,
                    str(job.data.get("callback", "")),
                    env,
                )
            if message is None:
                return "the message was deleted"
            if not self.files.exists(message.file_path):
                return f"the message's file {message.file_path} is missing"
            attachment = message_attachment(self.files, message, env.timezone)
            if job.kind == FORWARD:
                return forward_mail(message_info(_info(message)), [job.target], attachment, env)
            if job.kind == MAIL:
                d = job.data
                return forward_mail(
                    message_info(_info(message)),
                    d["to"],
                    attachment,
                    env,
                    cc=d.get("cc", []),
                    bcc=d.get("bcc", []),
                    body=d.get("body", ""),
                    forwarded_by=d.get("forwarded_by"),
                )
        raise ValueError(f"job {job_id}: unknown kind {job.kind!r}")

    def _settle(self, job_id: int, state: str, error: str) -> None:
        with self.store.transaction() as s:
            job = s.get(NotificationJob, job_id)
            if job is not None:
                queue.settle(s, job, state, now=self.clock(), error=error)
        logger.info("job %s %s: %s", job_id, state, error)

    def _mail_sent(self, job_id: int) -> None:
        now = self.clock()
        with self.store.transaction() as s:
            job = s.get(NotificationJob, job_id)
            assert job is not None
            queue.settle(s, job, "done", now=now)
            moved = job.kind == FORWARD and self._after_forward(s, job, now)
        logger.info(
            "job %s: %s to %s accepted%s",
            job_id,
            job.kind,
            job.target,
            "; message moved to Deleted" if moved else "",
        )

    def _after_forward(self, session: Session, job: NotificationJob, now: datetime) -> bool:
        """With "keep original" off, move the message once every forward of it is accepted."""
        if job.data.get("keep_original", True) or job.message_id is None:
            return False
        unsent = session.scalar(
            select(func.count())
            .select_from(NotificationJob)
            .where(
                NotificationJob.event_id == job.event_id,
                NotificationJob.kind == FORWARD,
                NotificationJob.state != "done",
            )
        )
        message = session.get(Message, job.message_id)
        if unsent or message is None or message.folder != "inbox":
            return False
        move_to_deleted(session, message, now)
        return True

    def _mail_failed(self, job_id: int, exc: MailError) -> None:
        now = self.clock()
        with self.store.transaction() as s:
            job = s.get(NotificationJob, job_id)
            assert job is not None
            if exc.temporary and job.attempts < self.options.max_attempts:
                delay = retry_delay(
                    job.attempts, self.options.retry_base_seconds, self.options.retry_max_seconds
                )
                queue.settle(s, job, "pending", now=now, at=now + delay, error=str(exc))
                logger.warning(
                    "job %s (%s to %s): %s; retry in %s", job_id, job.kind, job.target, exc, delay
                )
            else:
                queue.settle(s, job, "failed", now=now, error=str(exc))
                logger.error(
                    "job %s (%s to %s) failed after %s attempt(s): %s",
                    job_id,
                    job.kind,
                    job.target,
                    job.attempts,
                    exc,
                )


# ------------------------------------------------------------------------------------------------
# For the portal: forward a message as e-mail


class ForwardRefused(ValueError):
    """A forward the subscriber may not make; `code` is the API error id."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def _check_forward(
    session: Session,
    line: str,
    message_id: int,
    to: Sequence[str],
    cc: Sequence[str],
    bcc: Sequence[str],
) -> tuple[Message, list[str], list[str], list[str]]:
    message = session.get(Message, message_id)
    if message is None or message.line_number != line:
        raise LookupError(f"message {message_id} does not exist on line {line}")
    if message.private:
        raise ForwardRefused(
            "private-message-not-forwardable", "a private message cannot be forwarded"
        )
    to_, cc_, bcc_ = ([check_address(a) for a in group] for group in (to, cc, bcc))
    if not to_:
        raise ForwardRefused("no-recipient", "at least one To address is needed")
    if len(to_) + len(cc_) + len(bcc_) > MAX_RECIPIENTS:
        raise ForwardRefused("too-many-recipients", f"at most {MAX_RECIPIENTS} recipients")
    return message, to_, cc_, bcc_


async def forward_by_email(
    store: Store,
    files: FileStore,
    mailer: Mailer,
    *,
    line: str,
    message_id: int,
    to: Sequence[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    body: str = "",
    sender: str,
    pilot: str = "*98",
) -> str:
    """Send message `message_id` of `line` as an e-mail now (the portal's "forward as
    e-mail"), WAV or PDF attached. Returns the Message-ID.

    Raises LookupError (no such message on the line), ForwardRefused (private message, bad
    recipient list; `.code` is the API error id), ValueError (a bad address, with the text) or
    MailError (the server did not accept it; `.temporary` says whether to try again later).
    `queue_forward_by_email` is the queued variant (retried with back-off by the notifier)."""
    with store.read() as s:
        message, to_, cc_, bcc_ = _check_forward(s, line, message_id, to, cc, bcc)
        account = repository.get_line(s, line).account
        env = Envelope(
            sender=sender,
            message_id=f"<relais.mail.{uuid.uuid4().hex}@{domain_of(sender)}>",
            timezone=account.timezone,
            language=account.language,
            pilot=pilot,
        )
        attachment = message_attachment(files, message, env.timezone)
        mail = forward_mail(
            message_info(_info(message)),
            to_,
            attachment,
            env,
            cc=cc_,
            bcc=bcc_,
            body=body,
            forwarded_by=account.display_name,
        )
    await mailer.send(mail)
    return env.message_id


def queue_forward_by_email(
    session: Session,
    *,
    line: str,
    message_id: int,
    to: Sequence[str],
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    body: str = "",
    request_id: str | None = None,
) -> NotificationJob:
    """Queue the same forward in the caller's transaction: the notifier sends it and retries
    it until accepted. `request_id` (e.g. an idempotency key) makes a repeat a no-op."""
    message, to_, cc_, bcc_ = _check_forward(session, line, message_id, to, cc, bcc)
    account = repository.get_line(session, line).account
    event_id = request_id or str(uuid.uuid4())
    target = ",".join(to_)[:254]
    existing = session.scalar(
        select(NotificationJob).where(
            NotificationJob.event_id == event_id,
            NotificationJob.kind == MAIL,
            NotificationJob.target == target,
        )
    )
    if existing is not None:
        return existing
    job = NotificationJob(
        event_id=event_id,
        kind=MAIL,
        line_number=line,
        message_id=message.id,
        target=target,
        state="pending",
        attempts=0,
        next_attempt_at=datetime.now(UTC),
        data={
            "to": to_,
            "cc": cc_,
            "bcc": bcc_,
            "body": body,
            "forwarded_by": account.display_name,
            "language": account.language,
            "timezone": account.timezone,
        },
    )
    session.add(job)
    session.flush()
    return job


# ------------------------------------------------------------------------------------------------
# Entry point


async def serve(cfg: Settings, store: Store, stop: asyncio.Event) -> Notifier:
    mailer = make_mailer(cfg.smtp_url, cfg.storage_root, timeout=cfg.notify.smtp_timeout_seconds)
    notifier = Notifier(
        store,
        FileStore(cfg.storage_root),
        mailer,
        NotifierOptions.from_settings(cfg),
        bus=bus_address(cfg),
    )
    where = str(getattr(mailer, "config", "")) or f"spool {Path(cfg.storage_root) / 'spool'}"
    print(f"notifier ready: bus {bus_address(cfg)}, mail {where}", flush=True)
    await notifier.run(stop)
    return notifier


def main(cfg: Settings, store: Store) -> int:
    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(cfg, store, stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
    logger.info("notifier stopped")
    return 0


__all__ = [
    "ForwardRefused",
    "Notifier",
    "NotifierOptions",
    "forward_by_email",
    "load_prefs",
    "main",
    "queue_forward_by_email",
    "serve",
]
