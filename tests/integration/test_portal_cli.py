"""`relais portal` serves the portal with uvicorn; `relais run` starts it as a child (S1, S14)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx

from config.settings import load_settings
from relais.run import components
from tests.support.ports import free_port


def demo_password(tmp_path: Path) -> str:
    """The portal password `relais demo` generated and kept under the storage root."""
    return str(
        tomllib.loads((tmp_path / "var" / "demo-credentials.toml").read_text())["portal_password"]
    )


RELAIS = str(Path(sys.executable).with_name("relais"))


def test_relais_portal_serves_pages_and_api(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_STORAGE_ROOT=str(tmp_path / "var"), RELAIS_PORTAL_PORT=str(port))
    subprocess.run([RELAIS, "demo"], env=env, check=True, capture_output=True, timeout=60)
    proc = subprocess.Popen(
        [RELAIS, "portal"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "the portal did not start"
                time.sleep(0.2)
        assert r.status_code == 200
        assert "server" not in r.headers  # uvicorn's banner is off
        session = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/session",
            json={"number": "6135550100", "password": demo_password(tmp_path)},
            timeout=10,
        )
        assert session.status_code == 200
        assert [ln["number"] for ln in session.json()["account"]["lines"]] == [
            "6135550100",
            "6135550101",
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert proc.returncode in (0, -signal.SIGTERM)
    # uvicorn's start and stop lines are library chatter, shown with log_level DEBUG only; a
    # clean stop (the lifespan's shutdown ran) is checked with DEBUG on.
    assert b"Application shutdown complete" not in out and b"Uvicorn running" not in out
    assert f"portal http://127.0.0.1:{port}".encode() in out
    assert demo_password(tmp_path).encode() not in out  # the password never reaches the log
    debug = subprocess.Popen(
        [RELAIS, "portal"],
        env={**env, "RELAIS_LOG_LEVEL": "DEBUG"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert debug.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        debug.send_signal(signal.SIGTERM)
        out, _ = debug.communicate(timeout=20)
    assert b"Application shutdown complete" in out


def test_relais_run_starts_the_portal(tmp_path: Path) -> None:
    cfg = load_settings(storage_root=str(tmp_path), portal_host="127.0.0.1", portal_port=18123)
    children = {c.name: c for c in components(cfg, no_edge=True, workers=None)}
    portal = children["portal"]
    assert portal.address == "portal http://127.0.0.1:18123"
    assert portal.argv[-1] == "portal"
    assert portal.ready is not None and portal.ready() is False  # nothing listens yet


def test_relais_portal_over_tls_sets_secure_cookies(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_STORAGE_ROOT=str(tmp_path / "var"), RELAIS_PORTAL_PORT=str(port))
    subprocess.run([RELAIS, "demo"], env=env, check=True, capture_output=True, timeout=60)
    half = subprocess.run(
        [RELAIS, "portal", "--ssl-certfile", str(cert)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert half.returncode == 1
    assert half.stderr.strip() == "error: --ssl-certfile and --ssl-keyfile go together"
    proc = subprocess.Popen(
        [RELAIS, "portal", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.post(
                    f"https://127.0.0.1:{port}/api/v1/session",
                    json={"number": "6135550100", "password": demo_password(tmp_path)},
                    verify=False,
                    timeout=10,
                )
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "the portal did not start"
                time.sleep(0.2)
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert f"portal https://127.0.0.1:{port}".encode() in out
