"""Kamailio edge for the tests: rendered from settings, started on free loopback ports.

Addresses on the loopback network play the roles: 127.0.0.1 the edge and its workers,
127.0.0.2 the trunk (the only trusted address), 127.0.0.3 and up phones and other peers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.settings import Settings, load_settings
from relais import edge
from store.session import Store
from tests.support.ports import free_port, free_ports


@dataclass
class Edge:
    cfg: Settings
    process: subprocess.Popen[bytes]
    log: Path
    host: str
    port: int

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def edge_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    env_backup = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RELAIS_")}
    try:
        values: dict[str, Any] = {
            "storage_root": tmp_path / "var",
            "database_url": database_url,
            "sip_host": "127.0.0.1",
            "sip_port": free_port(),
            "switch_host": "127.0.0.1",
            "switch_base_port": free_ports(4),
            "trusted_addresses": ["127.0.0.2"],
        }
        edge_over = {"worker_port": free_port(), **overrides.pop("edge", {})}
        values.update(overrides)
        base = load_settings(**values)
        if edge_over:
            values["edge"] = {**base.edge.model_dump(), **edge_over}
            base = load_settings(**values)
        return base
    finally:
        os.environ.update(env_backup)


@contextlib.contextmanager
def running_edge(cfg: Settings, workers: int = 1, ready_timeout: float = 15.0) -> Iterator[Edge]:
    files = edge.render(cfg, workers)
    log = files.cfg.parent / "kamailio.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            edge.command(cfg, files), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    e = Edge(cfg, proc, log, cfg.sip_host, cfg.sip_port)
    try:
        deadline = time.monotonic() + ready_timeout
        while "Listening on" not in e.log_text():
            if proc.poll() is not None:
                raise RuntimeError(f"kamailio exited:\n{e.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"kamailio did not start:\n{e.log_text()[-3000:]}")
            time.sleep(0.05)
        while True:
            with contextlib.suppress(OSError), socket.create_connection(e.addr, 0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kamailio did not start:\n{e.log_text()[-3000:]}")
            time.sleep(0.05)
        time.sleep(0.2)  # every child process up
        if proc.poll() is not None:
            raise RuntimeError(f"kamailio exited:\n{e.log_text()[-3000:]}")
        yield e
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


DOMAIN = "relais.local"
DEMO_LINE = "6135550100"
SECOND_LINE = "6135550101"
# The demo account with fixed secrets (relais itself generates them for each installation).
DEMO_USER, DEMO_PASSWORD = "6135550100", "edge-test-phone-1"
PORTAL_PASSWORD = "edge-test-portal-1"
DESK_USER, DESK_PASSWORD = "desk100", "desk-pass-100"


def provision(store: Store, cfg: Settings) -> None:
    """The demo account (line 6135550100 with device 6135550100, second line 6135550101)
    and a second device of the demo line, desk100."""
    from relais import demo
    from store import repository

    made = demo.ensure(
        store,
        cfg,
        creds=demo.Credentials(
            portal_password=PORTAL_PASSWORD, pin="4826", sip_password=DEMO_PASSWORD
        ),
    )
    assert made.created, made.text
    with store.transaction() as s:
        repository.add_device(
            s, number=DEMO_LINE, username=DESK_USER, password=DESK_PASSWORD, domain=DOMAIN
        )
