"""Notification latency (SPEC S13): hang-up -> MQTT event received and hang-up -> e-mail
accepted by the SMTP server, p50/p99 over 200 deposits, with the real processes.

Set-up as `relais run` has it by default: `relais bus` (embedded amqtt broker + outbox relay)
and `relais notifier` as child processes on a SQLite store, aiosmtpd as the SMTP server and an
MQTT subscriber in this process. Deposits are written the way the switch writes them (file,
then message row + call log + events in one transaction) at 10 per second; each latency is
measured from that commit. References in the same run: a raw aiomqtt QoS 1 publish -> receive
round trip through the same broker, and a raw aiosmtplib send to the same server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
import aiosmtplib

from events.access import bus_credentials
from events.events import MessageDeposited
from events.mqtt import MqttAddress, subscribe
from store.files import FileStore
from store.migrate import upgrade
from store.session import Store
from tests.bench.table import Row
from tests.support.deposit import (
    NUMBER,
    add_email_target,
    deposit,
    make_subscriber,
    set_notifications,
)
from tests.support.mqtt import wait_port
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer

DEPOSITS = 200
RATE = 10.0  # deposits per second


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return f"{pct(values, 0.5) * 1000:.0f} / {pct(values, 0.99) * 1000:.0f} ms"


async def _measure(
    store: Store, files: FileStore, port: int, smtp: SmtpServer
) -> dict[str, list[float]]:
    observer = bus_credentials(files.root).observer  # what `relais bus` generated
    address = MqttAddress("127.0.0.1", port, "observer", observer)
    committed: dict[int, float] = {}
    heard: dict[int, float] = {}
    ready = asyncio.Event()

    async def subscribed() -> None:
        ready.set()

    async def listen() -> None:
        async for event in subscribe(
            address, ["relais/+/message/deposited"], on_subscribed=subscribed
        ):
            if isinstance(event, MessageDeposited):
                heard[event.message_id] = time.monotonic()

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 10)
    by_index: dict[int, int] = {}
    start = time.monotonic()
    for i in range(DEPOSITS):
        await asyncio.sleep(max(0.0, start + i / RATE - time.monotonic()))
        d = await asyncio.to_thread(
            deposit, store, files, NUMBER, caller_number=None, caller_name=f"Bench {i}"
        )
        committed[i] = time.monotonic()
        by_index[i] = d.message_id
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (len(heard) < DEPOSITS or len(smtp.received) < DEPOSITS):
        await asyncio.sleep(0.05)
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    mailed: dict[int, float] = {}
    for r in smtp.received:
        m = re.search(r"Bench (\d+)", str(r.message["Subject"]))
        if m:
            mailed[int(m.group(1))] = r.at
    if len(mailed) < DEPOSITS or len(heard) < DEPOSITS:
        raise RuntimeError(f"only {len(mailed)} mails and {len(heard)} events of {DEPOSITS}")

    # References, same broker and server.
    rtt: list[float] = []
    async with aiomqtt.Client("127.0.0.1", port) as sub, aiomqtt.Client("127.0.0.1", port) as pub:
        await sub.subscribe("bench/rtt", qos=1)
        messages = sub.messages
        for i in range(DEPOSITS):
            t0 = time.monotonic()
            await pub.publish("bench/rtt", str(i).encode(), qos=1)
            await anext(messages)
            rtt.append(time.monotonic() - t0)
    raw_smtp: list[float] = []
    mail = smtp.received[0].message
    for _ in range(DEPOSITS):
        t0 = time.monotonic()
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=smtp.port)
        raw_smtp.append(time.monotonic() - t0)
    return {
        "event": [heard[by_index[i]] - committed[i] for i in range(DEPOSITS)],
        "mail": [mailed[i] - committed[i] for i in range(DEPOSITS)],
        "rtt": rtt,
        "smtp": raw_smtp,
    }


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="relais-bench-notify-") as tmp:
        root = Path(tmp) / "var"
        store = Store(f"sqlite:///{root / 'relais.db'}")
        upgrade(store.engine)
        files = FileStore(root)
        make_subscriber(store)
        set_notifications(store, email_enabled=True)
        add_email_target(store, "bench@example.com", ["all_voice"])
        port = free_port()
        smtp = SmtpServer().start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
        env.update(
            RELAIS_STORAGE_ROOT=str(root),
            RELAIS_MQTT_EMBEDDED_PORT=str(port),
            RELAIS_SMTP_URL=smtp.url,
            RELAIS_LOG_LEVEL="WARNING",
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "relais.cli", name], env=env, stdout=subprocess.DEVNULL
            )
            for name in ("bus", "notifier")
        ]
        try:
            wait_port(port)
            figures = asyncio.run(_measure(store, files, port, smtp))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(20)
            smtp.stop()
            store.dispose()
    return [
        Row(
            "notify",
            f"hang-up -> MQTT event p50/p99 ({DEPOSITS}, amqtt)",
            ms(figures["event"]),
            f"raw QoS 1 publish->receive {ms(figures['rtt'])}",
            "p99 < 1 s",
        ),
        Row(
            "notify",
            f"hang-up -> e-mail accepted p50/p99 ({DEPOSITS})",
            ms(figures["mail"]),
            f"raw aiosmtplib send {ms(figures['smtp'])}",
            "p99 < 1 s",
        ),
    ]


if __name__ == "__main__":
    from tests.bench.table import render

    print(render(run()))
