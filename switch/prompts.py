"""Where the switch finds its prompts and greetings: the one lookup to change when the prompt
set changes.

Prompt ids are those of the media catalogue (media/prompts/<lang>/<id>.wav, 8 kHz mono 16-bit).
`prompts_dir` (setting) replaces that folder, e.g. in tests.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_PROMPTS = Path(__file__).resolve().parent.parent / "media" / "prompts"

SYSTEM_GREETING = "greeting_system"
SYSTEM_GREETING_BUSY = "greeting_system_busy"
LEAVE_MESSAGE = "leave_message"
BEEP = "beep"
MAILBOX_FULL = "mailbox_full"
GOODBYE = "goodbye"


def prompt_path(prompts_dir: str | Path | None, lang: str, prompt_id: str) -> str:
    """The WAV of prompt `prompt_id` in language `lang` (fr|en)."""
    root = Path(prompts_dir) if prompts_dir else PACKAGE_PROMPTS
    return str(root / lang / f"{prompt_id}.wav")


def system_greeting(prompts_dir: str | Path | None, lang: str, busy: bool) -> tuple[str, ...]:
    """The system greeting (busy variant when the caller reached voicemail on busy)."""
    first = SYSTEM_GREETING_BUSY if busy else SYSTEM_GREETING
    return (prompt_path(prompts_dir, lang, first), prompt_path(prompts_dir, lang, LEAVE_MESSAGE))
