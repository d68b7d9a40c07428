"""Answer confirmation on ring-table legs over real SIP (issue 17): SIPp outside numbers that
press 1, that answer like a mobile's voicemail and never press it, and both at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routing.model import ACCOUNT_PHONE, IncomingMode, RingEntry, RingTable
from tests.support.sip import (
    Message,
    RtpCapture,
    Sipp,
    SwitchUnderTest,
    dominant_hz,
    free_ports,
    write_dtmf_pcap,
)

pytestmark = pytest.mark.peer

CALLER = '"Jean Tremblay" <sip:6135551234@127.0.0.1>'
TRUNK_NUMBER = "6135557000"
PROMPT_HZ = 1400.0  # the confirmation prompts of the test prompt set (tests/support/sip.py)


@pytest.fixture
def one(work: Path) -> Path:
    """The 1 key, as the switch expects it from a leg it called (tests/support/sip.py)."""
    return write_dtmf_pcap(work / "one.pcap", "1", 120)


def finished(*peers: Sipp) -> None:
    for p in peers:
        p.wait()
    for p in peers:
        assert p.ok, p.describe()


def share(samples: np.ndarray, hz: float, rate: int = 8000) -> float:
    """The part of the signal's energy within 30 Hz of `hz`."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[np.abs(freqs - hz) < 30].sum() / max(spectrum.sum(), 1e-9))


def answer(peer: Sipp, sent: bool = True) -> Message:
    """The one 200 OK to the INVITE that `peer` sent (or received)."""
    [ok] = [
        m
        for m in (peer.sent(200) if sent else peer.received(200))
        if "INVITE" in m.header("CSeq")[0]
    ]
    return ok


def not_accepted(switch: SwitchUnderTest, line: str) -> list[Any]:
    rows = switch.rows(
        "SELECT not_accepted FROM call_log WHERE line_number = :line ORDER BY id", line=line
    )
    return [json.loads(v) if isinstance(v, str) else v for (v,) in rows]


def event_payloads(switch: SwitchUnderTest, line: str) -> list[dict[str, Any]]:
    return [json.loads(p) if isinstance(p, str | bytes) else p for _, p in switch.events(line)]


def test_an_answer_confirmed_with_1_is_bridged_with_audio_both_ways(
    switch: SwitchUnderTest, work: Path, trunk_port: int, audio: dict[str, Path], one: Path
) -> None:
    """The outside number hears the prompt (the caller does not), presses 1, and then each side
    hears the other: the caller 440 Hz, the outside number 1000 Hz."""
    line = switch.account()
    switch.settings(
        line,
        incoming_mode=IncomingMode.SIMULTANEOUS,
        no_answer_timeout=15,
        ring_table=RingTable((RingEntry(TRUNK_NUMBER, (15,)),)),  # outside: confirm by default
    )
    trunk = switch.sipp(
        "trunk",
        "uas_confirm.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        answer_ms=300,
        confirm_ms=1500,
        dtmf_pcap=one,
        pcap=audio["device_2s"],
    )
    trunk.media_port = free_ports(4)
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=line,
        hold_ms=3000,
        pcap=audio["caller_2s"],
        **{"from": CALLER},
    )
    caller.media_port = free_ports(4)
    with RtpCapture([caller.media_port, trunk.media_port], seconds=12) as capture:
        trunk.start()
        caller.run()
        finished(caller, trunk)
    # the caller is answered only once the outside number has pressed 1
    answered = answer(trunk)
    to_caller = answer(caller, sent=False)
    assert to_caller.at > answered.at + 1.0
    assert 180 in [m.status for m in caller.received(180)]
    heard_by_caller = capture.audio(caller.media_port)
    heard_by_trunk = capture.audio(trunk.media_port)
    assert len(heard_by_caller) > 8000 and len(heard_by_trunk) > 8000
    assert abs(dominant_hz(heard_by_caller) - 1000) < 20
    assert share(heard_by_caller, PROMPT_HZ) < 0.01  # the prompt is for the answerer only
    assert share(heard_by_trunk, PROMPT_HZ) > 0.02
    assert share(heard_by_trunk, 440.0) > 0.2
    log = switch.wait_for(lambda: switch.call_log(line))
    assert [(r.direction, r.disposition) for r in log] == [("received", "answered")]
    assert not_accepted(switch, line) == [None]


def test_a_voicemail_that_answers_without_pressing_1_is_dropped_and_the_call_reaches_relais(
    switch: SwitchUnderTest, work: Path, trunk_port: int, audio: dict[str, Path]
) -> None:
    line = switch.account()
    switch.settings(
        line,
        incoming_mode=IncomingMode.SIMULTANEOUS,
        no_answer_timeout=15,
        ring_table=RingTable((RingEntry(TRUNK_NUMBER, (15,)),)),
    )
    mobile_voicemail = switch.sipp(  # answers and plays its greeting, never presses 1
        "mobile-voicemail",
        "uas_answer.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        answer_ms=300,
        pcap=audio["device_2s"],
    ).start()
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=line,
        wait_ms=800,
        hold_ms=2300,
        pcap=audio["caller_2s"],
        timeout=45,
        **{"from": CALLER},
    )
    caller.run()
    finished(caller, mobile_voicemail)
    answered = answer(mobile_voicemail)
    [dropped] = mobile_voicemail.received("BYE")
    to_caller = answer(caller, sent=False)
    assert dropped.at > answered.at + 1.0  # the prompt, then the wait for 1: dropped
    assert to_caller.at > answered.at + 1.0  # its answer did not answer the caller
    [message] = switch.wait_for(lambda: switch.messages(line))
    assert abs(message.duration_seconds - 2.0) < 0.5
    log = switch.wait_for(lambda: switch.call_log(line))
    assert [(r.direction, r.disposition) for r in log] == [("missed", "voicemail")]
    assert not_accepted(switch, line) == [[TRUNK_NUMBER]]
    calls = [p for p in event_payloads(switch, line) if p["type"].startswith("call.")]
    assert [p["not_accepted"] for p in calls] == [[TRUNK_NUMBER]]


def test_two_legs_answer_and_only_the_one_that_presses_1_wins(
    switch: SwitchUnderTest, work: Path, trunk_port: int, audio: dict[str, Path], one: Path
) -> None:
    """The account phone (confirmation turned on) answers first and never presses 1; the
    outside number answers later and presses 1: it gets the call, the phone is hung up."""
    line = switch.account()
    desk = switch.phone(
        line, "desk", "uas_answer.xml", workdir=work, answer_ms=200, pcap=audio["device_2s"]
    )
    switch.settings(
        line,
        incoming_mode=IncomingMode.SIMULTANEOUS,
        no_answer_timeout=15,
        ring_table=RingTable(
            (RingEntry(ACCOUNT_PHONE, (15,), confirm_answer=True), RingEntry(TRUNK_NUMBER, (15,)))
        ),
    )
    trunk = switch.sipp(
        "trunk",
        "uas_confirm.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        answer_ms=1000,
        confirm_ms=1000,
        dtmf_pcap=one,
        pcap=audio["device_2s"],
    ).start()
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=line,
        hold_ms=1000,
        pcap=audio["caller_2s"],
        **{"from": CALLER},
    )
    caller.run()
    finished(caller, desk, trunk)
    desk_answered = answer(desk)
    trunk_answered = answer(trunk)
    [desk_dropped] = desk.received("BYE")
    to_caller = answer(caller, sent=False)
    assert desk_answered.at < trunk_answered.at < to_caller.at
    assert desk_dropped.at > trunk_answered.at
    assert trunk.received("BYE")  # the caller's hang-up reached the winner
    log = switch.wait_for(lambda: switch.call_log(line))
    assert [(r.direction, r.disposition) for r in log] == [("received", "answered")]
    assert not_accepted(switch, line) == [[line]]


def test_a_caller_who_gives_up_during_the_confirmation_leaves_no_leg_up(
    switch: SwitchUnderTest, work: Path, trunk_port: int, audio: dict[str, Path]
) -> None:
    line = switch.account()
    switch.settings(
        line,
        incoming_mode=IncomingMode.SIMULTANEOUS,
        no_answer_timeout=15,
        ring_table=RingTable((RingEntry(TRUNK_NUMBER, (15,)),)),
    )
    mobile = switch.sipp(  # answers, hears the prompt, says nothing
        "mobile",
        "uas_answer.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        answer_ms=200,
        pcap=audio["device_2s"],
    ).start()
    caller = switch.sipp(
        "caller",
        "uac_cancel.xml",
        workdir=work,
        service=line,
        cancel_ms=2000,
        **{"from": CALLER},
    )
    caller.run()
    finished(caller, mobile)
    [cancel] = caller.sent("CANCEL")
    [dropped] = mobile.received("BYE")
    assert dropped.at > cancel.at
    log = switch.wait_for(lambda: switch.call_log(line))
    assert [(r.direction, r.disposition) for r in log] == [("missed", "abandoned")]
    assert not_accepted(switch, line) == [[TRUNK_NUMBER]]
