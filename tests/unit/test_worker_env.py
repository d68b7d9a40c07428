"""switch.supervisor: each worker process starts with four glibc malloc arenas (its hundred
threads otherwise get up to 8 arenas per core, each keeping freed memory of its own), unless
the operator set MALLOC_ARENA_MAX."""

from __future__ import annotations

import pytest

from config.settings import Settings
from switch.supervisor import worker_children


def test_workers_start_with_four_malloc_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    children = worker_children(Settings(), workers=2, no_edge=False)
    assert [c.env for c in children] == [{"MALLOC_ARENA_MAX": "4"}] * 2


def test_an_operators_malloc_arena_max_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    [child] = worker_children(Settings(), workers=1, no_edge=True)
    assert child.env == {}  # the supervisor passes its own environment on: 8
