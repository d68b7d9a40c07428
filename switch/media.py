"""The media side of one answered call: players, recorder, digits and timers (pjsua2).

Rules of this file:
- `MediaSession` lives on the pump thread and is the only owner of the call's player and
  recorder objects; it releases each one explicitly (stop, then drop the reference on the pump
  thread) as soon as it is done, and everything when the call ends.
- `CallMedia` is the thread-safe face a dialog uses (ivr.dialog.Media): every method posts a
  command to the pump and returns at once; outcomes arrive as events on the call's queue.
- A playback ends by a timer at its length (pjmedia reports the end of a file when it has
  read it, a block early); the player stays connected until the next play or the hang-up.
- Every playlist ends with a quarter of a second of silence (PLAYLIST_PAD): pjmedia's playlist
  port never plays the last, partial 4000-byte block of its last file.
- The pump's timers keep their function until they are due, even when cancelled (a recording's
  maximum length is minutes away): a timer set here holds its session only weakly, so an ended
  call's session, queue and dialog state are freed when the call ends.
- Recordings are WAV files written by pjmedia as frames arrive (8 kHz mono 16-bit; at most a
  quarter of a second sits in its buffer), so a crash loses at most the last second.
- A play, a recording or a fax reception asked for while the call is on hold (its audio not
  active) waits until it is taken off hold; the re-INVITE that does it re-creates the stream,
  and everything is connected again to the new one (`_reconnect`).
- Each answered call is listened to for in-band DTMF, the silence that ends a recording and a
  calling fax's tone: by a tap on the bridge (switch.tap) when the worker has one, else by
  recording what the caller sends to a listen file followed by the worker's Listener
  (switch.listen; the file is deleted when the call ends).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import tempfile
import time
import uuid
import wave
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import pjsua2 as pj

from ivr.dialog import (
    DigitReceived,
    Event,
    FaxFinished,
    FaxTone,
    HungUp,
    PlayFinished,
    RecordFinished,
    Started,
    TimerFired,
)
from media.fax import FaxOutcome
from switch.endpoint import Pump, TimerHandle, buffered_audio
from switch.fax import FaxReception, stream_report
from switch.listen import Listener, Watch
from switch.tap import Tap, TapError, TapHub

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

T = TypeVar("T")

WAV_HEADER = 44
BYTES_PER_SECOND = 16000  # 8 kHz mono 16-bit
PLAYLIST_PAD = 2000
"""Samples of silence played after every playlist. pjmedia's playlist port reads its files in
4000-byte blocks (a quarter of a second) and reports the end when it reads the last, partial
block of the last file, which it then never plays: without the pad the last 0 to 250 ms of
every prompt sequence were lost (a "goodbye" heard without its end)."""

PLAYER_LINGER = 1.0
"""Seconds a disconnected player is kept before it is destroyed."""
BRIDGE_FRAME_S = 0.02
"""One frame of the conference bridge (pjsua's 20 ms audio frame): a frame leaves the jitter
buffer one bridge tick before the recorder has it."""

_pad_file: str | None = None


def playlist_pad() -> str:
    """A WAV file of PLAYLIST_PAD samples of silence (written once per process)."""
    global _pad_file
    if _pad_file is None or not os.path.isfile(_pad_file):
        folder = MediaSession.listen_dir or Path(tempfile.gettempdir())
        path = folder / f"pad-{os.getpid()}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * PLAYLIST_PAD)
        _pad_file = str(path)
    return _pad_file


def wav_seconds(path: str | Path) -> float:
    try:
        size = os.path.getsize(path)
    except OSError:
        return 0.0
    return max(0, size - WAV_HEADER) / BYTES_PER_SECOND


def _weakly(method: Callable[..., None], *args: Any) -> Callable[[], None]:
    """`method(*args)` for a timer, holding the method's object only weakly."""
    ref = weakref.WeakMethod(method)

    def run() -> None:
        bound = ref()
        if bound is not None:
            bound(*args)

    return run


class MediaOwner(Protocol):
    """What owns a call's media: an inbound call or an outdial call."""

    call: Any
    """The pjsua2 call (None once released); its `audio` is the call's conference slot."""

    def hangup(self) -> None: ...


class MediaSession:
    """Pump-thread state of one call's media. Created when the call is answered."""

    listener: ClassVar[Listener | None] = None
    """The worker's listener (set once per process by the worker); None: no in-band DTMF and
    no silence detection."""
    listen_dir: ClassVar[Path | None] = None
    """Where the listen files go."""
    taps: ClassVar[TapHub | None] = None
    """The worker's taps (set once per process by the worker when its pjsua2 build has them):
    they listen instead of the listener and its files."""

    def __init__(
        self,
        pump: Pump,
        call_id: str,
        get_audio: Callable[[], pj.AudioMedia | None],
        hangup: Callable[[], None],
        stream: Callable[[], str] = str,
        buffered: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.pump = pump
        self.call_id = call_id
        self._get_audio = get_audio
        self._hangup = hangup
        self._stream = stream
        """The call's stream statistics for a fax's log line (switch.fax.stream_report)."""
        self._buffered = buffered
        """Seconds of audio in the call's jitter buffer now (switch.endpoint.buffered_audio)."""
        self.events: queue.Queue[Event] = queue.Queue()
        self._player: pj.AudioMediaPlayer | None = None
        self._spent: pj.AudioMediaPlayer | None = None
        """The last playlist, played to its end but kept connected until the next play, the
        hang-up or the end of the call: when the bridge's clock runs late its last frames are
        not sent yet at the time the playback was due to end."""
        self._play_token = 0
        self._play_tag = 0
        self._play_ends_at = 0.0
        """When the running playlist's audio will all have been sent (time.monotonic)."""
        self._barge_in = False
        self._listen: pj.AudioMediaRecorder | None = None
        self._watch: Watch | Tap | None = None
        self._recorder: pj.AudioMediaRecorder | None = None
        self._record_path = ""
        self._record_timer: TimerHandle | None = None
        self._record_token = 0
        self._timers: dict[str, TimerHandle] = {}
        self._started = False
        self._pending: list[Callable[[], None]] = []
        self._fax: FaxReception | None = None
        self._heard_in_band = False
        """The last key or tone the dialog was told of was heard in the caller's audio (an
        in-band key, a fax tone): that audio had come through the jitter buffer already."""
        self.closed = False

    @classmethod
    def of(cls, pump: Pump, call_id: str, owner: MediaOwner) -> MediaSession:
        """The media of `owner`'s call, holding `owner` only weakly (it owns the session)."""
        me = weakref.ref(owner)

        def audio() -> pj.AudioMedia | None:
            o = me()
            call = o.call if o is not None else None
            return call.audio if call is not None else None

        def hangup() -> None:
            o = me()
            if o is not None:
                o.hangup()

        def of_call(read: Callable[[Any], T]) -> Callable[[], T]:
            """`read(call)` of the owner's call now (None once the owner or its call is gone)."""

            def now() -> T:
                o = me()
                return read(o.call if o is not None else None)

            return now

        return cls(pump, call_id, audio, hangup, of_call(stream_report), of_call(buffered_audio))

    # -- lifecycle (pump thread) -----------------------------------------------------------------

    @property
    def started(self) -> bool:
        """The call's audio was reported active and the dialog got its Started."""
        return self._started

    def media_ready(self) -> None:
        """The call's audio is active: start the dialog and run what it already asked for.
        Called again after every re-INVITE that leaves the audio active (a resume)."""
        if self.closed:
            return
        if self._started:
            self._reconnect()
            return
        self._started = True
        self._start_listening()
        self.events.put(Started())
        pending, self._pending = self._pending, []
        for fn in pending:
            fn()

    def _reconnect(self) -> None:
        """pjsua re-creates a call's stream when a re-INVITE changes it (a hold and its
        resume change the direction), and the new stream's bridge port has no connections:
        run what waited for the audio, and connect again the prompt playing, the recording,
        the listener and the fax terminal (connecting what is still connected changes
        nothing)."""
        audio = self._get_audio()
        if audio is None:
            return
        pending, self._pending = self._pending, []
        for fn in pending:  # what the dialog asked for while the call was on hold
            fn()
        try:
            if self._player is not None:
                self._player.startTransmit(audio)
            if self._recorder is not None:
                audio.startTransmit(self._recorder)
            if self._listen is not None:
                audio.startTransmit(self._listen)
            if isinstance(self._watch, Tap):
                self._watch.connect(audio.getPortId())
            if self._fax is not None:
                self._fax.reconnect(audio)
        except pj.Error as exc:
            logger.error("%s: cannot reconnect the call's audio: %s", self.call_id, exc.info())
        except TapError as exc:
            logger.error("%s: cannot listen to the caller again: %s", self.call_id, exc)

    def close(self) -> None:
        """The call ended: release everything, finish a running recording, tell the dialog."""
        if self.closed:
            return
        self.closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        unplayed = None
        if self._player is not None:
            unplayed = max(0.0, self._play_ends_at - time.monotonic())
        self._release_player()
        if self._recorder is not None:
            self._finish_recording("hangup")
        self._stop_listening()
        self._end_fax()
        self.events.put(HungUp(unplayed))

    def _start_listening(self) -> None:
        listener, folder, audio = self.listener, self.listen_dir, self._get_audio()
        if self.taps is not None and audio is not None:
            try:
                self._watch = self.taps.open(
                    audio.getPortId(),
                    lambda key: self.digit(key, "inband"),
                    self._silence_reached,
                    on_fax=self._fax_tone,
                )
            except (TapError, pj.Error) as exc:
                logger.error("%s: cannot listen to the caller: %s", self.call_id, exc)
            return
        if listener is None or folder is None or audio is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        path = str(folder / f"{uuid.uuid4().hex}.wav")
        recorder = pj.AudioMediaRecorder()
        try:
            recorder.createRecorder(path)
            audio.startTransmit(recorder)
        except pj.Error as exc:
            logger.error("%s: cannot listen to the caller: %s", self.call_id, exc.info())
            return
        self._listen = recorder
        self._watch = listener.watch(
            Watch(
                path,
                lambda key: self.digit(key, "inband"),
                self._silence_reached,
                on_fax=self._fax_tone,
            )
        )

    def _stop_listening(self) -> None:
        recorder, self._listen = self._listen, None
        watch, self._watch = self._watch, None
        if isinstance(watch, Tap):
            watch.close()
            return
        if watch is not None and self.listener is not None:
            self.listener.unwatch(watch)
        if recorder is not None:
            audio = self._get_audio()
            try:
                if audio is not None:
                    audio.stopTransmit(recorder)
            except pj.Error:
                pass
            del recorder
        if watch is not None:
            with contextlib.suppress(OSError):
                os.unlink(watch.path)

    def _when_ready(self, fn: Callable[[], None]) -> None:
        """Run a play, a recording or a fax reception now if the call's audio is active,
        else when it is (the call is answered, or taken off hold), in the order asked for."""
        if self.closed:
            return
        if self._started and not self._pending and self._get_audio() is not None:
            fn()
            return
        if self._started and not self._pending:
            logger.info("%s: the call is on hold: the dialog waits for its audio", self.call_id)
        self._pending.append(fn)

    # -- commands (pump thread) ------------------------------------------------------------------

    def play(self, files: Sequence[str], barge_in: bool, tag: int = 0) -> None:
        self._when_ready(lambda: self._play(list(files), barge_in, tag))

    def _play(self, files: list[str], barge_in: bool, tag: int = 0) -> None:
        self._release_player()
        existing = [f for f in files if os.path.isfile(f)]
        for missing in set(files) - set(existing):
            logger.warning("%s: prompt file %s is missing; skipped", self.call_id, missing)
        self._play_token += 1
        self._play_tag = tag
        token = self._play_token
        audio = self._get_audio()
        if existing and audio is None:
            # The dialog goes on (it must not wait forever) with a silent PlayFinished: a
            # message is not counted as heard. Say why the caller heard nothing.
            logger.warning(
                "%s: the call has no active audio: %s not played",
                self.call_id,
                ", ".join(os.path.basename(f) for f in existing),
            )
        if not existing or audio is None:
            self.events.put(PlayFinished(interrupted=False, tag=tag, silent=bool(files)))
            return
        ends_at = time.monotonic() + sum(wav_seconds(f) for f in existing)
        try:
            pad = [playlist_pad()]
        except OSError:  # a full disk: the end of the prompts may be cut, they still play
            pad = []
        player = pj.AudioMediaPlayer()
        try:
            player.createPlaylist([*existing, *pad], "play", pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(audio)
        except pj.Error as exc:
            logger.error("%s: cannot play %s: %s", self.call_id, existing, exc.info())
            self.events.put(PlayFinished(interrupted=False, tag=tag, silent=True))
            return
        self._player = player
        self._barge_in = barge_in
        self._play_ends_at = ends_at
        self._end_play_at(token, ends_at)

    def _end_play_at(self, token: int, ends_at: float) -> None:
        """The playback ends when its audio has been sent: a timer, not pjmedia's end-of-file
        report (it comes when the file has been *read*, a block ahead, and after the pad)."""
        self.pump.call_later(
            max(0.0, ends_at - time.monotonic()), _weakly(self._play_done, token, False)
        )

    def _play_done(self, token: int, interrupted: bool) -> None:
        if token != self._play_token or self._player is None:
            return  # an older playlist, already replaced or stopped
        if interrupted:
            self._release_player()
        else:  # (the next play releases it: a play starts by releasing both)
            self._spent, self._player = self._player, None
        self.events.put(PlayFinished(interrupted=interrupted, tag=self._play_tag))

    def stop_play(self) -> None:
        if self._player is not None:
            self._play_done(self._play_token, True)

    def _release_player(self) -> None:
        self._release_spent()
        player, self._player = self._player, None
        self._disconnect(player)

    def _release_spent(self) -> None:
        spent, self._spent = self._spent, None
        self._disconnect(spent)

    def _disconnect(self, player: pj.AudioMediaPlayer | None) -> None:
        if player is None:
            return
        audio = self._get_audio()
        try:
            if audio is not None:
                player.stopTransmit(audio)
        except pj.Error:
            pass
        # Destroyed (pjsua_player_destroy, on the pump thread) a little later: the playlist's
        # end-of-file event may be queued for pjmedia's event thread right now, and it must
        # not meet a freed port (a worker crashed on one under load).
        self.pump.call_later(PLAYER_LINGER, lambda: player)

    def record(self, path: str, max_seconds: float, silence_seconds: float = 0.0) -> None:
        self._when_ready(lambda: self._record(path, max_seconds, silence_seconds))

    def _record(self, path: str, max_seconds: float, silence_seconds: float = 0.0) -> None:
        if self._recorder is not None:
            self._finish_recording("stopped")
        audio = self._get_audio()
        if audio is None:
            logger.warning("%s: the call has no active audio: nothing recorded", self.call_id)
            self.events.put(RecordFinished(path, 0.0, "hangup"))
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        recorder = pj.AudioMediaRecorder()
        try:
            recorder.createRecorder(path)
            audio.startTransmit(recorder)
        except pj.Error as exc:
            logger.error("%s: cannot record to %s: %s", self.call_id, path, exc.info())
            self.events.put(RecordFinished(path, 0.0, "stopped"))
            return
        self._recorder = recorder
        self._record_path = path
        self._record_token += 1
        self._record_timer = self.pump.call_later(
            max_seconds, _weakly(self._finish_recording, "max_length")
        )
        if silence_seconds > 0 and self._watch is not None:
            self._watch.arm_silence(silence_seconds)

    def stop_record(self) -> None:
        """The dialog stops the recording (a key was pressed): once the audio still in the
        call's jitter buffer has reached it. A key sent as an RFC 4733 event or a SIP INFO
        reaches the worker ahead of what was said before it, which waits in the buffer: as
        long as the buffer is deep now (it grows when the caller's side sends in bursts), plus
        the bridge's frame that carries it to the recorder. An empty buffer, or none to read
        (the call's stream is gone), has nothing on its way, and an in-band key or a fax tone
        was heard in audio that came out of the buffer: the recording then stops at once."""
        if self._recorder is None:
            return
        held = None if self._heard_in_band else self._buffered()
        if not held:
            self._finish_recording("stopped")
            return
        self.pump.call_later(
            held + BRIDGE_FRAME_S, _weakly(self._stop_recording, self._record_token)
        )

    def _stop_recording(self, token: int) -> None:
        if token == self._record_token and self._recorder is not None:
            self._finish_recording("stopped")

    def _finish_recording(self, reason: str) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        if self._record_timer is not None:
            self._record_timer.cancel()
            self._record_timer = None
        if self._watch is not None:
            self._watch.disarm_silence()
        audio = self._get_audio()
        try:
            if audio is not None:
                audio.stopTransmit(recorder)
        except pj.Error:
            pass
        del recorder  # closes the WAV file and writes its final header
        path = self._record_path
        self.events.put(RecordFinished(path, wav_seconds(path), reason))

    def start_timer(self, name: str, seconds: float) -> None:
        if self.closed:
            return
        self.cancel_timer(name)
        self._timers[name] = self.pump.call_later(seconds, _weakly(self._timer_fired, name))

    def _timer_fired(self, name: str) -> None:
        if self._timers.pop(name, None) is not None:
            self.events.put(TimerFired(name))

    def _silence_reached(self) -> None:
        if self._recorder is not None:
            self._finish_recording("silence")

    def cancel_timer(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def hangup(self) -> None:
        if not self.closed:
            self._hangup()

    def _fax_tone(self) -> None:
        if not self.closed and self._started and self._fax is None:
            logger.info("%s: calling fax tone (CNG) heard", self.call_id)
            self._heard_in_band = True
            self.events.put(FaxTone())

    def receive_fax(self, path: str, ident: str) -> None:
        self._when_ready(lambda: self._receive_fax(path, ident))

    def _receive_fax(self, path: str, ident: str) -> None:
        """Hand the call to a fax receiver (switch.fax): nothing else plays or listens."""
        self._release_player()
        if self._recorder is not None:
            self._finish_recording("stopped")
        self._stop_listening()
        audio = self._get_audio()
        if audio is None or self._fax is not None:
            self.events.put(FaxFinished(0, -1, "no audio", 0, ""))
            return
        try:
            self._fax = FaxReception.start(
                audio, self.call_id, path, ident, lambda _o: self.pump.post(self._end_fax)
            )
        except (pj.Error, ValueError, OSError) as exc:
            logger.error("%s: cannot start the fax receiver: %s", self.call_id, exc)
            self.events.put(FaxFinished(0, -1, "receiver failed", 0, ""))

    def _end_fax(self) -> None:
        fax, self._fax = self._fax, None
        outcome: FaxOutcome | None = fax.stop(self._stream()) if fax is not None else None
        if outcome is not None:
            self.events.put(
                FaxFinished(
                    outcome.pages_rx,
                    outcome.code,
                    outcome.text,
                    outcome.bit_rate,
                    outcome.remote_ident,
                )
            )

    def digit(self, digit: str, method: str) -> None:
        """A DTMF digit arrived (RFC 4733, SIP INFO or in-band): barge-in, then tell the
        dialog."""
        if self.closed or not self._started:
            return
        if method != "inband" and self._watch is not None:
            self._watch.stop_inband()
        self._heard_in_band = method == "inband"
        self.events.put(DigitReceived(digit, method))
        if self._player is not None and self._barge_in:
            self._play_done(self._play_token, True)


class CallMedia:
    """The thread-safe media API of one call, used by its dialog (see ivr.dialog.Media)."""

    def __init__(self, session: MediaSession) -> None:
        self._s = session
        self.call_id = session.call_id

    def play(self, files: Sequence[str], barge_in: bool = True, tag: int = 0) -> None:
        files = list(files)
        self._s.pump.post(lambda: self._s.play(files, barge_in, tag))

    def stop_play(self) -> None:
        self._s.pump.post(self._s.stop_play)

    def record(self, path: str, max_seconds: float, silence_seconds: float = 0.0) -> None:
        self._s.pump.post(lambda: self._s.record(path, max_seconds, silence_seconds))

    def stop_record(self) -> None:
        self._s.pump.post(self._s.stop_record)

    def start_timer(self, name: str, seconds: float) -> None:
        self._s.pump.post(lambda: self._s.start_timer(name, seconds))

    def cancel_timer(self, name: str) -> None:
        self._s.pump.post(lambda: self._s.cancel_timer(name))

    def hangup(self) -> None:
        self._s.pump.post(self._s.hangup)

    def receive_fax(self, path: str, ident: str) -> None:
        """Hand the call to a fax receiver writing `path` (TIFF-F); FaxFinished follows."""
        self._s.pump.post(lambda: self._s.receive_fax(path, ident))

    def next_event(self, timeout: float | None = None) -> Event:
        return self._s.events.get(timeout=timeout)
