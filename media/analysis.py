"""Audio analysis at 8 kHz: level, voice activity, trimming, DTMF and fax tones (SPEC S4, S5, S11).

Rules of this file:
- Pure: numpy arrays in (int16 samples, or floats in -1..1), numbers and arrays out. No I/O,
  no clock; the switch feeds the streaming detectors with the frames it receives.
- Levels are dBFS relative to full scale (1.0 or 32768): a full-scale square wave is 0 dBFS RMS,
  a full-scale sine -3 dBFS RMS. Silence is reported as SILENCE_DBFS, not minus infinity.
- Streaming detectors (VoiceActivity, DtmfDetector, FaxToneDetector) accept frames of any
  length (the switch sends 20 ms) and give the same answers however the audio is cut.
- Tones are measured with single-bin DFTs at the exact tone frequencies (what the Goertzel
  algorithm computes), as one matrix product per block.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

RATE: Final = 8000
FRAME: Final = 160  # 20 ms
SILENCE_DBFS: Final = -120.0

Floats = NDArray[np.float64]
Samples = NDArray[np.int16] | NDArray[np.float64] | NDArray[np.float32]


def as_float(samples: Samples) -> Floats:
    """Samples as float64 in -1..1 (int16 is divided by 32768; floats are taken as they are)."""
    if samples.dtype == np.int16:
        return samples.astype(np.float64) / 32768.0
    if samples.dtype in (np.float64, np.float32):
        return samples.astype(np.float64)
    raise ValueError(f"unsupported sample type: {samples.dtype}")


def to_int16(samples: Floats) -> NDArray[np.int16]:
    """Float samples (-1..1) to int16, rounded and clipped to the int16 range."""
    scaled = np.rint(np.asarray(samples, dtype=np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def db(power_ratio: float) -> float:
    """10·log10 of a power ratio, floored at SILENCE_DBFS."""
    if power_ratio <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 10.0 * math.log10(power_ratio))


# --- level -----------------------------------------------------------------------------------


def rms_dbfs(samples: Samples) -> float:
    """RMS level in dBFS."""
    x = as_float(samples)
    if len(x) == 0:
        return SILENCE_DBFS
    return db(float(np.mean(x * x)))


def peak_dbfs(samples: Samples) -> float:
    """Peak level in dBFS."""
    x = as_float(samples)
    if len(x) == 0:
        return SILENCE_DBFS
    peak = float(np.max(np.abs(x)))
    return db(peak * peak)


def clipped_fraction(samples: Samples, threshold: float = 0.999) -> float:
    """Fraction of samples at or beyond `threshold` of full scale (clipping indicator)."""
    x = as_float(samples)
    if len(x) == 0:
        return 0.0
    return float(np.mean(np.abs(x) >= threshold))


def normalise(
    samples: Samples,
    target_dbfs: float = -18.0,
    *,
    peak_limit_dbfs: float = -1.0,
    max_gain_db: float = 30.0,
) -> NDArray[np.int16]:
    """Scale to an RMS of `target_dbfs` without the peak exceeding `peak_limit_dbfs`.

    One gain for the whole signal (no compression): the smallest of the gain that reaches the
    target, the gain that puts the peak at the limit, and `max_gain_db` (so line noise in a
    near-silent recording is not blown up). Silence is returned as silence.
    """
    x = as_float(samples)
    if len(x) == 0:
        return np.zeros(0, dtype=np.int16)
    rms = math.sqrt(float(np.mean(x * x)))
    peak = float(np.max(np.abs(x)))
    if peak == 0.0:
        return np.zeros(len(x), dtype=np.int16)
    gain = min(
        10.0 ** (target_dbfs / 20.0) / rms,
        10.0 ** (peak_limit_dbfs / 20.0) / peak,
        10.0 ** (max_gain_db / 20.0),
    )
    return to_int16(x * gain)


# --- frames and voice activity ---------------------------------------------------------------


def frame_dbfs(samples: Samples, frame: int = FRAME) -> Floats:
    """RMS level in dBFS of each whole frame (a trailing partial frame is left out)."""
    x = as_float(samples)
    count = len(x) // frame
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    power: Floats = np.mean(np.square(x[: count * frame].reshape(count, frame)), axis=1)
    floor = 10.0 ** (SILENCE_DBFS / 10.0)
    levels: Floats = 10.0 * np.log10(np.maximum(power, floor))
    return levels


class Framer:
    """Cuts a stream into whole frames (float, -1..1) and gives each frame's mean power; what
    does not fill a frame waits for the next feed. The streaming detectors below take frames
    from one Framer, so a call's audio is converted and measured once for all of them."""

    def __init__(self, frame: int = FRAME) -> None:
        self.frame = frame
        self._pending: Floats = np.zeros(0, dtype=np.float64)

    def feed(self, samples: Samples) -> tuple[Floats, Floats]:
        """(frames as rows, mean power of each row) completed by these samples."""
        x = as_float(samples)
        if len(self._pending):
            x = np.concatenate([self._pending, x])
        count = len(x) // self.frame
        self._pending = x[count * self.frame :]
        frames = x[: count * self.frame].reshape(count, self.frame)
        power: Floats = np.einsum("ij,ij->i", frames, frames) / self.frame
        return frames, power

    def reset(self) -> None:
        """Forget the partial frame (the stream was passed over)."""
        if len(self._pending):
            self._pending = self._pending[:0]


_POWER_FLOOR: Final = 10.0 ** (SILENCE_DBFS / 10.0)


def power_dbfs(power: Floats) -> Floats:
    """Levels in dBFS of mean powers (as frame_dbfs gives for the frames)."""
    levels: Floats = 10.0 * np.log10(np.maximum(power, _POWER_FLOOR))
    return levels


@dataclass(frozen=True)
class VadSettings:
    """Voice activity thresholds.

    A frame is active when it is at least `min_dbfs` and `margin_db` above the noise floor. For
    a whole recording the floor is the `floor_percentile` of its frame levels (the pauses), so
    steady line noise or a steady tone filling the recording is not voice. The streaming
    detector follows the floor instead: down at once, up by at most `floor_rise_db` per frame.
    """

    min_dbfs: float = -45.0
    margin_db: float = 9.0
    floor_percentile: float = 10.0
    floor_rise_db: float = 0.2
    initial_floor_dbfs: float = -60.0


class VoiceActivity:
    """Streaming voice-activity detector: feed frames, learn whether each 20 ms was active.

    `feed` returns one bool per completed 20 ms frame. `silence_s` is the length of the current
    run of inactive frames (the switch ends a recording after 5 s of it), `voice_s` the total
    of active frames so far. Steady noise or tone becomes floor after a few seconds and then
    counts as silence.
    """

    def __init__(self, settings: VadSettings | None = None) -> None:
        self.settings = settings or VadSettings()
        self.floor = self.settings.initial_floor_dbfs
        self._framer = Framer()
        self.active_frames = 0
        self.silent_run = 0

    def feed(self, samples: Samples) -> list[bool]:
        """Activity of each 20 ms frame completed by this audio."""
        return self.feed_power(self._framer.feed(samples)[1])

    def feed_power(self, power: Floats) -> list[bool]:
        """Activity of 20 ms frames given by their mean power (a Framer's second result)."""
        s = self.settings
        floor = self.floor
        out: list[bool] = []
        for level in power_dbfs(power).tolist():
            active = level >= s.min_dbfs and level >= floor + s.margin_db
            floor = level if level < floor else min(level, floor + s.floor_rise_db)
            out.append(active)
            if active:
                self.active_frames += 1
                self.silent_run = 0
            else:
                self.silent_run += 1
        self.floor = floor
        return out

    @property
    def silence_s(self) -> float:
        return self.silent_run * FRAME / RATE

    @property
    def voice_s(self) -> float:
        return self.active_frames * FRAME / RATE


def noise_floor(levels: Floats, settings: VadSettings | None = None) -> float:
    """The noise floor of a recording from its frame levels (the quiet end of them)."""
    s = settings or VadSettings()
    return float(np.percentile(levels, s.floor_percentile)) if len(levels) else SILENCE_DBFS


Measured = tuple[Floats, float]
"""A recording's frame levels and noise floor (`measure`), for the functions below that take
`measured=`: a recording both measured for voice and trimmed is measured once."""


def measure(samples: Samples, settings: VadSettings | None = None) -> Measured:
    levels = frame_dbfs(samples)
    return levels, noise_floor(levels, settings)


def activity(
    samples: Samples, settings: VadSettings | None = None, *, measured: Measured | None = None
) -> NDArray[np.bool_]:
    """Per whole 20 ms frame of a recording: louder than the recording's noise floor or not."""
    s = settings or VadSettings()
    levels, floor = measured if measured is not None else measure(samples, s)
    return np.asarray((levels >= s.min_dbfs) & (levels >= floor + s.margin_db), dtype=np.bool_)


def runs(flags: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) index pairs of the runs of True (e.g. of active frames)."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass(frozen=True)
class Segment:
    """A stretch of activity, in samples: [start, end)."""

    start: int
    end: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / RATE


MIN_VOICE_MS: Final = 60
"""Activity shorter than this (a click, a pop) is never voice."""
BRIDGE_MS: Final = 200
"""Gaps shorter than this inside speech (stops, breaths) do not split it."""


def voice_segments(
    samples: Samples,
    settings: VadSettings | None = None,
    *,
    min_voice_ms: int = MIN_VOICE_MS,
    bridge_ms: int = BRIDGE_MS,
    measured: Measured | None = None,
) -> list[Segment]:
    """The stretches of voice: active frames, short gaps bridged, short blips dropped."""
    bridge = bridge_ms * RATE // 1000 // FRAME
    merged: list[list[int]] = []
    for start, end in runs(activity(samples, settings, measured=measured)):
        if merged and start - merged[-1][1] < bridge:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    shortest = math.ceil(min_voice_ms * RATE / 1000 / FRAME)
    return [Segment(start * FRAME, end * FRAME) for start, end in merged if end - start >= shortest]


def voice_duration(
    samples: Samples, settings: VadSettings | None = None, *, measured: Measured | None = None
) -> float:
    """Seconds of voice in a recording (the total length of voice_segments)."""
    return sum(seg.seconds for seg in voice_segments(samples, settings, measured=measured))


def is_empty_message(
    samples: Samples, min_voice_s: float = 1.0, settings: VadSettings | None = None
) -> bool:
    """True when a recording holds less than `min_voice_s` of voice (SPEC S5 deposit step 3)."""
    return voice_duration(samples, settings) < min_voice_s


# --- trimming --------------------------------------------------------------------------------

TRIM_PAD_MS: Final = 30
"""Kept around the sound when trimming, so a word's attack and decay are not cut."""
BURST_MS: Final = 150
"""A trailing sound shorter than this, after a pause, is a hang-up click or handling noise."""
BURST_GAP_MS: Final = 200
"""... and the pause that sets such a sound apart from the speech before it."""
EDGE_SEARCH_MS: Final = 200
"""How far before (after) the first (last) active frame a soft onset (decay) is followed."""


def _loud(x: Floats, start: int, end: int, threshold: float) -> NDArray[np.intp]:
    return start + np.flatnonzero(np.abs(x[start:end]) >= threshold)


def sound_bounds(
    samples: NDArray[np.int16],
    settings: VadSettings | None = None,
    *,
    burst_ms: int = BURST_MS,
    burst_gap_ms: int = BURST_GAP_MS,
    measured: Measured | None = None,
) -> tuple[int, int] | None:
    """[first, last) sample of the sound in a recording, without a trailing click; None if silent.

    Trailing sounds shorter than `burst_ms` that follow at least `burst_gap_ms` of silence (a
    hang-up click, handling noise) are left out, repeatedly. From the first and last active
    frames the bounds follow the sound's soft onset and decay while it stays 6 dB over the
    noise floor (at most EDGE_SEARCH_MS), then are placed on the first and last sample that
    rises over that level: to the sample, not to the frame.
    """
    s = settings or VadSettings()
    levels, floor = measured if measured is not None else measure(samples, s)
    spans = runs((levels >= s.min_dbfs) & (levels >= floor + s.margin_db))
    burst = burst_ms * RATE // 1000
    gap = burst_gap_ms * RATE // 1000
    while len(spans) >= 2:
        start, end = spans[-1]
        if (end - start) * FRAME < burst and (start - spans[-2][1]) * FRAME >= gap:
            spans.pop()
        else:
            break
    if not spans:
        return None
    soft = max(floor + 6.0, s.min_dbfs - 15.0)
    reach = EDGE_SEARCH_MS * RATE // 1000 // FRAME
    start = spans[0][0]
    limit = max(0, start - reach)
    while start > limit and levels[start - 1] >= soft:
        start -= 1
    end = spans[-1][1]
    limit = min(len(levels), end + reach)
    while end < limit and levels[end] >= soft:
        end += 1
    x = as_float(samples)
    threshold = float(10.0 ** (soft / 20.0) * math.sqrt(2.0))  # the peak of a sine at `soft`
    # The sound may begin inside the frame before `start` and end inside the frame after `end`.
    loud = _loud(x, max(0, (start - 1) * FRAME), spans[0][1] * FRAME, threshold)
    first = int(loud[0]) if len(loud) else start * FRAME
    loud = _loud(x, spans[-1][0] * FRAME, min(len(x), (end + 1) * FRAME), threshold)
    last = int(loud[-1]) + 1 if len(loud) else end * FRAME
    return first, last


def trim(
    samples: NDArray[np.int16],
    settings: VadSettings | None = None,
    *,
    start: bool = True,
    end: bool = True,
    pad_ms: int = TRIM_PAD_MS,
    burst_ms: int = BURST_MS,
    burst_gap_ms: int = BURST_GAP_MS,
    measured: Measured | None = None,
) -> NDArray[np.int16]:
    """Cut leading silence (if `start`) and trailing silence and click (if `end`).

    A deposited recording is stored trimmed at both ends (SPEC S5 deposit 3). `pad_ms` is kept
    on each cut side so a word's attack and decay stay whole. A recording without any sound
    becomes empty.
    """
    bounds = sound_bounds(
        samples, settings, burst_ms=burst_ms, burst_gap_ms=burst_gap_ms, measured=measured
    )
    if bounds is None:
        return samples[:0]
    pad = pad_ms * RATE // 1000
    first = max(0, bounds[0] - pad) if start else 0
    last = min(len(samples), bounds[1] + pad) if end else len(samples)
    return samples[first:last]


# --- tones -----------------------------------------------------------------------------------


def goertzel_power(samples: Samples, hz: float) -> float:
    """Power of one frequency in a block by the Goertzel recursion (|X(f)|², X the DFT sum)."""
    x = as_float(samples)
    w = 2.0 * math.pi * hz / RATE
    coeff = 2.0 * math.cos(w)
    s1 = s2 = 0.0
    for value in x:
        s0 = float(value) + coeff * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def _dft_matrix(freqs: Sequence[float], size: int) -> NDArray[np.complex128]:
    n = np.arange(size)
    return np.exp(-2j * np.pi * np.outer(np.asarray(freqs), n) / RATE)


def tone_powers(block: Floats, freqs: Sequence[float]) -> Floats:
    """|X(f)|² of each frequency over the block: the Goertzel result, as one matrix product."""
    return np.abs(_dft_matrix(freqs, len(block)) @ block) ** 2


# DTMF ---------------------------------------------------------------------------------------

DTMF_ROWS: Final = (697.0, 770.0, 852.0, 941.0)
DTMF_COLS: Final = (1209.0, 1336.0, 1477.0, 1633.0)
DTMF_KEYS: Final = ("123A", "456B", "789C", "*0#D")
DTMF_WINDOW: Final = 102  # 12.75 ms: resolves the 73 Hz between the two lowest row tones
DTMF_HOP: Final = 51  # windows overlap by half
_DTMF_MATRIX: Final = _dft_matrix(DTMF_ROWS + DTMF_COLS, DTMF_WINDOW)
_DTMF_COS: Final = np.ascontiguousarray(_DTMF_MATRIX.real.T)
_DTMF_SIN: Final = np.ascontiguousarray(_DTMF_MATRIX.imag.T)
"""The DFT matrix as two real (window x tone) matrices: real products are many times faster
than one complex product with a real block."""


@dataclass(frozen=True)
class DtmfSettings:
    """Validity checks of an in-band DTMF key (after Bell and ITU-T Q.24 practice).

    - each tone at least `min_tone_dbfs` (RMS of that tone alone);
    - twist: the row (low) tone may be louder than the column (high) tone by at most
      `max_normal_twist_db`, the column tone louder than the row tone by `max_reverse_twist_db`;
    - each tone `min_peak_ratio_db` above every other tone of its group;
    - the two tones hold at least `min_tone_share` of the window's energy: speech and noise
      spread their energy, and a tone 3.5% off its frequency leaks out of its bin, so they
      fail this while a tone 1.5% off passes (the standard's accept and reject limits);
    - a key is reported once it has sounded `min_on_ms` (40 ms always is, 20 ms never is), and
      the same key again only after `min_off_ms` without it, so a drop-out of 10 ms inside a
      tone does not make a second key.
    """

    min_tone_dbfs: float = -36.0
    max_normal_twist_db: float = 8.0
    max_reverse_twist_db: float = 4.0
    min_peak_ratio_db: float = 6.0
    min_tone_share: float = 0.8
    min_on_ms: float = 25.0
    min_off_ms: float = 30.0


def dtmf_windows(windows: Floats, settings: DtmfSettings | None = None) -> list[str | None]:
    """The key each row of `windows` (n x DTMF_WINDOW samples) holds, if it passes every check
    of settings: all rows at once (one matrix product for the lot)."""
    s = settings or DtmfSettings()
    if windows.ndim != 2 or windows.shape[1] != DTMF_WINDOW:
        raise ValueError(f"windows must be an n x {DTMF_WINDOW} array")
    if len(windows) == 0:
        return []
    size = DTMF_WINDOW
    energy = np.einsum("ij,ij->i", windows, windows)
    tone_energy = 2.0 * (np.square(windows @ _DTMF_COS) + np.square(windows @ _DTMF_SIN)) / size
    rows, cols = tone_energy[:, :4], tone_energy[:, 4:]
    r, c = np.argmax(rows, axis=1), np.argmax(cols, axis=1)
    ordered_rows, ordered_cols = np.sort(rows, axis=1), np.sort(cols, axis=1)
    row, col = ordered_rows[:, -1], ordered_cols[:, -1]
    floor = 10.0 ** (s.min_tone_dbfs / 10.0) * size
    peak_ratio = 10.0 ** (s.min_peak_ratio_db / 10.0)
    valid = (
        (energy > 0.0)
        & (row >= floor)
        & (col >= floor)
        & (row <= col * 10.0 ** (s.max_normal_twist_db / 10.0))
        & (col <= row * 10.0 ** (s.max_reverse_twist_db / 10.0))
        & (ordered_rows[:, -2] * peak_ratio <= row)
        & (ordered_cols[:, -2] * peak_ratio <= col)
        & (row + col >= s.min_tone_share * energy)
    )
    return [
        DTMF_KEYS[int(ri)][int(ci)] if ok else None for ri, ci, ok in zip(r, c, valid, strict=True)
    ]


def dtmf_window(window: Floats, settings: DtmfSettings | None = None) -> str | None:
    """The key a window of DTMF_WINDOW samples holds, if it passes every check of settings."""
    return dtmf_windows(np.asarray(window, dtype=np.float64).reshape(1, -1), settings)[0]


def sliding_windows(x: Floats, size: int = DTMF_WINDOW, hop: int = DTMF_HOP) -> Floats:
    """The windows of `size` samples every `hop` samples that fit in `x` (a view, no copy)."""
    if len(x) < size:
        return np.zeros((0, size), dtype=np.float64)
    view: Floats = np.lib.stride_tricks.sliding_window_view(x, size)[::hop]
    return view


def first_dtmf(samples: Samples, settings: DtmfSettings | None = None) -> int | None:
    """The first sample of the first window that holds a DTMF key, or None (whole recording at
    once: one matrix product, no per-window Python)."""
    keys = dtmf_windows(sliding_windows(as_float(samples)), settings)
    for i, key in enumerate(keys):
        if key is not None:
            return i * DTMF_HOP
    return None


class DtmfDetector:
    """Streaming in-band DTMF detector: feed frames, get each key once per key press.

    Windows of DTMF_WINDOW samples every DTMF_HOP samples are checked by dtmf_window. A press is
    a run of windows holding one key, with gaps shorter than `min_off_ms` bridged; it is
    reported once its windows span `min_on_ms`. Another key cuts a press short only when it
    holds for two windows in a row.
    """

    def __init__(self, settings: DtmfSettings | None = None) -> None:
        self.settings = settings or DtmfSettings()
        self._pending = np.zeros(0, dtype=np.float64)
        self._key: str | None = None  # the key of the current press
        self._windows = 0  # windows of the current press holding its key
        self._missing = 0  # windows since its key was last heard
        self._reported = False
        self._other: str | None = None  # a different key heard during the press
        self._other_windows = 0
        on = self.settings.min_on_ms * RATE / 1000
        self._on_windows = 1 + max(0, math.ceil((on - DTMF_WINDOW) / DTMF_HOP))
        self._off_windows = math.ceil(self.settings.min_off_ms * RATE / 1000 / DTMF_HOP)

    def _step(self, key: str | None) -> str | None:
        if key is not None and key == self._key:
            self._windows += 1
            self._missing = 0
            self._other, self._other_windows = None, 0
        else:
            # Another key needs two windows in a row to cut the current press short.
            if key is not None and key == self._other:
                self._other_windows += 1
            else:
                self._other, self._other_windows = key, (0 if key is None else 1)
            if self._key is not None:
                self._missing += 1
                if self._missing < self._off_windows and self._other_windows < 2:
                    return None
            self._key, self._windows = key, self._other_windows
            self._missing, self._reported = 0, False
            self._other, self._other_windows = None, 0
            if key is None:
                return None
        if not self._reported and self._windows >= self._on_windows:
            self._reported = True
            return self._key
        return None

    def feed(self, samples: Samples) -> str:
        """The keys recognised in this audio, in order (usually "")."""
        x = np.concatenate([self._pending, as_float(samples)])
        windows = sliding_windows(x)
        keys = ""
        for key in dtmf_windows(windows, self.settings):
            found = self._step(key)
            if found is not None:
                keys += found
        self._pending = x[len(windows) * DTMF_HOP :]
        return keys


def detect_dtmf(samples: Samples, settings: DtmfSettings | None = None) -> str:
    """Every DTMF key pressed in a recording, in order."""
    return DtmfDetector(settings).feed(samples)


# Fax tones ----------------------------------------------------------------------------------

CNG_HZ: Final = 1100.0
CED_HZ: Final = 2100.0
FAX_BLOCK: Final = FRAME


def _cos_sin(freqs: Sequence[float], size: int) -> Floats:
    """(size x 2·tones) real matrix: per tone the cos and the sin column of its DFT bin."""
    matrix = _dft_matrix(freqs, size)
    return np.ascontiguousarray(np.stack([matrix.real, matrix.imag], axis=1).reshape(-1, size).T)


_FAX_MATRIX: Final = _cos_sin((CNG_HZ, CED_HZ), FAX_BLOCK)


@dataclass(frozen=True)
class FaxToneSettings:
    """Fax tone detection (ITU-T T.30).

    CNG, sent by a calling fax: 1100 Hz, on 0.5 s, off 3 s, repeated; it is reported after
    `cng_bursts` bursts with an on time within `cng_on_s` and the gaps between them within
    `cng_off_s`, so a steady 1100 Hz tone is not taken for a fax. CED, sent by an answering
    fax: 2100 Hz, 2.6 to 4 s; it is reported once it has lasted `ced_min_s`. A block holds a
    tone when that tone carries `min_tone_share` of its energy at `min_tone_dbfs` or louder.
    """

    min_tone_dbfs: float = -43.0
    min_tone_share: float = 0.6
    cng_on_s: tuple[float, float] = (0.38, 0.7)
    cng_off_s: tuple[float, float] = (2.4, 3.8)
    cng_bursts: int = 2
    ced_min_s: float = 1.0
    dropout_s: float = 0.06


class FaxToneDetector:
    """Streaming CNG/CED detector: feed frames, get "CNG" or "CED" once when recognised."""

    def __init__(self, settings: FaxToneSettings | None = None) -> None:
        self.settings = settings or FaxToneSettings()
        self._framer = Framer(FAX_BLOCK)
        self._matrix = _FAX_MATRIX
        floor = 10.0 ** (self.settings.min_tone_dbfs / 10.0) * FAX_BLOCK
        self._floor_scale = floor * FAX_BLOCK / 2.0
        self._share_scale = self.settings.min_tone_share * FAX_BLOCK * FAX_BLOCK / 2.0
        self._block_s = FAX_BLOCK / RATE
        self._dropout = max(1, round(self.settings.dropout_s / self._block_s))
        self._on_range = tuple(round(v / self._block_s) for v in self.settings.cng_on_s)
        self._off_range = tuple(round(v / self._block_s) for v in self.settings.cng_off_s)
        self.detected: str | None = None
        # CNG cadence state: the current tone run and the bursts seen so far.
        self._cng_on = 0
        self._cng_gap = 0
        self._cng_off = 0
        self._bursts = 0
        self._ced_on = 0
        self._ced_gap = 0

    def _classify(self, blocks: Floats, power: Floats) -> NDArray[np.int8] | None:
        """Per block (rows of FAX_BLOCK samples, with their mean power): 1 when it holds CNG,
        2 CED, 0 neither; None when no block holds either. All blocks in one matrix product.

        A tone's power is 2·|X(f)|²/B (B samples per block); it must reach the floor and
        `min_tone_share` of the block's energy B·power: both thresholds are taken on |X(f)|²."""
        parts = blocks @ self._matrix  # cos and sin parts of each tone's DFT bin
        parts *= parts
        bins = parts[:, 0::2] + parts[:, 1::2]
        need = np.maximum(power * self._share_scale, self._floor_scale)
        held = bins >= need[:, None]
        if not held.any():
            return None
        kinds: NDArray[np.int8] = np.where(held[:, 0], 1, np.where(held[:, 1], 2, 0)).astype(
            np.int8
        )
        return kinds

    def _cng_step(self, on: bool) -> bool:
        lo_on, hi_on = self._on_range
        lo_off, hi_off = self._off_range
        if on:
            if self._cng_on == 0 and self._bursts and not lo_off <= self._cng_off <= hi_off:
                self._bursts = 0  # wrong gap: this burst starts a new count
            self._cng_on += 1 + self._cng_gap
            self._cng_gap = 0
            self._cng_off = 0
            if self._cng_on > hi_on:
                self._bursts = 0  # a steady tone, not a burst
            return False
        if self._cng_on:
            self._cng_gap += 1
            if self._cng_gap <= self._dropout:
                return False
            burst_ok = lo_on <= self._cng_on <= hi_on
            self._bursts = self._bursts + 1 if burst_ok else 0
            self._cng_off = self._cng_gap
            self._cng_on = 0
            self._cng_gap = 0
            return self._bursts >= self.settings.cng_bursts
        self._cng_off += 1
        if self._cng_off > hi_off:
            self._bursts = 0
        return False

    def _ced_step(self, on: bool) -> bool:
        if on:
            self._ced_on += 1 + self._ced_gap
            self._ced_gap = 0
        elif self._ced_on:
            self._ced_gap += 1
            if self._ced_gap > self._dropout:
                self._ced_on = 0
                self._ced_gap = 0
        return self._ced_on * self._block_s >= self.settings.ced_min_s

    def feed(self, samples: Samples) -> str | None:
        """The tone ("CNG" or "CED") the first time one is recognised, else None."""
        if self.detected is not None:
            return None
        return self.feed_frames(*self._framer.feed(samples))

    def feed_frames(self, blocks: Floats, power: Floats) -> str | None:
        """`feed` for audio already cut by a Framer of FAX_BLOCK samples."""
        if self.detected is not None:
            return None
        count = len(blocks)
        if count == 0:
            return None
        classified = self._classify(blocks, power)
        hi_off = self._off_range[1]
        if classified is None:
            if self._cng_on == 0 and self._ced_on == 0:
                self._cng_off += count  # the fast path below, for the whole poll at once
                if self._cng_off > hi_off:
                    self._bursts = 0
                return None
            classified = np.zeros(count, dtype=np.int8)
        toned = np.flatnonzero(classified)
        kinds: list[int] = classified.tolist()
        i = 0
        while i < count:
            if kinds[i] == 0 and self._cng_on == 0 and self._ced_on == 0:
                # Idle and no tone: only the time since the last burst grows (a fast path for
                # the blocks of a call that is not a fax, the same answers as block by block).
                after = int(np.searchsorted(toned, i))
                j = int(toned[after]) if after < len(toned) else count
                self._cng_off += j - i
                if self._cng_off > hi_off:
                    self._bursts = 0
                i = j
                continue
            kind = kinds[i]
            i += 1
            if self._cng_step(kind == 1):
                self.detected = "CNG"
                return self.detected
            if self._ced_step(kind == 2):
                self.detected = "CED"
                return self.detected
        return None

    def finish(self) -> str | None:
        """End of the audio: a burst still sounding at the very end is complete."""
        return self.feed(np.zeros(FAX_BLOCK * (self._dropout + 1)))


def detect_fax_tone(samples: Samples, settings: FaxToneSettings | None = None) -> str | None:
    """The fax tone ("CNG" or "CED") a whole recording holds, else None."""
    detector = FaxToneDetector(settings)
    return detector.feed(samples) or detector.finish()
