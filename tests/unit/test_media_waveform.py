"""media.waveform: peak buckets and the SVG picture of a message (SPEC S8)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from media import waveform
from tests.unit.media_signals import refusal, silence, sine, to_int16

SVG = "{http://www.w3.org/2000/svg}"


def test_peaks_follow_the_loudness_over_time() -> None:
    x = np.concatenate([sine(440.0, 1.0, -6.0), silence(1.0), sine(440.0, 1.0, -26.0)])
    levels = waveform.peaks(to_int16(x), buckets=3)
    assert levels[0] == 1.0
    assert levels[1] == 0.0
    assert levels[2] == pytest.approx(0.1, abs=0.005)  # 20 dB quieter


def test_peaks_are_normalised_to_the_loudest_bucket() -> None:
    quiet = to_int16(np.concatenate([sine(300.0, 0.5, -40.0), sine(300.0, 0.5, -46.0)]))
    levels = waveform.peaks(quiet, buckets=2)
    assert levels[0] == 1.0
    assert levels[1] == pytest.approx(0.5, abs=0.01)


def test_peaks_of_silence_and_of_very_short_audio() -> None:
    assert waveform.peaks(to_int16(silence(1.0)), buckets=4) == [0.0] * 4
    assert waveform.peaks(np.zeros(0, dtype=np.int16), buckets=3) == [0.0] * 3
    levels = waveform.peaks(np.array([0, 16384], dtype=np.int16), buckets=4)
    assert len(levels) == 4 and max(levels) == 1.0
    assert refusal(lambda: waveform.peaks(to_int16(silence(1.0)), 0)) == (
        "buckets must be at least 1: 0"
    )


def test_svg_draws_one_bar_per_bucket() -> None:
    text = waveform.svg([0.0, 0.5, 1.0], width=30, height=20, color="#1a73e8")
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 30 20" and root.get("fill") == "#1a73e8"
    assert root.get("aria-hidden") == "true"
    bars = root.findall(f"{SVG}rect")
    heights = [float(bar.get("height", "0")) for bar in bars]
    assert heights == [1.0, 9.0, 18.0]  # silence still draws a line
    for bar in bars:  # centred on the middle line
        assert float(bar.get("y", "0")) + float(bar.get("height", "0")) / 2 == pytest.approx(10.0)


def test_svg_title_is_escaped_and_names_the_picture() -> None:
    root = ET.fromstring(waveform.svg([0.2], title='Message <de> "Jean" & co'))
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == 'Message <de> "Jean" & co'


def test_svg_refuses_what_could_break_the_page() -> None:
    assert refusal(lambda: waveform.svg([0.5], color='red" onload="x')) == (
        "invalid color: 'red\" onload=\"x'"
    )
    assert refusal(lambda: waveform.svg([1.5])) == "levels must be between 0 and 1"
    assert refusal(lambda: waveform.svg([0.5], width=0)) == "picture too small: 0x48"


def test_waveform_svg_is_deterministic() -> None:
    x = to_int16(np.concatenate([sine(440.0, 0.5, -6.0), sine(660.0, 0.5, -20.0)]))
    first = waveform.waveform_svg(x, 60, title="Message")
    assert first == waveform.waveform_svg(x.copy(), 60, title="Message")
    assert len(ET.fromstring(first).findall(f"{SVG}rect")) == 60
