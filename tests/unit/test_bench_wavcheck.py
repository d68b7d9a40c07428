"""The benchmark's content check of stored messages (tests/bench/wavcheck.py): it must fail a
recording with a hole or without the caller's tone, which a length check alone passes."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tests.bench.wavcheck import RATE, check_file, problem

pytestmark = pytest.mark.unit


def syllables(seconds: float, hz: float = 440.0) -> np.ndarray:
    """What the bench callers send: 400 ms loud, 100 ms 26 dB softer (write_tone_pcap)."""
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    x = 0.3 * np.sin(2 * np.pi * hz * t)
    soft = (np.arange(n) % 4000 >= 3200) & (np.arange(n) < n - 3200)
    return np.where(soft, x / 20, x)


def test_the_audio_sent_passes() -> None:
    assert problem(syllables(2.0), seconds=2.0, hz=440.0, tolerance=0.25) == ""


def test_a_hole_is_found_where_the_length_is_right() -> None:
    x = syllables(2.0)
    x[8000:8160] = 0.0  # one lost 20 ms packet at 1 s
    assert problem(x, seconds=2.0, hz=440.0, tolerance=0.25) == (
        "1 silent 20 ms frame(s), the first at 1.00 s"
    )


def test_another_callers_audio_fails() -> None:
    x = syllables(2.0, hz=1000.0)
    assert problem(x, seconds=2.0, hz=440.0, tolerance=0.25).startswith("only 0% of the energy")


def test_silence_and_a_wrong_length_fail() -> None:
    assert problem(np.zeros(16000), seconds=2.0, hz=440.0, tolerance=0.25).startswith("96 silent")
    assert problem(syllables(1.5), seconds=2.0, hz=440.0, tolerance=0.25) == (
        "length 1.500 s instead of 2.000 s"
    )


def test_files_are_read_and_bad_ones_reported(tmp_path: Path) -> None:
    good = tmp_path / "good.wav"
    with wave.open(str(good), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((syllables(2.0) * 32767).astype("<i2").tobytes())
    assert check_file(good, seconds=2.0) == ""
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF")
    assert check_file(bad, seconds=2.0).startswith("unreadable:")
