"""Is a stored voicemail the caller's audio, whole? The benchmark's content check.

The bench callers send a 440 Hz tone in syllables: 400 ms loud, then 100 ms 26 dB softer, over
and over (tests/support/sip.py write_tone_pcap). A stored message passes when
- its length is the audio sent, within `tolerance` seconds;
- the tone is there: in the loud frames most of the energy is at the caller's frequency;
- it has no hole: no 20 ms frame inside the message is silent (a lost packet or a stalled
  recorder writes silence; the softest frame the caller sends is about -40 dBFS).
A length check alone passes a recording with a hole; this does not.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

RATE = 8000
FRAME = 160
SILENT_DBFS = -55.0
LOUD_DBFS = -25.0


def frame_dbfs(samples: NDArray[np.float64]) -> NDArray[np.float64]:
    n = len(samples) // FRAME
    frames = samples[: n * FRAME].reshape(n, FRAME)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-9))


def tone_share(samples: NDArray[np.float64], hz: float) -> float:
    """Fraction of the energy of `samples` at `hz` (one DFT bin, Hann window)."""
    if len(samples) == 0:
        return 0.0
    x = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / RATE)
    near = np.abs(freqs - hz) <= 15.0
    total = float(spectrum.sum())
    return float(spectrum[near].sum()) / total if total > 0 else 0.0


def problem(samples: NDArray[np.float64], *, seconds: float, hz: float, tolerance: float) -> str:
    """Why this recording is not the caller's audio, whole ("" when it is)."""
    length = len(samples) / RATE
    if abs(length - seconds) > tolerance:
        return f"length {length:.3f} s instead of {seconds:.3f} s"
    levels = frame_dbfs(samples)
    if len(levels) < 4:
        return "too short to check"
    inside = levels[2:-2]  # the first and last 40 ms may hold a trimmed edge
    holes = np.flatnonzero(inside < SILENT_DBFS)
    if len(holes):
        at = (holes[0] + 2) * FRAME / RATE
        return f"{len(holes)} silent 20 ms frame(s), the first at {at:.2f} s"
    loud = np.flatnonzero(levels > LOUD_DBFS)
    if len(loud) < len(levels) // 2:
        return f"only {len(loud)} of {len(levels)} frames carry the caller's voice"
    frames = samples[: len(levels) * FRAME].reshape(len(levels), FRAME)[loud].ravel()
    share = tone_share(frames, hz)
    if share < 0.8:
        return f"only {share:.0%} of the energy is at {hz:g} Hz"
    return ""


def read(path: Path) -> NDArray[np.float64]:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE or w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path.name}: not 8 kHz mono 16-bit")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0


def check_file(path: Path, *, seconds: float, hz: float = 440.0, tolerance: float = 0.25) -> str:
    try:
        return problem(read(path), seconds=seconds, hz=hz, tolerance=tolerance)
    except (OSError, EOFError, ValueError, wave.Error) as exc:
        return f"unreadable: {exc}"
