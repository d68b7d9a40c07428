"""JSON shapes of the messages, calls and events API (SPEC S8, S14)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Folder = Literal["inbox", "deleted"]
Kind = Literal["voice", "fax"]


class MessageOut(BaseModel):
    id: int
    kind: Kind
    folder: Folder
    heard: bool = Field(description="heard (voice) or read (fax)")
    urgent: bool
    private: bool
    caller_number: str | None = Field(description="null when the caller is anonymous")
    caller_name: str | None = Field(description="the name the call carried, if any")
    contact_id: int | None = Field(description="the contact whose number called")
    display_name: str = Field(description="contact name, else the number, else 'anonymous'")
    received_at: datetime
    received_local: str = Field(description="date and time in the account's time zone")
    duration_seconds: float
    pages: int
    size_bytes: int
    fax_status: Literal["complete", "partial"] | None = Field(
        default=None, description="fax: partial when the call ended mid-fax (full pages kept)"
    )
    fax_remote_ident: str | None = Field(
        default=None, description="fax: the sending machine's station id (TSI)"
    )
    fax_bit_rate: int = Field(default=0, description="fax: the speed it came at, bit/s")
    origin: Literal["call", "forwarded", "portal", "reply"]
    original_message_id: int | None
    audio_url: str | None
    pdf_url: str | None
    waveform_url: str | None


class FolderCounts(BaseModel):
    voice_new: int
    voice_old: int
    voice_urgent_new: int
    fax_new: int
    fax_old: int
    deleted: int
    used_seconds: float
    limit_seconds: int


class Paged(BaseModel):
    total: int = Field(description="rows in the whole list, every page together")
    offset: int = Field(description="rows of the list before this page")
    limit: int = Field(description="most rows a page holds")


class MessagesOut(Paged):
    messages: list[MessageOut]
    counts: FolderCounts


class MessagePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heard: bool | None = Field(default=None, description="mark heard (read) or new")
    folder: Folder | None = Field(default=None, description="deleted = delete, inbox = restore")


class ForwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_: Literal["email", "voicemail", "fax"] = Field(alias="as")
    to: list[str] = Field(max_length=100, description="addresses, numbers or group phone codes")
    cc: list[str] = Field(default_factory=list, max_length=100)
    bcc: list[str] = Field(default_factory=list, max_length=100)
    body: str = Field(default="", max_length=10000)
    urgent: bool | None = Field(default=None, description="voicemail: default the original's")


class Delivered(BaseModel):
    number: str
    message_id: int


class Skipped(BaseModel):
    number: str
    error: str
    detail: str


class DeliveryOut(BaseModel):
    """Voice messages delivered into local mailboxes (forward, reply, new message)."""

    delivered: list[Delivered]
    skipped: list[Skipped] = Field(
        default_factory=list, description="group members that have no mailbox or a full one"
    )


class EmailForwardOut(BaseModel):
    status: Literal["sent", "queued"] = Field(
        description="sent: accepted by the mail server (or written to the spool); queued: the "
        "server was unavailable, the notifier will retry"
    )
    message_id: str | None = None


class BulkOut(BaseModel):
    count: int


class CallOut(BaseModel):
    id: int
    direction: Literal["missed", "received"]
    caller_number: str | None
    caller_name: str | None
    contact_id: int | None
    display_name: str
    started_at: datetime
    started_local: str
    duration_seconds: float
    disposition: str
    not_accepted: list[str] = []
    """Ring-table numbers that answered without pressing 1 (answer confirmation)."""


class CallsOut(Paged):
    calls: list[CallOut]


class FaxSend(BaseModel):
    """One destination of a forward as fax: its send job and how it went."""

    job_id: int
    number: str
    state: Literal["pending", "sending", "sent", "failed", "cancelled"]
    attempts: int
    pages: int = Field(description="pages the far end confirmed (cover page included)")
    error: str = Field(
        description="why the fax failed, or the last failed attempt: the switch's own words"
    )
    reason: str = Field(
        default="", description="the same, in the reader's language (empty once it is sent)"
    )
    created_at: str


class FaxSendsOut(BaseModel):
    """The forwards as fax of one fax, newest first (POST .../forward answers the new ones)."""

    sends: list[FaxSend]
