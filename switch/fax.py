"""Fax over a call's G.711 audio: a pjsua2 AudioMediaPort that runs a media.fax terminal (SPEC S11).

Rules of this file:
- `FaxPort` is a conference-bridge port fed 20 ms frames (8 kHz, 16-bit mono): what the far end
  sends goes to the terminal's receiver, what the terminal's modem says is sent back. The port
  is connected to the call's audio alone (no player, no recorder), so the fax signal passes the
  bridge untouched; the endpoint runs without VAD and without echo canceller (switch.endpoint).
- The bridge calls `onFrameReceived` / `onFrameRequested` on the media clock thread; the
  terminal is used under the port's lock, so `finish()` from the pump thread is safe.
- When the T.30 session ends (phase E), `on_end(outcome)` is called once, from the clock thread
  (it must only post); `finish()` (the call ended) hangs the terminal up and returns the outcome.
- `FaxReception.send` is the same port calling and sending a TIFF-F file (forward as fax, an
  outdial call of mode fax: switch.outdial).
- Fax numbers: `fax_line(session, number)` is the line whose fax number `number` is.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pjsua2 as pj
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from media.fax import FaxOutcome, FaxTerminal, Modem
from routing.model import CallFacts
from store.models import Line
from store.session import core
from switch.endpoint import audio_index

logger = logging.getLogger(__name__)

FRAME = 160  # 20 ms at 8 kHz
FRAME_BYTES = FRAME * 2
SEND_MODEMS = Modem.V27TER | Modem.V29


@dataclass(frozen=True)
class FaxCall:
    """The routing result of a call to a line's fax number: the fax receiver takes it."""

    line: str


_FAX_LINE = select(Line.number).where(Line.fax_number == bindparam("number"))


def fax_line(session: Session, number: str) -> str | None:
    """The line whose fax number is `number`, if any."""
    line: str | None = core(session).execute(_FAX_LINE, {"number": number}).scalar()
    return line


class FaxPort(pj.AudioMediaPort):  # type: ignore[misc]
    """A bridge port that is a fax machine."""

    def __init__(
        self, terminal: FaxTerminal, call_id: str, on_end: Callable[[FaxOutcome], None]
    ) -> None:
        super().__init__()
        self.terminal = terminal
        self.call_id = call_id
        self._on_end = on_end
        self._lock = threading.Lock()
        self._ended = False
        self._finished = False
        self.frames_in = 0
        self.frames_lost = 0
        fmt = pj.MediaFormatAudio()
        fmt.type = pj.PJMEDIA_TYPE_AUDIO
        fmt.clockRate = 8000
        fmt.channelCount = 1
        fmt.bitsPerSample = 16
        fmt.frameTimeUsec = 20000
        self.createPort(f"fax-{id(self):x}", fmt)

    def _check_end(self) -> None:
        outcome = self.terminal.outcome
        if outcome is not None and not self._ended:
            self._ended = True
            try:
                self._on_end(outcome)
            except Exception:
                logger.exception("%s: fax end callback failed", self.call_id)

    def destroy(self) -> None:
        """Take the port out of the bridge now, while this object is whole (the thread that
        made it, after `finish`); idempotent.

        Never leave that to the last reference going away: Python clears the object's
        attributes before pjsua2's destructor runs, the bridge's clock thread can call
        `onFrameReceived` on the half-freed object in between, and that call's own reference
        frees it a second time (a worker died so, right after a fax call ended). pjsua2's
        destructor waits for a callback in progress and stops later ones; run here, every
        callback finds the object intact."""
        if self.thisown:
            pj.AudioMediaPort.__swig_destroy__(self)

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        if "_lock" not in self.__dict__:  # a port dropped without destroy(): see there
            return
        try:
            data = bytes(frame.buf)
            with self._lock:
                if self._finished:
                    return
                if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and len(data) >= 2:
                    samples = np.frombuffer(data[: len(data) & ~1], dtype="<i2").astype(np.int16)
                else:  # a lost or empty frame: the modem hears silence
                    samples = np.zeros(FRAME, dtype=np.int16)
                    self.frames_lost += 1
                self.frames_in += 1
                self.terminal.receive(samples)
                self._check_end()
        except Exception:
            logger.exception("%s: fax receive frame failed", self.call_id)

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        if "_lock" not in self.__dict__:
            return
        try:
            with self._lock:
                if self._finished:
                    out = bytes(FRAME_BYTES)
                else:
                    out = self.terminal.transmit(FRAME).astype("<i2").tobytes()
                    self._check_end()
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(out)
            frame.size = len(out)
        except Exception:
            logger.exception("%s: fax transmit frame failed", self.call_id)

    def finish(self) -> FaxOutcome:
        """The call is over: end the T.30 session (pages received in full stay in the file)."""
        with self._lock:
            if self._finished:
                assert self.terminal.outcome is not None
                return self.terminal.outcome
            self._finished = True
            outcome = self.terminal.hang_up()
            self.terminal.close()
            return outcome


def _connected(port: FaxPort, audio: pj.AudioMedia) -> FaxPort:
    """`port` connected both ways to a call's `audio`; destroyed when that fails."""
    try:
        audio.startTransmit(port)
        port.startTransmit(audio)
    except BaseException:
        port.destroy()
        raise
    return port


class FaxReception:
    """A call's fax receiver on the pump thread: the port, connected both ways to the call."""

    def __init__(self, port: FaxPort, audio: pj.AudioMedia) -> None:
        self.port: FaxPort | None = port
        self.audio = audio

    @classmethod
    def start(
        cls,
        audio: pj.AudioMedia,
        call_id: str,
        path: str,
        ident: str,
        on_end: Callable[[FaxOutcome], None],
    ) -> FaxReception:
        """Answer as a fax machine on `audio`, writing the pages to the TIFF file `path`."""
        terminal = FaxTerminal(receive_to=Path(path), ident=ident)
        port = _connected(FaxPort(terminal, call_id, on_end), audio)
        logger.info("%s: fax receiver started (ident %r)", call_id, ident)
        return cls(port, audio)

    @classmethod
    def send(
        cls,
        audio: pj.AudioMedia,
        call_id: str,
        path: Path,
        ident: str,
        on_end: Callable[[FaxOutcome], None],
    ) -> FaxReception:
        """Call as a fax machine on `audio`, sending the pages of the TIFF-F file `path` (V.29
        at most: under load the faster V.17 trains badly, and a page sent at 9600 bit/s is
        still well under a minute)."""
        terminal = FaxTerminal(send_from=path, calling=True, ident=ident, modems=SEND_MODEMS)
        port = _connected(FaxPort(terminal, call_id, on_end), audio)
        logger.info("%s: fax sender started (ident %r)", call_id, ident)
        return cls(port, audio)

    def reconnect(self, audio: pj.AudioMedia) -> None:
        """Connect the terminal both ways to the call's stream again (pump thread): a
        re-INVITE re-created it (see switch.media)."""
        if self.port is None:
            return
        self.audio = audio
        self.port.startTransmit(audio)
        audio.startTransmit(self.port)

    def stop(self, stream: str = "") -> FaxOutcome | None:
        """Disconnect and finish (pump thread); None when already stopped. `stream` (see
        `stream_report`) goes into the log line: what the network did to the call's audio."""
        port, self.port = self.port, None
        if port is None:
            return None
        for a, b in ((self.audio, port), (port, self.audio)):
            with contextlib.suppress(pj.Error):
                a.stopTransmit(b)
        outcome = port.finish()
        logger.info(
            "%s: fax ended: %s pages in, %s out, %s (%s), %s bit/s, ident %r, %s frames (%s empty)"
            "%s",
            port.call_id,
            outcome.pages_rx,
            outcome.pages_tx,
            outcome.code,
            outcome.text,
            outcome.bit_rate,
            outcome.remote_ident,
            port.frames_in,
            port.frames_lost,
            f"; {stream}" if stream else "",
        )
        port.destroy()
        return outcome


def stream_report(call: pj.Call | None) -> str:
    """A call's audio stream as a failed fax needs it (RTP received and lost, the jitter
    buffer's losses and discards: a modem hears each one as a hole); "" once it is gone."""
    if call is None:
        return ""
    try:
        index = audio_index(call)
        if index is None:
            return ""
        stat = call.getStreamStat(index)
    except pj.Error:
        return ""
    jb, rx = stat.jbuf, stat.rtcp.rxStat
    return (
        f"rtp in {rx.pkt} packets, {rx.loss} lost, jitter {rx.jitterUsec.mean / 1000:.1f} ms; "
        f"jitter buffer {jb.lost} lost, {jb.discard} discarded, {jb.empty} empty, delay "
        f"{jb.avgDelayMsec}/{jb.maxDelayMsec} ms"
    )


def fax_or_decide(worker: Any, facts: CallFacts) -> Any:
    """Routing of one call (database thread): a FaxCall when the called number is a line's fax
    number, else the worker's decision (`worker.decide`)."""
    with worker.store.read() as s:
        if not facts.to_pilot:
            line = fax_line(s, facts.called)
            if line is not None:
                return FaxCall(line)
        return worker.decide(facts, s)
