"""One check for a transition of an IVR state machine (ivr.machine tables), shared by the
deposit, retrieval and outdial unit tests."""

from __future__ import annotations

from typing import Any

from ivr.dialog import Play
from media import catalog


def check_step(
    machine: Any, state: Any, event: Any, phase: str, actions: list[Any], changes: dict[str, Any]
) -> None:
    """`machine.step(state, event)` gives exactly `actions`, lands in `phase` with `changes`,
    and every prompt it plays is a recorded file or in the prompt catalogue."""
    new, got = machine.step(state, event)
    assert got == actions
    assert new.phase == phase
    for action in got:
        if isinstance(action, Play):
            for item in action.files:
                assert item.startswith("/") or catalog.get(item.split("/", 1)[1])
    for name, value in changes.items():
        assert getattr(new, name) == value
