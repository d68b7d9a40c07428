"""media.spandsp: spandsp's DTMF receiver and generator bound with ctypes (SPEC S5)."""

from __future__ import annotations

import numpy as np
import pytest

from media import spandsp
from media.spandsp import DtmfReceiver, dtmf_tones
from tests.unit.media_signals import dtmf, keys, noise, refusal, silence, speech, to_int16

ALL_KEYS = "0123456789*#ABCD"

pytestmark = pytest.mark.skipif(not spandsp.available(), reason="libspandsp2 is not installed")


def framed(receiver: DtmfReceiver, x: np.ndarray, frame: int = 160) -> str:
    """Feed the audio in 20 ms frames, as the switch does, then a little silence."""
    out = "".join(receiver.feed(x[at : at + frame]) for at in range(0, len(x), frame))
    return out + receiver.feed(np.zeros(400, dtype=np.int16))


def test_every_key_is_detected_once_per_press() -> None:
    assert framed(DtmfReceiver(), to_int16(keys(ALL_KEYS))) == ALL_KEYS


def test_keys_generated_by_spandsp_round_trip() -> None:
    assert framed(DtmfReceiver(), dtmf_tones("1234567890*#")) == "1234567890*#"


def test_a_long_press_is_one_key() -> None:
    x = np.concatenate([silence(0.1), dtmf("5", seconds=1.5), silence(0.1)])
    assert framed(DtmfReceiver(), to_int16(x)) == "5"


def test_keys_over_speech_level_noise_are_found() -> None:
    x = keys("2580") + noise(len(keys("2580")) / 8000, dbfs=-40.0)
    assert framed(DtmfReceiver(), to_int16(x)) == "2580"


@pytest.mark.parametrize("seed", [3, 5, 8])
def test_speech_makes_no_key(seed: int) -> None:
    assert framed(DtmfReceiver(), to_int16(speech(8.0, seed=seed))) == ""
    assert framed(DtmfReceiver(), to_int16(speech(8.0, seed=seed, female=True))) == ""


def test_a_tone_too_weak_for_the_threshold_is_ignored() -> None:
    weak = to_int16(keys("7", dbfs=-40.0))
    assert framed(DtmfReceiver(threshold_dbm0=-30), weak) == ""
    assert framed(DtmfReceiver(threshold_dbm0=-45), weak) == "7"


def test_bad_input_is_refused_with_exact_messages() -> None:
    receiver = DtmfReceiver()
    message = "samples must be a one-dimensional int16 array"
    assert refusal(lambda: receiver.feed(np.zeros(160))) == message  # type: ignore[arg-type]
    assert refusal(lambda: receiver.feed(np.zeros((2, 80), dtype=np.int16))) == message
    assert refusal(lambda: dtmf_tones("12x")) == "not a DTMF key: 'x'"
    receiver.close()
    assert refusal(lambda: receiver.feed(np.zeros(160, dtype=np.int16))) == (
        "the DTMF receiver is closed"
    )


def test_an_empty_frame_is_harmless() -> None:
    assert DtmfReceiver().feed(np.zeros(0, dtype=np.int16)) == ""
    assert len(dtmf_tones("")) == 0


def test_spandsp_runs_with_the_gil_held() -> None:
    """Its calls are short and frequent (the listener, a fax's clock thread): releasing the GIL
    for each one cost a hand-over to another thread and a wait to get it back. A PyDLL's
    functions keep the GIL (ctypes)."""
    import ctypes

    assert isinstance(spandsp.library(), ctypes.PyDLL)
    receiver = DtmfReceiver()  # and the bindings work through it
    try:
        assert receiver.feed(to_int16(dtmf("5"))) == "5"
    finally:
        receiver.close()
