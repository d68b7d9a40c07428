"""Switch worker basics over real SIP: voicemail deposit, rejects, OPTIONS, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routing.model import PhoneState
from tests.support.sip import SwitchUnderTest, wav_info

pytestmark = pytest.mark.peer


def test_dnd_goes_to_voicemail_and_stores_the_message(
    switch: SwitchUnderTest, work: Path, audio: dict[str, Path]
) -> None:
    line = switch.account()
    switch.settings(line, phone_state=PhoneState.DND)
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=line,
        wait_ms=1000,
        hold_ms=2600,
        pcap=audio["caller_2s"],
        **{"from": '"Jean Tremblay" <sip:6135551234@127.0.0.1>'},
    )
    assert caller.run() == 0, caller.describe()
    [message] = switch.wait_for(lambda: switch.messages(line))
    _, duration, file_path, caller_number, _size = message
    assert abs(duration - 2.0) < 0.5
    assert caller_number == "6135551234"
    seconds, rate, channels, width = wav_info(switch.root / file_path)
    assert (rate, channels, width) == (8000, 1, 2)
    assert abs(seconds - duration) < 0.01
    log = switch.call_log(line)
    assert [(r.direction, r.disposition, r.caller_number, r.caller_name) for r in log] == [
        ("missed", "voicemail", "6135551234", "Jean Tremblay")
    ]
    topics = [t for t, _ in switch.events(line)]
    assert topics == [
        f"relais/{line}/call/missed",
        f"relais/{line}/message/deposited",
        f"relais/{line}/mailbox/counts",
    ]
    payload = (
        json.loads(switch.events(line)[1][1])
        if isinstance(switch.events(line)[1][1], str)
        else switch.events(line)[1][1]
    )
    assert payload["message_id"] == message.id
    # 100 Trying went out at once, before the answer
    statuses = [m.status for m in caller.messages() if not m.sent]
    assert statuses[0] == 100 and 200 in statuses


@pytest.mark.parametrize("dtmf", ["rfc4733", "info"])
def test_pound_ends_the_recording_then_the_switch_hangs_up(
    switch: SwitchUnderTest, work: Path, audio: dict[str, Path], dtmf: str
) -> None:
    line = switch.account()
    switch.settings(line, phone_state=PhoneState.DND)
    caller = switch.sipp(
        "caller",
        "uac_pound.xml",
        workdir=work,
        service=line,
        wait_ms=1000,
        hold_ms=2300,
        pcap=audio["caller_2s"],
        dtmf=dtmf,
    )
    assert caller.run() == 0, caller.describe()  # the switch sent the BYE after '#'
    [message] = switch.wait_for(lambda: switch.messages(line))
    assert abs(message.duration_seconds - 2.0) < 0.5
    [entry] = switch.call_log(line)
    assert (entry.direction, entry.disposition) == ("missed", "voicemail")


def test_pilot_call_with_diversion_deposits_into_the_diverting_line(
    switch: SwitchUnderTest, work: Path, audio: dict[str, Path]
) -> None:
    line = switch.account()
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service="*98",
        wait_ms=1000,
        hold_ms=2300,
        pcap=audio["caller_2s"],
        headers=(f"Diversion: <sip:{line}@gw.example.net>;reason=user-busy;counter=1",),
    )
    assert caller.run() == 0, caller.describe()
    [message] = switch.wait_for(lambda: switch.messages(line))
    assert message.caller_number == "6135559999"
    assert abs(message.duration_seconds - 2.0) < 0.5
