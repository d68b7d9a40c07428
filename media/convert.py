"""Audio conversion: any common format -> 8 kHz mono 16-bit WAV, and WAV <-> numpy (SPEC S8, S9).

Rules of this file:
- Every file relais stores or plays is 8 kHz mono 16-bit PCM WAV (`RATE`); `read_wav` accepts
  only that and `write_wav` writes only that.
- Uploads are sniffed from their first bytes (never from a file name or a content type) and
  decoded by ffmpeg in a subprocess that is told the demuxer to use, may not open anything but
  its input file, is bounded in input size, output duration and wall time, and is killed when
  the time is up. A refusal is a ValueError with one of the messages below.
- pydub is not used: it cannot bound ffmpeg's run time.
"""

from __future__ import annotations

import struct
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

RATE: Final = 8000
"""Sample rate of every stored and played file (G.711's)."""

DEFAULT_MAX_BYTES: Final = 10 * 1024 * 1024
DEFAULT_TIMEOUT_S: Final = 30.0
FFMPEG: Final = "ffmpeg"

# Exact messages of the refusals (asserted by tests; the portal maps them to error ids).
EMPTY_FILE: Final = "empty audio file"
NOT_AUDIO: Final = "not an audio file"
UNDECODABLE: Final = "audio could not be decoded"
NO_SAMPLES: Final = "audio contains no sound samples"
DECODE_TIMEOUT: Final = "audio decoding took too long"
NOT_WAV: Final = "not a WAV file"
TRUNCATED: Final = "audio file is truncated"


def too_large(size: int, limit: int) -> str:
    return f"audio file too large: {size} bytes (limit {limit})"


def too_long(limit_s: float) -> str:
    return f"audio longer than {limit_s:g} s"


# --- sniffing --------------------------------------------------------------------------------

# ffmpeg demuxer for each sniffed format.
DEMUXERS: Final[dict[str, str]] = {
    "wav": "wav",
    "mp3": "mp3",
    "aac": "aac",
    "ogg": "ogg",
    "webm": "matroska",
    "mp4": "mov",
    "flac": "flac",
    "aiff": "aiff",
    "amr": "amr",
    "caf": "caf",
}


def _mp3_frame_header(data: bytes, at: int) -> bool:
    """True if an MPEG audio frame header (layer I-III, valid bitrate and rate) starts at `at`."""
    if at + 4 > len(data):
        return False
    b0, b1, b2 = data[at], data[at + 1], data[at + 2]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return False
    version = (b1 >> 3) & 0x03
    layer = (b1 >> 1) & 0x03
    bitrate = b2 >> 4
    rate = (b2 >> 2) & 0x03
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def sniff(data: bytes) -> str:
    """The audio container of `data` from its magic numbers: a key of DEMUXERS, else ValueError.

    Recognised: RIFF/WAVE and RF64 (wav), ID3 or an MPEG audio frame (mp3), ADTS (aac), OggS
    (ogg: opus, vorbis, flac), EBML (webm/matroska from browsers' MediaRecorder), ISO BMFF
    `ftyp` (m4a/mp4/3gp), fLaC, FORM/AIFF, #!AMR, caff.
    """
    if not data:
        raise ValueError(EMPTY_FILE)
    head = data[:16]
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3":
        return "mp3"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[:4] == b"caff":
        return "caf"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "aac"  # ADTS: sync word, layer bits 00
    if _mp3_frame_header(data, 0):
        return "mp3"
    raise ValueError(NOT_AUDIO)


# --- WAV <-> numpy ---------------------------------------------------------------------------


def _chunks(data: bytes) -> dict[bytes, tuple[int, bytes]]:
    """The chunks of a RIFF/WAVE file by id (the first of each): (size its header declares,
    the bytes the file holds of it)."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise ValueError(NOT_WAV)
    out: dict[bytes, tuple[int, bytes]] = {}
    at = 12
    while at + 8 <= len(data):
        chunk_id = data[at : at + 4]
        (size,) = struct.unpack_from("<I", data, at + 4)
        out.setdefault(chunk_id, (size, data[at + 8 : at + 8 + size]))
        at += 8 + size + (size & 1)
    return out


def _format(chunks: dict[bytes, tuple[int, bytes]]) -> tuple[int, int, int, int]:
    """(format tag, channels, sample rate, bits per sample) from the fmt chunk."""
    fmt = chunks.get(b"fmt ", (0, b""))[1]
    if len(fmt) < 16:
        raise ValueError("WAV file has no fmt chunk")
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format decides
        (tag,) = struct.unpack_from("<H", fmt, 24)
    return tag, channels, rate, bits


def _check_wav_complete(data: bytes) -> None:
    """A WAV file whose data chunk is shorter than its header says was cut short."""
    declared, body = _chunks(data).get(b"data", (1, b""))
    # 0 and 0xFFFFFFFF: written by a stream that did not know its length.
    if declared not in (0, 0xFFFFFFFF) and len(body) < declared:
        raise ValueError(TRUNCATED)


def wav_format(data: bytes) -> tuple[int, int, int]:
    """(sample rate, channels, bits per sample) of a WAV file."""
    _tag, channels, rate, bits = _format(_chunks(data))
    return rate, channels, bits


def read_wav(data: bytes) -> NDArray[np.int16]:
    """The samples of an 8 kHz mono 16-bit PCM WAV file (bytes), else ValueError."""
    chunks = _chunks(data)
    tag, channels, rate, bits = _format(chunks)
    if (tag, channels, rate, bits) != (1, 1, RATE, 16):
        raise ValueError(
            f"WAV must be {RATE} Hz mono 16-bit PCM "
            f"(got {rate} Hz, {channels} channel(s), {bits}-bit, format {tag})"
        )
    if b"data" not in chunks:
        raise ValueError("WAV file has no data chunk")
    body = chunks[b"data"][1]
    usable = len(body) - (len(body) % 2)
    return np.frombuffer(body[:usable], dtype="<i2").astype(np.int16)


def load_wav(path: Path) -> NDArray[np.int16]:
    """read_wav of a file."""
    return read_wav(path.read_bytes())


def write_wav(samples: NDArray[np.int16]) -> bytes:
    """An 8 kHz mono 16-bit PCM WAV file (bytes) holding `samples`; same samples, same bytes."""
    if samples.dtype != np.int16 or samples.ndim != 1:
        raise ValueError("samples must be a one-dimensional int16 array")
    body = samples.astype("<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(body),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        RATE,
        RATE * 2,
        2,
        16,
        b"data",
        len(body),
    )
    return header + body


def concat_wavs(parts: Iterable[Path | bytes]) -> bytes:
    """One WAV file playing the given 8 kHz mono WAV files (paths or bytes) one after another."""
    arrays = [load_wav(p) if isinstance(p, Path) else read_wav(p) for p in parts]
    if not arrays:
        return write_wav(np.zeros(0, dtype=np.int16))
    return write_wav(np.concatenate(arrays))


def duration_s(samples: NDArray[np.int16]) -> float:
    """Length in seconds of samples at RATE."""
    return len(samples) / RATE


# --- conversion ------------------------------------------------------------------------------


def decode(
    data: bytes,
    *,
    max_seconds: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> NDArray[np.int16]:
    """Decode any common audio file to 8 kHz mono int16 samples, else ValueError.

    Refuses files over `max_bytes`, files that are not audio, damaged or truncated files, audio
    longer than `max_seconds`, and decodes that take more than `timeout_s` of wall time.
    (Streamable formats cut exactly between two frames, such as MP3, cannot be told from a
    shorter file and decode to the part received.)
    """
    if len(data) > max_bytes:
        raise ValueError(too_large(len(data), max_bytes))
    kind = sniff(data)
    if kind == "wav":
        _check_wav_complete(data)
    # Decode a little past the limit: enough to tell "too long" without decoding everything.
    cap_s = max_seconds + 0.5
    with tempfile.TemporaryDirectory(prefix="relais-audio-") as tmp:
        source = Path(tmp) / "input"
        source.write_bytes(data)
        argv = [
            FFMPEG,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-threads",
            "1",
            "-protocol_whitelist",
            "file",
            "-f",
            DEMUXERS[kind],
            "-i",
            str(source),
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-t",
            f"{cap_s:.3f}",
            "-ac",
            "1",
            "-ar",
            str(RATE),
            "-acodec",
            "pcm_s16le",
            "-f",
            "s16le",
            "pipe:1",
        ]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ValueError(DECODE_TIMEOUT) from None
    # ffmpeg prints at "error" level only when the input is damaged (a truncated FLAC, Ogg or
    # WebM, an MP4 without its index); some of these still exit 0 with part of the audio.
    if done.returncode != 0 or done.stderr.strip():
        raise ValueError(UNDECODABLE)
    raw = done.stdout[: len(done.stdout) - (len(done.stdout) % 2)]
    samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if len(samples) == 0:
        raise ValueError(NO_SAMPLES)
    if len(samples) > max_seconds * RATE:
        raise ValueError(too_long(max_seconds))
    return samples


def to_wav(
    data: bytes,
    *,
    max_seconds: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> bytes:
    """Convert any common audio file to an 8 kHz mono 16-bit WAV file (bytes); see decode()."""
    return write_wav(
        decode(data, max_seconds=max_seconds, max_bytes=max_bytes, timeout_s=timeout_s)
    )
