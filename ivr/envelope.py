"""What the retrieval dialog knows of a message, and how its envelope is said (SPEC S5).

Rules of this file:
- Pure: a message's facts, "now" and the mailbox's time zone and language in, prompt ids and
  recorded-audio paths out (media.say does the wording).
- The envelope says urgent / private first, then who: the caller's recorded name when the caller
  is a local subscriber who recorded one, and the number digit by digit; "an unknown caller"
  without either. Then when, relative to now in the mailbox's time zone ("today at 2 oh 5
  p.m."), and on request the length.
- Envelope modes (the mailbox setting): "envelope" says only the envelope, "message" plays only
  the audio, "both" the envelope then the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from media import say

ENVELOPE_MODES = ("envelope", "message", "both")


@dataclass(frozen=True)
class MessageInfo:
    id: int
    heard: bool
    urgent: bool
    private: bool
    caller_number: str | None
    received_at: datetime
    duration_seconds: float
    audio: str
    """Absolute path of the message's WAV."""
    caller_name_audio: str | None = None
    """Absolute path of the caller's recorded name (a local subscriber), if any."""
    origin: str = "call"


def envelope(
    m: MessageInfo, now: datetime, tz: str, lang: str, *, with_length: bool = False
) -> list[str]:
    out: list[str] = []
    if m.urgent:
        out.append("urgent_message")
    if m.private:
        out.append("private_message")
    who: list[str] = []
    if m.caller_name_audio:
        who.append(m.caller_name_audio)
    if m.caller_number and m.caller_number.isdigit():
        if who:
            who.append(say.PAUSE)
        who += say.phone_number(m.caller_number)
    if who:
        out += ["envelope_from", *who, say.PAUSE]
    else:
        out.append("envelope_from_unknown")
    out += ["envelope_received", *say.when(m.received_at, now, tz, lang)]
    if with_length:
        out += [say.PAUSE, "envelope_length", *say.duration(m.duration_seconds, lang)]
    return out


def presentation(m: MessageInfo, mode: str, now: datetime, tz: str, lang: str) -> list[str]:
    """What is played when the message comes up, per envelope mode."""
    if mode not in ENVELOPE_MODES:
        raise ValueError(f"unknown envelope mode: {mode!r}")
    if mode == "message":
        return [m.audio]
    head = envelope(m, now, tz, lang)
    return head if mode == "envelope" else [*head, say.PAUSE, m.audio]
