"""switch.space: an installation-wide storage.space event each time the free space under the
storage root crosses mailbox.min_free_mb (low: callers cannot leave messages; ok: again)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from events.events import StorageSpace, parse_event
from store.models import OutboxEvent
from store.session import Store
from switch.space import SpaceWatch

MB = 1_000_000


def sent(store: Store) -> list[tuple[str, int]]:
    with store.read() as s:
        rows = s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
    events = [parse_event(r.payload) for r in rows]
    return [(e.state, e.free_mb) for e in events if isinstance(e, StorageSpace)]


def test_each_crossing_is_reported_once(store: Store, tmp_path: Path) -> None:
    watch = SpaceWatch(store, threshold_mb=500, host="10.0.0.7")
    assert watch.check(900 * MB) is None  # fine at start: nothing to say
    assert watch.check(800 * MB) is None
    low = watch.check(499 * MB)
    assert low is not None and (low.state, low.free_mb, low.threshold_mb) == ("low", 499, 500)
    assert (low.topic, low.host, low.line) == ("relais/site/storage/space", "10.0.0.7", "")
    assert watch.check(10 * MB) is None  # still low: said once
    assert watch.check(500 * MB) is not None  # back at the threshold: ok again
    assert sent(store) == [("low", 499), ("ok", 500)]


def test_a_worker_starting_on_a_full_disk_says_so_and_no_threshold_never_does(
    store: Store,
) -> None:
    assert SpaceWatch(store, 500, "h").check(0) is not None
    assert SpaceWatch(store, 0, "h").check(0) is None  # mailbox.min_free_mb 0: check off
    assert sent(store) == [("low", 0)]


def test_a_store_that_cannot_take_the_event_gets_it_at_the_next_look(
    store: Store, tmp_path: Path
) -> None:
    watch = SpaceWatch(store, 500, "h")
    broken = Store(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")  # cannot be opened
    watch.store = broken
    assert watch.check(1 * MB) is None and watch.state is None
    watch.store = store
    assert watch.check(1 * MB) is not None
    assert sent(store) == [("low", 1)]
