"""`relais run` as a new user sees it: one ready line per service, no library chatter, and a
clean stop (no Kamailio ALERT lines), with the real edge, workers, bus, notifier and portal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import load_settings
from relais import edge
from tests.peer.test_edge_run import relais_env, wait_line
from tests.support.sip import write_prompts

pytestmark = pytest.mark.peer

RELAIS = str(Path(sys.executable).with_name("relais"))


def test_relais_run_prints_one_ready_line_per_service_and_stops_cleanly(tmp_path: Path) -> None:
    if not edge.installed(load_settings()):
        pytest.skip("Kamailio is not installed")
    env = relais_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'var' / 'relais.db'}",
        RELAIS_PROMPTS_DIR=str(write_prompts(tmp_path / "prompts")),
        RELAIS_WORKERS="2",
    )
    out = tmp_path / "run.out"
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [RELAIS, "run"], env=env, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=tmp_path,
        )  # fmt: skip
    try:
        assert wait_line(out, "relais is running", proc, 90), out.read_text()[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    text = out.read_text()
    lines = text.splitlines()
    ready = [ln for ln in lines if ln.startswith("ready: ")]
    assert [re.sub(r" .*", "", ln.removeprefix("ready: ")) for ln in ready] == [
        "bus", "switch", "switch", "edge", "notifier", "portal",
    ], text  # fmt: skip
    assert len([ln for ln in lines if "ready" in ln]) == len(ready) + 1, text  # + store ready
    for chatter in ("ALERT", "alembic", "uvicorn", "pjlib", "PJSUA", "Listening on", "flying"):
        assert chatter not in text, (chatter, text)
    assert lines[-1] == "relais stopped"
    assert len(lines) < 25, text
