"""The retrieval machine, transition by transition (ivr/retrieval.py's tables)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ivr import retrieval
from ivr.dialog import (
    CancelTimer,
    DigitReceived,
    Effect,
    EffectDone,
    Exit,
    Hangup,
    HungUp,
    Play,
    PlayFinished,
    Record,
    RecordFinished,
    Started,
    StartTimer,
    StopRecord,
    TimerFired,
)
from ivr.envelope import MessageInfo, envelope, presentation
from ivr.machine import HANGUP_GRACE, Io, event_key, items
from ivr.retrieval import Box, FaxInfo, Opened, Retrieval, RetrievalState
from media import say
from tests.support.machines import check_step

pytestmark = pytest.mark.unit

BOX = "6135550100"
NOW = datetime(2025, 3, 5, 20, 0, tzinfo=UTC)
REC = "/var/spool/recordings/w0/x.phone.wav"
M1 = MessageInfo(1, False, True, False, "6135551234", NOW - timedelta(hours=2), 12.0, "/m/1.wav")
M2 = MessageInfo(2, False, False, True, None, NOW - timedelta(days=1), 5.0, "/m/2.wav")
M3 = MessageInfo(3, True, False, False, "4165550000", NOW - timedelta(days=3), 8.0, "/m/3.wav")
OPEN_BOX = Box(
    number=BOX,
    lang="fr",
    tz="America/Toronto",
    now=NOW,
    greetings={"personal": "/g/personal.wav", "busy": "/g/busy.wav"},
    extra_on={"busy": True, "no_answer": False, "extended_absence": False},
)


def fr(*ids: str | list[str]) -> tuple[str, ...]:
    flat: list[str] = []
    for i in ids:
        flat += [i] if isinstance(i, str) else i
    return items("fr", flat)


def menu(name: str, **kw: Any) -> tuple[str, ...]:
    table = {
        "main": say.MAIN_MENU,
        "message": say.MESSAGE_MENU,
        "options": say.OPTIONS_MENU,
        "greeting_choice": say.GREETING_CHOICE_MENU,
        "extra": say.EXTRA_GREETINGS_MENU,
        "rec_review": say.RECORDING_REVIEW_MENU,
    }
    if name == "extra_one":
        return fr(say.menu(say.extra_greeting_menu(**kw)))
    return fr(say.menu(table[name]))


def at(phase: str, *, tag: int = 4, timer: str = "", **changes: Any) -> RetrievalState:
    base = RetrievalState(phase="new", lang="fr", record_path=REC)
    return replace(base, phase=phase, io=Io(tag=tag, timer=timer, timers=2), **changes)


def logged(phase: str, **changes: Any) -> RetrievalState:
    """In a session: mailbox open, messages M1 (new), M2 (new), M3 (saved)."""
    values: dict[str, Any] = {
        "box": OPEN_BOX,
        "mailbox": BOX,
        "ask_mailbox": False,
        "messages": (M1, M2, M3),
        "new_count": 2,
    }
    values.update(changes)
    return at(phase, **values)


def in_menu(name: str, **changes: Any) -> RetrievalState:
    changes.setdefault("timer", "t2")
    return logged("menu", menu=name, **changes)


def play(audio: tuple[str, ...], tag: int = 5, barge_in: bool = True) -> Play:
    return Play(audio, barge_in, tag)


def key(d: str) -> DigitReceived:
    return DigitReceived(d)


def env(m: MessageInfo, **kw: Any) -> list[str]:
    return envelope(m, NOW, "America/Toronto", "fr", **kw)


def shown(m: MessageInfo) -> list[str]:
    return presentation(m, "both", NOW, "America/Toronto", "fr")


C = "t2"
"""The running key timer of `in_menu` states."""
CANCEL = CancelTimer(C)

CASES: list[tuple[str, RetrievalState, Any, str, list[Any], dict[str, Any]]] = [
    # -- login
    (
        "pilot: mailbox number first",
        at("new", tag=0),
        Started(),
        "collect",
        [play(fr("welcome", "enter_mailbox"), 1)],
        {"collecting": "mailbox"},
    ),
    (
        "known mailbox: PIN only",
        at("new", tag=0, mailbox=BOX, ask_mailbox=False),
        Started(),
        "collect",
        [play(fr("welcome", "enter_pin"), 1)],
        {"collecting": "pin"},
    ),
    (
        "own device with skip PIN: straight in",
        at("new", mailbox=BOX, ask_mailbox=False, skip_pin=True),
        Started(),
        "opening",
        [Effect("open", {"mailbox": BOX})],
        {},
    ),
    (
        "prompt said: digit timer",
        at("collect", collecting="mailbox"),
        PlayFinished(False, 4),
        "collect",
        [StartTimer("t3", retrieval.DIGIT_TIMEOUT)],
        {},
    ),
    (
        "a digit",
        at("collect", collecting="mailbox", digits="613", timer="t2"),
        key("5"),
        "collect",
        [CancelTimer("t2"), StartTimer("t3", retrieval.DIGIT_TIMEOUT)],
        {"digits": "6135"},
    ),
    ("A-D are not digits", at("collect", collecting="pin"), key("A"), "collect", [], {}),
    (
        "too many digits",
        at("collect", collecting="mailbox", digits="1" * 20),
        key("1"),
        "collect",
        [play(fr("invalid_choice", "enter_mailbox"))],
        {"digits": "", "misses": 1},
    ),
    (
        "mailbox number entered",
        at("collect", collecting="mailbox", digits=BOX, timer="t2"),
        key("#"),
        "collect",
        [CancelTimer("t2"), play(fr("enter_pin"))],
        {"mailbox": BOX, "collecting": "pin"},
    ),
    (
        "# on an empty mailbox number",
        at("collect", collecting="mailbox"),
        key("#"),
        "collect",
        [play(fr("invalid_choice", "enter_mailbox"))],
        {"misses": 1},
    ),
    (
        "PIN entered: checked",
        at("collect", collecting="pin", mailbox=BOX, digits="4826"),
        key("#"),
        "checking",
        [Effect("check_pin", {"mailbox": BOX, "pin": "4826"})],
        {"digits": ""},
    ),
    (
        "# on an empty PIN",
        at("collect", collecting="pin", mailbox=BOX),
        key("#"),
        "collect",
        [play(fr("invalid_choice", "enter_pin"))],
        {},
    ),
    (
        "time-out with digits submits",
        at("collect", collecting="mailbox", digits=BOX, timer="t2"),
        TimerFired("t2"),
        "collect",
        [play(fr("enter_pin"))],
        {"collecting": "pin"},
    ),
    (
        "time-out without digits",
        at("collect", collecting="pin", timer="t2"),
        TimerFired("t2"),
        "collect",
        [play(fr("no_response", "enter_pin"))],
        {"misses": 1},
    ),
    (
        "third time-out: goodbye",
        at("collect", collecting="pin", misses=2, timer="t2"),
        TimerFired("t2"),
        "closing",
        [play(fr("goodbye"), barge_in=False)],
        {},
    ),
    (
        "* at the mailbox number starts it again",
        at("collect", collecting="mailbox", digits="61"),
        key("*"),
        "collect",
        [play(fr("enter_mailbox"))],
        {"digits": ""},
    ),
    (
        "* at the PIN goes back to the mailbox number",
        at("collect", collecting="pin", mailbox=BOX),
        key("*"),
        "collect",
        [play(fr("enter_mailbox"))],
        {"collecting": "mailbox"},
    ),
    (
        "* at the PIN of a known mailbox asks it again",
        at("collect", collecting="pin", mailbox=BOX, ask_mailbox=False),
        key("*"),
        "collect",
        [play(fr("enter_pin"))],
        {"collecting": "pin"},
    ),
    (
        "right PIN: open",
        at("checking", mailbox=BOX),
        EffectDone("check_pin", "ok"),
        "opening",
        [Effect("open", {"mailbox": BOX})],
        {},
    ),
    (
        "locked",
        at("checking", mailbox=BOX),
        EffectDone("check_pin", "locked"),
        "closing",
        [play(fr("mailbox_locked", "goodbye"), barge_in=False)],
        {},
    ),
    (
        "wrong PIN: both again",
        at("checking", mailbox=BOX),
        EffectDone("check_pin", "wrong"),
        "collect",
        [play(fr("login_incorrect", "enter_mailbox"))],
        {"attempts": 1, "collecting": "mailbox"},
    ),
    (
        "wrong PIN of a known mailbox: PIN again",
        at("checking", mailbox=BOX, ask_mailbox=False, attempts=1),
        EffectDone("check_pin", "wrong"),
        "collect",
        [play(fr("login_incorrect", "enter_pin"))],
        {"attempts": 2},
    ),
    (
        "third wrong PIN ends the call",
        at("checking", mailbox=BOX, attempts=2),
        EffectDone("check_pin", "wrong"),
        "closing",
        [play(fr("login_incorrect", "too_many_attempts", "goodbye"), barge_in=False)],
        {},
    ),
    # -- session start
    (
        "opened: counts then main menu",
        at("opening", mailbox=BOX),
        EffectDone("open", Opened(OPEN_BOX, (M3, M1, M2))),
        "menu",
        [play(fr(say.mailbox_summary(2, 1, "fr")) + menu("main"))],
        {"messages": (M1, M2, M3), "new_count": 2, "menu": "main", "lang": "fr"},
    ),
    (
        "opened with voice autoplay: first new message at once",
        at("opening", mailbox=BOX),
        EffectDone("open", Opened(replace(OPEN_BOX, autoplay_voice=True), (M1, M3))),
        "message",
        [play(fr(say.mailbox_summary(1, 1, "fr"), "first_new_message", shown(M1)))],
        {"cursor": 0},
    ),
    (
        "opened with fax autoplay, nearly full",
        at("opening", mailbox=BOX),
        EffectDone(
            "open", Opened(replace(OPEN_BOX, autoplay_fax=True, fax_new=2, almost_full=True), ())
        ),
        "menu",
        [
            play(
                fr(
                    say.mailbox_summary(0, 0, "fr", new_faxes=2),
                    "faxes_on_portal",
                    "mailbox_almost_full",
                )
                + menu("main")
            )
        ],
        {},
    ),
    (
        "opened with fax autoplay: each new fax's envelope, then where to see them",
        at("opening", mailbox=BOX),
        EffectDone(
            "open",
            Opened(
                replace(
                    OPEN_BOX,
                    autoplay_fax=True,
                    fax_new=2,
                    new_faxes=(
                        FaxInfo("6135550188", NOW - timedelta(hours=3), 3),
                        FaxInfo(None, NOW - timedelta(minutes=5), 1),
                    ),
                ),
                (),
            ),
        ),
        "menu",
        [
            play(
                fr(
                    say.mailbox_summary(0, 0, "fr", new_faxes=2),
                    say.PAUSE,
                    say.fax_envelope(
                        "6135550188", NOW - timedelta(hours=3), 3, NOW, OPEN_BOX.tz, "fr"
                    ),
                    say.PAUSE,
                    say.fax_envelope(None, NOW - timedelta(minutes=5), 1, NOW, OPEN_BOX.tz, "fr"),
                    say.PAUSE,
                    "faxes_on_portal",
                )
                + menu("main")
            )
        ],
        {},
    ),
    (
        "opened, full, in English",
        at("opening", mailbox=BOX),
        EffectDone("open", Opened(replace(OPEN_BOX, lang="en", full=True, fax_new=1), (M3,))),
        "menu",
        [
            play(
                items(
                    "en",
                    [
                        *say.mailbox_summary(0, 1, "en"),
                        "own_mailbox_full",
                        *say.menu(say.MAIN_MENU),
                    ],
                )
            )
        ],
        {"lang": "en"},
    ),
    # -- menus in general
    (
        "menu said: key timer",
        in_menu("main", timer=""),
        PlayFinished(False, 4),
        "menu",
        [StartTimer("t3", retrieval.KEY_TIMEOUT)],
        {},
    ),
    (
        "no key: said again",
        in_menu("main"),
        TimerFired(C),
        "menu",
        [play(fr("no_response") + menu("main"))],
        {"misses": 1},
    ),
    (
        "third time-out in a menu: goodbye",
        in_menu("options", misses=2),
        TimerFired(C),
        "closing",
        [play(fr("goodbye"), barge_in=False)],
        {},
    ),
    (
        "invalid key",
        in_menu("main"),
        key("9"),
        "menu",
        [CANCEL, play(fr("invalid_choice") + menu("main"))],
        {"misses": 1},
    ),
    (
        "0: help",
        in_menu("options"),
        key("0"),
        "menu",
        [CANCEL, play(fr("help_keys") + menu("options"))],
        {"menu": "options"},
    ),
    # -- main menu
    (
        "1 listens: new first",
        in_menu("main", messages=(M3, M1, M2), new_count=0),
        key("1"),
        "message",
        [CANCEL, play(fr("first_new_message", shown(M1)))],
        {"messages": (M1, M2, M3), "new_count": 2, "cursor": 0},
    ),
    (
        "1 with no message",
        in_menu("main", messages=()),
        key("1"),
        "menu",
        [CANCEL, play(fr("you_have_not", "count_no_messages") + menu("main"))],
        {},
    ),
    (
        "2 sends a message: destination first",
        in_menu("main"),
        key("2"),
        "collect",
        [CANCEL, play(fr("enter_destination"))],
        {"sending": "send", "collecting": "destination"},
    ),
    (
        "3 options",
        in_menu("main"),
        key("3"),
        "menu",
        [CANCEL, play(menu("options"))],
        {"menu": "options"},
    ),
    (
        "# leaves",
        in_menu("main"),
        key("#"),
        "closing",
        [CANCEL, play(fr("goodbye"), barge_in=False)],
        {},
    ),
    (
        "* at the top: the main menu again",
        in_menu("main"),
        key("*"),
        "menu",
        [CANCEL, play(menu("main"))],
        {},
    ),
    # -- a message
    (
        "message played: heard, message menu",
        logged("message", cursor=0),
        PlayFinished(False, 4),
        "menu",
        [Effect("set_heard", {"mailbox": BOX, "id": 1, "heard": True}), play(menu("message"))],
        {"menu": "message"},
    ),
    (
        "a heard message played again: just the menu",
        logged("message", cursor=2),
        PlayFinished(False, 4),
        "menu",
        [play(menu("message"))],
        {},
    ),
    (
        "a key while the message plays",
        logged("message", cursor=0),
        key("#"),
        "message",
        [play(fr("next_message", shown(M2)))],
        {"cursor": 1},
    ),
    (
        "1 replays the audio",
        in_menu("message", cursor=0),
        key("1"),
        "message",
        [CANCEL, play(("/m/1.wav",))],
        {},
    ),
    (
        "2 saves",
        in_menu("message", cursor=1),
        key("2"),
        "working",
        [CANCEL, Effect("save", {"mailbox": BOX, "id": 2})],
        {},
    ),
    (
        "3 deletes",
        in_menu("message", cursor=0),
        key("3"),
        "working",
        [CANCEL, Effect("delete", {"mailbox": BOX, "id": 1})],
        {},
    ),
    (
        "4 replies to a local caller",
        in_menu("message", cursor=0),
        key("4"),
        "working",
        [CANCEL, Effect("resolve_reply", {"mailbox": BOX, "number": "6135551234"})],
        {},
    ),
    (
        "4 on an anonymous private message: refused",
        in_menu("message", cursor=1),
        key("4"),
        "menu",
        [CANCEL, play(fr("reply_not_possible") + menu("message"))],
        {},
    ),
    (
        "5 forwards: destination first",
        in_menu("message", cursor=0),
        key("5"),
        "collect",
        [CANCEL, play(fr("enter_destination"))],
        {"sending": "forward"},
    ),
    (
        "5 on a private message: refused",
        in_menu("message", cursor=1),
        key("5"),
        "menu",
        [CANCEL, play(fr("private_not_forwardable") + menu("message"))],
        {},
    ),
    (
        "6 says the envelope with the length",
        in_menu("message", cursor=0),
        key("6"),
        "menu",
        [CANCEL, play(fr(env(M1, with_length=True)) + menu("message"))],
        {},
    ),
    (
        "7 marks new",
        in_menu("message", cursor=2),
        key("7"),
        "working",
        [CANCEL, Effect("set_heard", {"mailbox": BOX, "id": 3, "heard": False})],
        {},
    ),
    (
        "# next: the saved ones",
        in_menu("message", cursor=1),
        key("#"),
        "message",
        [CANCEL, play(fr("saved_messages", shown(M3)))],
        {"cursor": 2},
    ),
    (
        "# after the last",
        in_menu("message", cursor=2),
        key("#"),
        "menu",
        [CANCEL, play(fr("no_more_messages") + menu("main"))],
        {"menu": "main"},
    ),
    (
        "* main menu",
        in_menu("message", cursor=0),
        key("*"),
        "menu",
        [CANCEL, play(menu("main"))],
        {"menu": "main"},
    ),
    (
        "saved",
        logged("working", cursor=0),
        EffectDone("save", True),
        "message",
        [play(fr("message_saved", "next_message", shown(M2)))],
        {"cursor": 1},
    ),
    (
        "deleted: the next one comes up",
        logged("working", cursor=0),
        EffectDone("delete", True),
        "message",
        [play(fr("message_deleted", "first_new_message", shown(M2)))],
        {"messages": (M2, M3), "new_count": 1, "cursor": 0},
    ),
    (
        "marked new",
        logged("working", cursor=1),
        EffectDone("set_heard", False),
        "message",
        [play(fr("message_marked_new", "saved_messages", shown(M3)))],
        {"cursor": 2},
    ),
    # -- destinations
    (
        "a destination entered",
        logged(
            "collect", collecting="destination", sending="forward", cursor=0, digits="6135550111"
        ),
        key("#"),
        "working",
        [Effect("resolve_destination", {"mailbox": BOX, "number": "6135550111"})],
        {},
    ),
    (
        "destination added",
        logged("working", sending="forward"),
        EffectDone("resolve_destination", ("ok", ("6135550111",))),
        "collect",
        [play(fr("destination_added", "enter_next_destination"))],
        {"recipients": ("6135550111",)},
    ),
    (
        "destination refused",
        logged("working", sending="forward"),
        EffectDone("resolve_destination", ("error", "destination_no_mailbox")),
        "collect",
        [play(fr("destination_no_mailbox", "enter_destination"))],
        {"recipients": ()},
    ),
    (
        "# ends the list: forward",
        logged(
            "collect",
            collecting="destination",
            sending="forward",
            cursor=0,
            recipients=("6135550111",),
        ),
        key("#"),
        "working",
        [Effect("forward", {"mailbox": BOX, "id": 1, "recipients": ("6135550111",)})],
        {},
    ),
    (
        "# ends the list: record the message",
        logged("collect", collecting="destination", sending="send", recipients=("6135550111",)),
        key("#"),
        "rec_prompt",
        [play(fr("record_message", "finish_with_pound", "beep"), barge_in=False)],
        {"purpose": "send", "rec_back": "main"},
    ),
    (
        "# with no destination",
        logged("collect", collecting="destination", sending="send"),
        key("#"),
        "menu",
        [play(fr("no_destination") + menu("main"))],
        {},
    ),
    (
        "* leaves the destinations",
        logged("collect", collecting="destination", sending="forward"),
        key("*"),
        "menu",
        [play(menu("message"))],
        {"menu": "message"},
    ),
    (
        "forwarded",
        logged("working"),
        EffectDone("forward", 1),
        "menu",
        [play(fr("message_forwarded") + menu("message"))],
        {},
    ),
    (
        "forward delivered nowhere",
        logged("working"),
        EffectDone("forward", 0),
        "menu",
        [play(fr("destination_refused") + menu("message"))],
        {},
    ),
    (
        "reply: the caller is local",
        logged("working", cursor=0),
        EffectDone("resolve_reply", "6135551234"),
        "rec_prompt",
        [play(fr("record_message", "finish_with_pound", "beep"), barge_in=False)],
        {"recipients": ("6135551234",), "purpose": "reply", "rec_back": "message"},
    ),
    (
        "reply: the caller is not local",
        logged("working", cursor=0),
        EffectDone("resolve_reply", None),
        "menu",
        [play(fr("reply_not_possible") + menu("message"))],
        {},
    ),
    (
        "sent",
        logged("working", rec_back="main"),
        EffectDone("send", 2),
        "menu",
        [play(fr("message_sent") + menu("main"))],
        {},
    ),
    (
        "sent nowhere",
        logged("working", rec_back="message"),
        EffectDone("send", 0),
        "menu",
        [play(fr("destination_refused") + menu("message"))],
        {},
    ),
    # -- recordings by phone
    (
        "prompt said: record",
        logged("rec_prompt", purpose="personal"),
        PlayFinished(False, 4),
        "rec_recording",
        [Record(REC, retrieval.GREETING_MAX_SECONDS, 5.0)],
        {},
    ),
    (
        "a message records up to the mailbox's length",
        logged("rec_prompt", purpose="reply"),
        PlayFinished(False, 4),
        "rec_recording",
        [Record(REC, 180.0, 5.0)],
        {},
    ),
    (
        "* cancels before the beep",
        logged("rec_prompt", purpose="name", rec_back="options"),
        key("*"),
        "menu",
        [play(fr("recording_cancelled") + menu("options"))],
        {},
    ),
    ("other keys during the prompt", logged("rec_prompt"), key("5"), "rec_prompt", [], {}),
    ("# stops", logged("rec_recording"), key("#"), "rec_recording", [StopRecord()], {}),
    ("other keys while recording", logged("rec_recording"), key("2"), "rec_recording", [], {}),
    (
        "recorded: measured",
        logged("rec_recording"),
        RecordFinished(REC, 3.0, "stopped"),
        "rec_measuring",
        [Effect("measure", {"path": REC})],
        {},
    ),
    (
        "hang-up while recording: nothing kept",
        logged("rec_recording"),
        RecordFinished(REC, 3.0, "hangup"),
        "done",
        [Exit()],
        {},
    ),
    (
        "too little voice for a greeting",
        logged("rec_measuring", purpose="personal", rec_back="options"),
        EffectDone("measure", 0.2),
        "menu",
        [play(fr("recording_cancelled") + menu("options"))],
        {},
    ),
    (
        "too little voice for a message",
        logged("rec_measuring", purpose="send", rec_back="main"),
        EffectDone("measure", 0.2),
        "menu",
        [play(fr("message_too_short") + menu("main"))],
        {},
    ),
    (
        "enough voice: review",
        logged("rec_measuring", purpose="name"),
        EffectDone("measure", 2.0),
        "menu",
        [play(menu("rec_review"))],
        {"menu": "rec_review"},
    ),
    (
        "1 keeps a greeting",
        in_menu("rec_review", purpose="busy"),
        key("1"),
        "working",
        [CANCEL, Effect("save_greeting", {"mailbox": BOX, "kind": "busy", "path": REC})],
        {},
    ),
    (
        "1 sends a reply",
        in_menu("rec_review", purpose="reply", cursor=0, recipients=("6135551234",)),
        key("1"),
        "working",
        [
            CANCEL,
            Effect(
                "send",
                {
                    "mailbox": BOX,
                    "path": REC,
                    "recipients": ("6135551234",),
                    "origin": "reply",
                    "original": 1,
                },
            ),
        ],
        {},
    ),
    (
        "1 sends a new message",
        in_menu("rec_review", purpose="send", recipients=("6135550111",)),
        key("1"),
        "working",
        [
            CANCEL,
            Effect(
                "send",
                {
                    "mailbox": BOX,
                    "path": REC,
                    "recipients": ("6135550111",),
                    "origin": "call",
                    "original": None,
                },
            ),
        ],
        {},
    ),
    (
        "2 plays it",
        in_menu("rec_review"),
        key("2"),
        "menu",
        [CANCEL, play((REC, *menu("rec_review")))],
        {},
    ),
    (
        "3 records again",
        in_menu("rec_review", purpose="name", rec_back="options"),
        key("3"),
        "rec_prompt",
        [CANCEL, play(fr("record_name", "finish_with_pound", "beep"), barge_in=False)],
        {},
    ),
    (
        "* cancels",
        in_menu("rec_review", rec_back="extra_one", extra="busy"),
        key("*"),
        "menu",
        [CANCEL, play(fr("recording_cancelled") + menu("extra_one", on=True))],
        {},
    ),
    (
        "greeting kept: becomes the greeting",
        logged("working", rec_back="options"),
        EffectDone("save_greeting", ("personal", "/g/new.wav")),
        "menu",
        [play(fr("greeting_saved") + menu("options"))],
        {},
    ),
    (
        "name kept",
        logged("working", rec_back="options"),
        EffectDone("save_greeting", ("name", "/g/name.wav")),
        "menu",
        [play(fr("name_saved") + menu("options"))],
        {},
    ),
    (
        "extra greeting kept",
        logged("working", rec_back="extra_one", extra="no_answer"),
        EffectDone("save_greeting", ("no_answer", "/g/na.wav")),
        "menu",
        [play(fr("greeting_saved") + menu("extra_one", on=False))],
        {},
    ),
    # -- options
    (
        "1 records the greeting",
        in_menu("options"),
        key("1"),
        "rec_prompt",
        [CANCEL, play(fr("record_greeting", "finish_with_pound", "beep"), barge_in=False)],
        {"purpose": "personal", "rec_back": "options"},
    ),
    (
        "2 chooses the greeting",
        in_menu("options"),
        key("2"),
        "menu",
        [CANCEL, play(fr("current_greeting_is", "greeting_kind_system") + menu("greeting_choice"))],
        {"menu": "greeting_choice"},
    ),
    (
        "3 records the name",
        in_menu("options"),
        key("3"),
        "rec_prompt",
        [CANCEL, play(fr("record_name", "finish_with_pound", "beep"), barge_in=False)],
        {"purpose": "name"},
    ),
    (
        "4 changes the PIN",
        in_menu("options"),
        key("4"),
        "collect",
        [CANCEL, play(fr("pin_rules", "enter_new_pin"))],
        {"collecting": "new_pin"},
    ),
    (
        "5 extra greetings",
        in_menu("options"),
        key("5"),
        "menu",
        [CANCEL, play(menu("extra"))],
        {"menu": "extra"},
    ),
    (
        "* back to the main menu",
        in_menu("options"),
        key("*"),
        "menu",
        [CANCEL, play(menu("main"))],
        {"menu": "main"},
    ),
    (
        "choose personal",
        in_menu("greeting_choice"),
        key("1"),
        "working",
        [CANCEL, Effect("set_greeting", {"mailbox": BOX, "choice": "personal"})],
        {},
    ),
    (
        "choose personal without one",
        in_menu("greeting_choice", box=replace(OPEN_BOX, greetings={})),
        key("1"),
        "menu",
        [CANCEL, play(fr("no_personal_greeting") + menu("greeting_choice"))],
        {},
    ),
    (
        "choose system",
        in_menu("greeting_choice"),
        key("2"),
        "working",
        [CANCEL, Effect("set_greeting", {"mailbox": BOX, "choice": "system"})],
        {},
    ),
    (
        "choose system + number",
        in_menu("greeting_choice"),
        key("3"),
        "working",
        [CANCEL, Effect("set_greeting", {"mailbox": BOX, "choice": "system_number"})],
        {},
    ),
    (
        "choose system + name",
        in_menu("greeting_choice"),
        key("4"),
        "working",
        [CANCEL, Effect("set_greeting", {"mailbox": BOX, "choice": "system_name"})],
        {},
    ),
    (
        "* back to options",
        in_menu("greeting_choice"),
        key("*"),
        "menu",
        [CANCEL, play(menu("options"))],
        {"menu": "options"},
    ),
    (
        "choice saved",
        logged("working"),
        EffectDone("set_greeting", "system_number"),
        "menu",
        [play(fr("greeting_choice_saved") + menu("options"))],
        {},
    ),
    (
        "system + name without a name: said so",
        logged("working"),
        EffectDone("set_greeting", "system_name"),
        "menu",
        [play(fr("greeting_choice_saved", "no_recorded_name") + menu("options"))],
        {},
    ),
    (
        "extra: busy (on, recorded)",
        in_menu("extra"),
        key("1"),
        "menu",
        [CANCEL, play(fr("extra_greeting_on") + menu("extra_one", on=True))],
        {"extra": "busy", "menu": "extra_one"},
    ),
    (
        "extra: no answer (off, not recorded)",
        in_menu("extra"),
        key("2"),
        "menu",
        [
            CANCEL,
            play(
                fr("extra_greeting_off", "extra_greeting_not_recorded")
                + menu("extra_one", on=False)
            ),
        ],
        {"extra": "no_answer"},
    ),
    (
        "extra: extended absence",
        in_menu("extra"),
        key("3"),
        "menu",
        [
            CANCEL,
            play(
                fr("extra_greeting_off", "extra_greeting_not_recorded")
                + menu("extra_one", on=False)
            ),
        ],
        {"extra": "extended_absence"},
    ),
    (
        "* back from the extra greetings",
        in_menu("extra"),
        key("*"),
        "menu",
        [CANCEL, play(menu("options"))],
        {},
    ),
    (
        "1 toggles",
        in_menu("extra_one", extra="busy"),
        key("1"),
        "working",
        [CANCEL, Effect("set_extra", {"mailbox": BOX, "kind": "busy", "on": False})],
        {},
    ),
    (
        "2 records it",
        in_menu("extra_one", extra="extended_absence"),
        key("2"),
        "rec_prompt",
        [CANCEL, play(fr("record_greeting", "finish_with_pound", "beep"), barge_in=False)],
        {"purpose": "extended_absence", "rec_back": "extra_one"},
    ),
    (
        "3 plays it",
        in_menu("extra_one", extra="busy"),
        key("3"),
        "menu",
        [CANCEL, play(("/g/busy.wav", *menu("extra_one", on=True)))],
        {},
    ),
    (
        "3 without a recording",
        in_menu("extra_one", extra="no_answer"),
        key("3"),
        "menu",
        [CANCEL, play(fr("extra_greeting_not_recorded") + menu("extra_one", on=False))],
        {},
    ),
    (
        "* back to the extra greetings",
        in_menu("extra_one", extra="busy"),
        key("*"),
        "menu",
        [CANCEL, play(menu("extra"))],
        {"menu": "extra"},
    ),
    (
        "toggled",
        logged("working", extra="no_answer"),
        EffectDone("set_extra", True),
        "menu",
        [play(fr("extra_greeting_on") + menu("extra_one", on=True))],
        {},
    ),
    # -- PIN change
    (
        "a new PIN breaking a rule",
        logged("collect", collecting="new_pin", digits="1111"),
        key("#"),
        "menu",
        [play(fr("pin_error_repeated", "pin_not_changed") + menu("options"))],
        {},
    ),
    (
        "a good new PIN: confirm",
        logged("collect", collecting="new_pin", digits="2580"),
        key("#"),
        "collect",
        [play(fr("confirm_new_pin"))],
        {"collecting": "confirm_pin", "new_pin": "2580"},
    ),
    (
        "confirmation differs",
        logged("collect", collecting="confirm_pin", new_pin="2580", digits="2581"),
        key("#"),
        "menu",
        [play(fr("pin_mismatch", "pin_not_changed") + menu("options"))],
        {"new_pin": ""},
    ),
    (
        "confirmed: changed",
        logged("collect", collecting="confirm_pin", new_pin="2580", digits="2580"),
        key("#"),
        "working",
        [Effect("change_pin", {"mailbox": BOX, "pin": "2580"})],
        {"new_pin": ""},
    ),
    (
        "* while entering a new PIN",
        logged("collect", collecting="new_pin", digits="25"),
        key("*"),
        "menu",
        [play(fr("pin_not_changed") + menu("options"))],
        {},
    ),
    (
        "PIN changed",
        logged("working"),
        EffectDone("change_pin", True),
        "menu",
        [play(fr("pin_changed") + menu("options"))],
        {},
    ),
    (
        "PIN not changed",
        logged("working"),
        EffectDone("change_pin", False),
        "menu",
        [play(fr("pin_not_changed") + menu("options"))],
        {},
    ),
    # -- the end
    (
        "goodbye said: grace",
        at("closing"),
        PlayFinished(False, 4),
        "closing",
        [StartTimer("t3", HANGUP_GRACE)],
        {},
    ),
    (
        "grace over: hang up",
        at("closing", timer="t2"),
        TimerFired("t2"),
        "done",
        [Hangup(), Exit()],
        {},
    ),
    ("hang-up anywhere", in_menu("message"), HungUp(), "done", [Exit()], {}),
    (
        "hang-up as a new message ends: heard",
        logged("message", cursor=0),
        HungUp(unplayed=retrieval.HEARD_TAIL_SECONDS),
        "done",
        [Effect("set_heard", {"mailbox": BOX, "id": 1, "heard": True}), Exit()],
        {},
    ),
    (
        "hang-up before a new message's last second: still new",
        logged("message", cursor=0),
        HungUp(unplayed=retrieval.HEARD_TAIL_SECONDS + 0.1),
        "done",
        [Exit()],
        {},
    ),
    (
        "hang-up as a heard message ends: nothing to mark",
        logged("message", cursor=2),
        HungUp(unplayed=0.2),
        "done",
        [Exit()],
        {},
    ),
    (
        "hang-up in the menu after a message, nothing playing: nothing to mark",
        in_menu("message", cursor=0),
        HungUp(unplayed=0.0),
        "done",
        [Exit()],
        {},
    ),
]


@pytest.mark.parametrize(
    ("state", "event", "phase", "actions", "changes"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_transition(
    state: RetrievalState, event: Any, phase: str, actions: list[Any], changes: dict[str, Any]
) -> None:
    check_step(Retrieval(), state, event, phase, actions, changes)


def test_every_table_entry_has_a_case() -> None:
    covered = {(c[1].phase, event_key(c[2])) for c in CASES}
    assert set(retrieval.TABLE) - {("*", "hangup")} <= covered


def test_every_menu_key_has_a_case() -> None:
    covered = {
        (c[1].menu, c[2].digit)
        for c in CASES
        if c[1].phase == "menu" and isinstance(c[2], DigitReceived)
    }
    keys = {(m, k) for m, table in retrieval._KEYS.items() for k in table}
    backs = {(m, "*") for m in retrieval._BACK}
    assert keys | backs <= covered


def test_a_barged_in_prompt_does_not_end_twice() -> None:
    """The end of a menu cut short by a key is not taken for the end of what came next."""
    m = Retrieval()
    s = in_menu("main", timer="")
    s, actions = m.step(s, key("3"))
    assert actions == [play(menu("options"))]
    s, actions = m.step(s, PlayFinished(True, 4))  # the main menu's end, after the key
    assert actions == [] and s.menu == "options"
    s, actions = m.step(s, PlayFinished(False, 5))
    assert actions == [StartTimer("t3", retrieval.KEY_TIMEOUT)]


def test_a_message_that_could_not_be_played_stays_new() -> None:
    """The switch ends a play at once, silent, when none of its files could be played (the
    message's file is gone): the message menu follows as usual, but nothing reached the
    caller, so the message is not heard."""
    m = Retrieval()
    s = in_menu("main", timer="")
    s, _ = m.step(s, key("1"))
    s, actions = m.step(s, PlayFinished(False, 5, silent=True))
    assert not any(isinstance(a, Effect) for a in actions)
    assert not s.messages[0].heard
    assert s.phase == "menu" and s.menu == "message"
    s, actions = m.step(s, key("1"))  # replay (the message menu was tag 6): this time it plays
    assert actions == [play(("/m/1.wav",), tag=7)]
    s, actions = m.step(s, PlayFinished(False, 7))
    assert actions[0] == Effect("set_heard", {"mailbox": BOX, "id": 1, "heard": True})


def test_listening_marks_heard_and_mark_new_keeps_the_place() -> None:
    m = Retrieval()
    s = in_menu("main", timer="")
    s, _ = m.step(s, key("1"))
    s, actions = m.step(s, PlayFinished(False, 5))
    assert actions[0] == Effect("set_heard", {"mailbox": BOX, "id": 1, "heard": True})
    assert s.messages[0].heard
    s, _ = m.step(s, EffectDone("set_heard", True))  # arrives in the menu: nothing to do
    assert s.phase == "menu" and s.menu == "message"
    s, actions = m.step(s, key("7"))
    assert actions == [Effect("set_heard", {"mailbox": BOX, "id": 1, "heard": False})]
    assert not s.messages[0].heard
