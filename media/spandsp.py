"""spandsp (Debian libspandsp2) bound with ctypes: in-band DTMF receive and send (SPEC S5).

Rules of this file:
- Pure signal processing: no I/O besides the 8 kHz 16-bit mono samples a caller feeds in. The
  library is found by its soname (`libspandsp.so.2`, Debian libspandsp2); the headers
  (libspandsp-dev) are not needed at run time.
- Every C state is owned by one Python object and freed by `close()` or when the object is
  collected; an object is used by one thread at a time.
- Errors: a missing library raises `SpandspUnavailable` (an `OSError`) with the soname tried;
  bad input (wrong sample type, a key that is not DTMF) raises `ValueError` with an exact message.
- Later users of spandsp (T.30 fax, tone detection) add their bindings here, on the same loader.
- The library is loaded as a `ctypes.PyDLL`: its functions run with the GIL held. Each call is
  short (a quarter of a second of audio takes tens of microseconds), and they are made many
  times a second on busy threads (the listener, pjmedia's clock thread for a fax): with
  `ctypes.CDLL` every call released the GIL and took it back, a hand-over to another thread
  and a wait to get it again (a futex wait and a context switch on a loaded worker, and up to
  the 5 ms switch interval for the clock thread of a fax).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from typing import Final

import numpy as np
from numpy.typing import NDArray

SONAMES: Final = ("libspandsp.so.2", "libspandsp.so")
RATE: Final = 8000
DTMF_KEYS: Final = "0123456789*#ABCD"
_DIGITS_MAX: Final = 128


class SpandspUnavailable(OSError):
    """libspandsp could not be loaded."""


_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()


def _declare(lib: ctypes.CDLL) -> None:
    vp = ctypes.c_void_p
    lib.dtmf_rx_init.restype = vp
    lib.dtmf_rx_init.argtypes = [vp, vp, vp]
    lib.dtmf_rx_parms.restype = None
    lib.dtmf_rx_parms.argtypes = [vp, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.dtmf_rx.restype = ctypes.c_int
    lib.dtmf_rx.argtypes = [vp, vp, ctypes.c_int]  # the samples' address (_address)
    lib.dtmf_rx_get.restype = ctypes.c_size_t
    lib.dtmf_rx_get.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.dtmf_rx_free.restype = ctypes.c_int
    lib.dtmf_rx_free.argtypes = [vp]
    lib.dtmf_tx_init.restype = vp
    lib.dtmf_tx_init.argtypes = [vp, vp, vp]
    lib.dtmf_tx_put.restype = ctypes.c_int
    lib.dtmf_tx_put.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.dtmf_tx_set_level.restype = None
    lib.dtmf_tx_set_level.argtypes = [vp, ctypes.c_int, ctypes.c_int]
    lib.dtmf_tx_set_timing.restype = None
    lib.dtmf_tx_set_timing.argtypes = [vp, ctypes.c_int, ctypes.c_int]
    lib.dtmf_tx.restype = ctypes.c_int
    lib.dtmf_tx.argtypes = [vp, vp, ctypes.c_int]
    lib.dtmf_tx_free.restype = ctypes.c_int
    lib.dtmf_tx_free.argtypes = [vp]


def library() -> ctypes.CDLL:
    """The loaded libspandsp (loaded once per process)."""
    global _lib
    with _lib_lock:
        if _lib is None:
            errors: list[str] = []
            for name in SONAMES:
                try:
                    lib = ctypes.PyDLL(name)  # the GIL stays held (see the rules)
                except OSError as exc:
                    errors.append(str(exc))
                    continue
                _declare(lib)
                _lib = lib
                break
            else:
                raise SpandspUnavailable(
                    f"spandsp not found (tried {', '.join(SONAMES)}): install Debian libspandsp2"
                )
        return _lib


def available() -> bool:
    """True when libspandsp can be loaded here."""
    try:
        library()
    except SpandspUnavailable:
        return False
    return True


def _int16(samples: NDArray[np.int16]) -> NDArray[np.int16]:
    if not isinstance(samples, np.ndarray) or samples.dtype != np.int16 or samples.ndim != 1:
        raise ValueError("samples must be a one-dimensional int16 array")
    return np.ascontiguousarray(samples)


def _address(samples: NDArray[np.int16]) -> int:
    """The address of a contiguous array's first sample, passed as a void pointer (a fifth of
    the cost of a ctypes int16 pointer: the receiver is fed on every poll of every call). The
    caller keeps the array alive."""
    address: int = samples.ctypes.data
    return address


class DtmfReceiver:
    """spandsp's DTMF receiver (Q.24 timing and twist checks, dial tone filtered).

    `feed(samples)` returns the keys completed in those samples, each once per key press.
    `threshold_dbm0` is the weakest tone accepted; `twist_db` / `reverse_twist_db` the accepted
    level differences between the two tones (spandsp defaults when None).
    """

    def __init__(
        self,
        *,
        threshold_dbm0: int | None = None,
        twist_db: int | None = None,
        reverse_twist_db: int | None = None,
        filter_dialtone: bool = False,
    ) -> None:
        self._lib = library()
        state = self._lib.dtmf_rx_init(None, None, None)
        if not state:
            raise MemoryError("dtmf_rx_init failed")
        self._state: int | None = state
        self._lib.dtmf_rx_parms(
            state,
            1 if filter_dialtone else 0,
            -1 if twist_db is None else twist_db,
            -1 if reverse_twist_db is None else reverse_twist_db,
            -99 if threshold_dbm0 is None else threshold_dbm0,
        )
        self._buffer = ctypes.create_string_buffer(_DIGITS_MAX + 1)

    def feed(self, samples: NDArray[np.int16]) -> str:
        """The keys recognised in this audio, in order (usually "")."""
        if self._state is None:
            raise ValueError("the DTMF receiver is closed")
        x = _int16(samples)
        if len(x):
            self._lib.dtmf_rx(self._state, _address(x), len(x))
        keys = ""
        while True:
            n = int(self._lib.dtmf_rx_get(self._state, self._buffer, _DIGITS_MAX))
            if n <= 0:
                return keys
            keys += self._buffer.raw[:n].decode("ascii")

    def close(self) -> None:
        if self._state is not None:
            self._lib.dtmf_rx_free(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()


def keys_in(samples: NDArray[np.int16]) -> str:
    """The keys spandsp's receiver hears in a whole recording (a receiver of its own)."""
    receiver = DtmfReceiver()
    try:
        return receiver.feed(samples)
    finally:
        receiver.close()


def dtmf_tones(
    keys: str, *, level_dbm0: int = -10, on_ms: int = 80, off_ms: int = 80
) -> NDArray[np.int16]:
    """The 8 kHz audio of `keys` sent with spandsp's DTMF generator (tests and page calls)."""
    bad = [k for k in keys if k not in DTMF_KEYS]
    if bad:
        raise ValueError(f"not a DTMF key: {bad[0]!r}")
    lib = library()
    state = lib.dtmf_tx_init(None, None, None)
    if not state:
        raise MemoryError("dtmf_tx_init failed")
    try:
        lib.dtmf_tx_set_level(state, level_dbm0, 0)
        lib.dtmf_tx_set_timing(state, on_ms, off_ms)
        chunks: list[NDArray[np.int16]] = []
        if keys:
            lib.dtmf_tx_put(state, keys.encode("ascii"), len(keys))
        block = np.zeros(160, dtype=np.int16)
        while True:
            n = int(lib.dtmf_tx(state, _address(block), len(block)))
            if n <= 0:
                break
            chunks.append(block[:n].copy())
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    finally:
        lib.dtmf_tx_free(state)
