"""Answer confirmation through the edge (issue 17): `relais run` with Kamailio in front of a
switch worker; the carrier calls a line whose ring table has an outside number, the worker
reaches that number through the edge and the trunk, and its answerer presses 1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from routing.model import IncomingMode, RingEntry, RingTable
from store import repository
from store.migrate import upgrade
from store.session import Store
from tests.peer.test_edge_switch import RELAIS, TRUNK, System
from tests.support.ports import free_port, free_ports
from tests.support.sip import Sipp, render, write_dtmf_pcap, write_prompts, write_tone_pcap

pytestmark = pytest.mark.peer

OUTSIDE = "127.0.0.3"  # where the edge sends calls to numbers that are not lines
LINE = "6135550170"
MOBILE = "8195550123"


@pytest.fixture(scope="module")
def trunk_port() -> int:
    return free_port(OUTSIDE)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, trunk_port: int) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("edge-confirm")
    root = tmp / "var"
    root.mkdir()
    db_url = f"sqlite:///{root / 'relais.db'}"
    store = Store(db_url)
    upgrade(store.engine)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(
        RELAIS_STORAGE_ROOT=str(root),
        RELAIS_DATABASE_URL=db_url,
        RELAIS_PROMPTS_DIR=str(write_prompts(tmp / "prompts")),
        RELAIS_SIP_HOST="127.0.0.1",
        RELAIS_SIP_ADVERTISED_HOST="127.0.0.1",
        RELAIS_SIP_PORT=str(free_port()),
        RELAIS_SWITCH_HOST="127.0.0.1",
        RELAIS_SWITCH_BASE_PORT=str(free_ports(4)),
        RELAIS_PORTAL_PORT=str(free_port()),
        RELAIS_MQTT_EMBEDDED_PORT=str(free_port()),
        RELAIS_WORKERS="1",
        RELAIS_TRUSTED_ADDRESSES=json.dumps([TRUNK]),
        RELAIS_TRUNK_URI=f"sip:{OUTSIDE}:{trunk_port}",
        RELAIS_LOG_LEVEL="INFO",
        RELAIS_EDGE__PROBE_INTERVAL="1",
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
        time.sleep(1.5)  # the worker probed active
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


def test_an_outside_number_reached_through_the_edge_presses_1_and_gets_the_call(
    system: System, trunk_port: int, tmp_path: Path
) -> None:
    with system.store.transaction() as s:
        repository.create_account(
            s, number=LINE, name="Confirm", password="motdepasse1", pin="4826", language="en"
        )
        settings = repository.line_settings(s, LINE)
        assert settings is not None
        repository.save_line_settings(
            s,
            replace(
                settings,
                incoming_mode=IncomingMode.SIMULTANEOUS,
                no_answer_timeout=15,
                ring_table=RingTable((RingEntry(MOBILE, (15,)),)),
            ),
        )
    mobile = Sipp(
        name="mobile",
        scenario=render(
            "uas_confirm.xml",
            tmp_path / "mobile.xml",
            answer_ms=300,
            confirm_ms=1500,
            dtmf_pcap=write_dtmf_pcap(tmp_path / "one.pcap", "1", 120),
            pcap=write_tone_pcap(tmp_path / "mobile.pcap", 2.0, 1000.0),
        ),
        port=trunk_port,
        workdir=tmp_path,
        local_ip=OUTSIDE,
        timeout=40,
    ).start()
    result = system.call(LINE, "confirm", hold_ms=4000)  # the carrier, through the edge
    mobile.wait()
    assert result.returncode == 0 and result.successful == 1, result.errors()
    assert mobile.ok, mobile.describe() + system.text()[-3000:]
    [invite] = mobile.received("INVITE")
    assert invite.first_line.startswith(f"INVITE sip:{MOBILE}@")
    assert "reason=follow-me" in invite.header("Diversion")[0]
    assert len([m for m in mobile.sent(200) if "INVITE" in m.header("CSeq")[0]]) == 1
    assert system.wait_log(rf"{MOBILE} answered: asking for 1")
    assert system.wait_log(rf"{MOBILE} accepted the call")
    assert mobile.received("BYE")  # the caller's hang-up reached the bridged mobile
    deadline = time.monotonic() + 10
    rows: list[object] = []
    while time.monotonic() < deadline and not rows:
        rows = system.rows(
            "SELECT direction, disposition, not_accepted FROM call_log WHERE line_number = :l",
            l=LINE,
        )
        time.sleep(0.1)
    assert [tuple(r) for r in rows] == [("received", "answered", None)]  # type: ignore[arg-type]
