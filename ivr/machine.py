"""What every IVR dialog machine shares: table dispatch, prompt items, tagged plays, named timers.

Rules of this file:
- A dialog is a frozen state (a dataclass with `phase` and `io`) and a table
  `(phase, event key) -> handler`; `handler(state, event) -> (state, actions)` is pure. A phase
  of "*" matches any phase (used for hang-up). An event with no entry is ignored.
- Event keys: "start", "digit", "played", "recorded", "timeout", "hangup", and "done:<effect>".
- Stale events never reach a handler: a PlayFinished whose tag is not the current Play's (a
  Play that was replaced, or the end that follows a barge-in digit the dialog already answered)
  and a TimerFired of a timer that was replaced or cancelled. A timer that fired is no longer
  running when its handler runs.
- Audio items in a Play are "<lang>/<prompt id>" (the runner finds media/prompts/<lang>/<id>.wav)
  or absolute paths of recorded audio (messages, greetings, names).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from ivr.dialog import (
    Action,
    CancelTimer,
    DigitReceived,
    EffectDone,
    Event,
    FaxFinished,
    FaxTone,
    HungUp,
    Play,
    PlayFinished,
    RecordFinished,
    Started,
    StartTimer,
    TimerFired,
)

HANGUP_GRACE = 0.5
"""Seconds between the end of the last prompt and the BYE, so the caller's jitter buffer plays
the end of "goodbye" before the call is torn down."""


@dataclass(frozen=True)
class Io:
    """Bookkeeping of the media requests in flight."""

    tag: int = 0
    """Tag of the latest Play."""
    timer: str = ""
    """Name of the running timer, "" when none."""
    timers: int = 0
    """Timers started so far (names are t1, t2, ...)."""


class DialogState(Protocol):
    @property
    def phase(self) -> str: ...
    @property
    def io(self) -> Io: ...


S = TypeVar("S", bound=DialogState)
Result = tuple[S, list[Action]]
Handler = Callable[[S, Any], Result[S]]
Table = Mapping[tuple[str, str], Handler[S]]


def event_key(event: Event) -> str:
    if isinstance(event, Started):
        return "start"
    if isinstance(event, DigitReceived):
        return "digit"
    if isinstance(event, PlayFinished):
        return "played"
    if isinstance(event, RecordFinished):
        return "recorded"
    if isinstance(event, TimerFired):
        return "timeout"
    if isinstance(event, HungUp):
        return "hangup"
    if isinstance(event, EffectDone):
        return f"done:{event.name}"
    if isinstance(event, FaxTone):
        return "fax"
    if isinstance(event, FaxFinished):
        return "faxed"
    raise TypeError(f"not a dialog event: {event!r}")


def is_stale(io: Io, event: Event) -> bool:
    if isinstance(event, PlayFinished):
        return event.tag != io.tag
    if isinstance(event, TimerFired):
        return event.name != io.timer
    return False


def dispatch(table: Table[S], state: S, event: Event) -> Result[S]:
    """Run the handler of (state.phase, event) from `table`; ignore stale and unlisted events."""
    if is_stale(state.io, event):
        return state, []
    if isinstance(event, TimerFired):
        state = replace(state, io=replace(state.io, timer=""))  # type: ignore[type-var]
    key = event_key(event)
    handler = table.get((state.phase, key)) or table.get(("*", key))
    if handler is None:
        return state, []
    return handler(state, event)


# ------------------------------------------------------------------------------------------------
# Building actions


def items(lang: str, ids: Iterable[str]) -> tuple[str, ...]:
    """Prompt ids (and absolute file paths, kept as they are) as Play items."""
    return tuple(i if i.startswith("/") else f"{lang}/{i}" for i in ids)


def play(state: S, audio: Sequence[str], *, barge_in: bool = True, **changes: Any) -> Result[S]:
    """A new Play (cancelling the running timer) and the state that expects its end."""
    io = state.io
    actions: list[Action] = []
    if io.timer:
        actions.append(CancelTimer(io.timer))
    io = replace(io, tag=io.tag + 1, timer="")
    actions.append(Play(tuple(audio), barge_in, io.tag))
    return replace(state, io=io, **changes), actions  # type: ignore[type-var]


def start_timer(state: S, seconds: float, **changes: Any) -> Result[S]:
    io = state.io
    actions: list[Action] = []
    if io.timer:
        actions.append(CancelTimer(io.timer))
    io = replace(io, timer=f"t{io.timers + 1}", timers=io.timers + 1)
    actions.append(StartTimer(io.timer, seconds))
    return replace(state, io=io, **changes), actions  # type: ignore[type-var]


def stop_timer(state: S, **changes: Any) -> Result[S]:
    io = state.io
    if not io.timer:
        return replace(state, **changes), []  # type: ignore[type-var]
    return replace(state, io=replace(io, timer=""), **changes), [CancelTimer(io.timer)]  # type: ignore[type-var]


def then(first: Result[S], step: Callable[[S], Result[S]]) -> Result[S]:
    """Chain two steps: the actions of both, in order."""
    state, actions = first
    state2, more = step(state)
    return state2, [*actions, *more]


def unchanged(state: S, _event: object = None) -> Result[S]:
    return state, []
