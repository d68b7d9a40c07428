"""Which greeting a caller hears (SPEC S5 deposit step 2). Pure: facts in, audio items out.

Rules of this file, first match wins:
1. Extended absence on: its recording, else the system "away for an extended period" greeting.
2. Reached voicemail on busy, busy greeting on and recorded: the busy greeting.
3. Reached voicemail on no answer, no-answer greeting on and recorded: the no-answer greeting.
4. The chosen greeting:
   - personal: the recording; without one, the system greeting;
   - system: the system greeting;
   - system + number: "The person at 613 555 0100 is not available", digit by digit;
   - system + name: the recorded name then "is not available"; without a name, system + number.
System greetings say "is on another call" instead of "is not available" on busy, and end with
"leave your message after the tone". Recordings are played as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from media import say
from media.say import GreetingVariant
from routing.model import GreetingReason


@dataclass(frozen=True)
class GreetingFacts:
    reason: str
    """routing.model.GreetingReason value: why the caller reached voicemail."""
    choice: str
    """mailbox.greeting: system | system_number | system_name | personal"""
    line: str
    busy_enabled: bool = False
    no_answer_enabled: bool = False
    extended_absence_enabled: bool = False
    recorded: Mapping[str, str] | None = None
    """Recorded greetings by kind (personal, busy, no_answer, extended_absence, name) -> absolute
    file path."""


@dataclass(frozen=True)
class Selection:
    rule: str
    """Which rule chose it: extended_absence | busy | no_answer | personal | system |
    system_number | system_name (with "_system" appended when a system greeting stands in)."""
    audio: tuple[str, ...]
    """Prompt ids and absolute file paths, in order."""


def select_greeting(f: GreetingFacts) -> Selection:
    recorded = f.recorded or {}
    if f.extended_absence_enabled:
        if "extended_absence" in recorded:
            return Selection("extended_absence", (recorded["extended_absence"],))
        return Selection("extended_absence_system", _system("absent", None))
    busy = f.reason == GreetingReason.BUSY.value
    if busy and f.busy_enabled and "busy" in recorded:
        return Selection("busy", (recorded["busy"],))
    if (
        f.reason == GreetingReason.NO_ANSWER.value
        and f.no_answer_enabled
        and "no_answer" in recorded
    ):
        return Selection("no_answer", (recorded["no_answer"],))
    variant: GreetingVariant = "busy" if busy else "unavailable"
    if f.choice == "personal":
        if "personal" in recorded:
            return Selection("personal", (recorded["personal"],))
        return Selection("personal_system", _system(variant, None))
    if f.choice == "system_name":
        if "name" in recorded:
            return Selection(
                "system_name",
                (recorded["name"], *say.after_name(variant), "leave_message"),
            )
        return Selection("system_name_system_number", _system(variant, f.line))
    if f.choice == "system_number":
        return Selection("system_number", _system(variant, f.line))
    return Selection("system", _system(variant, None))


def _system(variant: GreetingVariant, number: str | None) -> tuple[str, ...]:
    return (*say.system_greeting(variant, number), "leave_message")
