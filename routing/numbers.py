"""Phone numbers: normalisation, anonymous callers, the dial-plan (toll-fraud) check (S3, S9).

Rules of this file:
- A normalised number is one of: 10 digits (NANP, without the leading 1), an extension of 1 to 7
  digits, or "011" followed by 7 to 15 digits (international, the North American prefix).
- normalize() only checks the shape of a number; check_destination() decides whether relais may
  call it (forwarding, outdial and reply destinations).
- Every ValueError carries an exact message that the tests assert.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from urllib.parse import unquote

from routing.model import DialPlan

NANP_DIGITS = 10
MAX_EXTENSION_DIGITS = 7
INTERNATIONAL_PREFIX = "011"
MIN_INTERNATIONAL_DIGITS = 7  # after the prefix: country code and national number (E.164)
MAX_INTERNATIONAL_DIGITS = 15

NANP_ABROAD: dict[str, str] = {
    "242": "the Bahamas",
    "246": "Barbados",
    "264": "Anguilla",
    "268": "Antigua and Barbuda",
    "284": "the British Virgin Islands",
    "345": "the Cayman Islands",
    "441": "Bermuda",
    "473": "Grenada",
    "649": "the Turks and Caicos Islands",
    "658": "Jamaica",
    "664": "Montserrat",
    "721": "Sint Maarten",
    "758": "Saint Lucia",
    "767": "Dominica",
    "784": "Saint Vincent and the Grenadines",
    "809": "the Dominican Republic",
    "829": "the Dominican Republic",
    "849": "the Dominican Republic",
    "868": "Trinidad and Tobago",
    "869": "Saint Kitts and Nevis",
    "876": "Jamaica",
}
"""NANP area codes of countries other than Canada and the United States (NANPA assignments;
US territories such as Puerto Rico 787/939, Guam 671 and the US Virgin Islands 340 are the
United States). Dialled as 1 + 10 digits like a domestic call but billed as international:
the classic toll-fraud route, refused unless allowed (DialPlan.allow_nanp_abroad)."""

ANONYMOUS_USERS = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable"})
"""User parts that callers and carriers send instead of a number (compared in lower case)."""

ANONYMOUS_PRIVACY = frozenset({"id", "user"})
"""Privacy header values (RFC 3323/3325) that hide the caller's identity."""

_VISUAL_SEPARATORS = frozenset(" \t-.()/")
_DIGITS = frozenset("0123456789")
_LEADING = frozenset("23456789")  # NANP area codes and exchanges start with 2-9


def normalize(raw: str) -> str:
    """Return the normalised form of a typed number, a tel: URI or the user part of a sip: URI.

    "(613) 555-0100", "613.555.0100", "+1 613 555 0100", "16135550100" and
    "sip:+16135550100;npdi@example.com;user=phone" all give "6135550100"; "+44 20 7946 0958" and
    "011 44 20 7946 0958" give "011442079460958"; "1234" stays an extension.
    """
    text = raw.strip()
    if not text:
        raise ValueError("empty phone number")
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    lower = text.lower()
    if lower.startswith(("sip:", "sips:")):
        rest = text.split(":", 1)[1]
        if "@" not in rest:
            raise ValueError(f"no number in {raw!r}")
        user = rest.rsplit("@", 1)[0]
        text = unquote(user.split(";", 1)[0].split(":", 1)[0])
    elif lower.startswith("tel:"):
        text = unquote(text[4:].split(";", 1)[0])
    elif ":" in text or "@" in text:
        raise ValueError(f"not a phone number: {raw!r}")
    plus = False
    digits: list[str] = []
    for ch in text:
        if ch in _DIGITS:
            digits.append(ch)
        elif ch == "+" and not digits and not plus:
            plus = True
        elif ch not in _VISUAL_SEPARATORS:
            raise ValueError(f"invalid character {ch!r} in {raw!r}")
    number = "".join(digits)
    if not number:
        raise ValueError(f"no number in {raw!r}")
    if plus:
        if number.startswith("1"):
            if len(number) != NANP_DIGITS + 1:
                raise ValueError(f"{raw!r} has {_count(len(number) - 1)} after +1: expected 10")
            return number[1:]
        return _international(number, raw)
    if len(number) >= NANP_DIGITS and number.startswith(INTERNATIONAL_PREFIX):
        national = number[len(INTERNATIONAL_PREFIX) :]
        if national.startswith("1"):
            # 011 1 NPA NXX XXXX reaches a NANP number: treat it as one, so that the dial plan
            # applies its NANP rules (a 900 number cannot hide behind the international prefix).
            if len(national) != NANP_DIGITS + 1:
                raise ValueError(f"{raw!r} has {_count(len(national) - 1)} after 0111: expected 10")
            return national[1:]
        return _international(national, raw)
    if len(number) == NANP_DIGITS:
        return number
    if len(number) == NANP_DIGITS + 1 and number.startswith("1"):
        return number[1:]
    if len(number) <= MAX_EXTENSION_DIGITS:
        return number
    raise ValueError(
        f"{raw!r} has {_count(len(number))}: expected 10, 11 starting with 1, "
        "an extension of 1 to 7 digits, or 011 and an international number"
    )


def is_normalised(s: str) -> bool:
    """True when `s` is a normalised number, i.e. normalize(s) == s (without parsing anything)."""
    if not (s.isascii() and s.isdigit()):
        return False
    size = len(s)
    if size >= NANP_DIGITS and s.startswith(INTERNATIONAL_PREFIX):
        national = size - len(INTERNATIONAL_PREFIX)
        return MIN_INTERNATIONAL_DIGITS <= national <= MAX_INTERNATIONAL_DIGITS and s[3] != "1"
    return size == NANP_DIGITS or size <= MAX_EXTENSION_DIGITS


def _international(national: str, raw: str) -> str:
    if not MIN_INTERNATIONAL_DIGITS <= len(national) <= MAX_INTERNATIONAL_DIGITS:
        raise ValueError(
            f"{raw!r} has {_count(len(national))} after the international prefix: expected 7 to 15"
        )
    return INTERNATIONAL_PREFIX + national


def _count(digits: int) -> str:
    return "1 digit" if digits == 1 else f"{digits} digits"


def caller_number(raw_user: str | None) -> str | None:
    """The normalised caller number from a From/P-Asserted-Identity user part (or whole URI).

    None when the caller is anonymous ("anonymous", "unknown", "restricted", "private",
    "unavailable" in any case, or empty) or when the user part is not a number.
    """
    if raw_user is None:
        return None
    text = raw_user.strip()
    if text.lower() in ANONYMOUS_USERS:
        return None
    try:
        return normalize(text)
    except ValueError:
        return None


def is_anonymous(caller: str | None, privacy: Collection[str]) -> bool:
    """True when the caller has no usable number or asked for privacy (Privacy: id or user).

    `privacy` holds the Privacy header values in lower case; "none" (and "header", "session")
    do not hide the caller's number.
    """
    return caller is None or "id" in privacy or "user" in privacy


def is_valid_line_number(s: str) -> bool:
    """True for a normalised 10-digit NANP number that can be a line (and mailbox) number."""
    return (
        len(s) == NANP_DIGITS
        and s.isascii()
        and s.isdigit()
        and s[0] in _LEADING
        and s[1:3] != "11"
        and s[3] in _LEADING
        and s[4:6] != "11"
    )


def nanp_country(number: str) -> str | None:
    """The country of a 10-digit NANP number outside Canada and the United States, else None."""
    return NANP_ABROAD.get(number[:3]) if len(number) == NANP_DIGITS else None


def for_account(plan: DialPlan, allow_nanp_abroad: bool) -> DialPlan:
    """`plan` as it applies to an account with (or without) its own NANP-abroad permission."""
    return replace(plan, allow_nanp_abroad=True) if allow_nanp_abroad else plan


def refusal(number: str, plan: DialPlan, allow_international: bool) -> str | None:
    """Why the dial plan refuses `number` as a destination, or None when it may be called.

    The reason does not repeat the number; check_destination() puts it in front.
    International numbers are allowed when the dial plan allows them for every line or when the
    account allows them (`allow_international`).
    """
    if not number or not number.isascii() or not number.isdigit():
        return "not a normalised number"
    size = len(number)
    if size >= NANP_DIGITS and number.startswith(INTERNATIONAL_PREFIX):
        if allow_international or plan.allow_international:
            return None
        return "international numbers are not allowed"
    if size == NANP_DIGITS:
        area, exchange = number[:3], number[3:6]
        if area[0] not in _LEADING:
            return f"area code {area} does not start with 2-9"
        if area[1:] == "11":
            return f"area code {area} is a service code (N11)"
        if area in plan.blocked_area_codes:
            return f"area code {area} is blocked"
        if area in NANP_ABROAD and not plan.allow_nanp_abroad:
            return (
                f"area code {area} is in {NANP_ABROAD[area]}, outside Canada and the United States"
            )
        if exchange[0] not in _LEADING:
            return f"exchange {exchange} does not start with 2-9"
        if exchange[1:] == "11":
            return f"exchange {exchange} is a service code (N11)"
        if exchange in plan.blocked_exchanges:
            return f"exchange {exchange} is blocked"
        return None
    if size == 3 and number[0] in _LEADING and number[1:] == "11":
        return "service codes (N11) are not allowed"
    if size in plan.extension_digits:
        return None
    if not plan.extension_digits:
        return "not a 10-digit number (extensions are not allowed)"
    lengths = " or ".join(str(k) for k in sorted(plan.extension_digits))
    return f"neither a 10-digit number nor an extension of {lengths} digits"


def check_destination(number: str, plan: DialPlan, allow_international: bool) -> None:
    """Raise ValueError("<number>: <reason>") when the dial plan refuses `number` as a destination.

    NANP numbers need an area code and an exchange starting with 2-9 that are not N11 service
    codes nor blocked (900/976 premium area codes and the 976 exchange by default); N11 service
    codes (911, 411, ...) are never destinations; extensions must have one of the configured
    lengths; 011 international numbers need `allow_international` or the plan's permission.
    """
    reason = refusal(number, plan, allow_international)
    if reason is not None:
        raise ValueError(f"{number}: {reason}")
