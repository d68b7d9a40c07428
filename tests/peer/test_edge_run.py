"""`relais run` with the edge (SPEC S1, S14): Kamailio starts under the supervisor with the
rendered configuration (checked by `kamailio -c` on SQLite and PostgreSQL), a phone registers
with the demo credentials, Ctrl-C stops everything; `--no-edge` runs without Kamailio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import sqlalchemy as sa

from relais import edge
from store.models import Message
from store.session import Store
from tests.support import sipclient as sip
from tests.support import sipp
from tests.support.edge import (
    DEMO_USER,
    DOMAIN,
    SECOND_LINE,
    edge_settings,
)
from tests.support.ports import free_port, free_ports
from tests.support.sip import write_prompts

RELAIS = str(Path(sys.executable).with_name("relais"))


def test_kamailio_accepts_the_rendered_configuration(tmp_path: Path, store: Store) -> None:
    for trunk in ("", "sip:gw.example.net:5070"):
        cfg = edge_settings(tmp_path, store.url, trunk_uri=trunk)
        files = edge.render(cfg, workers=2)
        check = subprocess.run(
            [cfg.edge.kamailio_bin, "-c", "-f", str(files.cfg)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert check.returncode == 0, check.stderr[-3000:]
        module = "db_sqlite" if store.url.startswith("sqlite") else "db_postgres"
        assert f'loadmodule "{module}.so"' in files.cfg.read_text()


def relais_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(
        RELAIS_STORAGE_ROOT=str(tmp_path / "var"),
        RELAIS_DATABASE_URL=database_url,
        RELAIS_SIP_HOST="127.0.0.1",
        RELAIS_SIP_PORT=str(free_port()),
        RELAIS_EDGE__WORKER_PORT=str(free_port()),
        RELAIS_SWITCH_BASE_PORT=str(free_ports(2)),
        RELAIS_PORTAL_PORT=str(free_port()),
        RELAIS_MQTT_EMBEDDED_PORT=str(free_port()),
        **extra,
    )
    return env


def demo_sip_password(tmp_path: Path) -> str:
    """The SIP password relais generated for the demo phone (kept under the storage root)."""
    creds = tomllib.loads((tmp_path / "var" / "demo-credentials.toml").read_text())
    return str(creds["sip_password"])


def wait_line(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def test_relais_run_starts_the_edge_the_demo_phone_registers_and_voicemail_works(
    tmp_path: Path, store: Store
) -> None:
    """On SQLite, then on PostgreSQL: the whole system on one store."""
    env = relais_env(
        tmp_path,
        store.url,
        RELAIS_PROMPTS_DIR=str(write_prompts(tmp_path / "prompts")),
        RELAIS_TRUSTED_ADDRESSES='["127.0.0.2"]',
        RELAIS_WORKERS="2",
    )
    out = tmp_path / "run.out"
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [RELAIS, "run"],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp_path,
        )
    try:
        port = int(env["RELAIS_SIP_PORT"])
        assert wait_line(out, "relais is running", proc, 90), out.read_text()[-3000:]
        assert f"ready: edge sip:127.0.0.1:{port}" in out.read_text()
        assert "sip_host 127.0.0.1: this machine only" in out.read_text()
        with sip.transport("udp", ("127.0.0.1", port), "127.0.0.3") as t:
            _, ok = sip.register(t, DEMO_USER, demo_sip_password(tmp_path), DOMAIN)
            assert ok is not None and ok.status == 200
        # The trunk calls the second line (no phone): unavailable, voicemail, stored.
        args = sipp.argv(
            "trunk_call_audio.xml",
            ("127.0.0.1", port),
            local=("127.0.0.2", free_port("127.0.0.2")),
            service=SECOND_LINE,
            media_port=free_ports(4, "127.0.0.2"),
            extra=["-d", "8000", "-key", "headers", "Subject: run"],
        )
        res = sipp.run(args, tmp_path / "call", timeout=60)
        assert (res.successful, res.failed) == (1, 0), res.errors()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with store.read() as s:
                stored = s.scalars(
                    sa.select(Message.duration_seconds).where(Message.line_number == SECOND_LINE)
                ).all()
            if stored:
                break
            time.sleep(0.2)
        assert len(stored) == 1 and 5.0 < stored[0] < 8.0
        status = subprocess.run(
            [RELAIS, "status"], env=env, capture_output=True, text=True, timeout=30, cwd=tmp_path
        )
        assert "edge" in status.stdout and " up " in status.stdout, status.stdout
        assert "switch  : 2 worker(s)" in status.stdout, status.stdout
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    # At shutdown the edge writes its registrations back to the store.
    status = subprocess.run(
        [RELAIS, "status"], env=env, capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert "edge    : 1 registered contact(s)" in status.stdout, status.stdout
    text = out.read_text()
    assert "relais stopped" in text
    assert demo_sip_password(tmp_path) in text  # the demo credentials are printed once
    # Kamailio is gone with its supervisor.
    assert subprocess.run(["pgrep", "-f", str(tmp_path / "var")], capture_output=True).stdout == b""


def test_relais_run_without_the_edge_starts_no_kamailio(
    tmp_path: Path, sqlite_store: Store
) -> None:
    env = relais_env(tmp_path, sqlite_store.url)
    out = tmp_path / "run.out"
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [RELAIS, "run", "--no-edge"],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp_path,
        )
    try:
        assert wait_line(out, "demo account", proc, 60), out.read_text()
        time.sleep(1.0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    assert "ready: edge" not in out.read_text()
    assert not (tmp_path / "var" / "run" / "edge").exists()


def test_relais_edge_runs_kamailio_alone(tmp_path: Path, sqlite_store: Store) -> None:
    env = relais_env(tmp_path, sqlite_store.url)
    refused = subprocess.run(
        [RELAIS, "edge", "--workers", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: no worker to dispatch to: give --workers or edge.extra_workers"
    )
    env["RELAIS_EDGE__EXTRA_WORKERS"] = '["10.0.0.7:5070"]'
    demo = subprocess.run([RELAIS, "demo"], env=env, capture_output=True, timeout=60, cwd=tmp_path)
    assert demo.returncode == 0
    out = tmp_path / "edge.out"
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [RELAIS, "edge", "--workers", "0"],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp_path,
        )
    try:
        port = int(env["RELAIS_SIP_PORT"])
        assert wait_line(out, f"ready: edge sip:127.0.0.1:{port}", proc, 60), out.read_text()
        dispatcher = (tmp_path / "var" / "run" / "edge" / "dispatcher.list").read_text()
        assert dispatcher.splitlines()[1:] == ["1 sip:10.0.0.7:5070 0 0 duid=w0"]
        with sip.transport("udp", ("127.0.0.1", port), "127.0.0.3") as t:
            _, ok = sip.register(t, DEMO_USER, demo_sip_password(tmp_path), DOMAIN)
            assert ok is not None and ok.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    assert "relais stopped" in out.read_text()
