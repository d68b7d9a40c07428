"""What the edge does with each kind of request (SPEC S1, S4, S9): trunk calls to lines go to
a worker, devices are authenticated and asserted, workers reach the trunk or other lines, and
identity headers never cross the edge from outside."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

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
    edge_settings,
    provision,
    running_edge,
)
from tests.support.ports import free_port
from tests.support.sipclient import Responder

pytest_plugins = ["tests.support.edge_fixtures"]

SPOOFED = [
    ("P-Asserted-Identity", f"<sip:{DEMO_LINE}@{DOMAIN}>"),
    ("P-Preferred-Identity", f"<sip:{DEMO_LINE}@{DOMAIN}>"),
    ("Remote-Party-ID", f"<sip:{DEMO_LINE}@{DOMAIN}>;party=calling;screen=yes"),
    ("X-Relais-Leg", "devices"),
    ("X-Relais-Event", "registered"),
]
IDENTITY = {"p-asserted-identity", "p-preferred-identity", "remote-party-id"}


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


def invite(
    t: sip.Transport,
    edge: Edge,
    user: str,
    from_uri: str,
    extra: list[tuple[str, str]] | None = None,
) -> sip.Message | None:
    d = sip.Dialog(from_uri, f"sip:{user}@{DOMAIN}")
    t.send(
        sip.request(
            t,
            "INVITE",
            f"sip:{user}@{edge.host}:{edge.port}",
            d,
            extra=extra,
            contact=f"<sip:caller@{t.local[0]}:{t.local[1]}>",
        )
    )
    return sip.final_response(t)


def headers_of(msg: sip.Message) -> set[str]:
    return {k.lower() for k, _ in msg.headers}


def test_trunk_calls_to_lines_reach_a_worker_without_foreign_identity(
    edge: Edge, worker: Responder
) -> None:
    with sip.transport("udp", edge.addr, "127.0.0.2") as trunk:
        r = invite(trunk, edge, DEMO_LINE, "sip:6135550199@carrier.example", SPOOFED)
        assert r is not None and r.status == 200
        r = invite(trunk, edge, "+16135550100", "sip:6135550199@carrier.example")
        assert r is not None and r.status == 200
        r = invite(trunk, edge, "*98", "sip:6135550199@carrier.example")
        assert r is not None and r.status == 200
        # Not a line: the edge is no transit for the trunk.
        r = invite(trunk, edge, "6135550199", "sip:6135550188@carrier.example")
        assert r is not None and r.status == 404
        d = sip.Dialog("sip:x@carrier.example", f"sip:{DEMO_LINE}@{DOMAIN}")
        trunk.send(sip.request(trunk, "MESSAGE", f"sip:{DEMO_LINE}@{edge.host}:{edge.port}", d))
        r = sip.final_response(trunk)
        assert r is not None and r.status == 405
    calls = worker.requests("INVITE")
    assert [c.uri.split("@")[0] for c in calls] == [
        f"sip:{DEMO_LINE}",
        "sip:+16135550100",
        "sip:*98",
    ]
    for call in calls:
        assert not headers_of(call) & IDENTITY
        assert not any(k.lower().startswith("x-relais") for k, _ in call.headers)
        assert call.header("Record-Route")  # in-dialog requests come back through the edge


def test_a_trunk_call_claiming_our_domain_must_authenticate(edge: Edge, worker: Responder) -> None:
    with sip.transport("udp", edge.addr, "127.0.0.2") as trunk:
        r = invite(trunk, edge, DEMO_LINE, f"sip:{DEMO_USER}@{DOMAIN}")
        assert r is not None and r.status == 407
    assert not worker.requests("INVITE")


def authenticated_invite(
    t: sip.Transport,
    edge: Edge,
    target: str,
    user: str,
    password: str,
    from_user: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> sip.Message | None:
    from_uri = f"sip:{from_user or user}@{DOMAIN}"
    d = sip.Dialog(from_uri, f"sip:{target}@{DOMAIN}")
    ruri = f"sip:{target}@{DOMAIN}"
    contact = f"<sip:{user}@{t.local[0]}:{t.local[1]}>"
    t.send(sip.request(t, "INVITE", ruri, d, extra=extra, contact=contact))
    challenge = sip.final_response(t)
    assert challenge is not None and challenge.status == 407
    assert challenge.header("Proxy-Authenticate")
    d.cseq += 1
    auth = sip.authorization(
        challenge.header("Proxy-Authenticate") or "", "INVITE", ruri, user, password
    )
    t.send(
        sip.request(
            t,
            "INVITE",
            ruri,
            d,
            extra=[*(extra or []), ("Proxy-Authorization", auth)],
            contact=contact,
        )
    )
    return sip.final_response(t)


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_devices_reach_a_worker_with_their_line_asserted(
    edge: Edge, worker: Responder, proto: str
) -> None:
    with sip.transport(proto, edge.addr, "127.0.0.3") as phone:
        r = authenticated_invite(phone, edge, "*98", DEMO_USER, DEMO_PASSWORD, extra=SPOOFED)
        assert r is not None and r.status == 200
        # desk100 is another device of the same line: the asserted identity is the line.
        r = authenticated_invite(phone, edge, "6135550123", DESK_USER, DESK_PASSWORD)
        assert r is not None and r.status == 200
    first, second = worker.requests("INVITE")
    assert first.uri.startswith("sip:*98@")
    assert first.all("P-Asserted-Identity") == [f"<sip:{DEMO_LINE}@{DOMAIN}>"]
    assert not headers_of(first) & {"p-preferred-identity", "remote-party-id", "x-relais-leg"}
    assert second.all("P-Asserted-Identity") == [f"<sip:{DEMO_LINE}@{DOMAIN}>"]
    for call in (first, second):
        assert "proxy-authorization" not in headers_of(call)  # credentials stay at the edge


def test_a_device_cannot_call_as_someone_else(edge: Edge, worker: Responder) -> None:
    with sip.transport("udp", edge.addr, "127.0.0.3") as phone:
        r = authenticated_invite(phone, edge, "*98", DESK_USER, DESK_PASSWORD, from_user=DEMO_USER)
        assert r is not None and r.status == 403
        r = authenticated_invite(phone, edge, "*98", DEMO_USER, "wrong-password")
        assert r is not None and r.status == 403
    assert not worker.requests("INVITE")


@pytest.fixture
def trunk(tmp_path: Path) -> Iterator[Responder]:
    with Responder("127.0.0.2", free_port("127.0.0.2")) as t:
        yield t


def test_workers_reach_the_trunk_and_other_lines(
    tmp_path: Path, store: Store, trunk: Responder
) -> None:
    cfg = edge_settings(tmp_path, store.url, trunk_uri=f"sip:{trunk.addr[0]}:{trunk.addr[1]}")
    provision(store, cfg)
    with Responder(cfg.switch_host, cfg.switch_base_port) as worker, running_edge(cfg) as e:

        def call(number: str) -> int:
            d = sip.Dialog(f"sip:{DEMO_LINE}@{DOMAIN}", f"sip:{number}@{DOMAIN}")
            r = worker.send_request(
                "INVITE",
                f"sip:{number}@{e.host}:{e.port}",
                d,
                e.addr,
                extra=[("P-Asserted-Identity", f"<sip:{DEMO_LINE}@{DOMAIN}>")],
            )
            assert r is not None
            return r.status

        assert call("8195550123") == 200  # not ours: the trunk
        assert call("6135550101") == 200  # a line: back to a worker
        out = trunk.requests("INVITE")
        assert [m.uri for m in out] == [f"sip:8195550123@{trunk.addr[0]}:{trunk.addr[1]}"]
        assert out[0].all("P-Asserted-Identity") == [f"<sip:{DEMO_LINE}@{DOMAIN}>"]
        back = [m for m in worker.requests("INVITE") if m.source != worker.addr]
        assert [m.uri.split("@")[0] for m in back] == ["sip:6135550101"]
        # The other line's worker gets no identity asserted on the first worker's word.
        assert not headers_of(back[0]) & IDENTITY


def test_without_a_trunk_other_numbers_are_refused(edge: Edge, worker: Responder) -> None:
    d = sip.Dialog(f"sip:{DEMO_LINE}@{DOMAIN}", f"sip:8195550123@{DOMAIN}")
    r = worker.send_request("INVITE", f"sip:8195550123@{edge.host}:{edge.port}", d, edge.addr)
    assert r is not None and r.status == 404


def test_mwi_notify_from_a_worker_reaches_every_registered_phone(
    edge: Edge, worker: Responder
) -> None:
    body = (
        b"Messages-Waiting: yes\r\nMessage-Account: sip:*98@relais.local\r\nVoice-Message: 2/1\r\n"
    )
    with Responder("127.0.0.3") as phone, Responder("127.0.0.4") as desk:
        assert phone.register(edge.addr, DEMO_USER, DEMO_PASSWORD, DOMAIN).status == 200
        assert desk.register(edge.addr, DESK_USER, DESK_PASSWORD, DOMAIN).status == 200
        d = sip.Dialog(f"sip:{DEMO_LINE}@{DOMAIN}", f"sip:{DEMO_LINE}@{DOMAIN}")
        r = worker.send_request(
            "NOTIFY",
            f"sip:{DEMO_LINE}@{edge.host}:{edge.port}",
            d,
            edge.addr,
            extra=[
                ("Event", "message-summary"),
                ("Subscription-State", "active"),
                ("Content-Type", "application/simple-message-summary"),
            ],
            body=body,
        )
        assert r is not None and r.status == 200
        for p in (phone, desk):
            (n,) = p.requests("NOTIFY")
            assert n.body == body and n.header("Event") == "message-summary"
    # A line nobody registered: 480, so the switch knows the lamp is not lit anywhere.
    d = sip.Dialog("sip:6135550101@relais.local", "sip:6135550101@relais.local")
    r = worker.send_request(
        "NOTIFY",
        f"sip:6135550101@{edge.host}:{edge.port}",
        d,
        edge.addr,
        extra=[("Event", "message-summary")],
    )
    assert r is not None and r.status == 480


def test_forged_in_dialog_requests_go_nowhere_but_a_worker(edge: Edge, worker: Responder) -> None:
    """A request with a To tag and a Route to the edge must not turn the edge into a relay."""
    with (
        Responder("127.0.0.9", free_port("127.0.0.9")) as target,
        sip.transport("udp", edge.addr, "127.0.0.3") as outsider,
    ):
        d = sip.Dialog("sip:x@attacker.example", f"sip:900@{DOMAIN}")
        req = sip.request(
            outsider,
            "INVITE",
            f"sip:9005550123@{target.addr[0]}:{target.addr[1]}",
            d,
            extra=[("Route", f"<sip:{edge.host}:{edge.port};lr>")],
        )
        req.headers = [(k, v + ";tag=forged" if k == "To" else v) for k, v in req.headers]
        outsider.send(req)
        r = sip.final_response(outsider, 2)
        assert r is not None and r.status == 403
    assert not target.received


def test_a_phone_registered_over_tcp_is_called_over_its_connection(
    edge: Edge, worker: Responder
) -> None:
    with sip.transport("tcp", edge.addr, "127.0.0.3") as phone:
        _, ok = sip.register(phone, DEMO_USER, DEMO_PASSWORD, DOMAIN)
        assert ok is not None and ok.status == 200
        d = sip.Dialog("sip:6135550199@relais.local", f"sip:{DEMO_LINE}@{DOMAIN}")
        worker.sock.sendto(
            sip.request(
                sip._SocketView(worker.sock, edge.addr),
                "INVITE",
                f"sip:{DEMO_LINE}@{edge.host}:{edge.port}",
                d,
                extra=[("X-Relais-Leg", "devices")],
            ).to_bytes(),
            edge.addr,
        )
        incoming = phone.recv(3)
        while incoming is not None and incoming.is_response:
            incoming = phone.recv(3)
        assert incoming is not None and incoming.method == "INVITE"
        assert incoming.header("X-Relais-Leg") is None  # the marker stays between worker and edge
        phone.send(sip.reply(incoming, 486, "Busy Here", to_tag="t1"))
        deadline = time.monotonic() + 3
        while not [r for r in worker.responses if r.status >= 200] and time.monotonic() < deadline:
            time.sleep(0.02)
    assert [r.status for r in worker.responses if r.status >= 200] == [486]


def test_in_dialog_requests_from_a_phone_reach_the_worker(edge: Edge, worker: Responder) -> None:
    with Responder("127.0.0.3") as phone:
        assert phone.register(edge.addr, DEMO_USER, DEMO_PASSWORD, DOMAIN).status == 200
        d = sip.Dialog("sip:6135550199@relais.local", f"sip:{DEMO_LINE}@{DOMAIN}")
        r = worker.send_request(
            "INVITE",
            f"sip:{DEMO_LINE}@{edge.host}:{edge.port}",
            d,
            edge.addr,
            extra=[("X-Relais-Leg", "devices")],
        )
        assert r is not None and r.status == 200
        worker.ack(r, edge.addr)
        (invite,) = phone.requests("INVITE")
        # The phone hangs up: its BYE follows the Record-Route back to the worker.
        route = [v for v in invite.all("Record-Route")]
        to = invite.header("From") or ""
        contact = invite.header("Contact") or ""
        bye = sip.Message(
            f"BYE {contact[contact.find('<') + 1 : contact.find('>')]} SIP/2.0",
            [
                ("Via", f"SIP/2.0/UDP {phone.addr[0]}:{phone.addr[1]};branch={sip.branch()}"),
                ("Max-Forwards", "70"),
                *(("Route", v) for v in route),
                ("From", f"{invite.header('To')};tag=phone-tag"),
                ("To", to),
                ("Call-ID", invite.header("Call-ID") or ""),
                ("CSeq", "9 BYE"),
                ("Content-Length", "0"),
            ],
        )
        r = phone.transaction(bye, edge.addr)
        assert r is not None and r.status == 200
    assert len(worker.wait_for("BYE")) == 1


def test_size_and_max_forwards_limits(edge: Edge, worker: Responder) -> None:
    limit = edge.cfg.edge.max_message_bytes

    def padded(t: sip.Transport, size: int) -> sip.Message:
        d = sip.Dialog("sip:8195550123@carrier.example", f"sip:{DEMO_LINE}@{DOMAIN}")
        msg = sip.request(t, "INVITE", f"sip:{DEMO_LINE}@{edge.host}:{edge.port}", d)
        pad = size - len(msg.to_bytes()) - len("X-Padding: \r\n")
        msg.headers.insert(-1, ("X-Padding", "x" * pad))
        assert len(msg.to_bytes()) == size
        return msg

    with sip.transport("udp", edge.addr, "127.0.0.2") as trunk:
        trunk.send(padded(trunk, limit + 1))
        r = sip.final_response(trunk)
        assert r is not None and r.status == 513
    with sip.transport("tcp", edge.addr, "127.0.0.2") as trunk:
        trunk.send(padded(trunk, limit + 1))
        r = sip.final_response(trunk)
        assert r is not None and r.status == 513
    with sip.transport("tcp", edge.addr, "127.0.0.2") as trunk:
        trunk.send(padded(trunk, limit + 4096))
        assert trunk.closed_by_peer(3)
    with sip.transport("tcp", edge.addr, "127.0.0.2") as trunk:
        trunk.send(padded(trunk, limit))  # at the limit, over TCP too
        r = sip.final_response(trunk)
        assert r is not None and r.status == 200
        d = sip.Dialog("sip:8195550123@carrier.example", f"sip:{DEMO_LINE}@{DOMAIN}")
        many = sip.request(trunk, "INVITE", f"sip:{DEMO_LINE}@{edge.host}:{edge.port}", d)
        many.headers = [
            ("Max-Forwards", "250") if k == "Max-Forwards" else (k, v) for k, v in many.headers
        ]
        trunk.send(many)
        r = sip.final_response(trunk)
        assert r is not None and r.status == 200
    first, second = worker.requests("INVITE")
    assert len(first.raw) > limit - 500  # forwarded whole
    assert int(second.header("Max-Forwards") or 0) == edge.cfg.edge.max_forwards  # not 249


def test_subscribe_for_message_summary_is_served_by_the_edge(edge: Edge, worker: Responder) -> None:
    """The edge answers it (presence) and asks a worker to re-assert the line's counts; the
    SUBSCRIBE itself never reaches a worker (tests/peer/test_edge_mwi.py: the rest)."""
    with sip.transport("udp", edge.addr, "127.0.0.3") as phone:
        aor = f"sip:{DEMO_USER}@{DOMAIN}"
        d = sip.Dialog(aor, aor)
        extra = [
            ("Event", "message-summary"),
            ("Expires", "3600"),
            ("Accept", "application/simple-message-summary"),
        ]
        phone.send(
            sip.request(
                phone,
                "SUBSCRIBE",
                aor,
                d,
                extra=extra,
                contact=f"<sip:{DEMO_USER}@{phone.local[0]}:{phone.local[1]}>",
            )
        )
        challenge = sip.final_response(phone)
        assert challenge is not None and challenge.status == 407
        d.cseq += 1
        auth = sip.authorization(
            challenge.header("Proxy-Authenticate") or "", "SUBSCRIBE", aor, DEMO_USER, DEMO_PASSWORD
        )
        phone.send(
            sip.request(
                phone,
                "SUBSCRIBE",
                aor,
                d,
                extra=[*extra, ("Proxy-Authorization", auth)],
                contact=f"<sip:{DEMO_USER}@{phone.local[0]}:{phone.local[1]}>",
            )
        )
        r = sip.final_response(phone)
        assert r is not None and r.status == 200
        assert (r.header("Contact") or "").startswith(f"<sip:{edge.host}:{edge.port}")
    # Twice: before the subscription is served and once it exists (the edge's
    # route[MWI_SUBSCRIBE]); the second can arrive before or after the 200 reached the phone.
    asked = worker.wait_for("MESSAGE", count=2)
    assert len(asked) == 2
    for a in asked:
        assert a.uri == f"sip:{DEMO_LINE}@{DOMAIN}"
        assert a.header("X-Relais-Event") == "registered"
    assert worker.requests("SUBSCRIBE") == []


def test_an_unreadable_store_gets_503_not_404(edge: Edge, worker: Responder, store: Store) -> None:
    with store.transaction() as s:
        s.execute(sa.text("ALTER TABLE line RENAME TO line_away"))
    try:
        with sip.transport("udp", edge.addr, "127.0.0.2") as trunk:
            r = invite(trunk, edge, DEMO_LINE, "sip:6135550199@carrier.example")
            assert r is not None and r.status == 503
            assert r.header("Retry-After") == "5"
        d = sip.Dialog("sip:6135550199@relais.local", f"sip:{DEMO_LINE}@{DOMAIN}")
        r = worker.send_request("INVITE", f"sip:8195550123@{edge.host}:{edge.port}", d, edge.addr)
        assert r is not None and r.status == 503
    finally:
        with store.transaction() as s:
            s.execute(sa.text("ALTER TABLE line_away RENAME TO line"))
    assert "the store cannot be read" in edge.log_text()
    assert not worker.requests("INVITE")
