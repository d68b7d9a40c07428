"""The switch's pure parts: request parsing, the deposit dialog table, trimming, trunk URIs."""

from __future__ import annotations

import numpy as np
import pytest

from switch.deposit import Deposit, DepositState
from switch.dialog import (
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
    StopRecord,
)
from switch.legs import trunk_uri_for
from switch.sipmsg import parse_name_addr, parse_request, privacy_values, quote_display, uri_user
from switch.voicemail import trim_silence

pytestmark = pytest.mark.unit

INVITE = (
    "INVITE sip:6135550100@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\n"
    'f: "Jean \\"JT\\" Tremblay" <sip:+16135551234@gw.example.net>;tag=1\r\n'
    "To: <sip:6135550100@127.0.0.1>\r\n"
    "i: abc@host\r\n"
    "Privacy: id;header\r\n"
    "Diversion: <sip:6135550101@x>;reason=no-answer\r\n"
    "Diversion: <sip:6135550102@x>;reason=user-busy\r\n"
    "Subject: folded\r\n  continuation\r\n"
    "Content-Length: 0\r\n\r\n"
)


def test_parse_request_reads_compact_forms_repeats_and_folding() -> None:
    req = parse_request(INVITE)
    assert (req.method, req.uri) == ("INVITE", "sip:6135550100@127.0.0.1:5060")
    assert req.first("call-id") == "abc@host"
    assert len(req.values("diversion")) == 2
    assert req.first("subject") == "folded continuation"
    assert privacy_values(req) == frozenset({"id", "header"})
    addr = parse_name_addr(req.first("from") or "")
    assert addr.display == 'Jean "JT" Tremblay'
    assert addr.user == "+16135551234"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("garbage\r\n\r\n", "not a SIP request line: 'garbage'"),
        (
            "INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n",
            "malformed header line: 'no colon here'",
        ),
    ],
)
def test_parse_request_refuses_what_it_cannot_read(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_request(text)
    assert str(exc.value) == message


def test_uri_user_and_display_quoting() -> None:
    assert uri_user("sip:6135550100;npdi@host;user=phone") == "6135550100"
    assert uri_user("tel:+16135550100") == "+16135550100"
    assert uri_user("sip:host.example.net") is None
    assert quote_display('A "B" \\ C\r\n') == '"A \\"B\\" \\\\ C"'


def test_trunk_uri_for() -> None:
    assert (
        trunk_uri_for("sip:gw.example.net:5060", "6135550100")
        == "sip:6135550100@gw.example.net:5060"
    )
    assert trunk_uri_for("sips:user@gw", "1234") == "sips:1234@gw"
    assert trunk_uri_for("", "6135550100") is None


STATE = DepositState(
    phase="waiting",
    greeting=("g.wav",),
    beep=("b.wav",),
    full_prompt=("f.wav",),
    goodbye=("bye.wav",),
    record_path="/spool/r.wav",
    max_seconds=180.0,
    mailbox_full=False,
)


def run(events: list[object], state: DepositState = STATE) -> tuple[DepositState, list[object]]:
    machine = Deposit()
    actions: list[object] = []
    for e in events:
        state, acts = machine.step(state, e)  # type: ignore[arg-type]
        actions += acts
    return state, actions


def test_deposit_greeting_beep_record_deliver_goodbye() -> None:
    state, actions = run(
        [
            Started(),
            DigitReceived("#"),
            PlayFinished(True),
            PlayFinished(False),
            DigitReceived("#"),
            RecordFinished("/spool/r.wav", 3.0, "stopped"),
            EffectDone("deliver", 7),
            PlayFinished(False),
        ]
    )
    assert actions == [
        Play(("g.wav",), True),
        Play(("b.wav",), False),
        Record("/spool/r.wav", 180.0),
        StopRecord(),
        Effect("deliver", {"path": "/spool/r.wav", "seconds": 3.0, "reason": "stopped"}),
        Play(("bye.wav",), False),
        Hangup(),
        Exit(),
    ]
    assert state.phase == "done"


def test_deposit_hangup_during_greeting_is_abandoned_and_full_mailbox_hangs_up() -> None:
    _, actions = run([Started(), HungUp()])
    assert actions[-2:] == [Effect("abandon"), Exit()]
    full = DepositState(**{**STATE.__dict__, "mailbox_full": True})
    _, actions = run([Started(), PlayFinished(False)], full)
    assert actions == [Play(("f.wav",), False), Hangup(), Effect("full"), Exit()]


def test_deposit_hangup_while_recording_delivers_then_exits() -> None:
    _, actions = run(
        [
            Started(),
            PlayFinished(False),
            PlayFinished(False),
            RecordFinished("/spool/r.wav", 2.0, "hangup"),
            HungUp(),
            EffectDone("deliver", 1),
        ]
    )
    assert actions[-2:] == [
        Effect("deliver", {"path": "/spool/r.wav", "seconds": 2.0, "reason": "hangup"}),
        Exit(),
    ]


def test_trim_silence_keeps_the_voiced_part_to_the_sample() -> None:
    t = np.arange(8000) / 8000
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")
    x = np.concatenate([np.zeros(333, "<i2"), tone, np.zeros(4000, "<i2")])
    assert abs(len(trim_silence(x)) - 8000) <= 20  # within a few samples of the tone
    assert len(trim_silence(np.zeros(8000, "<i2"))) == 0
