"""Forwarded calls through the edge (SPEC S3, S12): `relais run` with Kamailio in front of two
switch workers. The trunk calls line A with INVITEs of more than 1,500 bytes (a 566-character
display name, a carrier's Diversion), over UDP and over TCP; A forwards (all calls, on no
answer, busy, unavailable) or rings a table that names line B. Every leg a worker sends to the
edge (to B, then to B's phone) is recognised as a worker's, whatever its transport: pjsip sends
the large ones over TCP from an ephemeral port. B's phone sees the Diversion (RFC 5806) naming A
and answers busy, so B's voicemail takes the call."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from routing.model import ACCOUNT_PHONE, FallbackAction, IncomingMode, RingEntry, RingTable
from store import repository
from tests.peer.test_edge_switch import TRUNK, System, system  # noqa: F401  (module fixture)
from tests.support import sipclient as sip
from tests.support import sipp
from tests.support.edge import (
    DEMO_LINE,
    DEMO_PASSWORD,
    DEMO_USER,
    DOMAIN,
    SECOND_LINE,
)
from tests.support.ports import free_port, free_ports
from tests.support.sipclient import Responder

pytestmark = pytest.mark.peer

B_USER, B_PASSWORD = "phone101", "phone-pass-101"
LONG_NAME = "Centre de services " + "x" * 547  # 566 characters
CARRIER_DIVERSION = (
    "<sip:8195550999@carrier.example;user=phone;x-carrier-route="
    + "r" * 300
    + ">;reason=unconditional;counter=1"
)


@pytest.fixture(scope="module")
def phones(system: System) -> Iterator[dict[str, Responder]]:  # noqa: F811
    """A's phone (answers with `policy_a`, settable per test) and B's phone (always busy),
    both registered through the edge."""
    with system.store.transaction() as s:
        repository.add_device(
            s, number=SECOND_LINE, username=B_USER, password=B_PASSWORD, domain=DOMAIN
        )
    behaviour: dict[str, tuple[int, str]] = {"a": (486, "Busy Here")}

    def policy_a(r: sip.Message) -> tuple[int, str]:
        return behaviour["a"] if r.method == "INVITE" else (200, "OK")

    def policy_b(r: sip.Message) -> tuple[int, str]:
        return (486, "Busy Here") if r.method == "INVITE" else (200, "OK")

    a = Responder("127.0.0.3", policy=policy_a)
    b = Responder("127.0.0.4", policy=policy_b)
    a.behaviour = behaviour  # type: ignore[attr-defined]
    try:
        assert b.register(system.edge, B_USER, B_PASSWORD, DOMAIN).status == 200  # type: ignore[union-attr]
        yield {"a": a, "b": b}
    finally:
        for phone, user, password in ((a, DEMO_USER, DEMO_PASSWORD), (b, B_USER, B_PASSWORD)):
            phone.register(system.edge, user, password, DOMAIN, expires=0)
            phone.close()


def call(system: System, line: str, name: str, transport: str) -> sipp.Result:  # noqa: F811
    """The trunk calls `line` through the edge with a long display name and a carrier's
    Diversion (the INVITE is over 1,500 bytes), then plays 3 s of audio and hangs up."""
    args = sipp.argv(
        "trunk_call_named.xml",
        system.edge,
        local=(TRUNK, free_port(TRUNK)),
        service=line,
        media_port=free_ports(4, TRUNK),
        extra=[
            "-t",
            "t1" if transport == "tcp" else "u1",
            "-d",
            "4000",
            "-key",
            "caller_name",
            LONG_NAME,
            "-key",
            "headers",
            f"Diversion: {CARRIER_DIVERSION}",
        ],
        trace_msg=True,
    )
    return sipp.run(args, system.tmp / f"call-{name}-{transport}", timeout=90)


SETTINGS = {
    "forward_all": {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": SECOND_LINE},
    "no_answer": {
        "no_answer_action": FallbackAction.NUMBER,
        "no_answer_to": SECOND_LINE,
        "no_answer_timeout": 5,
    },
    "busy": {"busy_action": FallbackAction.NUMBER, "busy_to": SECOND_LINE},
    "unavailable": {"unavailable_forwarding": True, "unavailable_to": SECOND_LINE},
    "ring_table": {
        "incoming_mode": IncomingMode.SIMULTANEOUS,
        "ring_table": RingTable((RingEntry(ACCOUNT_PHONE, (20,)), RingEntry(SECOND_LINE, (20,)))),
    },
}
# What A's phone does (None: not registered) and the Diversion reason B's phone sees.
CASES = {
    "forward_all": (None, "unconditional"),
    "no_answer": ((180, "Ringing"), "no-answer"),
    "busy": ((486, "Busy Here"), "user-busy"),
    "unavailable": (None, "unavailable"),
    "ring_table": ((486, "Busy Here"), "follow-me"),
}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("kind", list(CASES))
def test_a_forwarded_call_reaches_the_other_lines_phone_through_the_edge(
    kind: str,
    transport: str,
    system: System,  # noqa: F811
    phones: dict[str, Responder],
) -> None:
    a, b = phones["a"], phones["b"]
    answer_a, reason = CASES[kind]
    with system.store.transaction() as s:
        current = repository.line_settings(s, DEMO_LINE)
        assert current is not None
        from dataclasses import replace

        defaults = repository.line_settings(s, SECOND_LINE)
        assert defaults is not None
        base = replace(defaults, line=DEMO_LINE)
        repository.save_line_settings(s, replace(base, **SETTINGS[kind]))  # type: ignore[arg-type]
    if answer_a is None:
        a.register(system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN, expires=0)
    else:
        a.behaviour["a"] = answer_a  # type: ignore[attr-defined]
        assert a.register(system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN).status == 200  # type: ignore[union-attr]
    seen_a, seen_b = len(a.requests("INVITE")), len(b.requests("INVITE"))
    challenged = len(re.findall(r"was challenged", system.text()))
    before_b = len(system.messages(SECOND_LINE))
    before_a = len(system.messages(DEMO_LINE))

    res = call(system, DEMO_LINE, kind, transport)
    assert (res.successful, res.failed) == (1, 0), res.errors()

    invite = b.wait_for("INVITE", seen_b + 1, 10)[seen_b]
    size = len(invite.to_bytes())
    assert size > 1500, size
    # Through the edge, from a worker: pjsip sent this leg over TCP (>= 1,300 bytes).
    assert any("SIP/2.0/TCP" in v for v in invite.all("Via")), invite.all("Via")
    diversions = invite.all("Diversion")
    assert diversions and diversions[0].startswith(f"<sip:{DEMO_LINE}@"), diversions
    assert f"reason={reason}" in diversions[0]
    assert any("carrier.example" in d for d in diversions)  # the carrier's entry goes on
    if answer_a is not None:
        assert len(a.requests("INVITE")) > seen_a  # A's own phone rang first (or with B)
    # B's phone is busy, so B's voicemail answers (B's own rules apply to the call A sent it,
    # a ring-table leg included).
    assert len(system.messages(SECOND_LINE, before_b + 1)) == before_b + 1
    assert len(system.messages(DEMO_LINE)) == before_a
    assert len(re.findall(r"was challenged", system.text())) == challenged
    time.sleep(0.2)
