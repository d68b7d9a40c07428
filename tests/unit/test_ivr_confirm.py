"""The answer-confirmation dialog (ivr/confirm.py): what the answerer of a confirming leg hears
and which keys, silence or hang-up accept or refuse the call."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.confirm import Confirm, ConfirmState, prompt
from ivr.dialog import (
    DigitReceived,
    Exit,
    Hangup,
    HungUp,
    Play,
    PlayFinished,
    Started,
    StartTimer,
    TimerFired,
)
from ivr.machine import Io
from tests.support.machines import check_step

LINE = "6135550100"
CALLER = "8195550142"
NAME = "/var/lib/relais/greetings/6135550100-name.wav"

NEW = ConfirmState(phase="new", lang="en", line=LINE, caller=CALLER, seconds=5.0)
ASKING = replace(NEW, phase="ask", io=Io(tag=1))
WAITING = replace(ASKING, io=Io(tag=1, timer="t1", timers=1))

ENGLISH = (
    "en/confirm_call_for",
    *(f"en/num_{d}" for d in "613"),
    "en/pause",
    *(f"en/num_{d}" for d in "555"),
    "en/pause",
    *(f"en/num_{d}" for d in "0100"),
    "en/confirm_from",
    *(f"en/num_{d}" for d in "819"),
    "en/pause",
    *(f"en/num_{d}" for d in "555"),
    "en/pause",
    *(f"en/num_{d}" for d in "0142"),
    "en/pause",
    "en/confirm_press_1",
)

CASES: list[tuple[str, ConfirmState, Any, str, list[Any], dict[str, Any]]] = [
    ("answered: the prompt", NEW, Started(), "ask", [Play(ENGLISH, True, 1)], {"outcome": ""}),
    (
        "1 during the prompt accepts",
        ASKING,
        DigitReceived("1"),
        "done",
        [Exit()],
        {"accepted": True},
    ),
    (
        "1 after the prompt accepts",
        WAITING,
        DigitReceived("1", "info"),
        "done",
        [Exit()],
        {"accepted": True},
    ),
    (
        "another key refuses",
        ASKING,
        DigitReceived("2"),
        "done",
        [Hangup(), Exit()],
        {"outcome": "key"},
    ),
    ("# refuses", WAITING, DigitReceived("#"), "done", [Hangup(), Exit()], {"outcome": "key"}),
    (
        "the prompt ended: wait for a key",
        ASKING,
        PlayFinished(False, 1),
        "ask",
        [StartTimer("t1", 5.0)],
        {},
    ),
    ("a stale prompt end is ignored", WAITING, PlayFinished(True, 0), "ask", [], {}),
    (
        "silence refuses",
        WAITING,
        TimerFired("t1"),
        "done",
        [Hangup(), Exit()],
        {"outcome": "silence", "accepted": False},
    ),
    ("a stale timer is ignored", WAITING, TimerFired("t0"), "ask", [], {"outcome": ""}),
    ("hang-up in the prompt refuses", ASKING, HungUp(), "done", [Exit()], {"outcome": "hangup"}),
    ("hang-up while waiting refuses", WAITING, HungUp(), "done", [Exit()], {"outcome": "hangup"}),
]


@pytest.mark.parametrize(
    ("state", "event", "phase", "actions", "changes"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_transition(
    state: ConfirmState, event: Any, phase: str, actions: list[Any], changes: dict[str, Any]
) -> None:
    check_step(Confirm(), state, event, phase, actions, changes)


def test_a_recorded_name_stands_for_the_line_number() -> None:
    audio = prompt(replace(NEW, lang="fr", line_name=NAME))
    assert audio[:2] == ("fr/confirm_call_for", NAME)
    assert "fr/confirm_from" in audio and audio[-1] == "fr/confirm_press_1"


def test_a_hidden_caller_is_a_private_number() -> None:
    audio = prompt(replace(NEW, caller=None))
    assert "en/confirm_from_private" in audio and "en/confirm_from" not in audio
    assert not any(item in audio for item in ("en/num_8", "en/num_9"))


@given(
    st.lists(
        st.one_of(
            st.sampled_from("0123456789*#").map(DigitReceived),
            st.just(HungUp()),
            st.builds(TimerFired, st.sampled_from(["t1", "t2"])),
            st.builds(PlayFinished, st.booleans(), st.integers(0, 2)),
        ),
        max_size=8,
    )
)
def test_only_a_1_ever_accepts_and_every_refusal_ends_the_dialog(events: list[Any]) -> None:
    machine = Confirm()
    state, _ = machine.step(NEW, Started())
    ones = 0
    for event in events:
        if state.phase == "done":
            break
        before = state
        state, actions = machine.step(state, event)
        if state.accepted:
            assert isinstance(event, DigitReceived) and event.digit == "1"
            assert actions == [Exit()]
            ones += 1
        elif state.phase == "done":
            assert actions[-1] == Exit()
            assert (Hangup() in actions) is (
                before.phase == "ask" and not isinstance(event, HungUp)
            )
    assert ones <= 1
