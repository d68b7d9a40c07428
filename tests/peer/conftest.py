"""Fixtures of the peer tier: the Kamailio edge on free loopback ports with a temporary store.

Addresses on the loopback network play the roles: 127.0.0.1 the edge and its workers,
127.0.0.2 the trunk (the only trusted address), 127.0.0.3 and up phones and other peers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store.session import Store
from tests.support.edge import Edge, edge_settings, provision, running_edge
from tests.support.sip import Responder


@pytest.fixture
def worker(request: pytest.FixtureRequest) -> Iterator[Responder]:
    """A stand-in switch worker on the first worker address of `edge` (answers 200)."""
    cfg = request.getfixturevalue("edge_config")
    with Responder(cfg.switch_host, cfg.switch_base_port) as w:
        yield w


@pytest.fixture
def edge_config(tmp_path: Path, store: Store):  # type: ignore[no-untyped-def]
    """Settings of an edge on the store fixture (SQLite, then PostgreSQL), provisioned."""
    cfg = edge_settings(tmp_path, store.url)
    provision(store, cfg)
    return cfg


@pytest.fixture
def edge(edge_config, worker: Responder) -> Iterator[Edge]:  # type: ignore[no-untyped-def]
    """Kamailio in front of one stand-in worker."""
    with running_edge(edge_config, workers=1) as e:
        yield e
    assert "CRITICAL" not in e.log_text()
