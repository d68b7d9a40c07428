"""The listening tap (switch/tap.c, switch/tap.py) beside the Python detectors it replaces on a
call: spandsp's DTMF receiver (media.spandsp), VoiceActivity and FaxToneDetector
(media.analysis). The tap is fed audio directly, as the bridge hands it over (20 ms frames, or
odd-sized blocks), without pjsua; the peer tests listen through it on real calls."""

from __future__ import annotations

import os
import select

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.analysis import FaxToneDetector, VoiceActivity
from media.spandsp import keys_in
from switch import tap
from tests.integration.test_ivr_services import silence, speechlike
from tests.support.faxes import document
from tests.support.phone import dtmf_samples
from tests.support.sip import need_tap


@pytest.fixture(autouse=True)
def _tap() -> None:
    need_tap()


def fed(detector: tap.Detector, audio: np.ndarray, block: int = 160) -> None:
    for start in range(0, len(audio), block):
        detector.feed(audio[start : start + block])


def tone(hz: float, seconds: float, level: float = 8000.0) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.int16)


@pytest.mark.parametrize("block", [160, 1001, 37])
def test_inband_keys_as_spandsp_hears_them_once_each_and_off_after_an_rfc4733_digit(
    block: int,
) -> None:
    audio = np.concatenate([speechlike(0.5), dtmf_samples("1#"), silence(0.2), dtmf_samples("*")])
    d = tap.Detector()
    try:
        fed(d, audio, block)
        assert d.take() == (keys_in(audio), False) == ("1#*", False)
        assert d.take() == ("", False)
        d.stop_inband()
        fed(d, dtmf_samples("5"))
        assert d.take() == ("", False)
    finally:
        d.close()
    assert d.take() == ("", False)  # closed: nothing is read any more


def test_a_key_or_a_fax_tone_writes_the_taps_id_once_until_it_is_taken() -> None:
    read_fd, write_fd = os.pipe()
    d = tap.Detector(id=42, notify_fd=write_fd)
    try:
        fed(d, np.concatenate([dtmf_samples("12"), silence(0.2)]))
        assert os.read(read_fd, 64) == (42).to_bytes(4, "little")  # one for both keys
        assert select.select([read_fd], [], [], 0)[0] == []
        assert d.take() == ("12", False)
        fed(d, np.concatenate([dtmf_samples("3"), silence(0.2)]))
        assert os.read(read_fd, 64) == (42).to_bytes(4, "little")
    finally:
        d.close()
        os.close(read_fd)
        os.close(write_fd)


def voiced_frames(audio: np.ndarray, block: int = 160) -> int:
    d = tap.Detector()
    try:
        d.arm(True, 0.0)
        fed(d, audio, block)
        return d.frames(voiced=True)
    finally:
        d.close()


@pytest.mark.parametrize(
    "audio",
    [
        speechlike(3.0),
        np.concatenate([silence(1.0), speechlike(1.0), silence(2.0)]),
        tone(440, 4.0),  # a steady tone becomes the floor
        np.concatenate([tone(440, 0.3, 300), speechlike(0.5, seed=3), tone(440, 2.0, 300)]),
        silence(1.0),
    ],
)
def test_voice_activity_frame_by_frame_as_media_analysis_finds_it(audio: np.ndarray) -> None:
    expected = sum(VoiceActivity().feed(audio))
    assert voiced_frames(audio) == expected
    assert voiced_frames(audio, block=999) == expected


@settings(max_examples=40, deadline=None)
@given(
    parts=st.lists(
        st.tuples(st.sampled_from(["voice", "quiet", "tone", "noise"]), st.floats(0.02, 1.0)),
        min_size=1,
        max_size=6,
    ),
    seed=st.integers(0, 2**16),
)
def test_voice_activity_agrees_with_media_analysis_on_any_mix(
    parts: list[tuple[str, float]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    chunks = []
    for kind, seconds in parts:
        n = int(8000 * seconds)
        if kind == "voice":
            chunks.append(speechlike(seconds, seed=seed))
        elif kind == "quiet":
            chunks.append(rng.normal(0, 30, n).astype(np.int16))
        elif kind == "tone":
            chunks.append(
                tone(float(rng.integers(200, 3000)), seconds, float(rng.integers(50, 20000)))
            )
        else:
            chunks.append(rng.normal(0, float(rng.integers(10, 8000)), n).astype(np.int16))
    audio = np.concatenate(chunks)
    assert voiced_frames(audio, block=int(rng.integers(1, 400))) == sum(VoiceActivity().feed(audio))


def test_the_last_voice_moves_with_voice_only() -> None:
    d = tap.Detector()
    try:
        d.arm(True, 100.0)  # armed "at" 100 s: no voice yet
        fed(d, silence(1.0))
        assert d.last_voice() == 100.0
        fed(d, speechlike(0.5))
        heard = d.last_voice()
        assert heard > 100.0
        fed(d, silence(1.0))
        assert d.last_voice() == heard
        d.arm(False, 0.0)
        fed(d, speechlike(0.5))  # not armed: nothing looked at for voice
        assert d.last_voice() == 0.0
    finally:
        d.close()


def fax_tone(audio: np.ndarray, block: int = 160) -> bool:
    d = tap.Detector()
    try:
        fed(d, audio, block)
        cng = d.take()[1]
        assert d.take()[1] is False  # said once
        return cng
    finally:
        d.close()


def test_a_calling_fax_cng_is_recognised_as_media_analysis_does_and_a_steady_tone_never(
    tmp_path: pytest.TempPathFactory,
) -> None:
    from media.fax import FaxTerminal

    sender = FaxTerminal(send_from=document(tmp_path / "doc.tif", 1), calling=True)  # type: ignore[operator]
    cng = np.concatenate([sender.transmit(160) for _ in range(450)])
    sender.close()
    cases = [
        (cng, True),
        (tone(1100, 9.0), False),
        (np.concatenate([speechlike(4.0), silence(1.0), speechlike(4.0)]), False),
        (np.concatenate([tone(2100, 3.0), cng]), False),  # an answering fax's CED first
    ]
    for audio, expected in cases:
        assert (FaxToneDetector().feed(audio) == "CNG") is expected
        assert fax_tone(audio) is expected
        assert fax_tone(audio, block=777) is expected


@settings(max_examples=30, deadline=None)
@given(
    bursts=st.lists(st.tuples(st.floats(0.1, 1.2), st.floats(0.5, 4.5)), min_size=1, max_size=4),
    level=st.sampled_from([300.0, 3000.0, 12000.0]),
)
def test_cng_cadence_agrees_with_media_analysis(
    bursts: list[tuple[float, float]], level: float
) -> None:
    audio = np.concatenate(
        [np.concatenate([tone(1100, on, level), silence(off)]) for on, off in bursts]
    )
    assert fax_tone(audio) is (FaxToneDetector().feed(audio) == "CNG")
