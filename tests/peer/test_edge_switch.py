"""The whole path through the edge (SPEC S1, S3, S4, S6, S12): `relais run` with Kamailio in
front of two switch workers. The trunk calls lines through the edge, the workers ring the
lines' registered phones through the edge, a trunk's hold and resume keep the audio bridged,
busy and unavailable follow their rules, messages light the lamps of registered phones, only
the edge asserts a subscriber's identity, and a killed worker is skipped, restarted by the
supervisor and used again."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from store.migrate import upgrade
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
    edge_settings,
    provision,
)
from tests.support.phones import Baresip, Linphonec, Phone, rms
from tests.support.ports import free_port, free_ports
from tests.support.sip import RtpCapture, dominant_hz, write_prompts
from tests.support.sipclient import Responder

RELAIS = str(Path(sys.executable).with_name("relais"))
TRUNK = "127.0.0.2"
DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass
class System:
    tmp: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path
    store: Store

    @property
    def edge(self) -> tuple[str, int]:
        return ("127.0.0.1", int(self.env["RELAIS_SIP_PORT"]))

    @property
    def worker_ports(self) -> list[int]:
        base = int(self.env["RELAIS_SWITCH_BASE_PORT"])
        return [base, base + 1]

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, pattern: str, timeout: float = 15.0, count: int = 1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.text())) >= count:
                return True
            time.sleep(0.1)
        return False

    def rows(self, sql: str, **params: object) -> list[sa.Row[tuple[object, ...]]]:
        with self.store.read() as s:
            return list(s.execute(sa.text(sql), params).all())

    def messages(self, line: str, at_least: int = 0) -> list[sa.Row[tuple[object, ...]]]:
        """The line's messages, waiting (up to 10 s) until there are `at_least`."""
        deadline = time.monotonic() + 10
        while True:
            rows = self.rows(
                "SELECT id, duration_seconds FROM message WHERE line_number = :l ORDER BY id",
                l=line,
            )
            if len(rows) >= at_least or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)

    def supervisor(self) -> dict[str, object]:
        return json.loads((self.tmp / "var" / "run" / "supervisor.json").read_text())

    def call(
        self,
        line: str,
        name: str,
        hold_ms: int = 5000,
        headers: str = "Subject: test",
        calls: int = 1,
        rate: float | None = None,
    ) -> sipp.Result:
        """The trunk calls `line` through the edge (SIPp plays A-law audio from 1 s after the
        answer until it hangs up, hold_ms after the answer)."""
        args = sipp.argv(
            "trunk_call_audio.xml",
            self.edge,
            local=(TRUNK, free_port(TRUNK)),
            service=line,
            calls=calls,
            rate=rate,
            media_port=free_ports(4, TRUNK),
            extra=["-d", str(hold_ms), "-key", "headers", headers],
            trace_msg=True,
        )
        return sipp.run(args, self.tmp / f"call-{name}", timeout=60)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory) as sys_:
        yield sys_


@contextlib.contextmanager
def running_system(tmp_path_factory: pytest.TempPathFactory, **env_extra: str) -> Iterator[System]:
    """`relais run` (edge + two workers) on free loopback ports; env_extra: more RELAIS_* values."""
    tmp = tmp_path_factory.mktemp("edge-switch")
    root = tmp / "var"
    root.mkdir()
    db_url = f"sqlite:///{root / 'relais.db'}"
    store = Store(db_url)
    upgrade(store.engine)
    # the demo account with the tests' fixed secrets (relais run then leaves it as it is)
    provision(store, edge_settings(tmp, db_url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(
        RELAIS_STORAGE_ROOT=str(root),
        RELAIS_DATABASE_URL=db_url,
        RELAIS_PROMPTS_DIR=str(write_prompts(tmp / "prompts")),
        RELAIS_SIP_HOST="127.0.0.1",
        RELAIS_SIP_ADVERTISED_HOST="127.0.0.1",
        RELAIS_SIP_PORT=str(free_port()),
        RELAIS_EDGE__WORKER_PORT=str(free_port()),
        RELAIS_SWITCH_HOST="127.0.0.1",
        RELAIS_SWITCH_BASE_PORT=str(free_ports(4)),
        RELAIS_PORTAL_PORT=str(free_port()),
        RELAIS_MQTT_EMBEDDED_PORT=str(free_port()),
        RELAIS_WORKERS="2",
        RELAIS_TRUSTED_ADDRESSES=json.dumps([TRUNK]),
        RELAIS_LOG_LEVEL="INFO",
        RELAIS_EDGE__PROBE_INTERVAL="1",
        **env_extra,
    )
    log = tmp / "relais.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [RELAIS, "run"],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp,
        )
    sys_ = System(tmp, env, proc, log, store)
    try:
        assert sys_.wait_log("relais is running", 90), sys_.text()[-4000:]
        time.sleep(1.5)  # both workers probed active
        yield sys_
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        store.dispose()


def notifies(phone: Responder, count: int, timeout: float = 10.0) -> list[sip.Message]:
    return [
        n
        for n in phone.wait_for("NOTIFY", count, timeout)
        if n.header("Event") == "message-summary"
    ]


def test_busy_phones_send_the_call_to_voicemail_and_the_lamp_follows(system: System) -> None:
    """Both phones of the line register (each gets its lamp re-asserted: no message yet),
    both ring at once and answer busy, so the caller leaves a message (busy rule), and both
    lamps light."""

    def busy() -> Responder:
        return Responder(
            "127.0.0.3",
            policy=lambda r: (486, "Busy Here") if r.method == "INVITE" else (200, "OK"),
        )

    phones = {DEMO_USER: (busy(), DEMO_PASSWORD), DESK_USER: (busy(), DESK_PASSWORD)}
    try:
        for user, (phone, password) in phones.items():
            assert phone.register(system.edge, user, password, DOMAIN).status == 200
            (first,) = notifies(phone, 1)
            assert b"Messages-Waiting: no" in first.body
            assert b"Message-Account: sip:6135550100@relais.local" in first.body
        before = len(system.messages(DEMO_LINE))
        res = system.call(DEMO_LINE, "busy")
        assert (res.successful, res.failed) == (1, 0), res.errors()
        invites = [p.requests("INVITE")[0] for p, _ in phones.values()]
        assert len(invites) == 2  # both rang, through the edge
        assert system.wait_log(r"ring step ended: busy", 5)
        rows = system.messages(DEMO_LINE, before + 1)
        assert len(rows) == before + 1
        assert 2.5 < float(rows[-1][1]) < 4.5  # the ~4 s the trunk played
        for phone, _ in phones.values():
            # (The second registration re-asserted the lamp on both phones of the line.)
            deadline = time.monotonic() + 10
            while b"Messages-Waiting: yes" not in notifies(phone, 1)[-1].body:
                assert time.monotonic() < deadline, "the lamp did not light"
                time.sleep(0.1)
            assert re.search(rb"Voice-Message: [1-9]\d*/0", notifies(phone, 1)[-1].body)
    finally:
        for user, (phone, password) in phones.items():
            phone.register(system.edge, user, password, DOMAIN, expires=0)
            phone.close()


def test_a_line_with_nobody_registered_is_unavailable(system: System) -> None:
    before = len(system.messages(SECOND_LINE))
    res = system.call(SECOND_LINE, "unavailable")
    assert (res.successful, res.failed) == (1, 0), res.errors()
    assert len(system.messages(SECOND_LINE, before + 1)) == before + 1
    log = system.rows(
        "SELECT direction, disposition FROM call_log WHERE line_number = :l ORDER BY id",
        l=SECOND_LINE,
    )
    assert log[-1] == ("missed", "voicemail")


@pytest.mark.parametrize("kind", ["baresip", "linphonec"])
def test_a_softphone_answers_a_trunk_call_and_hears_the_caller(
    kind: str, system: System, tmp_path: Path
) -> None:
    phone: Phone
    if kind == "baresip":
        phone = Baresip(tmp_path / kind, "127.0.0.4").start(
            system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN
        )
        assert phone.wait_for(Baresip.REGISTERED, 10), phone.text()[-2000:]
    else:
        phone = Linphonec(tmp_path / kind, "127.0.0.4").start(
            system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN
        )
        assert isinstance(phone, Linphonec) and phone.registered(10)
    try:
        before = len(system.messages(DEMO_LINE))
        res = system.call(DEMO_LINE, f"answer-{kind}")
        assert (res.successful, res.failed) == (1, 0), res.errors()
        heard = phone.heard()
        assert heard is not None and rms(heard) > 0.01  # the trunk's audio, bridged by a worker
        assert len(system.messages(DEMO_LINE)) == before  # answered: no voicemail
    finally:
        phone.stop()


def test_a_call_held_and_resumed_by_the_trunk_carries_the_phone_again(
    system: System, tmp_path: Path
) -> None:
    """The trunk's hold and resume (two re-INVITEs along the edge's Record-Route) make the
    worker re-create the caller's stream; the answering phone's audio (linphonec's 600 Hz) is
    bridged to the new stream: the trunk hears it in the last seconds, after the resume."""
    phone = Linphonec(tmp_path / "linphonec", "127.0.0.4").start(
        system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN
    )
    try:
        assert phone.registered(10)
        media = free_ports(4, TRUNK)
        args = sipp.argv(
            "trunk_call_hold.xml",
            system.edge,
            local=(TRUNK, free_port(TRUNK)),
            service=DEMO_LINE,
            media_port=media,
            extra=["-key", "headers", "Subject: hold"],
            trace_msg=True,
        )
        with RtpCapture([media], seconds=12) as capture:
            res = sipp.run(args, tmp_path / "call-hold", timeout=60)
        assert (res.successful, res.failed) == (1, 0), res.errors()
        assert sipp.count(tmp_path / "call-hold", "INVITE_Sent") == 3
        heard = capture.audio(media)
        tail = heard[-8000:]  # the last second: 2 s after the resume
        level = float(np.sqrt(np.mean((tail / 32768.0) ** 2)))
        assert len(heard) > 3 * 8000 and level > 0.01, level
        assert abs(dominant_hz(tail) - 600) < 20
    finally:
        phone.stop()


def test_only_the_edge_asserts_who_calls(system: System) -> None:
    """A P-Asserted-Identity from the trunk is stripped at the edge; a device's line is
    asserted after digest authentication and the worker trusts it (skip PIN, quick login)."""
    mark = len(re.findall(r"own device of", system.text()))
    res = system.call(
        "*98",
        "spoofed",
        hold_ms=500,
        headers=f"P-Asserted-Identity: <sip:{DEMO_LINE}@{DOMAIN}>",
    )
    assert res.successful + res.failed == 1
    time.sleep(1)
    assert len(re.findall(r"own device of", system.text())) == mark
    # The same header sent by the trunk straight to a worker is not trusted either.
    with sip.transport("udp", ("127.0.0.1", system.worker_ports[0]), TRUNK) as t:
        d = sip.Dialog("sip:8195550123@carrier.example", f"sip:*98@{DOMAIN}")
        t.send(
            sip.request(
                t,
                "INVITE",
                f"sip:*98@127.0.0.1:{system.worker_ports[0]}",
                d,
                extra=[("P-Asserted-Identity", f"<sip:{DEMO_LINE}@{DOMAIN}>")],
            )
        )
        sip.final_response(t, 5)
    time.sleep(1)
    assert len(re.findall(r"own device of", system.text())) == mark
    # A device, authenticated by the edge.
    with sip.transport("udp", system.edge, "127.0.0.5") as phone:
        ruri = f"sip:*98@{DOMAIN}"
        d = sip.Dialog(f"sip:{DEMO_USER}@{DOMAIN}", ruri)
        phone.send(
            sip.request(
                phone,
                "INVITE",
                ruri,
                d,
                contact=f"<sip:{DEMO_USER}@{phone.local[0]}:{phone.local[1]}>",
            )
        )
        challenge = sip.final_response(phone)
        assert challenge is not None and challenge.status == 407
        d.cseq += 1
        auth = sip.authorization(
            challenge.header("Proxy-Authenticate") or "", "INVITE", ruri, DEMO_USER, DEMO_PASSWORD
        )
        phone.send(
            sip.request(
                phone,
                "INVITE",
                ruri,
                d,
                extra=[("Proxy-Authorization", auth)],
                contact=f"<sip:{DEMO_USER}@{phone.local[0]}:{phone.local[1]}>",
            )
        )
        sip.final_response(phone, 5)
    assert system.wait_log(rf"own device of {DEMO_LINE}", 5, count=mark + 1)


def test_the_rfc4475_corpus_leaves_a_worker_working(system: System) -> None:
    """Trunks may reach workers directly: every torture message, over UDP and TCP, leaves the
    worker up (no restart), answering OPTIONS, and taking calls through the edge.
    (What each message gets from the edge is test_edge_torture.py.)"""
    worker = ("127.0.0.1", system.worker_ports[0])
    for path in sorted((DATA / "rfc4475").glob("*.dat")):
        for proto in ("udp", "tcp"):
            with sip.transport(proto, worker, TRUNK) as t:
                t.send_raw(path.read_bytes())
                while (m := t.recv(0.3)) is not None:
                    assert not (m.is_response and m.status >= 500), (path.stem, m.first_line)
        with sip.transport("udp", worker, TRUNK) as t:
            d = sip.Dialog("sip:probe@carrier.example", f"sip:{worker[0]}")
            t.send(sip.request(t, "OPTIONS", f"sip:{worker[0]}:{worker[1]}", d))
            r = sip.final_response(t, 3)
            assert r is not None and r.status == 200, path.stem
    children = {c["name"]: c for c in system.supervisor()["children"]}  # type: ignore[index,union-attr]
    assert children["switch-0"]["restarts"] == 0
    before = len(system.messages(SECOND_LINE))
    res = system.call(SECOND_LINE, "after-torture", hold_ms=3000, calls=2, rate=2)
    assert (res.successful, res.failed) == (2, 0), res.errors()
    assert len(system.messages(SECOND_LINE, before + 2)) == before + 2


def test_a_killed_worker_is_skipped_restarted_and_used_again(system: System) -> None:
    """SIGKILL worker 1 during a load of short voicemail calls: calls it held may fail, new
    calls go to worker 0, none fails once the dispatcher noticed; the supervisor restarts it
    and the dispatcher sends it calls again. The load (1 call/s of ~3 s) fits in worker 0
    alone (4 calls): a full worker's own 486/503 is a capacity matter, not this test's."""
    pids = {c["name"]: c["pid"] for c in system.supervisor()["children"]}  # type: ignore[index,union-attr]
    loader_dir = system.tmp / "call-load"
    loader = sipp.start(
        sipp.argv(
            "trunk_call_audio.xml",
            system.edge,
            local=(TRUNK, free_port(TRUNK)),
            service=SECOND_LINE,
            calls=16,
            rate=1,
            media_port=free_ports(4, TRUNK),
            extra=["-d", "2500", "-key", "headers", "Subject: load"],
        ),
        loader_dir,
    )
    time.sleep(3)
    os.kill(int(pids["switch-1"]), signal.SIGKILL)  # type: ignore[arg-type]
    assert loader.wait(120) is not None
    during = sipp.result(loader.returncode, loader_dir)
    assert during.successful + during.failed == 16
    assert during.failed <= 3, during.errors()  # at most the calls worker 1 held
    # Restarted by the supervisor.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        restarted = {c["name"]: c for c in system.supervisor()["children"]}  # type: ignore[index,union-attr]
        if restarted["switch-1"]["restarts"] >= 1 and "ready" in system.text():
            break
        time.sleep(0.5)
    assert restarted["switch-1"]["restarts"] >= 1
    assert restarted["switch-1"]["pid"] != pids["switch-1"]
    time.sleep(3)  # probed active again
    after = system.call(SECOND_LINE, "after-restart", hold_ms=2500, calls=8, rate=4)
    assert (after.successful, after.failed) == (8, 0), after.errors()
    status = subprocess.run(
        [RELAIS, "status"],
        env=system.env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=system.tmp,
    )
    served = re.findall(r"worker 1 .* calls (\d+)", status.stdout)
    assert served and int(served[0]) >= 1, status.stdout  # the new worker 1 took calls
