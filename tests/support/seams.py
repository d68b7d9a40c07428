"""Both sides of the store on one database and one storage root: the portal (its JSON API
through the ASGI app) and the IVR's store services (ivr.services.Voicemail), for the seam
tests (tests/integration/test_seams_*.py)."""

from __future__ import annotations

import functools
import io
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ivr.pin import LockoutPolicy
from ivr.services import DepositContext, Voicemail
from store import repository
from store.session import Store
from tests.support.portal import (
    A_NUMBER,
    A_PIN,
    A_SECOND,
    B_NUMBER,
    PortalEnv,
    add_accounts,
    bearer,
    build,
    sign_in,
)

RATE = 8000
CALLER = "4185550123"
"""A caller that is no line of this service."""

__all__ = ["A_NUMBER", "A_PIN", "A_SECOND", "B_NUMBER", "CALLER", "Both", "both"]


def speechlike(seconds: float, seed: int = 1) -> np.ndarray:
    """Noise bursts with pauses: voice to the detector (a steady tone would be its floor)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    envelope = (np.sin(np.arange(n) * 2 * np.pi * 3 / RATE) > -0.2).astype(float)
    return (rng.normal(0, 4000, n) * envelope).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def wav_bytes(samples: np.ndarray, rate: int = RATE, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(samples, channels).astype("<i2").tobytes())
    return buf.getvalue()


def recording(path: Path, *parts: np.ndarray) -> Path:
    """A spool recording as the switch writes it: a 44-byte WAV header, then the samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(np.concatenate(parts)))
    return path


def wav_format(path: Path) -> tuple[int, int, int]:
    """(rate, channels, bytes per sample) of a stored WAV file."""
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth()


@dataclass
class Both:
    env: PortalEnv
    api: TestClient
    """Signed in as account A (lines A_NUMBER and A_SECOND)."""
    vm: Voicemail
    counted: list[tuple[str, repository.Counts]]

    @property
    def store(self) -> Store:
        return self.env.store

    def api_as(self, number: str, password: str) -> TestClient:
        return self.env.client(headers=bearer(sign_in(self.env.client(), number, password)))

    def deposit(
        self,
        mailbox: str = A_NUMBER,
        caller: str | None = CALLER,
        *,
        seconds: float = 2.0,
        urgent: bool = False,
        private: bool = False,
        reason: str = "default",
        caller_name: str | None = "Jean Caller",
    ) -> int:
        """A caller leaves a message by phone (greeting chosen, recording delivered)."""
        ctx = DepositContext(
            mailbox=mailbox,
            greeting=reason,
            caller_number=caller,
            caller_name=caller_name,
            started_at=datetime.now(UTC).isoformat(),
            call_id=f"seam-{mailbox}-{datetime.now(UTC).timestamp()}",
        )
        _, path = self.vm.prepare_deposit(ctx)
        recording(path, silence(0.4), speechlike(seconds), silence(0.8))
        message_id = self.vm.deliver(ctx, path, urgent=urgent, private=private)
        assert message_id is not None
        return message_id

    def phone_recording(self, name: str, seconds: float = 1.5) -> str:
        """What the switch recorded for a phone menu (greeting, name, message to send)."""
        path = self.vm.spool / f"{name}.phone.wav"
        recording(path, silence(0.3), speechlike(seconds, seed=len(name)), silence(0.5))
        return str(path)


@pytest.fixture
def both(store: Store, tmp_path: Path) -> Iterator[Both]:
    """Accounts A (two lines) and B; the portal signed in as A; the IVR on the same store and
    storage root as the portal."""
    add_accounts(store)
    env = build(tmp_path, store)
    counted: list[tuple[str, repository.Counts]] = []
    vm = Voicemail(
        store,
        env.files,
        env.root / "spool" / "w0",
        lockout=LockoutPolicy(
            env.settings.mailbox.pin_lockout_failures, env.settings.mailbox.pin_lockout_minutes
        ),
        on_counts=lambda _s, line, c: functools.partial(counted.append, (line, c)),
    )
    with env.client() as anonymous:
        token = sign_in(anonymous)
    with env.client(headers=bearer(token)) as api:
        yield Both(env, api, vm, counted)
