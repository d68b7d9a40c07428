"""A SIPVicious-style scan of the edge (SPEC S9): OPTIONS, REGISTER and INVITE swept over many
user names from one address cannot tell real users from unknown ones, and pike bans the
scanner; a slow password guesser is banned after edge.auth_failures wrong answers. Loopback
only, and bounded: the scanner stops after a few hundred requests."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from store.session import Store
from tests.support import sipclient as sip
from tests.support.edge import (
    DEMO_PASSWORD,
    DEMO_USER,
    DESK_USER,
    DOMAIN,
    Edge,
    edge_settings,
    provision,
    running_edge,
)
from tests.support.sipclient import Responder

SCANNER = "127.0.0.66"
REAL = [DEMO_USER, DESK_USER]
UNKNOWN = ["100", "101", "200", "1000", "admin", "6135550199", "desk101", "test"]


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


def fingerprint(msg: sip.Message | None) -> tuple[object, ...] | None:
    """Everything a scanner compares, minus per-request values (tags, nonces, Call-ID)."""
    if msg is None:
        return None
    challenge = msg.header("WWW-Authenticate") or msg.header("Proxy-Authenticate") or ""
    return (
        msg.first_line,
        tuple(sorted(k.lower() for k, _ in msg.headers)),
        re.sub(r'nonce="[^"]*"', "", challenge),
        msg.body,
    )


def probe(t: sip.Transport, edge: Edge, method: str, user: str) -> sip.Message | None:
    uri = f"sip:{user}@{DOMAIN}"
    d = sip.Dialog(
        f"sip:{user}@{DOMAIN}" if method == "REGISTER" else "sip:100@attacker.example", uri
    )
    ruri = f"sip:{DOMAIN}" if method == "REGISTER" else f"sip:{user}@{edge.host}:{edge.port}"
    t.send(sip.request(t, method, ruri, d, contact=f"<sip:{user}@{t.local[0]}:{t.local[1]}>"))
    return sip.final_response(t, 0.3)


def test_a_scan_learns_nothing_and_gets_banned(tmp_path: Path, store: Store) -> None:
    cfg = edge_settings(tmp_path, store.url, edge={"flood_requests": 40})
    provision(store, cfg)
    with Responder(cfg.switch_host, cfg.switch_base_port) as worker, running_edge(cfg) as e:
        # Slowly enough for pike: every method, every user; real and unknown look the same.
        with sip.transport("udp", e.addr, SCANNER) as t:
            for method in ("OPTIONS", "REGISTER", "INVITE"):
                seen = {user: fingerprint(probe(t, e, method, user)) for user in REAL + UNKNOWN}
                assert None not in seen.values(), (method, seen)
                assert len(set(seen.values())) == 1, (method, seen)
                time.sleep(0.6)
        # Then the sweep at full speed: banned after at most ~flood_requests requests per
        # 2 s, after which nothing answers at all.
        answered, sent, silent = 0, 0, 0
        with sip.transport("udp", e.addr, SCANNER) as t:
            for n in range(400):
                user = str(1000 + n)
                d = sip.Dialog("sip:100@attacker.example", f"sip:{user}@{DOMAIN}")
                t.send(sip.request(t, "OPTIONS", f"sip:{user}@{e.host}:{e.port}", d))
                sent += 1
                if t.recv(0.05) is not None:
                    answered += 1
                    silent = 0
                else:
                    silent += 1
                if silent >= 50:
                    break
        assert silent >= 50, f"never banned: {answered} of {sent} answered"
        assert answered <= 2 * 40
        assert "flood from 127.0.0.66" in e.log_text()
        with sip.transport("udp", e.addr, SCANNER) as t:
            assert probe(t, e, "REGISTER", DEMO_USER) is None  # still banned, even for REGISTER
        # Everyone else is served as before.
        with sip.transport("udp", e.addr, "127.0.0.3") as t:
            _, ok = sip.register(t, DEMO_USER, DEMO_PASSWORD, DOMAIN)
            assert ok is not None and ok.status == 200
        assert not worker.requests("INVITE")


def test_a_slow_password_guesser_is_banned(tmp_path: Path, store: Store) -> None:
    cfg = edge_settings(tmp_path, store.url, edge={"auth_failures": 3})
    provision(store, cfg)
    with Responder(cfg.switch_host, cfg.switch_base_port), running_edge(cfg) as e:
        codes = []
        for guess in ("password1", "12345678", "letmein!", "demo-phone-2026"):
            with sip.transport("udp", e.addr, SCANNER) as t:
                _, r = sip.register(t, DEMO_USER, guess, DOMAIN, timeout=1.0)
                codes.append(r.status if r is not None else None)
        # Three wrong guesses, then the right one is never even answered.
        assert codes == [403, 403, 403, None]
        assert "3 failed authentications from 127.0.0.66" in e.log_text()
