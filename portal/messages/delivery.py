"""Voice messages sent from the portal into local mailboxes: forward as voicemail, reply, new
voice message (SPEC S5 "reply/forward", S8).

Rules of this file:
- A destination is a group phone code of the account (its members' mailboxes) or a number;
  a number is normalised and must pass the dial plan (routing.numbers) and be a line of this
  service with a mailbox: voice messages are not sent anywhere else.
- A typed number without a mailbox, or whose mailbox is full, refuses the whole request
  (nothing is sent). Group members without a mailbox (or with a full one) are skipped and
  reported, like the phone menu does; the sender's own mailbox is not sent its group's copy.
- Delivery is all or nothing: every file is renamed into place first, then one transaction
  writes every message row with its message.deposited and mailbox.counts events; if it fails
  the files are removed again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from events.events import MessageDeposited
from events.outbox import enqueue
from media import convert
from portal import validate
from portal.audio import accept
from portal.auth.services import Auth, LineRef
from portal.contacts.services import number_key
from portal.errors import Problems, Refused
from portal.i18n import Msg, format_number
from routing.model import DialPlan
from routing.numbers import for_account
from store import repository
from store.files import FileStore
from store.models import Contact, ContactGroup, GroupMember, Line, Mailbox, Message
from store.session import Store

logger = logging.getLogger(__name__)

MAX_DESTINATIONS = 100
INTRO_GAP_SECONDS = 0.4
MEMBER_FIELDS = ("business_phone", "mobile_phone", "home_phone", "other_phone")


@dataclass(frozen=True)
class Skip:
    number: str
    error: str
    message: Msg


@dataclass
class Targets:
    mailboxes: list[str] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def add(self, box: str) -> None:
        if box not in self.mailboxes:
            self.mailboxes.append(box)


def _mailbox_of(s: Session, digits: str) -> str | None:
    return digits if len(digits) == 10 and s.get(Mailbox, digits) is not None else None


def _full(s: Session, box: str) -> bool:
    return repository.mailbox_counts(s, box).full


def resolve(
    s: Session,
    auth: Auth,
    sender: LineRef,
    entries: Sequence[str],
    problems: Problems,
    *,
    plan: DialPlan,
    field_name: str = "to",
    targets: Targets | None = None,
) -> Targets:
    """The mailboxes `entries` (numbers and group phone codes) deliver to; field problems are
    added to `problems`."""
    targets = targets or Targets()
    cleaned = [e.strip() for e in entries if e and e.strip()]
    if len(cleaned) > MAX_DESTINATIONS:
        problems.add(
            field_name,
            "too-many-destinations",
            Msg("At most %(max)s destinations.", max=MAX_DESTINATIONS),
        )
        return targets
    account = repository.get_line(s, sender.number).account
    for i, entry in enumerate(cleaned):
        name = f"{field_name}.{i}"
        code = "".join(ch for ch in entry if ch.isdigit())
        group = None
        if code and len(code) < 10 and code == entry.replace(" ", ""):
            group = s.scalar(
                select(ContactGroup).where(
                    ContactGroup.account_id == auth.account_id, ContactGroup.phone_code == code
                )
            )
        if group is not None:
            _group(s, group, sender, targets, problems, name)
            continue
        number = validate.destination(
            entry,
            name,
            problems,
            for_account(plan, account.allow_nanp_abroad),
            account.allow_international,
        )
        if number is None:
            continue
        box = _mailbox_of(s, number)
        if box is None:
            problems.add(
                name,
                "not-a-mailbox",
                Msg(
                    "%(number)s has no mailbox on this service: voice messages can only be "
                    "sent to its subscribers.",
                    number=format_number(number),
                ),
            )
        elif _full(s, box):
            problems.add(
                name,
                "mailbox-full",
                Msg("The mailbox of %(number)s is full.", number=format_number(number)),
            )
        else:
            targets.add(box)
    return targets


def _group(
    s: Session,
    group: ContactGroup,
    sender: LineRef,
    targets: Targets,
    problems: Problems,
    name: str,
) -> None:
    members = s.scalars(
        select(Contact)
        .join(GroupMember, GroupMember.contact_id == Contact.id)
        .where(GroupMember.group_id == group.id)
        .order_by(Contact.id)
    ).all()
    found = 0
    for c in members:
        who = " ".join(p for p in (c.first_name, c.last_name) if p) or c.company or c.nickname
        boxes = [b for f in MEMBER_FIELDS if (b := _mailbox_of(s, number_key(getattr(c, f))))]
        box = next(iter(boxes), None)
        if box is None:
            targets.skipped.append(
                Skip(
                    who,
                    "no-mailbox",
                    Msg("%(name)s has no mailbox on this service.", name=who),
                )
            )
            continue
        if box == sender.number:
            continue
        if _full(s, box):
            targets.skipped.append(
                Skip(box, "mailbox-full", Msg("The mailbox of %(name)s is full.", name=who))
            )
            continue
        targets.add(box)
        found += 1
    if not found:
        problems.add(
            name,
            "group-without-mailbox",
            Msg(
                "No member of the group %(group)s has a mailbox on this service.",
                group=group.name,
            ),
        )


def caller_mailbox(s: Session, caller_number: str | None) -> str | None:
    return _mailbox_of(s, number_key(caller_number)) if caller_number else None


# ------------------------------------------------------------------------------------------------
# Audio


def voice(data: bytes, *, max_seconds: int, max_bytes: int, time_limit: float) -> bytes:
    """A recording or an uploaded file as an 8 kHz WAV (media.convert), else Refused."""
    return accept(
        data,
        max_seconds=max_seconds,
        max_bytes=max_bytes,
        time_limit=time_limit,
        too_long=Msg("A message can last at most %(max)s seconds."),
        empty=Msg("Record your message first."),
    ).data


def with_intro(intro: bytes | None, original: bytes) -> bytes:
    """The intro, a short pause, then the original message."""
    if not intro:
        return original
    gap = np.zeros(int(convert.RATE * INTRO_GAP_SECONDS), dtype=np.int16)
    return convert.write_wav(
        np.concatenate([convert.read_wav(intro), gap, convert.read_wav(original)])
    )


# ------------------------------------------------------------------------------------------------
# Delivery


def deliver(
    store: Store,
    files: FileStore,
    sender: LineRef,
    boxes: Sequence[str],
    data: bytes,
    *,
    origin: str,
    original_id: int | None,
    urgent: bool,
    private: bool,
    now: datetime,
) -> list[tuple[str, int]]:
    """Put the WAV `data` into each mailbox of `boxes` as a new message; (box, id) each."""
    seconds = round(convert.duration_s(convert.read_wav(data)), 3)
    written: list[str] = []
    done: list[tuple[str, int]] = []
    try:
        for box in boxes:
            rel = files.new_name(f"messages/{box}", ".wav")
            files.write_atomic(rel, data)
            written.append(rel)
        with store.transaction() as s:
            line = s.get(Line, sender.number)
            sender_name = line.account.display_name if line is not None else None
            for box, rel in zip(boxes, written, strict=True):
                if _full(s, box):
                    raise Refused(
                        409,
                        "mailbox-full",
                        Msg("The mailbox of %(number)s is full.", number=format_number(box)),
                    )
                m = Message(
                    line_number=box,
                    kind="voice",
                    folder="inbox",
                    urgent=urgent,
                    private=private,
                    caller_number=sender.number,
                    caller_name=sender_name,
                    received_at=now,
                    duration_seconds=seconds,
                    size_bytes=len(data),
                    file_path=rel,
                    origin=origin,
                    original_message_id=original_id,
                )
                s.add(m)
                s.flush()
                enqueue(
                    s,
                    MessageDeposited(
                        line=box,
                        message_id=m.id,
                        kind="voice",
                        urgent=urgent,
                        private=private,
                        caller_number=sender.number,
                        caller_name=sender_name,
                        received_at=now.isoformat(),
                        duration_seconds=seconds,
                        origin=origin,
                    ),
                )
                repository.mailbox_changed(s, box)
                done.append((box, m.id))
    except BaseException:
        for rel in written:
            files.remove(rel)
        raise
    logger.info(
        "line %s: %s message (%.1f s) delivered to %s",
        sender.number,
        origin,
        seconds,
        ", ".join(box for box, _ in done),
    )
    return done
