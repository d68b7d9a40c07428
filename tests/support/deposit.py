"""Subscribers and deposits for the notification tests, written the way the switch writes them.

A deposit is: the WAV (or PDF) renamed into place under the storage root, then in one
transaction the message row, its call-log entry, the message.deposited event and the
mailbox.counts event (SPEC S5 "Delivered").
"""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events.events import MessageDeposited
from events.outbox import enqueue
from store import repository
from store.files import FileStore
from store.models import CallLogEntry, Message, NotificationSettings, NotificationTarget
from store.session import Store

NUMBER = "6135550100"
SECOND = "6135550101"


def make_subscriber(
    store: Store,
    number: str = NUMBER,
    *,
    language: str = "fr",
    timezone: str = "America/Toronto",
    second_line: str | None = None,
) -> None:
    with store.transaction() as s:
        repository.create_account(
            s,
            number=number,
            name="Jeanne Tremblay",
            password="motdepasse1",
            pin="4826",
            language=language,
            timezone=timezone,
        )
        if second_line:
            repository.add_line(s, account_number=number, number=second_line)


def set_notifications(store: Store, number: str = NUMBER, **values: Any) -> None:
    with store.transaction() as s:
        ns = s.get(NotificationSettings, number)
        assert ns is not None
        for key, value in values.items():
            setattr(ns, key, value)


def add_email_target(store: Store, address: str, types: list[str], number: str = NUMBER) -> None:
    with store.transaction() as s:
        s.add(NotificationTarget(line_number=number, channel="email", address=address, types=types))


def set_mailbox(store: Store, number: str = NUMBER, **values: Any) -> None:
    from store.models import Mailbox

    with store.transaction() as s:
        mb = s.get(Mailbox, number)
        assert mb is not None
        for key, value in values.items():
            setattr(mb, key, value)


def wav_bytes(seconds: float = 0.5, hz: float = 440.0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = int(8000 * seconds)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / 8000)))
                for i in range(frames)
            )
        )
    return buf.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@dataclass(frozen=True)
class Deposit:
    message_id: int
    event_id: str
    data: bytes
    committed_at: datetime


def deposit(
    store: Store,
    files: FileStore,
    line: str = NUMBER,
    *,
    kind: str = "voice",
    urgent: bool = False,
    private: bool = False,
    caller_number: str | None = "6135550142",
    caller_name: str | None = "Élise Côté",
    duration: float = 12.0,
    received_at: datetime | None = None,
    data: bytes | None = None,
) -> Deposit:
    received_at = received_at or datetime.now(UTC)
    if data is None:
        data = PDF if kind == "fax" else wav_bytes()
    rel = files.new_name(f"messages/{line}", ".pdf" if kind == "fax" else ".wav")

    def commit() -> tuple[int, str]:
        with store.transaction() as s:
            msg = Message(
                line_number=line,
                kind=kind,
                urgent=urgent,
                private=private,
                caller_number=caller_number,
                caller_name=caller_name,
                received_at=received_at,
                duration_seconds=duration if kind == "voice" else 0.0,
                pages=2 if kind == "fax" else 0,
                size_bytes=len(data),
                file_path=rel,
            )
            s.add(msg)
            s.add(
                CallLogEntry(
                    line_number=line,
                    direction="missed",
                    caller_number=caller_number,
                    caller_name=caller_name,
                    started_at=received_at,
                    duration_seconds=duration,
                    disposition="voicemail",
                )
            )
            s.flush()
            event = MessageDeposited(
                line=line,
                message_id=msg.id,
                kind=kind,
                urgent=urgent,
                private=private,
                caller_number=caller_number,
                caller_name=caller_name,
                received_at=received_at.isoformat(),
                duration_seconds=msg.duration_seconds,
                pages=msg.pages,
            )
            enqueue(s, event)
            repository.mailbox_changed(s, line)
            return msg.id, event.event_id

    message_id, event_id = files.store_file_then_row(rel, data, commit)
    return Deposit(message_id, event_id, data, datetime.now(UTC))
