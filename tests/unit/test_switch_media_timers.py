"""switch.media: a call's timers do not keep its media session alive after the call ended.

The pump keeps a timer's function until the timer is due, even once cancelled; a recording's
maximum length is minutes away, so a session held by its timers outlived its call by minutes
(the worker's memory grew with every call)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

from ivr.dialog import HungUp, TimerFired
from switch.media import MediaSession


class Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class TimerPump:
    """Only what MediaSession uses of the pump: post (run now) and call_later (kept)."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[[], Any], Handle]] = []

    def post(self, fn: Callable[[], Any]) -> None:
        fn()

    def call_later(self, delay: float, fn: Callable[[], Any]) -> Handle:
        handle = Handle()
        self.timers.append((delay, fn, handle))
        return handle


def session(pump: TimerPump) -> MediaSession:
    s = MediaSession(pump, "call-1", lambda: None, lambda: None)  # type: ignore[arg-type]
    s.media_ready()
    return s


def test_a_timer_fires_while_the_call_lasts() -> None:
    pump = TimerPump()
    s = session(pump)
    s.events.get_nowait()  # Started
    s.start_timer("key", 5.0)
    _, fire, _ = pump.timers[-1]
    fire()
    assert s.events.get_nowait() == TimerFired("key")


def test_an_ended_call_is_freed_although_its_timers_are_still_pending() -> None:
    pump = TimerPump()
    s = session(pump)
    s.start_timer("key", 180.0)
    s._end_play_at(s._play_token, 10**9)  # a playback end still to come
    s.close()
    assert isinstance(s.events.queue[-1], HungUp)
    assert len(pump.timers) == 2 and all(h.cancelled for _, _, h in pump.timers[:1])
    gone = weakref.ref(s)
    del s
    gc.collect()
    assert gone() is None
    for _, fire, _ in pump.timers:
        fire()  # a due timer of a freed session does nothing


def test_a_play_or_recording_without_audio_goes_on_and_says_why(tmp_path: Any, caplog: Any) -> None:
    """A call whose stream went away: the dialog must not wait forever, so the play ends at
    once, marked silent (a message is not counted as heard), and the log says that the caller
    heard nothing (and no recording was made)."""
    from ivr.dialog import PlayFinished, RecordFinished

    prompt = tmp_path / "first_new_message.wav"
    prompt.write_bytes(b"RIFF")
    pump = TimerPump()
    s = session(pump)
    s.events.get_nowait()  # Started
    with caplog.at_level("WARNING", logger="switch.media"):
        s.play([str(prompt)], barge_in=True, tag=7)
        s.record(str(tmp_path / "rec.wav"), 60.0)
    assert s.events.get_nowait() == PlayFinished(interrupted=False, tag=7, silent=True)
    assert s.events.get_nowait() == RecordFinished(str(tmp_path / "rec.wav"), 0.0, "hangup")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "call-1: the call has no active audio: first_new_message.wav not played",
        "call-1: the call has no active audio: nothing recorded",
    ]
