"""media.analysis: in-band DTMF detection (SPEC S4) and fax tone detection (SPEC S11)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from media import analysis
from media.analysis import DtmfDetector, FaxToneDetector, detect_dtmf, detect_fax_tone
from tests.unit.media_signals import (
    RATE,
    cng,
    dtmf,
    keys,
    noise,
    silence,
    sine,
    speech,
    to_int16,
)

ALL_KEYS = "0123456789*#ABCD"


def framed(detector: DtmfDetector, x: np.ndarray, frame: int = 160) -> str:
    """Feed the audio in 20 ms frames, as the switch does."""
    return "".join(detector.feed(x[at : at + frame]) for at in range(0, len(x), frame))


# --- DTMF: what must be detected -------------------------------------------------------------


def test_every_key_is_detected_once_per_press() -> None:
    assert detect_dtmf(keys(ALL_KEYS)) == ALL_KEYS


def test_streaming_in_20_ms_frames_gives_the_same_keys() -> None:
    assert framed(DtmfDetector(), to_int16(keys("16#*0"))) == "16#*0"


def test_a_long_press_is_one_key() -> None:
    assert detect_dtmf(np.concatenate([silence(0.1), dtmf("5", 1.5), silence(0.1)])) == "5"


def test_the_same_key_twice_is_two_keys() -> None:
    assert detect_dtmf(keys("77", on=0.05, off=0.045)) == "77"


@pytest.mark.parametrize("level", [-3.0, -10.0, -20.0, -30.0, -35.0])
def test_keys_at_levels_down_to_minus_35_dbfs_are_detected(level: float) -> None:
    assert detect_dtmf(keys("3B", dbfs=level)) == "3B"


def test_keys_below_the_minimum_level_are_ignored() -> None:
    assert detect_dtmf(keys("3B", dbfs=-40.0)) == ""


@pytest.mark.parametrize("snr_db", [15.0, 20.0, 30.0])
def test_keys_in_white_noise_are_detected(snr_db: float) -> None:
    x = keys("2580#", on=0.05, off=0.05, dbfs=-13.0)  # the pair: -10 dBFS
    noisy = x + noise(len(x) / RATE, -10.0 - snr_db, seed=int(snr_db))
    assert detect_dtmf(noisy) == "2580#"


@pytest.mark.parametrize("twist", [-4.0, -3.0, 0.0, 4.0, 8.0])
def test_twist_within_limits_is_accepted(twist: float) -> None:
    # Positive: the high tone weaker (normal twist, up to 8 dB); negative: reverse (4 dB).
    assert detect_dtmf(np.concatenate([silence(0.05), dtmf("9", twist_db=twist), silence(0.05)]))


@pytest.mark.parametrize("twist", [-6.0, 10.0, 14.0])
def test_twist_beyond_limits_is_rejected(twist: float) -> None:
    x = np.concatenate([silence(0.05), dtmf("9", twist_db=twist), silence(0.05)])
    assert detect_dtmf(x) == ""


@pytest.mark.parametrize("offset", [-0.015, 0.015])
def test_tones_1_5_percent_off_are_accepted(offset: float) -> None:
    for k in ALL_KEYS:
        assert detect_dtmf(np.concatenate([dtmf(k, offset=offset), silence(0.05)])) == k


@pytest.mark.parametrize("offset", [-0.035, 0.035])
def test_tones_3_5_percent_off_are_rejected(offset: float) -> None:
    for k in ALL_KEYS:
        assert detect_dtmf(np.concatenate([dtmf(k, offset=offset), silence(0.05)])) == ""


def test_clipped_keys_are_still_detected() -> None:
    loud = np.clip(keys("147", dbfs=-3.0) * 1.3, -1.0, 1.0)
    assert analysis.clipped_fraction(loud) > 0.01
    assert detect_dtmf(to_int16(loud)) == "147"


# --- DTMF: timing ----------------------------------------------------------------------------


@pytest.mark.parametrize("start", range(0, 102, 7))
def test_a_40_ms_tone_is_detected_wherever_it_starts(start: int) -> None:
    x = np.concatenate([np.zeros(200 + start), dtmf("6", 0.040), silence(0.05)])
    assert detect_dtmf(x) == "6"


@pytest.mark.parametrize("start", range(0, 102, 7))
@pytest.mark.parametrize("length", [0.010, 0.015, 0.020])
def test_a_tone_of_20_ms_or_less_is_never_detected(start: int, length: float) -> None:
    x = np.concatenate([np.zeros(200 + start), dtmf("6", length), silence(0.05)])
    assert detect_dtmf(x) == ""


def test_a_10_ms_drop_out_inside_a_tone_does_not_make_a_second_key() -> None:
    x = np.concatenate([silence(0.05), dtmf("3", 0.06), silence(0.010), dtmf("3", 0.06)])
    assert detect_dtmf(np.concatenate([x, silence(0.05)])) == "3"


def test_a_40_ms_pause_between_presses_separates_them() -> None:
    x = np.concatenate([silence(0.05), dtmf("3", 0.05), silence(0.040), dtmf("3", 0.05)])
    assert detect_dtmf(np.concatenate([x, silence(0.05)])) == "33"


@pytest.mark.parametrize("start", range(0, 51, 10))
def test_a_15_ms_glitch_of_another_key_does_not_split_a_press(start: int) -> None:
    x = np.concatenate([np.zeros(200 + start), dtmf("8", 0.06), dtmf("9", 0.015), dtmf("8", 0.06)])
    assert detect_dtmf(np.concatenate([x, silence(0.05)])) == "8"


def test_keys_follow_each_other_without_a_gap() -> None:
    x = np.concatenate([silence(0.05), dtmf("1", 0.06), dtmf("2", 0.06), silence(0.05)])
    assert detect_dtmf(x) == "12"


# --- DTMF: what must not be detected ---------------------------------------------------------


def test_silence_and_noise_hold_no_keys() -> None:
    assert detect_dtmf(silence(2.0)) == ""
    assert detect_dtmf(noise(10.0, -10.0)) == ""
    assert detect_dtmf(noise(10.0, -40.0, seed=2)) == ""


@pytest.mark.parametrize("female", [False, True])
def test_speech_is_not_taken_for_keys(female: bool) -> None:
    assert detect_dtmf(speech(120.0, female=female, seed=17)) == ""


def test_a_single_tone_is_not_a_key() -> None:
    assert detect_dtmf(sine(697.0, 1.0, -10.0)) == ""
    assert detect_dtmf(sine(1336.0, 1.0, -10.0)) == ""


# --- fax tones -------------------------------------------------------------------------------


def test_cng_cadence_is_detected() -> None:
    assert detect_fax_tone(cng(3)) == "CNG"


def test_cng_is_detected_after_the_second_burst_when_streaming() -> None:
    x = to_int16(cng(3))
    detector = FaxToneDetector()
    found_at = None
    for at in range(0, len(x), 160):
        if detector.feed(x[at : at + 160]):
            found_at = at / RATE
            break
    # Second burst: 0.3 + 0.5 + 3.0 s to 4.3 s; reported once it ends (plus the drop-out).
    assert found_at is not None and 4.3 <= found_at <= 4.5
    assert detector.detected == "CNG"
    assert detector.feed(x) is None  # reported once


def _reported(x: np.ndarray, size: int) -> tuple[int | None, str | None]:
    """How many samples had been fed when the detector, fed `size` at a time, reported a tone."""
    detector = FaxToneDetector()
    for at in range(0, len(x), size):
        if detector.feed(x[at : at + size]):
            return min(at + size, len(x)), detector.detected
    return None, detector.detected


@pytest.mark.parametrize("chunk", [800, 2000, 4000, 8000])
@pytest.mark.parametrize(
    ("audio", "tone"),
    [
        (lambda: np.concatenate([speech(2.0, seed=2), silence(5.0), cng(3)]), "CNG"),
        (lambda: np.concatenate([silence(1.3), sine(2100.0, 2.0, -20.0)]), "CED"),
        (lambda: np.concatenate([cng(1), silence(4.5), cng(2)]), "CNG"),
    ],
)
def test_fax_tones_are_found_at_the_same_block_however_the_audio_is_cut(
    audio: Callable[[], np.ndarray], tone: str, chunk: int
) -> None:
    # The listener reads a call's audio a tenth to a quarter of a second at a time: the answer,
    # and the 20 ms block it comes with, do not depend on the cut.
    x = to_int16(audio())
    at_block, found = _reported(x, 160)
    assert found == tone and at_block is not None
    at_chunk, found = _reported(x, chunk)
    assert found == tone
    assert at_chunk == min(len(x), -(-at_block // chunk) * chunk)


def test_cng_in_noise_and_at_low_level_is_detected() -> None:
    x = cng(2, dbfs=-38.0)
    assert detect_fax_tone(x + noise(len(x) / RATE, -55.0)) == "CNG"


def test_cng_cadence_with_tolerances() -> None:
    assert detect_fax_tone(cng(2, on=0.45, off=2.7)) == "CNG"
    assert detect_fax_tone(cng(2, on=0.6, off=3.4)) == "CNG"


def test_a_single_burst_is_not_yet_a_fax() -> None:
    assert detect_fax_tone(cng(1)) is None


def test_a_continuous_1100_hz_tone_is_not_cng() -> None:
    assert detect_fax_tone(sine(1100.0, 10.0, -15.0)) is None


def test_1100_hz_with_the_wrong_cadence_is_not_cng() -> None:
    assert detect_fax_tone(cng(4, on=1.0, off=3.0)) is None  # bursts too long
    assert detect_fax_tone(cng(4, on=0.5, off=1.0)) is None  # gaps too short
    assert detect_fax_tone(cng(3, on=0.5, off=6.0)) is None  # gaps too long


def test_other_frequencies_are_not_cng() -> None:
    bursts = np.concatenate([np.concatenate([sine(1300.0, 0.5), silence(3.0)]) for _ in range(3)])
    assert detect_fax_tone(bursts) is None


@pytest.mark.parametrize("female", [False, True])
def test_speech_is_not_a_fax(female: bool) -> None:
    assert detect_fax_tone(speech(60.0, female=female, seed=5)) is None


def test_ced_answer_tone_is_detected() -> None:
    assert detect_fax_tone(np.concatenate([silence(0.2), sine(2100.0, 3.0, -15.0)])) == "CED"


def test_a_short_2100_hz_tone_is_not_ced() -> None:
    assert detect_fax_tone(np.concatenate([silence(0.2), sine(2100.0, 0.6), silence(1.0)])) is None


def test_ced_with_phase_reversals_is_detected() -> None:
    # V.25 answer tone: 2100 Hz with its phase reversed every 450 ms.
    parts = [sine(2100.0, 0.45, -15.0, phase=np.pi * (i % 2)) for i in range(6)]
    assert detect_fax_tone(np.concatenate(parts)) == "CED"


# --- DTMF over a whole recording at once -----------------------------------------------------


def test_the_first_key_of_a_recording_is_found_where_it_starts() -> None:
    x = np.concatenate([speech(1.0, seed=3), dtmf("#", seconds=0.2), silence(0.3)])
    at = analysis.first_dtmf(to_int16(x))
    assert at is not None and RATE - analysis.DTMF_WINDOW <= at <= RATE + analysis.DTMF_HOP
    assert analysis.first_dtmf(to_int16(speech(2.0, seed=5))) is None
    assert analysis.first_dtmf(np.zeros(50, dtype=np.int16)) is None


def test_all_windows_at_once_agree_with_one_window_at_a_time() -> None:
    x = np.concatenate([speech(0.3, seed=8), keys("5*9"), noise(0.2, dbfs=-30.0)])
    windows = analysis.sliding_windows(x)
    assert len(windows) == (len(x) - analysis.DTMF_WINDOW) // analysis.DTMF_HOP + 1
    whole = analysis.dtmf_windows(windows)
    assert whole == [analysis.dtmf_window(np.array(w)) for w in windows]
    assert {k for k in whole if k} == {"5", "*", "9"}


def test_windows_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(ValueError) as err:
        analysis.dtmf_windows(np.zeros((3, 100)))
    assert str(err.value) == "windows must be an n x 102 array"
