"""Portal benchmark (SPEC S13): the Messages page and the API list of mailboxes holding 10,
1,000 and 10,000 messages, p50/p95 over real HTTP (uvicorn on loopback, SQLite store,
bearer/cookie sessions). Both are paged, so their cost should not grow with the mailbox.

References measured in the same run: the 10-message mailbox (how the cost grows with the
mailbox) and GET /api/v1/lines (the cost of a signed-in request that does nothing else).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter

import httpx
from sqlalchemy import insert

from portal.app import create_app
from store import repository
from store.files import FileStore
from store.migrate import upgrade
from store.models import Contact, Message
from store.session import Store
from tests.bench.table import Row
from tests.support.portal import make_settings, serve

AREA = "portal"
OWNER = "6135550100"
SIZES = {10: "6135550101", 1000: "6135550102", 10_000: "6135550103"}
PASSWORD = "motdepasse-bench1"
ROUNDS = 60
TARGET = "p95 < 50 ms; 10 -> 10,000 under 2x"


def _seed(store: Store) -> None:
    with store.transaction() as s:
        account = repository.create_account(
            s, number=OWNER, name="Bench", password=PASSWORD, pin="4826"
        )
        for number in SIZES.values():
            repository.add_line(s, account_number=OWNER, number=number)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        for count, line in SIZES.items():
            rows = [
                {
                    "line_number": line,
                    "kind": "fax" if i % 20 == 0 else "voice",
                    "heard": i % 3 == 0,
                    "urgent": i % 7 == 0,
                    "caller_number": f"613555{i % 10000:04d}" if i % 11 else None,
                    "received_at": t0 + timedelta(minutes=i),
                    "duration_seconds": 12.0,
                    "file_path": f"messages/{line}/{i}.wav",
                }
                for i in range(count)
            ]
            s.execute(insert(Message), rows)
        s.execute(
            insert(Contact),
            [
                {
                    "account_id": account.id,
                    "first_name": f"Prénom{i}",
                    "last_name": f"Nom{i}",
                    "mobile_phone": f"613555{i:04d}",
                }
                for i in range(200)
            ],
        )


def _times(call: Callable[[], httpx.Response]) -> tuple[float, float]:
    for _ in range(5):
        call().raise_for_status()
    samples = []
    for _ in range(ROUNDS):
        start = perf_counter()
        call().raise_for_status()
        samples.append((perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = Store(f"sqlite:///{root / 'relais.db'}")
        upgrade(store.engine)
        _seed(store)
        settings = make_settings(root, store.url)
        app = create_app(settings, store=store, files=FileStore(root))
        with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            r = client.post("/api/v1/session", json={"number": OWNER, "password": PASSWORD})
            r.raise_for_status()
            api = {"Authorization": f"Bearer {r.json()['token']}"}

            def page(line: str) -> Callable[[], httpx.Response]:
                client.cookies.set("relais_line", line)
                return lambda: client.get("/messages")

            def listing(line: str) -> Callable[[], httpx.Response]:
                return lambda: client.get(f"/api/v1/lines/{line}/messages", headers=api)

            pages = {n: _times(page(line)) for n, line in SIZES.items()}
            lists = {n: _times(listing(line)) for n, line in SIZES.items()}
            bare = _times(lambda: client.get("/api/v1/lines", headers=api))
        store.dispose()

    def ms(pair: tuple[float, float]) -> str:
        return f"p50 {pair[0]:.1f} ms, p95 {pair[1]:.1f} ms"

    rows = []
    for what, figures, extra in (
        ("Messages page", pages, ""),
        ("GET .../messages", lists, f"; GET /lines p50 {bare[0]:.1f} ms"),
    ):
        small = figures[10]
        for n in (1000, 10_000):
            rows.append(
                Row(
                    AREA,
                    f"{what}, {n:,} messages",
                    ms(figures[n]),
                    f"10 messages: {ms(small)} (p95 {figures[n][1] / small[1]:.1f}x){extra}",
                    TARGET,
                )
            )
    return rows


if __name__ == "__main__":
    from tests.bench.table import render

    print(render(run()))
