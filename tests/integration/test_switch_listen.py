"""The worker's listener: in-band DTMF and the silence that ends a recording, read from a
growing listen file as pjmedia writes it (switch/listen.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from media.spandsp import DtmfReceiver
from switch.listen import WAV_HEADER, Listener, Watch
from tests.integration.test_ivr_services import silence, speechlike
from tests.support.faxes import document
from tests.support.phone import dtmf_samples


def grow(path: Path, samples: np.ndarray) -> None:
    with open(path, "ab") as fh:
        fh.write(samples.astype("<i2").tobytes())


def test_inband_keys_once_each_and_off_after_an_rfc4733_digit(tmp_path: Path) -> None:
    posted: list[Callable[[], None]] = []
    keys: list[str] = []
    listener = Listener(posted.append)
    path = tmp_path / "listen.wav"
    path.write_bytes(b"\0" * WAV_HEADER)
    w = listener.watch(Watch(str(path), keys.append, lambda: None))
    audio = np.concatenate([speechlike(0.5), dtmf_samples("1#"), silence(0.2)])
    data = audio.astype("<i2").tobytes()
    for start in range(0, len(data), 1001):  # odd-sized blocks
        with open(path, "ab") as fh:
            fh.write(data[start : start + 1001])
        listener.poll(w)
    for fn in posted:
        fn()
    assert keys == ["1", "#"]
    w.stop_inband()
    with open(path, "ab") as fh:
        fh.write(dtmf_samples("5").astype("<i2").tobytes())
    posted.clear()
    listener.poll(w)
    assert posted == []
    listener.unwatch(w)


def test_silence_fires_once_after_the_limit_without_voice(tmp_path: Path) -> None:
    posted: list[Callable[[], None]] = []
    fired: list[int] = []
    listener = Listener(posted.append)
    path = tmp_path / "listen.wav"
    path.write_bytes(b"\0" * WAV_HEADER)
    w = listener.watch(Watch(str(path), lambda k: None, lambda: fired.append(1)))
    t0 = time.monotonic()
    w.arm_silence(5.0)
    grow(path, np.concatenate([silence(1.0), speechlike(1.0)]))
    listener.poll(w, now=t0 + 2.0)  # voice heard at 2 s
    grow(path, silence(3.0))
    listener.poll(w, now=t0 + 6.9)
    assert posted == []
    listener.poll(w, now=t0 + 7.1)  # no new audio at all still counts as silence
    assert len(posted) == 1
    posted[0]()
    listener.poll(w, now=t0 + 20.0)
    assert fired == [1] and len(posted) == 1
    w.arm_silence(1.0)
    w.disarm_silence()
    listener.poll(w, now=time.monotonic() + 10)
    assert len(posted) == 1


def test_a_calling_fax_cng_is_reported_once_and_a_steady_tone_never(tmp_path: Path) -> None:
    from media.fax import FaxTerminal

    def listen(audio: np.ndarray) -> int:
        posted: list[Callable[[], None]] = []
        faxes: list[int] = []
        listener = Listener(posted.append)
        path = tmp_path / "listen.wav"
        path.write_bytes(b"\0" * WAV_HEADER)
        w = listener.watch(
            Watch(str(path), lambda k: None, lambda: None, on_fax=lambda: faxes.append(1))
        )
        for start in range(0, len(audio), 2000):  # quarter-second blocks, as pjmedia writes
            grow(path, audio[start : start + 2000])
            listener.poll(w)
        for fn in posted:
            fn()
        listener.unwatch(w)
        return len(faxes)

    # A spandsp fax machine calling: its CNG (1100 Hz, 0.5 s on, 3 s off), 9 seconds of it.
    sender = FaxTerminal(send_from=document(tmp_path / "doc.tif", 1), calling=True)
    cng = np.concatenate([sender.transmit(160) for _ in range(450)])
    sender.close()
    assert listen(cng) == 1
    t = np.arange(8000 * 9) / 8000
    assert listen((8000 * np.sin(2 * np.pi * 1100 * t)).astype(np.int16)) == 0
    assert listen(np.concatenate([speechlike(4.0), silence(1.0), speechlike(4.0)])) == 0


def test_keys_come_from_spandsp_and_its_receiver_is_freed_when_nothing_listens(
    tmp_path: Path,
) -> None:
    posted: list[Callable[[], None]] = []
    listener = Listener(posted.append)
    path = tmp_path / "listen.wav"
    path.write_bytes(b"\0" * WAV_HEADER)
    w = listener.watch(Watch(str(path), lambda k: None, lambda: None))
    assert w.dtmf is None  # nothing is allocated before audio arrives
    grow(path, dtmf_samples("7"))
    listener.poll(w)
    assert isinstance(w.dtmf, DtmfReceiver) and len(posted) == 1
    w.stop_inband()
    grow(path, np.concatenate([dtmf_samples("8"), silence(0.5)]))
    listener.poll(w)
    # in-band off and no silence armed: the receiver is gone and the audio is passed over
    assert w.dtmf is None and len(posted) == 1 and w.offset == path.stat().st_size
    listener.unwatch(w)
    assert w.closed
    grow(path, dtmf_samples("9"))
    listener.poll(w)  # a poll already under way when the call ended does nothing
    assert w.dtmf is None and w.offset < path.stat().st_size


def test_the_listen_file_stays_open_between_polls_and_is_closed_with_the_watch(
    tmp_path: Path,
) -> None:
    listener = Listener(lambda fn: None)
    path = tmp_path / "listen.wav"
    w = listener.watch(Watch(str(path), lambda k: None, lambda: None))
    listener.poll(w)  # the recorder has not created the file yet
    assert w.fd is None
    path.write_bytes(b"\0" * WAV_HEADER)
    grow(path, silence(0.25))
    listener.poll(w)
    fd = w.fd
    assert fd is not None and w.offset == path.stat().st_size
    grow(path, silence(0.25))
    listener.poll(w)
    assert w.fd == fd and w.offset == path.stat().st_size  # the same descriptor, read on
    listener.unwatch(w)
    assert w.fd is None
    try:
        os.fstat(fd)
    except OSError:
        pass
    else:  # the number may have been reused by another open file, never by this one
        assert os.readlink(f"/proc/self/fd/{fd}") != str(path)


class _CountedEvent:
    """A threading.Event that counts the waits made on it (the listener's rounds)."""

    def __init__(self) -> None:
        import threading

        self._event = threading.Event()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return self._event.wait(timeout)

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def test_an_idle_listener_sleeps_until_a_call_is_watched(tmp_path: Path) -> None:
    """With no call to watch, the thread waits for a watch instead of going round every poll
    (an idle worker's listener woke 10 times a second for nothing); a watch wakes it, and it
    stops at once when idle."""
    polled: list[Watch] = []

    class Counted(Listener):
        def poll(self, w: Watch, now: float | None = None) -> None:
            polled.append(w)

    listener = Counted(lambda fn: None, poll=0.001)
    rounds = _CountedEvent()
    listener._stop = rounds  # type: ignore[assignment]
    listener.start()
    try:
        time.sleep(0.3)  # 300 rounds at 1 ms if it did not sleep
        assert rounds.waits <= 2
        path = tmp_path / "listen.wav"
        path.write_bytes(b"\0" * WAV_HEADER)
        w = listener.watch(Watch(str(path), lambda k: None, lambda: None))
        deadline = time.monotonic() + 10
        while not polled and time.monotonic() < deadline:
            time.sleep(0.01)
        assert polled and polled[0] is w
        listener.unwatch(w)
        time.sleep(0.1)  # the round under way ends; then the thread sleeps again
        settled = rounds.waits
        time.sleep(0.2)
        assert rounds.waits <= settled + 1
    finally:
        thread = listener._thread
        listener.stop()
    assert thread is not None and not thread.is_alive()
