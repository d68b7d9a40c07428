"""The edge's registrar (SPEC S1, S9): digest authentication against the store's device table
on SQLite and PostgreSQL, answers that do not tell users apart, registrations that survive a
restart, and the "registered" event that makes the switch re-assert the MWI lamp (S6)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from store.session import Store
from tests.support import sipclient as sip
from tests.support.edge import (
    DEMO_LINE,
    DEMO_PASSWORD,
    DEMO_USER,
    DESK_PASSWORD,
    DESK_USER,
    DOMAIN,
    Edge,
    running_edge,
)
from tests.support.sipclient import Responder

pytest_plugins = ["tests.support.edge_fixtures"]


def shape(msg: sip.Message | None) -> tuple[object, ...]:
    """What an attacker can compare between two answers (tags, Call-ID and nonces aside)."""
    assert msg is not None
    challenge = msg.header("WWW-Authenticate") or msg.header("Proxy-Authenticate") or ""
    return (
        msg.first_line,
        tuple(sorted(k.lower() for k, _ in msg.headers)),
        re.sub(r'nonce="[^"]*"', 'nonce="-"', challenge),
        msg.body,
    )


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_digest_register_over_udp_and_tcp(edge: Edge, proto: str) -> None:
    with sip.transport(proto, edge.addr, "127.0.0.3") as t:
        challenge, ok = sip.register(t, DEMO_USER, DEMO_PASSWORD, DOMAIN)
        assert challenge is not None and challenge.status == 401
        params = sip.digest_params(challenge.header("WWW-Authenticate") or "")
        assert params["realm"] == DOMAIN and params["qop"] == "auth"
        assert ok is not None and ok.status == 200
        host, port = t.local
        assert any(f"@{host}:{port}" in c for c in ok.all("Contact"))
        # Unregistering removes the binding.
        _, gone = sip.register(t, DEMO_USER, DEMO_PASSWORD, DOMAIN, expires=0)
        assert gone is not None and gone.status == 200
        assert not any(f"@{host}:{port}" in c for c in gone.all("Contact"))


def test_wrong_password_and_unknown_user_get_the_same_answers(edge: Edge) -> None:
    answers = {}
    for user, password in (
        (DEMO_USER, "not-the-password"),
        ("6135559999", "not-the-password"),
        (DESK_USER, "not-the-password"),
        ("nobody", "whatever-1"),
    ):
        with sip.transport("udp", edge.addr, "127.0.0.3") as t:
            challenge, refused = sip.register(t, user, password, DOMAIN)
            assert refused is not None and refused.status == 403
            answers[user] = (shape(challenge), shape(refused))
    assert len(set(answers.values())) == 1, answers
    # The right password still works: nothing was locked by the failures (trusted peers aside,
    # bans need edge.auth_failures failures).
    with sip.transport("udp", edge.addr, "127.0.0.3") as t:
        _, ok = sip.register(t, DESK_USER, DESK_PASSWORD, DOMAIN)
        assert ok is not None and ok.status == 200


def test_register_for_someone_else_is_refused(edge: Edge) -> None:
    """The digest user must be the AOR's user: desk100's password cannot bind 6135550100."""
    aor = f"sip:{DEMO_USER}@{DOMAIN}"
    with sip.transport("udp", edge.addr, "127.0.0.3") as t:
        d = sip.Dialog(aor, aor)
        t.send(sip.request(t, "REGISTER", f"sip:{DOMAIN}", d, contact=f"<sip:x@{t.local[0]}>"))
        challenge = sip.final_response(t)
        assert challenge is not None and challenge.status == 401
        d.cseq += 1
        auth = sip.authorization(
            challenge.header("WWW-Authenticate") or "",
            "REGISTER",
            f"sip:{DOMAIN}",
            DESK_USER,
            DESK_PASSWORD,
        )
        t.send(
            sip.request(
                t,
                "REGISTER",
                f"sip:{DOMAIN}",
                d,
                extra=[("Authorization", auth)],
                contact=f"<sip:x@{t.local[0]}>",
            )
        )
        refused = sip.final_response(t)
        assert refused is not None and refused.status == 403


def test_registration_tells_a_worker_to_reassert_the_lamp(edge: Edge, worker: Responder) -> None:
    with Responder("127.0.0.3") as phone, Responder("127.0.0.4") as desk:
        assert phone.register(edge.addr, DEMO_USER, DEMO_PASSWORD, DOMAIN).status == 200
        events = worker.wait_for("MESSAGE", 1)
        assert len(events) == 1
        assert events[0].uri == f"sip:{DEMO_LINE}@{DOMAIN}"
        assert events[0].header("X-Relais-Event") == "registered"
        assert events[0].body == DEMO_LINE.encode()
        # desk100 belongs to the same line: the event names the line, not the device.
        assert desk.register(edge.addr, DESK_USER, DESK_PASSWORD, DOMAIN).status == 200
        events = worker.wait_for("MESSAGE", 2)
        assert [e.body for e in events] == [DEMO_LINE.encode()] * 2
        # A refresh (same Call-ID) is not a new registration: no new event.
        aor = f"sip:{DEMO_USER}@{DOMAIN}"
        d = sip.Dialog(aor, aor)
        with sip.transport("udp", edge.addr, "127.0.0.5") as t:
            sip.register(t, DEMO_USER, DEMO_PASSWORD, DOMAIN, d=d)
            d.cseq += 1
            sip.register(t, DEMO_USER, DEMO_PASSWORD, DOMAIN, d=d)
        assert len(worker.wait_for("MESSAGE", 4, timeout=2)) == 3


def test_registrations_survive_an_edge_restart(edge_config, store: Store, worker) -> None:  # type: ignore[no-untyped-def]
    with Responder("127.0.0.3", policy=lambda r: (486, "Busy Here")) as phone:
        with running_edge(edge_config) as e:
            assert phone.register(e.addr, DEMO_USER, DEMO_PASSWORD, DOMAIN).status == 200
        # Written back to the store's location table at shutdown.
        with store.read() as s:
            rows = s.execute(sa.text("SELECT username, contact FROM location")).all()
        assert [(u, c) for u, c in rows] == [
            (DEMO_USER, f"sip:{DEMO_USER}@{phone.addr[0]}:{phone.addr[1]}")
        ]
        with running_edge(edge_config) as e:
            d = sip.Dialog("sip:6135550199@relais.local", f"sip:{DEMO_LINE}@{DOMAIN}")
            r = worker.send_request(
                "INVITE",
                f"sip:{DEMO_LINE}@{e.host}:{e.port}",
                d,
                e.addr,
                extra=[("X-Relais-Leg", "devices")],
            )
            assert r is not None and r.status == 486
        assert phone.requests("INVITE")
