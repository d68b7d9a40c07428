"""A caller who puts the call on hold and takes it back (SPEC S4, S5): every phone can, and
pjsua re-creates a call's stream when a re-INVITE changes its direction. The new stream's
bridge port starts with no connections: the switch connects again what it had connected (the
other party of a bridged call, the recording, the listener), or the call goes on deaf and
mute after the resume. Real SIP: the caller and the device are the test process's pjsua2
phones, the re-INVITEs are theirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.ivr import speech, subscriber
from tests.support.phone import Phones, contains, ids, read_wav, write_wav
from tests.support.sip import SwitchUnderTest, dominant_hz

pytestmark = pytest.mark.peer

RATE = 8000


def tone(path: Path, hz: float, seconds: float) -> Path:
    t = np.arange(int(seconds * RATE)) / RATE
    return write_wav(path, (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16))


def test_a_bridged_call_held_and_resumed_carries_audio_both_ways_again(
    ivr: SwitchUnderTest, phones: Phones, tmp_path: Path
) -> None:
    line = ivr.account()
    desk = phones.phone(line)
    desk.answering = True
    ivr.device(line, desk.contact)
    call = phones.caller("6135551234").call(f"sip:{line}@{ivr.target}")
    answered = desk.wait_incoming()
    call.wait_answered()
    answered.wait_answered()

    call.hold()
    call.resume()
    before_caller, before_desk = len(call.heard()), len(answered.heard())
    caller_says = tone(tmp_path / "caller-440.wav", 440, 2.0)
    desk_says = tone(tmp_path / "desk-1000.wav", 1000, 2.0)
    answered.say(desk_says, wait=False)
    call.say(caller_says)
    heard_by_desk = answered.heard()[before_desk:]
    heard_by_caller = call.heard()[before_caller:]
    assert len(heard_by_desk) > RATE and len(heard_by_caller) > RATE
    assert abs(dominant_hz(heard_by_desk) - 440) < 20
    assert abs(dominant_hz(heard_by_caller) - 1000) < 20
    call.hangup()


def test_a_message_recorded_across_a_hold_keeps_what_is_said_after_it(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    owner = subscriber(ivr, "en")
    before = speech("Hello, it is the garage about your car.")
    after = speech("It is ready, you can come and pick it up tomorrow morning.")
    call = phones.caller("6135551118").call(owner.uri)
    call.wait_answered()
    call.press("#")
    call.hear(*ids("en", "beep"))
    call.say(before)
    call.hold()
    call.resume()
    call.say(after)
    call.hangup()
    [message] = ivr.wait_for(lambda: owner.messages())
    stored = read_wav(owner.path(message))
    assert contains(stored, before, start=0.3, end=0.3)
    assert contains(stored, after, start=0.3, end=0.3)


def test_keys_sent_as_tones_after_a_hold_are_heard(ivr: SwitchUnderTest, phones: Phones) -> None:
    """In-band DTMF is heard from the caller's audio: after the resume too. * during the
    greeting is the owner's way in: the PIN is asked for (never without the key)."""
    owner = subscriber(ivr, "en")
    call = phones.caller("6135551119").call(owner.uri)
    call.wait_answered()
    call.hold()
    call.resume()
    call.tones("*")
    call.hear(*ids("en", "enter_pin"))
    call.hangup()
