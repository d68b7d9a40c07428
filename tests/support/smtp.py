"""A real SMTP server for the tests: aiosmtpd on a free loopback port, in a thread.

It records every mail it accepts (a mail counts once the server answered 250 to its DATA),
can be stopped and started again on the same port, can hold DATA (`hold`) so a test can act
while a mail is on the wire, refuse recipients with a given code, and offer STARTTLS + AUTH
with a throwaway self-signed certificate.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.ports import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    at: float = field(default_factory=time.monotonic)
    """When the server accepted it (time.monotonic)."""


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        code = self.server.refuse.get(address)
        if code is not None:
            return f"{code} {'try again later' if code < 500 else 'no such user here'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.server.in_data.set()
        try:
            while self.server.hold.is_set():
                await asyncio.sleep(0.01)
            if self.server.delay:
                await asyncio.sleep(self.server.delay)
        finally:
            self.server.in_data.clear()
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        with self.server.lock:
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw)  # type: ignore[arg-type]
            )
        return "250 accepted"


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "smtp.crt", folder / "smtp.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class SmtpServer:
    def __init__(
        self,
        port: int | None = None,
        *,
        tls_files: tuple[Path, Path] | None = None,
        login: tuple[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.port = port or free_port()
        self.tls_files = tls_files
        self.login = login
        self.delay = delay
        self.received: list[Received] = []
        self.refuse: dict[str, int] = {}
        self.lock = threading.Lock()
        self.in_data = threading.Event()
        self.hold = threading.Event()
        self.auth_attempts: list[str] = []
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.login is not None
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            self.auth_attempts.append(user)
            if (user, password) == self.login:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {}
        if self.tls_files is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.tls_files[0]), str(self.tls_files[1]))
            kwargs.update(tls_context=context, require_starttls=True)
        if self.login is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        self.hold.clear()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received if address in r.rcpt_tos]

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
