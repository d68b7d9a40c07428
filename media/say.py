"""The say layer: values -> sequences of prompt ids, in French or English (SPEC S5, S7).

Rules of this file:
- Pure: values in, lists of catalogue ids out. Times come with the "now" they are relative to
  and the IANA time zone of the mailbox; nothing here reads a clock or does I/O.
- Every id returned is in media.catalog.PROMPTS (the tests walk every function's output).
- French: numbers agree in gender with their noun (une heure, vingt et une minutes, une
  nouvelle télécopie), 0 and 1 take the singular, "aucun" replaces zero ("Vous n'avez aucun
  nouveau message"), quatre-vingts and deux cents take their s only at the end of a number.
  English: 12-hour clock with a.m./p.m., ordinal dates (March third).
- Keys are "0".."9", "*" and "#". Menus are tables of (option fragment, key), spoken as
  "<fragment> press <key>" with a pause between options.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from media import catalog
from media.catalog import Lang, check_language

MAX_NUMBER: Final = 999_999
PAUSE: Final = "pause"

# --- numbers ---------------------------------------------------------------------------------


def _one(feminine: bool) -> str:
    return "num_1_f" if feminine else "num_1"


def _fr_below_100(n: int, feminine: bool, before_thousand: bool = False) -> list[str]:
    if n < catalog.WHOLE_NUMBERS:
        if n == 1:
            return [_one(feminine)]
        return ["num_21_f" if (n == 21 and feminine) else f"num_{n}"]
    tens, unit = divmod(n, 10)
    if unit == 0:
        # quatre-vingts, but quatre-vingt mille
        return ["num_80_joined" if (n == 80 and before_thousand) else f"num_{n}"]
    if tens == 7:
        return ["num_60", "and", "num_11"] if unit == 1 else ["num_60", f"num_{10 + unit}"]
    if tens == 9:
        return ["num_80_joined", f"num_{10 + unit}"]
    base = "num_80_joined" if tens == 8 else f"num_{tens * 10}"
    if unit == 1:
        # trente et un, but quatre-vingt-un
        return [base, _one(feminine)] if tens == 8 else [base, "and", _one(feminine)]
    return [base, f"num_{unit}"]


def _fr_below_1000(n: int, feminine: bool, before_thousand: bool = False) -> list[str]:
    hundreds, rest = divmod(n, 100)
    out: list[str] = []
    if hundreds == 1:
        out.append("num_hundred")  # cent, never "un cent"
    elif hundreds > 1:
        plural = rest == 0 and not before_thousand  # deux cents, deux cent un, deux cent mille
        out += [f"num_{hundreds}", "num_hundreds" if plural else "num_hundred"]
    if rest or not out:
        out += _fr_below_100(rest, feminine, before_thousand)
    return out


def _en_below_100(n: int) -> list[str]:
    if n < catalog.WHOLE_NUMBERS:
        return [f"num_{n}"]
    tens, unit = divmod(n, 10)
    return [f"num_{n}"] if unit == 0 else [f"num_{tens * 10}", f"num_{unit}"]


def _en_below_1000(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    out = [f"num_{hundreds}", "num_hundred"] if hundreds else []
    if rest or not out:
        out += _en_below_100(rest)
    return out


def number(n: int, lang: str, *, feminine: bool = False) -> list[str]:
    """A cardinal number 0..999 999 (feminine: the French form before a feminine noun)."""
    language = check_language(lang)
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"number out of range: {n}")
    thousands, rest = divmod(n, 1000)
    if language == "en":
        out = [*_en_below_1000(thousands), "num_thousand"] if thousands else []
        return out + _en_below_1000(rest) if (rest or not out) else out
    if thousands == 1:
        out = ["num_thousand"]  # mille, never "un mille"
    elif thousands:
        out = [*_fr_below_1000(thousands, False, before_thousand=True), "num_thousand"]
    else:
        out = []
    return out + _fr_below_1000(rest, feminine) if (rest or not out) else out


def ordinal(n: int, lang: str) -> list[str]:
    """An ordinal 1..31 as said in a date: "third" / "twenty-first"; French "premier", else
    the cardinal ("le 3 mars")."""
    language = check_language(lang)
    if not 1 <= n <= 31:
        raise ValueError(f"ordinal out of range: {n}")
    if language == "fr":
        return ["ord_1"] if n == 1 else number(n, "fr")
    if n <= 20 or n == 30:
        return [f"ord_{n}"]
    tens, unit = divmod(n, 10)
    return [f"num_{tens * 10}", f"ord_{unit}"]


# --- digits and phone numbers ----------------------------------------------------------------

_KEYS: Final = {**{str(d): f"num_{d}" for d in range(10)}, "*": "key_star", "#": "key_pound"}


def key(k: str) -> str:
    """The prompt of one telephone key ("0".."9", "*", "#")."""
    try:
        return _KEYS[k]
    except KeyError:
        raise ValueError(f"not a telephone key: {k!r}") from None


def digits(text: str) -> list[str]:
    """Telephone keys said one by one ("613*" -> six, one, three, star)."""
    return [key(k) for k in text]


def phone_number(number_text: str) -> list[str]:
    """A phone number said digit by digit, grouped as it is written: 613 555 0100 (3-3-4),
    1 613 555 0100, 555 0100; other lengths (extensions, 011...) without groups."""
    raw = number_text.strip().removeprefix("+")
    if not raw.isdigit() or not raw.isascii():
        raise ValueError(f"not a phone number: {number_text!r}")
    if len(raw) == 11 and raw.startswith("1"):
        groups = [raw[:1], raw[1:4], raw[4:7], raw[7:]]
    elif len(raw) == 10:
        groups = [raw[:3], raw[3:6], raw[6:]]
    elif len(raw) == 7:
        groups = [raw[:3], raw[3:]]
    else:
        groups = [raw]
    out: list[str] = []
    for group in groups:
        if out:
            out.append(PAUSE)
        out += digits(group)
    return out


# --- counts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    """A counted thing: its prompts for one, several and none, and its French gender."""

    one: str
    many: str
    none: str
    feminine: bool = False


NOUNS: Final[dict[str, Noun]] = {
    "new_message": Noun("count_new_message", "count_new_messages", "count_no_new_messages"),
    "saved_message": Noun("count_saved_message", "count_saved_messages", "count_no_saved_messages"),
    "message": Noun("count_message", "count_messages", "count_no_messages"),
    "urgent_message": Noun(
        "count_urgent_message", "count_urgent_messages", "count_no_urgent_messages"
    ),
    "new_fax": Noun("count_new_fax", "count_new_faxes", "count_no_new_faxes", feminine=True),
    "page": Noun("count_page", "count_pages", "count_no_pages", feminine=True),
}
CountNoun = Literal["new_message", "saved_message", "message", "urgent_message", "new_fax", "page"]


def count(n: int, noun: CountNoun, lang: str) -> list[str]:
    """A counted noun phrase: "1 nouveau message", "2 nouveaux messages", "aucun nouveau
    message"; "1 new message", "2 new messages", "no new messages"."""
    check_language(lang)
    if n < 0:
        raise ValueError(f"count must not be negative: {n}")
    spec = NOUNS[noun]
    if n == 0:
        return [spec.none]
    return [*number(n, lang, feminine=spec.feminine), spec.one if n == 1 else spec.many]


def mailbox_summary(new: int, saved: int, lang: str, *, new_faxes: int = 0) -> list[str]:
    """The announcement after login: "Vous avez 2 nouveaux messages et 3 messages
    sauvegardés"; "Vous n'avez aucun nouveau message" then the saved count; "Vous n'avez
    aucun message"; then the new faxes, if any."""
    check_language(lang)
    if new == 0 and saved == 0:
        out = ["you_have_not", "count_no_messages"]
    elif new == 0:
        out = ["you_have_not", "count_no_new_messages", PAUSE, "you_have"]
        out += count(saved, "saved_message", lang)
    else:
        out = ["you_have", *count(new, "new_message", lang)]
        if saved:
            out += ["and", *count(saved, "saved_message", lang)]
    if new_faxes:
        out += [PAUSE, "you_have", *count(new_faxes, "new_fax", lang)]
    return out


# --- durations, dates and times --------------------------------------------------------------


def _plural(n: int, language: Lang) -> bool:
    return n >= 2 if language == "fr" else n != 1


def duration(seconds: float, lang: str) -> list[str]:
    """A length of time, to the second: "1 minute 30 secondes", "2 hours 5 seconds"."""
    language = check_language(lang)
    if seconds < 0:
        raise ValueError(f"duration must not be negative: {seconds}")
    total = int(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    out: list[str] = []
    for value, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")):
        if value or (unit == "second" and not out):
            suffix = "s" if _plural(value, language) else ""
            out += [*number(value, language, feminine=True), f"unit_{unit}{suffix}"]
    return out


def time_of_day(t: time, lang: str) -> list[str]:
    """A clock time: "14 heures 5", "minuit 20"; "2 oh 5 p.m.", "12 a.m."."""
    language = check_language(lang)
    if language == "fr":
        if t.hour == 0:
            out = ["time_midnight"]
        else:
            unit = "unit_hours" if _plural(t.hour, language) else "unit_hour"
            out = [*number(t.hour, "fr", feminine=True), unit]
        return out + number(t.minute, "fr", feminine=True) if t.minute else out
    out = number(t.hour % 12 or 12, "en")
    if 0 < t.minute < 10:
        out += ["time_oh", f"num_{t.minute}"]
    elif t.minute:
        out += number(t.minute, "en")
    return [*out, "time_am" if t.hour < 12 else "time_pm"]


def year(y: int, lang: str) -> list[str]:
    """A year: "deux mille vingt-cinq"; "twenty twenty-five", "two thousand five"."""
    language = check_language(lang)
    if language == "fr" or y % 100 == 0 or 2000 <= y <= 2009 or not 1100 <= y <= 9999:
        return number(y, language)
    century, rest = divmod(y, 100)
    tail = ["time_oh", f"num_{rest}"] if rest < 10 else number(rest, "en")
    return number(century, "en") + tail


def calendar_date(d: date, lang: str, *, with_year: bool = False) -> list[str]:
    """A date: "le 3 mars", "le premier mars 2024"; "March third", "March first 2024"."""
    language = check_language(lang)
    month = f"month_{catalog.MONTHS[d.month - 1]}"
    tail = year(d.year, language) if with_year else []
    if language == "fr":
        return ["date_the", *ordinal(d.day, "fr"), month, *tail]
    return [month, *ordinal(d.day, "en"), *tail]


def day(d: date, today: date, lang: str) -> list[str]:
    """A day relative to today: today, yesterday, the weekday within the last week, else the
    date (with its year when it is not this year's)."""
    language = check_language(lang)
    days = (today - d).days
    if days == 0:
        return ["day_today"]
    if days == 1:
        return ["day_yesterday"]
    if 2 <= days <= 6:
        return [f"weekday_{catalog.WEEKDAYS[d.weekday()]}"]
    return calendar_date(d, language, with_year=d.year != today.year)


def zone(tz: str) -> ZoneInfo:
    """The IANA time zone, else ValueError."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {tz!r}") from None


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment


def when(moment: datetime, now: datetime, tz: str, lang: str) -> list[str]:
    """When something happened, seen from `now` in time zone `tz`: "aujourd'hui à 14 heures 5",
    "hier à 9 heures", "lundi à 12 heures 30", "le 3 mars à 8 heures"; "today at 2 oh 5 p.m."."""
    language = check_language(lang)
    place = zone(tz)
    local = _aware(moment, "moment").astimezone(place)
    today = _aware(now, "now").astimezone(place).date()
    return [*day(local.date(), today, language), "at", *time_of_day(local.time(), language)]


# --- sentences -------------------------------------------------------------------------------


def envelope(
    caller: str | None,
    received_at: datetime,
    now: datetime,
    tz: str,
    lang: str,
    *,
    urgent: bool = False,
    private: bool = False,
    length_s: float | None = None,
) -> list[str]:
    """A message's envelope: "Message urgent. Message de 613 555 0100, reçu hier à 9 heures."
    An anonymous caller (None) is "an unknown caller"."""
    check_language(lang)
    out: list[str] = []
    if urgent:
        out.append("urgent_message")
    if private:
        out.append("private_message")
    if caller:
        out += ["envelope_from", *phone_number(caller), PAUSE]
    else:
        out.append("envelope_from_unknown")
    out += ["envelope_received", *when(received_at, now, tz, lang)]
    if length_s is not None:
        out += [PAUSE, "envelope_length", *duration(length_s, lang)]
    return out


def fax_envelope(
    caller: str | None, received_at: datetime, pages: int, now: datetime, tz: str, lang: str
) -> list[str]:
    """A new fax announced by phone (fax autoplay): "Une télécopie de 3 pages, de 613 555 0100,
    reçue hier à 9 heures." An anonymous sender (None) is "an unknown sender"."""
    check_language(lang)
    out = ["fax_of", *count(pages, "page", lang), PAUSE]
    if caller:
        out += ["fax_from", *phone_number(caller), PAUSE]
    else:
        out.append("fax_from_unknown")
    return [*out, "fax_received", *when(received_at, now, tz, lang)]


Menu = Sequence[tuple[str, str]]
"""A menu: (option fragment id, key) pairs in the order they are announced."""


def menu(options: Menu) -> list[str]:
    """A menu announcement: "Pour écouter vos messages, appuyez sur 1." for each option."""
    out: list[str] = []
    for fragment, k in options:
        catalog.get(fragment)
        out += [fragment, "press", key(k), PAUSE]
    return out


MAIN_MENU: Final[Menu] = (
    ("menu_listen_messages", "1"),
    ("menu_send_voice_message", "2"),
    ("menu_options", "3"),
    ("menu_exit", "#"),
)
MESSAGE_MENU: Final[Menu] = (
    ("menu_replay", "1"),
    ("menu_save", "2"),
    ("menu_delete", "3"),
    ("menu_reply", "4"),
    ("menu_forward", "5"),
    ("menu_envelope", "6"),
    ("menu_mark_new", "7"),
    ("menu_next_message", "#"),
    ("menu_main_menu", "*"),
)
OPTIONS_MENU: Final[Menu] = (
    ("menu_record_greeting", "1"),
    ("menu_choose_greeting", "2"),
    ("menu_record_name", "3"),
    ("menu_change_pin", "4"),
    ("menu_extra_greetings", "5"),
    ("menu_main_menu", "*"),
)
GREETING_CHOICE_MENU: Final[Menu] = (
    ("menu_greeting_personal", "1"),
    ("menu_greeting_system", "2"),
    ("menu_greeting_system_number", "3"),
    ("menu_greeting_system_name", "4"),
    ("menu_previous", "*"),
)
EXTRA_GREETINGS_MENU: Final[Menu] = (
    ("menu_greeting_busy", "1"),
    ("menu_greeting_no_answer", "2"),
    ("menu_greeting_absent", "3"),
    ("menu_previous", "*"),
)
RECORDING_REVIEW_MENU: Final[Menu] = (
    ("menu_accept", "1"),
    ("menu_listen", "2"),
    ("menu_rerecord", "3"),
    ("menu_cancel", "*"),
)
OUTDIAL_MENU: Final[Menu] = (("menu_log_in", "1"),)


def deposit_menu(*, urgent: bool, private: bool) -> Menu:
    """After the caller presses # (SPEC S5 deposit 4); 4 and 5 say what pressing them does now."""
    return (
        ("menu_send_message", "1"),
        ("menu_listen", "2"),
        ("menu_rerecord", "3"),
        ("menu_unmark_urgent" if urgent else "menu_mark_urgent", "4"),
        ("menu_unmark_private" if private else "menu_mark_private", "5"),
    )


def extra_greeting_menu(*, on: bool) -> Menu:
    """One extra greeting (busy, no answer, extended absence): toggle, record, listen."""
    return (
        ("menu_turn_off" if on else "menu_turn_on", "1"),
        ("menu_record", "2"),
        ("menu_listen", "3"),
        ("menu_previous", "*"),
    )


GreetingVariant = Literal["unavailable", "busy", "absent"]
_GREETINGS: Final[dict[str, tuple[str, str]]] = {
    # variant: (whole system greeting, the part after a number or a name)
    "unavailable": ("greeting_system", "greeting_not_available"),
    "busy": ("greeting_system_busy", "greeting_busy"),
    "absent": ("greeting_system_absent", "greeting_absent"),
}


def system_greeting(variant: GreetingVariant, number_text: str | None = None) -> list[str]:
    """The system greeting, or with the line's number: "La personne au 613 555 0100 n'est pas
    disponible." (SPEC S5 deposit 2). For the greeting with a name, play the recorded name
    then after_name(variant)."""
    whole, tail = _GREETINGS[variant]
    if number_text is None:
        return [whole]
    return ["greeting_person_at", *phone_number(number_text), tail]


def after_name(variant: GreetingVariant) -> list[str]:
    """What follows the subscriber's recorded name in the system-with-name greeting."""
    return [_GREETINGS[variant][1]]


def outdial_announcement(*, urgent: bool = False, fax: bool = False) -> list[str]:
    """The outdial notification call (SPEC S7): "you have a new message, press 1 to log in"."""
    news = (
        "outdial_new_fax"
        if fax
        else ("outdial_new_urgent_message" if urgent else "outdial_new_message")
    )
    return ["outdial_hello", news, *menu(OUTDIAL_MENU)]
