"""The switch's side of the event bus (SPEC S6, S7): one worker (index 0) consumes
`mailbox.counts` (MWI lamps) and `outdial.request` (outdial and page calls).

Rules of this file:
- A DurableConsumer named "switch" runs on its own thread with its own asyncio loop, on the
  configured broker (`mqtt_url`, else the embedded broker of `relais bus`). It also sweeps the
  outbox every `notify.sweep_seconds`, so it works, later, without any broker (a standalone
  `relais switch`).
- It never blocks the pump thread: its store work (handlers, sweeps) runs on the worker's
  database threads, and SIP work (NOTIFYs, calls) is posted to the pump.
- mailbox.counts: a change a switch worker made (`origin` "switch") is ignored, since that worker
  sent the NOTIFYs right after its commit (the transaction that made it recorded it as consumed
  here, so neither the bus's copy nor a sweep costs a transaction); any other change (portal,
  notifier; older payloads without `origin`) sends the mailbox's current counts to its MWI
  targets. Events older than
  MWI_MAX_AGE are ignored (a phone's lamp is re-asserted when it registers).
- outdial.request: recorded as handled in the consumer's ledger, then, after the commit,
  handed to switch.outdial (which drops expired and repeated requests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from events.consumer import DurableConsumer
from events.events import SWITCH_CONSUMER, Event, MailboxCounts, OutdialRequest
from events.mqtt import MqttAddress
from store import repository
from switch.mwi import Notify

if TYPE_CHECKING:
    from switch.ports import BusHost

logger = logging.getLogger(__name__)

CONSUMER = SWITCH_CONSUMER
MWI_MAX_AGE = timedelta(minutes=10)
STOP_SECONDS = 10.0


class _Borrowed(ThreadPoolExecutor):
    """The worker's database pool as an event loop's default executor; the loop never shuts it
    down (the worker does, after the bus thread ended)."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        super().__init__(max_workers=1)
        self.pool = pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return


def _switch_made(event: Event) -> bool:
    """A change of counts a switch worker made: recorded as consumed where it was written."""
    return isinstance(event, MailboxCounts) and event.origin == "switch"


class SwitchBus:
    def __init__(self, worker: BusHost, address: MqttAddress | None, sweep_seconds: float) -> None:
        self.w = worker
        self.address = address
        self.sweep_seconds = sweep_seconds
        self.consumer = DurableConsumer(
            worker.store,
            CONSUMER,
            {
                MailboxCounts.type: self._on_counts,  # type: ignore[dict-item]
                OutdialRequest.type: self._on_request,  # type: ignore[dict-item]
            },
            after_commit=self._after_commit,
            made_consumed=_switch_made,
        )
        self._notifies: dict[str, list[Notify]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # -- handlers (database threads, in the consumer's transaction) ------------------------------

    def _on_counts(self, session: Session, event: MailboxCounts) -> None:
        if _switch_made(event):  # older rows, written before they were recorded as consumed
            return
        if datetime.now(UTC) - event.at > MWI_MAX_AGE:
            return
        try:
            counts = repository.mailbox_counts(session, event.line)
        except repository.NotFound:
            return
        notifies = self.w.mwi.notifies(session, event.line, counts)
        if notifies:
            with self._lock:
                self._notifies[event.event_id] = notifies

    def _on_request(self, session: Session, event: OutdialRequest) -> None:
        return  # the ledger row is what matters; the call starts after the commit

    def _after_commit(self, event: Event) -> None:
        if isinstance(event, MailboxCounts):
            with self._lock:
                notifies = self._notifies.pop(event.event_id, [])
            for n in notifies:
                self.w.send_notify(n)
            if notifies:
                logger.info(
                    "MWI of %s (%s new, %s old; changed by %s) to %s",
                    event.line,
                    event.voice_new,
                    event.voice_old,
                    event.origin or "the portal or the notifier",
                    ", ".join(n.uri for n in notifies),
                )
        elif isinstance(event, OutdialRequest):
            outdial = self.w.outdial
            if outdial.accept(event):
                self.w.pump.post(lambda: outdial.start(event))

    # -- thread ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="bus", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_default_executor(_Borrowed(self.w.db))
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        except Exception:
            logger.exception("switch bus consumer stopped")
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self._ready.set()
        logger.info(
            "switch bus consumer on %s (outbox sweep every %s s)",
            self.address or "no broker",
            self.sweep_seconds,
        )
        announce = asyncio.create_task(self._announce())
        try:
            await self.consumer.run(self.address, self._stop, sweep_seconds=self.sweep_seconds)
        finally:
            announce.cancel()

    async def _announce(self) -> None:
        await self.consumer.subscribed.wait()
        logger.info("switch bus consumer subscribed on %s", self.address)

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)
