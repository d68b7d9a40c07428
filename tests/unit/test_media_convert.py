"""media.convert: sniffing, ffmpeg conversion of real encoded files, WAV <-> numpy, concat."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from media import analysis, convert
from tests.unit.media_signals import RATE, refusal, sine, to_int16

TONE_S = 2.0
FFMPEG_TONE = ("ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i")


def encode(tmp_path: Path, name: str, *args: str, seconds: float = TONE_S) -> bytes:
    """A 440 Hz tone encoded by ffmpeg with the given output options."""
    out = tmp_path / name
    subprocess.run(
        [*FFMPEG_TONE, f"sine=frequency=440:duration={seconds}:sample_rate=48000", *args, str(out)],
        check=True,
        timeout=60,
    )
    return out.read_bytes()


FORMATS = {
    # name: (file name, encoder options, sniffed type)
    "mp3": ("tone.mp3", ["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"),
    "ogg-vorbis": ("tone.ogg", ["-c:a", "libvorbis"], "ogg"),
    "ogg-opus": ("tone.opus", ["-c:a", "libopus"], "ogg"),
    "webm-opus": ("tone.webm", ["-c:a", "libopus"], "webm"),  # what MediaRecorder uploads
    "m4a-aac": ("tone.m4a", ["-c:a", "aac"], "mp4"),
    "flac": ("tone.flac", [], "flac"),
    "wav-44k-stereo-24bit": ("tone.wav", ["-ar", "44100", "-ac", "2", "-c:a", "pcm_s24le"], "wav"),
    "wav-16k-float": ("f.wav", ["-ar", "16000", "-c:a", "pcm_f32le"], "wav"),
    "wav-8k-alaw": ("a.wav", ["-ar", "8000", "-c:a", "pcm_alaw"], "wav"),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_common_formats_convert_to_8_khz_mono_16_bit(tmp_path: Path, fmt: str) -> None:
    name, options, kind = FORMATS[fmt]
    data = encode(tmp_path, name, *options)
    assert convert.sniff(data) == kind
    wav = convert.to_wav(data, max_seconds=10)
    assert convert.wav_format(wav) == (8000, 1, 16)
    samples = convert.read_wav(wav)
    assert len(samples) / RATE == pytest.approx(TONE_S, abs=0.06)
    # Still a 440 Hz tone near ffmpeg's sine level: amplitude 1/8, -21.1 dBFS RMS (a stereo
    # file mixed down to mono may come out up to 3 dB lower).
    middle = samples[RATE // 2 : RATE // 2 + 1600]
    power_440 = analysis.goertzel_power(middle, 440.0)
    power_1000 = analysis.goertzel_power(middle, 1000.0)
    assert power_440 > 1000 * power_1000
    assert -24.6 <= analysis.rms_dbfs(middle) <= -20.6


def test_sniffing_refuses_what_is_not_audio() -> None:
    for data in [b"%PDF-1.7\n...", b"<html><body>", b"PK\x03\x04zip", b"hello" * 50]:
        assert refusal(lambda d=data: convert.sniff(d)) == "not an audio file"
    assert refusal(lambda: convert.sniff(b"")) == "empty audio file"


def test_sniffing_recognises_magic_numbers() -> None:
    assert convert.sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert convert.sniff(b"ID3\x04\x00") == "mp3"
    assert convert.sniff(b"\xff\xfb\x90\x64" + bytes(10)) == "mp3"
    assert convert.sniff(b"\xff\xf1\x50\x80" + bytes(10)) == "aac"
    assert convert.sniff(b"OggS\x00\x02") == "ogg"
    assert convert.sniff(b"\x1a\x45\xdf\xa3\x9f") == "webm"
    assert convert.sniff(b"\x00\x00\x00\x20ftypM4A ") == "mp4"
    assert convert.sniff(b"fLaC\x00\x00") == "flac"
    assert convert.sniff(b"FORM\x00\x00\x00\x00AIFF") == "aiff"
    assert convert.sniff(b"#!AMR\n") == "amr"
    # A frame sync with a reserved bitrate is not MP3.
    assert refusal(lambda: convert.sniff(b"\xff\xfb\xf0\x64" + bytes(10))) == "not an audio file"


def test_garbage_with_an_audio_signature_is_refused_cleanly() -> None:
    for data in [b"OggS" + bytes(500), b"fLaC" + b"\x00" * 300, b"\x1a\x45\xdf\xa3" + b"x" * 300]:
        assert (
            refusal(lambda d=data: convert.decode(d, max_seconds=10))
            == "audio could not be decoded"
        )


@pytest.mark.parametrize("fmt", ["m4a-aac", "ogg-vorbis", "flac", "webm-opus"])
def test_a_truncated_file_is_refused(tmp_path: Path, fmt: str) -> None:
    name, options, _ = FORMATS[fmt]
    data = encode(tmp_path, name, *options)
    assert (
        refusal(lambda: convert.decode(data[: len(data) // 2], max_seconds=10))
        == "audio could not be decoded"
    )


def test_a_truncated_wav_is_refused() -> None:
    data = convert.write_wav(to_int16(sine(440.0, 1.0)))
    assert refusal(lambda: convert.decode(data[:5000], max_seconds=10)) == "audio file is truncated"
    assert refusal(lambda: convert.decode(data[:30], max_seconds=10)) == "audio file is truncated"


def test_a_wav_from_a_stream_without_length_is_accepted() -> None:
    data = bytearray(convert.write_wav(to_int16(sine(440.0, 1.0))))
    data[40:44] = struct.pack("<I", 0xFFFFFFFF)
    assert len(convert.decode(bytes(data), max_seconds=10)) == RATE


def test_too_long_audio_is_refused(tmp_path: Path) -> None:
    data = encode(tmp_path, "long.mp3", "-c:a", "libmp3lame", seconds=12.0)
    assert refusal(lambda: convert.decode(data, max_seconds=10)) == "audio longer than 10 s"
    assert len(convert.decode(data, max_seconds=12.5)) / RATE == pytest.approx(12.0, abs=0.06)


def test_too_large_files_are_refused_before_decoding() -> None:
    too_big = b"RIFF" + bytes(1996)
    assert (
        refusal(lambda: convert.decode(too_big, max_seconds=10, max_bytes=1000))
        == "audio file too large: 2000 bytes (limit 1000)"
    )


def test_a_decode_that_takes_too_long_is_stopped(tmp_path: Path) -> None:
    data = encode(tmp_path, "slow.flac", seconds=60.0)
    assert (
        refusal(lambda: convert.decode(data, max_seconds=120, timeout_s=0.01))
        == "audio decoding took too long"
    )


def test_ffmpeg_is_told_the_demuxer_and_may_only_read_its_file() -> None:
    # An HLS playlist would make ffmpeg fetch other files; it is not even sniffed as audio.
    playlist = b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n"
    assert refusal(lambda: convert.decode(playlist, max_seconds=10)) == "not an audio file"


# --- WAV <-> numpy ---------------------------------------------------------------------------


def test_write_then_read_is_an_identity() -> None:
    samples = to_int16(sine(300.0, 0.5, -6.0))
    data = convert.write_wav(samples)
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert len(data) == 44 + 2 * len(samples)
    assert np.array_equal(convert.read_wav(data), samples)
    assert convert.write_wav(samples) == data  # deterministic


def test_read_wav_accepts_only_8_khz_mono_16_bit(tmp_path: Path) -> None:
    data = encode(tmp_path, "x.wav", "-ar", "16000", "-ac", "2", "-c:a", "pcm_s16le")
    assert refusal(lambda: convert.read_wav(data)) == (
        "WAV must be 8000 Hz mono 16-bit PCM (got 16000 Hz, 2 channel(s), 16-bit, format 1)"
    )
    assert refusal(lambda: convert.read_wav(b"OggS" + bytes(100))) == "not a WAV file"


def test_read_wav_skips_extra_chunks_and_reads_extensible_format(tmp_path: Path) -> None:
    samples = to_int16(sine(500.0, 0.2))
    body = samples.tobytes()
    fmt = struct.pack("<HHIIHHHHIH14s", 0xFFFE, 1, 8000, 16000, 2, 16, 22, 16, 4, 1, bytes(14))
    chunks = b"LIST" + struct.pack("<I", 5) + b"abcde\x00"
    chunks += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(body)) + body
    data = b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
    assert np.array_equal(convert.read_wav(data), samples)


def test_read_wav_without_data_is_refused() -> None:
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    data = b"RIFF" + struct.pack("<I", 28) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    assert refusal(lambda: convert.read_wav(data)) == "WAV file has no data chunk"
    assert (
        refusal(lambda: convert.read_wav(b"RIFF\x04\x00\x00\x00WAVE"))
        == "WAV file has no fmt chunk"
    )


def test_write_wav_refuses_other_sample_types() -> None:
    floats = np.zeros(10, dtype=np.float64)
    message = refusal(lambda: convert.write_wav(floats))  # type: ignore[arg-type]
    assert message == "samples must be a one-dimensional int16 array"


def test_concat_plays_the_parts_one_after_another(tmp_path: Path) -> None:
    a = to_int16(sine(400.0, 0.3))
    b = to_int16(sine(800.0, 0.2))
    path = tmp_path / "a.wav"
    path.write_bytes(convert.write_wav(a))
    joined = convert.read_wav(convert.concat_wavs([path, convert.write_wav(b)]))
    assert np.array_equal(joined, np.concatenate([a, b]))
    assert len(convert.read_wav(convert.concat_wavs([]))) == 0
