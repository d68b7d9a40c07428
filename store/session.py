"""Engines and sessions: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from store.fast import Core

_IMMEDIATE = "relais_sqlite_immediate"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`. SQLite gets WAL, foreign keys, a busy timeout and NORMAL sync."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy drive transactions; pysqlite's implicit BEGIN is disabled so that
            # "BEGIN IMMEDIATE" below takes the write lock at the start of every transaction.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A deferred transaction that reads and then writes fails at once with "database is
            # locked" when another writer got in between; write transactions therefore take
            # the lock up front (IMMEDIATE) and queue on busy_timeout. Reads stay deferred.
            # Sent on the driver's connection: a statement through SQLAlchemy costs a hundred
            # microseconds of its own, and every transaction of a call begins here.
            begin = "BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN"
            conn.connection.driver_connection.execute(begin)

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def core(session: Session) -> Core:
    """The connection of `session`'s transaction, for the Core statements a call runs (its
    routing reads, the deposit's rows and events, the MWI lookup), which store.fast runs on the
    driver's cursor. Pending ORM changes are flushed first, as Session.execute's autoflush
    would."""
    session.flush()
    return Core(session.connection())


class Store:
    """The database of one process: an engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        with self.sessions() as session, session.begin():
            if self.engine.dialect.name == "sqlite":
                session.connection(execution_options={_IMMEDIATE: True})
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
