"""A test double that answers outdial requests the way a switch worker will.

It follows the contract of docs/architecture.md ("Outdial contract"): it subscribes to
relais/+/outdial/request over a real MQTT broker, ignores expired and repeated requests (by
job id and attempt), records each request it "calls", and answers with the next scripted
result in an OutdialResult event with the same job id and attempt, written to the outbox in
one transaction (what the switch does), or published straight to the broker (`direct`).
A scripted None stands for a switch that never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from events.events import OutdialRequest, OutdialResult
from events.mqtt import MqttAddress, make_client, publish_event, subscribe
from events.outbox import enqueue
from store.session import Store


class SwitchDouble:
    def __init__(
        self,
        store: Store,
        address: MqttAddress,
        results: list[str | None],
        *,
        direct: bool = False,
        logged_in: bool = False,
    ) -> None:
        self.store = store
        self.address = address
        self.results = list(results)
        self.direct = direct
        self.logged_in = logged_in
        self.requests: list[OutdialRequest] = []
        self.answered: list[OutdialResult] = []
        self.ready = asyncio.Event()
        self._done: set[tuple[int, int]] = set()

    async def _answer(self, result: OutdialResult) -> None:
        if self.direct:
            async with make_client(self.address) as client:
                await publish_event(client, result)
        else:
            with self.store.transaction() as s:
                enqueue(s, result)
        self.answered.append(result)

    async def _serve(self) -> None:
        async def subscribed() -> None:
            self.ready.set()

        async for event in subscribe(
            self.address, ["relais/+/outdial/request"], on_subscribed=subscribed
        ):
            if not isinstance(event, OutdialRequest):
                continue
            key = (event.job_id, event.attempt)
            if key in self._done or datetime.fromisoformat(event.expires_at) < datetime.now(UTC):
                continue
            self._done.add(key)
            self.requests.append(event)
            result = self.results.pop(0) if self.results else "no-answer"
            if result is None:
                continue  # the switch went away without answering
            await self._answer(
                OutdialResult(
                    line=event.line,
                    job_id=event.job_id,
                    attempt=event.attempt,
                    result=result,
                    logged_in=self.logged_in and result == "answered",
                )
            )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[SwitchDouble]:
        task = asyncio.create_task(self._serve())
        try:
            await asyncio.wait_for(self.ready.wait(), 10)
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
