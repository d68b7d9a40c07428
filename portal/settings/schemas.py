"""JSON shapes of the message settings and greetings (SPEC S2 mailbox, S5 greetings)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GreetingChoice = Literal["system", "system_number", "system_name", "personal"]
EnvelopeMode = Literal["envelope", "message", "both"]
GreetingKind = Literal["personal", "busy", "no_answer", "extended_absence", "name"]
Language = Literal["fr", "en"]


class GreetingOut(BaseModel):
    kind: GreetingKind
    recorded: bool
    duration_seconds: float | None = None
    updated_at: datetime | None = None


class MessageSettingsOut(BaseModel):
    line: str
    forward_to_email: bool
    forward_emails: list[str]
    keep_original: bool
    skip_pin: bool
    quick_login: bool
    autoplay_voice: bool
    autoplay_fax: bool
    envelope_mode: EnvelopeMode
    language: Language = Field(description="language of the mailbox by phone (prompts, menus)")
    greeting: GreetingChoice
    busy_greeting_enabled: bool
    no_answer_greeting_enabled: bool
    extended_absence_enabled: bool
    greetings: list[GreetingOut]
    pin_locked_until: datetime | None = Field(
        default=None,
        description="set while the voicemail PIN is locked after wrong PINs by phone (read only)",
    )


class MessageSettingsIn(BaseModel):
    """Fields left out keep their current value; the result is checked before saving."""

    model_config = ConfigDict(extra="forbid")

    forward_to_email: bool | None = None
    forward_emails: list[str] | None = Field(default=None, max_length=50)
    keep_original: bool | None = None
    skip_pin: bool | None = None
    quick_login: bool | None = None
    autoplay_voice: bool | None = None
    autoplay_fax: bool | None = None
    envelope_mode: EnvelopeMode | None = None
    language: Language | None = None
    greeting: GreetingChoice | None = None
    busy_greeting_enabled: bool | None = None
    no_answer_greeting_enabled: bool | None = None
    extended_absence_enabled: bool | None = None


class GreetingsOut(BaseModel):
    greetings: list[GreetingOut]
