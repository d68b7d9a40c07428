"""SQLAlchemy 2 models for every entity of SPEC S2.

Rules of this file:
- A line is identified by its 10-digit number (natural primary key); its mailbox, call settings
  and notification settings share that key (one row each per line).
- Times are stored as timezone-aware UTC (`UtcDateTime`); durations as seconds.
- Secrets are stored only as argon2id hashes (passwords, PINs) or digest HA1 values (devices).
- Files (audio, fax) live under the storage root; rows hold paths relative to it.
- The `device` table is also Kamailio's auth_db table: columns username, domain, ha1, ha1b.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    REAL,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


NUMBER = String(10)
MESSAGE_TYPES = ("all_faxes", "urgent_voice", "all_voice")


# ------------------------------------------------------------------------------------------------
# Accounts, lines, devices


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    services_pin_hash: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="America/Toronto")
    language: Mapped[str] = mapped_column(String(2), default="fr")
    allow_international: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_nanp_abroad: Mapped[bool] = mapped_column(Boolean, default=False)
    """One-plus NANP destinations outside Canada and the US (809, 876, ...) are allowed."""
    ucn_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_change_required: Mapped[bool] = mapped_column(Boolean, default=False)
    """The portal asks for a new password before anything else (a weak one was found)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    lines: Mapped[list[Line]] = relationship(
        back_populates="account",
        order_by="Line.number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __table_args__ = (CheckConstraint("language IN ('fr', 'en')", name="language"),)


class Line(Base):
    __tablename__ = "line"

    number: Mapped[str] = mapped_column(NUMBER, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    fax_number: Mapped[str | None] = mapped_column(String(10), nullable=True)
    """Calls to this number go straight to the line's fax receiver (10 digits, unique)."""

    account: Mapped[Account] = relationship(back_populates="lines")
    devices: Mapped[list[Device]] = relationship(
        back_populates="line", order_by="Device.username", passive_deletes=True
    )
    mailbox: Mapped[Mailbox | None] = relationship(
        back_populates="line", uselist=False, passive_deletes=True
    )
    call_settings: Mapped[CallSettings | None] = relationship(
        back_populates="line", uselist=False, passive_deletes=True
    )

    __table_args__ = (
        CheckConstraint("length(number) = 10", name="number_length"),
        # At most one primary line per account.
        Index(
            "uq_line_primary_per_account",
            "account_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
        Index("uq_line_fax_number", "fax_number", unique=True),
    )


class Device(Base):
    """A desk phone or softphone of a line. Kamailio's auth_db reads username/domain/ha1/ha1b."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_number: Mapped[str] = mapped_column(
        ForeignKey("line.number", ondelete="CASCADE"), index=True
    )
    username: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(128))
    ha1: Mapped[str] = mapped_column(String(32))
    ha1b: Mapped[str] = mapped_column(String(32))
    contact_uri: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    line: Mapped[Line] = relationship(back_populates="devices")

    __table_args__ = (UniqueConstraint("username", "domain", name="uq_device_username_domain"),)


# ------------------------------------------------------------------------------------------------
# Mailbox and greetings


class Mailbox(Base):
    __tablename__ = "mailbox"

    line_number: Mapped[str] = mapped_column(
        ForeignKey("line.number", ondelete="CASCADE"), primary_key=True
    )
    pin_hash: Mapped[str] = mapped_column(String(200))
    quota_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    max_message_seconds: Mapped[int] = mapped_column(Integer, default=180)
    min_message_seconds: Mapped[float] = mapped_column(Float, default=1.0)
    # system | system_number | system_name | personal
    greeting: Mapped[str] = mapped_column(String(16), default="system")
    busy_greeting_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    no_answer_greeting_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    extended_absence_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # envelope | message | both
    envelope_mode: Mapped[str] = mapped_column(String(8), default="both")
    skip_pin: Mapped[bool] = mapped_column(Boolean, default=False)
    quick_login: Mapped[bool] = mapped_column(Boolean, default=False)
    autoplay_voice: Mapped[bool] = mapped_column(Boolean, default=False)
    autoplay_fax: Mapped[bool] = mapped_column(Boolean, default=False)
    forward_to_email: Mapped[bool] = mapped_column(Boolean, default=False)
    forward_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    keep_original: Mapped[bool] = mapped_column(Boolean, default=True)
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    pin_locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    language: Mapped[str] = mapped_column(String(2), default="fr")

    line: Mapped[Line] = relationship(back_populates="mailbox")

    __table_args__ = (
        CheckConstraint(
            "greeting IN ('system', 'system_number', 'system_name', 'personal')", name="greeting"
        ),
        CheckConstraint("envelope_mode IN ('envelope', 'message', 'both')", name="envelope_mode"),
        CheckConstraint("language IN ('fr', 'en')", name="language"),
        CheckConstraint("quota_seconds > 0", name="quota_positive"),
    )


GREETING_KINDS = ("personal", "busy", "no_answer", "extended_absence", "name")


class Greeting(Base):
    """A recorded or uploaded greeting (or the recorded name) of a mailbox."""

    __tablename__ = "greeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_number: Mapped[str] = mapped_column(ForeignKey("line.number", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    file_path: Mapped[str] = mapped_column(String(255))
    duration_seconds: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("line_number", "kind", name="uq_greeting_line_kind"),
        CheckConstraint(
            "kind IN ('personal', 'busy', 'no_answer', 'extended_absence', 'name')", name="kind"
        ),
    )


# ------------------------------------------------------------------------------------------------
# Call settings (SPEC S2/S3)


class CallSettings(Base):
    __tablename__ = "call_settings"

    line_number: Mapped[str] = mapped_column(
        ForeignKey("line.number", ondelete="CASCADE"), primary_key=True
    )
    phone_state: Mapped[str] = mapped_column(String(10), default="available")
    incoming_mode: Mapped[str] = mapped_column(String(14), default="ring_account")
    forward_all_to: Mapped[str | None] = mapped_column(String(20), nullable=True)
    no_answer_action: Mapped[str] = mapped_column(String(10), default="voicemail")
    no_answer_to: Mapped[str | None] = mapped_column(String(20), nullable=True)
    no_answer_timeout: Mapped[int] = mapped_column(Integer, default=24)
    busy_action: Mapped[str] = mapped_column(String(10), default="voicemail")
    busy_to: Mapped[str | None] = mapped_column(String(20), nullable=True)
    unavailable_forwarding: Mapped[bool] = mapped_column(Boolean, default=False)
    unavailable_to: Mapped[str | None] = mapped_column(String(20), nullable=True)
    selective_forwarding: Mapped[bool] = mapped_column(Boolean, default=False)
    selective_forward_to: Mapped[str | None] = mapped_column(String(20), nullable=True)
    selective_rejection: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous_rejection: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    line: Mapped[Line] = relationship(back_populates="call_settings")

    __table_args__ = (
        CheckConstraint("phone_state IN ('available', 'dnd')", name="phone_state"),
        CheckConstraint(
            "incoming_mode IN ('ring_account', 'forward_all', 'sequential', 'simultaneous')",
            name="incoming_mode",
        ),
        CheckConstraint("no_answer_action IN ('voicemail', 'number')", name="no_answer_action"),
        CheckConstraint("busy_action IN ('voicemail', 'number')", name="busy_action"),
        CheckConstraint("no_answer_timeout BETWEEN 5 AND 120", name="no_answer_timeout"),
    )


class RingEntryRow(Base):
    """One row of the UCN table; `number` is 'account' for the line's own phone."""

    __tablename__ = "ring_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_number: Mapped[str] = mapped_column(
        ForeignKey("line.number", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(20))
    cells: Mapped[list[int | None]] = mapped_column(JSON)
    allow_remote_forwarding: Mapped[bool] = mapped_column(Boolean, default=False)
    confirm_answer: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=None)
    """Press 1 to accept: on, off, or NULL for the default (on for outside numbers)."""

    __table_args__ = (
        UniqueConstraint("line_number", "position", name="uq_ring_entry_position"),
        UniqueConstraint("line_number", "number", name="uq_ring_entry_number"),
    )


class ScreeningEntry(Base):
    """A number on a line's forward list or reject list."""

    __tablename__ = "screening_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_number: Mapped[str] = mapped_column(ForeignKey("line.number", ondelete="CASCADE"))
    list: Mapped[str] = mapped_column(String(8))
    number: Mapped[str] = mapped_column(String(20))

    __table_args__ = (
        UniqueConstraint("line_number", "list", "number", name="uq_screening_entry"),
        CheckConstraint("list IN ('forward', 'reject')", name="list"),
    )


class ForwardingNumber(Base):
    """A saved ("couramment utilisé") or temporary forwarding number of a line."""

    __tablename__ = "forwarding_number"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_number: Mapped[str] = mapped_column(
        ForeignKey("line.number", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(60), default="")
    temporary: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("line_number", "number", name="uq_forwarding_number"),)


# ------------------------------------------------------------------------------------------------
# Messages and call log


class Message(Base):
    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_number: Mapped[str] = mapped_column(ForeignKey("line.number", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(5), default="voice")
    folder: Mapped[str] = mapped_column(String(7), default="inbox")
    heard: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    caller_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    caller_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    file_path: Mapped[str] = mapped_column(String(255))
    origin: Mapped[str] = mapped_column(String(9), default="call")
    original_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"), nullable=True
    )
    call_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    fax_remote_ident: Mapped[str | None] = mapped_column(String(20), nullable=True)
    """The sending fax machine's station id (TSI)."""
    fax_bit_rate: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fax_status: Mapped[str | None] = mapped_column(String(8), nullable=True)
    """complete | partial (the call ended mid-fax: the pages received in full are kept)"""
    heard_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint("kind IN ('voice', 'fax')", name="kind"),
        CheckConstraint("folder IN ('inbox', 'deleted')", name="folder"),
        CheckConstraint("origin IN ('call', 'forwarded', 'portal', 'reply')", name="origin"),
        CheckConstraint("duration_seconds >= 0", name="duration"),
        Index("ix_message_mailbox", "line_number", "folder", "kind", "received_at"),
        # One page of a list in index order (portal.messages.services.list_messages): a tab
        # (kind) or every kind, new then heard, newest first; Deleted by deletion time.
        Index("ix_message_page", "line_number", "folder", "kind", "heard", "received_at", "id"),
        Index("ix_message_any", "line_number", "folder", "heard", "received_at", "id"),
        Index("ix_message_deleted", "line_number", "folder", "deleted_at", "id"),
        # Covers repository.mailbox_counts: the counts read the index alone, not the rows.
        Index(
            "ix_message_counts",
            "line_number",
            "folder",
            "kind",
            "heard",
            "urgent",
            "duration_seconds",
        ),
    )


class CallLogEntry(Base):
    __tablename__ = "call_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_number: Mapped[str] = mapped_column(ForeignKey("line.number", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))
    caller_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    caller_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    disposition: Mapped[str] = mapped_column(String(10))
    call_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    not_accepted: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=None)
    """Ring-table numbers whose answerer did not press 1 (answer confirmation), in order."""

    __table_args__ = (
        CheckConstraint("direction IN ('received', 'missed')", name="direction"),
        CheckConstraint(
            "disposition IN ('answered', 'voicemail', 'abandoned', 'rejected', 'forwarded')",
            name="disposition",
        ),
        Index("ix_call_log_line", "line_number", "direction", "started_at"),
    )


# ------------------------------------------------------------------------------------------------
# Contacts


class Contact(Base):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    first_name: Mapped[str] = mapped_column(String(80), default="")
    last_name: Mapped[str] = mapped_column(String(80), default="")
    nickname: Mapped[str] = mapped_column(String(80), default="")
    company: Mapped[str] = mapped_column(String(120), default="")
    business_phone: Mapped[str] = mapped_column(String(32), default="")
    home_phone: Mapped[str] = mapped_column(String(32), default="")
    mobile_phone: Mapped[str] = mapped_column(String(32), default="")
    fax: Mapped[str] = mapped_column(String(32), default="")
    other_phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    email2: Mapped[str] = mapped_column(String(254), default="")
    email3: Mapped[str] = mapped_column(String(254), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_contact_account_name", "account_id", "last_name", "first_name"),)


class ContactGroup(Base):
    __tablename__ = "contact_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    phone_code: Mapped[str] = mapped_column(String(10))

    members: Mapped[list[Contact]] = relationship(secondary="group_member", order_by="Contact.id")

    __table_args__ = (
        UniqueConstraint("account_id", "phone_code", name="uq_group_phone_code"),
        CheckConstraint("length(phone_code) BETWEEN 1 AND 10", name="phone_code"),
    )


class GroupMember(Base):
    __tablename__ = "group_member"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("contact_group.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True
    )


# ------------------------------------------------------------------------------------------------
# Notification settings (SPEC S2/S7; held by the primary line)


class NotificationSettings(Base):
    """Pager, outdial and override settings of a line. Schedules are JSON lists of
    {"days": [0..6 (Monday=0)], "start": "HH:MM", "end": "HH:MM"}; empty = always.
    Types are lists drawn from MESSAGE_TYPES."""

    __tablename__ = "notification_settings"

    line_number: Mapped[str] = mapped_column(
        ForeignKey("line.number", ondelete="CASCADE"), primary_key=True
    )
    mwi_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=False)

    pager_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    pager_schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    pager_address: Mapped[str] = mapped_column(String(254), default="")
    pager_number: Mapped[str] = mapped_column(String(20), default="")
    pager_callback_number: Mapped[str] = mapped_column(String(20), default="")
    pager_types: Mapped[list[str]] = mapped_column(JSON, default=list)

    outdial_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    outdial_schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    outdial_number: Mapped[str] = mapped_column(String(20), default="")
    outdial_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    outdial_delay_normal_minutes: Mapped[int] = mapped_column(Integer, default=0)
    outdial_delay_urgent_minutes: Mapped[int] = mapped_column(Integer, default=0)
    outdial_max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    outdial_retry_minutes: Mapped[int] = mapped_column(Integer, default=15)
    outdial_stop_on_answer: Mapped[bool] = mapped_column(Boolean, default=True)
    outdial_stop_on_access: Mapped[bool] = mapped_column(Boolean, default=True)

    override_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    override_schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    override_end_date: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    override_number: Mapped[str] = mapped_column(String(20), default="")
    override_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    override_delay_normal_minutes: Mapped[int] = mapped_column(Integer, default=0)
    override_delay_urgent_minutes: Mapped[int] = mapped_column(Integer, default=0)
    override_max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    override_retry_minutes: Mapped[int] = mapped_column(Integer, default=15)
    override_stop_on_answer: Mapped[bool] = mapped_column(Boolean, default=True)
    override_stop_on_access: Mapped[bool] = mapped_column(Boolean, default=True)

    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class NotificationTarget(Base):
    """An MWI number or a notification e-mail address with its message types."""

    __tablename__ = "notification_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_number: Mapped[str] = mapped_column(
        ForeignKey("line.number", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(5))
    address: Mapped[str] = mapped_column(String(254))
    types: Mapped[list[str]] = mapped_column(JSON, default=list)

    __table_args__ = (
        UniqueConstraint("line_number", "channel", "address", name="uq_notification_target"),
        CheckConstraint("channel IN ('mwi', 'email')", name="channel"),
    )


# ------------------------------------------------------------------------------------------------
# Outbox (SPEC S7) and notification jobs


class OutboxEvent(Base):
    """An event written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "id"),
        Index("ix_outbox_created", "created_at"),
    )


class EventConsumed(Base):
    """An event a durable consumer (events.consumer) has handled: makes it idempotent."""

    __tablename__ = "event_consumed"

    consumer: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consumed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_event_consumed_at", "consumed_at"),)


class NotificationJob(Base):
    """One notification to send (notify/): kinds email, forward, pager, page, outdial, mail.

    States: pending (due at next_attempt_at), sending (claimed; for page/outdial: request sent,
    waiting for the switch's result), done, failed (kept, never dropped), cancelled."""

    __tablename__ = "notification_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    line_number: Mapped[str] = mapped_column(ForeignKey("line.number", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL"), nullable=True
    )
    target: Mapped[str] = mapped_column(String(254))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("event_id", "kind", "target", name="uq_notification_job_once"),
        CheckConstraint(
            "state IN ('pending', 'sending', 'done', 'failed', 'cancelled')", name="state"
        ),
        Index("ix_notification_job_due", "state", "next_attempt_at"),
        Index("ix_notification_job_message", "message_id"),
    )


# ------------------------------------------------------------------------------------------------
# Portal


class PortalSession(Base):
    """A signed-in portal session; the cookie/bearer token is stored only as a SHA-256 hash."""

    __tablename__ = "portal_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    client_address: Mapped[str] = mapped_column(String(64), default="")


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    line_number: Mapped[str | None] = mapped_column(String(10), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# ------------------------------------------------------------------------------------------------
# Edge (Kamailio)


class Location(Base):
    """Registered contacts, written by Kamailio's usrloc (schema version 9, write-back every
    30 s) so that registrations survive an edge restart. relais only reads it (status).

    Column names, types and defaults are Kamailio's own; times are naive, in the edge's
    local time, as Kamailio writes them (on SQLite its db_sqlite module writes them as Julian
    day numbers, which these DateTime columns cannot read back: query counts, not rows).
    """

    __tablename__ = "location"

    id: Mapped[int] = mapped_column(primary_key=True)
    ruid: Mapped[str] = mapped_column(String(64), server_default="")
    username: Mapped[str] = mapped_column(String(64), server_default="")
    domain: Mapped[str | None] = mapped_column(String(64), nullable=True)
    contact: Mapped[str] = mapped_column(String(512), server_default="")
    received: Mapped[str | None] = mapped_column(String(128), nullable=True)
    path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    expires: Mapped[datetime] = mapped_column(DateTime, server_default="2030-05-28 21:32:15")
    q: Mapped[float] = mapped_column(REAL, server_default="1.0")
    callid: Mapped[str] = mapped_column(String(255), server_default="Default-Call-ID")
    cseq: Mapped[int] = mapped_column(Integer, server_default="1")
    last_modified: Mapped[datetime] = mapped_column(DateTime, server_default="2000-01-01 00:00:01")
    flags: Mapped[int] = mapped_column(Integer, server_default="0")
    cflags: Mapped[int] = mapped_column(Integer, server_default="0")
    user_agent: Mapped[str] = mapped_column(String(255), server_default="")
    socket: Mapped[str | None] = mapped_column(String(64), nullable=True)
    methods: Mapped[int | None] = mapped_column(Integer, nullable=True)
    instance: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reg_id: Mapped[int] = mapped_column(Integer, server_default="0")
    server_id: Mapped[int] = mapped_column(Integer, server_default="0")
    connection_id: Mapped[int] = mapped_column(Integer, server_default="0")
    keepalive: Mapped[int] = mapped_column(Integer, server_default="0")
    partition: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        UniqueConstraint("ruid", name="uq_location_ruid"),
        Index("ix_location_account_contact", "username", "domain", "contact"),
        Index("ix_location_expires", "expires"),
        Index("ix_location_connection", "server_id", "connection_id"),
    )
