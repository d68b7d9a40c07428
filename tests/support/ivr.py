"""Provisioning and speech for the IVR peer tests.

- `Subscriber` is a line of the worker under test set up for voicemail tests: its mailbox's
  settings, recorded greetings and devices are written straight into the store.
- `speech(text, lang)` is a caller's voice: espeak-ng (media.generate.speak), written once.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select, text

from media.generate import VOICES, speak
from routing.model import PhoneState
from store.models import Greeting, Mailbox, Message
from tests.support.phone import write_wav
from tests.support.sip import SwitchUnderTest

T = TypeVar("T")
_SPEECH = Path(tempfile.mkdtemp(prefix="relais-speech-"))


@functools.cache
def speech(words: str, lang: str = "en") -> Path:
    """A WAV of `words` said by the synthetic voice of `lang`."""
    name = "".join(c if c.isalnum() else "_" for c in words)[:60]
    return write_wav(_SPEECH / f"{lang}-{name}.wav", speak(words, VOICES[lang]))  # type: ignore[index]


@dataclass
class Subscriber:
    sut: SwitchUnderTest
    number: str

    @property
    def uri(self) -> str:
        return f"sip:{self.number}@{self.sut.target}"

    def mailbox(self, **columns: Any) -> Subscriber:
        with self.sut.store.transaction() as s:
            box = s.get(Mailbox, self.number)
            assert box is not None
            for name, value in columns.items():
                setattr(box, name, value)
        return self

    def greeting(self, kind: str, wav: Path) -> str:
        """Store `wav` as this mailbox's recorded greeting (or name); its absolute path."""
        rel = f"greetings/{self.number}/{kind}.wav"
        dest = self.sut.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(wav, dest)
        with self.sut.store.transaction() as s:
            s.add(Greeting(line_number=self.number, kind=kind, file_path=rel, duration_seconds=1.0))
        return str(dest.resolve())

    def messages(self, folder: str | None = None) -> list[Message]:
        with self.sut.store.read() as s:
            q = select(Message).where(Message.line_number == self.number)
            if folder:
                q = q.where(Message.folder == folder)
            return list(s.scalars(q.order_by(Message.id)).all())

    def call_log(self) -> list[tuple[str, str]]:
        return [(r.direction, r.disposition) for r in self.sut.call_log(self.number)]

    def box(self) -> Mailbox:
        with self.sut.store.read() as s:
            box = s.get(Mailbox, self.number)
            assert box is not None
            return box

    def path(self, m: Message) -> str:
        return str((self.sut.root / m.file_path).resolve())

    def event_types(self) -> list[str]:
        rows = self.sut.rows(
            "SELECT payload FROM outbox WHERE topic LIKE :t ORDER BY id",
            t=f"relais/{self.number}/%",
        )
        payloads = [
            json.loads(r.payload) if isinstance(r.payload, str) else r.payload for r in rows
        ]
        return [p["type"] for p in payloads]


def subscriber(sut: SwitchUnderTest, language: str = "en", **columns: Any) -> Subscriber:
    """A new line whose calls go straight to voicemail (do not disturb)."""
    number = sut.account()
    sut.settings(number, phone_state=PhoneState.DND)
    return Subscriber(sut, number).mailbox(language=language, **columns)


def together(*scripts: Any) -> list[Any]:
    """Run call scripts at the same time (the worker and the phones hold 4 calls each)."""
    assert len(scripts) <= 4
    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        futures = [pool.submit(script) for script in scripts]
        return [f.result() for f in futures]


def sql(sut: SwitchUnderTest, statement: str, **params: Any) -> None:
    with sut.store.transaction() as s:
        s.execute(text(statement), params)
