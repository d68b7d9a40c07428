"""Portal benchmark (SPEC S13): the Messages page and the API list of a mailbox holding 1,000
messages, p50/p95 over real HTTP (uvicorn on loopback, SQLite store, bearer/cookie sessions).

References measured in the same run: the same two requests for a mailbox of 10 messages (how
the cost grows with the mailbox) and GET /api/v1/lines (the cost of a signed-in request that
does nothing else).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter

import httpx

from portal.app import create_app
from store import repository
from store.files import FileStore
from store.migrate import upgrade
from store.models import Contact, Message
from store.session import Store
from tests.bench.table import Row
from tests.support.portal import make_settings, serve

AREA = "portal"
BIG, SMALL = "6135550100", "6135550101"
PASSWORD = "motdepasse-bench1"
ROUNDS = 60


def _seed(store: Store) -> None:
    with store.transaction() as s:
        account = repository.create_account(
            s, number=BIG, name="Bench", password=PASSWORD, pin="4826"
        )
        repository.add_line(s, account_number=BIG, number=SMALL)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        for line, count in ((BIG, 1000), (SMALL, 10)):
            for i in range(count):
                s.add(
                    Message(
                        line_number=line,
                        kind="fax" if i % 20 == 0 else "voice",
                        heard=i % 3 == 0,
                        urgent=i % 7 == 0,
                        caller_number=f"613555{i % 10000:04d}" if i % 11 else None,
                        received_at=t0 + timedelta(minutes=i),
                        duration_seconds=12.0,
                        file_path=f"messages/{line}/{i}.wav",
                    )
                )
        for i in range(200):
            s.add(
                Contact(
                    account_id=account.id,
                    first_name=f"Prénom{i}",
                    last_name=f"Nom{i}",
                    mobile_phone=f"613555{i:04d}",
                )
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
            r = client.post("/api/v1/session", json={"number": BIG, "password": PASSWORD})
            r.raise_for_status()
            token = r.json()["token"]
            api = {"Authorization": f"Bearer {token}"}

            def page(line: str) -> Callable[[], httpx.Response]:
                client.cookies.set("relais_line", line)
                return lambda: client.get("/messages")

            big_page = _times(page(BIG))
            small_page = _times(page(SMALL))
            big_api = _times(lambda: client.get(f"/api/v1/lines/{BIG}/messages", headers=api))
            small_api = _times(lambda: client.get(f"/api/v1/lines/{SMALL}/messages", headers=api))
            bare = _times(lambda: client.get("/api/v1/lines", headers=api))
        store.dispose()

    def ms(pair: tuple[float, float]) -> str:
        return f"p50 {pair[0]:.1f} ms, p95 {pair[1]:.1f} ms"

    return [
        Row(
            AREA,
            "Messages page, 1,000 messages",
            ms(big_page),
            f"10 messages: {ms(small_page)} ({big_page[0] / small_page[0]:.1f}x)",
            "grows with the list only",
        ),
        Row(
            AREA,
            "GET .../messages, 1,000 messages",
            ms(big_api),
            f"10 messages: {ms(small_api)}; GET /lines p50 {bare[0]:.1f} ms",
            "grows with the list only",
        ),
    ]


if __name__ == "__main__":
    from tests.bench.table import render

    print(render(run()))
