"""The deposit machine, transition by transition (ivr/deposit.py's table)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ivr import deposit
from ivr.deposit import Deposit, DepositState
from ivr.dialog import (
    CancelTimer,
    DigitReceived,
    Effect,
    EffectDone,
    Exit,
    FaxTone,
    Hangup,
    HungUp,
    Play,
    PlayFinished,
    Record,
    RecordFinished,
    Started,
    StartTimer,
    StopPlay,
    StopRecord,
    TimerFired,
)
from ivr.machine import HANGUP_GRACE, Io, event_key, items
from media import say
from tests.support.machines import check_step

pytestmark = pytest.mark.unit

PATH = "/var/spool/recordings/w0/abc.wav"
BASE = DepositState(
    phase="waiting",
    lang="en",
    greeting=("en/greeting_system", "en/leave_message"),
    record_path=PATH,
    max_seconds=180.0,
    silence_seconds=5.0,
    min_voice_seconds=1.0,
    mailbox_full=False,
)


def at(phase: str, *, tag: int = 4, timer: str = "", **changes: Any) -> DepositState:
    return replace(BASE, phase=phase, io=Io(tag=tag, timer=timer, timers=2), **changes)


def menu(urgent: bool = False, private: bool = False) -> tuple[str, ...]:
    return items("en", say.menu(say.deposit_menu(urgent=urgent, private=private)))


def en(*ids: str) -> tuple[str, ...]:
    return items("en", ids)


def deliver(urgent: bool = False, private: bool = False) -> Effect:
    return Effect("deliver", {"path": PATH, "urgent": urgent, "private": private})


def key(d: str) -> DigitReceived:
    return DigitReceived(d)


REVIEW = at("review", timer="t2")
CASES = [
    # (name, state, event, next phase, actions, state changes to check)
    ("greeting", at("waiting", tag=0), Started(), "greeting", [Play(BASE.greeting, False, 1)], {}),
    (
        "full mailbox",
        at("waiting", tag=0, mailbox_full=True),
        Started(),
        "full",
        [Play(en("mailbox_full", "goodbye"), False, 1)],
        {},
    ),
    (
        "low disk space: the caller is told, nothing is recorded",
        at("waiting", tag=0, no_space=True),
        Started(),
        "full",
        [Play(en("cannot_take_message", "goodbye"), False, 1)],
        {},
    ),
    ("# skips the greeting", at("greeting"), key("#"), "beep", [Play(en("beep"), False, 5)], {}),
    (
        "* logs the owner in",
        at("greeting"),
        key("*"),
        "login",
        [StopPlay(), Exit()],
        {"owner_login": True},
    ),
    ("other keys leave the greeting alone", at("greeting"), key("5"), "greeting", [], {}),
    (
        "greeting over: beep",
        at("greeting"),
        PlayFinished(False, 4),
        "beep",
        [Play(en("beep"), False, 5)],
        {},
    ),
    ("stale end of a play", at("greeting"), PlayFinished(True, 3), "greeting", [], {}),
    (
        "beep over: record",
        at("beep"),
        PlayFinished(False, 4),
        "recording",
        [Record(PATH, 180.0, 5.0)],
        {},
    ),
    ("# stops the recording", at("recording"), key("#"), "recording", [StopRecord()], {}),
    ("other keys while recording", at("recording"), key("2"), "recording", [], {}),
    (
        "hang-up while recording sends",
        at("recording"),
        RecordFinished(PATH, 4.0, "hangup"),
        "done",
        [deliver(), Exit()],
        {"hung_up": True},
    ),
    (
        "recording stopped: measure",
        at("recording"),
        RecordFinished(PATH, 4.0, "stopped"),
        "measuring",
        [Effect("measure", {"path": PATH})],
        {"ended_by": "stopped"},
    ),
    (
        "silence ended it: measure",
        at("recording"),
        RecordFinished(PATH, 9.0, "silence"),
        "measuring",
        [Effect("measure", {"path": PATH})],
        {"ended_by": "silence"},
    ),
    (
        "too short: record again",
        at("measuring"),
        EffectDone("measure", 0.4),
        "beep",
        [Play(en("message_too_short", "record_message", "beep"), False, 5)],
        {"short_takes": 1},
    ),
    (
        "too short a third time: goodbye",
        at("measuring", short_takes=2),
        EffectDone("measure", 0.0),
        "closing",
        [Effect("abandon"), Play(en("message_too_short", "goodbye"), False, 5)],
        {"short_takes": 3},
    ),
    (
        "enough voice: review menu",
        at("measuring"),
        EffectDone("measure", 2.5),
        "review",
        [Play(menu(), True, 5)],
        {},
    ),
    (
        "max length: said before the menu",
        at("measuring", ended_by="max_length"),
        EffectDone("measure", 180.0),
        "review",
        [Play(en("max_length_reached") + menu(), True, 5)],
        {},
    ),
    (
        "menu said: wait for a key",
        at("review"),
        PlayFinished(False, 4),
        "review",
        [StartTimer("t3", deposit.KEY_TIMEOUT)],
        {},
    ),
    ("1 sends", REVIEW, key("1"), "sending", [CancelTimer("t2"), deliver()], {}),
    (
        "2 plays the recording",
        REVIEW,
        key("2"),
        "review",
        [CancelTimer("t2"), Play((PATH, *menu()), True, 5)],
        {},
    ),
    (
        "3 records again",
        REVIEW,
        key("3"),
        "beep",
        [CancelTimer("t2"), Play(en("beep"), False, 5)],
        {},
    ),
    (
        "4 marks urgent",
        REVIEW,
        key("4"),
        "review",
        [CancelTimer("t2"), Play(en("urgent_on") + menu(urgent=True), True, 5)],
        {"urgent": True},
    ),
    (
        "4 again unmarks urgent",
        replace(REVIEW, urgent=True),
        key("4"),
        "review",
        [CancelTimer("t2"), Play(en("urgent_off") + menu(), True, 5)],
        {"urgent": False},
    ),
    (
        "5 marks private",
        REVIEW,
        key("5"),
        "review",
        [CancelTimer("t2"), Play(en("private_on") + menu(private=True), True, 5)],
        {"private": True},
    ),
    (
        "5 again unmarks private",
        replace(REVIEW, private=True),
        key("5"),
        "review",
        [CancelTimer("t2"), Play(en("private_off") + menu(), True, 5)],
        {"private": False},
    ),
    (
        "0 repeats the menu",
        REVIEW,
        key("0"),
        "review",
        [CancelTimer("t2"), Play(menu(), True, 5)],
        {},
    ),
    (
        "invalid key",
        REVIEW,
        key("9"),
        "review",
        [CancelTimer("t2"), Play(en("invalid_choice") + menu(), True, 5)],
        {"misses": 1},
    ),
    (
        "third miss sends",
        replace(REVIEW, misses=2),
        key("#"),
        "sending",
        [CancelTimer("t2"), deliver()],
        {},
    ),
    (
        "no key in time",
        REVIEW,
        TimerFired("t2"),
        "review",
        [Play(en("no_response") + menu(), True, 5)],
        {"misses": 1},
    ),
    (
        "third time-out sends what was recorded",
        replace(REVIEW, misses=2),
        TimerFired("t2"),
        "sending",
        [deliver()],
        {},
    ),
    ("stale timer", REVIEW, TimerFired("t1"), "review", [], {}),
    (
        "delivered: thanks and goodbye",
        at("sending"),
        EffectDone("deliver", 12),
        "closing",
        [Play(en("message_sent", "goodbye"), False, 5)],
        {},
    ),
    (
        "delivered after the caller left",
        at("sending", hung_up=True),
        EffectDone("deliver", 12),
        "done",
        [Exit()],
        {},
    ),
    (
        "goodbye said: grace",
        at("closing"),
        PlayFinished(False, 4),
        "closing",
        [StartTimer("t3", HANGUP_GRACE)],
        {},
    ),
    (
        "grace over: hang up",
        at("closing", timer="t2"),
        TimerFired("t2"),
        "done",
        [Hangup(), Exit()],
        {},
    ),
    (
        "mailbox full said: grace",
        at("full"),
        PlayFinished(False, 4),
        "full",
        [StartTimer("t3", HANGUP_GRACE)],
        {},
    ),
    (
        "mailbox full: hang up, missed call",
        at("full", timer="t2"),
        TimerFired("t2"),
        "done",
        [Hangup(), Effect("full"), Exit()],
        {},
    ),
    (
        "hang-up before answer plays",
        at("waiting"),
        HungUp(),
        "done",
        [Effect("abandon"), Exit()],
        {"hung_up": True},
    ),
    (
        "hang-up in the greeting",
        at("greeting"),
        HungUp(),
        "done",
        [Effect("abandon"), Exit()],
        {"hung_up": True},
    ),
    ("hang-up at the beep", at("beep"), HungUp(), "done", [Effect("abandon"), Exit()], {}),
    (
        "hang-up at the beep of a second take sends the first",
        at("beep", took=True),
        HungUp(),
        "done",
        [deliver(), Exit()],
        {},
    ),
    ("hang-up while measuring sends", at("measuring"), HungUp(), "done", [deliver(), Exit()], {}),
    (
        "hang-up in the review menu sends",
        replace(REVIEW, urgent=True),
        HungUp(),
        "done",
        [deliver(urgent=True), Exit()],
        {},
    ),
    ("hang-up while full is said", at("full"), HungUp(), "done", [Effect("full"), Exit()], {}),
    ("hang-up while sending", at("sending"), HungUp(), "sending", [], {"hung_up": True}),
    ("hang-up in the goodbye", at("closing"), HungUp(), "done", [Exit()], {}),
    ("hang-up event after the recording's", at("recording"), HungUp(), "recording", [], {}),
    ("fax tone in the greeting", at("greeting"), FaxTone(), "fax", [StopPlay(), Exit()],
     {"fax": True}),
    ("fax tone at the beep", at("beep"), FaxTone(), "fax", [StopPlay(), Exit()], {"fax": True}),
    ("fax tone while recording", at("recording"), FaxTone(), "fax",
     [StopPlay(), StopRecord(), Exit()], {"fax": True}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "event", "phase", "actions", "changes"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_transition(
    state: DepositState, event: Any, phase: str, actions: list[Any], changes: dict[str, Any]
) -> None:
    check_step(Deposit(), state, event, phase, actions, changes)


def test_every_table_entry_has_a_case() -> None:
    covered = {(c[1].phase, event_key(c[2])) for c in CASES}
    assert set(deposit.TABLE) <= covered


def test_unlisted_events_change_nothing() -> None:
    state = at("beep")
    assert Deposit().step(state, key("1")) == (state, [])
    for phase in ("waiting", "measuring", "review", "sending", "closing", "full"):
        assert Deposit().step(at(phase), FaxTone()) == (at(phase), [])
    assert Deposit().step(state, EffectDone("measure", 3.0)) == (state, [])


def test_a_whole_deposit() -> None:
    """Greeting, beep, record, #, urgent, send, goodbye: every action in order."""
    m = Deposit()
    s = BASE
    script = [
        (Started(), [Play(BASE.greeting, False, 1)]),
        (PlayFinished(False, 1), [Play(en("beep"), False, 2)]),
        (PlayFinished(False, 2), [Record(PATH, 180.0, 5.0)]),
        (key("#"), [StopRecord()]),
        (RecordFinished(PATH, 6.0, "stopped"), [Effect("measure", {"path": PATH})]),
        (EffectDone("measure", 5.5), [Play(menu(), True, 3)]),
        (key("4"), [Play(en("urgent_on") + menu(urgent=True), True, 4)]),
        (PlayFinished(True, 3), []),  # the end of the menu the key cut short
        (PlayFinished(False, 4), [StartTimer("t1", deposit.KEY_TIMEOUT)]),
        (key("1"), [CancelTimer("t1"), deliver(urgent=True)]),
        (EffectDone("deliver", 7), [Play(en("message_sent", "goodbye"), False, 5)]),
        (PlayFinished(False, 5), [StartTimer("t2", HANGUP_GRACE)]),
        (TimerFired("t2"), [Hangup(), Exit()]),
    ]
    for event, expected in script:
        s, actions = m.step(s, event)
        assert actions == expected, event
