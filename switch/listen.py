"""What a caller sends while a dialog runs: in-band DTMF and silence (SPEC S4, S5).

Rules of this file:
- pjsua2 hands audio frames to Python only as SWIG vectors (about 250 us per 20 ms frame on this
  machine: too slow for the media clock thread). Instead every answered call records what the
  caller sends to a "listen" WAV file (pjmedia writes it in 4000-byte blocks: a quarter of a
  second), and one Listener thread per worker reads the new audio of every call each POLL
  seconds. No pjsua2 here.
- The listener runs spandsp's DTMF receiver (C, media.spandsp; the numpy detector of
  media.analysis only where libspandsp is missing) and, while a recording waits for silence,
  the voice-activity detector; it posts what it finds to the pump, where the callbacks run.
  The fax tone and voice detectors take the same 20 ms frames from one Framer per call: the
  audio is converted and its power measured once per poll for both.
- In-band detection stops for the rest of a call at the call's first RFC 4733 or SIP INFO digit,
  so a gateway that sends both does not produce every key twice. Audio that nothing looks for
  (in-band off, no silence armed, no fax tone awaited) is skipped unread.
- A calling fax's CNG (1100 Hz bursts, media.analysis.FaxToneDetector) is reported once per
  call to `on_fax`, when the watch has one (SPEC S11).
- Silence: while armed, `on_silence` fires once when no voice has been heard for `seconds`
  (wall clock, so a peer that stops sending RTP is silent too).
- With nothing to watch (no call answered) the thread sleeps until a watch is added: an idle
  worker's listener costs nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from media import spandsp
from media.analysis import DtmfDetector, FaxToneDetector, Framer, VoiceActivity

logger = logging.getLogger(__name__)

WAV_HEADER = 44
POLL = 0.1
"""Seconds between two reads of the listen files."""


@dataclass
class _Silence:
    seconds: float
    last_voice: float
    vad: VoiceActivity = field(default_factory=VoiceActivity)


class Watch:
    """One call's listen file and what is looked for in it."""

    def __init__(
        self,
        path: str,
        on_digit: Callable[[str], None],
        on_silence: Callable[[], None],
        inband: bool = True,
        on_fax: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.on_digit = on_digit
        self.on_silence = on_silence
        self.inband = inband
        self.offset = WAV_HEADER
        self.dtmf: _Keys | None = None
        """Created at the first audio looked at for keys, freed when in-band detection ends."""
        self.silence: _Silence | None = None
        self.on_fax = on_fax
        self.fax: FaxToneDetector | None = FaxToneDetector() if on_fax is not None else None
        self.framer = Framer()
        """The 20 ms frames the fax tone and silence detectors share."""
        self.lock = threading.Lock()
        """Held while the watch is polled: its receiver is never freed in the middle of a feed."""
        self.closed = False
        self.fd: int | None = None
        """The listen file, open from the first poll that finds it until the watch closes."""

    def keys(self, samples: np.ndarray) -> str:
        """The in-band keys completed by these samples."""
        if self.dtmf is None:
            self.dtmf = _receiver()
        return self.dtmf.feed(samples)

    def arm_silence(self, seconds: float) -> None:
        """Fire on_silence once after `seconds` without voice from now on."""
        self.silence = _Silence(seconds, time.monotonic())

    def disarm_silence(self) -> None:
        self.silence = None

    def stop_inband(self) -> None:
        self.inband = False

    def close(self) -> None:
        """Free the DTMF receiver and close the file (any thread; waits for a poll under way)."""
        with self.lock:
            self.closed = True
            self._free()

    def _free(self) -> None:
        self._free_keys()
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def _free_keys(self) -> None:
        dtmf, self.dtmf = self.dtmf, None
        if isinstance(dtmf, spandsp.DtmfReceiver):
            dtmf.close()


class _Keys(Protocol):
    """What a DTMF detector offers the listener (spandsp's receiver, or the numpy one)."""

    def feed(self, samples: np.ndarray) -> str: ...


_fallback_logged = False


def _receiver() -> _Keys:
    global _fallback_logged
    try:
        return spandsp.DtmfReceiver()
    except spandsp.SpandspUnavailable as exc:
        if not _fallback_logged:
            _fallback_logged = True
            logger.warning("%s; in-band DTMF falls back to the slower numpy detector", exc)
        return DtmfDetector()


class Listener:
    """The worker's listening thread. `post` runs a function on the pump thread."""

    def __init__(self, post: Callable[[Callable[[], None]], None], poll: float = POLL) -> None:
        self._post = post
        self._poll = poll
        self._watches: dict[int, Watch] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watched = threading.Event()
        """Set while there is something to watch (or to stop): an idle listener waits on it."""
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._watched.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    def watch(self, w: Watch) -> Watch:
        with self._lock:
            self._watches[id(w)] = w
            self._watched.set()
        return w

    def unwatch(self, w: Watch) -> None:
        with self._lock:
            self._watches.pop(id(w), None)
        w.close()

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            with self._lock:
                watches = list(self._watches.values())
                if not watches:
                    self._watched.clear()
            if not watches:
                self._watched.wait()  # until a call is watched (or the listener stops)
                continue
            for w in watches:
                try:
                    self.poll(w)
                except Exception:
                    logger.exception("listening to %s failed", w.path)

    def poll(self, w: Watch, now: float | None = None) -> None:
        """Read what `w`'s file gained since the last poll and act on it."""
        with w.lock:
            if not w.closed:
                self._poll_locked(w, time.monotonic() if now is None else now)

    def _poll_locked(self, w: Watch, now: float) -> None:
        if not w.inband and w.dtmf is not None:
            w._free_keys()
        samples = _read_new(w, skip=not w.inband and w.silence is None and w.fax is None)
        if w.inband and len(samples):
            for key in w.keys(samples):
                if w.inband:
                    self._post(lambda key=key: w.on_digit(key))  # type: ignore[misc]
        fax, on_fax, silence = w.fax, w.on_fax, w.silence
        if fax is None and silence is None:
            w.framer.reset()
        elif len(samples):
            frames, power = w.framer.feed(samples)
            if fax is not None and on_fax is not None and fax.feed_frames(frames, power) == "CNG":
                w.fax = None
                self._post(on_fax)
            if silence is not None and any(silence.vad.feed_power(power)):
                silence.last_voice = now
        if (
            silence is not None
            and now - silence.last_voice >= silence.seconds
            and w.silence is silence
        ):
            w.silence = None
            self._post(w.on_silence)


_NOTHING = np.zeros(0, dtype=np.int16)


def _read_new(w: Watch, skip: bool = False) -> np.ndarray:
    """The samples `w`'s file gained since the last read (with `skip`: passed over unread)."""
    try:
        if w.fd is None:
            w.fd = os.open(w.path, os.O_RDONLY)
        size = os.fstat(w.fd).st_size
    except OSError:
        return _NOTHING
    end = size - (size - w.offset) % 2
    if end <= w.offset:
        return _NOTHING
    if skip:
        w.offset = end
        return _NOTHING
    data = os.pread(w.fd, end - w.offset, w.offset)
    w.offset += len(data)
    return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2")
