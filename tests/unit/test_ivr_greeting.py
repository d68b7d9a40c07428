"""Greeting selection (SPEC S5 deposit step 2): every rule and its fallbacks."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.greeting import GreetingFacts, select_greeting
from media import say

pytestmark = pytest.mark.unit

LINE = "6135550100"
ALL = {
    "personal": "/g/personal.wav",
    "busy": "/g/busy.wav",
    "no_answer": "/g/no_answer.wav",
    "extended_absence": "/g/absent.wav",
    "name": "/g/name.wav",
}
NUMBER = tuple(say.phone_number(LINE))


def facts(**kw: Any) -> GreetingFacts:
    values: dict[str, Any] = {"reason": "default", "choice": "system", "line": LINE}
    values.update(kw)
    return GreetingFacts(**values)


CASES = [
    ("system", facts(), "system", ("greeting_system", "leave_message")),
    (
        "system on busy says 'on another call'",
        facts(reason="busy"),
        "system",
        ("greeting_system_busy", "leave_message"),
    ),
    (
        "system + number",
        facts(choice="system_number"),
        "system_number",
        ("greeting_person_at", *NUMBER, "greeting_not_available", "leave_message"),
    ),
    (
        "system + number on busy",
        facts(choice="system_number", reason="busy"),
        "system_number",
        ("greeting_person_at", *NUMBER, "greeting_busy", "leave_message"),
    ),
    (
        "system + name",
        facts(choice="system_name", recorded=ALL),
        "system_name",
        ("/g/name.wav", "greeting_not_available", "leave_message"),
    ),
    (
        "system + name without a name: the number",
        facts(choice="system_name"),
        "system_name_system_number",
        ("greeting_person_at", *NUMBER, "greeting_not_available", "leave_message"),
    ),
    ("personal", facts(choice="personal", recorded=ALL), "personal", ("/g/personal.wav",)),
    (
        "personal not recorded: system",
        facts(choice="personal"),
        "personal_system",
        ("greeting_system", "leave_message"),
    ),
    (
        "busy greeting on busy",
        facts(reason="busy", busy_enabled=True, recorded=ALL),
        "busy",
        ("/g/busy.wav",),
    ),
    (
        "busy greeting off",
        facts(reason="busy", choice="personal", recorded=ALL),
        "personal",
        ("/g/personal.wav",),
    ),
    (
        "busy greeting not recorded",
        facts(reason="busy", busy_enabled=True),
        "system",
        ("greeting_system_busy", "leave_message"),
    ),
    (
        "busy greeting is not for no answer",
        facts(reason="no_answer", busy_enabled=True, recorded=ALL),
        "system",
        ("greeting_system", "leave_message"),
    ),
    (
        "no-answer greeting",
        facts(reason="no_answer", no_answer_enabled=True, recorded=ALL),
        "no_answer",
        ("/g/no_answer.wav",),
    ),
    (
        "no-answer greeting is not for busy",
        facts(reason="busy", no_answer_enabled=True, recorded=ALL, choice="personal"),
        "personal",
        ("/g/personal.wav",),
    ),
    (
        "extended absence first of all",
        facts(reason="busy", busy_enabled=True, extended_absence_enabled=True, recorded=ALL),
        "extended_absence",
        ("/g/absent.wav",),
    ),
    (
        "extended absence not recorded: the system's",
        facts(extended_absence_enabled=True),
        "extended_absence_system",
        ("greeting_system_absent", "leave_message"),
    ),
]


@pytest.mark.parametrize(("f", "rule", "audio"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_selection(f: GreetingFacts, rule: str, audio: tuple[str, ...]) -> None:
    chosen = select_greeting(f)
    assert (chosen.rule, chosen.audio) == (rule, audio)
