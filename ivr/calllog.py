"""One call-log entry per call to a line, with its call.received / call.missed event (S2, S7).

`log_call` runs inside the caller's transaction (never commits), on a database thread.
`CallLogWriter` owns its transactions: a row the store cannot take now (a full disk, a lock
held too long) is kept and written with the next one, for every call of the worker.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Final, cast

from sqlalchemy import Table, insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from events.events import CallMissed, CallReceived
from events.outbox import enqueue
from store.models import CallLogEntry
from store.session import Store, core

logger = logging.getLogger(__name__)

MAX_PENDING: Final = 1000
"""Call-log rows kept while the store cannot take them (the newest)."""

DISPOSITIONS = ("answered", "voicemail", "abandoned", "rejected", "forwarded")


@dataclass(frozen=True)
class CallRecord:
    line: str
    direction: str
    """received | missed"""
    disposition: str
    caller_number: str | None
    caller_name: str | None
    started_at: datetime
    duration_seconds: float
    call_id: str | None
    not_accepted: tuple[str, ...] = ()
    """Ring-table numbers that answered without pressing 1 (answer confirmation), in order."""


_CALL_LOG: Final = cast(Table, CallLogEntry.__table__)
_INSERT: Final = insert(_CALL_LOG).returning(_CALL_LOG.c.id)


def log_call(session: Session, record: CallRecord) -> int:
    """Write the entry and its event; the entry's id. A Core insert (the hot path of every
    call)."""
    if record.direction not in ("received", "missed"):
        raise ValueError(f"unknown call direction {record.direction!r}")
    if record.disposition not in DISPOSITIONS:
        raise ValueError(f"unknown call disposition {record.disposition!r}")
    duration = round(max(0.0, record.duration_seconds), 3)
    row: dict[str, object] = {
        "line_number": record.line,
        "direction": record.direction,
        "caller_number": record.caller_number,
        "caller_name": (record.caller_name or None) and record.caller_name[:120],
        "started_at": record.started_at,
        "duration_seconds": duration,
        "disposition": record.disposition,
        "call_id": (record.call_id or None) and record.call_id[:255],
    }
    if record.not_accepted:  # absent, not JSON null, when every answerer accepted
        row["not_accepted"] = list(record.not_accepted)
    entry_id: int = core(session).execute(_INSERT, row).scalar_one()
    started = record.started_at.isoformat()
    if record.direction == "received":
        enqueue(
            session,
            CallReceived(
                line=record.line,
                caller_number=record.caller_number,
                caller_name=record.caller_name,
                started_at=started,
                duration_seconds=duration,
                call_log_id=entry_id,
                not_accepted=list(record.not_accepted),
            ),
        )
    else:
        enqueue(
            session,
            CallMissed(
                line=record.line,
                caller_number=record.caller_number,
                caller_name=record.caller_name,
                started_at=started,
                disposition=record.disposition,
                call_log_id=entry_id,
                not_accepted=list(record.not_accepted),
            ),
        )
    return entry_id


class CallLogWriter:
    """Writes call-log rows in transactions of its own (any thread); rows the store cannot
    take now are kept, MAX_PENDING at most, and written with the next row."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[CallRecord] = []
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def write(self, record: CallRecord) -> bool:
        """Write `record` (and the rows kept before it); False when they are kept for later."""
        with self._lock:
            rows, self._pending = [*self._pending, record], []
        try:
            with self.store.transaction() as s:
                for r in rows:
                    log_call(s, r)
        except OperationalError as exc:
            with self._lock:
                self._pending[:0] = rows[-MAX_PENDING:]
            logger.error(
                "%s: call log not written yet (%s); %s row(s) kept for the next write",
                record.call_id,
                exc.orig,
                len(rows),
            )
            return False
        return True
