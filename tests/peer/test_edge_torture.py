"""RFC 4475 torture messages against the edge over UDP and TCP (tests/data/rfc4475/INDEX.md):
Kamailio stays up, answers what INDEX.md asks or drops what it may drop, forwards nothing,
and still registers a phone afterwards.

Where Kamailio 5.6's own parser refuses a message before the routing script runs, it drops
it (and closes a TCP connection): no answer can be built without parsed headers. INDEX.md
asks for an answer in a few of those cases (marked "parser" below); they are recorded here as
what this Kamailio does, so a change of behaviour shows up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store.migrate import upgrade
from store.session import Store
from tests.support import sipclient as sip
from tests.support.edge import (
    DEMO_PASSWORD,
    DEMO_USER,
    DOMAIN,
    Edge,
    edge_settings,
    provision,
    running_edge,
)
from tests.support.sipclient import Responder

DATA = Path(__file__).resolve().parent.parent / "data" / "rfc4475"
DROP = None

# label: (UDP answer, TCP answer, why). An answer is a status code or DROP.
EXPECTED: dict[str, tuple[int | None, int | None, str]] = {
    "wsinv": (DROP, DROP, "VALID; parser: folded CSeq value is refused by Kamailio's parser"),
    "intmeth": (DROP, DROP, "VALID; parser: header names with %*+`'~ are refused"),
    "esc01": (407, 407, "VALID INVITE from an unauthenticated source: challenged"),
    "escnull": (401, 401, "VALID REGISTER: challenged (the registrar authenticates)"),
    "esc02": (DROP, DROP, "VALID; parser: header name C%6Fntact is refused"),
    "lwsdisp": (200, 200, "VALID OPTIONS: answered by the edge"),
    "longreq": (407, 407, "VALID long INVITE parsed without truncation: challenged"),
    "dblreq": (401, 401, "VALID REGISTER; trailing octets ignored (UDP)"),
    "semiuri": (200, 200, "VALID OPTIONS"),
    "transports": (200, 200, "VALID OPTIONS with unknown Via transports"),
    "mpart01": (407, 407, "VALID multipart INVITE framed by Content-Length"),
    "unreason": (DROP, DROP, "a response matching no transaction"),
    "noreason": (DROP, DROP, "a response matching no transaction"),
    "badinv01": (DROP, DROP, "INVALID; parser refuses the stray ; and , (INDEX: 400)"),
    "clerr": (400, DROP, "INVALID: 400 over UDP; over TCP the edge waits for the body"),
    "ncl": (DROP, DROP, "INVALID negative Content-Length: discarded, TCP connection closed"),
    "scalar02": (400, 400, "INVALID CSeq above 2^32-1"),
    "scalarlg": (DROP, DROP, "INVALID response: discarded"),
    "quotbal": (DROP, DROP, "INVALID unterminated quote; parser refuses (INDEX: 400)"),
    "ltgtruri": (400, 400, "INVALID <> around the Request-URI"),
    "lwsruri": (DROP, DROP, "INVALID LWS in the Request-URI; parser refuses (INDEX: 400)"),
    "lwsstart": (DROP, DROP, "INVALID request line: rejected as malformed"),
    "trws": (200, 200, "INVALID trailing SP, accepted liberally by an OPTIONS answer"),
    "escruri": (407, 407, "INVALID escaped headers: challenged, never forwarded"),
    "baddate": (407, 407, "INVALID Date: ignored"),
    "regbadct": (401, 401, "INVALID Contact: the registrar challenges before parsing it"),
    "badaspec": (200, 200, "INVALID spaces in addr-spec: parsed liberally, not forwarded"),
    "baddn": (200, DROP, "INVALID display names accepted liberally; no final CRLF (TCP waits)"),
    "badvers": (DROP, DROP, "INVALID SIP/7.0; parser refuses (INDEX: 505)"),
    "mismatch01": (400, 400, "INVALID CSeq method mismatch"),
    "mismatch02": (400, 400, "INVALID CSeq method mismatch (400 allowed)"),
    "bigcode": (DROP, DROP, "INVALID response code: dropped silently"),
    "badbranch": (200, 200, "branch=z9hG4bK alone: handled (RFC 2543 matching)"),
    "insuf": (DROP, DROP, "no Call-ID/From/To: nothing to answer to (INDEX: ideally 400)"),
    "unkscm": (416, 416, "unknown Request-URI scheme"),
    "novelsc": (416, 416, "soap.beep Request-URI scheme"),
    "unksm2": (400, 400, "REGISTER with a non-SIP To: refused"),
    "bext01": (420, 420, "Proxy-Require/Require with unknown options"),
    "invut": (407, 407, "unknown Content-Type: a proxy processes it (challenged)"),
    "regaut01": (401, 401, "unknown Authorization scheme: challenged, never accepted"),
    "multi01": (DROP, DROP, "several Call-ID/To/From/CSeq; parser refuses (INDEX: 400)"),
    "mcl01": (DROP, DROP, "conflicting Content-Length: discarded, TCP connection closed"),
    "bcast": (DROP, DROP, "200 with a broadcast Via: dropped, never forwarded"),
    "zeromf": (483, 483, "Max-Forwards 0"),
    "cparam01": (401, 401, "REGISTER: challenged"),
    "cparam02": (401, 401, "REGISTER: challenged"),
    "regescrt": (401, 401, "REGISTER: challenged"),
    "sdp01": (407, 407, "Accept without SDP: a proxy processes it (challenged)"),
    "inv2543": (407, DROP, "RFC 2543 INVITE over UDP; no Content-Length is invalid on TCP"),
}
MUST_CLOSE_TCP = {"ncl", "mcl01"}


def test_every_message_of_the_corpus_has_an_expectation() -> None:
    assert {p.stem for p in DATA.glob("*.dat")} == set(EXPECTED)


@pytest.fixture(scope="module")
def torture_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Edge, Responder]]:
    tmp = tmp_path_factory.mktemp("torture")
    store = Store(f"sqlite:///{tmp / 'relais.db'}")
    upgrade(store.engine)
    cfg = edge_settings(tmp, store.url, edge={"flood_requests": 100000})
    provision(store, cfg)
    with Responder(cfg.switch_host, cfg.switch_base_port) as worker, running_edge(cfg) as e:
        yield e, worker
    store.dispose()


def answers(t: sip.Transport, expected: int | None) -> list[int]:
    """Status codes received: waiting up to 3 s for an expected answer (0.5 s for a drop),
    then 0.1 s more for a second one."""
    codes = []
    timeout = 0.5 if expected is DROP else 3.0
    while (m := t.recv(timeout)) is not None:
        if m.is_response:
            codes.append(m.status)
            timeout = 0.1
    return codes


@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_torture_message(label: str, torture_edge: tuple[Edge, Responder]) -> None:
    edge, worker = torture_edge
    udp_expected, tcp_expected, why = EXPECTED[label]
    data = (DATA / f"{label}.dat").read_bytes()
    with sip.transport("udp", edge.addr, "127.0.0.3") as t:
        t.send_raw(data)
        assert answers(t, udp_expected) == ([] if udp_expected is DROP else [udp_expected]), why
    with sip.transport("tcp", edge.addr, "127.0.0.3") as t:
        t.send_raw(data)
        got = answers(t, tcp_expected)
        if label == "dblreq":  # over TCP the trailing INVITE is a second (incomplete) request
            assert got[:1] == [401], why
        else:
            assert got == ([] if tcp_expected is DROP else [tcp_expected]), why
        if label in MUST_CLOSE_TCP:
            assert t.closed_by_peer(2.0), f"{label}: framing lost, the connection must close"
    assert edge.alive(), edge.log_text()[-3000:]
    # Nothing was forwarded to the worker (it only ever sees the edge's OPTIONS probes).
    assert {m.method for m in worker.received} <= {"OPTIONS"}


def test_the_edge_still_works_after_the_corpus(torture_edge: tuple[Edge, Responder]) -> None:
    edge, _ = torture_edge
    for path in sorted(DATA.glob("*.dat")):  # again, all at once
        for proto in ("udp", "tcp"):
            with sip.transport(proto, edge.addr, "127.0.0.3") as t:
                t.send_raw(path.read_bytes())
    for proto in ("udp", "tcp"):
        with sip.transport(proto, edge.addr, "127.0.0.4") as t:
            _, ok = sip.register(t, DEMO_USER, DEMO_PASSWORD, DOMAIN)
            assert ok is not None and ok.status == 200
            d = sip.Dialog("sip:a@b.example", f"sip:{DOMAIN}")
            t.send(sip.request(t, "OPTIONS", f"sip:{edge.host}:{edge.port}", d))
            r = sip.final_response(t)
            assert r is not None and r.status == 200
    assert edge.alive()
    assert "CRITICAL" not in edge.log_text()
