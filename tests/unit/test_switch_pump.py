"""The pump's waits, wakes and timers (switch/endpoint.py), without starting a SIP stack: an
idle worker must cost almost nothing, a command posted while the pump waits must wake it, and
a cancelled timer must not keep what its function holds alive."""

from __future__ import annotations

import contextlib
import gc
import itertools
import queue
import socket
import threading
import time
import weakref
from collections.abc import Iterator

import pytest

from switch.endpoint import BUSY_WAIT_MS, IDLE_AFTER, IDLE_WAIT_MS, Pump

pytestmark = pytest.mark.unit


def bare_pump() -> Pump:
    """A Pump's scheduling state only (no pjsua2 Endpoint: one per process)."""
    pump = object.__new__(Pump)
    pump._commands = queue.SimpleQueue()
    pump._timers = []
    pump._seq = itertools.count()
    pump.busy = lambda: False
    pump._last_activity = time.monotonic()
    pump._waiting = False
    pump._wake = None
    pump._wake_to = None
    pump._thread = None
    return pump


def test_idle_pump_waits_long_and_busy_pump_short() -> None:
    pump = bare_pump()
    assert pump._wait_ms() == BUSY_WAIT_MS  # recent activity
    pump._last_activity -= IDLE_AFTER + 1
    assert pump._wait_ms() == IDLE_WAIT_MS
    pump.busy = lambda: True  # a call is up
    assert pump._wait_ms() == BUSY_WAIT_MS
    pump.busy = lambda: False
    pump.post(lambda: None)
    assert pump._wait_ms() == 0


def test_a_timer_due_soon_shortens_the_idle_wait() -> None:
    pump = bare_pump()
    pump._last_activity -= IDLE_AFTER + 1
    pump.call_later(0.02, lambda: None)
    assert 0 <= pump._wait_ms() <= 20


def test_a_timer_due_within_a_millisecond_is_waited_for_not_spun_on() -> None:
    """A wait of 0 returns at once: rounding 0.4 ms down would poll in a tight loop until the
    timer is due (hundreds of rounds per timer, most of a busy pump's CPU)."""
    pump = bare_pump()
    pump.call_later(0.0004, lambda: None)
    assert pump._wait_ms() == 1
    pump._timers[0].due = time.monotonic() - 0.001  # overdue: run it now
    assert pump._wait_ms() == 0


def test_drain_says_whether_anything_ran() -> None:
    pump = bare_pump()
    assert pump._drain() is False
    ran: list[int] = []
    pump.post(lambda: ran.append(1))
    assert pump._drain() is True and ran == [1]
    handle = pump.call_later(0.0, lambda: ran.append(2))
    handle.cancel()
    assert pump._drain() is False and ran == [1]  # a cancelled timer is no activity


def test_a_cancelled_timer_releases_what_it_holds_at_once() -> None:
    class Session:
        def fired(self) -> None:
            raise AssertionError("a cancelled timer ran")

    pump = bare_pump()
    session = Session()
    ref = weakref.ref(session)
    handle = pump.call_later(180.0, session.fired)
    del session
    gc.collect()
    assert ref() is not None  # the pending timer holds it, as it must
    handle.cancel()
    gc.collect()
    assert ref() is None
    assert len(pump._timers) == 1  # still queued, holding nothing


@contextlib.contextmanager
def woken(pump: Pump) -> Iterator[socket.socket]:
    """A socket standing for the pump's UDP transport, where its wakes arrive."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as transport:
        transport.bind(("127.0.0.1", 0))
        transport.settimeout(2)
        pump._wake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        pump._wake_to = transport.getsockname()
        try:
            yield transport
        finally:
            pump._wake.close()


def test_a_command_posted_while_the_pump_waits_wakes_it_once() -> None:
    """The wake is a bare CRLF to the pump's own UDP transport (pjsip drops it as a
    keep-alive): one per wait, none when the pump is not waiting or posts to itself."""
    pump = bare_pump()
    with woken(pump) as transport:
        pump.post(lambda: None)  # not waiting: the queue is looked at before any wait
        pump._waiting = True
        for _ in range(3):  # from a thread other than the pump's
            pump.post(lambda: None)
        assert transport.recv(64) == b"\r\n\r\n"
        assert not pump._waiting
        transport.settimeout(0.2)
        with pytest.raises(TimeoutError):
            transport.recv(64)  # the other two posts found the wake under way
        pump._waiting = True
        pump._thread = threading.current_thread()  # the pump posting to itself
        pump.post(lambda: None)
        with pytest.raises(TimeoutError):
            transport.recv(64)
    assert pump._drain()


def test_stopping_wakes_a_waiting_pump() -> None:
    """An idle pump waits up to IDLE_WAIT_MS: `stop` wakes it, so the library goes down now,
    not at the end of the wait."""
    pump = bare_pump()
    joined: list[float] = []

    class PumpThread:
        def join(self, timeout: float) -> None:
            joined.append(timeout)

    with woken(pump) as transport:
        pump._running = True
        pump._waiting = True
        pump._thread = PumpThread()  # type: ignore[assignment]
        pump.stop()
        assert transport.recv(64) == b"\r\n\r\n"
    assert not pump._running and joined == [15]
