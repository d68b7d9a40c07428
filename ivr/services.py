"""What the dialogs' effects do with the store and the files (SPEC S5, S7, S12).

Rules of this file:
- Runs on dialog threads (and at worker start-up), never on the pjsua2 pump thread.
- Every change is one transaction. A message's file is renamed into place before its row
  commits (FileStore.store_file_then_row). Every change of a mailbox's counts goes through
  store.repository.mailbox_changed (the mailbox.counts event) in the same transaction, with a
  message.changed event per message; deposits and deliveries write message.deposited.
- In a transaction that changes a mailbox's counts, `on_counts(session, line, counts)` reads
  what showing them needs (the worker: its MWI targets) and returns what to do once the
  transaction has committed (send the NOTIFYs): no read of its own after the commit.
- Recordings made by a dialog stream into the worker's spool; a deposit also writes a sidecar
  (who called whom, when) so that a restarted worker delivers what a crash left behind.
- Recorded audio is trimmed before it is kept: leading and trailing silence, the hang-up click,
  and a DTMF tone that stopped the recording (media.analysis). Voice shorter than the mailbox's
  minimum is not kept; for a deposit that is logged as a missed call.
- Replies, forwards and messages sent by phone go only into local mailboxes that are not full.
  A group phone code reaches each member once, as in the portal.
- A login by phone writes mailbox.accessed (outdial notifications may stop on it).
- Secrets (PINs) are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from events.events import (
    DepositRefused,
    MailboxAccessed,
    MessageChanged,
    MessageDeposited,
    SettingsChanged,
)
from events.outbox import enqueue
from ivr.calllog import CallLogWriter, CallRecord, log_call
from ivr.envelope import MessageInfo
from ivr.greeting import GreetingFacts, Selection, select_greeting
from ivr.pin import Attempt, LockoutPolicy, PinRecord, after_attempt
from ivr.retrieval import FAX_ENVELOPES, Box, FaxInfo, Opened
from media import analysis, faxdoc, spandsp
from media.convert import write_wav
from store import credentials, repository
from store.files import FileStore
from store.models import CallLogEntry, ContactGroup, Greeting, Line, Mailbox, Message
from store.session import Store, core

logger = logging.getLogger(__name__)

RATE = 8000
WAV_HEADER = 44
ALMOST_FULL = 0.9
"""Share of the quota from which the owner hears "your mailbox is almost full"."""
FAX_BYTES_PER_SECOND = 16000
"""A fax counts against the quota (seconds of audio) as the seconds of stored 8 kHz 16-bit
audio its files' bytes would hold (TIFF + PDF)."""
_MESSAGE: Final = cast(Table, Message.__table__)
_INSERT_MESSAGE: Final = insert(_MESSAGE).returning(_MESSAGE.c.id)
_GREETINGS: Final = select(Greeting.kind, Greeting.file_path).where(
    Greeting.line_number == bindparam("line")
)
_DEPOSIT_MAILBOX: Final = select(
    Mailbox.greeting,
    Mailbox.busy_greeting_enabled,
    Mailbox.no_answer_greeting_enabled,
    Mailbox.extended_absence_enabled,
    Mailbox.language,
    Mailbox.max_message_seconds,
    Mailbox.min_message_seconds,
).where(Mailbox.line_number == bindparam("line"))
"""What a deposit reads of its mailbox: built once, run for every call (Core, no ORM object)."""
TRAILING_DTMF_S = 1.5
"""How far from the end a DTMF tone that stopped a recording is looked for."""

AfterCommit = Callable[[], object]
CountsHook = Callable[[Session, str, repository.Counts], AfterCommit]
"""Called in the transaction that changed the counts of `line`'s mailbox, with the new counts;
returns what to do after the commit."""


@dataclass(frozen=True)
class DepositContext:
    """What the switch knows about a call that reaches voicemail."""

    mailbox: str
    greeting: str
    """routing.model.GreetingReason value"""
    caller_number: str | None
    caller_name: str | None
    started_at: str
    """ISO 8601 UTC"""
    call_id: str
    not_accepted: tuple[str, ...] = ()
    """Ring-table numbers that answered without pressing 1 before the call reached voicemail."""


@dataclass(frozen=True)
class DepositSetup:
    lang: str
    greeting: Selection
    full: bool
    max_seconds: float
    min_voice_seconds: float
    no_space: bool = False


# ------------------------------------------------------------------------------------------------
# Audio


def read_recording(path: Path) -> NDArray[np.int16]:
    """The samples of a recording; its header is skipped (unfinished after a crash)."""
    try:
        data = path.read_bytes()[WAV_HEADER:]
    except FileNotFoundError:
        return np.zeros(0, dtype=np.int16)
    return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(np.int16)


def cut_trailing_dtmf(samples: NDArray[np.int16]) -> NDArray[np.int16]:
    """Drop a DTMF tone near the end (the # that stopped an in-band recording) and what follows.

    spandsp's receiver (C, the one that heard the key during the call) looks at the end
    first: where it hears no key, the recording is kept whole without the search for where a
    key starts (most recordings end with a hang-up or silence)."""
    tail = int(TRAILING_DTMF_S * RATE)
    start = max(0, len(samples) - tail)
    end = samples[start:]
    try:
        if not spandsp.keys_in(np.ascontiguousarray(end, dtype=np.int16)):
            return samples
    except spandsp.SpandspUnavailable:
        pass  # the numpy search alone
    at = analysis.first_dtmf(end)
    return samples if at is None else samples[: start + at]


def clean(samples: NDArray[np.int16]) -> NDArray[np.int16]:
    """A recording as kept: no trailing DTMF, no leading/trailing silence, no hang-up click."""
    return analysis.trim(cut_trailing_dtmf(samples))


def _record(ctx: DepositContext, direction: str, disposition: str, now: datetime) -> CallRecord:
    started = datetime.fromisoformat(ctx.started_at)
    return CallRecord(
        line=ctx.mailbox,
        direction=direction,
        disposition=disposition,
        caller_number=ctx.caller_number,
        caller_name=ctx.caller_name,
        started_at=started,
        duration_seconds=(now - started).total_seconds(),
        call_id=ctx.call_id,
        not_accepted=ctx.not_accepted,
    )


def voice_seconds(path: str | Path) -> float:
    """Seconds of voice in a recording. Measured before trimming: the voice detector takes the
    recording's pauses as its noise floor."""
    return analysis.voice_duration(cut_trailing_dtmf(read_recording(Path(path))))


# ------------------------------------------------------------------------------------------------
# The service


class Voicemail:
    def __init__(
        self,
        store: Store,
        files: FileStore,
        spool: Path,
        *,
        lockout: LockoutPolicy | None = None,
        silence_seconds: float = 5.0,
        on_counts: CountsHook | None = None,
        default_language: str = "fr",
        min_free_bytes: int = 0,
        calllog: CallLogWriter | None = None,
    ) -> None:
        self.store = store
        self.min_free_bytes = min_free_bytes
        """Below this much free space under the spool, new deposits are refused (told so)."""
        self.calllog = calllog or CallLogWriter(store)
        """Shared with the worker: one queue of rows kept through an outage."""
        self.files = files
        self.spool = spool
        self.lockout = lockout or LockoutPolicy()
        self.silence_seconds = silence_seconds
        self.on_counts = on_counts
        self.default_language = default_language
        spool.mkdir(parents=True, exist_ok=True)

    def _counted(self, s: Session, line: str, after: list[AfterCommit]) -> None:
        """The counts of `line`'s mailbox changed in `s`: the mailbox.counts event, and in
        `after` what to do once `s` has committed (on_counts)."""
        counts = repository.mailbox_changed(s, line, origin="switch")
        if self.on_counts is None:
            return
        try:
            after.append(self.on_counts(s, line, counts))
        except Exception:  # a lamp is not worth the change (a database error fails it anyway)
            logger.exception("counts of %s: notification failed", line)

    @staticmethod
    def _changed(after: Sequence[AfterCommit]) -> None:
        for fn in after:
            try:
                fn()
            except Exception:
                logger.exception("counts changed: notification failed")

    def _greetings(self, s: Session, line: str) -> dict[str, str]:
        return {
            kind: str(self.files.path(path))
            for kind, path in core(s).execute(_GREETINGS, {"line": line}).all()
        }

    def confirm_facts(self, line: str) -> tuple[str, str | None]:
        """(language, recorded name file or None) of a line, for the answer confirmation."""
        with self.store.read() as s:
            mailbox = s.get(Mailbox, line)
            name = s.scalar(
                select(Greeting).where(Greeting.line_number == line, Greeting.kind == "name")
            )
            lang = mailbox.language if mailbox is not None else self.default_language
            return lang, str(self.files.path(name.file_path)) if name is not None else None

    # -- deposit ---------------------------------------------------------------------------------

    def prepare_deposit(self, ctx: DepositContext) -> tuple[DepositSetup, Path]:
        """Read the mailbox, choose the greeting and write the recording's sidecar."""
        with self.store.read() as s:
            mailbox = core(s).execute(_DEPOSIT_MAILBOX, {"line": ctx.mailbox}).one_or_none()
            if mailbox is None:
                raise repository.NotFound(f"line {ctx.mailbox} has no mailbox")
            counts = repository.mailbox_counts(s, ctx.mailbox)
            selection = select_greeting(
                GreetingFacts(
                    reason=ctx.greeting,
                    choice=mailbox.greeting,
                    line=ctx.mailbox,
                    busy_enabled=mailbox.busy_greeting_enabled,
                    no_answer_enabled=mailbox.no_answer_greeting_enabled,
                    extended_absence_enabled=mailbox.extended_absence_enabled,
                    recorded=self._greetings(s, ctx.mailbox),
                )
            )
            setup = DepositSetup(
                lang=mailbox.language,
                greeting=selection,
                full=counts.full,
                max_seconds=float(mailbox.max_message_seconds),
                min_voice_seconds=float(mailbox.min_message_seconds),
            )
        token = os.urandom(12).hex()
        record_path = self.spool / f"{token}.wav"
        free = self.free_bytes()
        if free < self.min_free_bytes:
            logger.warning(
                "%s: low disk space (%s MB free): no voicemail for %s",
                ctx.call_id,
                free // 1_000_000,
                ctx.mailbox,
            )
            self._refused(ctx, free)
            return replace(setup, no_space=True), record_path
        try:
            record_path.with_suffix(".json").write_text(json.dumps(asdict(ctx)))
        except OSError as exc:
            logger.error("%s: cannot write the deposit sidecar (%s)", ctx.call_id, exc)
            self.discard(record_path)
            self._refused(ctx, self.free_bytes())
            return replace(setup, no_space=True), record_path
        logger.info("%s: deposit into %s, greeting %s", ctx.call_id, ctx.mailbox, selection.rule)
        return setup, record_path

    def deliver(
        self,
        ctx: DepositContext,
        record_path: Path,
        *,
        urgent: bool = False,
        private: bool = False,
        min_seconds: float | None = None,
        recovering: bool = False,
    ) -> int | None:
        """Store a deposit as a message; None when it holds too little voice (logged missed),
        or when the storage has no room for it now: the recording then stays in the spool
        with its sidecar, the call is logged, and the worker's next start delivers it
        (`recovering`: the call was logged already if its call-log row exists).

        `min_seconds` is the mailbox's minimum (read from the mailbox when not given). The
        message, its call-log entry, their events and the new counts are one short transaction
        of Core statements."""
        raw = cut_trailing_dtmf(read_recording(record_path))
        measured = analysis.measure(raw)
        seconds = analysis.voice_duration(raw, measured=measured)
        voice = analysis.trim(raw, measured=measured)
        exists = True
        if min_seconds is None:
            with self.store.read() as s:
                mailbox = s.get(Mailbox, ctx.mailbox)
                exists = mailbox is not None
                min_seconds = mailbox.min_message_seconds if mailbox else 1.0
        if not exists or seconds < min_seconds or len(voice) == 0:
            logger.info(
                "%s: message with %.2f s of voice for %s discarded (minimum %.1f s)",
                ctx.call_id,
                seconds,
                ctx.mailbox,
                min_seconds,
            )
            self.discard(record_path)
            self.log_call(ctx, "missed", "abandoned")
            return None
        data = write_wav(voice)
        relpath = FileStore.new_name(f"messages/{ctx.mailbox}", ".wav")
        now = datetime.now(UTC)
        duration = round(len(voice) / RATE, 3)
        row = {
            "line_number": ctx.mailbox,
            "kind": "voice",
            "folder": "inbox",
            "caller_number": ctx.caller_number,
            "caller_name": ctx.caller_name,
            "received_at": now,
            "duration_seconds": duration,
            "size_bytes": len(data),
            "file_path": relpath,
            "origin": "call",
            "urgent": urgent,
            "private": private,
            "call_id": ctx.call_id[:255],
        }

        def commit() -> tuple[int, list[AfterCommit]]:
            after: list[AfterCommit] = []
            with self.store.transaction() as s:
                message_id: int = core(s).execute(_INSERT_MESSAGE, row).scalar_one()
                if not (recovering and self._logged(s, ctx)):
                    self._log(s, ctx, "missed", "voicemail", now)
                enqueue(
                    s,
                    MessageDeposited(
                        line=ctx.mailbox,
                        message_id=message_id,
                        kind="voice",
                        urgent=urgent,
                        private=private,
                        caller_number=ctx.caller_number,
                        caller_name=ctx.caller_name,
                        received_at=now.isoformat(),
                        duration_seconds=duration,
                        origin="call",
                    ),
                )
                self._counted(s, ctx.mailbox, after)
            return message_id, after

        try:
            message_id, after = self.files.store_file_then_row(relpath, data, commit)
        except OSError as exc:  # a full disk: nothing of the recording is lost
            logger.error(
                "%s: message for %s not stored now (%s): its recording stays in the spool and "
                "is delivered when this worker starts again",
                ctx.call_id,
                ctx.mailbox,
                exc.strerror or exc,
            )
            self.log_call(ctx, "missed", "voicemail")
            return None
        self.discard(record_path)
        logger.info(
            "%s: message %s (%.2f s, urgent=%s, private=%s) delivered to %s",
            ctx.call_id,
            message_id,
            len(voice) / RATE,
            urgent,
            private,
            ctx.mailbox,
        )
        self._changed(after)
        return message_id

    # -- fax -------------------------------------------------------------------------------------

    def prepare_fax(self, ctx: DepositContext) -> Path:
        """Where the fax receiver of this call writes its TIFF-F (the worker's spool), with a
        sidecar: a worker killed mid-fax delivers the pages received in full when it starts
        again (recover_orphans)."""
        logger.info("%s: fax for %s", ctx.call_id, ctx.mailbox)
        path = self.spool / f"fax-{os.urandom(12).hex()}.tif"
        try:
            path.with_suffix(".json").write_text(json.dumps(asdict(ctx)))
        except OSError as exc:  # the fax is still received; only a crash would lose it
            logger.error("%s: cannot write the fax sidecar (%s)", ctx.call_id, exc)
        return path

    def deliver_fax(
        self,
        ctx: DepositContext,
        tiff: Path,
        *,
        complete: bool,
        remote_ident: str = "",
        bit_rate: int = 0,
    ) -> int | None:
        """Store the pages received in full as a fax (TIFF-F + PDF); no page: a missed call.

        `complete` is False when the call ended mid-fax: the fax is kept as partial.
        """
        try:
            return self._deliver_fax(
                ctx, tiff, complete=complete, remote_ident=remote_ident, bit_rate=bit_rate
            )
        finally:
            tiff.with_suffix(".json").unlink(missing_ok=True)

    def _deliver_fax(
        self, ctx: DepositContext, tiff: Path, *, complete: bool, remote_ident: str, bit_rate: int
    ) -> int | None:
        try:
            pages = len(faxdoc.tiff_pages(tiff)) if tiff.is_file() else 0
        except ValueError as exc:
            logger.warning("%s: fax file unreadable (%s): no page kept", ctx.call_id, exc)
            pages = 0
        if pages == 0:
            tiff.unlink(missing_ok=True)
            self.log_call(ctx, "missed", "abandoned")
            logger.info("%s: no fax page received for %s: missed call", ctx.call_id, ctx.mailbox)
            return None
        pdf_tmp = tiff.with_suffix(".pdf")
        try:
            faxdoc.tiff_to_pdf(tiff, pdf_tmp)
            tif_data, pdf_data = tiff.read_bytes(), pdf_tmp.read_bytes()
        finally:
            pdf_tmp.unlink(missing_ok=True)
        relpath = FileStore.new_name(f"messages/{ctx.mailbox}", ".tif")
        pdf_rel = relpath[: -len(".tif")] + ".pdf"
        size = len(tif_data) + len(pdf_data)
        now = datetime.now(UTC)

        def commit() -> tuple[int, list[AfterCommit]]:
            after: list[AfterCommit] = []
            with self.store.transaction() as s:
                message = Message(
                    line_number=ctx.mailbox,
                    kind="fax",
                    folder="inbox",
                    caller_number=ctx.caller_number,
                    caller_name=ctx.caller_name,
                    received_at=now,
                    duration_seconds=round(size / FAX_BYTES_PER_SECOND, 3),
                    pages=pages,
                    size_bytes=size,
                    file_path=relpath,
                    origin="call",
                    call_id=ctx.call_id[:255],
                    fax_remote_ident=remote_ident[:20] or None,
                    fax_bit_rate=bit_rate,
                    fax_status="complete" if complete else "partial",
                )
                s.add(message)
                s.flush()
                self._log(s, ctx, "missed", "voicemail", now)
                self._deposited(s, message)
                self._counted(s, ctx.mailbox, after)
            return message.id, after

        def both() -> tuple[int, list[AfterCommit]]:
            return self.files.store_file_then_row(pdf_rel, pdf_data, commit)

        message_id, after = self.files.store_file_then_row(relpath, tif_data, both)
        tiff.unlink(missing_ok=True)
        logger.info(
            "%s: fax %s (%s pages, %s, %s bit/s) delivered to %s",
            ctx.call_id,
            message_id,
            pages,
            "complete" if complete else "partial",
            bit_rate,
            ctx.mailbox,
        )
        self._changed(after)
        return message_id

    @staticmethod
    def _deposited(s: Session, m: Message) -> None:
        enqueue(
            s,
            MessageDeposited(
                line=m.line_number,
                message_id=m.id,
                kind=m.kind,
                urgent=m.urgent,
                private=m.private,
                caller_number=m.caller_number,
                caller_name=m.caller_name,
                received_at=m.received_at.isoformat(),
                duration_seconds=m.duration_seconds,
                pages=m.pages,
                origin=m.origin,
            ),
        )

    def log_call(self, ctx: DepositContext, direction: str, disposition: str) -> None:
        """Write a call-log row. A row the store cannot take now (a full disk, a lock held too
        long) is kept and written with the next one, so that it survives the outage."""
        self.calllog.write(_record(ctx, direction, disposition, datetime.now(UTC)))

    @staticmethod
    def _log(
        s: Session, ctx: DepositContext, direction: str, disposition: str, now: datetime
    ) -> None:
        log_call(s, _record(ctx, direction, disposition, now))

    @staticmethod
    def _logged(s: Session, ctx: DepositContext) -> bool:
        """Whether the call of `ctx` has its call-log row (read through the line's index)."""
        found = s.scalar(
            select(CallLogEntry.id)
            .where(
                CallLogEntry.line_number == ctx.mailbox,
                CallLogEntry.call_id == ctx.call_id[:255],
            )
            .limit(1)
        )
        return found is not None

    def _refused(self, ctx: DepositContext, free: int) -> None:
        """Report a deposit refused for want of space (best effort: the store may be full too)."""
        event = DepositRefused(
            line=ctx.mailbox, reason="low-space", free_mb=free // 1_000_000, call_id=ctx.call_id
        )
        try:
            with self.store.transaction() as s:
                enqueue(s, event)
        except Exception as exc:
            logger.error("%s: low-space event not written: %s", ctx.call_id, exc)

    def free_bytes(self) -> int:
        """Free space of the file system that holds recordings in progress."""
        try:
            return shutil.disk_usage(self.spool).free
        except OSError:
            return 0

    @staticmethod
    def discard(record_path: Path) -> None:
        for p in (record_path, record_path.with_suffix(".json")):
            p.unlink(missing_ok=True)

    def recover_orphans(self) -> int:
        """Deliver the deposits and faxes a previous run of this worker left in its spool
        (SPEC S12)."""
        delivered = 0
        for sidecar in sorted(self.spool.glob("*.json")):
            try:
                ctx = DepositContext(**json.loads(sidecar.read_text()))
            except (ValueError, TypeError) as exc:
                logger.error("unreadable recording sidecar %s (%s): left in place", sidecar, exc)
                continue
            if sidecar.name.startswith("fax-"):
                # A fax whose call the worker did not see end: the pages written in full.
                logger.warning("%s: recovering an orphan fax for %s", ctx.call_id, ctx.mailbox)
                if self.deliver_fax(ctx, sidecar.with_suffix(".tif"), complete=False):
                    delivered += 1
                continue
            wav = sidecar.with_suffix(".wav")
            if not wav.is_file() or wav.stat().st_size <= WAV_HEADER:
                self.discard(wav)
                self.log_call(ctx, "missed", "abandoned")
                continue
            logger.warning("%s: recovering an orphan recording for %s", ctx.call_id, ctx.mailbox)
            if self.deliver(ctx, wav, recovering=True) is not None:
                delivered += 1
        for stray in [*self.spool.glob("*.wav"), *self.spool.glob("fax-*.tif")]:
            if not stray.with_suffix(".json").exists():
                # A recording by phone that was never kept; a fax whose sidecar could not be
                # written (nobody knows its mailbox).
                stray.unlink(missing_ok=True)
        return delivered

    # -- login -----------------------------------------------------------------------------------

    def login_facts(self, mailbox: str | None) -> tuple[str, bool, bool] | None:
        """(language, skip PIN, quick login) of a mailbox; None when it does not exist."""
        if not mailbox:
            return None
        with self.store.read() as s:
            box = s.get(Mailbox, mailbox)
            if box is None:
                return None
            return box.language, box.skip_pin, box.quick_login

    def check_pin(self, mailbox: str, pin: str, now: datetime | None = None) -> str:
        """ok | wrong | locked, counting failures across calls (SPEC S5, settings)."""
        now = now or datetime.now(UTC)
        with self.store.transaction() as s:
            box = s.get(Mailbox, mailbox) if mailbox.isdigit() else None
            if box is None:
                credentials.verify_secret(_DUMMY_HASH, pin)  # same time as a real check
                logger.info("voicemail login to unknown mailbox %s", mailbox[:12])
                return Attempt.WRONG.value
            record = PinRecord(box.pin_failures or 0, box.pin_locked_until)
            right = credentials.verify_secret(box.pin_hash, pin)
            outcome, record = after_attempt(record, right, now, self.lockout)
            box.pin_failures = record.failures
            box.pin_locked_until = record.locked_until
        if outcome is not Attempt.OK:
            logger.info("voicemail login to %s: %s", mailbox, outcome.value)
        return outcome.value

    # -- session ---------------------------------------------------------------------------------

    def open(self, mailbox: str, now: datetime | None = None, *, via: str = "phone") -> Opened:
        """The session of a successful login; records the mailbox access (`via` phone or
        outdial)."""
        now = now or datetime.now(UTC)
        with self.store.read() as s:
            box = s.get(Mailbox, mailbox)
            if box is None:
                raise repository.NotFound(f"line {mailbox} has no mailbox")
            account = s.get(Line, mailbox).account  # type: ignore[union-attr]
            counts = repository.mailbox_counts(s, mailbox)
            rows = s.scalars(
                select(Message)
                .where(
                    Message.line_number == mailbox,
                    Message.folder == "inbox",
                    Message.kind == "voice",
                )
                .order_by(Message.received_at, Message.id)
            ).all()
            new_faxes: tuple[FaxInfo, ...] = ()
            if box.autoplay_fax and counts.fax_new:
                newest = s.execute(
                    select(Message.caller_number, Message.received_at, Message.pages)
                    .where(
                        Message.line_number == mailbox,
                        Message.folder == "inbox",
                        Message.kind == "fax",
                        Message.heard.is_(False),
                    )
                    .order_by(Message.received_at.desc(), Message.id.desc())
                    .limit(FAX_ENVELOPES)
                ).all()
                new_faxes = tuple(FaxInfo(*f) for f in reversed(newest))
            callers = {r.caller_number for r in rows if r.caller_number}
            names = (
                {
                    g.line_number: str(self.files.path(g.file_path))
                    for g in s.scalars(
                        select(Greeting).where(
                            Greeting.line_number.in_(callers), Greeting.kind == "name"
                        )
                    )
                }
                if callers
                else {}
            )
            messages = tuple(
                sorted(
                    (
                        MessageInfo(
                            id=r.id,
                            heard=r.heard,
                            urgent=r.urgent,
                            private=r.private,
                            caller_number=r.caller_number,
                            received_at=r.received_at,
                            duration_seconds=r.duration_seconds,
                            audio=str(self.files.path(r.file_path)),
                            caller_name_audio=names.get(r.caller_number or ""),
                            origin=r.origin,
                        )
                        for r in rows
                    ),
                    key=lambda m: (m.heard, not m.urgent and not m.heard),
                )
            )
            opened = Opened(
                Box(
                    number=mailbox,
                    lang=box.language,
                    tz=account.timezone,
                    now=now,
                    envelope_mode=box.envelope_mode,
                    autoplay_voice=box.autoplay_voice,
                    autoplay_fax=box.autoplay_fax,
                    greeting=box.greeting,
                    greetings=self._greetings(s, mailbox),
                    extra_on={
                        "busy": box.busy_greeting_enabled,
                        "no_answer": box.no_answer_greeting_enabled,
                        "extended_absence": box.extended_absence_enabled,
                    },
                    fax_new=counts.fax_new,
                    new_faxes=new_faxes,
                    full=counts.full,
                    almost_full=counts.used_seconds >= ALMOST_FULL * counts.quota_seconds,
                    max_message_seconds=float(box.max_message_seconds),
                    min_voice_seconds=float(box.min_message_seconds),
                    silence_seconds=self.silence_seconds,
                    account_numbers=tuple(ln.number for ln in account.lines),
                ),
                messages,
            )
        with self.store.transaction() as s:
            # Stops outdial notifications set to "stop on mailbox access" (notify/).
            enqueue(s, MailboxAccessed(line=mailbox, via=via))
        logger.info(
            "mailbox %s opened by %s: %s new, %s saved",
            mailbox,
            via,
            counts.voice_new,
            counts.voice_old,
        )
        return opened

    def message_kind(self, mailbox: str, message_id: int | None) -> tuple[bool, bool]:
        """(urgent, fax) of a message of `mailbox` (False, False when unknown or gone)."""
        if message_id is None:
            return False, False
        with self.store.read() as s:
            m = s.get(Message, message_id)
            if m is None or m.line_number != mailbox:
                return False, False
            return bool(m.urgent) and m.kind == "voice", m.kind == "fax"

    def _message(self, s: Session, mailbox: str, message_id: int) -> Message:
        m = s.get(Message, message_id)
        if m is None or m.line_number != mailbox:
            raise repository.NotFound(f"message {message_id} is not in mailbox {mailbox}")
        return m

    def _message_change(
        self, mailbox: str, message_id: int, change: str, apply: Callable[[Message], bool]
    ) -> None:
        """Apply a change to one message; counts are reported when it changed anything."""
        after: list[AfterCommit] = []
        with self.store.transaction() as s:
            m = self._message(s, mailbox, message_id)
            if not apply(m):
                return
            enqueue(
                s,
                MessageChanged(
                    line=mailbox, message_id=m.id, change=change, folder=m.folder, heard=m.heard
                ),
            )
            self._counted(s, mailbox, after)
        self._changed(after)

    def set_heard(self, mailbox: str, message_id: int, heard: bool) -> bool:
        def apply(m: Message) -> bool:
            if m.heard == heard:
                return False
            m.heard = heard
            m.heard_at = datetime.now(UTC) if heard else None
            return True

        self._message_change(mailbox, message_id, "heard" if heard else "new", apply)
        return heard

    def save(self, mailbox: str, message_id: int) -> bool:
        def apply(m: Message) -> bool:
            if not m.heard:
                m.heard = True
                m.heard_at = datetime.now(UTC)
            return True

        self._message_change(mailbox, message_id, "saved", apply)
        return True

    def delete(self, mailbox: str, message_id: int) -> bool:
        def apply(m: Message) -> bool:
            if m.folder == "deleted":
                return False
            m.folder = "deleted"
            m.deleted_at = datetime.now(UTC)
            return True

        self._message_change(mailbox, message_id, "deleted", apply)
        return True

    # -- sending ---------------------------------------------------------------------------------

    def _local_mailbox(self, s: Session, number: str) -> str | None:
        digits = number[-10:] if len(number) == 11 and number.startswith("1") else number
        return digits if s.get(Mailbox, digits) is not None else None

    def resolve_destination(self, mailbox: str, number: str) -> tuple[str, Any]:
        """("ok", (mailboxes...)) for a local mailbox or a group phone code of the owner's
        account; else ("error", prompt id)."""
        with self.store.read() as s:
            if len(number) < 10:
                owner = s.get(Line, mailbox)
                group = (
                    s.scalar(
                        select(ContactGroup).where(
                            ContactGroup.account_id == owner.account_id,
                            ContactGroup.phone_code == number,
                        )
                    )
                    if owner is not None
                    else None
                )
                if group is None:
                    return "error", "destination_refused"
                found: list[str] = []
                for c in group.members:
                    # One copy per member, at its first number with a mailbox here (the
                    # portal's order: portal.messages.delivery).
                    for n in (c.business_phone, c.mobile_phone, c.home_phone, c.other_phone):
                        box = self._local_mailbox(s, "".join(ch for ch in n if ch.isdigit()))
                        if box:
                            if box not in found and box != mailbox:
                                found.append(box)
                            break
                return ("ok", tuple(found)) if found else ("error", "destination_no_mailbox")
            box = self._local_mailbox(s, number)
            if box is None:
                return "error", "destination_no_mailbox"
            if repository.mailbox_counts(s, box).full:
                return "error", "mailbox_full"
            return "ok", (box,)

    def resolve_reply(self, mailbox: str, number: str) -> str | None:
        with self.store.read() as s:
            return self._local_mailbox(s, number)

    def _sender(self, s: Session, mailbox: str) -> tuple[str, str | None]:
        line = s.get(Line, mailbox)
        name = line.account.display_name if line is not None else None
        return mailbox, name

    def _copy_into(
        self,
        s: Session,
        data: bytes,
        recipients: Sequence[str],
        *,
        sender: str,
        sender_name: str | None,
        origin: str,
        original: int | None,
        urgent: bool,
        seconds: float,
        written: list[str],
    ) -> list[str]:
        """Message rows (and their files) in each recipient's mailbox that is not full."""
        done: list[str] = []
        now = datetime.now(UTC)
        for box in dict.fromkeys(recipients):
            if s.get(Mailbox, box) is None or repository.mailbox_counts(s, box).full:
                logger.info("message for %s not delivered: no mailbox or full", box)
                continue
            relpath = FileStore.new_name(f"messages/{box}", ".wav")
            self.files.write_atomic(relpath, data)
            written.append(relpath)
            m = Message(
                line_number=box,
                kind="voice",
                folder="inbox",
                caller_number=sender,
                caller_name=sender_name,
                received_at=now,
                duration_seconds=round(seconds, 3),
                size_bytes=len(data),
                file_path=relpath,
                origin=origin,
                original_message_id=original,
                urgent=urgent,
            )
            s.add(m)
            s.flush()
            self._deposited(s, m)
            done.append(box)
        return done

    def _deliver_copies(
        self,
        data: bytes,
        mailbox: str,
        recipients: Sequence[str],
        *,
        origin: str,
        original: int | None,
        urgent: bool,
        seconds: float,
    ) -> int:
        written: list[str] = []
        after: list[AfterCommit] = []
        try:
            with self.store.transaction() as s:
                sender, name = self._sender(s, mailbox)
                done = self._copy_into(
                    s,
                    data,
                    recipients,
                    sender=sender,
                    sender_name=name,
                    origin=origin,
                    original=original,
                    urgent=urgent,
                    seconds=seconds,
                    written=written,
                )
                for box in done:
                    self._counted(s, box, after)
        except BaseException:
            for relpath in written:
                self.files.remove(relpath)
            raise
        logger.info("%s message from %s delivered to %s", origin, mailbox, ", ".join(done))
        self._changed(after)
        return len(done)

    def send(
        self, mailbox: str, path: str, recipients: Sequence[str], origin: str, original: int | None
    ) -> int:
        """A message recorded by phone (reply or new message) into local mailboxes."""
        voice = clean(read_recording(Path(path)))
        Path(path).unlink(missing_ok=True)
        if not len(voice):
            return 0
        return self._deliver_copies(
            write_wav(voice),
            mailbox,
            recipients,
            origin=origin,
            original=original,
            urgent=False,
            seconds=len(voice) / RATE,
        )

    def forward(self, mailbox: str, message_id: int, recipients: Sequence[str]) -> int:
        """Copies of a message in other local mailboxes; private messages are refused."""
        with self.store.read() as s:
            m = self._message(s, mailbox, message_id)
            if m.private:
                raise ValueError("a private message cannot be forwarded")
            data = self.files.read(m.file_path)
            urgent, seconds = m.urgent, m.duration_seconds
        return self._deliver_copies(
            data,
            mailbox,
            recipients,
            origin="forwarded",
            original=message_id,
            urgent=urgent,
            seconds=seconds,
        )

    # -- options ---------------------------------------------------------------------------------

    def _settings_changed(self, s: Session, mailbox: str, section: str) -> None:
        enqueue(s, SettingsChanged(line=mailbox, section=section))

    def set_greeting(self, mailbox: str, choice: str) -> str:
        if choice not in ("system", "system_number", "system_name", "personal"):
            raise ValueError(f"unknown greeting choice {choice!r}")
        with self.store.transaction() as s:
            box = s.get(Mailbox, mailbox)
            if box is None:
                raise repository.NotFound(f"line {mailbox} has no mailbox")
            box.greeting = choice
            self._settings_changed(s, mailbox, "greeting")
        return choice

    def save_greeting(self, mailbox: str, kind: str, path: str) -> tuple[str, str]:
        """Keep a greeting (or the name) recorded by phone; a personal greeting becomes the
        chosen greeting."""
        voice = clean(read_recording(Path(path)))
        Path(path).unlink(missing_ok=True)
        data = write_wav(voice)
        relpath = FileStore.new_name(f"greetings/{mailbox}", ".wav")

        def commit() -> str | None:
            with self.store.transaction() as s:
                g = s.scalar(
                    select(Greeting).where(Greeting.line_number == mailbox, Greeting.kind == kind)
                )
                old = g.file_path if g is not None else None
                if g is None:
                    g = Greeting(
                        line_number=mailbox, kind=kind, file_path=relpath, duration_seconds=0.0
                    )
                    s.add(g)
                g.file_path = relpath
                g.duration_seconds = round(len(voice) / RATE, 3)
                g.updated_at = datetime.now(UTC)
                if kind == "personal":
                    box = s.get(Mailbox, mailbox)
                    assert box is not None
                    box.greeting = "personal"
                self._settings_changed(s, mailbox, "greeting")
                return old

        old = self.files.store_file_then_row(relpath, data, commit)
        if old:
            self.files.remove(old)
        logger.info("mailbox %s: %s recorded by phone (%.1f s)", mailbox, kind, len(voice) / RATE)
        return kind, str(self.files.path(relpath))

    def set_extra(self, mailbox: str, kind: str, on: bool) -> bool:
        column = {
            "busy": "busy_greeting_enabled",
            "no_answer": "no_answer_greeting_enabled",
            "extended_absence": "extended_absence_enabled",
        }[kind]
        with self.store.transaction() as s:
            box = s.get(Mailbox, mailbox)
            if box is None:
                raise repository.NotFound(f"line {mailbox} has no mailbox")
            setattr(box, column, on)
            self._settings_changed(s, mailbox, "greeting")
        return on

    def change_pin(self, mailbox: str, pin: str) -> bool:
        """The rules are the portal's (S9): the account's other mailbox numbers count too."""
        with self.store.transaction() as s:
            box = s.get(Mailbox, mailbox)
            line = s.get(Line, mailbox)
            if box is None or line is None:
                return False
            numbers = [mailbox, *(ln.number for ln in line.account.lines if ln.number != mailbox)]
            try:
                credentials.validate_account_pin(pin, numbers)
            except ValueError as exc:
                logger.info("mailbox %s: new PIN refused (%s)", mailbox, exc)
                return False
            box.pin_hash = credentials.hash_secret(pin)
            box.pin_failures = 0
            box.pin_locked_until = None
            self._settings_changed(s, mailbox, "pin")
        logger.info("mailbox %s: PIN changed by phone", mailbox)
        return True

    def counts(self, mailbox: str) -> repository.Counts:
        with self.store.read() as s:
            return repository.mailbox_counts(s, mailbox)


_DUMMY_HASH = credentials.hash_secret("relais-no-such-mailbox")
"""Verified against when the mailbox does not exist, so both answers take as long."""
