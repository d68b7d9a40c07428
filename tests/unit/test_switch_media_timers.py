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


def test_a_play_or_recording_on_hold_waits_for_the_audio(tmp_path: Any, caplog: Any) -> None:
    """A call on hold has no active audio: what the dialog asks for waits, in order, and runs
    when the call is taken off hold (media_ready again); the log says why nothing plays."""
    prompt = tmp_path / "first_new_message.wav"
    prompt.write_bytes(b"RIFF")
    audio: list[object] = []
    pump = TimerPump()
    s = MediaSession(pump, "call-1", lambda: audio[0] if audio else None, lambda: None)  # type: ignore[arg-type]
    s.media_ready()
    s.events.get_nowait()  # Started
    ran: list[str] = []
    s._play = lambda files, barge_in, tag=0: ran.append(f"play {tag}")  # type: ignore[method-assign]
    s._record = lambda path, seconds, silence=0.0: ran.append("record")  # type: ignore[method-assign]
    with caplog.at_level("INFO", logger="switch.media"):
        s.play([str(prompt)], barge_in=True, tag=7)
        s.record(str(tmp_path / "rec.wav"), 60.0)
    assert ran == [] and s.events.empty()
    assert [r.getMessage() for r in caplog.records] == [
        "call-1: the call is on hold: the dialog waits for its audio"
    ]
    audio.append(object())  # taken off hold
    s.media_ready()
    assert ran == ["play 7", "record"]
    s.play([str(prompt)], barge_in=True, tag=8)  # audio active: at once
    assert ran[-1] == "play 8"


def test_a_play_of_files_that_are_all_missing_ends_at_once_silent(
    tmp_path: Any, caplog: Any
) -> None:
    """Nothing to play: the dialog must not wait, and the end says that nothing was heard (a
    message whose file is gone is not counted as heard)."""
    from ivr.dialog import PlayFinished

    pump = TimerPump()
    s = MediaSession(pump, "call-1", lambda: object(), lambda: None)  # type: ignore[arg-type]
    s.media_ready()
    s.events.get_nowait()  # Started
    gone = str(tmp_path / "gone.wav")
    with caplog.at_level("WARNING", logger="switch.media"):
        s.play([gone], barge_in=True, tag=3)
    assert s.events.get_nowait() == PlayFinished(interrupted=False, tag=3, silent=True)
    assert [r.getMessage() for r in caplog.records] == [
        f"call-1: prompt file {gone} is missing; skipped"
    ]
