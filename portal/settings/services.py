"""Message settings of a mailbox and its greetings (SPEC S2, S5, S8).

Rules of this file:
- save() merges a partial update, checks the whole result, then writes the mailbox row and a
  settings.changed event in one transaction; a refused update writes nothing.
- A greeting that is chosen (personal) or switched on (busy, no answer, extended absence)
  must have a recording; a recording in use cannot be deleted. Only a change is checked: an
  extra greeting switched on by phone before it was recorded (callers then hear a system
  greeting, ivr.greeting) stays on and does not block the rest of the page.
- Greeting files: decoded to 8 kHz WAV (portal.audio), stored with FileStore under
  greetings/<line>/, renamed into place before their row commits; the file they replace is
  removed after the commit.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from events.events import SettingsChanged
from events.outbox import enqueue
from portal import validate
from portal.audio import accept
from portal.auth.services import Auth, LineRef
from portal.errors import Problems, Refused
from portal.i18n import Msg
from portal.settings.schemas import GreetingOut, MessageSettingsIn, MessageSettingsOut
from store.files import FileStore
from store.models import GREETING_KINDS, Greeting, Mailbox, utcnow
from store.session import Store

logger = logging.getLogger(__name__)

MAX_EMAILS = 10
EXTRA = {
    "busy": "busy_greeting_enabled",
    "no_answer": "no_answer_greeting_enabled",
    "extended_absence": "extended_absence_enabled",
}

GREETING_NAMES = {
    "personal": Msg("personal greeting"),
    "busy": Msg("busy greeting"),
    "no_answer": Msg("no-answer greeting"),
    "extended_absence": Msg("extended-absence greeting"),
    "name": Msg("recorded name"),
}


def _mailbox(s: Session, number: str) -> Mailbox:
    mailbox = s.get(Mailbox, number)
    if mailbox is None:
        raise Refused(404, "mailbox-not-found", Msg("This line has no mailbox."))
    return mailbox


def greetings(store: Store, line: LineRef) -> list[GreetingOut]:
    with store.read() as s:
        rows = {
            g.kind: g
            for g in s.scalars(select(Greeting).where(Greeting.line_number == line.number))
        }
    return [
        GreetingOut(
            kind=kind,  # type: ignore[arg-type]
            recorded=kind in rows,
            duration_seconds=round(rows[kind].duration_seconds, 2) if kind in rows else None,
            updated_at=rows[kind].updated_at if kind in rows else None,
        )
        for kind in GREETING_KINDS
    ]


def load(store: Store, line: LineRef) -> MessageSettingsOut:
    with store.read() as s:
        m = _mailbox(s, line.number)
        out = MessageSettingsOut(
            line=line.number,
            forward_to_email=m.forward_to_email,
            forward_emails=list(m.forward_emails or []),
            keep_original=m.keep_original,
            skip_pin=m.skip_pin,
            quick_login=m.quick_login,
            autoplay_voice=m.autoplay_voice,
            autoplay_fax=m.autoplay_fax,
            envelope_mode=m.envelope_mode,  # type: ignore[arg-type]
            language=m.language,  # type: ignore[arg-type]
            greeting=m.greeting,  # type: ignore[arg-type]
            busy_greeting_enabled=m.busy_greeting_enabled,
            no_answer_greeting_enabled=m.no_answer_greeting_enabled,
            extended_absence_enabled=m.extended_absence_enabled,
            greetings=[],
            pin_locked_until=(
                m.pin_locked_until
                if m.pin_locked_until is not None and m.pin_locked_until > utcnow()
                else None
            ),
        )
    out.greetings = greetings(store, line)
    return out


def check(merged: MessageSettingsOut, current: MessageSettingsOut | None = None) -> list[str]:
    """The checked e-mail addresses of `merged` (the update of `current`), or Invalid."""
    problems = Problems()
    emails: list[str] = []
    for i, raw in enumerate(merged.forward_emails):
        value = validate.email(raw, f"forward_emails.{i}", problems)
        if value is not None and value.lower() not in (e.lower() for e in emails):
            emails.append(value)
    if len(emails) > MAX_EMAILS:
        problems.add(
            "forward_emails",
            "too-many-addresses",
            Msg("You can forward to at most %(max)s addresses.", max=MAX_EMAILS),
        )
    if merged.forward_to_email and not emails and not problems.has("forward_emails"):
        problems.add(
            "forward_emails",
            "required",
            Msg("Add the e-mail address your messages and faxes go to."),
        )
    recorded = {g.kind for g in merged.greetings if g.recorded}
    if (
        merged.greeting == "personal"
        and "personal" not in recorded
        and (current is None or current.greeting != "personal")
    ):
        problems.add(
            "greeting",
            "greeting-not-recorded",
            Msg("Record or upload your personal greeting first."),
        )
    for kind, flag in EXTRA.items():
        already_on = current is not None and getattr(current, flag)
        if getattr(merged, flag) and kind not in recorded and not already_on:
            problems.add(
                flag,
                "greeting-not-recorded",
                Msg("Record or upload the %(greeting)s first.", greeting=GREETING_NAMES[kind]),
            )
    problems.check()
    return emails


def save(store: Store, auth: Auth, line: LineRef, update: MessageSettingsIn) -> MessageSettingsOut:
    current = load(store, line)
    merged = current.model_copy(update=update.model_dump(exclude_unset=True))
    emails = check(merged, current)
    with store.transaction() as s:
        m = _mailbox(s, line.number)
        m.forward_to_email = merged.forward_to_email
        m.forward_emails = emails
        m.keep_original = merged.keep_original
        m.skip_pin = merged.skip_pin
        m.quick_login = merged.quick_login
        m.autoplay_voice = merged.autoplay_voice
        m.autoplay_fax = merged.autoplay_fax
        m.envelope_mode = merged.envelope_mode
        m.language = merged.language
        m.greeting = merged.greeting
        m.busy_greeting_enabled = merged.busy_greeting_enabled
        m.no_answer_greeting_enabled = merged.no_answer_greeting_enabled
        m.extended_absence_enabled = merged.extended_absence_enabled
        enqueue(s, SettingsChanged(line=line.number, section="message"))
    logger.info("message settings of line %s saved (account %s)", line.number, auth.account_id)
    return load(store, line)


# ------------------------------------------------------------------------------------------------
# Greetings


def _kind(kind: str) -> str:
    if kind not in GREETING_KINDS:
        raise Refused(404, "unknown-greeting", Msg("There is no such greeting."))
    return kind


def store_greeting(
    store: Store,
    files: FileStore,
    auth: Auth,
    line: LineRef,
    kind: str,
    data: bytes,
    *,
    max_bytes: int,
    max_seconds: int,
    time_limit: float,
) -> GreetingOut:
    """Decode and keep a greeting (replacing the one of the same kind)."""
    _kind(kind)
    wav = accept(
        data,
        max_seconds=max_seconds,
        max_bytes=max_bytes,
        time_limit=time_limit,
        too_long=Msg("A greeting can last at most %(max)s seconds."),
        empty=Msg("The recording is empty."),
    )
    relpath = files.new_name(f"greetings/{line.number}", ".wav")
    replaced: list[str] = []

    def commit_row() -> None:
        with store.transaction() as s:
            _mailbox(s, line.number)
            row = s.scalar(
                select(Greeting).where(Greeting.line_number == line.number, Greeting.kind == kind)
            )
            if row is None:
                s.add(
                    Greeting(
                        line_number=line.number,
                        kind=kind,
                        file_path=relpath,
                        duration_seconds=wav.duration_seconds,
                    )
                )
            else:
                replaced.append(row.file_path)
                row.file_path = relpath
                row.duration_seconds = wav.duration_seconds
                row.updated_at = utcnow()
            enqueue(s, SettingsChanged(line=line.number, section="greeting"))

    files.store_file_then_row(relpath, wav.data, commit_row)
    for old in replaced:
        files.remove(old)
    logger.info(
        "greeting %s of line %s stored (%.1f s, account %s)",
        kind,
        line.number,
        wav.duration_seconds,
        auth.account_id,
    )
    return next(g for g in greetings(store, line) if g.kind == kind)


def greeting_path(store: Store, files: FileStore, line: LineRef, kind: str) -> Path:
    _kind(kind)
    with store.read() as s:
        row = s.scalar(
            select(Greeting).where(Greeting.line_number == line.number, Greeting.kind == kind)
        )
        rel = row.file_path if row else None
    if rel is None or not files.exists(rel):
        raise Refused(404, "greeting-not-recorded", Msg("This greeting has no recording."))
    return files.path(rel)


def delete_greeting(store: Store, files: FileStore, auth: Auth, line: LineRef, kind: str) -> None:
    _kind(kind)
    with store.transaction() as s:
        m = _mailbox(s, line.number)
        in_use = (kind == "personal" and m.greeting == "personal") or (
            kind in EXTRA and getattr(m, EXTRA[kind])
        )
        if in_use:
            raise Refused(
                409,
                "greeting-in-use",
                Msg(
                    "This greeting is in use: choose another greeting or switch the option off, "
                    "apply, then delete it."
                ),
            )
        row = s.scalar(
            select(Greeting).where(Greeting.line_number == line.number, Greeting.kind == kind)
        )
        if row is None:
            raise Refused(404, "greeting-not-recorded", Msg("This greeting has no recording."))
        rel = row.file_path
        s.delete(row)
        enqueue(s, SettingsChanged(line=line.number, section="greeting"))
    files.remove(rel)
    logger.info("greeting %s of line %s deleted (account %s)", kind, line.number, auth.account_id)
