"""Real softphones behind the edge (SPEC S1, S3, S9): baresip and linphonec register with
digest authentication, are called through the edge by a worker, answer and hear the caller;
a wrong password is refused; both phones of a line ring in parallel; busy on both gives 486;
no registration gives 480.

The worker here is SIPp (or a small SIP peer) on the dispatcher's worker address, so these
tests hold with or without the switch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from store.session import Store
from tests.support import sipclient as sip
from tests.support import sipp
from tests.support.edge import (
    DEMO_LINE,
    DEMO_PASSWORD,
    DEMO_USER,
    DESK_PASSWORD,
    DESK_USER,
    DOMAIN,
    SECOND_LINE,
    Edge,
    edge_settings,
    provision,
    running_edge,
)
from tests.support.phones import Baresip, Linphonec, Phone, rms
from tests.support.ports import free_ports

pytest_plugins = ["tests.support.edge_fixtures"]


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


@pytest.fixture
def phone_edge(tmp_path: Path, store: Store) -> Iterator[Edge]:
    cfg = edge_settings(tmp_path, store.url)
    provision(store, cfg)
    with running_edge(cfg) as e:
        yield e


def start_phone(
    kind: str, tmp_path: Path, edge: Edge, user: str, password: str, host: str, **kw: object
) -> Phone:
    if kind == "baresip":
        answer = "auto" if kw.pop("auto_answer", True) else "manual"
        return Baresip(tmp_path / f"{kind}-{user}", host).start(
            edge.addr,
            user,
            password,
            DOMAIN,
            answer=answer,
            **kw,  # type: ignore[arg-type]
        )
    return Linphonec(tmp_path / f"{kind}-{user}", host).start(
        edge.addr,
        user,
        password,
        DOMAIN,
        **kw,  # type: ignore[arg-type]
    )


def registered(phone: Phone) -> bool:
    if isinstance(phone, Baresip):
        return phone.wait_for(Baresip.REGISTERED, 10)
    assert isinstance(phone, Linphonec)
    return phone.registered(10)


def worker_call(cfg: Settings, tmp_path: Path, scenario: str, line: str) -> sipp.Result:
    """SIPp on the worker address calls `line`'s phones through the edge."""
    args = sipp.argv(
        scenario,
        (cfg.sip_host, cfg.sip_port),
        local=(cfg.switch_host, cfg.switch_base_port),
        service=line,
        media_port=free_ports(4),
    )
    return sipp.run(args, tmp_path / f"sipp-{scenario}", timeout=40)


@pytest.mark.parametrize("kind", ["baresip", "linphonec"])
def test_softphone_registers_answers_and_hears_the_caller(
    kind: str, tmp_path: Path, phone_edge: Edge
) -> None:
    phone = start_phone(kind, tmp_path, phone_edge, DEMO_USER, DEMO_PASSWORD, "127.0.0.3")
    try:
        assert registered(phone), phone.text()[-2000:]
        res = worker_call(phone_edge.cfg, tmp_path, "worker_calls_devices.xml", DEMO_LINE)
        assert (res.successful, res.failed) == (1, 0), res.errors()
        heard = phone.heard()
        assert heard is not None
        # SIPp played 7 s of speech-level A-law audio: the phone heard it through the call
        # the edge set up (silence would be below 0.001).
        assert rms(heard) > 0.01
    finally:
        phone.stop()


@pytest.mark.parametrize("kind", ["baresip", "linphonec"])
def test_softphone_with_a_wrong_password_is_refused(
    kind: str, tmp_path: Path, phone_edge: Edge
) -> None:
    phone = start_phone(kind, tmp_path, phone_edge, DEMO_USER, "wrong-password", "127.0.0.3")
    try:
        if isinstance(phone, Baresip):
            assert phone.wait_for(r"403 Forbidden", 10), phone.text()[-2000:]
            assert "200 OK" not in phone.text()
        else:
            assert isinstance(phone, Linphonec)
            assert phone.registration_failed(10)
            assert not phone.registered(1)
    finally:
        phone.stop()
    # Nothing was bound: a call to the line finds nobody.
    with sip.Responder(phone_edge.cfg.switch_host, phone_edge.cfg.switch_base_port) as w:
        d = sip.Dialog("sip:6135550199@relais.local", f"sip:{DEMO_LINE}@{DOMAIN}")
        r = w.send_request(
            "INVITE",
            f"sip:{DEMO_LINE}@{phone_edge.host}:{phone_edge.port}",
            d,
            phone_edge.addr,
            extra=[("X-Relais-Leg", "devices")],
        )
        assert r is not None and r.status == 480


def test_both_phones_of_a_line_ring_in_parallel(tmp_path: Path, phone_edge: Edge) -> None:
    bare = start_phone(
        "baresip", tmp_path, phone_edge, DEMO_USER, DEMO_PASSWORD, "127.0.0.3", auto_answer=False
    )
    lin = start_phone(
        "linphonec", tmp_path, phone_edge, DESK_USER, DESK_PASSWORD, "127.0.0.4", auto_answer=False
    )
    try:
        assert registered(bare) and registered(lin)
        res = worker_call(phone_edge.cfg, tmp_path, "worker_rings_devices.xml", DEMO_LINE)
        # The scenario cancels 3 s after the first 180: both rang within that window.
        assert (res.successful, res.failed) == (1, 0), res.errors()
        assert bare.wait_for(r"Incoming call from", 2), bare.text()[-2000:]
        assert lin.wait_for(r"Receiving new incoming call", 2), lin.text()[-2000:]
    finally:
        bare.stop()
        lin.stop()


def test_busy_on_both_phones_is_busy_and_no_registration_is_unavailable(
    tmp_path: Path, phone_edge: Edge
) -> None:
    cfg = phone_edge.cfg
    with sip.Responder(cfg.switch_host, cfg.switch_base_port) as worker:

        def call(line: str) -> int:
            d = sip.Dialog("sip:6135550199@relais.local", f"sip:{line}@{DOMAIN}")
            r = worker.send_request(
                "INVITE",
                f"sip:{line}@{phone_edge.host}:{phone_edge.port}",
                d,
                phone_edge.addr,
                extra=[("X-Relais-Leg", "devices"), ("Content-Type", "application/sdp")],
                body=sip.sdp_offer("127.0.0.1", 40000),
                timeout=10,
            )
            assert r is not None
            if r.status == 200:
                worker.ack(r, phone_edge.addr)  # the call stays up: that phone is now busy
            return r.status

        assert call(DEMO_LINE) == 480  # nobody registered
        assert call(SECOND_LINE) == 480  # a line without devices
        assert call("6135550199") == 404  # not a line
        # Phones that take one call at a time, answering automatically; each is put in a call
        # while it is the line's only registered phone.
        bare = start_phone(
            "baresip", tmp_path, phone_edge, DEMO_USER, DEMO_PASSWORD, "127.0.0.3", max_calls=1
        )
        lin: Phone | None = None
        try:
            assert registered(bare)
            assert call(DEMO_LINE) == 200
            lin = start_phone(
                "linphonec",
                tmp_path,
                phone_edge,
                DESK_USER,
                DESK_PASSWORD,
                "127.0.0.4",
                max_calls=1,
            )
            assert registered(lin)
            assert call(DEMO_LINE) == 200  # baresip refused (busy), linphonec answered
            assert call(DEMO_LINE) == 486  # busy on every device is busy
            assert bare.wait_for(r"rejected call .*maximum 1 calls", 1, count=2)
            assert lin.wait_for(r"connected", 1)
        finally:
            bare.stop()
            if lin is not None:
                lin.stop()
