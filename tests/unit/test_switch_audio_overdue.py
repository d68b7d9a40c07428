"""switch.b2bua.Inbound: a dialog starts at the caller's ACK of the answer, with the call's
audio active; and audio_overdue: a dialog whose answered call never had its audio reported, or
whose ACK never came, does not leave the caller in silence unsaid. AUDIO_WAIT_S after the
answer the switch asks pjsua for the call's media: active audio starts the dialog (with a
warning); none is said as the caller hearing silence. (A deposit in CI waited 30 s in silence
for a Started that never came; pjsua's own view of the call was not in its log.)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pjsua2 as pj
import pytest

from ivr.dialog import Started
from switch.b2bua import AUDIO_WAIT_S, Inbound
from switch.sipmsg import parse_request

INVITE = (
    "INVITE sip:6135550000@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-1\r\n"
    "From: <sip:6135559876@127.0.0.1>;tag=a\r\n"
    "To: <sip:6135550000@127.0.0.1>\r\n"
    "Call-ID: overdue-1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n"
)


class Pump:
    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[[], Any]]] = []

    def post(self, fn: Callable[[], Any]) -> None:
        fn()

    def call_later(self, delay: float, fn: Callable[[], Any]) -> Any:
        self.timers.append((delay, fn))
        return SimpleNamespace(cancel=lambda: None)


class AnsweredCall:
    """A pjsua2 call whose media state callback never came (`audio` stays None)."""

    def __init__(self, status: int) -> None:
        self.owner: Any = None
        self.audio: Any = None
        self.port = object()
        self.media = [SimpleNamespace(type=pj.PJMEDIA_TYPE_AUDIO, status=status)]

    def answer(self, prm: Any) -> None:
        pass

    def getInfo(self) -> Any:
        return SimpleNamespace(media=self.media)

    def getAudioMedia(self, index: int) -> Any:
        return self.port


def answered(status: int) -> tuple[Inbound, AnsweredCall, Pump]:
    pump = Pump()
    worker = SimpleNamespace(pump=pump, dialog_submit=lambda fn: None)
    call = AnsweredCall(status)
    inbound = Inbound(worker, call, parse_request(INVITE), "127.0.0.1:5099")  # type: ignore[arg-type]
    inbound.start_dialog(lambda media: None)
    return inbound, call, pump


def acknowledged(inbound: Inbound, call: AnsweredCall) -> None:
    """The caller's ACK: pjsua reports the call CONFIRMED."""
    inbound.on_state(call, SimpleNamespace(state=pj.PJSIP_INV_STATE_CONFIRMED))  # type: ignore[arg-type]


def events(inbound: Inbound) -> list[Any]:
    assert inbound.media is not None
    out = []
    while not inbound.media.events.empty():
        out.append(inbound.media.events.get_nowait())
    return out


def test_active_audio_never_reported_starts_the_dialog(caplog: pytest.LogCaptureFixture) -> None:
    inbound, call, pump = answered(pj.PJSUA_CALL_MEDIA_ACTIVE)
    assert events(inbound) == []  # waiting for the audio
    [(delay, check)] = pump.timers
    assert delay == AUDIO_WAIT_S
    with caplog.at_level(logging.WARNING, logger="switch.b2bua"):
        check()
    assert [type(e) for e in events(inbound)] == [Started]
    assert call.audio is call.port
    assert "audio is active" in caplog.text and "never reported" in caplog.text


def test_audio_still_not_active_is_said(caplog: pytest.LogCaptureFixture) -> None:
    inbound, call, pump = answered(pj.PJSUA_CALL_MEDIA_NONE)
    [(_, check)] = pump.timers
    with caplog.at_level(logging.WARNING, logger="switch.b2bua"):
        check()
    assert events(inbound) == []
    assert call.audio is None
    assert "hears silence" in caplog.text


def test_a_dialog_that_started_or_a_call_that_ended_is_left_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbound, call, pump = answered(pj.PJSUA_CALL_MEDIA_ACTIVE)
    [(_, check)] = pump.timers
    call.audio = call.port
    inbound.on_media(call)  # reported late, before the check
    acknowledged(inbound, call)
    assert [type(e) for e in events(inbound)] == [Started]
    gone, _, gone_pump = answered(pj.PJSUA_CALL_MEDIA_ACTIVE)
    gone.gone = True
    with caplog.at_level(logging.WARNING, logger="switch.b2bua"):
        check()
        gone_pump.timers[0][1]()
    assert events(inbound) == [] and events(gone) == []
    assert caplog.text == ""


def test_the_dialog_starts_at_the_callers_ack_not_at_the_answer() -> None:
    """pjsua reports the audio active as the 200 OK goes out; the first prompt waits for the
    ACK (what is sent before the phone has the answer is lost)."""
    inbound, call, pump = answered(pj.PJSUA_CALL_MEDIA_ACTIVE)
    call.audio = call.port
    inbound.on_media(call)  # the audio, reported with the answer
    assert events(inbound) == []
    acknowledged(inbound, call)
    assert [type(e) for e in events(inbound)] == [Started]
    acknowledged(inbound, call)  # said once
    pump.timers[0][1]()  # the check finds the dialog started
    assert events(inbound) == []


def test_no_ack_within_the_wait_starts_the_dialog_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbound, call, pump = answered(pj.PJSUA_CALL_MEDIA_ACTIVE)
    call.audio = call.port
    inbound.on_media(call)
    [(delay, check)] = pump.timers
    assert delay == AUDIO_WAIT_S
    with caplog.at_level(logging.WARNING, logger="switch.b2bua"):
        check()
    assert [type(e) for e in events(inbound)] == [Started]
    assert "no ACK came" in caplog.text
    acknowledged(inbound, call)  # late: the dialog runs already
    assert events(inbound) == []


def test_a_call_answered_and_acknowledged_before_its_dialog_starts_it_at_once() -> None:
    pump = Pump()
    worker = SimpleNamespace(pump=pump, dialog_submit=lambda fn: None)
    call = AnsweredCall(pj.PJSUA_CALL_MEDIA_ACTIVE)
    call.audio = call.port
    inbound = Inbound(worker, call, parse_request(INVITE), "127.0.0.1:5099")  # type: ignore[arg-type]
    acknowledged(inbound, call)
    inbound.start_dialog(lambda media: None)
    assert pump.timers == []
    assert [type(e) for e in events(inbound)] == [Started]
