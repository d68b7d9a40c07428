"""French and English: gettext catalogues under portal/i18n/, language negotiation, formatting.

Rules of this file:
- Message ids are English; portal/i18n/<lang>/LC_MESSAGES/messages.po holds the translations
  and the compiled .mo next to it is what runs (`make i18n` extracts, updates and compiles).
- Python code marks translatable text with Msg("...", **params) (or N_ for plain ids) and
  translates it only where it is shown, in the language of the request.
- The language of a request: the `relais_lang` cookie, else Accept-Language, else the
  installation's default language.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("fr", "en")
LANG_COOKIE = "relais_lang"
CATALOGUES = Path(__file__).with_name("i18n")
DOMAIN = "messages"


def N_(msgid: str) -> str:
    """Mark `msgid` for extraction; it is translated later, where it is shown."""
    return msgid


@dataclass(frozen=True)
class Msg:
    """Translatable text with %(name)s parameters, rendered in the language of the reader."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, msgid: str, **params: Any) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(self, "params", params)

    def render(self, lang: str) -> str:
        text = translations(lang).gettext(self.msgid)
        if not self.params:
            return text
        return text % {
            k: v.render(lang) if isinstance(v, Msg) else v for k, v in self.params.items()
        }


@cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang not in LANGUAGES:
        lang = "en"
    try:
        return gettext.translation(DOMAIN, localedir=str(CATALOGUES), languages=[lang])
    except FileNotFoundError:
        return gettext.NullTranslations()


def negotiate(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The language of a request (see the module rules)."""
    if cookie is not None and cookie in LANGUAGES:
        return cookie
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(","):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        for p in params.split(";"):
            key, _eq, value = p.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-", 1)[0]
        # Browsers list preferences in order: the first of equal quality wins.
        if primary in LANGUAGES and quality > 0 and (best is None or quality > best[0]):
            best = (quality, primary)
    return best[1] if best else default


# ------------------------------------------------------------------------------------------------
# Formatting shared by pages and the API


def format_number(number: str | None) -> str:
    """(613) 555-0100 for a 10-digit number; other numbers as they are."""
    if not number:
        return ""
    if len(number) == 10 and number.isdigit():
        return f"({number[:3]}) {number[3:6]}-{number[6:]}"
    return number


def format_typed_number(text: str | None) -> str:
    """A number as someone typed it, shown like format_number when it is a plain NANP number
    ("613-555-0142", "+1 613 555 0142"); anything else (extensions, letters) as typed."""
    if not text:
        return ""
    if re.fullmatch(r"[\d\s().+-]+", text):
        digits = re.sub(r"\D", "", text)
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) == 10:
            return format_number(digits)
    return text


def format_long_date(value: date | str, lang: str) -> str:
    """ "jeudi 31 décembre 2026" / "Thursday, December 31, 2026" (ISO text accepted)."""
    from babel.dates import format_date

    day = date.fromisoformat(value) if isinstance(value, str) else value
    return format_date(day, "full", locale="fr_CA" if lang == "fr" else "en_CA")


def format_count(n: int, lang: str) -> str:
    """10,000 in English, 10 000 in French (a narrow no-break space groups the digits)."""
    text = f"{n:,}"
    return text.replace(",", "\u202f") if lang == "fr" else text


def format_duration(seconds: float) -> str:
    """12 min 05 s / 45 s; hours above an hour (1 h 05 min)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
