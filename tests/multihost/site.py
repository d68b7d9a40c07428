"""A relais installation over several hosts (docs/scaling.md), each a network namespace.

    edge      10.213.0.10  Kamailio (`relais edge --workers 0`, edge.extra_workers)
    switch-a  10.213.0.11  `relais switch --workers N`
    switch-b  10.213.0.12  `relais switch --workers N`
    services  10.213.0.13  PostgreSQL, mosquitto, `relais bus` (outbox relay), portal, notifier
    trunk     10.213.0.14  SIPp (the only trusted address)
    phone     10.213.0.15  a SIP phone registered at the edge

Every process is configured only through the RELAIS_* settings docs/scaling.md names; the
storage root is one folder every host sees (one file system here; NFS between machines).
Each host has its own address space, so the documented ports (5060, 5070..., 5432, 1883,
8080) are used as they are.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from config.settings import Settings, load_settings
from store.session import Store
from switch.endpoint import PJSUA_MAX_CALLS
from tests.multihost.netns import PREFIX, SUBNET, Host, Network, clean, stop
from tests.support import sipp
from tests.support.postgres import PG_BIN, _as_postgres
from tests.support.sip import write_prompts

RELAIS = str(Path(sys.executable).with_name("relais"))
ADDRESSES = {"edge": 10, "switch-a": 11, "switch-b": 12, "services": 13, "trunk": 14, "phone": 15}
SIP_PORT = 5060
SWITCH_BASE_PORT = 5070
PG_PORT = 5432
MQTT_PORT = 1883
MQTT_USER, MQTT_PASSWORD = "relais", "multihost-bus-1"
PORTAL_PORT = 8080
PROBE_INTERVAL = 1
PROBE_TIMEOUT_MS = 500
DOMAIN = "relais.local"
DEMO_LINE, SECOND_LINE = "6135550100", "6135550101"
DEMO_USER = "6135550100"  # `relais demo`: its secrets are generated, read them from the site
DESK_USER, DESK_PASSWORD = "desk100", "desk-pass-100"
SWITCHES = ("switch-a", "switch-b")
SITE_DIR = Path(tempfile.gettempdir()) / f"{PREFIX}-site"
"""The site's files (storage root, logs, SIPp runs): out of pytest's rotated temporary
folders, which other test runs on the machine clean; emptied when the next site is built."""


def worker_slots(configured: int) -> int:
    """Call slots one worker uses for `max_calls_per_worker`: the worker's own
    `call_capacity` (the setting within what the pjsua2 library holds, less its reserve)
    where the worker has one, else the setting within the library's limit."""
    import switch.worker

    capacity = getattr(switch.worker, "call_capacity", None)
    if capacity is not None:
        return int(capacity(configured))
    return min(configured, PJSUA_MAX_CALLS)


def wait(predicate: object, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not (callable(predicate) and predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (after {timeout} s)")
        time.sleep(interval)


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), 0.3):
            return True
    except OSError:
        return False


@dataclass
class Site:
    net: Network
    tmp: Path
    root: Path
    prompts: Path
    workers: int
    pg_dir: Path
    db_url: str = ""
    store: Store | None = None
    switch_procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _sipp_port: int = 5100

    # -- addresses -------------------------------------------------------------------------------

    def host(self, name: str) -> Host:
        return self.net[name]

    def addr(self, name: str) -> str:
        return self.net[name].address

    @property
    def edge(self) -> tuple[str, int]:
        return (self.addr("edge"), SIP_PORT)

    @property
    def portal_url(self) -> str:
        return f"http://{self.addr('services')}:{PORTAL_PORT}"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{MQTT_USER}:{MQTT_PASSWORD}@{self.addr('services')}:{MQTT_PORT}"

    def worker_addresses(self, name: str) -> list[str]:
        return [f"{self.addr(name)}:{SWITCH_BASE_PORT + i}" for i in range(self.workers)]

    # -- settings --------------------------------------------------------------------------------

    def env(self, host: str, **more: str) -> dict[str, str]:
        """The RELAIS_* settings of a host (docs/scaling.md, "Growing, step by step")."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
        env.update(
            RELAIS_DATABASE_URL=self.db_url,
            RELAIS_STORAGE_ROOT=str(self.root),
            RELAIS_MQTT_URL=self.mqtt_url,
            RELAIS_PROMPTS_DIR=str(self.prompts),
            RELAIS_SIP_DOMAIN=DOMAIN,
            RELAIS_TRUSTED_ADDRESSES=json.dumps([self.addr("trunk")]),
            RELAIS_LOG_LEVEL="INFO",
        )
        if host in SWITCHES:
            env.update(
                RELAIS_SWITCH_HOST=self.addr(host),
                RELAIS_SWITCH_BASE_PORT=str(SWITCH_BASE_PORT),
                RELAIS_SIP_ADVERTISED_HOST=self.addr("edge"),
                RELAIS_SIP_PORT=str(SIP_PORT),
                RELAIS_EDGE__ENABLED="true",
            )
        elif host == "edge":
            env.update(
                RELAIS_SIP_HOST=self.addr("edge"),
                RELAIS_SIP_ADVERTISED_HOST=self.addr("edge"),
                RELAIS_SIP_PORT=str(SIP_PORT),
                RELAIS_EDGE__ENABLED="true",
                RELAIS_EDGE__PROBE_INTERVAL=str(PROBE_INTERVAL),
                RELAIS_EDGE__PROBE_TIMEOUT_MS=str(PROBE_TIMEOUT_MS),
                RELAIS_EDGE__EXTRA_WORKERS=json.dumps(
                    [a for s in SWITCHES for a in self.worker_addresses(s)]
                ),
            )
        elif host == "services":
            env.update(
                RELAIS_PORTAL_HOST=self.addr("services"),
                RELAIS_PORTAL_PORT=str(PORTAL_PORT),
            )
        env.update(more)
        return env

    def settings(self, host: str) -> Settings:
        """The settings a host's processes load (for figures such as call capacity)."""
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RELAIS_")}
        try:
            os.environ.update({k: v for k, v in self.env(host).items() if k.startswith("RELAIS_")})
            return load_settings()
        finally:
            for k in [k for k in os.environ if k.startswith("RELAIS_")]:
                del os.environ[k]
            os.environ.update(saved)

    def capacity(self, hosts: int = 2) -> int:
        """Calls the switch hosts hold at once: workers x call slots (as the worker caps them)."""
        cfg = self.settings("switch-a")
        return hosts * self.workers * worker_slots(cfg.max_calls_per_worker)

    # -- processes -------------------------------------------------------------------------------

    def relais(self, host: str, *args: str, timeout: float = 60) -> str:
        done = self.host(host).run([RELAIS, *args], env=self.env(host), timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"relais {' '.join(args)} on {host}: {done.stderr[-2000:]}")
        return done.stdout

    def log(self, name: str) -> Path:
        return self.tmp / "logs" / f"{name}.log"

    def text(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def start_services(self) -> None:
        svc = self.host("services")
        # PostgreSQL, reachable from the other hosts (the address range trusted: a test site).
        data = self.pg_dir / "data"
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with (data / "pg_hba.conf").open("a") as fh:
            fh.write(f"host all all {SUBNET}.0/24 trust\n")
        started = svc.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self.pg_dir / "server.log"),
                    "-w",
                    "-o",
                    f"-p {PG_PORT} -k {self.pg_dir} -c listen_addresses={self.addr('services')}"
                    " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
                    " -c max_connections=200",
                    "start",
                ]
            )
        )
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr}")
        admin = f"postgresql+psycopg://postgres@{self.addr('services')}:{PG_PORT}/postgres"
        engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql('CREATE DATABASE "relais"')
        engine.dispose()
        self.db_url = f"postgresql+psycopg://postgres@{self.addr('services')}:{PG_PORT}/relais"
        # mosquitto on the services address.
        conf = self.tmp / "mosquitto.conf"
        # relais refuses a broker URL without credentials: a password file, as in docs/scaling.md
        passwd = self.tmp / "mosquitto.passwd"
        passwd.write_text("")
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwd), MQTT_USER, MQTT_PASSWORD],
            check=True,
            timeout=30,
        )
        conf.write_text(
            f"listener {MQTT_PORT} {self.addr('services')}\nallow_anonymous false\n"
            f"password_file {passwd}\n"
            "user root\nlog_dest stderr\nlog_type error\nlog_type warning\n"
        )
        svc.start(["/usr/sbin/mosquitto", "-c", str(conf)], log=self.log("mosquitto"))
        wait(lambda: tcp_open(self.addr("services"), MQTT_PORT), 10, "mosquitto is not up")
        # The store, its demo account; then the outbox relay, the portal and the notifier.
        self.relais("services", "db", "upgrade")
        # The site listens beyond loopback (its private range): the demo must be asked for.
        self.relais("services", "demo", "--allow-public")
        creds = tomllib.loads((self.root / "demo-credentials.toml").read_text())
        self.demo_sip_password = str(creds["sip_password"])
        self.demo_portal_password = str(creds["portal_password"])
        self.demo_pin = str(creds["voicemail_pin"])
        self.relais(
            "services",
            "device",
            "add",
            "--number",
            DEMO_LINE,
            "--username",
            DESK_USER,
            "--password",
            DESK_PASSWORD,
        )
        self.store = Store(self.db_url)
        env = self.env("services")
        svc.start([RELAIS, "bus"], env=env, log=self.log("bus"), cwd=self.tmp)
        svc.start([RELAIS, "notifier"], env=env, log=self.log("notifier"), cwd=self.tmp)
        svc.start([RELAIS, "portal"], env=env, log=self.log("portal"), cwd=self.tmp)
        wait(lambda: tcp_open(self.addr("services"), PORTAL_PORT), 60, "the portal is not up")

    def start_switch(self, name: str) -> None:
        """`relais switch --workers N` on a switch host; returns once every worker is ready."""
        log = self.log(name)
        mark = self.text(name).count("ready: switch worker")
        proc = self.host(name).start(
            [RELAIS, "switch", "--workers", str(self.workers)],
            env=self.env(name),
            log=log,
            cwd=self.tmp,
        )
        self.switch_procs[name] = proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.text(name)[-3000:]}")
            return self.text(name).count("ready: switch worker") >= mark + self.workers

        wait(ready, 90, f"{name} is not ready:\n{self.text(name)[-3000:]}", 0.2)

    def crash_switch(self, name: str) -> float:
        """SIGKILL every process of a switch host (its supervisor and every worker) at once,
        as a power loss would; the monotonic time of the kill."""
        host = self.host(name)
        pids = subprocess.run(
            ["ip", "netns", "pids", host.ns], capture_output=True, text=True, check=False
        ).stdout.split()
        at = time.monotonic()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)
        proc = self.switch_procs.pop(name, None)
        if proc is not None:
            proc.wait(10)
        host.processes = [p for p in host.processes if p.poll() is None]
        return at

    def stop_switch(self, name: str) -> None:
        proc = self.switch_procs.pop(name, None)
        if proc is not None:
            stop(proc, grace=20)

    def start_edge(self) -> None:
        edge = self.host("edge")
        edge.start(
            [RELAIS, "edge", "--workers", "0"],
            env=self.env("edge"),
            log=self.log("edge"),
            cwd=self.tmp,
        )
        wait(
            lambda: "relais is running" in self.text("edge"),
            60,
            f"the edge is not up:\n{self.text('edge')[-3000:]}",
        )

    # -- the trunk -------------------------------------------------------------------------------

    def sipp_args(
        self,
        scenario: str,
        target: tuple[str, int],
        *,
        service: str,
        calls: int,
        rate: float | None = None,
        limit: int | None = None,
        extra: list[str] | None = None,
        trace_msg: bool = False,
    ) -> list[str]:
        """SIPp on the trunk host (its own SIP and media port per run)."""
        self._sipp_port += 2
        trunk = self.addr("trunk")
        args = sipp.argv(
            scenario,
            target,
            local=(trunk, self._sipp_port),
            service=service,
            calls=calls,
            rate=rate,
            limit=limit,
            media_port=self._sipp_port + 1000,
            extra=extra,
            trace_msg=trace_msg,
        )
        return self.host("trunk").argv(args)

    def trunk_calls(
        self,
        line: str,
        workdir: Path,
        *,
        calls: int = 1,
        rate: float | None = None,
        hold_ms: int = 4000,
        target: tuple[str, int] | None = None,
        timeout: float = 120,
    ) -> sipp.Result:
        """The trunk calls `line` (through the edge unless `target` is a worker): SIPp plays
        A-law audio from 1 s after the answer and hangs up hold_ms after it."""
        args = self.sipp_args(
            "trunk_call_audio.xml",
            target or self.edge,
            service=line,
            calls=calls,
            rate=rate,
            extra=["-d", str(hold_ms), "-key", "headers", "Subject: multihost"],
            trace_msg=True,
        )
        return sipp.run(args, workdir, timeout=timeout)

    # -- the store -------------------------------------------------------------------------------

    def rows(self, sql: str, **params: object) -> list[sa.Row[tuple[object, ...]]]:
        assert self.store is not None
        with self.store.read() as s:
            return list(s.execute(sa.text(sql), params).all())

    def messages(self, line: str) -> list[sa.Row[tuple[object, ...]]]:
        return self.rows(
            "SELECT id, call_id, duration_seconds, file_path FROM message"
            " WHERE line_number = :l ORDER BY id",
            l=line,
        )

    def wait_messages(self, line: str, count: int, timeout: float = 30) -> list[sa.Row]:  # type: ignore[type-arg]
        wait(lambda: len(self.messages(line)) >= count, timeout, f"{count} messages on {line}")
        return self.messages(line)

    def new_messages(self, line: str) -> int:
        return int(
            self.rows(
                "SELECT count(*) FROM message WHERE line_number = :l AND kind = 'voice'"
                " AND folder = 'inbox' AND NOT heard",
                l=line,
            )[0][0]
        )

    def worker(self, name: str, index: int = 0) -> tuple[str, int]:
        return (self.addr(name), SWITCH_BASE_PORT + index)

    def wait_probed(self) -> None:
        """Long enough for the edge to probe every worker again (after a host came back)."""
        time.sleep(3 * PROBE_INTERVAL + 0.5)

    def delivered_by(self, name: str) -> set[str]:
        """Call-IDs of the messages a switch host delivered (from its log)."""
        return set(re.findall(r"(\S+): message \d+ \(.*?\) delivered to", self.text(name)))


@contextlib.contextmanager
def built_site(tmp: Path, workers: int = 2) -> Iterator[Site]:
    """Build the hosts and start every component; tear everything down at the end, also on
    failure (and what a crashed earlier run left, at the start)."""
    for old in Path(tempfile.gettempdir()).glob("rlmh-pg-*"):
        shutil.rmtree(old, ignore_errors=True)  # its server was stopped with its namespace
    net = Network()
    clean()  # first, what a crashed earlier run left: its processes, then its files
    shutil.rmtree(tmp, ignore_errors=True)
    pg_dir = Path(tempfile.mkdtemp(prefix="rlmh-pg-"))
    shutil.chown(pg_dir, "postgres", "postgres")
    root = tmp / "var"
    root.mkdir(parents=True)
    site = Site(net, tmp, root, write_prompts(tmp / "prompts"), workers, pg_dir)
    try:
        net.build(ADDRESSES)
        site.start_services()
        for name in SWITCHES:
            site.start_switch(name)
        site.start_edge()
        time.sleep(2 * PROBE_INTERVAL + 0.5)  # every worker probed and active
        yield site
    finally:
        if site.store is not None:
            site.store.dispose()
        for host in net.hosts.values():  # edge, switch hosts, then services
            with contextlib.suppress(Exception):
                host.stop_all()
        if (pg_dir / "data" / "postmaster.pid").exists():
            subprocess.run(
                [
                    *_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(pg_dir / "data")]),
                    "-m",
                    "immediate",
                    "stop",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=30,
            )
        net.destroy()
        shutil.rmtree(pg_dir, ignore_errors=True)
