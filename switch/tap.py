"""What a caller sends, looked at in pjmedia's clock thread: in-band DTMF, the silence that ends a
recording and a calling fax's tone, without a listen file (SPEC S4, S5, S11).

Rules of this file:
- The C side is switch/tap.c, built with relais' pjproject and shipped in its pjsua2 wheel
  (librelais_tap.so beside _pjsua2). Where it is missing (the stock wheel), `TapHub.start`
  says so and returns None: the worker then listens through files (switch/listen.py), with the
  same detectors in Python.
- One tap per answered call, a sink port of the conference bridge fed the call's audio. Its
  detectors are those of media/analysis.py (their settings and DFT matrix are handed to C), run
  frame by frame as the bridge hands the frames over: no file, no poll, no Python per frame.
- A key or a calling fax tone makes the tap write its id to the worker's notification pipe;
  the hub's thread reads it, takes the tap's events and posts its callbacks to the pump, where
  every callback runs (as the listener's do). An idle hub waits in `os.read`: it costs nothing.
- Silence: the tap keeps when it last heard voice (CLOCK_MONOTONIC, Python's time.monotonic);
  a pump timer fires `on_silence` once when none has been heard for `seconds` (wall clock, so a
  peer that stops sending RTP is silent too), as the listener does.
- pjsua calls (the bridge port added, connected, removed) are made on the pump thread only,
  through the library's exported C functions (ctypes on the loaded _pjsua2 module). The bridge
  keeps a reference to the port until it has processed the removal; the tap's memory is freed
  by its on_destroy when the last reference goes. A closed tap is never touched again: the hub
  takes events under the tap's lock, and closing sets `closed` under it first.
- In-band key detection stops for the rest of a call at the call's first RFC 4733 or SIP INFO
  digit, as the listener's does.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from media.analysis import (
    _FAX_MATRIX,
    _POWER_FLOOR,
    FaxToneDetector,
    FaxToneSettings,
    VadSettings,
)

logger = logging.getLogger(__name__)

LIBRARY: Final = "librelais_tap.so"
KEYS_MAX: Final = 64


class TapError(RuntimeError):
    """A tap could not be made or added to the bridge."""


class _Settings(ctypes.Structure):
    """tap.c's tap_settings (the field order is the C one)."""

    _fields_ = [
        ("vad_min_dbfs", ctypes.c_double),
        ("vad_margin_db", ctypes.c_double),
        ("vad_floor_rise_db", ctypes.c_double),
        ("vad_initial_floor_dbfs", ctypes.c_double),
        ("vad_power_floor", ctypes.c_double),
        ("fax_floor_scale", ctypes.c_double),
        ("fax_share_scale", ctypes.c_double),
        ("fax_block_s", ctypes.c_double),
        ("fax_ced_min_s", ctypes.c_double),
        ("fax_dropout", ctypes.c_int),
        ("fax_on_lo", ctypes.c_int),
        ("fax_on_hi", ctypes.c_int),
        ("fax_off_lo", ctypes.c_int),
        ("fax_off_hi", ctypes.c_int),
        ("fax_cng_bursts", ctypes.c_int),
    ]


@functools.lru_cache(maxsize=8)
def settings(vad: VadSettings | None = None, fax: FaxToneSettings | None = None) -> _Settings:
    """The C settings of media/analysis.py's VoiceActivity and FaxToneDetector, as those
    detectors derive them (read from a new FaxToneDetector, not derived again here). Made once
    per pair of settings, not per call: tap_create copies them, and nothing changes them."""
    v = vad or VadSettings()
    f = FaxToneDetector(fax)
    (on_lo, on_hi), (off_lo, off_hi) = f._on_range, f._off_range
    return _Settings(
        vad_min_dbfs=v.min_dbfs,
        vad_margin_db=v.margin_db,
        vad_floor_rise_db=v.floor_rise_db,
        vad_initial_floor_dbfs=v.initial_floor_dbfs,
        vad_power_floor=_POWER_FLOOR,
        fax_floor_scale=f._floor_scale,
        fax_share_scale=f._share_scale,
        fax_block_s=f._block_s,
        fax_ced_min_s=f.settings.ced_min_s,
        fax_dropout=f._dropout,
        fax_on_lo=on_lo,
        fax_on_hi=on_hi,
        fax_off_lo=off_lo,
        fax_off_hi=off_hi,
        fax_cng_bursts=f.settings.cng_bursts,
    )


_MATRIX: Final = np.ascontiguousarray(_FAX_MATRIX, dtype=np.float64)

_lib: ctypes.CDLL | None = None
_pj: ctypes.CDLL | None = None
_load_lock = threading.Lock()


def _pjsua2_folder() -> Path | None:
    import pjsua2

    files = list(Path(pjsua2.__file__).parent.glob("_pjsua2*.so"))
    return files[0].parent if files else None


def library() -> ctypes.CDLL | None:
    """The tap library of the installed pjsua2 build (loaded once), None when it has none."""
    global _lib, _pj
    with _load_lock:
        if _lib is not None:
            return _lib
        folder = _pjsua2_folder()
        if folder is None or not (folder / LIBRARY).is_file():
            return None
        lib = ctypes.PyDLL(str(folder / LIBRARY))  # short calls: the GIL stays held
        vp, ci, cd = ctypes.c_void_p, ctypes.c_int, ctypes.c_double
        lib.tap_create.restype = vp
        lib.tap_create.argtypes = [ci, ci, ctypes.POINTER(_Settings), vp, ci]
        lib.tap_feed.restype = None
        lib.tap_feed.argtypes = [vp, vp, ci]
        lib.tap_set_inband.restype = None
        lib.tap_set_inband.argtypes = [vp, ci]
        lib.tap_arm_silence.restype = None
        lib.tap_arm_silence.argtypes = [vp, ci, cd]
        lib.tap_last_voice.restype = cd
        lib.tap_last_voice.argtypes = [vp]
        lib.tap_take.restype = ci
        lib.tap_take.argtypes = [vp, ctypes.c_char_p, ci, ctypes.POINTER(ci)]
        lib.tap_frames.restype = ctypes.c_uint64
        lib.tap_frames.argtypes = [vp, ci]
        lib.tap_settings_size.restype = ctypes.c_size_t
        lib.tap_settings_size.argtypes = []
        if lib.tap_settings_size() != ctypes.sizeof(_Settings):
            raise TapError(f"{LIBRARY} was built from another tap.c (its settings differ)")
        pj = ctypes.CDLL(str(next(folder.glob("_pjsua2*.so"))))  # the loaded module
        pj.pjsua_pool_create.restype = vp
        pj.pjsua_pool_create.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t]
        pj.pj_pool_release.restype = None
        pj.pj_pool_release.argtypes = [vp]
        pj.pjsua_conf_add_port.restype = ci
        pj.pjsua_conf_add_port.argtypes = [vp, vp, ctypes.POINTER(ci)]
        pj.pjsua_conf_connect.restype = ci
        pj.pjsua_conf_connect.argtypes = [ci, ci]
        pj.pjsua_conf_remove_port.restype = ci
        pj.pjsua_conf_remove_port.argtypes = [ci]
        pj.pjmedia_port_destroy.restype = ci
        pj.pjmedia_port_destroy.argtypes = [vp]
        _lib, _pj = lib, pj
        return _lib


class Pump(Protocol):
    """What a tap needs of the pump (switch.endpoint.Pump)."""

    def post(self, fn: Callable[[], Any]) -> None: ...

    def call_later(self, delay: float, fn: Callable[[], Any]) -> Any: ...


class Detector:
    """One tap's C state without the bridge (tests feed it audio directly); `Tap` adds the
    bridge port. Freed by `close` (pjmedia_port_destroy: its on_destroy, or the bridge's last
    reference)."""

    def __init__(
        self, id: int = 0, notify_fd: int = -1, fax: bool = True, s: _Settings | None = None
    ) -> None:
        lib = library()
        if lib is None or _pj is None:
            raise TapError(f"no {LIBRARY} in this pjsua2 build")
        self._lib, self._pj = lib, _pj
        self._settings = s or settings()
        ptr = lib.tap_create(
            id, notify_fd, ctypes.byref(self._settings), _MATRIX.ctypes.data, int(fax)
        )
        if not ptr:
            raise TapError("tap_create failed (no memory, or no spandsp DTMF receiver)")
        self.ptr: int = ptr
        self.lock = threading.Lock()
        self.closed = False
        self._keys = ctypes.create_string_buffer(KEYS_MAX)
        self._cng = ctypes.c_int(0)

    def feed(self, samples: np.ndarray) -> None:
        """Audio as the bridge would hand it (int16)."""
        x = np.ascontiguousarray(samples, dtype=np.int16)
        self._lib.tap_feed(self.ptr, x.ctypes.data, len(x))

    def take(self) -> tuple[str, bool]:
        """(keys heard since the last take, a calling fax tone recognised: once)."""
        with self.lock:
            if self.closed:
                return "", False
            n = self._lib.tap_take(self.ptr, self._keys, KEYS_MAX, ctypes.byref(self._cng))
            return self._keys.raw[:n].decode("ascii"), bool(self._cng.value)

    def stop_inband(self) -> None:
        if not self.closed:
            self._lib.tap_set_inband(self.ptr, 0)

    def arm(self, on: bool, now: float) -> None:
        if not self.closed:
            self._lib.tap_arm_silence(self.ptr, int(on), now)

    def last_voice(self) -> float:
        return float(self._lib.tap_last_voice(self.ptr))

    def frames(self, voiced: bool = False) -> int:
        """Frames looked at (or, `voiced`, those with voice since armed)."""
        return int(self._lib.tap_frames(self.ptr, int(voiced)))

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self._pj.pjmedia_port_destroy(self.ptr)


class Tap:
    """One answered call's tap, added to the bridge and fed the call's audio (pump thread)."""

    def __init__(
        self,
        hub: TapHub,
        id: int,
        on_digit: Callable[[str], None],
        on_silence: Callable[[], None],
        on_fax: Callable[[], None] | None,
    ) -> None:
        self.hub = hub
        self.id = id
        self.on_digit = on_digit
        self.on_silence = on_silence
        self.on_fax = on_fax
        self.inband = True
        self.detector = Detector(id, hub.notify_fd, fax=on_fax is not None)
        self.slot = -1
        self._silence = 0
        """The armed silence's token (0: none armed); a timer of an older one does nothing."""
        pj = self.detector._pj
        pool = pj.pjsua_pool_create(b"relais-tap", 512, 512)
        if not pool:
            self.detector.close()
            raise TapError("no pool for the tap's bridge port")
        slot = ctypes.c_int(-1)
        try:
            status = pj.pjsua_conf_add_port(pool, self.detector.ptr, ctypes.byref(slot))
        finally:
            pj.pj_pool_release(pool)  # the bridge makes its own from the pool's factory
        if status != 0:
            self.detector.close()
            raise TapError(f"the bridge refused the tap's port (status {status})")
        self.slot = slot.value

    def connect(self, port_id: int) -> None:
        """Feed the tap the audio of the call's bridge port (again after a re-INVITE)."""
        status = self.detector._pj.pjsua_conf_connect(port_id, self.slot)
        if status != 0:
            raise TapError(f"cannot connect the call's audio to its tap (status {status})")

    def stop_inband(self) -> None:
        self.inband = False
        self.detector.stop_inband()

    def arm_silence(self, seconds: float) -> None:
        """Fire on_silence once after `seconds` without voice from now on."""
        now = time.monotonic()
        self._silence += 1
        self.detector.arm(True, now)
        self._wait_silence(self._silence, seconds, now + seconds)

    def disarm_silence(self) -> None:
        if self._silence:
            self._silence = 0
            self.detector.arm(False, time.monotonic())

    def _wait_silence(self, token: int, seconds: float, due: float) -> None:
        self.hub.pump.call_later(
            max(0.0, due - time.monotonic()), lambda: self._silence_due(token, seconds)
        )

    def _silence_due(self, token: int, seconds: float) -> None:
        if token != self._silence or self.detector.closed:
            return
        due = self.detector.last_voice() + seconds
        if time.monotonic() < due:
            self._wait_silence(token, seconds, due)
            return
        self.disarm_silence()
        self.on_silence()

    def events(self) -> None:
        """The hub's thread: the tap said it has something; its callbacks go to the pump."""
        keys, cng = self.detector.take()
        post = self.hub.pump.post
        for key in keys:
            if self.inband:
                post(lambda key=key: self.on_digit(key))  # type: ignore[misc]
        if cng and self.on_fax is not None:
            post(self.on_fax)

    def close(self) -> None:
        """Off the bridge; the memory goes once the bridge has let go of it (pump thread)."""
        if self.detector.closed:
            return
        self._silence = 0
        self.hub.forget(self)
        self.detector._pj.pjsua_conf_remove_port(self.slot)
        self.detector.close()


class TapHub:
    """The worker's taps and the thread that hears their notifications."""

    def __init__(self, pump: Pump) -> None:
        self.pump = pump
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)  # the clock thread never waits on a full pipe
        self.notify_fd = write_fd
        self._read_fd = read_fd
        self._taps: dict[int, Tap] = {}
        self._ids = iter(range(1, 2**31 - 1))
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="taps", daemon=True)
        self._stopping = False

    @classmethod
    def start(cls, pump: Pump) -> TapHub | None:
        """The hub, its thread started; None (said) when this pjsua2 build has no tap."""
        try:
            lib = library()
        except (OSError, TapError) as exc:
            logger.warning("the listening tap cannot be loaded (%s): listen files are used", exc)
            return None
        if lib is None:
            logger.info(
                "this pjsua2 build has no %s: in-band keys, silence and fax tones are read "
                "from listen files",
                LIBRARY,
            )
            return None
        hub = cls(pump)
        hub._thread.start()
        return hub

    def open(
        self,
        port_id: int,
        on_digit: Callable[[str], None],
        on_silence: Callable[[], None],
        on_fax: Callable[[], None] | None = None,
    ) -> Tap:
        """A tap fed the audio of bridge port `port_id` (pump thread); TapError when not."""
        with self._lock:
            tap_id = next(self._ids)
        tap = Tap(self, tap_id, on_digit, on_silence, on_fax)
        with self._lock:
            self._taps[tap_id] = tap
        try:
            tap.connect(port_id)
        except TapError:
            tap.close()
            raise
        return tap

    def forget(self, tap: Tap) -> None:
        with self._lock:
            self._taps.pop(tap.id, None)

    def stop(self) -> None:
        self._stopping = True
        os.write(self.notify_fd, (-1).to_bytes(4, "little", signed=True))
        self._thread.join(2)
        os.close(self.notify_fd)
        os.close(self._read_fd)

    def _run(self) -> None:
        rest = b""
        while True:
            try:
                data = rest + os.read(self._read_fd, 4096)
            except OSError:
                return
            whole = len(data) - len(data) % 4
            rest = data[whole:]
            for i in range(0, whole, 4):
                tap_id = int.from_bytes(data[i : i + 4], "little", signed=True)
                if tap_id < 0 or self._stopping:
                    return
                with self._lock:
                    tap = self._taps.get(tap_id)
                if tap is None:
                    continue
                try:
                    tap.events()
                except Exception:
                    logger.exception("the events of tap %s failed", tap_id)
