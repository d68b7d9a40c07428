"""Dispatcher failover (SPEC S12): under a SIPp load from the trunk, a worker killed with
SIGKILL is skipped (calls in flight on it may fail, new calls go to the others and none fails
once the dispatcher has noticed), and it takes calls again once it is back; a worker that
answers 503 is skipped as well.

The workers here are SIPp UAS processes on the dispatcher's addresses, so the test holds with
or without the switch (test_edge_switch.py does the same with real switch workers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from store.session import Store
from tests.support import sipclient as sip
from tests.support import sipp
from tests.support.edge import DEMO_LINE, edge_settings, provision, running_edge
from tests.support.ports import free_port, free_ports
from tests.support.sipclient import Responder

TRUNK = "127.0.0.2"


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


def start_worker(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    args = sipp.argv(
        "worker_answers.xml",
        ("", 0),
        local=("127.0.0.1", port),
        calls=0,
        media_port=free_ports(4),
    )
    return sipp.start(args, workdir)


@contextlib.contextmanager
def two_sipp_workers(
    tmp_path: Path, store: Store, **edge: int
) -> Iterator[tuple[Settings, list[int], list[subprocess.Popen[bytes]]]]:
    """Settings with `edge` values, the demo line provisioned, and two SIPp workers on the
    dispatcher's ports (the list may have a worker replaced); every worker stopped at the end."""
    cfg = edge_settings(tmp_path, store.url, edge=edge)
    provision(store, cfg)
    ports = [cfg.switch_base_port, cfg.switch_base_port + 1]
    workers = [start_worker(p, tmp_path / f"worker{i}") for i, p in enumerate(ports)]
    try:
        yield cfg, ports, workers
    finally:
        for w in workers:
            if w.poll() is None:  # one may have been stopped (SIGSTOP)
                os.kill(w.pid, signal.SIGCONT)
            sipp.stop(w)


def trunk_calls(edge_addr: tuple[str, int], calls: int, rate: int) -> list[str]:
    """SIPp calls of 0.5 s from the trunk to the demo line, through the edge."""
    return sipp.argv(
        "trunk_uac.xml",
        edge_addr,
        local=(TRUNK, free_port(TRUNK)),
        service=DEMO_LINE,
        calls=calls,
        rate=rate,
        media_port=free_ports(4),
        extra=["-d", "500"],
    )


def load(edge_addr: tuple[str, int], workdir: Path, calls: int, rate: int) -> sipp.Result:
    return sipp.run(trunk_calls(edge_addr, calls, rate), workdir, timeout=120)


def test_a_killed_worker_is_skipped_and_comes_back(tmp_path: Path, store: Store) -> None:
    with (
        two_sipp_workers(tmp_path, store, probe_interval=1) as (cfg, ports, workers),
        running_edge(cfg, workers=2) as e,
    ):
        time.sleep(1.5)  # both probed and active
        warm = load(e.addr, tmp_path / "warm", calls=40, rate=40)
        assert (warm.successful, warm.failed) == (40, 0), warm.errors()
        # SIGKILL worker 0 in the middle of a load.
        loader = sipp.start(trunk_calls(e.addr, calls=200, rate=40), tmp_path / "during")
        time.sleep(2.0)
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        assert loader.wait(120) is not None
        during = sipp.result(loader.returncode, tmp_path / "during")
        # Only calls established on the killed worker can fail (their BYE finds nobody):
        # at 40 calls/s and 0.5 s calls, about 10 were up on it.
        assert during.successful + during.failed == 200
        assert during.failed <= 20, during.errors()
        # Once noticed, nothing fails.
        after = load(e.addr, tmp_path / "after", calls=100, rate=50)
        assert (after.successful, after.failed) == (100, 0), after.errors()
        # Back on its port (what the supervisor does), it is probed active and takes calls.
        workers[0] = start_worker(ports[0], tmp_path / "worker0-again")
        time.sleep(2.5)
        back = load(e.addr, tmp_path / "back", calls=40, rate=40)
        assert (back.successful, back.failed) == (40, 0), back.errors()
        sipp.stop(workers[0])
        assert sipp.count(tmp_path / "worker0-again", "INVITE_Recv") >= 10
        assert "failed (" in e.log_text()  # the failover was logged


def test_a_worker_that_stops_answering_is_skipped_by_the_probes_alone(
    tmp_path: Path, store: Store
) -> None:
    """A hung worker (or a switch host whose link is cut) is skipped once a probe went
    unanswered for edge.probe_timeout_ms: no call has to find out by waiting for it."""
    edge = {"probe_interval": 1, "probe_timeout_ms": 500}
    with (
        two_sipp_workers(tmp_path, store, **edge) as (cfg, ports, workers),
        running_edge(cfg, workers=2) as e,
    ):
        time.sleep(1.5)  # both probed and active
        warm = load(e.addr, tmp_path / "warm", calls=20, rate=20)
        assert (warm.successful, warm.failed) == (20, 0), warm.errors()
        os.kill(workers[0].pid, signal.SIGSTOP)
        # One probe interval for the next probe, its timeout, and a margin.
        time.sleep(1 + 0.5 + 1.0)
        after = load(e.addr, tmp_path / "after", calls=20, rate=20)
        assert (after.successful, after.failed) == (20, 0), after.errors()
        log = e.log_text()
        assert f"worker sip:127.0.0.1:{ports[0]} down (it did not answer in time)" in log
        assert "failed (" not in log  # no call was sent to it and had to time out


def test_a_worker_answering_503_is_skipped(tmp_path: Path, store: Store) -> None:
    cfg = edge_settings(tmp_path, store.url, edge={"probe_interval": 1})
    provision(store, cfg)
    busy = Responder(
        cfg.switch_host,
        cfg.switch_base_port,
        policy=lambda r: (503, "Busy") if r.method == "INVITE" else (200, "OK"),
    )
    ok = Responder(cfg.switch_host, cfg.switch_base_port + 1)
    try:
        with running_edge(cfg, workers=2) as e:
            time.sleep(1.5)
            with sip.transport("udp", e.addr, TRUNK) as trunk:
                for _ in range(6):
                    d = sip.Dialog(
                        "sip:8195550123@carrier.example", f"sip:{DEMO_LINE}@relais.local"
                    )
                    trunk.send(
                        sip.request(trunk, "INVITE", f"sip:{DEMO_LINE}@{e.host}:{e.port}", d)
                    )
                    r = sip.final_response(trunk)
                    assert r is not None and r.status == 200
            assert len(ok.requests("INVITE")) == 6
            assert len(busy.requests("INVITE")) <= 1  # tried once, then marked down
    finally:
        busy.close()
        ok.close()


def test_a_full_worker_is_skipped_but_not_marked_down(tmp_path: Path, store: Store) -> None:
    """A worker at capacity answers 503 with Retry-After: the call goes to the next worker, and
    the full one keeps being offered calls (not marked down until a probe: probes are 300 s
    apart here). Both full: the caller gets 503 with Retry-After."""
    cfg = edge_settings(tmp_path, store.url, edge={"probe_interval": 300})
    provision(store, cfg)
    answers = {"full": (503, "Service Unavailable", [("Retry-After", "5")])}
    full = Responder(
        cfg.switch_host,
        cfg.switch_base_port,
        policy=lambda r: answers["full"] if r.method == "INVITE" else (200, "OK"),
    )
    ok = Responder(cfg.switch_host, cfg.switch_base_port + 1)
    try:
        with running_edge(cfg, workers=2) as e:
            time.sleep(1.5)
            with sip.transport("udp", e.addr, TRUNK) as trunk:
                for _ in range(6):
                    d = sip.Dialog(
                        "sip:8195550123@carrier.example", f"sip:{DEMO_LINE}@relais.local"
                    )
                    trunk.send(
                        sip.request(trunk, "INVITE", f"sip:{DEMO_LINE}@{e.host}:{e.port}", d)
                    )
                    r = sip.final_response(trunk)
                    assert r is not None and r.status == 200
            assert len(ok.requests("INVITE")) == 6
            assert len(full.requests("INVITE")) >= 2  # still offered calls
            assert "failed (" not in e.log_text()
            ok.policy = lambda r: answers["full"] if r.method == "INVITE" else (200, "OK")
            with sip.transport("udp", e.addr, TRUNK) as trunk:
                d = sip.Dialog("sip:8195550123@carrier.example", f"sip:{DEMO_LINE}@relais.local")
                trunk.send(sip.request(trunk, "INVITE", f"sip:{DEMO_LINE}@{e.host}:{e.port}", d))
                r = sip.final_response(trunk)
                assert r is not None and r.status == 503
                assert r.header("Retry-After") == "5"
    finally:
        full.close()
        ok.close()
