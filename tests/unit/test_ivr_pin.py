"""Voicemail PIN lockout across calls and the PIN rules by phone (SPEC S5, S9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.pin import Attempt, LockoutPolicy, PinRecord, after_attempt, is_locked, pin_problem

pytestmark = pytest.mark.unit

NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
POLICY = LockoutPolicy(failures=5, minutes=15)
LATER = NOW + timedelta(minutes=15)

CASES = [
    ("right PIN", PinRecord(), True, Attempt.OK, PinRecord()),
    ("right PIN resets the count", PinRecord(4), True, Attempt.OK, PinRecord()),
    ("first wrong PIN", PinRecord(), False, Attempt.WRONG, PinRecord(1)),
    ("fourth wrong PIN", PinRecord(3), False, Attempt.WRONG, PinRecord(4)),
    ("fifth wrong PIN locks", PinRecord(4), False, Attempt.LOCKED, PinRecord(0, LATER)),
    (
        "locked: the right PIN fails too",
        PinRecord(0, NOW + timedelta(minutes=1)),
        True,
        Attempt.LOCKED,
        PinRecord(0, NOW + timedelta(minutes=1)),
    ),
    (
        "locked: a wrong PIN is not counted",
        PinRecord(0, NOW + timedelta(seconds=1)),
        False,
        Attempt.LOCKED,
        PinRecord(0, NOW + timedelta(seconds=1)),
    ),
    ("lock over: right PIN", PinRecord(0, NOW), True, Attempt.OK, PinRecord()),
    (
        "lock over: counting starts again",
        PinRecord(3, NOW - timedelta(seconds=1)),
        False,
        Attempt.WRONG,
        PinRecord(1),
    ),
]


@pytest.mark.parametrize(
    ("record", "right", "outcome", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_attempt(record: PinRecord, right: bool, outcome: Attempt, after: PinRecord) -> None:
    assert after_attempt(record, right, NOW, POLICY) == (outcome, after)


def test_five_wrong_pins_over_two_calls_lock_for_the_policy_time() -> None:
    record = PinRecord()
    outcomes = []
    for _ in range(5):
        outcome, record = after_attempt(record, False, NOW, POLICY)
        outcomes.append(outcome)
    assert outcomes == [Attempt.WRONG] * 4 + [Attempt.LOCKED]
    assert is_locked(record, NOW + timedelta(minutes=14, seconds=59))
    assert not is_locked(record, NOW + timedelta(minutes=15))
    short = LockoutPolicy(failures=2, minutes=1)
    outcome, record = after_attempt(PinRecord(1), False, NOW, short)
    assert outcome is Attempt.LOCKED and record.locked_until == NOW + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("pin", "problem"),
    [
        ("2580", None),
        ("94716385", None),
        ("123", "pin_error_length"),
        ("12345678901", "pin_error_length"),
        ("7777", "pin_error_repeated"),
        ("3456", "pin_error_sequence"),
        ("9876", "pin_error_sequence"),
        ("0100", "pin_error_mailbox"),
        ("6135550100", "pin_error_mailbox"),
        ("12a4", "pin_rules"),
    ],
)
def test_pin_rules_as_prompts(pin: str, problem: str | None) -> None:
    assert pin_problem(pin, "6135550100") == problem
