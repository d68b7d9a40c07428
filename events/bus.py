"""The bus process (`relais bus`): the embedded broker when no broker is configured, and the
outbox relay. `relais run` starts it before every other component."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta

from config.settings import Settings
from events.access import bus_credentials
from events.broker import EmbeddedBroker
from events.mqtt import Relay, bus_address, heartbeat_path
from store.session import Store

logger = logging.getLogger(__name__)


async def serve_bus(cfg: Settings, store: Store, stop: asyncio.Event) -> None:
    """Run the broker (if embedded) and the relay until `stop` is set."""
    address = bus_address(cfg)
    relay = Relay(
        store,
        address,
        poll_seconds=cfg.bus.relay_poll_seconds,
        batch=cfg.bus.relay_batch,
        retention=timedelta(hours=cfg.bus.outbox_retention_hours),
        heartbeat=heartbeat_path(cfg),
    )
    async with contextlib.AsyncExitStack() as stack:
        if not cfg.mqtt_url:
            creds = bus_credentials(cfg.storage_root)
            await stack.enter_async_context(EmbeddedBroker(cfg.mqtt_embedded_port, creds))
        print(f"bus ready: {address} (relay publishing the outbox)", flush=True)
        await relay.run(stop)


def main(cfg: Settings, store: Store) -> int:
    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_bus(cfg, store, stop)

    asyncio.run(_main())
    logger.info("bus stopped")
    return 0
