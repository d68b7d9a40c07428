"""Answer confirmation (issue 17): what the person who answers a ring-table leg hears before the
call is theirs. A pure table machine; the switch keeps the caller on ringback meanwhile.

Rules of this file:
  | phase | event        | what happens                                                     |
  |-------|--------------|------------------------------------------------------------------|
  | new   | start        | "Call for <line> from <caller>. To accept the call, press 1."    |
  | ask   | digit 1      | accepted: Exit (the switch bridges the call, even mid-prompt)    |
  | ask   | other digit  | refused ("key"): hang up, Exit                                   |
  | ask   | played       | wait `seconds` for a key                                         |
  | ask   | timeout      | refused ("silence"): hang up, Exit                               |
  | any   | hangup       | refused ("hangup"): Exit                                         |
- <line> is the line's recorded name when it has one, else its number digit by digit; <caller>
  is the caller's number digit by digit, or "a private number" when it is hidden or unknown.
- A voicemail system that answers plays its greeting and never presses 1: it is refused after
  the prompt and `seconds` of waiting, and the ring table goes on as if it had not answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ivr.dialog import Action, DigitReceived, Event, Exit, Hangup
from ivr.machine import Io, Result, Table, dispatch, items, play, start_timer
from media import say

ACCEPTED = "accepted"
REFUSED_KEY = "key"
REFUSED_SILENCE = "silence"
REFUSED_HANGUP = "hangup"


@dataclass(frozen=True)
class ConfirmState:
    phase: str
    lang: str
    line: str
    """The called line's number."""
    caller: str | None
    """The caller's number; None when hidden or unknown."""
    seconds: float
    """How long to wait for a key after the prompt."""
    line_name: str | None = None
    """Absolute path of the line's recorded name, if any."""
    io: Io = field(default_factory=Io)
    outcome: str = ""
    """"" while asking, then accepted | key | silence | hangup."""

    @property
    def accepted(self) -> bool:
        return self.outcome == ACCEPTED


R = Result[ConfirmState]


def prompt(s: ConfirmState) -> tuple[str, ...]:
    """The prompt's audio items."""
    who = [s.line_name] if s.line_name else say.phone_number(s.line)
    if s.caller:
        source = ["confirm_from", *say.phone_number(s.caller), say.PAUSE]
    else:
        source = ["confirm_from_private"]
    return items(s.lang, ["confirm_call_for", *who, *source, "confirm_press_1"])


def _start(s: ConfirmState, _e: Event) -> R:
    return play(s, prompt(s), phase="ask")


def _refuse(s: ConfirmState, outcome: str) -> R:
    actions: list[Action] = [Hangup(), Exit()]
    return replace(s, phase="done", outcome=outcome), actions


def _digit(s: ConfirmState, e: DigitReceived) -> R:
    if e.digit == "1":
        return replace(s, phase="done", outcome=ACCEPTED), [Exit()]
    return _refuse(s, REFUSED_KEY)


def _played(s: ConfirmState, _e: Event) -> R:
    return start_timer(s, s.seconds)


def _timeout(s: ConfirmState, _e: Event) -> R:
    return _refuse(s, REFUSED_SILENCE)


def _hangup(s: ConfirmState, _e: Event) -> R:
    return replace(s, phase="done", outcome=s.outcome or REFUSED_HANGUP), [Exit()]


TABLE: Table[ConfirmState] = {
    ("new", "start"): _start,
    ("ask", "digit"): _digit,
    ("ask", "played"): _played,
    ("ask", "timeout"): _timeout,
    ("*", "hangup"): _hangup,
}


class Confirm:
    def step(self, state: ConfirmState, event: Event) -> tuple[ConfirmState, list[Action]]:
        return dispatch(TABLE, state, event)
