"""Message-waiting indication (SPEC S6): who gets which message-summary, and its body.

Rules of this file:
- A mailbox's lamps are its line's MWI targets (notification_target rows, channel "mwi"), when
  the line's notification settings have MWI on. Only targets that are local lines can get a
  NOTIFY (their phones register at the edge); other numbers are skipped.
- A target's types choose what it is told: all_voice -> every voice message, urgent_voice
  alone -> urgent voice messages only, all_faxes -> faxes. Messages-Waiting is "yes" when
  something it is told about is new.
- `body()` is pure (RFC 3842 simple-message-summary); `for_mailbox()` (counts changed) and
  `for_registered_line()` (a phone of that line registered: re-assert its lamps) read the store
  and return the notices; the worker sends them as unsolicited NOTIFYs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import repository
from store.models import Line, NotificationSettings, NotificationTarget

EVENT = "message-summary"
CONTENT_TYPE = "application/simple-message-summary"


@dataclass(frozen=True)
class Notice:
    """One NOTIFY: the mailbox's summary for the phones of line `target`."""

    mailbox: str
    target: str
    body: bytes


def body(counts: repository.Counts, types: frozenset[str], account: str) -> bytes:
    """RFC 3842 message summary of `counts` as a target with `types` sees it."""
    lines = []
    waiting = False
    if "all_voice" in types:
        new, old = counts.voice_new, counts.voice_old
        lines.append(
            f"Voice-Message: {new}/{old} ({counts.voice_urgent_new}/{counts.voice_urgent_old})"
        )
        waiting |= new > 0
    elif "urgent_voice" in types:
        new, old = counts.voice_urgent_new, counts.voice_urgent_old
        lines.append(f"Voice-Message: {new}/{old} ({new}/{old})")
        waiting |= new > 0
    if "all_faxes" in types:
        lines.append(f"Fax-Message: {counts.fax_new}/{counts.fax_old}")
        waiting |= counts.fax_new > 0
    head = [f"Messages-Waiting: {'yes' if waiting else 'no'}", f"Message-Account: {account}"]
    return ("\r\n".join(head + lines) + "\r\n").encode()


def _enabled(session: Session, mailbox: str) -> bool:
    settings = session.get(NotificationSettings, mailbox)
    return settings is None or settings.mwi_enabled


def _notice(session: Session, row: NotificationTarget, domain: str) -> Notice:
    counts = repository.mailbox_counts(session, row.line_number)
    return Notice(
        mailbox=row.line_number,
        target=row.address,
        body=body(counts, frozenset(row.types), f"sip:{row.line_number}@{domain}"),
    )


def for_mailbox(session: Session, mailbox: str, domain: str) -> list[Notice]:
    """The NOTIFYs that show `mailbox`'s current counts on every lamp it lights."""
    if not _enabled(session, mailbox):
        return []
    rows = session.scalars(
        select(NotificationTarget)
        .where(NotificationTarget.line_number == mailbox, NotificationTarget.channel == "mwi")
        .order_by(NotificationTarget.id)
    ).all()
    return [_notice(session, r, domain) for r in rows if session.get(Line, r.address) is not None]


def for_registered_line(session: Session, line: str, domain: str) -> list[Notice]:
    """The NOTIFYs that re-assert, on a phone of `line` that just registered, every lamp of a
    mailbox that has `line` as an MWI target."""
    rows = session.scalars(
        select(NotificationTarget)
        .where(NotificationTarget.channel == "mwi", NotificationTarget.address == line)
        .order_by(NotificationTarget.id)
    ).all()
    return [_notice(session, r, domain) for r in rows if _enabled(session, r.line_number)]
