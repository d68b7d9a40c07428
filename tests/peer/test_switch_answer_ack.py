"""The first prompt of an answered call starts at the caller's ACK, not as the 200 OK goes out
(switch.b2bua.Inbound.confirmed): a phone sets up its audio when the answer reaches it, and
what the switch sent before was lost (over a slow path, the greeting's first syllable).

Driven with raw SIP over UDP (tests/support/sipclient.py): a caller that receives the answer,
keeps its ACK back for a second while it takes in the switch's RTP, then acknowledges."""

from __future__ import annotations

import audioop
import socket
import time

import numpy as np

from routing.model import PhoneState
from tests.support.sip import SwitchUnderTest
from tests.support.sipclient import Dialog, Message, final_response, request, sdp_offer, transport

HELD_BACK = 1.0
"""Seconds the caller waits after the 200 OK before its ACK."""


def loudest(packets: list[bytes]) -> int:
    """The peak sample of the G.711 audio in these RTP packets (0 for none)."""
    peak = 0
    for pkt in packets:
        if len(pkt) <= 12 or pkt[0] >> 6 != 2:
            continue
        pt, body = pkt[1] & 0x7F, pkt[12:]
        if pt not in (0, 8):
            continue
        pcm = audioop.ulaw2lin(body, 2) if pt == 0 else audioop.alaw2lin(body, 2)
        peak = max(peak, int(np.abs(np.frombuffer(pcm, dtype="<i2")).max(initial=0)))
    return peak


def take_rtp(rtp: socket.socket, seconds: float) -> list[bytes]:
    packets: list[bytes] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        rtp.settimeout(left)
        try:
            packets.append(rtp.recv(2048))
        except TimeoutError:
            break
    return packets


def test_the_greeting_starts_at_the_callers_ack(switch: SwitchUnderTest) -> None:
    line = switch.account()
    switch.settings(line, phone_state=PhoneState.DND)  # straight to the unavailable greeting
    with (
        transport("udp", ("127.0.0.1", switch.port)) as t,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp,
    ):
        rtp.bind(("127.0.0.1", 0))
        host, port = t.local
        ruri = f"sip:{line}@127.0.0.1:{switch.port}"
        d = Dialog(from_uri=f"sip:6135559876@{host}", to_uri=ruri)
        invite = request(
            t,
            "INVITE",
            ruri,
            d,
            contact=f"<sip:6135559876@{host}:{port}>",
            extra=[("Content-Type", "application/sdp")],
            body=sdp_offer("127.0.0.1", rtp.getsockname()[1]),
        )
        t.send(invite)
        answer = final_response(t, timeout=10)
        assert answer is not None and answer.status == 200, answer
        before_ack = take_rtp(rtp, HELD_BACK)
        to = answer.header("To")
        assert to is not None
        via = invite.header("Via")
        assert via is not None
        t.send(
            Message(
                f"ACK {ruri} SIP/2.0",
                [
                    ("Via", via.replace("branch=", "branch=ack")),
                    ("Max-Forwards", "70"),
                    ("From", f"<{d.from_uri}>;tag={d.from_tag}"),
                    ("To", to),
                    ("Call-ID", d.call_id),
                    ("CSeq", "1 ACK"),
                    ("Content-Length", "0"),
                ],
            )
        )
        after_ack = take_rtp(rtp, 1.5)
        d.cseq = 2
        bye = request(t, "BYE", ruri, d)
        bye.headers = [(k, to if k == "To" else v) for k, v in bye.headers]
        t.send(bye)
        assert final_response(t, timeout=5) is not None
    assert loudest(before_ack) < 64, "the greeting began before the caller's ACK"
    assert loudest(after_ack) > 3000, "no greeting after the ACK"
