"""media.analysis: levels, normalisation, voice activity, trimming and empty messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from media import analysis
from tests.unit.media_signals import (
    RATE,
    click,
    noise,
    refusal,
    silence,
    sine,
    speech,
    to_int16,
)

# --- levels ----------------------------------------------------------------------------------


def test_levels_of_a_sine_and_a_square() -> None:
    tone = sine(1000.0, 1.0, dbfs=-12.0)
    assert analysis.rms_dbfs(tone) == pytest.approx(-12.0, abs=0.01)
    assert analysis.peak_dbfs(tone) == pytest.approx(-12.0 + 3.01, abs=0.01)
    square = np.where(np.arange(RATE) % 2, 0.5, -0.5)
    assert analysis.rms_dbfs(square) == pytest.approx(-6.02, abs=0.01)


def test_int16_and_float_give_the_same_levels() -> None:
    tone = sine(440.0, 0.5, dbfs=-20.0)
    assert analysis.rms_dbfs(to_int16(tone)) == pytest.approx(analysis.rms_dbfs(tone), abs=0.01)


def test_silence_is_reported_as_the_floor_not_minus_infinity() -> None:
    assert analysis.rms_dbfs(silence(1.0)) == analysis.SILENCE_DBFS
    assert analysis.peak_dbfs(np.zeros(0, dtype=np.int16)) == analysis.SILENCE_DBFS
    assert analysis.frame_dbfs(silence(0.1)).tolist() == [analysis.SILENCE_DBFS] * 5


def test_frame_levels_follow_the_signal() -> None:
    x = np.concatenate([sine(500.0, 0.1, -10.0), silence(0.1), sine(500.0, 0.1, -30.0)])
    levels = analysis.frame_dbfs(x)
    assert len(levels) == 15
    assert levels[:5] == pytest.approx([-10.0] * 5, abs=0.1)
    assert levels[10:] == pytest.approx([-30.0] * 5, abs=0.1)


def test_other_sample_types_are_refused() -> None:
    assert (
        refusal(lambda: analysis.rms_dbfs(np.zeros(10, dtype=np.int32)))
        == "unsupported sample type: int32"
    )


def test_clipped_fraction_measures_clipping() -> None:
    tone = to_int16(np.clip(sine(300.0, 1.0, dbfs=0.0) * 2.0, -1.0, 1.0))
    assert analysis.clipped_fraction(tone) > 0.5
    assert analysis.clipped_fraction(to_int16(sine(300.0, 1.0, dbfs=-6.0))) == 0.0


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize("level", [-40.0, -25.0, -12.0])
def test_normalise_reaches_the_target_rms(level: float) -> None:
    out = analysis.normalise(to_int16(sine(440.0, 1.0, level)), -18.0)
    assert out.dtype == np.int16
    assert analysis.rms_dbfs(out) == pytest.approx(-18.0, abs=0.05)


def test_normalise_never_pushes_the_peak_over_the_limit() -> None:
    # A spiky signal: reaching -12 dBFS RMS would need the peak far above full scale.
    x = np.zeros(RATE)
    x[::400] = 0.5
    out = analysis.normalise(to_int16(x), -12.0, peak_limit_dbfs=-1.0)
    assert analysis.peak_dbfs(out) == pytest.approx(-1.0, abs=0.01)
    assert analysis.clipped_fraction(out) == 0.0


def test_normalise_a_clipped_recording_only_lowers_it() -> None:
    clipped = to_int16(np.clip(sine(300.0, 1.0, dbfs=0.0) * 3.0, -1.0, 1.0))
    assert analysis.rms_dbfs(clipped) > -1.0
    out = analysis.normalise(clipped, -3.0, peak_limit_dbfs=-1.0)
    assert analysis.rms_dbfs(out) == pytest.approx(-3.0, abs=0.05)
    assert analysis.peak_dbfs(out) < -1.0
    assert analysis.clipped_fraction(out) == 0.0


def test_normalise_limits_the_gain_on_near_silence() -> None:
    hiss = to_int16(noise(1.0, -70.0))
    out = analysis.normalise(hiss, -18.0, max_gain_db=30.0)
    assert analysis.rms_dbfs(out) == pytest.approx(-40.0, abs=0.2)


def test_normalise_leaves_silence_silent() -> None:
    assert not analysis.normalise(np.zeros(800, dtype=np.int16)).any()
    assert len(analysis.normalise(np.zeros(0, dtype=np.int16))) == 0


# --- voice activity --------------------------------------------------------------------------


def test_voice_duration_of_speech_between_silences() -> None:
    x = np.concatenate([silence(1.0), speech(2.0), silence(1.5), speech(1.0, seed=5), silence(1)])
    assert analysis.voice_duration(to_int16(x)) == pytest.approx(3.0, abs=0.1)
    segments = analysis.voice_segments(to_int16(x))
    assert [(round(s.start / RATE, 1), round(s.end / RATE, 1)) for s in segments] == [
        (1.0, 3.0),
        (4.5, 5.5),
    ]


def test_voice_over_line_noise_is_still_found() -> None:
    x = np.concatenate([silence(1.0), speech(2.0), silence(1.0)]) + noise(4.0, -50.0)
    assert analysis.voice_duration(to_int16(x)) == pytest.approx(2.0, abs=0.1)


def test_steady_noise_alone_is_not_voice() -> None:
    assert analysis.voice_duration(to_int16(noise(5.0, -30.0))) < 0.2


def test_clicks_are_not_voice() -> None:
    x = np.concatenate([silence(0.5), click(), silence(0.7), click(), silence(0.5)])
    assert analysis.voice_duration(to_int16(x)) == 0.0


def test_empty_message_detection() -> None:
    short = np.concatenate([silence(1.0), speech(0.6), silence(2.0)])
    enough = np.concatenate([silence(1.0), speech(1.5), silence(2.0)])
    assert analysis.is_empty_message(to_int16(silence(5.0)))
    assert analysis.is_empty_message(to_int16(noise(5.0, -35.0)))
    assert analysis.is_empty_message(to_int16(short), min_voice_s=1.0)
    assert not analysis.is_empty_message(to_int16(enough), min_voice_s=1.0)
    assert analysis.is_empty_message(to_int16(enough), min_voice_s=2.0)


def test_streaming_detector_counts_silence_and_voice_per_frame() -> None:
    vad = analysis.VoiceActivity()
    x = np.concatenate([speech(1.0), silence(2.0)])
    flags: list[bool] = []
    for at in range(0, len(x), 160):
        flags += vad.feed(x[at : at + 160])
    assert len(flags) == 150
    assert vad.silence_s == pytest.approx(2.0, abs=0.05)
    assert vad.voice_s == pytest.approx(1.0, abs=0.1)
    vad.feed(speech(0.2, seed=9))
    assert vad.silence_s == 0.0


def test_streaming_detector_gives_the_same_answer_however_the_audio_is_cut() -> None:
    x = np.concatenate([silence(0.5), speech(1.0), silence(0.5)])
    whole = analysis.VoiceActivity().feed(x)
    pieces = analysis.VoiceActivity()
    cut: list[bool] = []
    for at in range(0, len(x), 97):
        cut += pieces.feed(x[at : at + 97])
    assert cut == whole


def test_streaming_detector_learns_steady_line_noise_as_silence() -> None:
    vad = analysis.VoiceActivity()
    vad.feed(noise(8.0, -30.0))
    assert vad.silence_s >= 3.0


# --- trimming --------------------------------------------------------------------------------


def test_tone_then_silence_then_hang_up_click_trims_to_the_tone() -> None:
    x = np.concatenate([sine(440.0, 3.0, -12.0), silence(4.0), click(), silence(0.3)])
    out = analysis.trim(to_int16(x), start=False)
    assert len(out) / RATE == pytest.approx(3.0, abs=0.05)
    assert len(out) / RATE >= 3.0  # nothing of the tone is lost


def test_trim_is_exact_to_the_sample_not_to_the_frame() -> None:
    x = np.concatenate([sine(440.0, 2.013, -12.0), silence(2.0), click()])
    out = analysis.trim(to_int16(x), pad_ms=0)
    assert abs(len(out) - round(2.013 * RATE)) <= 2


def test_a_noise_burst_at_hang_up_is_trimmed_too() -> None:
    burst = noise(0.1, -10.0, seed=4)
    x = np.concatenate([speech(2.5), silence(1.5), burst, silence(0.4)]) + noise(4.5, -60.0)
    out = analysis.trim(to_int16(x), start=False)
    assert len(out) / RATE == pytest.approx(2.5, abs=0.05)


def test_a_short_last_word_close_to_the_rest_is_kept() -> None:
    word = speech(0.12, seed=11)
    x = np.concatenate([speech(2.0), silence(0.15), word, silence(2.0)])
    out = analysis.trim(to_int16(x), start=False)
    assert len(out) / RATE == pytest.approx(2.27, abs=0.05)


def test_leading_silence_is_trimmed_with_a_pad() -> None:
    x = np.concatenate([silence(1.2), sine(440.0, 1.0, -12.0), silence(0.5)])
    out = analysis.trim(to_int16(x), end=False)
    assert len(out) / RATE == pytest.approx(1.5 + analysis.TRIM_PAD_MS / 1000, abs=0.002)


def test_trim_cuts_both_ends_and_the_click() -> None:
    x = np.concatenate([silence(1.0), sine(440.0, 3.0, -12.0), silence(4.0), click(), silence(1)])
    out = analysis.trim(to_int16(x))
    pad = 2 * analysis.TRIM_PAD_MS / 1000
    assert len(out) / RATE == pytest.approx(3.0 + pad, abs=0.005)
    assert analysis.rms_dbfs(out[: round(0.02 * RATE)]) < -40  # starts with the pad


def test_a_silent_recording_trims_to_nothing() -> None:
    assert len(analysis.trim(to_int16(silence(3.0)))) == 0
    assert analysis.sound_bounds(to_int16(silence(3.0))) is None


def test_tone_detection_by_goertzel_matches_the_dft() -> None:
    x = sine(1100.0, 0.02, -6.0, phase=0.4)
    direct = float(analysis.tone_powers(x, [1100.0])[0])
    assert analysis.goertzel_power(x, 1100.0) == pytest.approx(direct, rel=1e-9)
    # A sine of amplitude A over n samples: |X|² = (A·n/2)².
    a = 10 ** (-6 / 20) * math.sqrt(2)
    assert direct == pytest.approx((a * len(x) / 2) ** 2, rel=0.01)


def test_one_framer_feeds_the_voice_and_fax_detectors_as_their_own_feeds_do() -> None:
    # The listener cuts a call's audio into frames once and hands them to both detectors.
    x = to_int16(np.concatenate([silence(0.5), speech(1.0), sine(1100.0, 0.5, -20.0)]))
    alone_vad, alone_fax = analysis.VoiceActivity(), analysis.FaxToneDetector()
    shared_vad, shared_fax = analysis.VoiceActivity(), analysis.FaxToneDetector()
    framer = analysis.Framer()
    for at in range(0, len(x), 1999):
        piece = x[at : at + 1999]
        frames, power = framer.feed(piece)
        assert frames.shape == (len(power), analysis.FRAME)
        assert np.allclose(power, np.mean(np.square(frames), axis=1))
        assert shared_vad.feed_power(power) == alone_vad.feed(piece)
        assert shared_fax.feed_frames(frames, power) == alone_fax.feed(piece)
        assert (shared_fax._cng_on, shared_fax._cng_off) == (alone_fax._cng_on, alone_fax._cng_off)
    assert shared_vad.voice_s == alone_vad.voice_s > 0.5
    framer.reset()
    assert len(framer.feed(x[:100])[1]) == 0  # a partial frame waits, the earlier one is gone


def test_a_recording_measured_once_is_timed_and_trimmed_as_when_measured_twice() -> None:
    x = to_int16(np.concatenate([silence(0.6), speech(2.0), silence(1.0), click(), silence(0.3)]))
    measured = analysis.measure(x)
    assert analysis.voice_duration(x, measured=measured) == analysis.voice_duration(x) > 1.5
    assert np.array_equal(analysis.trim(x, measured=measured), analysis.trim(x))
    assert len(analysis.trim(x)) < len(x)
