"""Digest guessing at the edge (SPEC S12): wrong credentials are counted per source address
(trusted addresses included) and per existing user; past edge.auth_source_failures or
edge.auth_user_failures, credentials from that address or for that user get 403 unchecked
until edge.auth_window_seconds pass without a failure. Calls without credentials from a trusted
trunk are not affected."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from store.session import Store
from tests.support import sipclient as sip
from tests.support.edge import (
    DEMO_LINE,
    DEMO_PASSWORD,
    DEMO_USER,
    DESK_PASSWORD,
    DESK_USER,
    DOMAIN,
    edge_settings,
    provision,
    running_edge,
)
from tests.support.sipclient import Responder

pytestmark = pytest.mark.peer

TRUNK = "127.0.0.2"  # trusted in edge_settings


def register(edge: tuple[str, int], source: str, user: str, password: str) -> int | None:
    with sip.transport("udp", edge, source) as t:
        _, r = sip.register(t, user, password, DOMAIN, timeout=2.0)
        return r.status if r is not None else None


def test_a_trusted_address_that_guesses_is_limited_but_its_calls_go_on(
    tmp_path: Path, store: Store
) -> None:
    cfg = edge_settings(
        tmp_path,
        store.url,
        edge={"auth_source_failures": 4, "auth_user_failures": 50, "auth_window_seconds": 3},
    )
    provision(store, cfg)
    with (
        Responder(cfg.switch_host, cfg.switch_base_port) as worker,
        running_edge(cfg) as e,
    ):
        codes = [register(e.addr, TRUNK, DEMO_USER, f"guess-{i}") for i in range(4)]
        assert codes == [403] * 4
        # The right password from that address is refused unchecked now ...
        assert register(e.addr, TRUNK, DEMO_USER, DEMO_PASSWORD) == 403
        assert "credentials from 127.0.0.2 refused unchecked" in e.log_text()
        # ... while the same user elsewhere, and the trunk's calls, are served.
        assert register(e.addr, "127.0.0.3", DEMO_USER, DEMO_PASSWORD) == 200
        with sip.transport("udp", e.addr, TRUNK) as t:
            d = sip.Dialog("sip:8195550123@carrier.example", f"sip:{DEMO_LINE}@{DOMAIN}")
            t.send(sip.request(t, "INVITE", f"sip:{DEMO_LINE}@{e.host}:{e.port}", d))
            r = sip.final_response(t, 5)
            assert r is not None and r.status == 200
        assert worker.requests("INVITE")
        # Not banned (trusted), and the limit ends with the window.
        deadline = time.monotonic() + 20
        while register(e.addr, TRUNK, DEMO_USER, DEMO_PASSWORD) != 200:
            assert time.monotonic() < deadline, "the limit never ended"
            time.sleep(1)


def test_one_user_guessed_from_many_addresses_is_limited(tmp_path: Path, store: Store) -> None:
    cfg = edge_settings(
        tmp_path,
        store.url,
        edge={
            "auth_failures": 100,
            "auth_source_failures": 100,
            "auth_user_failures": 6,
            "auth_window_seconds": 3,
        },
    )
    provision(store, cfg)
    with Responder(cfg.switch_host, cfg.switch_base_port), running_edge(cfg) as e:
        # Two guesses from each of three addresses: no address is over any limit.
        codes = [
            register(e.addr, f"127.0.0.{40 + i}", DEMO_USER, f"guess-{i}-{j}")
            for i in range(3)
            for j in range(2)
        ]
        assert codes == [403] * 6
        # The user is: even the right password, from a new address, is refused unchecked.
        assert register(e.addr, "127.0.0.50", DEMO_USER, DEMO_PASSWORD) == 403
        assert f"credentials for {DEMO_USER} from 127.0.0.50 refused unchecked" in e.log_text()
        # Another user from that address is served.
        assert register(e.addr, "127.0.0.50", DESK_USER, DESK_PASSWORD) == 200
        # Unknown user names are not counted per user (the table stays small).
        for i in range(8):
            assert register(e.addr, "127.0.0.51", f"nobody{i}", "guess") == 403
        assert register(e.addr, "127.0.0.51", DESK_USER, DESK_PASSWORD) == 200
        deadline = time.monotonic() + 20
        while register(e.addr, "127.0.0.50", DEMO_USER, DEMO_PASSWORD) != 200:
            assert time.monotonic() < deadline, "the limit never ended"
            time.sleep(1)
