"""The SIPp scenario helpers of tests/support/sip.py: a caller's audio as a pcap or a stream."""

from __future__ import annotations

import audioop
from pathlib import Path

import numpy as np
import pytest

from tests.support.sip import render, write_tone_stream


def test_a_stream_replaces_the_pcap_a_caller_plays(tmp_path: Path) -> None:
    played = render("uac_answer.xml", tmp_path / "p.xml", wait_ms=700, hold_ms=2300)
    assert 'play_pcap_audio="/usr/share/sip-tester/g711a.pcap"' in played.read_text()
    audio = tmp_path / "a.alaw"
    streamed = render("uac_answer.xml", tmp_path / "s.xml", stream=audio, wait_ms=0, hold_ms=1)
    text = streamed.read_text()
    assert f'<exec rtp_stream="{audio},1,8"/>' in text and "play_pcap_audio" not in text
    with pytest.raises(KeyError, match="plays no"):
        render("uac_cancel.xml", tmp_path / "c.xml", stream=audio)


def test_a_streamed_tone_is_raw_alaw_of_the_caller_syllables(tmp_path: Path) -> None:
    path = write_tone_stream(tmp_path / "t.alaw", 2.0, 440.0, syllables=True)
    data = path.read_bytes()
    assert len(data) == 16000  # 8 kHz, one byte a sample, no header
    pcm = np.frombuffer(audioop.alaw2lin(data, 2), dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    assert abs(np.argmax(spectrum[5:]) + 5 - 440.0 * len(pcm) / 8000) <= 2
    loud, soft = pcm[:3200], pcm[3300:3900]
    assert np.sqrt(np.mean(soft**2)) < np.sqrt(np.mean(loud**2)) / 10  # the 100 ms dip
