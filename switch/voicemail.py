"""Voicemail deposit services: what the deposit dialog's effects do (SPEC S5, S12).

Rules of this file:
- Runs on dialog threads and at worker start-up, never on the pjsua2 pump thread.
- A recording streams to <storage_root>/spool/recordings/w<worker>/<token>.wav next to a
  <token>.json sidecar (who called whom, when). A restarted worker delivers what its previous
  run left there (`recover_orphans`).
- Delivery: trim leading/trailing silence, refuse a message shorter than the mailbox's minimum
  (logged as a missed, abandoned call), else write the file atomically into
  messages/<line>/ and commit, in one transaction, the message row, the call-log entry, the
  message.deposited event and the mailbox.counts event; then drop the spool files.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import uuid
import wave
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from events.events import MessageDeposited
from events.outbox import enqueue
from routing.model import GreetingReason
from store import repository
from store.files import FileStore
from store.models import Greeting, Mailbox, Message
from store.session import Store
from switch import prompts
from switch.calllog import CallRecord, log_call
from switch.deposit import DepositState
from switch.media import WAV_HEADER

logger = logging.getLogger(__name__)

RATE = 8000
FRAME = RATE // 50  # 20 ms
SILENCE_RMS = 100.0
"""Frames quieter than this (about -50 dBFS) count as silence when trimming."""


@dataclass(frozen=True)
class DepositContext:
    """What the switch knows about a call that reaches voicemail."""

    mailbox: str
    greeting: str
    """routing.model.GreetingReason value"""
    caller_number: str | None
    caller_name: str | None
    started_at: str
    """ISO 8601 UTC"""
    call_id: str


def read_pcm(path: Path) -> np.ndarray:
    """The samples of a recording; the header is ignored (it is unfinished after a crash)."""
    data = path.read_bytes()[WAV_HEADER:]
    if len(data) % 2:
        data = data[:-1]
    return np.frombuffer(data, dtype="<i2")


SILENCE_PEAK = 2 * SILENCE_RMS
"""Inside the first and last voiced frames, the cut is at the first/last sample this loud."""


def trim_silence(samples: np.ndarray) -> np.ndarray:
    """Drop leading and trailing silence: 20 ms frames whose level is below SILENCE_RMS, then
    the quiet samples at the edges of the first and last voiced frames."""
    n = len(samples) // FRAME
    if n == 0:
        return samples[:0]
    frames = samples[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    rms = np.sqrt((frames * frames).mean(axis=1))
    voiced = np.flatnonzero(rms >= SILENCE_RMS)
    if len(voiced) == 0:
        return samples[:0]
    start, end = voiced[0] * FRAME, (voiced[-1] + 1) * FRAME
    head = np.flatnonzero(np.abs(samples[start : start + FRAME].astype(np.int32)) >= SILENCE_PEAK)
    tail = np.flatnonzero(np.abs(samples[end - FRAME : end].astype(np.int32)) >= SILENCE_PEAK)
    if len(head):
        start += int(head[0])
    if len(tail):
        end = end - FRAME + int(tail[-1]) + 1
    return samples[start:end]


def wav_bytes(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


class VoicemailService:
    def __init__(
        self,
        store: Store,
        files: FileStore,
        spool: Path,
        prompts_dir: str | None,
    ) -> None:
        self.store = store
        self.files = files
        self.spool = spool
        self.prompts_dir = prompts_dir
        self.on_delivered: Callable[[str], None] | None = None
        """Called with the mailbox after a message is stored (the worker updates the MWI)."""
        spool.mkdir(parents=True, exist_ok=True)

    # -- dialog set-up ---------------------------------------------------------------------------

    def prepare(self, ctx: DepositContext) -> DepositState:
        """Read the mailbox and write the recording's sidecar; the dialog's initial state."""
        with self.store.read() as s:
            mailbox = s.get(Mailbox, ctx.mailbox)
            if mailbox is None:
                raise repository.NotFound(f"line {ctx.mailbox} has no mailbox")
            counts = repository.mailbox_counts(s, ctx.mailbox)
            greetings = {
                g.kind: g.file_path
                for g in s.scalars(select(Greeting).where(Greeting.line_number == ctx.mailbox))
            }
            lang = mailbox.language
            greeting = self.greeting_files(mailbox, greetings, ctx.greeting)
            max_seconds = float(mailbox.max_message_seconds)
        token = uuid.uuid4().hex
        record_path = self.spool / f"{token}.wav"
        (self.spool / f"{token}.json").write_text(json.dumps(asdict(ctx)))
        p = self.prompts_dir
        return DepositState(
            phase="waiting",
            greeting=greeting,
            beep=(prompts.prompt_path(p, lang, prompts.BEEP),),
            full_prompt=(
                prompts.prompt_path(p, lang, prompts.MAILBOX_FULL),
                prompts.prompt_path(p, lang, prompts.GOODBYE),
            ),
            goodbye=(prompts.prompt_path(p, lang, prompts.GOODBYE),),
            record_path=str(record_path),
            max_seconds=max_seconds,
            mailbox_full=counts.full,
        )

    def greeting_files(
        self, mailbox: Mailbox, greetings: Mapping[str, str], reason: str
    ) -> tuple[str, ...]:
        """The greeting a caller hears: a recorded one when chosen and present, else the system
        greeting (busy variant on busy)."""
        busy = reason == GreetingReason.BUSY.value
        if busy and mailbox.busy_greeting_enabled and "busy" in greetings:
            return (str(self.files.path(greetings["busy"])),)
        if mailbox.greeting == "personal" and "personal" in greetings:
            return (str(self.files.path(greetings["personal"])),)
        return prompts.system_greeting(self.prompts_dir, mailbox.language, busy)

    def effects(self, ctx: DepositContext, state: DepositState) -> Any:
        """The effect handler of one deposit dialog."""
        record_path = Path(state.record_path)

        def handle(name: str, args: Mapping[str, Any]) -> Any:
            if name == "deliver":
                return self.deliver(ctx, record_path)
            if name == "abandon":
                self._discard(record_path)
                self.log_missed(ctx, "abandoned")
                return None
            if name == "full":
                self._discard(record_path)
                self.log_missed(ctx, "voicemail")
                return None
            raise ValueError(f"unknown deposit effect {name!r}")

        return handle

    # -- delivery --------------------------------------------------------------------------------

    def deliver(self, ctx: DepositContext, record_path: Path) -> int | None:
        """Store the recording as a message; None when it is too short (logged as missed)."""
        samples = read_pcm(record_path) if record_path.is_file() else np.zeros(0, "<i2")
        voice = trim_silence(samples)
        seconds = len(voice) / RATE
        with self.store.read() as s:
            mailbox = s.get(Mailbox, ctx.mailbox)
            min_seconds = mailbox.min_message_seconds if mailbox else 1.0
        if mailbox is None or seconds < min_seconds or seconds <= 0:
            logger.info(
                "%s: message of %.2f s of voice for %s discarded (minimum %.1f s)",
                ctx.call_id,
                seconds,
                ctx.mailbox,
                min_seconds,
            )
            self._discard(record_path)
            self.log_missed(ctx, "abandoned")
            return None
        data = wav_bytes(voice)
        relpath = FileStore.new_name(f"messages/{ctx.mailbox}", ".wav")
        now = datetime.now(UTC)

        def commit() -> int:
            with self.store.transaction() as s:
                message = Message(
                    line_number=ctx.mailbox,
                    kind="voice",
                    folder="inbox",
                    caller_number=ctx.caller_number,
                    caller_name=ctx.caller_name,
                    received_at=now,
                    duration_seconds=round(seconds, 3),
                    size_bytes=len(data),
                    file_path=relpath,
                    origin="call",
                    call_id=ctx.call_id[:255],
                )
                s.add(message)
                s.flush()
                self._log(s, ctx, "missed", "voicemail", now)
                enqueue(
                    s,
                    MessageDeposited(
                        line=ctx.mailbox,
                        message_id=message.id,
                        kind="voice",
                        urgent=False,
                        private=False,
                        caller_number=ctx.caller_number,
                        caller_name=ctx.caller_name,
                        received_at=now.isoformat(),
                        duration_seconds=message.duration_seconds,
                    ),
                )
                repository.mailbox_changed(s, ctx.mailbox)
                return message.id

        message_id = self.files.store_file_then_row(relpath, data, commit)
        self._discard(record_path)
        if self.on_delivered is not None:
            self.on_delivered(ctx.mailbox)
        logger.info(
            "%s: message %s of %.2f s delivered to %s",
            ctx.call_id,
            message_id,
            seconds,
            ctx.mailbox,
        )
        return message_id

    def log_missed(self, ctx: DepositContext, disposition: str) -> None:
        with self.store.transaction() as s:
            self._log(s, ctx, "missed", disposition, datetime.now(UTC))

    @staticmethod
    def _log(s: Any, ctx: DepositContext, direction: str, disposition: str, now: datetime) -> None:
        started = datetime.fromisoformat(ctx.started_at)
        log_call(
            s,
            CallRecord(
                line=ctx.mailbox,
                direction=direction,
                disposition=disposition,
                caller_number=ctx.caller_number,
                caller_name=ctx.caller_name,
                started_at=started,
                duration_seconds=(now - started).total_seconds(),
                call_id=ctx.call_id,
            ),
        )

    def _discard(self, record_path: Path) -> None:
        for p in (record_path, record_path.with_suffix(".json")):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    # -- crash recovery (SPEC S12) ---------------------------------------------------------------

    def recover_orphans(self) -> int:
        """Deliver the recordings a previous run of this worker left in its spool."""
        delivered = 0
        for sidecar in sorted(self.spool.glob("*.json")):
            try:
                ctx = DepositContext(**json.loads(sidecar.read_text()))
            except (ValueError, TypeError) as exc:
                logger.error("unreadable recording sidecar %s (%s): left in place", sidecar, exc)
                continue
            wav = sidecar.with_suffix(".wav")
            if not wav.is_file() or os.path.getsize(wav) <= WAV_HEADER:
                self._discard(wav)
                self.log_missed(ctx, "abandoned")
                continue
            logger.warning("%s: recovering an orphan recording for %s", ctx.call_id, ctx.mailbox)
            if self.deliver(ctx, wav) is not None:
                delivered += 1
        return delivered
