"""`relais switch --workers N`: workers on consecutive ports, reported by `relais status`,
restarted after SIGKILL, and a recording cut by the crash delivered by the restarted worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from routing.model import PhoneState
from tests.support.sip import (
    SwitchUnderTest,
    base_env,
    free_ports,
    stop_process,
    switch_store,
    write_tone_pcap,
)

pytestmark = pytest.mark.peer

RELAIS = str(Path(sys.executable).with_name("relais"))


def statuses(root: Path) -> dict[int, dict[str, object]]:
    out = {}
    for p in (root / "run").glob("switch-*.json"):
        try:
            d = json.loads(p.read_text())
        except ValueError:
            continue
        out[int(d["index"])] = d
    return out


def wait(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_worker_is_restarted_and_recovers_its_recording(tmp_path: Path) -> None:
    with switch_store(tmp_path) as (root, db_url, store, prompts):
        base = free_ports(3)
        env = base_env(root, db_url, prompts, base)
        env.update(RELAIS_SWITCH_BASE_PORT=str(base))
        log = tmp_path / "switch.log"
        with open(log, "wb") as out:
            sup = subprocess.Popen(
                [RELAIS, "switch", "--workers", "2"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        sut = SwitchUnderTest(root, db_url, base + 1, store, prompts, env, [sup], log)
        try:
            first = wait(lambda: len(statuses(root)) == 2 and statuses(root), 30, "2 workers")
            assert [first[i]["address"] for i in (0, 1)] == [
                f"127.0.0.1:{base}",
                f"127.0.0.1:{base + 1}",
            ]
            status = subprocess.run([RELAIS, "status"], env=env, capture_output=True, text=True)
            assert "switch  : 2 worker(s)" in status.stdout, status.stdout + status.stderr
            assert f"127.0.0.1:{base + 1}" in status.stdout

            line = sut.account()
            sut.settings(line, phone_state=PhoneState.DND)
            pcap = write_tone_pcap(tmp_path / "long.pcap", 6.0, 440.0)
            caller = sut.sipp(
                "caller",
                "uac_answer.xml",
                workdir=tmp_path,
                service=line,
                wait_ms=1600,  # a pause first: a recording filled by a steady tone is no voice
                hold_ms=8000,
                pcap=pcap,
                timeout=15,
            ).start()
            spool = root / "spool" / "recordings" / "w1"
            wait(
                lambda: any(p.stat().st_size > 64000 for p in spool.glob("*.wav")),
                10,
                "a recording of 4 s or more",
            )
            victim = int(str(first[1]["pid"]))
            os.kill(victim, signal.SIGKILL)
            restarted = wait(
                lambda: (s := statuses(root)).get(1) and s[1]["pid"] != victim and s[1],
                30,
                "worker 1 restarted",
            )
            assert restarted["address"] == f"127.0.0.1:{base + 1}"
            [message] = sut.wait_for(lambda: sut.messages(line), 10)
            assert message.duration_seconds >= 2.0  # what reached the disk before the crash
            assert (root / message.file_path).is_file()
            assert [(r.direction, r.disposition) for r in sut.call_log(line)] == [
                ("missed", "voicemail")
            ]
            assert list(spool.glob("*")) == []
            caller.stop()
        finally:
            stop_process(sup)
        assert statuses(root) == {}  # workers remove their status file when they stop
