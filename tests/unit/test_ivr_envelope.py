"""Envelopes (who, when, how long) and what plays per envelope mode, in French and English."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ivr.envelope import MessageInfo, envelope, presentation
from media import say

pytestmark = pytest.mark.unit

TZ = "America/Toronto"
NOW = datetime(2025, 3, 5, 20, 0, tzinfo=UTC)  # 15:00 in Toronto
TODAY_1405 = datetime(2025, 3, 5, 19, 5, tzinfo=UTC)  # 14:05 in Toronto
YESTERDAY_0900 = datetime(2025, 3, 4, 14, 0, tzinfo=UTC)
MSG = MessageInfo(7, False, False, False, "6135551234", TODAY_1405, 83.0, "/m/7.wav")
DIGITS = say.phone_number("6135551234")


def test_number_and_time_today_in_the_mailbox_zone() -> None:
    assert envelope(MSG, NOW, TZ, "fr") == [
        "envelope_from",
        *DIGITS,
        "pause",
        "envelope_received",
        "day_today",
        "at",
        "num_14",
        "unit_hours",
        "num_5",
    ]
    assert envelope(MSG, NOW, TZ, "en") == [
        "envelope_from",
        *DIGITS,
        "pause",
        "envelope_received",
        "day_today",
        "at",
        "num_2",
        "time_oh",
        "num_5",
        "time_pm",
    ]


def test_yesterday_in_another_zone() -> None:
    m = replace(MSG, received_at=YESTERDAY_0900)  # 06:00 in Vancouver
    assert envelope(m, NOW, "America/Vancouver", "en")[-4:] == [
        "day_yesterday",
        "at",
        "num_6",
        "time_am",
    ]


def test_unknown_caller_urgent_private_and_length() -> None:
    m = replace(MSG, caller_number=None, urgent=True, private=True)
    out = envelope(m, NOW, TZ, "fr", with_length=True)
    assert out[:3] == ["urgent_message", "private_message", "envelope_from_unknown"]
    assert out[-6:] == [
        "pause",
        "envelope_length",
        "num_1_f",
        "unit_minute",
        "num_23",
        "unit_seconds",
    ]


def test_recorded_name_of_a_local_caller_comes_before_the_number() -> None:
    m = replace(MSG, caller_name_audio="/g/name.wav")
    assert envelope(m, NOW, TZ, "fr")[:4] == ["envelope_from", "/g/name.wav", "pause", "num_6"]
    nameonly = replace(m, caller_number=None)
    assert envelope(nameonly, NOW, TZ, "fr")[:3] == ["envelope_from", "/g/name.wav", "pause"]


@pytest.mark.parametrize(
    ("mode", "has_envelope", "has_audio"),
    [("envelope", True, False), ("message", False, True), ("both", True, True)],
)
def test_modes(mode: str, has_envelope: bool, has_audio: bool) -> None:
    out = presentation(MSG, mode, NOW, TZ, "en")
    assert ("envelope_from" in out) is has_envelope
    assert ("/m/7.wav" in out) is has_audio
    if has_envelope and has_audio:
        assert out[-1] == "/m/7.wav"


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown envelope mode: 'loud'"):
        presentation(MSG, "loud", NOW, TZ, "en")
