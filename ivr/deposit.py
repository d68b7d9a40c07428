"""The deposit dialog (SPEC S5 deposit): a caller leaves a message. A pure table machine.

Rules of this file (phase, event -> actions, next phase):
| phase      | event                   | actions                                      | next      |
|------------|-------------------------|----------------------------------------------|-----------|
| waiting    | start, mailbox full     | play mailbox full + goodbye                  | full      |
| waiting    | start                   | play the greeting (keys do not cut it)       | greeting  |
| greeting   | #                       | play the beep (replaces the greeting)        | beep      |
| greeting   | *                       | stop playing; Exit with owner_login set      | login     |
| greeting   | played                  | play the beep                                | beep      |
| beep       | played                  | record (max length, silence limit)           | recording |
| recording  | #                       | stop recording                               | recording |
| recording  | recorded after hang-up  | effect deliver; Exit                         | done      |
| recording  | recorded                | effect measure (seconds of voice)            | measuring |
| measuring  | done, too little voice  | play "too short, record again" (3rd: goodbye | beep      |
|            |                         | and effect abandon)                          | (closing) |
| measuring  | done                    | play the review menu ("max length" first)    | review    |
| review     | played                  | start the key timer                          | review    |
| review     | 1                       | effect deliver                               | sending   |
| review     | 2                       | play the recording, then the menu            | review    |
| review     | 3                       | play the beep (records again)                | beep      |
| review     | 4 / 5                   | toggle urgent / private; say so, then menu   | review    |
| review     | 0                       | play the menu again                          | review    |
| review     | other key               | "invalid choice" + menu (3rd miss: send)     | review    |
| review     | timeout                 | "no response" + menu (3rd: send)             | review    |
| sending    | done deliver            | play "message sent" + goodbye                | closing   |
| closing    | played                  | start the hang-up grace timer                | closing   |
| closing    | timeout                 | hang up; Exit                                | done      |
| full       | played / timeout        | grace timer / hang up; effect full; Exit     | done      |
| waiting, greeting, beep | hang-up | effect abandon (missed call); Exit; at the   | done      |
|            |                         | beep of a second take: deliver the first     |           |
| measuring, review | hang-up       | effect deliver (hang-up = send); Exit        | done      |
| full       | hang-up                 | effect full; Exit                            | done      |
| greeting, beep, recording | fax tone | stop play / recording; Exit, fax set     | fax       |
|            |                         | (the runner then receives the fax)           |           |
| sending    | hang-up                 | remembered: Exit once delivered              | sending   |
| closing    | hang-up                 | Exit                                         | done      |
Effects: measure {path} -> seconds of voice; deliver {path, urgent, private} -> message id or
None (too little voice: discarded and logged missed); abandon, full -> None (call log).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ivr.dialog import (
    Action,
    DigitReceived,
    Effect,
    EffectDone,
    Event,
    Exit,
    Hangup,
    Record,
    RecordFinished,
    StopPlay,
    StopRecord,
)
from ivr.machine import (
    HANGUP_GRACE,
    Io,
    Result,
    dispatch,
    items,
    play,
    start_timer,
    stop_timer,
    unchanged,
)
from media import say

KEY_TIMEOUT = 5.0
"""Seconds the review menu waits for a key after it has been said."""
MAX_MISSES = 3
"""Time-outs or invalid keys in a row before the dialog gives up."""
MAX_SHORT_TAKES = 3
"""Recordings with too little voice before the caller is sent away."""


@dataclass(frozen=True)
class DepositState:
    phase: str
    lang: str
    greeting: tuple[str, ...]
    """Play items of the greeting (see ivr.machine.items)."""
    record_path: str
    max_seconds: float
    silence_seconds: float
    min_voice_seconds: float
    mailbox_full: bool
    io: Io = field(default_factory=Io)
    no_space: bool = False
    """The service is low on disk space: the caller is told, nothing is recorded."""
    urgent: bool = False
    private: bool = False
    misses: int = 0
    short_takes: int = 0
    ended_by: str = ""
    """Reason of the last RecordFinished."""
    hung_up: bool = False
    took: bool = False
    """A take with enough voice is on disk (hang-up before the next one sends it)."""
    owner_login: bool = False
    """Set when the caller pressed * during the greeting: the runner starts the login."""
    fax: bool = False
    """Set when a calling fax's tone was heard: the runner starts the fax receiver."""


def _say(s: DepositState, *ids: str) -> tuple[str, ...]:
    return items(s.lang, ids)


def _menu(s: DepositState) -> tuple[str, ...]:
    return _say(s, *say.menu(say.deposit_menu(urgent=s.urgent, private=s.private)))


# -- handlers -----------------------------------------------------------------------------------


def _started(s: DepositState, _e: Event) -> Result[DepositState]:
    if s.no_space:
        return play(s, _say(s, "cannot_take_message", "goodbye"), barge_in=False, phase="full")
    if s.mailbox_full:
        return play(s, _say(s, "mailbox_full", "goodbye"), barge_in=False, phase="full")
    return play(s, s.greeting, barge_in=False, phase="greeting")


def _beep(s: DepositState, _e: object = None) -> Result[DepositState]:
    return play(s, _say(s, "beep"), barge_in=False, phase="beep", misses=0)


def _greeting_key(s: DepositState, e: DigitReceived) -> Result[DepositState]:
    if e.digit == "#":
        return _beep(s)
    if e.digit == "*":
        return replace(s, phase="login", owner_login=True), [StopPlay(), Exit()]
    return s, []


def _fax(s: DepositState, _e: Event) -> Result[DepositState]:
    actions: list[Action] = [StopPlay()]
    if s.phase == "recording":
        actions.append(StopRecord())
    return replace(s, phase="fax", fax=True), [*actions, Exit()]


def _record(s: DepositState, _e: Event) -> Result[DepositState]:
    return replace(s, phase="recording"), [Record(s.record_path, s.max_seconds, s.silence_seconds)]


def _recording_key(s: DepositState, e: DigitReceived) -> Result[DepositState]:
    return (s, [StopRecord()]) if e.digit == "#" else (s, [])


def _deliver_effect(s: DepositState) -> Effect:
    return Effect("deliver", {"path": s.record_path, "urgent": s.urgent, "private": s.private})


def _recorded(s: DepositState, e: RecordFinished) -> Result[DepositState]:
    if e.reason == "hangup":
        return replace(s, phase="done", hung_up=True), [_deliver_effect(s), Exit()]
    return replace(s, phase="measuring", ended_by=e.reason), [
        Effect("measure", {"path": s.record_path})
    ]


def _measured(s: DepositState, e: EffectDone) -> Result[DepositState]:
    voice = float(e.result or 0.0)
    if voice < s.min_voice_seconds:
        takes = s.short_takes + 1
        if takes >= MAX_SHORT_TAKES:
            s, actions = play(
                s,
                _say(s, "message_too_short", "goodbye"),
                barge_in=False,
                phase="closing",
                short_takes=takes,
            )
            return s, [Effect("abandon"), *actions]
        return play(
            s,
            _say(s, "message_too_short", "record_message", "beep"),
            barge_in=False,
            phase="beep",
            short_takes=takes,
        )
    first = _say(s, "max_length_reached") if s.ended_by == "max_length" else ()
    return play(s, first + _menu(s), phase="review", misses=0, took=True)


def _review_played(s: DepositState, _e: Event) -> Result[DepositState]:
    return start_timer(s, KEY_TIMEOUT)


def _send(s: DepositState, _e: object = None) -> Result[DepositState]:
    s, actions = stop_timer(s, phase="sending")
    return s, [*actions, _deliver_effect(s)]


def _missed(s: DepositState, first: str) -> Result[DepositState]:
    misses = s.misses + 1
    if misses >= MAX_MISSES:
        return _send(s)
    return play(s, _say(s, first) + _menu(s), misses=misses)


def _review_key(s: DepositState, e: DigitReceived) -> Result[DepositState]:
    d = e.digit
    if d == "1":
        return _send(s)
    if d == "2":
        return play(s, (s.record_path, *_menu(s)), misses=0)
    if d == "3":
        return _beep(s)
    if d == "4":
        s = replace(s, urgent=not s.urgent, misses=0)
        return play(s, _say(s, "urgent_on" if s.urgent else "urgent_off") + _menu(s))
    if d == "5":
        s = replace(s, private=not s.private, misses=0)
        return play(s, _say(s, "private_on" if s.private else "private_off") + _menu(s))
    if d == "0":
        return play(s, _menu(s), misses=0)
    return _missed(s, "invalid_choice")


def _review_timeout(s: DepositState, _e: Event) -> Result[DepositState]:
    return _missed(s, "no_response")


def _sent(s: DepositState, _e: EffectDone) -> Result[DepositState]:
    if s.hung_up:
        return replace(s, phase="done"), [Exit()]
    return play(s, _say(s, "message_sent", "goodbye"), barge_in=False, phase="closing")


def _grace(s: DepositState, _e: Event) -> Result[DepositState]:
    return start_timer(s, HANGUP_GRACE)


def _close(s: DepositState, _e: Event) -> Result[DepositState]:
    return replace(s, phase="done"), [Hangup(), Exit()]


def _full_close(s: DepositState, _e: Event) -> Result[DepositState]:
    return replace(s, phase="done"), [Hangup(), Effect("full"), Exit()]


def _gone_before_recording(s: DepositState, _e: Event) -> Result[DepositState]:
    if s.took:  # hung up at the beep of a second take: the first one is sent
        return _gone_after_recording(s, _e)
    return replace(s, phase="done", hung_up=True), [Effect("abandon"), Exit()]


def _gone_after_recording(s: DepositState, _e: Event) -> Result[DepositState]:
    return replace(s, phase="done", hung_up=True), [_deliver_effect(s), Exit()]


def _gone_full(s: DepositState, _e: Event) -> Result[DepositState]:
    return replace(s, phase="done", hung_up=True), [Effect("full"), Exit()]


def _gone_while_sending(s: DepositState, _e: Event) -> Result[DepositState]:
    return replace(s, hung_up=True), []


def _gone(s: DepositState, _e: Event) -> Result[DepositState]:
    return replace(s, phase="done", hung_up=True), [Exit()]


TABLE: Mapping[tuple[str, str], Callable[[DepositState, Any], Result[DepositState]]] = {
    ("waiting", "start"): _started,
    ("greeting", "digit"): _greeting_key,
    ("greeting", "played"): _beep,
    ("beep", "played"): _record,
    ("recording", "digit"): _recording_key,
    ("recording", "recorded"): _recorded,
    ("measuring", "done:measure"): _measured,
    ("review", "played"): _review_played,
    ("review", "digit"): _review_key,
    ("review", "timeout"): _review_timeout,
    ("sending", "done:deliver"): _sent,
    ("closing", "played"): _grace,
    ("closing", "timeout"): _close,
    ("full", "played"): _grace,
    ("full", "timeout"): _full_close,
    ("waiting", "hangup"): _gone_before_recording,
    ("greeting", "hangup"): _gone_before_recording,
    ("beep", "hangup"): _gone_before_recording,
    ("measuring", "hangup"): _gone_after_recording,
    ("review", "hangup"): _gone_after_recording,
    ("full", "hangup"): _gone_full,
    ("sending", "hangup"): _gone_while_sending,
    ("closing", "hangup"): _gone,
    ("recording", "hangup"): unchanged,
    ("greeting", "fax"): _fax,
    ("beep", "fax"): _fax,
    ("recording", "fax"): _fax,
}
"""(phase, event key) -> handler; see the table in the module docstring."""


class Deposit:
    """step(state, event) -> (state, actions) for one deposit."""

    def step(self, state: DepositState, event: Event) -> tuple[DepositState, list[Action]]:
        return dispatch(TABLE, state, event)
