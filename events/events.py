"""Typed events of SPEC S7; each event owns its MQTT topic (`relais/<line>/...`).

Payloads are JSON objects. Every event carries `event_id` (UUID, for idempotent consumers),
`type`, `line` and `at` (ISO 8601 UTC) besides its own fields.
"""

from __future__ import annotations

import dataclasses
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


@dataclass(frozen=True, kw_only=True)
class CallMissed(Event):
    type: ClassVar[str] = "call.missed"
    topic_fmt: ClassVar[str] = "relais/{line}/call/missed"

    caller_number: str | None
    caller_name: str | None
    started_at: str
    disposition: str
    call_log_id: int


@dataclass(frozen=True, kw_only=True)
class CallReceived(Event):
    type: ClassVar[str] = "call.received"
    topic_fmt: ClassVar[str] = "relais/{line}/call/received"

    caller_number: str | None
    caller_name: str | None
    started_at: str
    duration_seconds: float
    call_log_id: int


@dataclass(frozen=True, kw_only=True)
class SettingsChanged(Event):
    type: ClassVar[str] = "settings.changed"
    topic_fmt: ClassVar[str] = "relais/{line}/settings/changed"

    section: str  # call | message | notifications | greeting | pin | password


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        MessageDeposited,
        MessageChanged,
        MailboxCounts,
        CallMissed,
        CallReceived,
        SettingsChanged,
    )
}
