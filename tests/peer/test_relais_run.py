"""`relais run` without the edge: the demo line answers with the routing its settings say and
a voicemail left by SIPp becomes a WAV and a row."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relais.demo import NUMBER as DEMO_NUMBER
from tests.support.sip import (
    SwitchUnderTest,
    base_env,
    free_ports,
    stop_process,
    switch_store,
    wait_ready,
    wav_info,
    write_tone_pcap,
)

pytestmark = pytest.mark.peer

RELAIS = str(Path(sys.executable).with_name("relais"))


def test_relais_run_takes_a_voicemail_for_the_demo_line(tmp_path: Path) -> None:
    with switch_store(tmp_path) as (root, db_url, store, prompts):
        port = free_ports(1)
        env = base_env(root, db_url, prompts, port)
        env.update(RELAIS_SIP_HOST="127.0.0.1", RELAIS_SWITCH_BASE_PORT=str(free_ports(2)))
        log = tmp_path / "run.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [RELAIS, "run", "--no-edge"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        sut = SwitchUnderTest(root, db_url, port, store, prompts, env, [proc], log)
        try:
            wait_ready(proc, log, "relais is running", timeout=60)
            text = log.read_text()
            assert f"ready: switch worker 0 sip:127.0.0.1:{port}" in text
            status = subprocess.run([RELAIS, "status"], env=env, capture_output=True, text=True)
            assert "switch  : 1 worker(s)" in status.stdout, status.stdout
            # The demo line rings its phone, which has no static contact here: unavailable ->
            # voicemail (SPEC S3 step 6).
            pcap = write_tone_pcap(tmp_path / "msg.pcap", 2.0, 440.0)
            caller = sut.sipp(
                "caller",
                "uac_answer.xml",
                workdir=tmp_path,
                service=DEMO_NUMBER,
                wait_ms=800,
                hold_ms=2300,
                pcap=pcap,
            )
            assert caller.run() == 0, caller.describe()
            [message] = sut.wait_for(lambda: sut.messages(DEMO_NUMBER))
            assert abs(message.duration_seconds - 2.0) < 0.5
            seconds, rate, channels, width = wav_info(root / message.file_path)
            assert abs(seconds - message.duration_seconds) < 0.01
            assert (rate, channels, width) == (8000, 1, 2)
            assert [(r.direction, r.disposition) for r in sut.call_log(DEMO_NUMBER)] == [
                ("missed", "voicemail")
            ]
            # umask 077 in every relais process: nothing under the storage root is readable by
            # others (recordings, their folders, the store, run state, generated secrets).
            recording = root / message.file_path
            assert stat.S_IMODE(recording.stat().st_mode) == 0o600
            assert stat.S_IMODE(recording.parent.stat().st_mode) == 0o700
            open_to_others = [p for p in root.rglob("*") if p.stat().st_mode & 0o077]
            assert open_to_others == []
        finally:
            stop_process(proc, grace=20)
        time.sleep(0.2)
        assert "relais stopped" in log.read_text()
