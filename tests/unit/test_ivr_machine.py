"""The dialog-machine plumbing: tagged plays, named timers, stale events, table dispatch."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ivr.dialog import (
    CancelTimer,
    DigitReceived,
    EffectDone,
    HungUp,
    Play,
    PlayFinished,
    RecordFinished,
    Started,
    StartTimer,
    TimerFired,
)
from ivr.machine import Io, dispatch, event_key, items, play, start_timer, stop_timer

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class S:
    phase: str
    io: Io = field(default_factory=Io)


def test_plays_are_tagged_and_cancel_the_running_timer() -> None:
    s, actions = play(S("a", Io(tag=2, timer="t1", timers=1)), ("en/welcome",), phase="b")
    assert actions == [CancelTimer("t1"), Play(("en/welcome",), True, 3)]
    assert s == S("b", Io(tag=3, timer="", timers=1))


def test_timers_get_fresh_names() -> None:
    s, actions = start_timer(S("a"), 5.0)
    assert actions == [StartTimer("t1", 5.0)]
    s, actions = start_timer(s, 2.0)
    assert actions == [CancelTimer("t1"), StartTimer("t2", 2.0)]
    s, actions = stop_timer(s)
    assert actions == [CancelTimer("t2")] and s.io.timer == ""
    assert stop_timer(s) == (s, [])


def test_stale_events_never_reach_a_handler() -> None:
    seen: list[object] = []

    def handler(s: S, e: object) -> tuple[S, list[object]]:
        seen.append(e)
        return s, []

    table = {("a", "played"): handler, ("a", "timeout"): handler}
    s = S("a", Io(tag=3, timer="t2", timers=2))
    dispatch(table, s, PlayFinished(True, 2))  # a replaced play
    dispatch(table, s, TimerFired("t1"))  # a replaced timer
    assert seen == []
    dispatch(table, s, PlayFinished(False, 3))
    new, _ = dispatch(table, s, TimerFired("t2"))
    assert seen == [PlayFinished(False, 3), TimerFired("t2")]
    assert new.io.timer == ""  # a timer that fired is no longer running


def test_wildcard_phase_and_unlisted_events() -> None:
    table = {("*", "hangup"): lambda s, e: (S("done"), [])}
    assert dispatch(table, S("x"), HungUp())[0].phase == "done"
    assert dispatch(table, S("x"), DigitReceived("1")) == (S("x"), [])


def test_event_keys_and_items() -> None:
    assert [
        event_key(e)
        for e in (
            Started(),
            DigitReceived("1"),
            PlayFinished(False),
            RecordFinished("/r", 1.0, "stopped"),
            TimerFired("t"),
            HungUp(),
            EffectDone("open"),
        )
    ] == ["start", "digit", "played", "recorded", "timeout", "hangup", "done:open"]
    assert items("fr", ["welcome", "/m/1.wav"]) == ("fr/welcome", "/m/1.wav")
