"""Rows <-> the routing engine's dataclasses, provisioning, and mailbox bookkeeping.

Rules of this file:
- Functions take a Session inside the caller's transaction and never commit.
- Validation of numbers and secrets happens here (store.credentials), so the CLI, the portal
  and the IVR share one set of rules; errors are ValueError with the user-facing message.
- Every change of a mailbox's counts goes through `mailbox_changed`, which writes the
  mailbox.counts event to the outbox in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    BindParameter,
    Table,
    bindparam,
    delete,
    exists,
    func,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from events.events import SWITCH_CONSUMER, MailboxCounts
from events.outbox import enqueue
from routing.model import (
    ACCOUNT_PHONE,
    DialPlan,
    FallbackAction,
    IncomingMode,
    LineSettings,
    PhoneState,
    RingEntry,
    RingTable,
)
from routing.numbers import for_account
from store import credentials
from store.models import (
    MESSAGE_TYPES,
    Account,
    CallSettings,
    Device,
    Line,
    Mailbox,
    Message,
    NotificationSettings,
    NotificationTarget,
    RingEntryRow,
    ScreeningEntry,
)
from store.session import core


class NotFound(LookupError):
    """A line, account or device that does not exist."""


# ------------------------------------------------------------------------------------------------
# Provisioning


@dataclass(frozen=True)
class MailboxDefaults:
    quota_seconds: int = 3600
    max_message_seconds: int = 180
    min_message_seconds: float = 1.0


def get_line(session: Session, number: str) -> Line:
    line = session.get(Line, number)
    if line is None:
        raise NotFound(f"line {number} does not exist")
    return line


def _ensure_new_number(session: Session, number: str) -> None:
    credentials.validate_number(number)
    if session.get(Line, number) is not None:
        raise ValueError(f"the number {number} is already in use")
    if session.scalar(select(Line.number).where(Line.fax_number == number)) is not None:
        raise ValueError(f"the number {number} is already in use as a fax number")


def set_fax_number(session: Session, line_number: str, fax_number: str | None) -> Line:
    """Give line `line_number` a fax number (calls to it go to its fax receiver), or none."""
    line = get_line(session, line_number)
    if fax_number is not None:
        credentials.validate_number(fax_number)
        if session.get(Line, fax_number) is not None:
            raise ValueError(f"the fax number {fax_number} is a line number")
        owner = session.scalar(select(Line.number).where(Line.fax_number == fax_number))
        if owner is not None and owner != line_number:
            raise ValueError(f"the fax number {fax_number} is already used by line {owner}")
    line.fax_number = fax_number
    session.flush()
    return line


def _new_line(
    session: Session,
    account: Account,
    number: str,
    *,
    is_primary: bool,
    pin_hash: str,
    language: str,
    mailbox: MailboxDefaults,
) -> Line:
    line = Line(number=number, account=account, is_primary=is_primary)
    session.add(line)
    session.flush()  # the rows below reference the line by number, not by relationship
    session.add(
        Mailbox(
            line_number=number,
            pin_hash=pin_hash,
            quota_seconds=mailbox.quota_seconds,
            max_message_seconds=mailbox.max_message_seconds,
            min_message_seconds=mailbox.min_message_seconds,
            language=language,
        )
    )
    session.add(CallSettings(line_number=number))
    session.add(NotificationSettings(line_number=number))
    # The lamp on the subscriber's own phone works out of the box (SPEC S6).
    session.add(
        NotificationTarget(
            line_number=number, channel="mwi", address=number, types=list(MESSAGE_TYPES)
        )
    )
    return line


def create_account(
    session: Session,
    *,
    number: str,
    name: str,
    password: str,
    pin: str,
    language: str = "fr",
    timezone: str = "America/Toronto",
    mailbox: MailboxDefaults | None = None,
) -> Account:
    """An account with primary line `number`, its mailbox and default settings.

    The same PIN is both the call-services PIN and the voicemail PIN until changed.
    """
    _ensure_new_number(session, number)
    name = name.strip()
    if not name or len(name) > 120:
        raise ValueError("the name must have 1 to 120 characters")
    if language not in ("fr", "en"):
        raise ValueError("the language must be fr or en")
    _check_timezone(timezone)
    credentials.validate_password(password, number)
    credentials.validate_pin(pin, number)
    account = Account(
        display_name=name,
        password_hash=credentials.hash_secret(password),
        services_pin_hash=credentials.hash_secret(pin),
        timezone=timezone,
        language=language,
    )
    session.add(account)
    _new_line(
        session,
        account,
        number,
        is_primary=True,
        pin_hash=credentials.hash_secret(pin),
        language=language,
        mailbox=mailbox or MailboxDefaults(),
    )
    session.flush()
    return account


def add_line(
    session: Session, *, account_number: str, number: str, mailbox: MailboxDefaults | None = None
) -> Line:
    """A secondary line on the account whose primary (or any) line is `account_number`.

    Its mailbox starts with the voicemail PIN of the account's primary mailbox.
    """
    owner = get_line(session, account_number)
    _ensure_new_number(session, number)
    account = owner.account
    primary = next((ln for ln in account.lines if ln.is_primary), owner)
    assert primary.mailbox is not None
    line = _new_line(
        session,
        account,
        number,
        is_primary=False,
        pin_hash=primary.mailbox.pin_hash,
        language=account.language,
        mailbox=mailbox or MailboxDefaults(),
    )
    session.flush()
    return line


def add_device(
    session: Session,
    *,
    number: str,
    username: str,
    password: str,
    domain: str,
    contact: str | None = None,
) -> Device:
    """A SIP device of line `number`; only digest HA1 values of the password are kept."""
    get_line(session, number)
    credentials.validate_username(username)
    credentials.validate_device_password(password)
    if contact is not None:
        _check_sip_uri(contact)
    if session.scalar(select(Device).where(Device.username == username, Device.domain == domain)):
        raise ValueError(f"the SIP username {username} is already in use")
    device = Device(
        line_number=number,
        username=username,
        domain=domain,
        ha1=credentials.digest_ha1(username, domain, password),
        ha1b=credentials.digest_ha1b(username, domain, domain, password),
        contact_uri=contact,
    )
    session.add(device)
    session.flush()
    return device


def _check_sip_uri(uri: str) -> None:
    if not re.fullmatch(r"sips?:([^@\s;]+@)?[A-Za-z0-9.\-\[\]:]+(;[^\s]*)?", uri):
        raise ValueError(f"{uri!r} is not a SIP URI such as sip:alice@192.0.2.10:5060")


def _check_timezone(tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None


# ------------------------------------------------------------------------------------------------
# Call settings <-> routing.model.LineSettings


def _line_settings_statements() -> tuple[Executable, Executable, Executable]:
    number: BindParameter[str] = bindparam("number")
    calls = cast(Table, CallSettings.__table__)
    line = (
        select(
            Line.number,
            Account.allow_international,
            Account.allow_nanp_abroad,
            exists().where(Mailbox.line_number == Line.number).label("has_mailbox"),
            exists().where(Device.line_number == Line.number).label("has_devices"),
            *(c for c in calls.c if c.name != "line_number"),
        )
        .select_from(Line)
        .join(Account, Account.id == Line.account_id)
        .outerjoin(calls, calls.c.line_number == Line.number)
        .where(Line.number == number)
    )
    entries = (
        select(
            RingEntryRow.number,
            RingEntryRow.cells,
            RingEntryRow.allow_remote_forwarding,
            RingEntryRow.confirm_answer,
        )
        .where(RingEntryRow.line_number == number)
        .order_by(RingEntryRow.position)
    )
    screening = select(ScreeningEntry.list, ScreeningEntry.number).where(
        ScreeningEntry.line_number == number
    )
    return line, entries, screening


_LINE, _RING_ENTRIES, _SCREENING = _line_settings_statements()
"""Built once: line_settings runs for every call (three Core queries, no ORM objects)."""
_LOCAL_NUMBERS = select(Line.number).where(Line.number.in_(bindparam("numbers", expanding=True)))
"""Which numbers of a ring table are lines of the installation (only when it has any)."""


def line_settings(
    session: Session,
    number: str,
    *,
    dial_plan: DialPlan | None = None,
    forward_timeout: int = 30,
    max_diversions: int = 5,
) -> LineSettings | None:
    """The routing engine's view of line `number`, or None when the line does not exist."""
    params = {"number": number}
    conn = core(session)
    cs = conn.execute(_LINE, params).one_or_none()
    if cs is None:
        return None
    entries = conn.execute(_RING_ENTRIES, params).all()
    screening = conn.execute(_SCREENING, params).all()
    outside = [e.number for e in entries if e.number != ACCOUNT_PHONE]
    local_numbers = (
        frozenset(conn.execute(_LOCAL_NUMBERS, {"numbers": outside}).scalars().all())
        if outside
        else frozenset()
    )
    return LineSettings(
        line=number,
        has_mailbox=bool(cs.has_mailbox),
        has_devices=bool(cs.has_devices),
        phone_state=PhoneState(cs.phone_state or "available"),
        incoming_mode=IncomingMode(cs.incoming_mode or "ring_account"),
        forward_all_to=cs.forward_all_to,
        ring_table=RingTable(
            tuple(
                RingEntry(
                    number=e.number,
                    cells=tuple(e.cells),
                    allow_remote_forwarding=e.allow_remote_forwarding,
                    confirm_answer=e.confirm_answer,
                )
                for e in entries
            )
        ),
        no_answer_action=FallbackAction(cs.no_answer_action or "voicemail"),
        no_answer_to=cs.no_answer_to,
        no_answer_timeout=cs.no_answer_timeout or 24,
        busy_action=FallbackAction(cs.busy_action or "voicemail"),
        busy_to=cs.busy_to,
        unavailable_forwarding=bool(cs.unavailable_forwarding),
        unavailable_to=cs.unavailable_to,
        selective_forwarding=bool(cs.selective_forwarding),
        selective_forward_to=cs.selective_forward_to,
        forward_list=frozenset(n for lst, n in screening if lst == "forward"),
        selective_rejection=bool(cs.selective_rejection),
        reject_list=frozenset(n for lst, n in screening if lst == "reject"),
        anonymous_rejection=bool(cs.anonymous_rejection),
        allow_international=cs.allow_international,
        dial_plan=for_account(dial_plan or DialPlan(), bool(cs.allow_nanp_abroad)),
        local_numbers=local_numbers,
        forward_timeout=forward_timeout,
        max_diversions=max_diversions,
    )


def forward_targets(session: Session, number: str) -> set[str]:
    """The numbers line `number` forwards calls to with its saved settings (every condition:
    all calls, no answer, busy, unavailable, selective); empty for a number that is no line."""
    cs = session.get(CallSettings, number)
    if cs is None:
        return set()
    active = [
        cs.forward_all_to if cs.incoming_mode == "forward_all" else None,
        cs.no_answer_to if cs.no_answer_action == "number" else None,
        cs.busy_to if cs.busy_action == "number" else None,
        cs.unavailable_to if cs.unavailable_forwarding else None,
        cs.selective_forward_to if cs.selective_forwarding else None,
    ]
    return {n for n in active if n}


def save_line_settings(session: Session, settings: LineSettings) -> None:
    """Write the call settings, UCN table and screening lists of `settings.line`."""
    number = settings.line
    get_line(session, number)
    cs = session.get(CallSettings, number)
    if cs is None:
        cs = CallSettings(line_number=number)
        session.add(cs)
    cs.phone_state = settings.phone_state.value
    cs.incoming_mode = settings.incoming_mode.value
    cs.forward_all_to = settings.forward_all_to
    cs.no_answer_action = settings.no_answer_action.value
    cs.no_answer_to = settings.no_answer_to
    cs.no_answer_timeout = settings.no_answer_timeout
    cs.busy_action = settings.busy_action.value
    cs.busy_to = settings.busy_to
    cs.unavailable_forwarding = settings.unavailable_forwarding
    cs.unavailable_to = settings.unavailable_to
    cs.selective_forwarding = settings.selective_forwarding
    cs.selective_forward_to = settings.selective_forward_to
    cs.selective_rejection = settings.selective_rejection
    cs.anonymous_rejection = settings.anonymous_rejection

    session.execute(delete(RingEntryRow).where(RingEntryRow.line_number == number))
    session.flush()
    for position, entry in enumerate(settings.ring_table.entries):
        session.add(
            RingEntryRow(
                line_number=number,
                position=position,
                number=entry.number,
                cells=list(entry.cells),
                allow_remote_forwarding=entry.allow_remote_forwarding,
                confirm_answer=entry.confirm_answer,
            )
        )
    session.execute(delete(ScreeningEntry).where(ScreeningEntry.line_number == number))
    session.flush()
    session.add_all(
        [
            ScreeningEntry(line_number=number, list="forward", number=n)
            for n in sorted(settings.forward_list)
        ]
        + [
            ScreeningEntry(line_number=number, list="reject", number=n)
            for n in sorted(settings.reject_list)
        ]
    )
    session.flush()


# ------------------------------------------------------------------------------------------------
# Mailbox bookkeeping


@dataclass(frozen=True)
class Counts:
    voice_new: int = 0
    voice_old: int = 0
    voice_urgent_new: int = 0
    voice_urgent_old: int = 0
    fax_new: int = 0
    fax_old: int = 0
    used_seconds: float = 0.0
    quota_seconds: int = 0

    @property
    def full(self) -> bool:
        return self.used_seconds >= self.quota_seconds


_COUNT_GROUPS: Final = (
    select(
        Message.folder,
        Message.kind,
        Message.heard,
        Message.urgent,
        func.count().label("n"),
        func.coalesce(func.sum(Message.duration_seconds), 0.0).label("seconds"),
    )
    .where(Message.line_number == bindparam("number"))
    .group_by(Message.folder, Message.kind, Message.heard, Message.urgent)
    .subquery()
)
_COUNTS: Final = (
    select(
        Mailbox.quota_seconds,
        _COUNT_GROUPS.c.folder,
        _COUNT_GROUPS.c.kind,
        _COUNT_GROUPS.c.heard,
        _COUNT_GROUPS.c.urgent,
        _COUNT_GROUPS.c.n,
        _COUNT_GROUPS.c.seconds,
    )
    .select_from(Mailbox)
    .outerjoin(_COUNT_GROUPS, true())
    .where(Mailbox.line_number == bindparam("number"))
)
"""Built once (a statement's construction costs more than its run)."""


def mailbox_counts(session: Session, number: str) -> Counts:
    """Inbox counts by kind/heard/urgent, and the audio held (deleted messages included).

    One statement: the mailbox's quota with the grouped read of the covering index
    ix_message_counts joined in (a handful of groups, whatever the mailbox holds; one row of
    NULL groups for an empty mailbox, no row for no mailbox)."""
    rows = core(session).execute(_COUNTS, {"number": number}).all()
    if not rows:
        raise NotFound(f"line {number} has no mailbox")
    n_: dict[str, int] = dict.fromkeys(
        ("voice_new", "voice_old", "voice_urgent_new", "voice_urgent_old", "fax_new", "fax_old"), 0
    )
    used = 0.0
    for _, folder, kind, heard, urgent, n, seconds in rows:
        if folder is None:  # the empty mailbox's row
            continue
        used += float(seconds)
        if folder != "inbox":
            continue
        state = "old" if heard else "new"
        n_[f"{kind}_{state}"] += int(n)
        if kind == "voice" and urgent:
            n_[f"voice_urgent_{state}"] += int(n)
    return Counts(**n_, used_seconds=used, quota_seconds=int(rows[0][0]))


def mailbox_changed(session: Session, number: str, *, origin: str = "") -> Counts:
    """Record that the counts of `number`'s mailbox may have changed (outbox event).

    `origin` "switch": a switch worker made the change and sends the MWI NOTIFYs itself right
    after its commit (the event is recorded as consumed by the switch's bus consumer, which has
    nothing to do with it); any other change ("" = portal, notifier, ...) is sent by that
    consumer."""
    counts = mailbox_counts(session, number)
    enqueue(
        session,
        MailboxCounts(
            line=number,
            voice_new=counts.voice_new,
            voice_old=counts.voice_old,
            voice_urgent_new=counts.voice_urgent_new,
            voice_urgent_old=counts.voice_urgent_old,
            fax_new=counts.fax_new,
            fax_old=counts.fax_old,
            used_seconds=round(counts.used_seconds, 3),
            quota_seconds=counts.quota_seconds,
            origin=origin,
        ),
        consumed_by=(SWITCH_CONSUMER,) if origin == "switch" else (),
    )
    return counts
