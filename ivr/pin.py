"""Voicemail PIN checks by phone: the lockout across calls, and the PIN rules as prompts (S5, S9).

Rules of this file:
- Pure: the mailbox's failure counter and lock time in, the outcome and their new values out.
- While the mailbox is locked every attempt fails as "locked", the right PIN too, and nothing is
  counted. A lock that has expired starts a fresh count.
- A right PIN resets the counter. A wrong one adds one; reaching `failures` wrong PINs in a row
  (across calls) locks the mailbox for `minutes` and resets the counter.
- A new PIN follows store.credentials.validate_account_pin (the portal's rules: none of the
  account's mailbox numbers nor their last digits); pin_problem says which rule a PIN breaks
  as the prompt that explains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from store.credentials import validate_account_pin


@dataclass(frozen=True)
class LockoutPolicy:
    failures: int = 5
    minutes: int = 15


@dataclass(frozen=True)
class PinRecord:
    failures: int = 0
    locked_until: datetime | None = None


class Attempt(Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    """Locked before this attempt, or by it."""


def is_locked(record: PinRecord, now: datetime) -> bool:
    return record.locked_until is not None and now < record.locked_until


def after_attempt(
    record: PinRecord, right: bool, now: datetime, policy: LockoutPolicy
) -> tuple[Attempt, PinRecord]:
    """The outcome of one PIN attempt and the mailbox's record after it."""
    if is_locked(record, now):
        return Attempt.LOCKED, record
    if record.locked_until is not None:
        record = PinRecord()  # the lock is over
    if right:
        return Attempt.OK, PinRecord()
    failures = record.failures + 1
    if failures >= policy.failures:
        return Attempt.LOCKED, PinRecord(0, now + timedelta(minutes=policy.minutes))
    return Attempt.WRONG, PinRecord(failures, None)


_PROBLEMS = (
    ("must have", "pin_error_length"),
    ("repeat a single digit", "pin_error_repeated"),
    ("run of", "pin_error_sequence"),
    ("mailbox number", "pin_error_mailbox"),
)


def pin_problem(pin: str, mailbox: str, account_numbers: Sequence[str] = ()) -> str | None:
    """None when `pin` may be the new PIN of `mailbox` (a line of an account with
    `account_numbers`), else the prompt id saying why not."""
    try:
        validate_account_pin(pin, [mailbox, *(n for n in account_numbers if n != mailbox)])
    except ValueError as exc:
        message = str(exc)
        for needle, prompt in _PROBLEMS:
            if needle in message:
                return prompt
        return "pin_rules"
    return None
