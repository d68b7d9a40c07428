"""The outdial notification dialog (SPEC S7, docs/architecture.md "Outdial contract"): what the
called person hears before the login. A pure table machine.

Rules of this file:
  | phase     | event            | what happens                                              |
  |-----------|------------------|-----------------------------------------------------------|
  | new       | start            | "Hello, this is your voice mail. You have a new message.  |
  |           |                  | To log in, press 1."                                      |
  | announce  | digit 1          | Exit with `login` set: the runner starts the retrieval    |
  |           |                  | dialog of the mailbox, PIN required                       |
  | announce  | other digit      | the announcement again (counts as a miss)                 |
  | announce  | played / timeout | start the key timer / the announcement again; after       |
  |           |                  | MAX_MISSES: "goodbye" and hang up                         |
  | closing   | played / timeout | a short grace (the end of "goodbye") / hang up, Exit      |
  | any       | hangup           | Exit                                                      |
- The announcement says what the message is (voice, urgent voice, fax) when the runner knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ivr.dialog import Action, DigitReceived, Event, Exit, Hangup
from ivr.machine import HANGUP_GRACE, Io, Result, Table, dispatch, items, play, start_timer
from media import say

KEY_TIMEOUT = 5.0
"""Seconds the announcement waits for 1 after it has been said."""
MAX_MISSES = 3
"""Announcements said without a 1 before the call ends."""


@dataclass(frozen=True)
class AnnounceState:
    phase: str
    lang: str
    urgent: bool = False
    fax: bool = False
    io: Io = field(default_factory=Io)
    misses: int = 0
    login: bool = False
    """The called person pressed 1: the login follows on the same call."""


R = Result[AnnounceState]


def _announce(s: AnnounceState, misses: int = 0) -> R:
    audio = items(s.lang, say.outdial_announcement(urgent=s.urgent, fax=s.fax))
    return play(s, audio, phase="announce", misses=misses)


def _start(s: AnnounceState, _e: Event) -> R:
    return _announce(s)


def _miss(s: AnnounceState) -> R:
    misses = s.misses + 1
    if misses >= MAX_MISSES:
        return play(s, items(s.lang, ["goodbye"]), barge_in=False, phase="closing", misses=misses)
    return _announce(s, misses=misses)


def _digit(s: AnnounceState, e: DigitReceived) -> R:
    if e.digit == "1":
        state = replace(s, login=True, phase="done")
        return state, [Exit()]
    return _miss(s)


def _played(s: AnnounceState, _e: Event) -> R:
    return start_timer(s, KEY_TIMEOUT)


def _timeout(s: AnnounceState, _e: Event) -> R:
    return _miss(s)


def _closing_played(s: AnnounceState, _e: Event) -> R:
    return start_timer(s, HANGUP_GRACE)


def _closing_timeout(s: AnnounceState, _e: Event) -> R:
    actions: list[Action] = [Hangup(), Exit()]
    return replace(s, phase="done"), actions


def _hangup(s: AnnounceState, _e: Event) -> R:
    return replace(s, phase="done"), [Exit()]


TABLE: Table[AnnounceState] = {
    ("new", "start"): _start,
    ("announce", "digit"): _digit,
    ("announce", "played"): _played,
    ("announce", "timeout"): _timeout,
    ("closing", "played"): _closing_played,
    ("closing", "timeout"): _closing_timeout,
    ("*", "hangup"): _hangup,
}


class Announce:
    def step(self, state: AnnounceState, event: Event) -> tuple[AnnounceState, list[Action]]:
        return dispatch(TABLE, state, event)
