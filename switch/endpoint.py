"""The pjsua2 library of one process: configuration, transports and the event-pump thread.

Rules of this file:
- One Endpoint per process (pjsua2 allows no more). It runs with threadCnt = 0: the pump
  thread is the only thread that calls `libHandleEvents`, and every pjsua2 callback and every
  pjsua2 call of the switch happens on it.
- Other threads never touch pjsua2: they `post()` a function, which the pump runs between two
  `libHandleEvents` rounds. Timers (`call_later`) also run on the pump thread.
- The pump waits in `libHandleEvents` at most BUSY_WAIT_MS while there is work (calls up, a
  command or timer run, a SIP event handled in the last IDLE_AFTER seconds) and IDLE_WAIT_MS
  otherwise: SIP traffic wakes it at once either way, and an idle worker costs almost nothing.
  A command posted from another thread while the pump waits wakes it: `post` sends a bare
  CRLF (a keep-alive, which pjsip drops unparsed) to the pump's own UDP transport, once per
  wait. The waits are then only a safety net, and a busy pump goes round its loop for SIP
  events, timers and commands, not 200 times a second.
- Media clock 8 kHz, null sound device that never closes (sndAutoCloseTime = -1, otherwise the
  conference bridge stops releasing ports), echo canceller off (FIELD-NOTES.md).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import queue
import resource
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pjsua2 as pj

logger = logging.getLogger(__name__)

BUSY_WAIT_MS = 20
"""Longest wait in libHandleEvents while there is work (a posted command wakes the pump
sooner: `post`)."""
IDLE_WAIT_MS = 250
"""Longest wait when idle: 4 rounds a second. pjsip's own timers end a wait when they are due
(libHandleEvents waits for the earlier of the two), the pump's timers shorten it, and a posted
command or a stop wakes it: the wait bounds only the periodic collection (`on_idle`)."""
IDLE_AFTER = 2.0
"""Seconds without calls, commands, timers or SIP events before the pump counts as idle."""

STOCK_MAX_CALLS = 4
"""pjproject's default PJSUA_MAX_CALLS, the cap of the stock pjsua2-python wheel: there
UaConfig.maxCalls above 4 is accepted but silently capped, and the 5th call fails with
PJ_ETOOMANY (outgoing) or a stateless 486 "too many calls" (incoming)."""
STOCK_IOQUEUE_HANDLES = 64
"""The stock wheel's select() I/O queue (PJ_IOQUEUE_MAX_HANDLES)."""

JB_DISCARD_NONE = 0
JB_DISCARD_PROGRESSIVE = 2
"""pjmedia_jb_discard_algo values (pjsua2 exports neither them nor a way to set the media
config's from Python). Progressive discard, pjsua's default, shrinks a jitter buffer to the
jitter it sees by dropping frames, whatever its prefetch; with none, a buffer keeps the depth
it filled to."""


def jitter_buffer(call: pj.Call, *, adaptive: bool) -> None:
    """Choose the jitter buffer of `call`'s audio streams, before the call is answered or made:
    the worker's fixed one (`EndpointConfig.fixed_jitter_ms`), which never drops a frame to
    shrink (fax modems, recordings, prompts), or, `adaptive`, pjmedia's, which keeps the delay
    of a conversation down by dropping frames (the two sides of a bridge). Without relais'
    pjproject build (`Call.audJbDiscardAlgo`, scripts/pjproject/patches/0006) every stream
    has pjmedia's."""
    if _PER_CALL_JITTER_BUFFER:
        call.audJbDiscardAlgo = JB_DISCARD_PROGRESSIVE if adaptive else JB_DISCARD_NONE


_PER_CALL_JITTER_BUFFER = hasattr(pj.Call, "audJbDiscardAlgo")


def audio_index(call: pj.Call) -> int | None:
    """The media index of `call`'s audio stream (for `getStreamStat`, `getStreamInfo`); None
    without one. Raises pj.Error once the call is gone."""
    info = call.getInfo()  # kept: `media` is a view into it (SWIG), freed with a temporary
    return next((i for i, m in enumerate(info.media) if m.type == pj.PJMEDIA_TYPE_AUDIO), None)


def buffered_audio(call: pj.Call | None) -> float | None:
    """Seconds of received audio waiting in the jitter buffer of `call`'s audio stream now
    (frames held x the codec's frame length); None without an audio stream.

    A fixed buffer that never drops a frame keeps the depth it filled to: its prefetch
    (`EndpointConfig.fixed_jitter_ms`) at first, more after the caller's side stalled and then
    sent what it owed in a burst (measured on a loaded machine: 480 ms instead of 100)."""
    if call is None:
        return None
    try:
        index = audio_index(call)
        if index is None:
            return None
        frames = call.getStreamStat(index).jbuf.size
        frame_ms = call.getStreamInfo(index).audCodecParam.info.frameLen
    except pj.Error:
        return None
    return float(frames * frame_ms) / 1000.0


@dataclass(frozen=True)
class LibraryLimits:
    """Compile-time limits of the pjsua2 build this process runs (learnt at start)."""

    max_calls: int
    ioqueue_handles: int
    build: str
    """"relais" (scripts/build-pjproject.sh) or "stock" (the pjsua2-python wheel)."""

    @property
    def media_sockets(self) -> int:
        """I/O queue handles left for RTP and RTCP (2 per call) after the SIP transports."""
        return self.ioqueue_handles - 16 if self.ioqueue_handles > 64 else self.ioqueue_handles

    @property
    def fds_needed(self) -> int:
        """File descriptors the calls may use: per call 2 sockets, a player, 2 recorders (the
        message and the listen file) and the listener's reading of the listen file, one spare;
        plus the process's own."""
        return 7 * self.max_calls + 256


def library_limits(module: Any = pj) -> LibraryLimits:
    """The limits of the installed pjsua2: relais' build says them in pjsua2._relais_build
    (scripts/pjproject/pack_wheel.py); any other build is taken as pjproject's defaults."""
    calls = getattr(module, "MAX_CALLS", None)
    if isinstance(calls, int) and calls > 0:
        handles = getattr(module, "IOQUEUE_MAX_HANDLES", None)
        return LibraryLimits(
            max_calls=calls,
            ioqueue_handles=handles if isinstance(handles, int) and handles > 0 else 4096,
            build="relais",
        )
    return LibraryLimits(STOCK_MAX_CALLS, STOCK_IOQUEUE_HANDLES, "stock")


LIMITS = library_limits()
PJSUA_MAX_CALLS = LIMITS.max_calls
"""Concurrent pjsua calls this process can hold (the library's compile-time cap)."""


def raise_fd_limit(needed: int) -> tuple[int, int]:
    """Raise RLIMIT_NOFILE's soft limit to `needed` (the hard limit too when allowed).
    Returns (before, after) soft limits; never lowers a limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft, soft
    target = needed
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return soft, needed
        except (ValueError, OSError):
            target = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return soft, target


@dataclass
class EndpointConfig:
    host: str = "127.0.0.1"
    port: int = 5070
    advertised_host: str = "127.0.0.1"
    tcp: bool = True
    max_calls: int = PJSUA_MAX_CALLS
    user_agent: str = "relais"
    log_level: int = 0
    """pjlib log level on stderr (0 = silent, 5 = SIP traces)."""
    rtp_port: int = 0
    """First RTP port; 0 = any free port."""
    fixed_jitter_ms: int | None = 100
    """A fixed jitter buffer of this depth, which never drops a frame to shrink (fax modems,
    switch.fax, lose their carrier when a buffer shrinks or grows under them; a recording
    keeps every frame); None: pjmedia's adaptive buffer. Bridged calls take the adaptive one
    (`jitter_buffer`)."""


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    fn: Callable[[], Any] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


def _nothing() -> None:
    return None


class TimerHandle:
    def __init__(self, timer: _Timer) -> None:
        self._timer = timer

    def cancel(self) -> None:
        """The timer will not run; what its function holds is released now, not when it
        would have been due (a cancelled 180 s timer must not keep a call's objects alive)."""
        self._timer.cancelled = True
        self._timer.fn = _nothing


class Pump:
    """Owns the Endpoint and its one event thread."""

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.ep = pj.Endpoint()
        self._commands: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._running = False
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self.on_destroy: Callable[[], None] | None = None
        """Called on the pump thread right before the library is destroyed: drop every
        pjsua2 object there (their destructors must not run after libDestroy)."""
        self.on_idle: Callable[[], None] | None = None
        """Called on the pump thread after each round (cheap bookkeeping only)."""
        self.transport_ids: list[int] = []
        self.busy: Callable[[], bool] = lambda: False
        """True while the owner has work under way (calls up): the pump then never waits
        longer than BUSY_WAIT_MS (a safety net: a posted command wakes it at once)."""
        self._last_activity = time.monotonic()
        self._waiting = False
        """True while the pump thread is (about to be) waiting in libHandleEvents."""
        self._wake: socket.socket | None = None
        self._wake_to: tuple[str, int] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, setup: Callable[[Pump], None] | None = None) -> None:
        """Start the pump thread; `setup(pump)` runs on it once the library is up."""
        self._running = True
        self._thread = threading.Thread(
            target=self._main, args=(setup,), name="pjsua2-pump", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._failed is not None:
            raise RuntimeError(f"SIP stack did not start: {self._failed}") from self._failed

    def stop(self, teardown: Callable[[], None] | None = None) -> None:
        """Run `teardown` on the pump thread, then destroy the library."""
        if self._thread is None:
            return
        if teardown is not None:
            done = threading.Event()

            def run_teardown() -> None:
                try:
                    teardown()
                finally:
                    done.set()

            self.post(run_teardown)
            done.wait(10)
        self._running = False
        self.post(lambda: None)  # an idle pump notices now, not at the end of its wait
        self._thread.join(15)
        self._thread = None

    @property
    def on_pump_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def _init_library(self) -> None:
        c = self.config
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.maxCalls = c.max_calls
        cfg.uaConfig.userAgent = c.user_agent
        cfg.logConfig.level = c.log_level
        cfg.logConfig.consoleLevel = c.log_level
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.sndAutoCloseTime = -1
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.ecOptions = 0
        cfg.medConfig.threadCnt = 1
        cfg.medConfig.noVad = True
        if c.fixed_jitter_ms is not None:
            j = c.fixed_jitter_ms
            cfg.medConfig.jbInit = cfg.medConfig.jbMinPre = cfg.medConfig.jbMaxPre = j
        self.ep.libInit(cfg)
        tc = pj.TransportConfig()
        tc.port = c.port
        tc.boundAddress = c.host if c.host != "0.0.0.0" else ""
        tc.publicAddress = c.advertised_host
        self.transport_ids.append(self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc))
        if c.tcp:
            self.transport_ids.append(self.ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tc))
        self._open_wake(self.transport_ids[0])
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        # G.711 first (8 kHz bridge, no resampling); wideband codecs stay available.
        for codec, prio in (("PCMU/8000", 255), ("PCMA/8000", 254), ("telephone-event", 253)):
            with contextlib.suppress(pj.Error):
                self.ep.codecSetPriority(codec, prio)

    def _open_wake(self, udp_transport: int) -> None:
        """The socket `post` wakes the pump with, aimed at the pump's UDP transport."""
        port = self.config.port or int(
            self.ep.transportGetInfo(udp_transport).localName.rsplit(":", 1)[1]
        )
        host = self.config.host if self.config.host not in ("0.0.0.0", "") else "127.0.0.1"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._wake = socket.socket(family, socket.SOCK_DGRAM)
        self._wake_to = (host, port)

    def _main(self, setup: Callable[[Pump], None] | None) -> None:
        try:
            self._init_library()
            if setup is not None:
                setup(self)
        except BaseException as exc:  # reported to start()
            self._failed = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while self._running:
                # Waiting is announced before the queue is looked at (in _wait_ms): a command
                # posted after that look sees it and wakes the wait.
                self._waiting = True
                handled = self.ep.libHandleEvents(self._wait_ms())
                self._waiting = False
                if self._drain() or handled:
                    self._last_activity = time.monotonic()
                if self.on_idle is not None:
                    self.on_idle()
            self._drain()
        finally:
            try:
                self.ep.hangupAllCalls()
                for _ in range(20):
                    self.ep.libHandleEvents(10)
                self._drain()
                # What pending timers hold (players kept a moment, switch.media) is freed while
                # the library still lives.
                self._timers.clear()
            except pj.Error:
                pass
            if self.on_destroy is not None:
                self._run(self.on_destroy)
            wake, self._wake = self._wake, None
            if wake is not None:
                wake.close()
            self.ep.libDestroy()

    def _wait_ms(self) -> int:
        if not self._commands.empty():
            return 0
        longest = BUSY_WAIT_MS
        if not self.busy() and time.monotonic() - self._last_activity > IDLE_AFTER:
            longest = IDLE_WAIT_MS
        if self._timers:
            # Rounded up: a timer due in 0.4 ms is waited for, not spun on with waits of 0.
            delta = self._timers[0].due - time.monotonic()
            return max(0, min(longest, math.ceil(delta * 1000)))
        return longest

    def _drain(self) -> bool:
        """Run the posted commands and the timers that are due; True when any ran."""
        ran = False
        while True:
            try:
                fn = self._commands.get_nowait()
            except queue.Empty:
                break
            ran = True
            self._run(fn)
        now = time.monotonic()
        while self._timers and self._timers[0].due <= now:
            timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                ran = True
                self._run(timer.fn)
        return ran

    @staticmethod
    def _run(fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:
            # A failing command must not stop the pump (and with it every call of the worker).
            logger.exception("switch command failed")

    # -- scheduling ------------------------------------------------------------------------------

    def post(self, fn: Callable[[], Any]) -> None:
        """Run `fn` on the pump thread (from any thread); a waiting pump is woken."""
        self._commands.put(fn)
        wake, to = self._wake, self._wake_to
        if self._waiting and wake is not None and to is not None and not self.on_pump_thread:
            self._waiting = False  # one wake per wait
            with contextlib.suppress(OSError):  # a lost wake costs at most one wait
                wake.sendto(b"\r\n\r\n", to)

    def call_later(self, delay: float, fn: Callable[[], Any]) -> TimerHandle:
        """Run `fn` on the pump thread after `delay` seconds. Pump thread only."""
        timer = _Timer(time.monotonic() + max(0.0, delay), next(self._seq), fn)
        heapq.heappush(self._timers, timer)
        return TimerHandle(timer)

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run `fn` on the pump thread and return its result (from another thread)."""
        if self.on_pump_thread:
            return fn()
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

        self.post(run)
        if not done.wait(timeout):
            raise TimeoutError("the SIP stack did not answer in time")
        if "error" in box:
            raise box["error"]
        return box.get("value")
