"""The retrieval dialog (SPEC S5 retrieval): login, menus, messages, options. A pure table machine.

Rules of this file:
- Phases and events (the table TABLE at the end):
  | phase         | event            | what happens                                           |
  |---------------|------------------|--------------------------------------------------------|
  | new           | start            | skip PIN: open; else ask the PIN (mailbox known) or    |
  |               |                  | the mailbox number                                     |
  | collect       | digit            | 0-9 add to the entry; # submits; * goes back           |
  | collect       | played / timeout | start the digit timer / submit what was typed, or say  |
  |               |                  | "no response" and ask again (3rd time: goodbye)        |
  | checking      | done:check_pin   | ok: open; locked: "locked", goodbye; wrong: "incorrect"|
  |               |                  | and ask again (3rd wrong PIN of the call: goodbye)     |
  | opening       | done:open        | "N new messages, M saved" (fax autoplay: + each fax);  |
  |               |                  | voice autoplay: the first new message, else main menu  |
  | menu          | digit            | the current menu's key table; 0 = help + menu again;   |
  |               |                  | * = back one level; other keys: "invalid" + menu       |
  | menu          | played / timeout | start the key timer / "no response" + menu (3rd: bye)  |
  | message       | played           | the message is heard (effect set_heard); message menu  |
  |               |                  | (a silent play, nothing could be sent: not heard)      |
  | message       | digit            | the message menu's key, at once (barge-in)             |
  | working       | done:<effect>    | the effect's result decides (see _DONE)                |
  | rec_prompt    | played / *       | record / cancel                                        |
  | rec_recording | # / recorded     | stop / measure the voice (hang-up: Exit, nothing kept) |
  | rec_measuring | done:measure     | too little voice: say so, back; else the review menu   |
  | closing       | played / timeout | a short grace (the end of "goodbye") / hang up, Exit   |
  | any           | hangup           | Exit (in message, within its last HEARD_TAIL_SECONDS:  |
  |               |                  | the message is heard first)                            |
- Menus (key -> action): main 1 listen, 2 send a message, 3 options, # exit; message 1 replay,
  2 save, 3 delete, 4 reply, 5 forward, 6 envelope, 7 mark new, # next, * main menu; options
  1 record greeting, 2 choose greeting, 3 record name, 4 change PIN, 5 extra greetings;
  greeting choice 1 personal, 2 system, 3 system + number, 4 system + name; extra greetings
  1 busy, 2 no answer, 3 extended absence, then 1 on/off, 2 record, 3 listen; recording review
  1 keep, 2 listen, 3 record again, * cancel.
- Order of messages: new (unheard) first, then saved, each oldest first (the runner sorts them;
  urgent new ones lead). A message becomes heard when its audio (or, in envelope-only mode, its
  envelope) has played to the end, when the caller hangs up in its last HEARD_TAIL_SECONDS
  (a caller hangs up as it ends), or when it is saved; skipping it keeps it new.
- Forwarding a private message is refused, and so is replying to one; reply needs a caller who
  is a local line (the runner checks). Destinations are local mailboxes or a group phone code.
- A new PIN must pass pin.pin_problem (the portal's rules) and be entered twice.
- PINs never leave this machine except in the check_pin and change_pin effects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ivr.dialog import (
    Action,
    DigitReceived,
    Effect,
    EffectDone,
    Event,
    Exit,
    Hangup,
    HungUp,
    PlayFinished,
    Record,
    RecordFinished,
    StopRecord,
)
from ivr.envelope import MessageInfo, envelope, presentation
from ivr.machine import HANGUP_GRACE, Io, Result, dispatch, items, play, start_timer, stop_timer
from ivr.pin import pin_problem
from media import say

KEY_TIMEOUT = 5.0
"""Seconds a menu waits for a key after it has been said."""
DIGIT_TIMEOUT = 5.0
"""Seconds an entry waits for the next digit."""
MAX_MISSES = 3
"""Time-outs or invalid keys in a row before the dialog says goodbye."""
MAX_LOGIN_ATTEMPTS = 3
"""Wrong PINs in one call before it ends."""
MAX_DIGITS = 20
"""Longest entry (a number, a PIN); longer is an invalid entry."""
FAX_ENVELOPES = 5
"""New faxes whose envelopes fax autoplay announces after the summary (the newest ones)."""
GREETING_MAX_SECONDS = 120.0
HEARD_TAIL_SECONDS = 1.0
"""A caller who hangs up with no more than this left of a message has heard it: the phone's
jitter buffer and the caller's reaction put the hang-up of "heard to its end" about here."""
EXTRA_KINDS = ("busy", "no_answer", "extended_absence")


@dataclass(frozen=True)
class FaxInfo:
    """A new fax, as its envelope announces it by phone (fax autoplay)."""

    caller_number: str | None
    received_at: datetime
    pages: int


@dataclass(frozen=True)
class Box:
    """The mailbox the caller logged into, as the open effect read it."""

    number: str
    lang: str
    tz: str
    now: datetime
    """When the session opened (envelopes say "today" relative to it)."""
    envelope_mode: str = "both"
    autoplay_voice: bool = False
    autoplay_fax: bool = False
    greeting: str = "system"
    greetings: Mapping[str, str] = field(default_factory=dict)
    """Recorded greetings and name: kind -> absolute path."""
    extra_on: Mapping[str, bool] = field(default_factory=dict)
    """busy / no_answer / extended_absence -> enabled."""
    fax_new: int = 0
    new_faxes: tuple[FaxInfo, ...] = ()
    """The newest new faxes, oldest first (at most FAX_ENVELOPES): their envelopes are
    announced after the summary with fax autoplay."""
    full: bool = False
    almost_full: bool = False
    max_message_seconds: float = 180.0
    min_voice_seconds: float = 1.0
    silence_seconds: float = 5.0
    account_numbers: tuple[str, ...] = ()
    """Every line of the mailbox's account (a new PIN may be none of them, S9)."""


@dataclass(frozen=True)
class Opened:
    """Result of the open effect."""

    box: Box
    messages: tuple[MessageInfo, ...]


@dataclass(frozen=True)
class RetrievalState:
    phase: str
    lang: str
    record_path: str
    """Where recordings made by phone go before they are kept."""
    io: Io = field(default_factory=Io)
    mailbox: str = ""
    ask_mailbox: bool = True
    """Login asks for the mailbox number (False: it is known, the PIN only)."""
    skip_pin: bool = False
    """The caller is the mailbox's authenticated own device with skip PIN on."""
    attempts: int = 0
    misses: int = 0
    collecting: str = ""
    """mailbox | pin | destination | new_pin | confirm_pin"""
    digits: str = ""
    box: Box | None = None
    messages: tuple[MessageInfo, ...] = ()
    new_count: int = 0
    """messages[:new_count] were new when the listening started."""
    cursor: int = 0
    menu: str = ""
    purpose: str = ""
    """What a recording is for: personal | name | busy | no_answer | extended_absence | reply |
    send."""
    rec_back: str = ""
    """The menu a recording returns to."""
    sending: str = ""
    """What a destination list is for: send | forward."""
    recipients: tuple[str, ...] = ()
    new_pin: str = ""
    extra: str = ""
    """The extra greeting being managed."""


R = Result[RetrievalState]


def _ids(s: RetrievalState, *ids: str) -> tuple[str, ...]:
    return items(s.lang, ids)


def _box(s: RetrievalState) -> Box:
    assert s.box is not None, "no mailbox is open"
    return s.box


def _message(s: RetrievalState) -> MessageInfo:
    return s.messages[s.cursor]


def _work(s: RetrievalState, effect: Effect) -> R:
    """Leave the menu (its key timer stops) until the effect's result comes back."""
    s, stop = stop_timer(s, phase="working")
    return s, [*stop, effect]


def _goodbye(s: RetrievalState, *first: str) -> R:
    return play(s, _ids(s, *first, "goodbye"), barge_in=False, phase="closing")


# -- login ---------------------------------------------------------------------------------------


def _begin(s: RetrievalState, _e: Event) -> R:
    if s.skip_pin and s.mailbox:
        return replace(s, phase="opening"), [Effect("open", {"mailbox": s.mailbox})]
    if s.ask_mailbox:
        return _collect(s, "mailbox", "welcome", "enter_mailbox")
    return _collect(s, "pin", "welcome", "enter_pin")


def _collect(s: RetrievalState, what: str, *prompt: str) -> R:
    return play(s, _ids(s, *prompt), phase="collect", collecting=what, digits="", misses=0)


_COLLECT_PROMPTS = {
    "mailbox": ("enter_mailbox",),
    "pin": ("enter_pin",),
    "destination": ("enter_destination",),
    "new_pin": ("enter_new_pin",),
    "confirm_pin": ("confirm_new_pin",),
}


def _collect_played(s: RetrievalState, _e: Event) -> R:
    return start_timer(s, DIGIT_TIMEOUT)


def _collect_digit(s: RetrievalState, e: DigitReceived) -> R:
    d = e.digit
    if d == "#":
        return _submit(s)
    if d == "*":
        return _collect_back(s)
    if not d.isdigit():
        return s, []
    if len(s.digits) >= MAX_DIGITS:
        return _collect_missed(replace(s, digits=""), "invalid_choice")
    return start_timer(s, DIGIT_TIMEOUT, digits=s.digits + d)


def _collect_timeout(s: RetrievalState, _e: Event) -> R:
    if s.digits:
        return _submit(s)
    return _collect_missed(s, "no_response")


def _collect_missed(s: RetrievalState, first: str) -> R:
    misses = s.misses + 1
    if misses >= MAX_MISSES:
        return _goodbye(s)
    prompt = _COLLECT_PROMPTS[s.collecting]
    return play(s, _ids(s, first, *prompt), misses=misses, digits="")


def _collect_back(s: RetrievalState) -> R:
    what = s.collecting
    if what == "mailbox":
        return _collect(s, "mailbox", "enter_mailbox")
    if what == "pin":
        if s.ask_mailbox:
            return _collect(s, "mailbox", "enter_mailbox")
        return _collect(s, "pin", "enter_pin")
    if what == "destination":
        return _to_menu(s, "message" if s.sending == "forward" else "main")
    return _to_menu(s, "options", "pin_not_changed")


def _submit(s: RetrievalState) -> R:
    s, stop = stop_timer(s)
    digits, what = s.digits, s.collecting
    s = replace(s, digits="")
    if what == "mailbox":
        if not digits:
            return _collect_missed(s, "invalid_choice")
        s, actions = _collect(replace(s, mailbox=digits), "pin", "enter_pin")
        return s, [*stop, *actions]
    if what == "pin":
        if not digits:
            return _collect_missed(s, "invalid_choice")
        return replace(s, phase="checking"), [
            *stop,
            Effect("check_pin", {"mailbox": s.mailbox, "pin": digits}),
        ]
    if what == "destination":
        if not digits:
            return _destinations_done(s)
        return replace(s, phase="working"), [
            *stop,
            Effect("resolve_destination", {"mailbox": _box(s).number, "number": digits}),
        ]
    if what == "new_pin":
        problem = pin_problem(digits, _box(s).number, _box(s).account_numbers)
        if problem is not None:
            return _to_menu(s, "options", problem, "pin_not_changed")
        s, actions = _collect(replace(s, new_pin=digits), "confirm_pin", "confirm_new_pin")
        return s, [*stop, *actions]
    # confirm_pin
    if digits != s.new_pin:
        return _to_menu(replace(s, new_pin=""), "options", "pin_mismatch", "pin_not_changed")
    return replace(s, phase="working", new_pin=""), [
        *stop,
        Effect("change_pin", {"mailbox": _box(s).number, "pin": digits}),
    ]


def _checked(s: RetrievalState, e: EffectDone) -> R:
    if e.result == "ok":
        return replace(s, phase="opening"), [Effect("open", {"mailbox": s.mailbox})]
    if e.result == "locked":
        return _goodbye(s, "mailbox_locked")
    attempts = s.attempts + 1
    if attempts >= MAX_LOGIN_ATTEMPTS:
        return _goodbye(replace(s, attempts=attempts), "login_incorrect", "too_many_attempts")
    s = replace(s, attempts=attempts)
    if s.ask_mailbox:
        return _collect(s, "mailbox", "login_incorrect", "enter_mailbox")
    return _collect(s, "pin", "login_incorrect", "enter_pin")


def _opened(s: RetrievalState, e: EffectDone) -> R:
    opened: Opened = e.result
    box = opened.box
    s = replace(s, box=box, lang=box.lang, messages=opened.messages, mailbox=box.number)
    s = _sorted(s)
    faxes = box.fax_new if box.autoplay_fax else 0
    news = [
        *say.mailbox_summary(s.new_count, len(s.messages) - s.new_count, box.lang, new_faxes=faxes)
    ]
    if faxes:
        for fax in box.new_faxes:
            news += [
                say.PAUSE,
                *say.fax_envelope(
                    fax.caller_number, fax.received_at, fax.pages, box.now, box.tz, box.lang
                ),
            ]
        news += [say.PAUSE, "faxes_on_portal"] if box.new_faxes else ["faxes_on_portal"]
    if box.full:
        news.append("own_mailbox_full")
    elif box.almost_full:
        news.append("mailbox_almost_full")
    if box.autoplay_voice and s.new_count:
        return _present(s, 0, *news)
    return _to_menu(s, "main", *news)


def _sorted(s: RetrievalState) -> RetrievalState:
    """New messages first (the runner's order within each group is kept)."""
    new = tuple(m for m in s.messages if not m.heard)
    old = tuple(m for m in s.messages if m.heard)
    return replace(s, messages=new + old, new_count=len(new), cursor=0)


# -- menus ---------------------------------------------------------------------------------------


def _announce(s: RetrievalState, name: str) -> list[str]:
    if name == "extra_one":
        return say.menu(say.extra_greeting_menu(on=bool(_box(s).extra_on.get(s.extra))))
    return say.menu(_MENU_TEXT[name])


_MENU_TEXT = {
    "main": say.MAIN_MENU,
    "message": say.MESSAGE_MENU,
    "options": say.OPTIONS_MENU,
    "greeting_choice": say.GREETING_CHOICE_MENU,
    "extra": say.EXTRA_GREETINGS_MENU,
    "rec_review": say.RECORDING_REVIEW_MENU,
}
# The menus a caller hears, by name: ivr.guide writes them out for the README and the help.
MENUS: Mapping[str, say.Menu] = _MENU_TEXT


def _to_menu(s: RetrievalState, name: str, *first: str) -> R:
    return play(s, _ids(s, *first, *_announce(s, name)), phase="menu", menu=name, misses=0)


def _menu_played(s: RetrievalState, _e: Event) -> R:
    return start_timer(s, KEY_TIMEOUT)


def _menu_missed(s: RetrievalState, first: str) -> R:
    misses = s.misses + 1
    if misses >= MAX_MISSES:
        return _goodbye(s)
    return play(s, _ids(s, first, *_announce(s, s.menu)), misses=misses)


def _menu_timeout(s: RetrievalState, _e: Event) -> R:
    return _menu_missed(s, "no_response")


def _menu_digit(s: RetrievalState, e: DigitReceived) -> R:
    return _menu_key(s, e.digit)


def _menu_key(s: RetrievalState, d: str) -> R:
    if d == "0":
        return _to_menu(s, s.menu, "help_keys")
    if d == "*":
        return _BACK[s.menu](s)
    handler = _KEYS[s.menu].get(d)
    if handler is None:
        return _menu_missed(s, "invalid_choice")
    return handler(s)


# main menu


def _listen(s: RetrievalState) -> R:
    s = _sorted(s)
    if not s.messages:
        return _to_menu(s, "main", "you_have_not", "count_no_messages")
    return _present(s, 0)


def _compose(s: RetrievalState) -> R:
    return _collect(replace(s, sending="send", recipients=()), "destination", "enter_destination")


def _exit(s: RetrievalState) -> R:
    return _goodbye(s)


# message menu


def _present(s: RetrievalState, index: int, *first: str) -> R:
    if index >= len(s.messages):
        return _to_menu(s, "main", *first, "no_more_messages")
    m = s.messages[index]
    box = _box(s)
    if index == 0 and s.new_count:
        intro = "first_new_message"
    elif index == s.new_count:
        intro = "saved_messages"
    else:
        intro = "next_message"
    audio = presentation(m, box.envelope_mode, box.now, box.tz, box.lang)
    return play(s, _ids(s, *first, intro, *audio), phase="message", cursor=index, misses=0)


def _message_played(s: RetrievalState, e: Event) -> R:
    if isinstance(e, PlayFinished) and e.silent:  # nothing reached the caller: still new
        return _to_menu(s, "message")
    s, heard = _heard(s)
    s, actions = _to_menu(s, "message")
    return s, [*heard, *actions]


def _heard(s: RetrievalState) -> tuple[RetrievalState, list[Action]]:
    m = _message(s)
    if m.heard:
        return s, []
    return _set_message(s, replace(m, heard=True)), [
        Effect("set_heard", {"mailbox": _box(s).number, "id": m.id, "heard": True})
    ]


def _set_message(s: RetrievalState, m: MessageInfo) -> RetrievalState:
    msgs = list(s.messages)
    msgs[s.cursor] = m
    return replace(s, messages=tuple(msgs))


def _message_digit(s: RetrievalState, e: DigitReceived) -> R:
    return _menu_key(replace(s, menu="message"), e.digit)


def _replay(s: RetrievalState) -> R:
    return play(s, (_message(s).audio,), phase="message")


def _save(s: RetrievalState) -> R:
    m = _message(s)
    s = _set_message(s, replace(m, heard=True))
    return _work(s, Effect("save", {"mailbox": _box(s).number, "id": m.id}))


def _delete(s: RetrievalState) -> R:
    return _work(s, Effect("delete", {"mailbox": _box(s).number, "id": _message(s).id}))


def _reply(s: RetrievalState) -> R:
    m = _message(s)
    if m.private or not m.caller_number:
        return _to_menu(s, "message", "reply_not_possible")
    return _work(s, Effect("resolve_reply", {"mailbox": _box(s).number, "number": m.caller_number}))


def _forward(s: RetrievalState) -> R:
    if _message(s).private:
        return _to_menu(s, "message", "private_not_forwardable")
    return _collect(
        replace(s, sending="forward", recipients=()), "destination", "enter_destination"
    )


def _envelope(s: RetrievalState) -> R:
    box = _box(s)
    head = envelope(_message(s), box.now, box.tz, box.lang, with_length=True)
    return _to_menu(s, "message", *head)


def _mark_new(s: RetrievalState) -> R:
    m = _message(s)
    s = _set_message(s, replace(m, heard=False))
    return _work(s, Effect("set_heard", {"mailbox": _box(s).number, "id": m.id, "heard": False}))


def _next(s: RetrievalState) -> R:
    return _present(s, s.cursor + 1)


# options


def _options(s: RetrievalState) -> R:
    return _to_menu(s, "options")


def _record_personal(s: RetrievalState) -> R:
    return _record_start(s, "personal", "options")


def _record_name(s: RetrievalState) -> R:
    return _record_start(s, "name", "options")


def _choose_greeting(s: RetrievalState) -> R:
    current = _box(s).greeting
    return _to_menu(s, "greeting_choice", "current_greeting_is", f"greeting_kind_{current}")


def _change_pin(s: RetrievalState) -> R:
    return _collect(replace(s, new_pin=""), "new_pin", "pin_rules", "enter_new_pin")


def _extras(s: RetrievalState) -> R:
    return _to_menu(s, "extra")


def _set_greeting(choice: str) -> Callable[[RetrievalState], R]:
    def handler(s: RetrievalState) -> R:
        greetings = _box(s).greetings
        if choice == "personal" and "personal" not in greetings:
            return _to_menu(s, "greeting_choice", "no_personal_greeting")
        return _work(s, Effect("set_greeting", {"mailbox": _box(s).number, "choice": choice}))

    return handler


def _extra(kind: str) -> Callable[[RetrievalState], R]:
    def handler(s: RetrievalState) -> R:
        s = replace(s, extra=kind)
        return _to_menu(s, "extra_one", *_extra_status(s))

    return handler


def _extra_status(s: RetrievalState) -> tuple[str, ...]:
    box = _box(s)
    status = "extra_greeting_on" if box.extra_on.get(s.extra) else "extra_greeting_off"
    if s.extra not in box.greetings:
        return (status, "extra_greeting_not_recorded")
    return (status,)


def _extra_toggle(s: RetrievalState) -> R:
    box = _box(s)
    on = not box.extra_on.get(s.extra, False)
    return _work(s, Effect("set_extra", {"mailbox": box.number, "kind": s.extra, "on": on}))


def _extra_record(s: RetrievalState) -> R:
    return _record_start(s, s.extra, "extra_one")


def _extra_listen(s: RetrievalState) -> R:
    path = _box(s).greetings.get(s.extra)
    if path is None:
        return _to_menu(s, "extra_one", "extra_greeting_not_recorded")
    return _to_menu(s, "extra_one", path)


# recordings made by phone


_RECORD_PROMPT = {
    "personal": "record_greeting",
    "busy": "record_greeting",
    "no_answer": "record_greeting",
    "extended_absence": "record_greeting",
    "name": "record_name",
    "reply": "record_message",
    "send": "record_message",
}


def _record_start(s: RetrievalState, purpose: str, back: str) -> R:
    prompt = _RECORD_PROMPT[purpose]
    return play(
        s,
        _ids(s, prompt, "finish_with_pound", "beep"),
        barge_in=False,
        phase="rec_prompt",
        purpose=purpose,
        rec_back=back,
    )


def _rec_prompt_played(s: RetrievalState, _e: Event) -> R:
    box = _box(s)
    seconds = box.max_message_seconds if s.purpose in ("reply", "send") else GREETING_MAX_SECONDS
    return replace(s, phase="rec_recording"), [Record(s.record_path, seconds, box.silence_seconds)]


def _rec_prompt_digit(s: RetrievalState, e: DigitReceived) -> R:
    if e.digit == "*":
        return _rec_cancel(s)
    return s, []


def _rec_cancel(s: RetrievalState) -> R:
    return _to_menu(s, s.rec_back, "recording_cancelled")


def _rec_digit(s: RetrievalState, e: DigitReceived) -> R:
    return (s, [StopRecord()]) if e.digit == "#" else (s, [])


def _rec_finished(s: RetrievalState, e: RecordFinished) -> R:
    if e.reason == "hangup":
        return replace(s, phase="done"), [Exit()]
    return replace(s, phase="rec_measuring"), [Effect("measure", {"path": s.record_path})]


def _rec_measured(s: RetrievalState, e: EffectDone) -> R:
    if float(e.result or 0.0) < _box(s).min_voice_seconds:
        too_short = "message_too_short" if s.purpose in ("reply", "send") else "recording_cancelled"
        return _to_menu(s, s.rec_back, too_short)
    return _to_menu(s, "rec_review")


def _rec_keep(s: RetrievalState) -> R:
    box = _box(s)
    if s.purpose in ("reply", "send"):
        original = _message(s).id if s.purpose == "reply" else None
        return _work(
            s,
            Effect(
                "send",
                {
                    "mailbox": box.number,
                    "path": s.record_path,
                    "recipients": s.recipients,
                    "origin": "reply" if s.purpose == "reply" else "call",
                    "original": original,
                },
            ),
        )
    return _work(
        s,
        Effect("save_greeting", {"mailbox": box.number, "kind": s.purpose, "path": s.record_path}),
    )


def _rec_listen(s: RetrievalState) -> R:
    return _to_menu(s, "rec_review", s.record_path)


def _rec_again(s: RetrievalState) -> R:
    return _record_start(s, s.purpose, s.rec_back)


# destinations (send, forward)


def _destinations_done(s: RetrievalState) -> R:
    if not s.recipients:
        back = "message" if s.sending == "forward" else "main"
        return _to_menu(s, back, "no_destination")
    if s.sending == "forward":
        return _work(
            s,
            Effect(
                "forward",
                {"mailbox": _box(s).number, "id": _message(s).id, "recipients": s.recipients},
            ),
        )
    return _record_start(s, "send", "main")


# -- effect results ------------------------------------------------------------------------------


def _done_set_heard(s: RetrievalState, _e: EffectDone) -> R:
    return _present(s, s.cursor + 1, "message_marked_new")


def _done_save(s: RetrievalState, _e: EffectDone) -> R:
    return _present(s, s.cursor + 1, "message_saved")


def _done_delete(s: RetrievalState, _e: EffectDone) -> R:
    i = s.cursor
    msgs = s.messages[:i] + s.messages[i + 1 :]
    new_count = s.new_count - 1 if i < s.new_count else s.new_count
    return _present(replace(s, messages=msgs, new_count=new_count), i, "message_deleted")


def _done_destination(s: RetrievalState, e: EffectDone) -> R:
    outcome, value = e.result
    if outcome == "ok":
        added = tuple(n for n in value if n not in s.recipients)
        s = replace(s, recipients=s.recipients + added)
        return _collect(s, "destination", "destination_added", "enter_next_destination")
    nxt = "enter_next_destination" if s.recipients else "enter_destination"
    return _collect(s, "destination", str(value), nxt)


def _done_reply(s: RetrievalState, e: EffectDone) -> R:
    if not e.result:
        return _to_menu(s, "message", "reply_not_possible")
    return _record_start(replace(s, recipients=(str(e.result),)), "reply", "message")


def _done_send(s: RetrievalState, e: EffectDone) -> R:
    said = "message_sent" if e.result else "destination_refused"
    return _to_menu(s, s.rec_back, said)


def _done_forward(s: RetrievalState, e: EffectDone) -> R:
    said = "message_forwarded" if e.result else "destination_refused"
    return _to_menu(s, "message", said)


def _done_set_greeting(s: RetrievalState, e: EffectDone) -> R:
    choice: str = e.result
    box = _box(s)
    s = replace(s, box=replace(box, greeting=choice))
    if choice == "system_name" and "name" not in box.greetings:
        return _to_menu(s, "options", "greeting_choice_saved", "no_recorded_name")
    return _to_menu(s, "options", "greeting_choice_saved")


def _done_save_greeting(s: RetrievalState, e: EffectDone) -> R:
    kind, path = e.result
    box = _box(s)
    greetings = {**box.greetings, kind: path}
    choice = "personal" if kind == "personal" else box.greeting
    s = replace(s, box=replace(box, greetings=greetings, greeting=choice))
    said = "name_saved" if kind == "name" else "greeting_saved"
    if s.rec_back == "extra_one":
        return _to_menu(s, "extra_one", said)
    return _to_menu(s, s.rec_back, said)


def _done_set_extra(s: RetrievalState, e: EffectDone) -> R:
    on = bool(e.result)
    box = _box(s)
    s = replace(s, box=replace(box, extra_on={**box.extra_on, s.extra: on}))
    return _to_menu(s, "extra_one", "extra_greeting_on" if on else "extra_greeting_off")


def _done_change_pin(s: RetrievalState, e: EffectDone) -> R:
    return _to_menu(s, "options", "pin_changed" if e.result else "pin_not_changed")


def _closing_played(s: RetrievalState, _e: Event) -> R:
    return start_timer(s, HANGUP_GRACE)


def _closing_timeout(s: RetrievalState, _e: Event) -> R:
    return replace(s, phase="done"), [Hangup(), Exit()]


def _gone(s: RetrievalState, e: Event) -> R:
    heard: list[Action] = []
    unplayed = e.unplayed if isinstance(e, HungUp) else None
    if s.phase == "message" and unplayed is not None and unplayed <= HEARD_TAIL_SECONDS:
        s, heard = _heard(s)  # hung up as the message ended: it was heard
    return replace(s, phase="done"), [*heard, Exit()]


_KEYS: Mapping[str, Mapping[str, Callable[[RetrievalState], R]]] = {
    "main": {"1": _listen, "2": _compose, "3": _options, "#": _exit},
    "message": {
        "1": _replay,
        "2": _save,
        "3": _delete,
        "4": _reply,
        "5": _forward,
        "6": _envelope,
        "7": _mark_new,
        "#": _next,
    },
    "options": {
        "1": _record_personal,
        "2": _choose_greeting,
        "3": _record_name,
        "4": _change_pin,
        "5": _extras,
    },
    "greeting_choice": {
        "1": _set_greeting("personal"),
        "2": _set_greeting("system"),
        "3": _set_greeting("system_number"),
        "4": _set_greeting("system_name"),
    },
    "extra": {"1": _extra("busy"), "2": _extra("no_answer"), "3": _extra("extended_absence")},
    "extra_one": {"1": _extra_toggle, "2": _extra_record, "3": _extra_listen},
    "rec_review": {"1": _rec_keep, "2": _rec_listen, "3": _rec_again},
}
"""Menu -> key -> action (0 and * are handled for every menu)."""

_BACK: Mapping[str, Callable[[RetrievalState], R]] = {
    "main": lambda s: _to_menu(s, "main"),
    "message": lambda s: _to_menu(s, "main"),
    "options": lambda s: _to_menu(s, "main"),
    "greeting_choice": lambda s: _to_menu(s, "options"),
    "extra": lambda s: _to_menu(s, "options"),
    "extra_one": lambda s: _to_menu(s, "extra"),
    "rec_review": _rec_cancel,
}
"""Menu -> what * does (back one level)."""

TABLE: Mapping[tuple[str, str], Callable[[RetrievalState, Any], R]] = {
    ("new", "start"): _begin,
    ("collect", "played"): _collect_played,
    ("collect", "digit"): _collect_digit,
    ("collect", "timeout"): _collect_timeout,
    ("checking", "done:check_pin"): _checked,
    ("opening", "done:open"): _opened,
    ("menu", "played"): _menu_played,
    ("menu", "digit"): _menu_digit,
    ("menu", "timeout"): _menu_timeout,
    ("message", "played"): _message_played,
    ("message", "digit"): _message_digit,
    ("working", "done:set_heard"): _done_set_heard,
    ("working", "done:save"): _done_save,
    ("working", "done:delete"): _done_delete,
    ("working", "done:resolve_destination"): _done_destination,
    ("working", "done:resolve_reply"): _done_reply,
    ("working", "done:send"): _done_send,
    ("working", "done:forward"): _done_forward,
    ("working", "done:set_greeting"): _done_set_greeting,
    ("working", "done:save_greeting"): _done_save_greeting,
    ("working", "done:set_extra"): _done_set_extra,
    ("working", "done:change_pin"): _done_change_pin,
    ("rec_prompt", "played"): _rec_prompt_played,
    ("rec_prompt", "digit"): _rec_prompt_digit,
    ("rec_recording", "digit"): _rec_digit,
    ("rec_recording", "recorded"): _rec_finished,
    ("rec_measuring", "done:measure"): _rec_measured,
    ("closing", "played"): _closing_played,
    ("closing", "timeout"): _closing_timeout,
    ("*", "hangup"): _gone,
}
"""(phase, event key) -> handler; see the module docstring."""


class Retrieval:
    """step(state, event) -> (state, actions) for one retrieval call."""

    def step(self, state: RetrievalState, event: Event) -> tuple[RetrievalState, list[Action]]:
        return dispatch(TABLE, state, event)
