"""Process supervision for `relais run` and the state behind `relais status`.

`relais run` prepares the store, then starts every component as a child process, restarts a
child that dies (with back-off), prints each address once it is ready, and stops every child
on Ctrl-C / SIGTERM (SIGTERM, then SIGKILL after a grace period).

What the children print passes through `shown()`: one "ready:" line per service (the
supervisor's), no start-up chatter of the libraries, no Kamailio ALERT on a normal stop; with
log_level DEBUG everything passes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from config.settings import Settings
from events.outbox import backlog
from store import permissions
from store.migrate import current_revision, head_revision

logger = logging.getLogger(__name__)

GRACE_SECONDS = 10.0
READY_TIMEOUT = 60.0


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    address: str
    """What it serves, printed once ready (e.g. 'portal http://127.0.0.1:8080')."""
    ready: Callable[[], bool] | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    is_ready: bool = False


# What a child prints that `relais run` does not pass on (all of it passes with DEBUG):
# pjlib's console lines, printed while pjsua2 starts, before the worker's log level applies;
_PJLIB = re.compile(r"^\d\d:\d\d:\d\d\.\d{3}\s")
# Kamailio's summary of its sockets and aliases at start (the ready line gives the address);
_KAMAILIO_LISTEN = re.compile(r"^(Listening on|Aliases:)\s*$|^\s+(udp|tcp|tls|sctp|\*): |^\s*$")
# the ready line a service prints when run alone (the supervisor prints its own);
_OWN_READY = re.compile(
    r"^(ready: switch worker \d+ sip:|bus ready: |notifier ready: |portal https?://\S+$)"
)
# INFO lines of our log format ("2026-12-05 03:48:53,655 INFO name: ..."), and those that
# only say a worker started (they may come just after its ready line);
_INFO = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO ")
_STARTED = re.compile(r": (switch worker \d+ listening on|switch bus consumer subscribed on) ")
# and, on a normal stop, Kamailio's main process reporting each of its own worker processes
# ending at ALERT level: that is its shutdown, not an alert (a child killed by a signal or
# ending with another status is still shown), then its goodbye.
_KAMAILIO_CHILD_EXIT = re.compile(
    r"ALERT: <core> \[main\.c:\d+\]: handle_sigs\(\): child process \d+ exited normally, "
    r"status=0$"
    r"|NOTICE: <core> \[main\.c:\d+\]: handle_sigs\(\): Thank you for flying kamailio"
)


def shown(line: str, *, ready: bool, debug: bool) -> bool:
    """Whether `relais run` passes on a line a child printed (before or after it was ready)."""
    if debug:
        return True
    if _PJLIB.match(line) or _KAMAILIO_LISTEN.match(line) or _OWN_READY.match(line):
        return False
    if _KAMAILIO_CHILD_EXIT.search(line):
        return False
    # Until the supervisor says a service is ready, its own INFO lines say the same thing.
    if _INFO.match(line):
        return ready and not _STARTED.search(line)
    return True


def _relay(child: Child, source: IO[bytes], sink: IO[str], debug: bool) -> None:
    for raw in iter(source.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        if shown(line, ready=child.is_ready, debug=debug):
            print(line, file=sink, flush=True)
    source.close()


def tcp_ready(host: str, port: int) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with socket.create_connection((host if host != "0.0.0.0" else "127.0.0.1", port), 0.5):
                return True
        except OSError:
            return False

    return probe


def state_path(cfg: Settings) -> Path:
    """<storage_root>/run/supervisor.json (supervisor-<switch_host>.json when the switch host
    has its own address: the hosts of a site share the storage root)."""
    return cfg.storage_root / "run" / f"supervisor{cfg.host_suffix}.json"


def relais_argv(*args: str) -> list[str]:
    """Run a `relais` sub-command with this interpreter."""
    return [sys.executable, "-m", "relais.cli", *args]


def bus_child(cfg: Settings) -> Child:
    """The event bus (events/bus.py): embedded broker unless mqtt_url is set, outbox relay."""
    if cfg.mqtt_url:
        from events.mqtt import parse_mqtt_url

        return Child("bus", relais_argv("bus"), f"bus {parse_mqtt_url(cfg.mqtt_url)} (relay)")
    port = cfg.mqtt_embedded_port
    return Child(
        "bus",
        relais_argv("bus"),
        f"bus mqtt://127.0.0.1:{port} (embedded broker + relay)",
        ready=tcp_ready("127.0.0.1", port),
    )


def notifier_child(cfg: Settings) -> Child:
    """The notifier (notify/notifier.py): e-mail, SMS, pager, outdial, forwarding."""
    if cfg.smtp_url:
        from notify.email import parse_smtp_url

        mail = str(parse_smtp_url(cfg.smtp_url))  # never shows the password
    else:
        mail = f"spool {cfg.storage_root / 'spool'}"
    return Child("notifier", relais_argv("notifier"), f"notifier (mail: {mail})")


def components(cfg: Settings, *, no_edge: bool, workers: int | None) -> list[Child]:
    """The long-running components of this installation, in start order."""
    from relais import edge
    from switch.supervisor import worker_children

    children: list[Child] = []
    children.append(bus_child(cfg))  # first: every other component publishes through it
    with_edge = edge.wanted(cfg, no_edge=no_edge)
    count = workers if workers is not None else (cfg.workers if with_edge else 1)
    children += worker_children(
        cfg, workers=count, no_edge=not with_edge, public_first=not with_edge
    )
    # The edge comes after the switch workers it dispatches to.
    children += edge.children(cfg, no_edge=no_edge, workers=count)
    children.append(notifier_child(cfg))
    children.append(
        Child(
            name="portal",
            argv=relais_argv("portal"),
            address=f"portal http://{cfg.portal_host}:{cfg.portal_port}",
            ready=tcp_ready(cfg.portal_host, cfg.portal_port),
        )
    )
    return children


def run_all(cfg: Settings, *, no_edge: bool, workers: int | None) -> int:
    from relais import demo
    from relais.cli import open_store

    store = open_store(cfg)
    permissions.tighten_tree(cfg.storage_root)
    print(f"store ready: {store.engine.url.render_as_string(hide_password=True)}", flush=True)
    if cfg.demo.create:
        print(demo.ensure(store, cfg).text, flush=True)
    store.dispose()

    children = components(cfg, no_edge=no_edge, workers=workers)
    if not children:
        print("no long-running component is installed yet: nothing else to start", flush=True)
        return 0
    return Supervisor(cfg, children).run()


class Supervisor:
    def __init__(self, cfg: Settings, children: list[Child]) -> None:
        self.cfg = cfg
        self.children = children
        self.stopping = False

    def _start(self, child: Child) -> None:
        env = {**os.environ, **child.env}
        child.process = subprocess.Popen(
            child.argv,
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        child.started_at = time.monotonic()
        child.is_ready = child.restarts > 0  # a restart is not a start: its lines all show
        debug = self.cfg.log_level == "DEBUG"
        for source, sink in (
            (child.process.stdout, sys.stdout),
            (child.process.stderr, sys.stderr),
        ):
            assert source is not None
            threading.Thread(target=_relay, args=(child, source, sink, debug), daemon=True).start()
        logger.debug("started %s (pid %s)", child.name, child.process.pid)

    def _wait_ready(self, child: Child) -> bool:
        if child.ready is None:
            return True
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and not self.stopping:
            assert child.process is not None
            if child.process.poll() is not None:
                return False
            if child.ready():
                return True
            time.sleep(0.1)
        return False

    def _write_state(self) -> None:
        path = state_path(self.cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "pid": os.getpid(),
            "children": [
                {
                    "name": c.name,
                    "pid": c.process.pid if c.process else None,
                    "address": c.address,
                    "restarts": c.restarts,
                }
                for c in self.children
            ],
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, path)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            for child in self.children:
                self._start(child)
                if not self._wait_ready(child):
                    if self.stopping:
                        return 0
                    print(f"error: {child.name} did not start", file=sys.stderr, flush=True)
                    return 1
                child.is_ready = True
                print(f"ready: {child.address}", flush=True)
            self._write_state()
            print("relais is running; Ctrl-C stops it", flush=True)
            while not self.stopping:
                self._check_children()
                time.sleep(0.2)
            return 0
        finally:
            self._stop_all()
            state_path(self.cfg).unlink(missing_ok=True)

    def _check_children(self) -> None:
        for child in self.children:
            proc = child.process
            if proc is None or proc.poll() is None:
                continue
            logger.warning("%s exited with status %s; restarting", child.name, proc.returncode)
            # Back off when a child keeps dying right after start.
            if time.monotonic() - child.started_at < 5:
                time.sleep(min(5.0, 0.5 * (child.restarts + 1)))
            child.restarts += 1
            self._start(child)
            self._write_state()

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.process and c.process.poll() is None]
        for child in reversed(running):
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time; killing it", child.name)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        print("relais stopped", flush=True)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def queue_lines(session: Any) -> list[str]:
    """The notification queue by kind: pending, in progress, failed (kept)."""
    from notify.queue import summary

    by_kind = summary(session)
    if not by_kind:
        return ["queue   : no notification job waiting or failed"]
    names = {"pending": "pending", "sending": "in progress", "failed": "failed"}

    def describe(counts: dict[str, int]) -> str:
        return ", ".join(f"{counts[k]} {v}" for k, v in names.items() if counts.get(k))

    totals: dict[str, int] = {}
    for counts in by_kind.values():
        for k, n in counts.items():
            totals[k] = totals.get(k, 0) + n
    lines = [f"queue   : {describe(totals)} notification job(s)"]
    lines += [f"  {kind:<8}: {describe(counts)}" for kind, counts in sorted(by_kind.items())]
    return lines


def storage_line(cfg: Settings) -> str:
    """Free space under the storage root, and whether new messages are refused for want of it."""
    try:
        free_mb = shutil.disk_usage(cfg.storage_root).free // 1_000_000
    except OSError as exc:
        return f"storage : cannot read the free space of {cfg.storage_root} ({exc.strerror})"
    line = f"storage : {free_mb} MB free under {cfg.storage_root}"
    if free_mb < cfg.mailbox.min_free_mb:
        line += f" - LOW: below mailbox.min_free_mb ({cfg.mailbox.min_free_mb}), callers cannot"
        line += " leave messages"
    return line


def status_lines(cfg: Settings) -> list[str]:
    """What `relais status` prints."""
    from store.session import Store

    lines: list[str] = []
    db = cfg.storage_root / "relais.db"
    if cfg.is_sqlite and not cfg.database_url and not db.is_file():
        # Looking must not create: no store here means nothing was ever run with these settings.
        lines.append(f"store   : none at {db} (relais run or relais db upgrade creates it)")
        lines.append("services: not running (start them with relais run)")
        return lines
    store = Store(cfg.effective_database_url)
    try:
        rev = current_revision(store.engine)
        head = head_revision()
        state = (
            "up to date" if rev == head else f"at {rev}, newest is {head}: run relais db upgrade"
        )
        lines.append(f"store   : {store.engine.url.render_as_string(hide_password=True)} ({state})")
        if rev is not None:
            with store.read() as s:
                lines.append(f"outbox  : {backlog(s)} event(s) waiting for the bus")
                lines.extend(queue_lines(s))
                from relais import edge

                lines.append(edge.status_line(s))
    finally:
        store.dispose()
    from events.mqtt import heartbeat_line, heartbeat_path
    from switch.supervisor import worker_status_lines

    lines.append(heartbeat_line(heartbeat_path(cfg), datetime.now(UTC)))
    lines.append(storage_line(cfg))
    lines += worker_status_lines(cfg)
    path = state_path(cfg)
    if not path.is_file():
        lines.append("services: not running (start them with relais run)")
        return lines
    data = json.loads(path.read_text())
    alive = _alive(data.get("pid"))
    lines.append(f"services: supervisor pid {data.get('pid')} {'running' if alive else 'gone'}")
    for child in data.get("children", []):
        up = "up" if _alive(child.get("pid")) else "down"
        lines.append(
            f"  {child['name']:<10} {up:<4} pid {child.get('pid')} restarts {child['restarts']}"
            f"  {child['address']}"
        )
    return lines
