"""Helpers for the portal's tests: an app on a real store, accounts, sign-in, a settable clock."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from config.settings import Settings, load_settings
from portal.app import create_app
from store import repository
from store.files import FileStore
from store.migrate import upgrade
from store.session import Store
from tests.support.ports import free_port

A_NUMBER = "6135550100"
A_SECOND = "6135550101"
A_PASSWORD = "motdepasse-A1"
A_PIN = "4826"
B_NUMBER = "8195550100"
B_PASSWORD = "motdepasse-B1"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class PortalEnv:
    settings: Settings
    store: Store
    files: FileStore
    clock: Clock
    app: Any
    root: Path

    def client(self, **kwargs: Any) -> TestClient:
        return TestClient(self.app, **kwargs)


def make_settings(root: Path, url: str, **overrides: Any) -> Settings:
    return load_settings(storage_root=str(root), database_url=url, **overrides)


def add_accounts(store: Store) -> None:
    """Account A (primary 6135550100 + secondary 6135550101) and account B (8195550100)."""
    with store.transaction() as s:
        repository.create_account(
            s, number=A_NUMBER, name="Jeanne Tremblay", password=A_PASSWORD, pin=A_PIN
        )
        repository.add_line(s, account_number=A_NUMBER, number=A_SECOND)
        repository.create_account(
            s, number=B_NUMBER, name="Marc Gagnon", password=B_PASSWORD, pin="7319", language="en"
        )


def build(tmp_path: Path, store: Store, **overrides: Any) -> PortalEnv:
    root = tmp_path / "var"
    root.mkdir(exist_ok=True)
    settings = make_settings(root, store.url, **overrides)
    files = FileStore(root)
    clock = Clock()
    app = create_app(settings, store=store, files=files, clock=clock)
    return PortalEnv(settings, store, files, clock, app, root)


@pytest.fixture(scope="session")
def accounts_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with accounts A and B, made once (argon2 hashing is slow)."""
    path = tmp_path_factory.mktemp("portal-template") / "relais.db"
    store = Store(f"sqlite:///{path}")
    upgrade(store.engine)
    add_accounts(store)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.dispose()
    return path


@pytest.fixture
def env(tmp_path: Path, accounts_db: Path) -> Iterator[PortalEnv]:
    """The portal on its own copy of a SQLite store with accounts A and B."""
    db = tmp_path / "relais.db"
    shutil.copyfile(accounts_db, db)
    store = Store(f"sqlite:///{db}")
    yield build(tmp_path, store)
    store.dispose()


@pytest.fixture
def client(env: PortalEnv) -> Iterator[TestClient]:
    with env.client() as c:
        yield c


def sign_in(client: TestClient, number: str = A_NUMBER, password: str = A_PASSWORD) -> str:
    r = client.post("/api/v1/session", json={"number": number, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def page_csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def sign_in_page(client: TestClient, number: str = A_NUMBER, password: str = A_PASSWORD) -> str:
    """Sign in through the HTML form; returns the CSRF token of the session's pages."""
    token = page_csrf(client.get("/login").text)
    r = client.post(
        "/login",
        data={"number": number, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return page_csrf(client.get("/home").text)


def make_audio(path: Path, fmt: str, seconds: float = 2.0) -> bytes:
    """A short tone in `fmt` (mp3, ogg, wav, m4a, flac...) made with ffmpeg."""
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}:sample_rate=44100",
            "-ac",
            "2",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port in a thread (streaming responses such
    as server-sent events need a real server); yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
