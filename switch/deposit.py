"""The voicemail deposit dialog, first cut (SPEC S5 deposit steps 1, 2, 3 and 5), as a pure
machine driven by switch.dialog.run_dialog.

Rules of this file (phase, event -> actions, phase):
| phase      | event                  | actions                                  | next       |
|------------|------------------------|------------------------------------------|------------|
| waiting    | Started, mailbox full  | Play(full prompt, no barge-in)           | full       |
| waiting    | Started                | Play(greeting, barge-in)                 | greeting   |
| greeting   | PlayFinished           | Play(beep, no barge-in)                  | beep       |
| beep       | PlayFinished           | Record(path, max length)                 | recording  |
| recording  | Digit #                | StopRecord                               | recording  |
| recording  | RecordFinished         | Effect deliver                           | delivering |
| delivering | EffectDone deliver     | Play(goodbye) (Exit if hung up)          | closing    |
| closing    | PlayFinished           | Hangup, Exit                             | done       |
| full       | PlayFinished           | Hangup, Effect full, Exit                | done       |
| waiting, greeting, beep | HungUp        | Effect abandon, Exit                     | done       |
| full       | HungUp                 | Effect full, Exit                        | done       |
| delivering, closing | HungUp            | Exit (closing) / remember (delivering)   |            |
`#` during the greeting skips it (barge-in ends the playback). Other events are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from switch.dialog import (
    Action,
    DigitReceived,
    Effect,
    EffectDone,
    Event,
    Exit,
    Hangup,
    HungUp,
    Play,
    PlayFinished,
    Record,
    RecordFinished,
    Started,
    StopRecord,
)


@dataclass(frozen=True)
class DepositState:
    phase: str
    greeting: tuple[str, ...]
    beep: tuple[str, ...]
    full_prompt: tuple[str, ...]
    goodbye: tuple[str, ...]
    record_path: str
    max_seconds: float
    mailbox_full: bool
    hung_up: bool = False


class Deposit:
    """step(state, event) -> (state, actions) for one deposit."""

    def step(self, state: DepositState, event: Event) -> tuple[DepositState, Sequence[Action]]:
        phase = state.phase
        if isinstance(event, HungUp):
            if phase in ("waiting", "greeting", "beep"):
                return replace(state, phase="done", hung_up=True), [Effect("abandon"), Exit()]
            if phase == "full":
                return replace(state, phase="done", hung_up=True), [Effect("full"), Exit()]
            if phase == "closing":
                return replace(state, phase="done", hung_up=True), [Exit()]
            return replace(state, hung_up=True), []
        if phase == "waiting" and isinstance(event, Started):
            if state.mailbox_full:
                return replace(state, phase="full"), [Play(state.full_prompt, barge_in=False)]
            return replace(state, phase="greeting"), [Play(state.greeting, barge_in=True)]
        if phase == "greeting" and isinstance(event, PlayFinished):
            return replace(state, phase="beep"), [Play(state.beep, barge_in=False)]
        if phase == "beep" and isinstance(event, PlayFinished):
            return replace(state, phase="recording"), [Record(state.record_path, state.max_seconds)]
        if phase == "recording" and isinstance(event, DigitReceived) and event.digit == "#":
            return state, [StopRecord()]
        if phase == "recording" and isinstance(event, RecordFinished):
            return replace(state, phase="delivering"), [
                Effect(
                    "deliver",
                    {"path": event.path, "seconds": event.seconds, "reason": event.reason},
                )
            ]
        if phase == "delivering" and isinstance(event, EffectDone):
            if state.hung_up:
                return replace(state, phase="done"), [Exit()]
            return replace(state, phase="closing"), [Play(state.goodbye, barge_in=False)]
        if phase == "closing" and isinstance(event, PlayFinished):
            return replace(state, phase="done"), [Hangup(), Exit()]
        if phase == "full" and isinstance(event, PlayFinished):
            return replace(state, phase="done"), [Hangup(), Effect("full"), Exit()]
        return state, []
