"""Per-call dialogs: the events a call's media side reports, the actions a dialog asks for, and
the runner that drives a pure dialog machine with them (SPEC S5; docs/architecture.md).

Rules of this file:
- No pjsua2 here. A dialog is a pure machine, `step(state, event) -> (state, actions)`; it never
  blocks, reads a clock or touches a file. Everything it wants done is an action.
- Media actions (Play, StopPlay, Record, StopRecord, StartTimer, CancelTimer, Hangup) go to the
  call's `CallMedia`, which forwards them to the pjsua2 pump thread and returns at once; their
  outcomes come back later as events.
- `Effect(name, args)` is performed by the dialog's effect handler on the dialog thread, where
  blocking work (database, files) is allowed; its result comes back as `EffectDone(name, result)`
  before any other event.
- `Exit()` ends the dialog. A call that hangs up first produces `HungUp()`; a recording that was
  running is finished first (`RecordFinished(reason="hangup")`).
- Every Play ends with exactly one `PlayFinished` carrying the Play's `tag`, unless another Play
  replaces it first (then it ends silently). A digit that barges in arrives before the
  `PlayFinished(interrupted=True)` it causes, so a dialog that answers the digit with a new Play
  tells the stale end from the current one by its tag.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------------
# Events (media side -> dialog)


@dataclass(frozen=True)
class Started:
    """The call is answered and its audio flows: the first event of every dialog."""


@dataclass(frozen=True)
class DigitReceived:
    digit: str
    """One of 0-9 * # A-D."""
    method: str = "rfc4733"
    """rfc4733 | info | inband"""


@dataclass(frozen=True)
class PlayFinished:
    interrupted: bool
    """True when a digit (barge-in) or StopPlay cut the playback short."""
    tag: int = 0
    """The tag of the Play this ends."""
    silent: bool = False
    """True when none of it could be played: every file was missing or refused by the media
    library (a call on hold is not played to: the switch waits for its audio). The caller
    heard nothing, so nothing of it counts as heard."""


@dataclass(frozen=True)
class RecordFinished:
    path: str
    seconds: float
    """Audio in the file (8 kHz mono 16-bit WAV), before any trimming."""
    reason: str
    """stopped (StopRecord) | max_length | silence | hangup"""


@dataclass(frozen=True)
class TimerFired:
    name: str


@dataclass(frozen=True)
class HungUp:
    """The caller hung up (or the call ended for any reason the dialog did not ask for)."""

    unplayed: float | None = None
    """Seconds of the running Play not yet sent when the call ended; None when no Play was
    running (a caller who hangs up as a message ends has heard it)."""


@dataclass(frozen=True)
class EffectDone:
    name: str
    result: Any = None


@dataclass(frozen=True)
class FaxTone:
    """The caller sends a calling fax's CNG tone (1100 Hz bursts): a fax machine, not a person."""


@dataclass(frozen=True)
class FaxFinished:
    """The fax receiver's T.30 session ended (by itself, or because the call ended)."""

    pages: int
    """Pages received in full (kept in the TIFF file)"""
    code: int
    """spandsp T30_ERR_* completion code: 0 is a complete fax"""
    text: str
    bit_rate: int
    remote_ident: str


Event = (
    Started
    | DigitReceived
    | PlayFinished
    | RecordFinished
    | TimerFired
    | HungUp
    | EffectDone
    | FaxTone
    | FaxFinished
)

# ------------------------------------------------------------------------------------------------
# Actions (dialog -> media side / effect handler)


@dataclass(frozen=True)
class Play:
    """Play WAV files one after the other; with barge_in a digit stops the playback."""

    files: tuple[str, ...]
    barge_in: bool = True
    tag: int = 0
    """Echoed in the PlayFinished that ends this Play."""


@dataclass(frozen=True)
class StopPlay:
    pass


@dataclass(frozen=True)
class Record:
    """Record the caller to `path` (streamed to disk as it arrives) for at most max_seconds;
    with silence_seconds > 0 the recording also ends after that long without voice."""

    path: str
    max_seconds: float
    silence_seconds: float = 0.0


@dataclass(frozen=True)
class StopRecord:
    pass


@dataclass(frozen=True)
class StartTimer:
    """(Re)start timer `name`; TimerFired(name) after `seconds`."""

    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class Hangup:
    """End the call (BYE). The dialog still receives the events already on their way."""


@dataclass(frozen=True)
class Effect:
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exit:
    pass


Action = Play | StopPlay | Record | StopRecord | StartTimer | CancelTimer | Hangup | Effect | Exit

# ------------------------------------------------------------------------------------------------
# Runner

S = TypeVar("S")


class Media(Protocol):
    """What a dialog runner needs from a call (switch.media.CallMedia implements it)."""

    def play(self, files: Sequence[str], barge_in: bool = True, tag: int = 0) -> None: ...
    def stop_play(self) -> None: ...
    def record(self, path: str, max_seconds: float, silence_seconds: float = 0.0) -> None: ...
    def stop_record(self) -> None: ...
    def start_timer(self, name: str, seconds: float) -> None: ...
    def cancel_timer(self, name: str) -> None: ...
    def hangup(self) -> None: ...
    def next_event(self, timeout: float | None = None) -> Event: ...


class Machine(Protocol[S]):
    def step(self, state: S, event: Event) -> tuple[S, Sequence[Action]]: ...


EffectHandler = Callable[[str, Mapping[str, Any]], Any]

IDLE_LIMIT = 4 * 3600.0
"""A dialog that receives no event for this long is abandoned (defensive; never expected)."""


def run_dialog(machine: Machine[S], state: S, media: Media, effects: EffectHandler) -> S:
    """Drive `machine` from `state` until it performs Exit; returns the final state."""
    pending: list[Event] = []
    while True:
        if pending:
            event = pending.pop(0)
        else:
            try:
                event = media.next_event(IDLE_LIMIT)
            except queue.Empty:
                logger.error("dialog idle for %s s: giving up", IDLE_LIMIT)
                media.hangup()
                return state
        state, actions = machine.step(state, event)
        for action in actions:
            if isinstance(action, Exit):
                return state
            if isinstance(action, Effect):
                pending.append(EffectDone(action.name, effects(action.name, action.args)))
            else:
                perform(media, action)


def perform(media: Media, action: Action) -> None:
    """Hand one media action to the call."""
    if isinstance(action, Play):
        media.play(action.files, action.barge_in, action.tag)
    elif isinstance(action, StopPlay):
        media.stop_play()
    elif isinstance(action, Record):
        media.record(action.path, action.max_seconds, action.silence_seconds)
    elif isinstance(action, StopRecord):
        media.stop_record()
    elif isinstance(action, StartTimer):
        media.start_timer(action.name, action.seconds)
    elif isinstance(action, CancelTimer):
        media.cancel_timer(action.name)
    elif isinstance(action, Hangup):
        media.hangup()
    else:
        raise TypeError(f"not a media action: {action!r}")
