"""Seam: the voicemail PIN between the portal (footer "change voicemail PIN") and the phone
(login, options 4 "change PIN"): one hash, one set of S9 rules, one lockout (SPEC S5, S9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.pin import pin_problem
from store.models import Mailbox
from tests.support.portal import A_PASSWORD
from tests.support.seams import A_NUMBER, A_PIN, A_SECOND, Both, both

__all__ = ["both"]

PIN = f"/api/v1/lines/{A_NUMBER}/voicemail-pin"


def portal_change(b: Both, pin: str) -> int:
    return b.api.put(PIN, json={"new": pin, "confirm": pin}).status_code


def test_a_pin_changed_in_the_portal_works_by_phone_at_once(both: Both) -> None:
    assert portal_change(both, "7392") == 204
    assert both.vm.check_pin(A_NUMBER, A_PIN) == "wrong"
    assert both.vm.check_pin(A_NUMBER, "7392") == "ok"
    # ...and one changed by phone is the one the portal replaces.
    assert both.vm.change_pin(A_NUMBER, "58316")
    assert both.vm.check_pin(A_NUMBER, "7392") == "wrong"
    assert both.vm.check_pin(A_NUMBER, "58316") == "ok"
    assert portal_change(both, "2947") == 204
    assert both.vm.check_pin(A_NUMBER, "58316") == "wrong"
    assert both.vm.check_pin(A_NUMBER, "2947") == "ok"


@pytest.mark.parametrize(
    "pin",
    [
        "12a4",  # not digits
        "482",  # too short
        "48261937501",  # too long
        "7777",  # one digit
        "3456",  # ascending
        "8765",  # descending
        "6135550100",  # the mailbox number
        "0100",  # its last digits
        "50101",  # the last digits of the account's other mailbox
        "6135550101",  # the account's other mailbox number
    ],
)
def test_the_portal_and_the_phone_refuse_the_same_pins(both: Both, pin: str) -> None:
    assert portal_change(both, pin) == 422
    assert not both.vm.change_pin(A_NUMBER, pin)
    assert both.vm.check_pin(A_NUMBER, A_PIN) == "ok"


def test_the_phone_says_why_a_pin_is_refused_as_the_portal_does(both: Both) -> None:
    """The options menu's prompt comes from the same rules (nothing is changed)."""
    assert pin_problem("50101", A_NUMBER, (A_NUMBER, A_SECOND)) == "pin_error_mailbox"
    assert pin_problem("58316", A_NUMBER, (A_NUMBER, A_SECOND)) is None
    assert both.vm.open(A_NUMBER).box.account_numbers == (A_NUMBER, A_SECOND)


def test_lockout_by_phone_leaves_the_portal_open_and_a_portal_pin_change_ends_it(
    both: Both,
) -> None:
    now = datetime.now(UTC)
    outcomes = [both.vm.check_pin(A_NUMBER, "9999", now) for _ in range(5)]
    assert outcomes == ["wrong"] * 4 + ["locked"]
    assert both.vm.check_pin(A_NUMBER, A_PIN, now + timedelta(minutes=1)) == "locked"
    # Portal login is unaffected (S5) and the owner can set a new PIN there.
    assert both.api_as(A_NUMBER, A_PASSWORD).get("/api/v1/account").status_code == 200
    assert portal_change(both, "7392") == 204
    with both.store.read() as s:
        box = s.get(Mailbox, A_NUMBER)
        assert box is not None and box.pin_locked_until is None and box.pin_failures == 0
    assert both.vm.check_pin(A_NUMBER, "7392", now + timedelta(minutes=1)) == "ok"
