"""relais does not transfer calls: a REFER from a caller (or any party) is declined and the
switch calls no one. Accepted, the worker would call whatever the Refer-To names, through the
trunk too: an open relay for toll fraud. Real SIP: the test process's pjsua2 phones."""

from __future__ import annotations

import time

import pytest

from tests.support import sipclient as sip
from tests.support.ivr import subscriber
from tests.support.phone import Phones, ids
from tests.support.sip import SwitchUnderTest, free_ports

pytestmark = pytest.mark.peer


def test_a_refer_from_a_caller_is_declined_and_nobody_is_called(
    ivr: SwitchUnderTest, phones: Phones
) -> None:
    owner = subscriber(ivr, "en")
    target = phones.phone("6135557777")
    target.answering = True
    call = phones.caller("6135551120").call(owner.uri)
    call.wait_answered()
    call.transfer(f"sip:6135557777@127.0.0.1:{target.port}")
    time.sleep(3)
    with pytest.raises(AssertionError):
        target.wait_incoming(timeout=0.5)
    assert not call.ended  # the caller is still with the voicemail
    call.press("#")
    call.hear(*ids("en", "beep"))
    call.hangup()


def test_an_invite_that_replaces_a_call_is_declined_and_the_call_goes_on(
    ivr: SwitchUnderTest,
) -> None:
    """INVITE with Replaces (RFC 3891) naming a call the worker holds: declined (pjsua would
    swap the call behind the B2BUA's back), and the replaced call is still up."""
    owner = subscriber(ivr, "en")
    with sip.transport("udp", ("127.0.0.1", ivr.port)) as t:
        host, port = t.local
        media = free_ports(2)
        first = sip.Dialog(f"sip:6135551121@{host}:{port}", owner.uri)
        t.send(
            sip.request(
                t,
                "INVITE",
                owner.uri,
                first,
                contact=f"<sip:6135551121@{host}:{port}>",
                extra=[("Content-Type", "application/sdp")],
                body=sip.sdp_offer(host, media),
            )
        )
        ok = sip.final_response(t, 10)
        assert ok is not None and ok.status == 200
        to = ok.header("To") or ""
        worker_tag = to.split("tag=", 1)[1].split(";")[0]
        contact = (ok.header("Contact") or "").strip("<>").split(">")[0]
        ack = sip.request(t, "ACK", contact, first)
        ack.headers = [(k, to if k == "To" else v) for k, v in ack.headers]
        t.send(ack)

        second = sip.Dialog(f"sip:6135551122@{host}:{port}", owner.uri)
        replaces = f"{first.call_id};to-tag={worker_tag};from-tag={first.from_tag}"
        t.send(
            sip.request(
                t,
                "INVITE",
                owner.uri,
                second,
                contact=f"<sip:6135551122@{host}:{port}>",
                extra=[("Replaces", replaces), ("Content-Type", "application/sdp")],
                body=sip.sdp_offer(host, media + 1),
            )
        )
        answer = sip.final_response(t, 10)
        assert answer is not None and answer.status == 603, answer
        assert answer.header("Call-ID") == second.call_id
        time.sleep(1)
        while (msg := t.recv(0.2)) is not None:  # nothing ended the first call
            assert msg.method != "BYE" or msg.header("Call-ID") != first.call_id

        first.cseq += 1
        bye = sip.request(t, "BYE", contact, first)
        bye.headers = [(k, to if k == "To" else v) for k, v in bye.headers]
        t.send(bye)
        done = sip.final_response(t, 5)
        assert done is not None and done.status == 200  # the first call was still up
