"""Uploaded and browser-recorded greetings -> 8 kHz mono 16-bit WAV, through media.convert.

media.convert sniffs the type from the first bytes and decodes in an ffmpeg subprocess with
a time limit; this module turns its refusals into the portal's stable error ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from media import convert
from portal.errors import Refused
from portal.i18n import Msg

logger = logging.getLogger(__name__)

MIN_SECONDS = 0.5


class AudioError(ValueError):
    """The audio cannot be used; `code` is a stable id (unsupported-audio, audio-too-long...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class VoiceWav:
    data: bytes
    duration_seconds: float


_CODES = {
    convert.EMPTY_FILE: "audio-empty",
    convert.NO_SAMPLES: "audio-empty",
    convert.NOT_AUDIO: "unsupported-audio",
    convert.UNDECODABLE: "undecodable-audio",
    convert.TRUNCATED: "undecodable-audio",
    convert.DECODE_TIMEOUT: "audio-timeout",
}


def _code(message: str) -> str:
    if message in _CODES:
        return _CODES[message]
    if message.startswith("audio file too large"):
        return "file-too-large"
    if message.startswith("audio longer than"):
        return "audio-too-long"
    return "undecodable-audio"


def to_voice_wav(data: bytes, *, time_limit: float, max_seconds: float, max_bytes: int) -> VoiceWav:
    """Decode `data` (any common audio format) to 8 kHz mono 16-bit PCM WAV."""
    try:
        samples = convert.decode(
            data, max_seconds=max_seconds, max_bytes=max_bytes, timeout_s=time_limit
        )
    except FileNotFoundError:
        raise AudioError("audio-unavailable", "ffmpeg is not installed") from None
    except ValueError as exc:
        code = _code(str(exc))
        if code in ("audio-timeout", "undecodable-audio"):
            logger.info("an uploaded audio file was refused: %s", exc)
        raise AudioError(code, str(exc)) from None
    duration = convert.duration_s(samples)
    if duration < MIN_SECONDS:
        raise AudioError("audio-empty", "the audio is shorter than half a second")
    return VoiceWav(convert.write_wav(samples), duration)


REFUSALS: dict[str, tuple[int, Msg]] = {
    "unsupported-audio": (
        415,
        Msg("This file is not audio in a format we know (WAV, MP3, OGG, M4A, WebM, FLAC...)."),
    ),
    "undecodable-audio": (422, Msg("This audio file is damaged or cannot be read.")),
    "audio-empty": (422, Msg("The recording is empty.")),
    "audio-timeout": (422, Msg("This audio file took too long to read.")),
    "audio-unavailable": (503, Msg("Audio files cannot be read right now.")),
    "file-too-large": (413, Msg("The file is too large.")),
}


def accept(
    data: bytes,
    *,
    max_seconds: int,
    max_bytes: int,
    time_limit: float,
    too_long: Msg,
    empty: Msg,
) -> VoiceWav:
    """An upload or a browser recording as an 8 kHz WAV, else Refused with a stable error id.

    `too_long` says the limit (`%(max)s` seconds) in the caller's words (a greeting, a
    message); `empty` is said when nothing was sent."""
    if len(data) > max_bytes:
        raise Refused(
            413,
            "file-too-large",
            Msg("The file is too large (at most %(mb)s MB).", mb=max(1, max_bytes // 1_000_000)),
        )
    if not data:
        raise Refused(422, "audio-empty", empty)
    try:
        return to_voice_wav(
            data, time_limit=time_limit, max_seconds=max_seconds, max_bytes=max_bytes
        )
    except AudioError as exc:
        if exc.code == "audio-too-long":
            raise Refused(422, exc.code, Msg(too_long.msgid, max=max_seconds)) from None
        status, msg = REFUSALS.get(exc.code, (422, Msg("This audio file cannot be used.")))
        raise Refused(status, exc.code, msg) from None
