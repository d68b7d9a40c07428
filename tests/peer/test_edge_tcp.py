"""TCP at the edge (SPEC S12): connections that never carried an authenticated request are
closed after edge.tcp_idle_seconds, authenticated ones stay; one source holds at most
edge.tcp_per_source connections carrying requests; and 4,200 idle connections from 100
loopback sources leave room for a real call over TCP (a worker's forwarded leg included)."""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from config.settings import Settings
from routing.model import IncomingMode
from store import repository
from store.session import Store
from tests.peer.test_edge_forwarding import LONG_NAME
from tests.peer.test_edge_switch import TRUNK, System, running_system
from tests.support import sipclient as sip
from tests.support import sipp
from tests.support.edge import (
    DEMO_LINE,
    DEMO_PASSWORD,
    DEMO_USER,
    DOMAIN,
    SECOND_LINE,
    Edge,
    edge_settings,
    provision,
    running_edge,
)
from tests.support.ports import free_port, free_ports
from tests.support.sipclient import Responder

pytestmark = pytest.mark.peer

IDLE_SOURCES = 100
IDLE_PER_SOURCE = 42


def raise_open_files(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def connect(edge: tuple[str, int], source: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(edge)
    return s


def open_now(s: socket.socket) -> bool:
    """The edge has not closed this connection (nothing to read, no EOF, no reset)."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def closed_within(s: socket.socket, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not open_now(s):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def tcp_edge(tmp_path: Path, store: Store) -> Iterator[tuple[Settings, Edge]]:
    cfg = edge_settings(tmp_path, store.url, edge={"tcp_idle_seconds": 2, "tcp_per_source": 5})
    provision(store, cfg)
    with (
        Responder(cfg.switch_host, cfg.switch_base_port),
        running_edge(cfg, workers=1) as e,
    ):
        yield cfg, e
    assert "CRITICAL" not in e.log_text()


def test_unauthenticated_connections_are_closed_and_authenticated_ones_stay(
    tcp_edge: tuple[Settings, Edge],
) -> None:
    _, e = tcp_edge
    with contextlib.ExitStack() as stack:
        phone = stack.enter_context(sip.transport("tcp", e.addr, "127.0.0.3"))
        _, ok = sip.register(phone, DEMO_USER, DEMO_PASSWORD, DOMAIN)
        assert ok is not None and ok.status == 200
        idle = [
            stack.enter_context(contextlib.closing(connect(e.addr, "127.0.0.20")))
            for _ in range(10)
        ]
        partial = stack.enter_context(contextlib.closing(connect(e.addr, "127.0.0.21")))
        partial.sendall(b"INVITE sip:6135550100@relais.local SIP/2.0\r\nVia: SIP/2.0/TCP 127")
        challenged = stack.enter_context(sip.transport("tcp", e.addr, "127.0.0.22"))
        d = sip.Dialog(f"sip:{DEMO_USER}@{DOMAIN}", f"sip:{SECOND_LINE}@{DOMAIN}")
        challenged.send(sip.request(challenged, "INVITE", f"sip:{SECOND_LINE}@{DOMAIN}", d))
        r = sip.final_response(challenged)
        assert r is not None and r.status == 407
        for s in (*idle, partial, challenged.sock):
            assert closed_within(s, 30), "the edge kept an unauthenticated connection"
        # The registered phone's connection outlived them, and still carries requests.
        assert open_now(phone.sock)
        d = sip.Dialog(f"sip:{DEMO_USER}@{DOMAIN}", f"sip:{DOMAIN}")
        phone.send(sip.request(phone, "OPTIONS", f"sip:{DOMAIN}", d))
        pong = sip.final_response(phone)
        assert pong is not None and pong.status == 200


def test_one_source_holds_a_bounded_number_of_connections(
    tcp_edge: tuple[Settings, Edge],
) -> None:
    cfg, e = tcp_edge
    answered = closed = 0
    with contextlib.ExitStack() as stack:
        for _ in range(cfg.edge.tcp_per_source + 3):
            t = stack.enter_context(sip.transport("tcp", e.addr, "127.0.0.30"))
            d = sip.Dialog(f"sip:probe@{DOMAIN}", f"sip:{DOMAIN}")
            t.send(sip.request(t, "OPTIONS", f"sip:{DOMAIN}", d))
            r = sip.final_response(t, 3)
            if r is not None and r.status == 200:
                answered += 1
            elif t.closed_by_peer(3):
                closed += 1
        assert (answered, closed) == (cfg.edge.tcp_per_source, 3)
        # Another source is not affected.
        with sip.transport("tcp", e.addr, "127.0.0.31") as other:
            d = sip.Dialog(f"sip:probe@{DOMAIN}", f"sip:{DOMAIN}")
            other.send(sip.request(other, "OPTIONS", f"sip:{DOMAIN}", d))
            r = sip.final_response(other, 3)
            assert r is not None and r.status == 200
    # Once they are closed, the source may connect again.
    deadline = time.monotonic() + 10
    while True:
        with sip.transport("tcp", e.addr, "127.0.0.30") as t:
            d = sip.Dialog(f"sip:probe@{DOMAIN}", f"sip:{DOMAIN}")
            t.send(sip.request(t, "OPTIONS", f"sip:{DOMAIN}", d))
            r = sip.final_response(t, 1)
            if r is not None and r.status == 200:
                break
        assert time.monotonic() < deadline, "the source stayed locked out"
        time.sleep(0.2)
    assert "more than 5 TCP connections from 127.0.0.30" in e.log_text()


@pytest.fixture(scope="module")
def held_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    # Idle connections must outlive the call for the test to mean anything.
    with running_system(tmp_path_factory, RELAIS_EDGE__TCP_IDLE_SECONDS="300") as s:
        yield s


def test_a_call_over_tcp_completes_while_4200_idle_connections_are_held(
    held_system: System,
) -> None:
    system = held_system
    raise_open_files(IDLE_SOURCES * IDLE_PER_SOURCE + 1024)
    with system.store.transaction() as s:
        current = repository.line_settings(s, DEMO_LINE)
        assert current is not None
        repository.save_line_settings(
            s, replace(current, incoming_mode=IncomingMode.FORWARD_ALL, forward_all_to=SECOND_LINE)
        )
    before = len(system.messages(SECOND_LINE))
    with contextlib.ExitStack() as stack:
        held = [
            stack.enter_context(contextlib.closing(connect(system.edge, f"127.0.0.{10 + i}")))
            for i in range(IDLE_SOURCES)
            for _ in range(IDLE_PER_SOURCE)
        ]
        args = sipp.argv(
            "trunk_call_named.xml",
            system.edge,
            local=(TRUNK, free_port(TRUNK)),
            service=DEMO_LINE,
            media_port=free_ports(4, TRUNK),
            extra=[
                "-t",
                "t1",
                "-d",
                "3000",
                "-key",
                "caller_name",
                LONG_NAME,
                "-key",
                "headers",
                "Subject: held",
            ],
        )
        res = sipp.run(args, system.tmp / "call-held", timeout=90)
        assert (res.successful, res.failed) == (1, 0), res.errors()
        # Forwarded to the second line over a worker's TCP leg: its voicemail took the call.
        assert len(system.messages(SECOND_LINE, before + 1)) == before + 1
        still = sum(open_now(s) for s in held)
        assert still == len(held), f"only {still} of {len(held)} idle connections were held"
    assert system.proc.poll() is None
    children: list[dict[str, object]] = system.supervisor()["children"]  # type: ignore[assignment]
    restarts = {c["name"]: c["restarts"] for c in children}
    assert restarts["edge"] == 0, restarts  # Kamailio never died
