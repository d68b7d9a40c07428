"""switch.b2bua.SwitchCall: a DTMF digit is acted on by the pump thread, never by the thread
pjsua calls back on.

pjsua reports an RFC 4733 digit from pjmedia's media thread (the stream's receive path). Acted
on there, a barge-in raced the pump: the dialog answered the digit with a new Play, the pump
started it, and the media thread's barge-in, still running, released the new player and
reported the end of the new prompt as its own. The retrieval dialog then took the message as
heard, the caller having heard nothing of it (seen in the peer tests under load)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace

import pjsua2 as pj

from switch.b2bua import SwitchCall


class Owner:
    def __init__(self) -> None:
        self.digits: list[tuple[str, str, str]] = []

    def on_digit(self, call: object, digit: str, method: str) -> None:
        self.digits.append((digit, method, threading.current_thread().name))


class Call:
    """What SwitchCall.onDtmfDigit uses of its call: the owner and the pump's post."""

    def __init__(self) -> None:
        self.owner = Owner()
        self.disconnected = False
        self.posted: list[Callable[[], None]] = []

    def post(self, fn: Callable[[], None]) -> None:
        self.posted.append(fn)

    def pump(self) -> None:
        posted, self.posted = self.posted, []
        for fn in posted:
            fn()


def digit_on_media_thread(call: Call, digit: str, method: int) -> None:
    prm = SimpleNamespace(digit=digit, method=method)
    media = threading.Thread(target=SwitchCall.onDtmfDigit, args=(call, prm), name="media")
    media.start()
    media.join()


def test_a_digit_from_the_media_thread_is_acted_on_by_the_pump() -> None:
    call = Call()
    digit_on_media_thread(call, "1", pj.PJSUA_DTMF_METHOD_RFC2833)
    digit_on_media_thread(call, "#", pj.PJSUA_DTMF_METHOD_SIP_INFO)
    assert call.owner.digits == []  # nothing was done on the media thread
    call.pump()
    me = threading.current_thread().name
    assert call.owner.digits == [("1", "rfc4733", me), ("#", "info", me)]


def test_a_digit_of_a_call_that_ended_before_the_pump_got_to_it_is_dropped() -> None:
    call = Call()
    digit_on_media_thread(call, "5", pj.PJSUA_DTMF_METHOD_RFC2833)
    call.disconnected = True
    call.pump()
    assert call.owner.digits == []
