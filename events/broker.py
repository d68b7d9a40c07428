"""The embedded MQTT broker (amqtt), used when no `mqtt_url` is configured.

It listens on 127.0.0.1 only (`mqtt_embedded_port`), admits only the users of
events/access.py with their generated passwords, applies their topic ACLs, and keeps nothing
on disk: durability comes from the store's outbox, not from the broker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from amqtt.broker import Broker
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from events.access import PUBLISH_ACL, SUBSCRIBE_ACL, BusCredentials

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class _ProbeFilter(logging.Filter):
    """Drop amqtt's error lines for connections closed before sending anything: that is what
    readiness probes (`relais run`, load balancers) do, not a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return "No data to decode MQTT packet fixed header" not in text


class EmbeddedBroker:
    """An in-process amqtt broker on the loopback interface; use with `async with`."""

    def __init__(self, port: int, credentials: BusCredentials, host: str = LOOPBACK) -> None:
        if host not in (LOOPBACK, "::1", "localhost"):
            raise ValueError("the embedded broker listens on the loopback interface only")
        self.host = host
        self.port = port
        self.credentials = credentials
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self, password_file: Path) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.FileAuthPlugin": {
                    "password_file": str(password_file)
                },
                "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {
                    "publish_acl": PUBLISH_ACL,
                    "acl": SUBSCRIBE_ACL,  # what each user may subscribe to
                },
            },
        }

    def _password_file(self) -> Path:
        """argon2 hashes of the users' passwords, in a private temporary file."""
        hasher = PasswordHash((Argon2Hasher(),))
        fd, name = tempfile.mkstemp(prefix="relais-mqtt-", suffix=".passwd")  # mode 0600
        with os.fdopen(fd, "w") as fh:
            for user, password in self.credentials.users().items():
                fh.write(f"{user}:{hasher.hash(password)}\n")
        return Path(name)

    async def start(self) -> None:
        # amqtt reports every connection at INFO; keep the service's log readable.
        # Its session state machine (the `transitions` library) logs every state change.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(max(logging.WARNING, logger.getEffectiveLevel()))
        broker_log = logging.getLogger("amqtt.broker")
        if not any(isinstance(f, _ProbeFilter) for f in broker_log.filters):
            broker_log.addFilter(_ProbeFilter())
        password_file = self._password_file()
        try:
            with warnings.catch_warnings():
                # amqtt 0.12 reads subscription ACLs from "acl" only, and warns that it is old.
                warnings.filterwarnings("ignore", "The 'acl' option is deprecated")
                self._broker = Broker(self._config(password_file))  # reads the file here
                await self._broker.start()
        finally:
            with contextlib.suppress(FileNotFoundError):
                password_file.unlink()
        logger.info("embedded MQTT broker listening on %s", self.url)

    async def stop(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.shutdown()

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
