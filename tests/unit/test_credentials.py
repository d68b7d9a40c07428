"""SPEC S9 credential rules and hashes."""

from __future__ import annotations

import pytest

from store import credentials as c

NUMBER = "6135550100"


@pytest.mark.parametrize(
    ("pin", "message"),
    [
        ("12a4", "the PIN must contain digits only"),
        ("", "the PIN must contain digits only"),
        ("135", "the PIN must have 4 to 10 digits"),
        ("13579135791", "the PIN must have 4 to 10 digits"),
        ("7777", "the PIN cannot repeat a single digit"),
        ("1234", "the PIN cannot be a run of ascending or descending digits"),
        ("0123456789", "the PIN cannot be a run of ascending or descending digits"),
        ("9876", "the PIN cannot be a run of ascending or descending digits"),
        ("5550100", "the PIN cannot be the mailbox number or its last digits"),
        ("0100", "the PIN cannot be the mailbox number or its last digits"),
        ("6135550100", "the PIN cannot be the mailbox number or its last digits"),
    ],
)
def test_weak_pins_are_refused(pin: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        c.validate_pin(pin, NUMBER)
    assert str(err.value) == message


@pytest.mark.parametrize("pin", ["4826", "1357", "1212", "9081726354", "0101", "1243"])
def test_good_pins_pass(pin: str) -> None:
    assert c.validate_pin(pin, NUMBER) == pin


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short7!", "the password must have at least 10 characters"),
        ("12345678", "the password must have at least 10 characters"),
        ("aaaaaaaaaa", "the password cannot be one character repeated or digits only"),
        (" " * 10, "the password cannot be one character repeated or digits only"),
        ("4165550123987", "the password cannot be one character repeated or digits only"),
        ("password123", "the password is one of the most common passwords"),
        ("Password123", "the password is one of the most common passwords"),
        ("qwertyuiop", "the password is one of the most common passwords"),
        ("iloveyou12", "the password is one of the most common passwords"),
        ("6135550100", "the password cannot be the mailbox number"),
        ("613-555-0100", "the password cannot be the mailbox number"),
        ("x" * 129, "the password must have at most 128 characters"),
    ],
)
def test_weak_passwords_are_refused(password: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        c.validate_password(password, NUMBER)
    assert str(err.value) == message


@pytest.mark.parametrize("password", ["motdepasse-A1", "un-nouveau-mdp", "Tr0ub4dor&3", "a1" * 5])
def test_good_passwords_pass(password: str) -> None:
    assert c.validate_password(password, NUMBER) == password


def test_the_common_password_list_is_the_maintained_one() -> None:
    assert len(c.common_passwords()) > 20000


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("613555010", "the number must have exactly 10 digits (got 9)"),
        ("61355501000", "the number must have exactly 10 digits (got 11)"),
        ("613-555-0100", "the number must contain digits only"),
        ("1135550100", "the area code cannot start with 0 or 1"),
        ("6131550100", "the exchange cannot start with 0 or 1"),
    ],
)
def test_bad_numbers(number: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        c.validate_number(number)
    assert str(err.value) == message


def test_argon2id_hash_verifies_and_hides_the_secret() -> None:
    h = c.hash_secret("4826")
    assert h.startswith("$argon2id$")
    assert "4826" not in h
    assert c.verify_secret(h, "4826")
    assert not c.verify_secret(h, "4827")
    assert not c.verify_secret("not-a-hash", "4826")


def test_digest_ha1_matches_rfc_2617_example() -> None:
    # RFC 2617 section 3.5: Mufasa / testrealm@host.com / "Circle Of Life"
    assert c.digest_ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == (
        "939e7578ed9e3c518a452acee763bce9"
    )
    assert c.digest_ha1b("alice", "relais.local", "relais.local", "pw") == c.digest_ha1(
        "alice@relais.local", "relais.local", "pw"
    )
