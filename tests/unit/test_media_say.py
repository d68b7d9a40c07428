"""media.say: numbers, counts, phone numbers, dates and times, envelopes and menus, fr and en."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from media import catalog, say
from tests.unit.media_signals import refusal

TORONTO = "America/Toronto"


def fr(ids: Iterable[str]) -> str:
    return catalog.render_text(ids, "fr")


def en(ids: Iterable[str]) -> str:
    return catalog.render_text(ids, "en")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- numbers ---------------------------------------------------------------------------------

FRENCH_NUMBERS = {
    0: "zéro",
    1: "un",
    16: "seize",
    17: "dix-sept",
    20: "vingt",
    21: "vingt et un",
    22: "vingt-deux",
    30: "trente",
    31: "trente et un",
    45: "quarante-cinq",
    61: "soixante et un",
    70: "soixante-dix",
    71: "soixante et onze",
    72: "soixante-douze",
    79: "soixante-dix-neuf",
    80: "quatre-vingts",
    81: "quatre-vingt-un",
    88: "quatre-vingt-huit",
    90: "quatre-vingt-dix",
    91: "quatre-vingt-onze",
    99: "quatre-vingt-dix-neuf",
    100: "cent",
    101: "cent un",
    180: "cent quatre-vingts",
    200: "deux cents",
    201: "deux cent un",
    999: "neuf cent quatre-vingt-dix-neuf",
    1000: "mille",
    1001: "mille un",
    1080: "mille quatre-vingts",
    2000: "deux mille",
    2025: "deux mille vingt-cinq",
    9999: "neuf mille neuf cent quatre-vingt-dix-neuf",
    21000: "vingt et un mille",
    80000: "quatre-vingt mille",
    200000: "deux cent mille",
    300200: "trois cent mille deux cents",
    999999: "neuf cent quatre-vingt-dix-neuf mille neuf cent quatre-vingt-dix-neuf",
}

ENGLISH_NUMBERS = {
    0: "zero",
    1: "one",
    13: "thirteen",
    21: "twenty-one",
    40: "forty",
    42: "forty-two",
    99: "ninety-nine",
    100: "one hundred",
    115: "one hundred fifteen",
    300: "three hundred",
    1000: "one thousand",
    1001: "one thousand one",
    2025: "two thousand twenty-five",
    9999: "nine thousand nine hundred ninety-nine",
    21000: "twenty-one thousand",
    999999: "nine hundred ninety-nine thousand nine hundred ninety-nine",
}


@pytest.mark.parametrize(("n", "words"), sorted(FRENCH_NUMBERS.items()))
def test_french_numbers(n: int, words: str) -> None:
    assert fr(say.number(n, "fr")) == words


@pytest.mark.parametrize(("n", "words"), sorted(ENGLISH_NUMBERS.items()))
def test_english_numbers(n: int, words: str) -> None:
    assert en(say.number(n, "en")) == words


def test_french_feminine_numbers() -> None:
    assert fr(say.number(1, "fr", feminine=True)) == "une"
    assert fr(say.number(21, "fr", feminine=True)) == "vingt et une"
    assert fr(say.number(41, "fr", feminine=True)) == "quarante et une"
    assert fr(say.number(81, "fr", feminine=True)) == "quatre-vingt-une"
    assert fr(say.number(1001, "fr", feminine=True)) == "mille une"
    assert fr(say.number(71, "fr", feminine=True)) == "soixante et onze"
    assert en(say.number(21, "en", feminine=True)) == "twenty-one"


def test_numbers_out_of_range_are_refused() -> None:
    assert refusal(lambda: say.number(-1, "fr")) == "number out of range: -1"
    assert refusal(lambda: say.number(1_000_000, "en")) == "number out of range: 1000000"
    assert refusal(lambda: say.number(3, "de")) == "unsupported language: 'de'"


def test_every_number_uses_only_catalogue_prompts() -> None:
    for n in range(0, 100_000, 7):
        for lang in catalog.LANGUAGES:
            for feminine in (False, True):
                for prompt_id in say.number(n, lang, feminine=feminine):
                    assert prompt_id in catalog.PROMPTS


# --- digits and phone numbers ----------------------------------------------------------------


def test_phone_numbers_are_said_digit_by_digit_in_groups() -> None:
    assert fr(say.phone_number("6135550100")) == "six un trois, cinq cinq cinq, zéro un zéro zéro"
    assert en(say.phone_number("+1 613 555 0100".replace(" ", ""))) == (
        "one, six one three, five five five, zero one zero zero"
    )
    assert en(say.phone_number("5550100")) == "five five five, zero one zero zero"
    assert en(say.phone_number("1234")) == "one two three four"


def test_phone_number_groups_are_separated_by_the_pause_prompt() -> None:
    ids = say.phone_number("6135550100")
    assert ids.count("pause") == 2 and ids.index("pause") == 3
    assert len(ids) == 12


def test_keys_and_codes() -> None:
    assert say.digits("12*#") == ["num_1", "num_2", "key_star", "key_pound"]
    assert fr(say.digits("*98")) == "l'étoile neuf huit"
    assert refusal(lambda: say.digits("12a")) == "not a telephone key: 'a'"


def test_what_is_not_a_phone_number_is_refused() -> None:
    assert refusal(lambda: say.phone_number("613-555")) == "not a phone number: '613-555'"
    assert refusal(lambda: say.phone_number("")) == "not a phone number: ''"
    assert refusal(lambda: say.phone_number("٦١٣")) == "not a phone number: '٦١٣'"


# --- counts ----------------------------------------------------------------------------------


def test_french_counts_agree_in_number_and_gender() -> None:
    assert fr(say.count(1, "new_message", "fr")) == "un nouveau message"
    assert fr(say.count(2, "new_message", "fr")) == "deux nouveaux messages"
    assert fr(say.count(0, "new_message", "fr")) == "aucun nouveau message"
    assert fr(say.count(21, "saved_message", "fr")) == "vingt et un messages sauvegardés"
    assert fr(say.count(1, "new_fax", "fr")) == "une nouvelle télécopie"
    assert fr(say.count(21, "new_fax", "fr")) == "vingt et une nouvelles télécopies"
    assert fr(say.count(0, "new_fax", "fr")) == "aucune nouvelle télécopie"


def test_english_counts() -> None:
    assert en(say.count(1, "new_message", "en")) == "one new message"
    assert en(say.count(2, "new_message", "en")) == "two new messages"
    assert en(say.count(0, "new_message", "en")) == "no new messages"
    assert en(say.count(1, "urgent_message", "en")) == "one urgent message"
    assert en(say.count(3, "new_fax", "en")) == "three new faxes"
    assert refusal(lambda: say.count(-1, "message", "en")) == "count must not be negative: -1"


def test_mailbox_summary() -> None:
    assert fr(say.mailbox_summary(2, 3, "fr")) == (
        "Vous avez deux nouveaux messages et trois messages sauvegardés"
    )
    assert fr(say.mailbox_summary(1, 0, "fr")) == "Vous avez un nouveau message"
    assert fr(say.mailbox_summary(0, 1, "fr")) == (
        "Vous n'avez aucun nouveau message, Vous avez un message sauvegardé"
    )
    assert fr(say.mailbox_summary(0, 0, "fr")) == "Vous n'avez aucun message"
    assert en(say.mailbox_summary(0, 0, "en")) == "You have no messages"
    assert en(say.mailbox_summary(1, 2, "en", new_faxes=1)) == (
        "You have one new message and two saved messages, You have one new fax"
    )


# --- durations -------------------------------------------------------------------------------


def test_durations() -> None:
    assert fr(say.duration(95, "fr")) == "une minute trente-cinq secondes"
    assert fr(say.duration(3725, "fr")) == "une heure deux minutes cinq secondes"
    assert fr(say.duration(7200, "fr")) == "deux heures"
    assert fr(say.duration(0.3, "fr")) == "zéro seconde"
    assert fr(say.duration(21, "fr")) == "vingt et une secondes"
    assert en(say.duration(61, "en")) == "one minute one second"
    assert en(say.duration(120, "en")) == "two minutes"
    assert en(say.duration(0, "en")) == "zero seconds"
    assert en(say.duration(12.6, "en")) == "thirteen seconds"
    assert refusal(lambda: say.duration(-1, "en")) == "duration must not be negative: -1"


# --- times and dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "french", "english"),
    [
        (time(14, 5), "quatorze heures cinq", "two oh five p.m."),
        (time(14, 0), "quatorze heures", "two p.m."),
        (time(1, 1), "une heure une", "one oh one a.m."),
        (time(21, 21), "vingt et une heures vingt et une", "nine twenty-one p.m."),
        (time(0, 15), "minuit quinze", "twelve fifteen a.m."),
        (time(0, 0), "minuit", "twelve a.m."),
        (time(12, 30), "douze heures trente", "twelve thirty p.m."),
        (time(23, 59), "vingt-trois heures cinquante-neuf", "eleven fifty-nine p.m."),
    ],
)
def test_time_of_day(clock: time, french: str, english: str) -> None:
    assert fr(say.time_of_day(clock, "fr")) == french
    assert en(say.time_of_day(clock, "en")) == english


def test_calendar_dates() -> None:
    assert fr(say.calendar_date(date(2025, 3, 3), "fr")) == "le trois mars"
    assert fr(say.calendar_date(date(2025, 3, 1), "fr")) == "le premier mars"
    assert en(say.calendar_date(date(2025, 3, 3), "en")) == "March third"
    assert en(say.calendar_date(date(2025, 3, 21), "en")) == "March twenty-first"
    assert en(say.calendar_date(date(2025, 3, 30), "en")) == "March thirtieth"
    assert en(say.calendar_date(date(2025, 12, 31), "en")) == "December thirty-first"
    assert fr(say.calendar_date(date(2024, 8, 31), "fr", with_year=True)) == (
        "le trente et un août deux mille vingt-quatre"
    )


def test_years() -> None:
    assert en(say.year(2025, "en")) == "twenty twenty-five"
    assert en(say.year(2005, "en")) == "two thousand five"
    assert en(say.year(1999, "en")) == "nineteen ninety-nine"
    assert en(say.year(1905, "en")) == "nineteen oh five"
    assert en(say.year(2010, "en")) == "twenty ten"
    assert en(say.year(2000, "en")) == "two thousand"
    assert fr(say.year(2025, "fr")) == "deux mille vingt-cinq"


NOW = utc(2025, 6, 18, 16, 0)  # Wednesday 18 June 2025, 12:00 in Toronto (EDT, UTC-4)


@pytest.mark.parametrize(
    ("moment", "french", "english"),
    [
        (
            utc(2025, 6, 18, 18, 5),
            "aujourd'hui à quatorze heures cinq",
            "today at two oh five p.m.",
        ),
        (utc(2025, 6, 18, 4, 0), "aujourd'hui à minuit", "today at twelve a.m."),
        # 02:00 UTC on the 18th is 22:00 on the 17th in Toronto: yesterday.
        (utc(2025, 6, 18, 2, 0), "hier à vingt-deux heures", "yesterday at ten p.m."),
        (utc(2025, 6, 17, 3, 59), "lundi à vingt-trois heures cinquante-neuf", None),
        (utc(2025, 6, 15, 13, 30), "dimanche à neuf heures trente", "Sunday at nine thirty a.m."),
        (utc(2025, 6, 12, 13, 30), "jeudi à neuf heures trente", "Thursday at nine thirty a.m."),
        (
            utc(2025, 6, 11, 13, 30),
            "le onze juin à neuf heures trente",
            "June eleventh at nine thirty a.m.",
        ),
        (
            utc(2024, 12, 25, 15, 0),
            "le vingt-cinq décembre deux mille vingt-quatre à dix heures",
            "December twenty-fifth twenty twenty-four at ten a.m.",
        ),
    ],
)
def test_when_relative_to_now_in_the_mailbox_time_zone(
    moment: datetime, french: str, english: str | None
) -> None:
    assert fr(say.when(moment, NOW, TORONTO, "fr")) == french
    if english is not None:
        assert en(say.when(moment, NOW, TORONTO, "en")) == english


def test_the_same_instant_is_a_different_day_in_another_time_zone() -> None:
    moment = utc(2025, 6, 18, 2, 0)
    assert fr(say.when(moment, NOW, "Europe/Paris", "fr")) == "aujourd'hui à quatre heures"
    assert fr(say.when(moment, NOW, "America/Vancouver", "fr")) == "hier à dix-neuf heures"


def test_across_midnight_local_time_decides_the_day() -> None:
    now = utc(2025, 6, 19, 4, 5)  # 00:05 on the 19th in Toronto
    assert en(say.when(utc(2025, 6, 19, 3, 55), now, TORONTO, "en")) == (
        "yesterday at eleven fifty-five p.m."
    )
    assert en(say.when(utc(2025, 6, 19, 4, 1), now, TORONTO, "en")) == "today at twelve oh one a.m."


def test_daylight_saving_time_changes() -> None:
    # Spring forward: 9 March 2025 at 2:00 EST becomes 3:00 EDT.
    now = utc(2025, 3, 9, 20, 0)
    assert fr(say.when(utc(2025, 3, 9, 6, 30), now, TORONTO, "fr")) == (
        "aujourd'hui à une heure trente"
    )
    assert fr(say.when(utc(2025, 3, 9, 7, 30), now, TORONTO, "fr")) == (
        "aujourd'hui à trois heures trente"
    )
    # Fall back: 2 November 2025, 1:30 happens twice.
    now = utc(2025, 11, 2, 20, 0)
    first = en(say.when(utc(2025, 11, 2, 5, 30), now, TORONTO, "en"))
    second = en(say.when(utc(2025, 11, 2, 6, 30), now, TORONTO, "en"))
    assert first == second == "today at one thirty a.m."
    # A 23-hour day still makes the day before "yesterday".
    assert en(say.when(utc(2025, 3, 9, 4, 59), utc(2025, 3, 10, 3, 59), TORONTO, "en")) == (
        "yesterday at eleven fifty-nine p.m."
    )


def test_a_future_moment_in_another_day_is_said_as_a_date() -> None:
    assert fr(say.when(utc(2025, 6, 20, 16, 0), NOW, TORONTO, "fr")) == (
        "le vingt juin à douze heures"
    )


def test_times_must_be_aware_and_zones_known() -> None:
    naive = datetime(2025, 6, 18, 12, 0)
    assert refusal(lambda: say.when(naive, NOW, TORONTO, "fr")) == "moment must be timezone-aware"
    assert refusal(lambda: say.when(NOW, naive, TORONTO, "fr")) == "now must be timezone-aware"
    assert refusal(lambda: say.when(NOW, NOW, "Mars/Olympus", "fr")) == (
        "unknown time zone: 'Mars/Olympus'"
    )
    fixed = timezone(timedelta(hours=-5))
    assert fr(say.when(datetime(2025, 6, 18, 9, 0, tzinfo=fixed), NOW, TORONTO, "fr")) == (
        "aujourd'hui à dix heures"
    )


def test_every_date_uses_only_catalogue_prompts() -> None:
    now = utc(2025, 1, 1, 12, 0)
    for hours in range(0, 24 * 400, 5):
        moment = now - timedelta(hours=hours, minutes=hours % 60)
        for lang in catalog.LANGUAGES:
            for prompt_id in say.when(moment, now, TORONTO, lang):
                assert prompt_id in catalog.PROMPTS


# --- sentences -------------------------------------------------------------------------------


def test_envelope() -> None:
    received = utc(2025, 6, 17, 13, 0)
    assert fr(say.envelope("6135550100", received, NOW, TORONTO, "fr", urgent=True)) == (
        "Message urgent. Message de six un trois, cinq cinq cinq, zéro un zéro zéro, reçu hier "
        "à neuf heures"
    )
    assert en(say.envelope(None, received, NOW, TORONTO, "en", private=True, length_s=42)) == (
        "Private message. Message from an unknown caller, received yesterday at nine a.m. "
        "Length: forty-two seconds"
    )


def test_fax_envelope() -> None:
    """A new fax by phone, with fax autoplay: its pages (a feminine noun in French), sender and
    when it came ("reçue": a fax is feminine too)."""
    received = utc(2025, 6, 17, 13, 0)
    assert fr(say.fax_envelope("6135550100", received, 1, NOW, TORONTO, "fr")) == (
        "Une télécopie de une page, de six un trois, cinq cinq cinq, zéro un zéro zéro, reçue "
        "hier à neuf heures"
    )
    assert en(say.fax_envelope(None, received, 12, NOW, TORONTO, "en")) == (
        "A fax of twelve pages, from an unknown sender, received yesterday at nine a.m."
    )


def test_menus_are_built_from_their_tables() -> None:
    assert fr(say.menu(say.MAIN_MENU)) == (
        "Pour écouter vos messages, appuyez sur un, Pour envoyer un message vocal, appuyez sur "
        "deux, Pour les options, appuyez sur trois, Pour quitter, appuyez sur le carré,"
    )
    assert en(say.menu(say.deposit_menu(urgent=True, private=False))[12:16]) == (
        "To remove the urgent mark, press four,"
    )
    assert "menu_mark_urgent" in say.menu(say.deposit_menu(urgent=False, private=False))
    assert "menu_turn_off" in say.menu(say.extra_greeting_menu(on=True))
    assert "menu_turn_on" in say.menu(say.extra_greeting_menu(on=False))
    assert refusal(lambda: say.menu([("menu_nothing", "1")])) == (
        "unknown prompt id: 'menu_nothing'"
    )


def test_every_menu_uses_catalogue_prompts_and_distinct_keys() -> None:
    menus = [
        say.MAIN_MENU,
        say.MESSAGE_MENU,
        say.OPTIONS_MENU,
        say.GREETING_CHOICE_MENU,
        say.EXTRA_GREETINGS_MENU,
        say.RECORDING_REVIEW_MENU,
        say.OUTDIAL_MENU,
        say.deposit_menu(urgent=False, private=True),
        say.extra_greeting_menu(on=False),
    ]
    for table in menus:
        keys = [k for _, k in table]
        assert len(set(keys)) == len(keys)
        assert all(p in catalog.PROMPTS for p in say.menu(table))
    # SPEC S5: the keys of the message menu.
    assert dict((k, f) for f, k in say.MESSAGE_MENU) == {
        "1": "menu_replay",
        "2": "menu_save",
        "3": "menu_delete",
        "4": "menu_reply",
        "5": "menu_forward",
        "6": "menu_envelope",
        "7": "menu_mark_new",
        "#": "menu_next_message",
        "*": "menu_main_menu",
    }


def test_system_greetings() -> None:
    assert fr(say.system_greeting("unavailable")) == (
        "La personne que vous tentez de joindre n'est pas disponible."
    )
    assert en(say.system_greeting("unavailable", "6135550100")) == (
        "The person at six one three, five five five, zero one zero zero is not available."
    )
    assert fr(say.system_greeting("busy", "6135550100")).endswith("est au téléphone.")
    assert en(say.system_greeting("absent")) == (
        "The person you are calling is away for an extended period."
    )
    assert fr(say.after_name("unavailable")) == "n'est pas disponible."


def test_outdial_announcement() -> None:
    assert en(say.outdial_announcement()) == (
        "Hello, this is your voice mail. You have a new voice message. To log in to your "
        "mailbox, press one,"
    )
    assert "outdial_new_urgent_message" in say.outdial_announcement(urgent=True)
    assert fr(say.outdial_announcement(fax=True)).startswith(
        "Bonjour, ici votre messagerie vocale. Vous avez une nouvelle télécopie."
    )
