"""MWI bodies (RFC 3842) per target types, and which changes concern which targets (SPEC S6)."""

from __future__ import annotations

import pytest

from store.repository import Counts
from switch.mwi import matches, message_summary

pytestmark = pytest.mark.unit

COUNTS = Counts(
    voice_new=2,
    voice_old=3,
    voice_urgent_new=1,
    voice_urgent_old=0,
    fax_new=0,
    fax_old=4,
    used_seconds=10.0,
    quota_seconds=3600,
)
ACCOUNT = "sip:6135550100@relais.local"


def test_all_types() -> None:
    assert message_summary(COUNTS, ACCOUNT) == (
        "Messages-Waiting: yes\r\n"
        "Message-Account: sip:6135550100@relais.local\r\n"
        "Voice-Message: 2/3 (1/0)\r\n"
        "Fax-Message: 0/4\r\n"
    )


def test_nothing_new() -> None:
    quiet = Counts(voice_old=1, fax_old=1, quota_seconds=60)
    assert message_summary(quiet, ACCOUNT).startswith("Messages-Waiting: no\r\n")


def test_urgent_voice_only_counts_urgent_messages() -> None:
    body = message_summary(COUNTS, ACCOUNT, ["urgent_voice"])
    assert body == (
        "Messages-Waiting: yes\r\nMessage-Account: sip:6135550100@relais.local\r\n"
        "Voice-Message: 1/0 (1/0)\r\n"
    )
    no_urgent = Counts(voice_new=4, quota_seconds=60)
    assert message_summary(no_urgent, ACCOUNT, ["urgent_voice"]).startswith("Messages-Waiting: no")


def test_faxes_only() -> None:
    fax = Counts(voice_new=3, fax_new=1, quota_seconds=60)
    body = message_summary(fax, ACCOUNT, ["all_faxes"])
    assert "Voice-Message" not in body and "Fax-Message: 1/0" in body
    assert body.startswith("Messages-Waiting: yes")


@pytest.mark.parametrize(
    ("types", "kind", "expected"),
    [
        (["all_voice"], "voice", True),
        (["urgent_voice"], "voice", True),
        (["all_faxes"], "voice", False),
        (["all_faxes"], "fax", True),
        (["all_voice"], "fax", False),
        (["all_voice"], None, True),
        ([], None, False),
        (["unknown"], None, False),
    ],
)
def test_matches(types: list[str], kind: str | None, expected: bool) -> None:
    assert matches(types, kind) is expected
