"""The real processes: `relais notifier` killed with SIGKILL mid-queue and restarted, and
`relais run` carrying a deposit through the embedded broker to an SMTP server."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from events.access import bus_credentials
from events.events import MessageDeposited
from events.mqtt import MqttAddress, subscribe
from relais.demo import NUMBER as DEMO_NUMBER
from store.files import FileStore
from store.migrate import upgrade
from store.models import NotificationJob
from store.session import Store
from tests.support.deposit import (
    NUMBER,
    add_email_target,
    deposit,
    make_subscriber,
    set_notifications,
)
from tests.support.mqtt import Mosquitto, wait_port
from tests.support.notifying import jobs
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer

RELAIS = [sys.executable, "-m", "relais.cli"]


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_STORAGE_ROOT=str(tmp_path / "var"), RELAIS_LOG_LEVEL="INFO", **extra)
    return env


class Proc:
    """A child process whose output lines are collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.p = subprocess.Popen(
            [*RELAIS, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.p.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed; got:\n" + "\n".join(self.seen[-30:]))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.p.poll() is None:
            os.killpg(self.p.pid, sig)
        try:
            return self.p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            return self.p.wait()


def wait(predicate: object, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


def test_notifier_killed_mid_queue_and_restarted_sends_nothing_twice_and_loses_nothing(
    tmp_path: Path, database_url: str, mosquitto: Mosquitto
) -> None:
    store = Store(database_url)
    upgrade(store.engine)
    files = FileStore(tmp_path / "var")
    make_subscriber(store)
    set_notifications(store, email_enabled=True)
    add_email_target(store, "jeanne@example.com", ["all_voice"])
    add_email_target(store, "bureau@example.com", ["all_voice"])
    smtp = SmtpServer(delay=0.2).start()  # each DATA takes a while: mails are on the wire
    env = base_env(
        tmp_path,
        RELAIS_DATABASE_URL=database_url,
        RELAIS_MQTT_URL=mosquitto.url,
        RELAIS_SMTP_URL=smtp.url,
        RELAIS_NOTIFY__CONCURRENCY="1",
        RELAIS_NOTIFY__POLL_SECONDS="0.1",
        RELAIS_NOTIFY__SWEEP_SECONDS="1",
        RELAIS_NOTIFY__RETRY_BASE_SECONDS="1",
    )
    bus = Proc(["bus"], env)
    notifier = Proc(["notifier"], env)
    try:
        bus.wait_for("bus ready")
        notifier.wait_for("notifier ready")
        deposits = [deposit(store, files) for _ in range(8)]
        wait(lambda: len(smtp.received) >= 5 and smtp.in_data.is_set(), what="mail 6 on the wire")
        notifier.stop(signal.SIGKILL)
        accepted_before = len(smtp.received)
        states = Counter(j.state for j in jobs(store))
        assert states["done"] == accepted_before  # every accepted mail was recorded as done
        assert states["sending"] == 1  # the one on the wire when the process died
        assert states["done"] + states["sending"] + states["pending"] == 16
        notifier = Proc(["notifier"], env)
        notifier.wait_for("notifier ready")
        wait(lambda: all(j.state == "done" for j in jobs(store)), what="every job done")
        time.sleep(0.5)
    finally:
        assert notifier.stop() == 0
        assert bus.stop() == 0
        smtp.stop()
    ids = Counter(r.message["Message-ID"] for r in smtp.received)
    assert len(ids) == 16 and set(ids.values()) == {1}  # nothing twice, nothing lost
    pairs = Counter((r.rcpt_tos[0], r.message["Subject"]) for r in smtp.received)
    assert sum(pairs.values()) == 16
    with store.read() as s:
        rows = s.scalars(select(NotificationJob)).all()
        assert {(j.event_id, j.target) for j in rows} == {
            (d.event_id, t) for d in deposits for t in ("jeanne@example.com", "bureau@example.com")
        }
    store.dispose()


def test_relais_run_carries_a_deposit_through_the_embedded_broker_to_smtp(
    tmp_path: Path,
) -> None:
    port = free_port()
    smtp = SmtpServer().start()
    env = base_env(tmp_path, RELAIS_MQTT_EMBEDDED_PORT=str(port), RELAIS_SMTP_URL=smtp.url)
    run = Proc(["run", "--no-edge"], env)
    try:
        run.wait_for(f"ready: bus mqtt://127.0.0.1:{port} (embedded broker + relay)")
        run.wait_for("ready: notifier (mail: smtp://127.0.0.1:")
        run.wait_for("relais is running")
        wait_port(port)
        store = Store(f"sqlite:///{tmp_path / 'var' / 'relais.db'}")
        set_notifications(store, DEMO_NUMBER, email_enabled=True)
        add_email_target(store, "demo@example.com", ["all_voice"], number=DEMO_NUMBER)

        async def deposit_and_listen() -> MessageDeposited:
            ready = asyncio.Event()

            async def subscribed() -> None:
                ready.set()

            events = subscribe(
                MqttAddress(
                    "127.0.0.1", port, "observer", bus_credentials(tmp_path / "var").observer
                ),
                [f"relais/{DEMO_NUMBER}/message/#"],
                on_subscribed=subscribed,
            )
            first = asyncio.ensure_future(events.__anext__())
            await asyncio.wait_for(ready.wait(), 10)
            deposit(store, FileStore(tmp_path / "var"), DEMO_NUMBER)
            event = await asyncio.wait_for(first, 10)
            await events.aclose()
            assert isinstance(event, MessageDeposited)
            return event

        event = asyncio.run(deposit_and_listen())
        wait(lambda: len(smtp.received) == 1, what="the notification mail")
        assert smtp.received[0].rcpt_tos == ["demo@example.com"]
        assert event.line == DEMO_NUMBER
        status = subprocess.run(
            [*RELAIS, "status"], env=env, capture_output=True, text=True, timeout=60
        )
        assert status.returncode == 0, status.stderr
        assert "queue   : no notification job waiting or failed" in status.stdout
        assert "bus" in status.stdout and "notifier" in status.stdout
        store.dispose()
    finally:
        code = run.stop()
        smtp.stop()
    assert code == 0
    run.wait_for("relais stopped")


def test_status_counts_the_queue_by_kind(tmp_path: Path, sqlite_store: Store) -> None:
    from relais.run import queue_lines

    make_subscriber(sqlite_store)
    with sqlite_store.transaction() as s:
        for i, (kind, state) in enumerate(
            [
                ("email", "pending"),
                ("email", "failed"),
                ("email", "done"),
                ("outdial", "sending"),
                ("forward", "failed"),
                ("pager", "cancelled"),
            ]
        ):
            s.add(
                NotificationJob(
                    event_id=f"e{i}", kind=kind, line_number=NUMBER, target="x", state=state
                )
            )
    with sqlite_store.read() as s:
        assert queue_lines(s) == [
            "queue   : 1 pending, 1 in progress, 2 failed notification job(s)",
            "  email   : 1 pending, 1 failed",
            "  forward : 1 failed",
            "  outdial : 1 in progress",
        ]


def test_a_bad_smtp_url_stops_the_notifier_with_one_line(tmp_path: Path) -> None:
    env = base_env(tmp_path, RELAIS_SMTP_URL="smtp://relais:pw-secret@mail.example?tls=1")
    r = subprocess.run([*RELAIS, "notifier"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == ["error: unknown SMTP URL option(s): tls"]
    assert "pw-secret" not in r.stdout + r.stderr
