"""A worker's jitter buffers (switch.endpoint): fixed, never shrunk by dropping a frame, for
fax, recordings and prompts; pjmedia's adaptive one for the two sides of a bridged call
(relais' pjproject patch 0006: `Call.audJbDiscardAlgo`). That a fax call's buffer drops no
frame is tests/peer/test_fax.py."""

from __future__ import annotations

from types import SimpleNamespace

import pjsua2 as pj

from switch.b2bua import Inbound, SwitchCall
from switch.endpoint import JB_DISCARD_NONE, JB_DISCARD_PROGRESSIVE, jitter_buffer
from switch.sipmsg import parse_request


def test_a_worker_s_call_has_the_fixed_buffer_and_a_side_of_a_bridge_the_adaptive_one() -> None:
    # `make install` builds pjproject with patch 0006; the stock wheel (its fallback when no
    # source can be had) has no per-call setting, and this test says so.
    assert hasattr(pj.Call, "audJbDiscardAlgo"), "pjsua2 is not relais' build (make install)"
    account = pj.Account()
    assert pj.Call(account).audJbDiscardAlgo == -1  # pjsua's default: the media config's
    call = SwitchCall(account, lambda fn: None)
    assert call.audJbDiscardAlgo == JB_DISCARD_NONE
    jitter_buffer(call, adaptive=True)
    assert call.audJbDiscardAlgo == JB_DISCARD_PROGRESSIVE


INVITE = (
    "INVITE sip:6135550000@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-1\r\n"
    "From: <sip:6135559876@127.0.0.1>;tag=a\r\n"
    "To: <sip:6135550000@127.0.0.1>\r\n"
    "Call-ID: bridge-1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n"
)


class Ringing(SwitchCall):
    """An incoming call the switch has not answered yet; answering it records the jitter
    buffer its stream would be created with."""

    def __init__(self) -> None:
        super().__init__(pj.Account(), lambda fn: None)
        self.answered_with: int | None = None

    def answer(self, prm: object) -> None:
        self.answered_with = self.audJbDiscardAlgo


def bridged(call: Ringing, answered_before: bool) -> Inbound:
    worker = SimpleNamespace(pump=SimpleNamespace(post=lambda fn: fn()))
    inbound = Inbound(worker, call, parse_request(INVITE), "127.0.0.1:5099")  # type: ignore[arg-type]
    if answered_before:
        assert inbound.answer()
    inbound.run = SimpleNamespace(won=lambda leg: None)  # type: ignore[assignment]
    inbound.leg_answered(SimpleNamespace(call=None, hangup=lambda: None))  # type: ignore[arg-type]
    return inbound


def test_the_caller_s_side_of_a_bridge_is_answered_with_the_adaptive_buffer() -> None:
    """A caller put through to a phone that answered is answered with pjmedia's adaptive buffer
    (the conversation's delay kept down); a call the switch had answered before (its stream
    already made, fixed) is left as it is."""
    call = Ringing()
    assert bridged(call, answered_before=False).state == "bridged"
    assert call.answered_with == JB_DISCARD_PROGRESSIVE
    call = Ringing()
    bridged(call, answered_before=True)
    assert call.answered_with == JB_DISCARD_NONE
