"""Fixtures shared by every test tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store.migrate import upgrade
from store.session import Store
from tests.support.postgres import fresh_database, postgres_server


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend: SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'relais.db'}"
    else:
        admin = request.getfixturevalue("postgres_admin_url")
        with fresh_database(admin) as url:
            yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    s = Store(database_url)
    upgrade(s.engine)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'relais.db'}")
    upgrade(s.engine)
    yield s
    s.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier (the folder it lives in)."""
    for item in items:
        parts = Path(str(item.path)).parts
        for tier in ("unit", "integration", "peer", "browser"):
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
                break
