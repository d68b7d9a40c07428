"""Uploaded and browser-recorded audio -> 8 kHz mono 16-bit WAV, decoded in a subprocess.

The one function the portal calls is `to_voice_wav()`. It sniffs the type from the first bytes
(WAV, MP3, Ogg/Opus/Vorbis, FLAC, WebM/Matroska, MP4/M4A/3GP, AIFF, AMR, CAF, AU), then runs
ffmpeg on a temp file with a time limit and no network or other protocol access. The media
package's convert module does the same for the whole product; this function switches to it
when it is on main.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import tempfile
import wave
from dataclasses import dataclass

logger = logging.getLogger(__name__)

SAMPLE_RATE = 8000
FFMPEG = "ffmpeg"


class AudioError(ValueError):
    """The audio cannot be used; `code` is a stable id (unsupported-audio, audio-too-long...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class VoiceWav:
    data: bytes
    duration_seconds: float


def sniff(head: bytes) -> str | None:
    """The container of an audio file from its first bytes, or None when it is not audio."""
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"RMP3"):
        return "wav"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[:4] == b"caff":
        return "caf"
    if head[:4] == b".snd":
        return "au"
    return None


def to_voice_wav(data: bytes, *, time_limit: float, max_seconds: float) -> VoiceWav:
    """Decode `data` (any common audio format) to 8 kHz mono 16-bit PCM WAV."""
    kind = sniff(data[:64])
    if kind is None:
        raise AudioError("unsupported-audio", "the file is not audio in a known format")
    with tempfile.TemporaryDirectory(prefix="relais-audio-") as tmp:
        source = os.path.join(tmp, f"in.{kind}")
        target = os.path.join(tmp, "out.wav")
        with open(source, "wb") as fh:
            fh.write(data)
        argv = [
            FFMPEG,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-protocol_whitelist",
            "file",
            "-i",
            source,
            "-vn",
            "-map_metadata",
            "-1",
            "-ac",
            "1",
            "-ar",
            str(SAMPLE_RATE),
            "-sample_fmt",
            "s16",
            "-t",
            str(max_seconds + 1),
            "-fflags",
            "+bitexact",
            "-f",
            "wav",
            target,
        ]
        try:
            proc = subprocess.run(
                argv, capture_output=True, timeout=time_limit, check=False, cwd=tmp
            )
        except subprocess.TimeoutExpired:
            logger.warning("audio decoding stopped after %.0f s (%s upload)", time_limit, kind)
            raise AudioError("audio-timeout", "decoding the audio took too long") from None
        except FileNotFoundError:
            raise AudioError("audio-unavailable", "ffmpeg is not installed") from None
        if proc.returncode != 0 or not os.path.exists(target):
            logger.info(
                "ffmpeg refused a %s upload: %s",
                kind,
                proc.stderr[-300:].decode("utf-8", "replace").strip(),
            )
            raise AudioError("undecodable-audio", "the audio file cannot be decoded")
        with open(target, "rb") as fh:
            out = fh.read()
    duration = wav_duration(out)
    if duration > max_seconds:
        raise AudioError("audio-too-long", f"the audio lasts more than {max_seconds:.0f} s")
    if duration < 0.5:
        raise AudioError("audio-empty", "the audio is empty")
    return VoiceWav(out, duration)


def wav_duration(data: bytes) -> float:
    with contextlib.closing(wave.open(io.BytesIO(data), "rb")) as w:
        return w.getnframes() / float(w.getframerate())
