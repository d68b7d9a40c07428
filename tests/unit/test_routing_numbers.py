"""routing.numbers: normalisation, anonymous callers, line numbers and the dial-plan check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.model import DialPlan
from routing.numbers import (
    NANP_ABROAD,
    caller_number,
    check_destination,
    for_account,
    is_anonymous,
    is_normalised,
    is_valid_line_number,
    nanp_country,
    normalize,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6135550100", "6135550100"),
        ("(613) 555-0100", "6135550100"),
        ("613-555-0100", "6135550100"),
        ("613.555.0100", "6135550100"),
        ("613 555 0100", "6135550100"),
        ("  6135550100\t", "6135550100"),
        ("+16135550100", "6135550100"),
        ("+1 (613) 555-0100", "6135550100"),
        ("16135550100", "6135550100"),
        ("1-613-555-0100", "6135550100"),
        ("sip:6135550100@trunk.example.com", "6135550100"),
        ("sip:+16135550100@trunk.example.com:5060;transport=udp;user=phone", "6135550100"),
        ("sip:+16135550100;npdi;rn=+16135550000@trunk.example.com;user=phone", "6135550100"),
        ("sips:6135550100@edge.example.com;transport=tls", "6135550100"),
        ("SIP:6135550100@Trunk.Example.com", "6135550100"),
        ("<sip:6135550100@trunk.example.com>", "6135550100"),
        ("sip:%2B16135550100@trunk.example.com", "6135550100"),
        ("sip:6135550100:secret@trunk.example.com", "6135550100"),
        ("tel:+1-613-555-0100", "6135550100"),
        ("tel:6135550100;phone-context=+1", "6135550100"),
        ("1234", "1234"),
        ("sip:1234@pbx.example.com", "1234"),
        ("0", "0"),
        ("1234567", "1234567"),
        ("011 44 20 7946 0958", "011442079460958"),
        ("+44 20 7946 0958", "011442079460958"),
        ("+33 1 23 45 67 89", "01133123456789"),
        ("tel:+33123456789", "01133123456789"),
        ("01116135550100", "6135550100"),
        ("011 1 900 555 0100", "9005550100"),
    ],
)
def test_normalize_accepts(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty phone number"),
        ("   ", "empty phone number"),
        ("abc", "invalid character 'a' in 'abc'"),
        ("1-800-FLOWERS", "invalid character 'F' in '1-800-FLOWERS'"),
        ("6135550100 x12", "invalid character 'x' in '6135550100 x12'"),
        ("*98", "invalid character '*' in '*98'"),
        ("613#5550100", "invalid character '#' in '613#5550100'"),
        ("++16135550100", "invalid character '+' in '++16135550100'"),
        ("613+5550100", "invalid character '+' in '613+5550100'"),
        (
            "sip:anonymous@anonymous.invalid",
            "invalid character 'a' in 'sip:anonymous@anonymous.invalid'",
        ),
        ("sip:trunk.example.com", "no number in 'sip:trunk.example.com'"),
        ("sip:@trunk.example.com", "no number in 'sip:@trunk.example.com'"),
        ("()-", "no number in '()-'"),
        ("+", "no number in '+'"),
        ("mailto:bob@example.com", "not a phone number: 'mailto:bob@example.com'"),
        ("bob@example.com", "not a phone number: 'bob@example.com'"),
        ("+1613555010", "'+1613555010' has 9 digits after +1: expected 10"),
        ("+12", "'+12' has 1 digit after +1: expected 10"),
        ("+161355501000", "'+161355501000' has 11 digits after +1: expected 10"),
        ("0111613555010", "'0111613555010' has 9 digits after 0111: expected 10"),
        ("+44123", "'+44123' has 5 digits after the international prefix: expected 7 to 15"),
        (
            "+4412345678901234",
            "'+4412345678901234' has 16 digits after the international prefix: expected 7 to 15",
        ),
        (
            "26135550100",
            "'26135550100' has 11 digits: expected 10, 11 starting with 1, "
            "an extension of 1 to 7 digits, or 011 and an international number",
        ),
        (
            "61355501",
            "'61355501' has 8 digits: expected 10, 11 starting with 1, "
            "an extension of 1 to 7 digits, or 011 and an international number",
        ),
        (
            "613555010000",
            "'613555010000' has 12 digits: expected 10, 11 starting with 1, "
            "an extension of 1 to 7 digits, or 011 and an international number",
        ),
    ],
)
def test_normalize_refuses_with_exact_message(raw: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize(raw)
    assert str(info.value) == message


@given(st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
def test_normalize_is_stable_on_every_written_form(number: str) -> None:
    area, exchange, station = number[:3], number[3:6], number[6:]
    forms = [
        number,
        f"({area}) {exchange}-{station}",
        f"{area}.{exchange}.{station}",
        f"+1{number}",
        f"1{number}",
        f"sip:+1{number}@trunk.example.com;user=phone",
        f"tel:+1-{area}-{exchange}-{station}",
    ]
    assert {normalize(form) for form in forms} == {number}
    assert normalize(normalize(number)) == number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6135550100", "6135550100"),
        ("+16135550100", "6135550100"),
        ("sip:+16135550100@trunk.example.com;user=phone", "6135550100"),
        (" 1234 ", "1234"),
        (None, None),
        ("", None),
        ("   ", None),
        ("anonymous", None),
        ("Anonymous", None),
        ("ANONYMOUS", None),
        ("unknown", None),
        ("Restricted", None),
        ("private", None),
        ("UNAVAILABLE", None),
        ("sip:anonymous@anonymous.invalid", None),
        ("alice", None),
        ("61355501", None),
    ],
)
def test_caller_number(raw: str | None, expected: str | None) -> None:
    assert caller_number(raw) == expected


@pytest.mark.parametrize(
    ("caller", "privacy", "expected"),
    [
        (None, frozenset(), True),
        (None, frozenset({"none"}), True),
        ("6135550100", frozenset(), False),
        ("6135550100", frozenset({"none"}), False),
        ("6135550100", frozenset({"id"}), True),
        ("6135550100", frozenset({"user"}), True),
        ("6135550100", frozenset({"header", "id"}), True),
        ("6135550100", frozenset({"header"}), False),
        ("6135550100", frozenset({"session"}), False),
    ],
)
def test_is_anonymous(caller: str | None, privacy: frozenset[str], expected: bool) -> None:
    assert is_anonymous(caller, privacy) is expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("6135550100", True),
        ("2125550100", True),
        ("8005550100", True),
        ("1135550100", False),  # area code starts with 1
        ("0135550100", False),  # area code starts with 0
        ("4115550100", False),  # N11 area code
        ("6131550100", False),  # exchange starts with 1
        ("6130550100", False),  # exchange starts with 0
        ("6139110100", False),  # N11 exchange
        ("613555010", False),
        ("61355501000", False),
        ("(613) 555-0100", False),  # not normalised
        ("613555010a", False),
        ("６１３５５５０１００", False),  # full-width digits are not ASCII digits
        ("1234", False),
        ("", False),
    ],
)
def test_is_valid_line_number(number: str, expected: bool) -> None:
    assert is_valid_line_number(number) is expected


PLAN = DialPlan()


@pytest.mark.parametrize(
    "number",
    [
        "6135550100",
        "8005550100",  # toll-free
        "9055550100",
        "1234",  # a 4-digit extension (the default dial plan)
    ],
)
def test_check_destination_allows(number: str) -> None:
    check_destination(number, PLAN, allow_international=False)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("9005550100", "9005550100: area code 900 is blocked"),
        ("9765550100", "9765550100: area code 976 is blocked"),
        ("6139760100", "6139760100: exchange 976 is blocked"),
        ("0135550100", "0135550100: area code 013 does not start with 2-9"),
        ("1135550100", "1135550100: area code 113 does not start with 2-9"),
        ("4115550100", "4115550100: area code 411 is a service code (N11)"),
        ("6131550100", "6131550100: exchange 155 does not start with 2-9"),
        ("6139110100", "6139110100: exchange 911 is a service code (N11)"),
        ("911", "911: service codes (N11) are not allowed"),
        (
            "8095550123",
            "8095550123: area code 809 is in the Dominican Republic, outside Canada and the "
            "United States",
        ),
        (
            "2845550100",
            "2845550100: area code 284 is in the British Virgin Islands, outside Canada and "
            "the United States",
        ),
        (
            "6495550100",
            "6495550100: area code 649 is in the Turks and Caicos Islands, outside Canada and "
            "the United States",
        ),
        (
            "8765550100",
            "8765550100: area code 876 is in Jamaica, outside Canada and the United States",
        ),
        ("411", "411: service codes (N11) are not allowed"),
        ("011442079460958", "011442079460958: international numbers are not allowed"),
        ("12345", "12345: neither a 10-digit number nor an extension of 4 digits"),
        ("123", "123: neither a 10-digit number nor an extension of 4 digits"),
        ("", ": not a normalised number"),
        ("613-555-0100", "613-555-0100: not a normalised number"),
        ("+16135550100", "+16135550100: not a normalised number"),
    ],
)
def test_check_destination_refuses_with_exact_message(number: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        check_destination(number, PLAN, allow_international=False)
    assert str(info.value) == message


@pytest.mark.parametrize("number", ["7875550100", "3405550100", "6715550100", "4165550100"])
def test_us_territories_and_canada_are_domestic(number: str) -> None:
    assert nanp_country(number) is None
    check_destination(number, PLAN, allow_international=False)


def test_nanp_abroad_needs_the_dial_plan_or_the_account() -> None:
    number = "8095550123"
    check_destination(number, DialPlan(allow_nanp_abroad=True), allow_international=False)
    check_destination(number, for_account(PLAN, True), allow_international=False)
    assert for_account(PLAN, False) is PLAN
    with pytest.raises(ValueError):
        # International permission does not open the one-plus route.
        check_destination(number, PLAN, allow_international=True)


def test_the_nanp_abroad_table_holds_area_codes_only() -> None:
    assert len(NANP_ABROAD) >= 20
    for code, country in NANP_ABROAD.items():
        assert len(code) == 3 and code[0] in "23456789" and code[1:] != "11", code
        assert country and country == country.strip()


def test_international_needs_the_account_or_the_dial_plan() -> None:
    number = "011442079460958"
    check_destination(number, PLAN, allow_international=True)
    check_destination(number, DialPlan(allow_international=True), allow_international=False)


def test_premium_numbers_stay_blocked_when_international_is_allowed() -> None:
    # 011 1 900 ... is normalised to a NANP number, so the premium block still applies.
    number = normalize("011 1 900 555 0100")
    with pytest.raises(ValueError) as info:
        check_destination(number, PLAN, allow_international=True)
    assert str(info.value) == "9005550100: area code 900 is blocked"


def test_extension_lengths_come_from_the_dial_plan() -> None:
    plan = DialPlan(extension_digits=(3, 5))
    check_destination("12345", plan, allow_international=False)
    check_destination("123", plan, allow_international=False)
    with pytest.raises(ValueError) as info:
        check_destination("1234", plan, allow_international=False)
    assert str(info.value) == "1234: neither a 10-digit number nor an extension of 3 or 5 digits"
    with pytest.raises(ValueError) as info:
        check_destination("911", plan, allow_international=False)
    assert str(info.value) == "911: service codes (N11) are not allowed"


def test_no_extensions_in_the_dial_plan() -> None:
    with pytest.raises(ValueError) as info:
        check_destination("1234", DialPlan(extension_digits=()), allow_international=False)
    assert str(info.value) == "1234: not a 10-digit number (extensions are not allowed)"


def test_blocked_codes_come_from_the_dial_plan() -> None:
    plan = DialPlan(blocked_area_codes=frozenset({"876"}), blocked_exchanges=frozenset({"555"}))
    check_destination("9005550100", DialPlan(blocked_area_codes=frozenset()), False)
    with pytest.raises(ValueError) as info:
        check_destination("8762345678", plan, allow_international=False)
    assert str(info.value) == "8762345678: area code 876 is blocked"
    with pytest.raises(ValueError) as info:
        check_destination("6135550100", plan, allow_international=False)
    assert str(info.value) == "6135550100: exchange 555 is blocked"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("6135550100", True),
        ("1234", True),
        ("0", True),
        ("011442079460958", True),
        ("0114412345", True),  # 011 and 7 digits
        ("", False),
        ("16135550100", False),  # normalised without the 1
        ("01116135550100", False),  # normalised to 6135550100
        ("011441234", False),  # too short after 011
        ("61355501", False),
        ("+16135550100", False),
        ("613-555-0100", False),
    ],
)
def test_is_normalised(number: str, expected: bool) -> None:
    assert is_normalised(number) is expected


@given(st.text(alphabet="0123456789", max_size=20))
def test_is_normalised_agrees_with_normalize(digits: str) -> None:
    try:
        same = normalize(digits) == digits
    except ValueError:
        same = False
    assert is_normalised(digits) is same
