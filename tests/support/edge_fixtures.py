"""pytest plugin of the edge tests (`pytest_plugins = ["tests.support.edge_fixtures"]`):
`edge_config` (settings on the `store` fixture, SQLite then PostgreSQL, provisioned),
`worker` (a stand-in switch worker on the first worker address) and `edge` (Kamailio)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from store.session import Store
from tests.support.edge import Edge, edge_settings, provision, running_edge
from tests.support.sipclient import Responder


@pytest.fixture
def edge_config(tmp_path: Path, store: Store) -> Settings:
    """Settings of an edge on the `store` fixture (SQLite, then PostgreSQL), provisioned."""
    cfg = edge_settings(tmp_path, store.url)
    provision(store, cfg)
    return cfg


@pytest.fixture
def worker(edge_config: Settings) -> Iterator[Responder]:
    """A stand-in switch worker on the edge's first worker address (answers 200)."""
    with Responder(edge_config.switch_host, edge_config.switch_base_port) as w:
        yield w


@pytest.fixture
def edge(edge_config: Settings, worker: Responder) -> Iterator[Edge]:
    """Kamailio in front of one (stand-in) worker."""
    with running_edge(edge_config, workers=1) as e:
        yield e
    assert "CRITICAL" not in e.log_text()
