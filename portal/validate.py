"""Field checks shared by the slices: phone numbers, destinations (dial plan), e-mail addresses.

Each check adds a Problem (with a translatable message) and returns None when the value is
bad, so a service can check a whole form before it refuses it.
"""

from __future__ import annotations

import re

from portal.errors import Problems
from portal.i18n import Msg
from routing import numbers
from routing.model import DialPlan

EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)


def number(raw: str | None, field: str, problems: Problems, *, required: bool = True) -> str | None:
    """A typed phone number, normalised (routing.numbers.normalize)."""
    text = (raw or "").strip()
    if not text:
        if required:
            problems.add(field, "required", Msg("Enter a phone number."))
        return None
    try:
        return numbers.normalize(text)
    except ValueError:
        problems.add(
            field,
            "invalid-number",
            Msg(
                "%(value)s is not a phone number: enter 10 digits, such as 613 555 0123.",
                value=text[:40],
            ),
        )
        return None


def destination(
    raw: str | None,
    field: str,
    problems: Problems,
    plan: DialPlan,
    allow_international: bool,
    *,
    required: bool = True,
) -> str | None:
    """A number calls may be sent to: normalised, then checked against the dial plan."""
    value = number(raw, field, problems, required=required)
    if value is None:
        return None
    try:
        numbers.check_destination(value, plan, allow_international)
    except ValueError:
        problems.add(
            field, "destination-refused", refusal_message(value, plan, allow_international)
        )
        return None
    return value


def refusal_message(value: str, plan: DialPlan, allow_international: bool) -> Msg:
    """Why the dial plan refuses `value`, in words a subscriber understands."""
    reason = numbers.refusal(value, plan, allow_international) or ""
    if "outside Canada" in reason:
        return Msg(
            "%(number)s: calls cannot be sent to numbers outside Canada and the United States "
            "(%(country)s) on your account.",
            number=value,
            country=numbers.nanp_country(value) or "",
        )
    if "international" in reason:
        return Msg(
            "%(number)s: international numbers are not allowed on your account.", number=value
        )
    if "blocked" in reason:
        return Msg(
            "%(number)s: calls cannot be sent to premium-rate numbers (such as 900 and 976).",
            number=value,
        )
    if "N11" in reason:
        return Msg("%(number)s: service codes such as 911 or 411 cannot be used.", number=value)
    if "does not start" in reason:
        return Msg(
            "%(number)s is not a valid North American number (area code and exchange start "
            "with 2 to 9).",
            number=value,
        )
    return Msg(
        "%(number)s: enter a 10-digit number or an extension of %(digits)s digits.",
        number=value,
        digits=" / ".join(str(d) for d in sorted(plan.extension_digits)) or "-",
    )


def email(raw: str | None, field: str, problems: Problems) -> str | None:
    text = (raw or "").strip()
    if not text:
        problems.add(field, "required", Msg("Enter an e-mail address."))
        return None
    if len(text) > 254 or not EMAIL.fullmatch(text):
        problems.add(
            field,
            "invalid-email",
            Msg("%(value)s is not an e-mail address such as name@example.com.", value=text[:60]),
        )
        return None
    local, _at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"
