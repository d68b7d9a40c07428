"""Free space under the storage root, watched by switch worker 0: an installation-wide
`storage.space` event when it crosses `mailbox.min_free_mb` (SPEC S12, issue "safe by
default"). No pjsua2 here; the worker's status thread calls `check` every CHECK_SECONDS with
the free space its voicemail service measures (`Voicemail.free_bytes`)."""

from __future__ import annotations

import logging

from events.events import StorageSpace
from events.outbox import enqueue
from store.session import Store

logger = logging.getLogger(__name__)

CHECK_SECONDS = 10.0
"""Seconds between two looks at the free space."""


class SpaceWatch:
    """Remembers on which side of the threshold the free space was; reports each crossing."""

    def __init__(self, store: Store, threshold_mb: int, host: str) -> None:
        self.store = store
        self.threshold_mb = threshold_mb
        self.host = host
        self.state: str | None = None
        """low | ok; None before the first look."""

    def check(self, free_bytes: int) -> StorageSpace | None:
        """The event sent when the state changed (at the first look: only when low), else
        None. Best effort: a store that cannot take the event now (it may be on the full disk)
        gets it at the next look."""
        free_mb = free_bytes // 1_000_000
        state = "low" if free_mb < self.threshold_mb else "ok"
        if state == self.state or (self.state is None and state == "ok"):
            self.state = state
            return None
        event = StorageSpace(
            line="", state=state, free_mb=free_mb, threshold_mb=self.threshold_mb, host=self.host
        )
        try:
            with self.store.transaction() as s:
                enqueue(s, event)
        except Exception as exc:  # the store may be on the full disk too: try again later
            logger.error("storage %s (%s MB free) not reported yet: %s", state, free_mb, exc)
            return None
        log = logger.warning if state == "low" else logger.info
        log("storage %s: %s MB free (threshold %s MB)", state, free_mb, self.threshold_mb)
        self.state = state
        return event
