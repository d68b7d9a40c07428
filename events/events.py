"""Typed events of SPEC S7; each event owns its MQTT topic (`relais/<line>/...`).

Payloads are JSON objects. Every event carries `event_id` (UUID, for idempotent consumers),
`type`, `line` and `at` (ISO 8601 UTC) besides its own fields.
"""

from __future__ import annotations

import dataclasses
import json
import typing
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Event:
    type: ClassVar[str]
    topic_fmt: ClassVar[str]

    line: str
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    at: datetime = field(default_factory=_now)

    @property
    def topic(self) -> str:
        return self.topic_fmt.format(line=self.line)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return data

    def to_json(self) -> bytes:
        """The MQTT payload: the JSON of payload(), UTF-8."""
        return json.dumps(self.payload(), separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, kw_only=True)
class MessageDeposited(Event):
    type: ClassVar[str] = "message.deposited"
    topic_fmt: ClassVar[str] = "relais/{line}/message/deposited"

    message_id: int
    kind: str  # voice | fax
    urgent: bool
    private: bool
    caller_number: str | None
    caller_name: str | None
    received_at: str
    duration_seconds: float
    pages: int = 0
    origin: str = "call"


@dataclass(frozen=True, kw_only=True)
class MessageChanged(Event):
    type: ClassVar[str] = "message.changed"
    topic_fmt: ClassVar[str] = "relais/{line}/message/changed"

    message_id: int
    change: str  # heard | new | saved | deleted | restored | purged | urgent | private | moved
    folder: str
    heard: bool


@dataclass(frozen=True, kw_only=True)
class MailboxCounts(Event):
    type: ClassVar[str] = "mailbox.counts"
    topic_fmt: ClassVar[str] = "relais/{line}/mailbox/counts"

    voice_new: int
    voice_old: int
    voice_urgent_new: int
    voice_urgent_old: int
    fax_new: int
    fax_old: int
    used_seconds: float
    quota_seconds: int
    origin: str = ""
    """Who changed the mailbox: "switch" (a switch worker, which sends the MWI NOTIFYs itself)
    or "" (anyone else: portal, notifier; also every payload written before this field)."""


SWITCH_CONSUMER = "switch"
"""The durable consumer of the switch (switch.bus): MWI of the changes made by anyone but the
switch, and outdial requests. A switch-made MailboxCounts is recorded as consumed by it where
it is written (store.repository.mailbox_changed)."""


@dataclass(frozen=True, kw_only=True)
class CallMissed(Event):
    type: ClassVar[str] = "call.missed"
    topic_fmt: ClassVar[str] = "relais/{line}/call/missed"

    caller_number: str | None
    caller_name: str | None
    started_at: str
    disposition: str
    call_log_id: int
    not_accepted: list[str] = field(default_factory=list)
    """Ring-table numbers whose answerer did not press 1 (answer confirmation)."""


@dataclass(frozen=True, kw_only=True)
class DepositRefused(Event):
    """A caller could not leave a message in `line`'s mailbox for want of disk space (the
    caller was told; the call is logged missed). Operators watch for it."""

    type: ClassVar[str] = "message.refused"
    topic_fmt: ClassVar[str] = "relais/{line}/message/refused"

    reason: str  # low-space
    free_mb: int
    call_id: str


@dataclass(frozen=True, kw_only=True)
class StorageSpace(Event):
    """Free space under the storage root crossed `mailbox.min_free_mb` (installation-wide;
    `line` is empty): `low` when callers can no longer leave messages, `ok` when they can
    again. Sent by switch worker 0 of `host` on each change (and at its start when low)."""

    type: ClassVar[str] = "storage.space"
    topic_fmt: ClassVar[str] = "relais/site/storage/space"

    state: str  # low | ok
    free_mb: int
    threshold_mb: int
    host: str


@dataclass(frozen=True, kw_only=True)
class CallReceived(Event):
    type: ClassVar[str] = "call.received"
    topic_fmt: ClassVar[str] = "relais/{line}/call/received"

    caller_number: str | None
    caller_name: str | None
    started_at: str
    duration_seconds: float
    call_log_id: int
    not_accepted: list[str] = field(default_factory=list)
    """Ring-table numbers whose answerer did not press 1 (answer confirmation)."""


@dataclass(frozen=True, kw_only=True)
class SettingsChanged(Event):
    type: ClassVar[str] = "settings.changed"
    topic_fmt: ClassVar[str] = "relais/{line}/settings/changed"

    section: str  # call | message | notifications | greeting | pin | password


@dataclass(frozen=True, kw_only=True)
class MailboxAccessed(Event):
    """The owner logged in to the mailbox of `line` (by phone, by the portal, or after an
    outdial call). Stops outdial notifications set to "stop on mailbox access"."""

    type: ClassVar[str] = "mailbox.accessed"
    topic_fmt: ClassVar[str] = "relais/{line}/mailbox/accessed"

    via: str  # phone | portal | outdial


@dataclass(frozen=True, kw_only=True)
class OutdialRequest(Event):
    """A command to the switch: call `number` for notification job `job_id` (docs/architecture.md,
    "Outdial contract"). `line` is the mailbox the call is about."""

    type: ClassVar[str] = "outdial.request"
    topic_fmt: ClassVar[str] = "relais/{line}/outdial/request"

    job_id: int
    attempt: int
    number: str
    mode: str  # notify (prompt + offer login) | page (send `dtmf` to a numeric pager) | fax
    message_id: int | None
    language: str
    dtmf: str
    ring_seconds: int
    expires_at: str


@dataclass(frozen=True, kw_only=True)
class OutdialResult(Event):
    """The switch's answer to an OutdialRequest (same job_id and attempt)."""

    type: ClassVar[str] = "outdial.result"
    topic_fmt: ClassVar[str] = "relais/{line}/outdial/result"

    job_id: int
    attempt: int
    result: str  # answered | no-answer | busy | failed
    logged_in: bool = False
    detail: str = ""
    pages: int = 0  # mode fax: pages the far end confirmed (cover page included)


OUTDIAL_RESULTS = ("answered", "no-answer", "busy", "failed")

EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        MessageDeposited,
        DepositRefused,
        StorageSpace,
        MessageChanged,
        MailboxCounts,
        CallMissed,
        CallReceived,
        SettingsChanged,
        MailboxAccessed,
        OutdialRequest,
        OutdialResult,
    )
}


_HINTS: dict[str, dict[str, Any]] = {}


def _type_hints(cls: type[Event]) -> dict[str, Any]:
    """The field types of an event class, worked out once (typing.get_type_hints is slow)."""
    hints = _HINTS.get(cls.type)
    if hints is None:
        hints = _HINTS[cls.type] = typing.get_type_hints(cls)
    return hints


def parse_event(data: bytes | str | dict[str, Any]) -> Event:
    """Rebuild a typed event from its payload (JSON bytes/str or a dict).

    Raises ValueError with the reason for anything that is not a known, complete event.
    Unknown extra keys are ignored so that newer producers do not break older consumers.
    """
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"event payload is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError("event payload is not a JSON object")
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    hints = _type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{cls.type} event without {f.name!r}")
            continue
        value = data[f.name]
        if hints.get(f.name) is datetime:
            try:
                value = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise ValueError(f"{cls.type} event: {f.name!r} is not an ISO 8601 time") from None
        kwargs[f.name] = value
    return cls(**kwargs)
