"""Credential rules of SPEC S9 and their hashes: argon2id for secrets, digest HA1 for devices.

Validators raise ValueError with the exact message shown to the user (CLI, portal, IVR).
They never include the secret itself in the message.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()  # argon2id with the library's recommended parameters

PIN_MIN, PIN_MAX = 4, 10
PASSWORD_MIN = 10
PASSWORD_MAX = 128
DEVICE_PASSWORD_MIN = 8


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's frequency lists (the password-strength
    estimator; Python port `zxcvbn` on PyPI), lower case."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def validate_number(number: str) -> str:
    """A 10-digit NANP line/mailbox number (area code and exchange start with 2-9)."""
    if not re.fullmatch(r"\d+", number or ""):
        raise ValueError("the number must contain digits only")
    if len(number) != 10:
        raise ValueError(f"the number must have exactly 10 digits (got {len(number)})")
    if number[0] in "01":
        raise ValueError("the area code cannot start with 0 or 1")
    if number[3] in "01":
        raise ValueError("the exchange cannot start with 0 or 1")
    return number


def validate_password(password: str, number: str | Sequence[str]) -> str:
    """Portal password rule (the portal, the API and the CLI all use it): 10 to 128
    characters, not the mailbox number (nor any of `number` when several are given), not one
    character repeated nor digits only, not one of the common passwords."""
    numbers = [number] if isinstance(number, str) else list(number)
    if len(password) < PASSWORD_MIN:
        raise ValueError(f"the password must have at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise ValueError(f"the password must have at most {PASSWORD_MAX} characters")
    bare = re.sub(r"[\s().+-]", "", password)
    if any(n and bare in (n, "1" + n) for n in numbers):
        raise ValueError("the password cannot be the mailbox number")
    if len(set(password)) == 1 or password.isdigit():
        raise ValueError("the password cannot be one character repeated or digits only")
    if password.strip().lower() in common_passwords():
        raise ValueError("the password is one of the most common passwords")
    return password


def _is_run(pin: str) -> bool:
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {-1})


def validate_pin(pin: str, number: str) -> str:
    """PIN rules: 4..10 digits, not one repeated digit, not a run, not the number or its end."""
    if not re.fullmatch(r"\d+", pin or ""):
        raise ValueError("the PIN must contain digits only")
    if not PIN_MIN <= len(pin) <= PIN_MAX:
        raise ValueError(f"the PIN must have {PIN_MIN} to {PIN_MAX} digits")
    if len(set(pin)) == 1:
        raise ValueError("the PIN cannot repeat a single digit")
    if _is_run(pin):
        raise ValueError("the PIN cannot be a run of ascending or descending digits")
    if number and (pin == number or number.endswith(pin)):
        raise ValueError("the PIN cannot be the mailbox number or its last digits")
    return pin


def validate_account_pin(pin: str, numbers: Sequence[str]) -> str:
    """validate_pin against each mailbox number of the account (the PIN's own mailbox first):
    a voicemail or call-services PIN may be none of them nor their last digits. The portal
    and the phone both check new PINs with this."""
    for number in numbers or ("",):
        validate_pin(pin, number)
    return pin


def hash_secret(secret: str) -> str:
    """argon2id hash of a password or PIN."""
    return _HASHER.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    try:
        return _HASHER.verify(secret_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(secret_hash: str) -> bool:
    return _HASHER.check_needs_rehash(secret_hash)


def validate_username(username: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", username or ""):
        raise ValueError("the SIP username must be 1 to 64 letters, digits, '.', '_' or '-'")
    return username


def validate_device_password(password: str) -> str:
    if len(password) < DEVICE_PASSWORD_MIN:
        raise ValueError(f"the SIP password must have at least {DEVICE_PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX or any(ord(c) < 32 for c in password):
        raise ValueError("the SIP password is too long or contains control characters")
    return password


def digest_ha1(username: str, realm: str, password: str) -> str:
    """HA1 = MD5(username:realm:password), RFC 2617/7616 (what Kamailio's auth_db reads)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def digest_ha1b(username: str, domain: str, realm: str, password: str) -> str:
    """HA1 for clients that put user@domain in the digest username."""
    return digest_ha1(f"{username}@{domain}", realm, password)
