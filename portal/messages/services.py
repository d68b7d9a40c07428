"""Messages, faxes and calls of a mailbox as the portal shows and changes them (SPEC S8).

Rules of this file:
- A message or call of another line (of this account or another) "does not exist" (404).
- Every change writes its events in the same transaction: message.changed for each message
  changed, then mailbox.counts through repository.mailbox_changed (MWI and notifications
  follow from them).
- Purge: the row goes (and its events) in one transaction; the file is removed after the
  commit, so a crash in between leaves at worst an orphan file, never a row without its file
  (SPEC S12).
- Times are shown in the account's time zone; caller names come from the account's contacts,
  else the number.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from events.events import MessageChanged
from events.outbox import enqueue
from media import convert, waveform
from portal.auth.services import Auth, LineRef
from portal.contacts.csvformats import neutralise
from portal.contacts.services import Known, name_index, number_key
from portal.errors import Refused
from portal.i18n import Msg
from portal.messages.schemas import CallOut, FolderCounts, MessageOut, MessagesOut
from store import repository
from store.files import FileStore
from store.models import CallLogEntry, Line, Message
from store.session import Store

logger = logging.getLogger(__name__)

MESSAGE_NOT_FOUND = Msg("This message does not exist.")
# A page of the portal shows PAGE_ROWS rows; the API gives PAGE_SIZE by default, MAX_PAGE at most.
PAGE_ROWS = 25
PAGE_SIZE = 50
# The API pages at most this many rows at a time; a CSV export of calls holds at most EXPORT_LIMIT.
MAX_PAGE = 200
EXPORT_LIMIT = 10000
WAVE_COLOR = "#7f9cbd"
_LOCALES = {"fr": "fr_CA", "en": "en_CA"}


# ------------------------------------------------------------------------------------------------
# Formatting


def format_when(at: datetime, timezone: str, lang: str, now: datetime) -> str:
    """ "dim. 20 sept., 13:42" / "Sun, Sep 20, 1:42 p.m."; the year only when not this year."""
    tz = _zone(timezone)
    local = at.astimezone(tz)
    with_year = local.year != now.astimezone(tz).year
    return f"{_day(local.date(), lang, with_year)}, {_clock(local.hour, local.minute, lang)}"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=4096)
def _day(day: date, lang: str, with_year: bool) -> str:
    if lang == "fr":
        pattern = "EEE d MMM y" if with_year else "EEE d MMM"
    else:
        pattern = "EEE, MMM d, y" if with_year else "EEE, MMM d"
    return format_date(day, pattern, locale=_LOCALES.get(lang, "en_CA"))


@lru_cache(maxsize=4096)
def _clock(hour: int, minute: int, lang: str) -> str:
    pattern = "HH 'h' mm" if lang == "fr" else "h:mm a"  # 20 h 31, as the e-mails write it
    return format_time(time(hour, minute), pattern, locale=_LOCALES.get(lang, "en_CA"))


def anonymous_label(lang: str) -> str:
    return Msg("Anonymous caller").render(lang)


def _display(number: str | None, known: Known | None, lang: str) -> str:
    from portal.i18n import format_number

    if known is not None:
        return known.name
    if number:
        return format_number(number)
    return anonymous_label(lang)


# ------------------------------------------------------------------------------------------------
# Listing


def _owned(s: Session, line: LineRef, message_id: int) -> Message:
    m = s.get(Message, message_id)
    if m is None or m.line_number != line.number:
        raise Refused(404, "message-not-found", MESSAGE_NOT_FOUND)
    return m


def fax_number(s: Session, number: str) -> str | None:
    """The number that reaches the line's mailbox straight as a fax, if it has one."""
    return s.scalar(select(Line.fax_number).where(Line.number == number))


def counts(s: Session, number: str) -> FolderCounts:
    c = repository.mailbox_counts(s, number)
    deleted = s.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.line_number == number, Message.folder == "deleted")
    )
    return FolderCounts(
        voice_new=c.voice_new,
        voice_old=c.voice_old,
        voice_urgent_new=c.voice_urgent_new,
        fax_new=c.fax_new,
        fax_old=c.fax_old,
        deleted=int(deleted or 0),
        used_seconds=round(c.used_seconds, 3),
        limit_seconds=c.quota_seconds,
    )


def _urls(line: str, m: Message) -> tuple[str | None, str | None, str | None]:
    base = f"/api/v1/lines/{line}/messages/{m.id}"
    if m.kind == "fax":
        return None, f"{base}/pdf", None
    return f"{base}/audio", None, f"{base}/waveform"


def message_out(
    m: Any, index: dict[str, Known], auth: Auth, lang: str, now: datetime
) -> MessageOut:
    known = index.get(number_key(m.caller_number)) if m.caller_number else None
    audio, pdf, wave = _urls(m.line_number, m)
    return MessageOut(
        id=m.id,
        kind=m.kind,
        folder=m.folder,
        heard=m.heard,
        urgent=m.urgent,
        private=m.private,
        caller_number=m.caller_number,
        caller_name=m.caller_name,
        contact_id=known.contact_id if known else None,
        display_name=_display(m.caller_number, known, lang),
        received_at=m.received_at,
        received_local=format_when(m.received_at, auth.timezone, lang, now),
        duration_seconds=round(m.duration_seconds, 2),
        pages=m.pages,
        size_bytes=m.size_bytes,
        fax_status=m.fax_status,
        fax_remote_ident=m.fax_remote_ident,
        fax_bit_rate=m.fax_bit_rate or 0,
        origin=m.origin,
        original_message_id=m.original_message_id,
        audio_url=audio,
        pdf_url=pdf,
        waveform_url=wave,
    )


def _page_rows(
    s: Session, where: Sequence[Any], order: Sequence[Any], offset: int, limit: int
) -> list[Any]:
    if limit <= 0:
        return []
    q = select(Message.__table__).where(*where).order_by(*order).offset(offset).limit(limit)
    return list(s.execute(q).all())


def list_messages(
    store: Store,
    auth: Auth,
    line: LineRef,
    *,
    folder: str,
    kind: str | None,
    lang: str,
    now: datetime,
    offset: int = 0,
    limit: int = PAGE_SIZE,
    known: FolderCounts | None = None,
) -> MessagesOut:
    """One page of the inbox (new first, then the newest) or of Deleted (the most recently
    deleted first), with the total the whole list holds (`known`: the mailbox's counts when
    the caller has just read them).

    The inbox is read as two index ranges, new then heard (ix_message_page / ix_message_any),
    each newest first, so a page costs the same in a mailbox of 10 or 10,000 messages."""
    with store.read() as s:
        c = known or counts(s, line.number)
        where = [Message.line_number == line.number, Message.folder == folder]
        if kind:
            where.append(Message.kind == kind)
        newest = (Message.received_at.desc(), Message.id.desc())
        if folder == "inbox":
            new = (c.voice_new if kind != "fax" else 0) + (c.fax_new if kind != "voice" else 0)
            old = (c.voice_old if kind != "fax" else 0) + (c.fax_old if kind != "voice" else 0)
            total = new + old
            rows = _page_rows(s, [*where, Message.heard.is_(False)], newest, offset, limit)
            rows += _page_rows(
                s,
                [*where, Message.heard.is_(True)],
                newest,
                max(0, offset - new),
                limit - len(rows),
            )
        else:
            order = (Message.deleted_at.desc(), Message.id.desc())
            rows = _page_rows(s, where, order, offset, limit)
            total = c.deleted if not kind else _count(s, where)
        index = name_index(s, auth.account_id)
        out = [message_out(m, index, auth, lang, now) for m in rows]
        return MessagesOut(messages=out, counts=c, total=total, offset=offset, limit=limit)


def _count(s: Session, where: Sequence[Any]) -> int:
    return int(s.scalar(select(func.count()).select_from(Message).where(*where)) or 0)


def get_message(
    store: Store, auth: Auth, line: LineRef, message_id: int, lang: str, now: datetime
) -> MessageOut:
    with store.read() as s:
        m = _owned(s, line, message_id)
        return message_out(m, name_index(s, auth.account_id), auth, lang, now)


# ------------------------------------------------------------------------------------------------
# Changes


def _changed(s: Session, m: Message, change: str) -> None:
    enqueue(
        s,
        MessageChanged(
            line=m.line_number, message_id=m.id, change=change, folder=m.folder, heard=m.heard
        ),
    )


def update(
    store: Store,
    line: LineRef,
    message_id: int,
    *,
    heard: bool | None,
    folder: str | None,
    now: datetime,
) -> bool:
    """Mark heard/new and/or move to Deleted/back to the inbox; False when nothing changed."""
    with store.transaction() as s:
        m = _owned(s, line, message_id)
        changes: list[str] = []
        if heard is not None and m.heard != heard:
            m.heard = heard
            m.heard_at = now if heard else None
            changes.append("heard" if heard else "new")
        if folder is not None and m.folder != folder:
            m.folder = folder
            m.deleted_at = now if folder == "deleted" else None
            changes.append("deleted" if folder == "deleted" else "restored")
        for change in changes:
            _changed(s, m, change)
        if changes:
            s.flush()
            repository.mailbox_changed(s, line.number)
    if changes:
        logger.info("line %s: message %s %s", line.number, message_id, ", ".join(changes))
    return bool(changes)


def delete_all(store: Store, line: LineRef, kind: str, now: datetime) -> int:
    """Move every inbox message of `kind` to Deleted."""
    with store.transaction() as s:
        rows = s.scalars(
            select(Message).where(
                Message.line_number == line.number,
                Message.folder == "inbox",
                Message.kind == kind,
            )
        ).all()
        for m in rows:
            m.folder = "deleted"
            m.deleted_at = now
            _changed(s, m, "deleted")
        if rows:
            s.flush()
            repository.mailbox_changed(s, line.number)
    logger.info("line %s: %s %s message(s) moved to Deleted", line.number, len(rows), kind)
    return len(rows)


def _siblings(m_path: str, kind: str) -> list[str]:
    paths = [m_path]
    if kind == "fax":
        p = PurePosixPath(m_path)
        for suffix in (".pdf", ".tif", ".tiff"):
            other = str(p.with_suffix(suffix))
            if other != m_path:
                paths.append(other)
    return paths


def _purge(s: Session, rows: Sequence[Message]) -> list[str]:
    paths: list[str] = []
    for m in rows:
        m.folder = "deleted"
        enqueue(
            s,
            MessageChanged(
                line=m.line_number,
                message_id=m.id,
                change="purged",
                folder="deleted",
                heard=m.heard,
            ),
        )
        paths += _siblings(m.file_path, m.kind)
    ids = [m.id for m in rows]
    s.execute(delete(Message).where(Message.id.in_(ids)))
    return paths


def _remove(files: FileStore, paths: Sequence[str]) -> None:
    for rel in paths:
        try:
            files.remove(rel)
        except ValueError:
            logger.warning("a purged message pointed outside the storage root: %r", rel)


def purge(store: Store, files: FileStore, line: LineRef, message_id: int) -> None:
    """Remove a message of the Deleted tab for good (row first, then its file)."""
    with store.transaction() as s:
        m = _owned(s, line, message_id)
        if m.folder != "deleted":
            raise Refused(
                409,
                "message-not-deleted",
                Msg("Only messages in Deleted can be deleted for good: delete it first."),
            )
        paths = _purge(s, [m])
        repository.mailbox_changed(s, line.number)
    _remove(files, paths)
    logger.info("line %s: message %s purged", line.number, message_id)


def purge_all(store: Store, files: FileStore, line: LineRef) -> int:
    with store.transaction() as s:
        rows = s.scalars(
            select(Message).where(Message.line_number == line.number, Message.folder == "deleted")
        ).all()
        paths = _purge(s, rows)
        if rows:
            repository.mailbox_changed(s, line.number)
    _remove(files, paths)
    logger.info("line %s: %s deleted message(s) purged", line.number, len(rows))
    return len(rows)


# ------------------------------------------------------------------------------------------------
# Files


@dataclass(frozen=True)
class StoredFile:
    path: Path
    filename: str
    media_type: str


def _stamp(m: Message, timezone: str) -> str:
    return m.received_at.astimezone(ZoneInfo(timezone)).strftime("%Y%m%d-%H%M")


def audio_file(
    store: Store, files: FileStore, auth: Auth, line: LineRef, message_id: int
) -> StoredFile:
    with store.read() as s:
        m = _owned(s, line, message_id)
        if m.kind != "voice":
            raise Refused(404, "not-a-voice-message", Msg("This message is a fax: view it as PDF."))
        rel, name = (
            m.file_path,
            f"message-{_stamp(m, auth.timezone)}-{m.caller_number or 'anonymous'}.wav",
        )
    return StoredFile(_existing(files, rel), name, "audio/wav")


def pdf_file(
    store: Store, files: FileStore, auth: Auth, line: LineRef, message_id: int
) -> StoredFile:
    with store.read() as s:
        m = _owned(s, line, message_id)
        if m.kind != "fax":
            raise Refused(404, "not-a-fax", Msg("This message is a voice message: play it."))
        rel = m.file_path
        if not rel.endswith(".pdf"):
            rel = str(PurePosixPath(rel).with_suffix(".pdf"))
        name = f"fax-{_stamp(m, auth.timezone)}-{m.caller_number or 'anonymous'}.pdf"
    return StoredFile(_existing(files, rel), name, "application/pdf")


def _existing(files: FileStore, rel: str) -> Path:
    try:
        path = files.path(rel)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        logger.error("stored file %r of a message is missing", rel)
        raise Refused(410, "file-missing", Msg("The file of this message is missing."))
    return path


def _stretchable(svg: str) -> str:
    """The picture fills whatever box the page gives it (no letterboxing)."""
    return svg.replace("<svg ", '<svg preserveAspectRatio="none" ', 1)


@lru_cache(maxsize=512)
def _wave_svg(path: str, size: int, mtime: float) -> str:
    samples = convert.load_wav(Path(path))
    return _stretchable(waveform.waveform_svg(samples, 120, width=360, height=48, color=WAVE_COLOR))


def waveform_svg(store: Store, files: FileStore, auth: Auth, line: LineRef, message_id: int) -> str:
    """The message's waveform picture (media.waveform), cached per file."""
    stored = audio_file(store, files, auth, line, message_id)
    st = stored.path.stat()
    try:
        return _wave_svg(str(stored.path), st.st_size, st.st_mtime)
    except ValueError as exc:
        logger.warning("no waveform for message %s: %s", message_id, exc)
        return _stretchable(waveform.svg([0.0] * 120, width=360, height=48, color=WAVE_COLOR))


# ------------------------------------------------------------------------------------------------
# Call log


DISPOSITIONS = {
    "answered": Msg("answered"),
    "voicemail": Msg("message left"),
    "abandoned": Msg("hung up"),
    "rejected": Msg("rejected"),
    "forwarded": Msg("forwarded"),
}


def count_calls(store: Store, line: LineRef, direction: str) -> int:
    with store.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(CallLogEntry)
                .where(CallLogEntry.line_number == line.number, CallLogEntry.direction == direction)
            )
            or 0
        )


def list_calls(
    store: Store,
    auth: Auth,
    line: LineRef,
    direction: str,
    lang: str,
    now: datetime,
    *,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> list[CallOut]:
    """One page of the missed or received calls, newest first (ix_call_log_line)."""
    with store.read() as s:
        rows = s.scalars(
            select(CallLogEntry)
            .where(CallLogEntry.line_number == line.number, CallLogEntry.direction == direction)
            .order_by(CallLogEntry.started_at.desc(), CallLogEntry.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        index = name_index(s, auth.account_id)
        out = []
        for c in rows:
            known = index.get(number_key(c.caller_number)) if c.caller_number else None
            out.append(
                CallOut(
                    id=c.id,
                    direction=c.direction,  # type: ignore[arg-type]
                    caller_number=c.caller_number,
                    caller_name=c.caller_name,
                    contact_id=known.contact_id if known else None,
                    display_name=_display(c.caller_number, known, lang),
                    started_at=c.started_at,
                    started_local=format_when(c.started_at, auth.timezone, lang, now),
                    duration_seconds=round(c.duration_seconds, 1),
                    disposition=c.disposition,
                    not_accepted=list(c.not_accepted or []),
                )
            )
    return out


def calls_csv(calls: Sequence[CallOut], timezone: str, lang: str) -> bytes:
    """The call list as CSV (UTF-8 with BOM, CRLF); formula-like cells are neutralised."""
    tz = ZoneInfo(timezone)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(
        [
            Msg("Date").render(lang),
            Msg("Number").render(lang),
            Msg("Name").render(lang),
            Msg("Contact").render(lang),
            Msg("Duration (s)").render(lang),
            Msg("Result").render(lang),
        ]
    )
    for c in calls:
        w.writerow(
            [
                neutralise(c.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")),
                neutralise(c.caller_number or anonymous_label(lang)),
                neutralise(c.caller_name or ""),
                neutralise(c.display_name if c.contact_id else ""),
                f"{c.duration_seconds:.0f}",
                neutralise(
                    DISPOSITIONS.get(c.disposition, Msg("%(value)s", value=c.disposition)).render(
                        lang
                    )
                ),
            ]
        )
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
