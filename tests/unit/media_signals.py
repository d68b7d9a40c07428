"""Test signals at 8 kHz for the media tests: tones, DTMF keys, noise, clicks, speech-like audio.

Levels are dBFS RMS of each tone on its own (a sine of amplitude A is A²/2). Everything is a
float64 array in -1..1 and is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from media.analysis import DTMF_COLS, DTMF_KEYS, DTMF_ROWS

RATE = 8000
Floats = NDArray[np.float64]


def amplitude(dbfs: float) -> float:
    """Peak amplitude of a sine whose RMS is `dbfs`."""
    return float(10.0 ** (dbfs / 20.0) * np.sqrt(2.0))


def silence(seconds: float) -> Floats:
    return np.zeros(round(RATE * seconds))


def sine(hz: float, seconds: float, dbfs: float = -12.0, phase: float = 0.0) -> Floats:
    t = np.arange(round(RATE * seconds)) / RATE
    return amplitude(dbfs) * np.sin(2.0 * np.pi * hz * t + phase)


def dtmf_tones(key: str) -> tuple[float, float]:
    for r, keys in enumerate(DTMF_KEYS):
        if key in keys:
            return DTMF_ROWS[r], DTMF_COLS[keys.index(key)]
    raise ValueError(key)


def dtmf(
    key: str,
    seconds: float = 0.07,
    dbfs: float = -10.0,
    *,
    twist_db: float = 0.0,
    offset: float = 0.0,
    phases: tuple[float, float] = (0.3, 1.7),
) -> Floats:
    """A DTMF key. twist_db > 0: the column (high) tone weaker than the row tone (normal
    twist); < 0: stronger (reverse twist). offset: relative frequency error of both tones."""
    row, col = dtmf_tones(key)
    low = sine(row * (1.0 + offset), seconds, dbfs, phases[0])
    high = sine(col * (1.0 + offset), seconds, dbfs - twist_db, phases[1])
    return low + high


def keys(text: str, on: float = 0.07, off: float = 0.07, dbfs: float = -10.0) -> Floats:
    """Keys pressed one after another, with silence around each."""
    parts = [silence(off)]
    for key in text:
        parts += [dtmf(key, on, dbfs), silence(off)]
    return np.concatenate(parts)


def noise(seconds: float, dbfs: float, seed: int = 1) -> Floats:
    """White noise at an RMS of `dbfs`."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 10.0 ** (dbfs / 20.0), round(RATE * seconds))


def click(seconds: float = 0.005, peak: float = 0.9) -> Floats:
    """A hang-up click: a short decaying alternating burst."""
    n = round(RATE * seconds)
    return peak * np.exp(-np.arange(n) / (n / 4)) * np.where(np.arange(n) % 2, -1.0, 1.0)


# Average formants (F1, F2, F3) of English vowels, men and women (Peterson and Barney).
VOWELS = {
    "i": ((270, 2290, 3010), (310, 2790, 3310)),
    "I": ((390, 1990, 2550), (430, 2480, 3070)),
    "E": ((530, 1840, 2480), (610, 2330, 2990)),
    "ae": ((660, 1720, 2410), (860, 2050, 2850)),
    "a": ((730, 1090, 2440), (850, 1220, 2810)),
    "O": ((570, 840, 2410), (590, 920, 2710)),
    "U": ((440, 1020, 2240), (470, 1160, 2680)),
    "u": ((300, 870, 2240), (370, 950, 2670)),
    "V": ((640, 1190, 2390), (760, 1400, 2780)),
    "3": ((490, 1350, 1690), (500, 1640, 1960)),
}


def _resonance(f: Floats | float, centre: float, bandwidth: float) -> Floats:
    f = np.asarray(f, dtype=np.float64)
    return centre**2 / np.sqrt((centre**2 - f**2) ** 2 + (f * bandwidth) ** 2)


def _vowel(
    f0: float, formants: tuple[int, int, int], seconds: float, rng: np.random.Generator
) -> Floats:
    n = round(RATE * seconds)
    t = np.arange(n) / RATE
    contour = f0 * (1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 6)))
    jitter = np.cumsum(rng.normal(0.0, 0.002, n))
    jitter -= np.linspace(0.0, jitter[-1], n)
    phase = 2 * np.pi * np.cumsum(contour * (1.0 + jitter)) / RATE
    out = np.zeros(n)
    for h in range(1, 60):
        if h * f0 > 3800:
            break
        gain = 1.0 / h  # glottal source, -6 dB per octave
        for centre, bandwidth in zip(formants, (80.0, 100.0, 120.0), strict=True):
            gain *= float(_resonance(h * f0, centre, bandwidth))
        out += gain * np.sin(h * phase + rng.uniform(0, 6))
    return out * np.sin(np.linspace(0.0, np.pi, n)) ** 0.5


def speech(
    seconds: float, *, female: bool = False, seed: int = 3, dbfs_peak: float = -10.0
) -> Floats:
    """Speech-like audio: voiced syllables (a glottal harmonic series through three formant
    resonances, with intonation and jitter) separated by short noisy consonants."""
    rng = np.random.default_rng(seed)
    parts: list[Floats] = []
    total = 0
    names = list(VOWELS)
    while total < seconds * RATE:
        formants = VOWELS[names[rng.integers(len(names))]][1 if female else 0]
        f0 = rng.uniform(170, 250) if female else rng.uniform(90, 150)
        vowel = _vowel(f0, formants, rng.uniform(0.06, 0.3), rng)
        consonant = rng.normal(0.0, 1.0, round(RATE * rng.uniform(0.02, 0.12)))
        consonant *= 0.05 * np.max(np.abs(vowel))
        parts += [vowel, consonant]
        total += len(vowel) + len(consonant)
    x = np.concatenate(parts)[: round(seconds * RATE)]
    return 10.0 ** (dbfs_peak / 20.0) * x / np.max(np.abs(x))


def cng(bursts: int = 3, *, on: float = 0.5, off: float = 3.0, dbfs: float = -15.0) -> Floats:
    """A calling fax: 1100 Hz for `on` seconds, silent for `off`, repeated."""
    parts = [silence(0.3)]
    for _ in range(bursts):
        parts += [sine(1100.0, on, dbfs), silence(off)]
    return np.concatenate(parts)


def to_int16(x: Floats) -> NDArray[np.int16]:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def refusal(call: Callable[[], object]) -> str:
    """The message of the ValueError that `call` raises (the tests assert it exactly)."""
    with pytest.raises(ValueError) as caught:
        call()
    return str(caught.value)
