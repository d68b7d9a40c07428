"""Fixtures shared by every test tier."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from store.migrate import upgrade
from store.session import Store
from tests.support import logs
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


_LOG_MARKS = pytest.StashKey[dict[Path, int]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Where the logs of the running workers end as the test body starts."""
    item.stash[_LOG_MARKS] = logs.sizes()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report shows what the running workers logged during it (tests.support.logs)."""
    report = yield
    if report.when == "call" and report.failed:
        for name, text in logs.written_since(item.stash.get(_LOG_MARKS, {})):
            report.sections.append((f"log of {name} during the test", text))
    return report
