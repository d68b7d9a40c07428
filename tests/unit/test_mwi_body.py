"""RFC 3842 message summaries as each MWI target sees them (SPEC S6)."""

from __future__ import annotations

from store.repository import Counts
from switch.mwi import body

COUNTS = Counts(
    voice_new=2, voice_old=5, voice_urgent_new=1, voice_urgent_old=0, fax_new=0, fax_old=3
)
ACCOUNT = "sip:6135550100@relais.local"


def test_all_types() -> None:
    assert body(COUNTS, frozenset({"all_voice", "urgent_voice", "all_faxes"}), ACCOUNT) == (
        b"Messages-Waiting: yes\r\nMessage-Account: sip:6135550100@relais.local\r\n"
        b"Voice-Message: 2/5 (1/0)\r\nFax-Message: 0/3\r\n"
    )


def test_urgent_voice_only_and_faxes_only() -> None:
    assert body(COUNTS, frozenset({"urgent_voice"}), ACCOUNT) == (
        b"Messages-Waiting: yes\r\nMessage-Account: sip:6135550100@relais.local\r\n"
        b"Voice-Message: 1/0 (1/0)\r\n"
    )
    # No new fax: the lamp of a fax-only target stays off.
    assert body(COUNTS, frozenset({"all_faxes"}), ACCOUNT) == (
        b"Messages-Waiting: no\r\nMessage-Account: sip:6135550100@relais.local\r\n"
        b"Fax-Message: 0/3\r\n"
    )


def test_nothing_new_turns_the_lamp_off() -> None:
    heard = Counts(voice_old=4)
    assert body(heard, frozenset({"all_voice"}), ACCOUNT).startswith(b"Messages-Waiting: no\r\n")
