"""switch.media: a call's timers do not keep its media session alive after the call ended.

The pump keeps a timer's function until the timer is due, even once cancelled; a recording's
maximum length is minutes away, so a session held by its timers outlived its call by minutes
(the worker's memory grew with every call)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pjsua2 as pj
import pytest

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


class Recorder:
    """pjsua2's recorder as MediaSession uses it: the file exists once created (a second of
    silence here)."""

    def createRecorder(self, path: str) -> None:
        import wave

        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(bytes(16000))


class Audio:
    def startTransmit(self, _sink: object) -> None:
        pass

    def stopTransmit(self, _sink: object) -> None:
        pass


def test_a_recording_stopped_by_a_key_runs_on_for_the_audio_still_in_the_jitter_buffer(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """An RFC 4733 key comes ahead of the audio said before it, which waits in the call's jitter
    buffer: the recording stops as much later as the buffer holds now (a bridge frame more), and
    a recording started in between is not the one stopped."""
    from ivr.dialog import RecordFinished
    from switch import media

    monkeypatch.setattr(media.pj, "AudioMediaRecorder", Recorder)
    pump = TimerPump()
    audio = Audio()
    held = [0.48]  # a buffer grown after a burst (measured: 480 ms for a 100 ms prefetch)
    s = MediaSession(pump, "call-1", lambda: audio, lambda: None, buffered=lambda: held[0])  # type: ignore[arg-type]
    s.media_ready()
    s.events.get_nowait()  # Started
    first, second = str(tmp_path / "first.wav"), str(tmp_path / "second.wav")
    s.record(first, 60.0)
    s.stop_record()
    assert s.events.empty()  # still recording
    delay, stop, _ = pump.timers[-1]
    assert delay == pytest.approx(0.48 + media.BRIDGE_FRAME_S)
    stop()
    assert s.events.get_nowait() == RecordFinished(first, 1.0, "stopped")
    held[0] = 0.08
    s.record(second, 60.0)
    s.stop_record()
    delay, late_stop, _ = pump.timers[-1]
    assert delay == pytest.approx(0.08 + media.BRIDGE_FRAME_S)
    s.record(first, 60.0)  # a new recording before the stop was due: the second one ends now
    assert s.events.get_nowait() == RecordFinished(second, 1.0, "stopped")
    late_stop()
    assert s.events.empty()  # and the new one goes on


@pytest.mark.parametrize("reading", [None, 0.0])
def test_with_nothing_in_the_jitter_buffer_a_stop_is_at_once(
    tmp_path: Any, monkeypatch: Any, reading: float | None
) -> None:
    """An empty buffer, or a stream that is gone (no reading): nothing of the caller's is on
    its way, the recording ends now."""
    from ivr.dialog import RecordFinished
    from switch import media

    monkeypatch.setattr(media.pj, "AudioMediaRecorder", Recorder)
    pump = TimerPump()
    audio = Audio()
    s = MediaSession(pump, "call-1", lambda: audio, lambda: None, buffered=lambda: reading)  # type: ignore[arg-type]
    s.media_ready()
    s.events.get_nowait()  # Started
    s.record(str(tmp_path / "m.wav"), 60.0)
    s.stop_record()
    assert s.events.get_nowait() == RecordFinished(str(tmp_path / "m.wav"), 1.0, "stopped")
    assert [d for d, _, _ in pump.timers] == [60.0]  # only the maximum length's


class StatsMedia:
    def __init__(self, kind: int) -> None:
        self.type = kind


class StatsCall:
    """What buffered_audio reads of a pjsua2 call: its media, the jitter buffer's frames and
    the codec's frame length."""

    def __init__(self, frames: int, frame_ms: int, media: list[int]) -> None:
        self.frames, self.frame_ms, self.media = frames, frame_ms, media

    def getInfo(self) -> Any:
        return SimpleNamespace(media=[StatsMedia(k) for k in self.media])

    def getStreamStat(self, index: int) -> Any:
        assert self.media[index] == pj.PJMEDIA_TYPE_AUDIO
        return SimpleNamespace(jbuf=SimpleNamespace(size=self.frames))

    def getStreamInfo(self, index: int) -> Any:
        assert self.media[index] == pj.PJMEDIA_TYPE_AUDIO
        info = SimpleNamespace(frameLen=self.frame_ms)
        return SimpleNamespace(audCodecParam=SimpleNamespace(info=info))


def test_the_audio_buffered_is_the_jitter_buffer_s_frames_of_the_audio_stream() -> None:
    from switch.endpoint import buffered_audio

    audio, video = pj.PJMEDIA_TYPE_AUDIO, pj.PJMEDIA_TYPE_VIDEO
    assert buffered_audio(StatsCall(48, 10, [audio])) == pytest.approx(0.48)
    assert buffered_audio(StatsCall(5, 20, [video, audio])) == pytest.approx(0.1)
    assert buffered_audio(StatsCall(5, 20, [video])) is None
    assert buffered_audio(None) is None


def test_a_recording_stopped_after_an_inband_key_or_a_fax_tone_stops_at_once(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """An in-band key or a fax tone was heard in audio that had left the jitter buffer: nothing
    said before it is still on its way, and waiting for the buffer would only record the tone
    (trimmed afterwards) and what follows it. An RFC 4733 key after them waits again."""
    from ivr.dialog import DigitReceived, FaxTone, RecordFinished
    from switch import media

    monkeypatch.setattr(media.pj, "AudioMediaRecorder", Recorder)
    pump = TimerPump()
    audio = Audio()
    s = MediaSession(pump, "call-1", lambda: audio, lambda: None, buffered=lambda: 0.48)  # type: ignore[arg-type]
    s.media_ready()
    s.events.get_nowait()  # Started
    path = str(tmp_path / "m.wav")
    for heard, event in (
        (lambda: s.digit("#", "inband"), DigitReceived("#", "inband")),
        (s._fax_tone, FaxTone()),
    ):
        s.record(path, 60.0)
        heard()
        assert s.events.get_nowait() == event
        s.stop_record()
        assert s.events.get_nowait() == RecordFinished(path, 1.0, "stopped")
    s.record(path, 60.0)
    s.digit("#", "rfc2833")
    assert s.events.get_nowait() == DigitReceived("#", "rfc2833")
    s.stop_record()
    assert s.events.empty()  # still recording: the buffer's audio is on its way
    delay, stop, _ = pump.timers[-1]
    assert delay == pytest.approx(0.48 + media.BRIDGE_FRAME_S)
    stop()
    assert s.events.get_nowait() == RecordFinished(path, 1.0, "stopped")
