"""spandsp's T.30 fax terminal over G.711 audio, bound with ctypes (SPEC S11).

Rules of this file:
- Pure signal processing on the loader of `media.spandsp`: the caller feeds the 8 kHz 16-bit
  samples it received (`receive`) and asks for the samples to send (`transmit`); the only other
  I/O is the TIFF-F file spandsp reads (sending) or writes (receiving), whose path is given.
- The C signatures follow spandsp 0.0.6 (Debian 12 libspandsp-dev: fax.h, t30.h, t30_api.h,
  t30_logging.h); C states are opaque pointers, `fax_init(NULL, calling_party)` allocates.
- One `FaxTerminal` owns one `fax_state_t`, used by one thread at a time, freed by `close()`.
  The phase D (page done) and phase E (call done) callbacks run inside `receive` / `transmit` /
  `hang_up` on the caller's thread and only copy numbers into Python.
- Errors: bad arguments raise `ValueError` with an exact message and allocate nothing; a missing
  library raises `media.spandsp.SpandspUnavailable`.
"""

from __future__ import annotations

import ctypes
import enum
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from media.spandsp import library

RATE: Final = 8000
IDENT_MAX: Final = 20  # T30_MAX_IDENT_LEN
HEADER_MAX: Final = 50  # T30_MAX_PAGE_HEADER_INFO
_IDENT_CHARS: Final = frozenset("0123456789+ ")


class Modem(enum.IntFlag):
    """T30_SUPPORT_* image modems (t30.h)."""

    V27TER = 0x01
    V29 = 0x02
    V17 = 0x04


ALL_MODEMS: Final = Modem.V27TER | Modem.V29 | Modem.V17

# t30.h enums used here.
T30_ERR_OK: Final = 0
T30_ERR_CALLDROPPED: Final = 49
_T4_COMPRESSION_ITU_T6: Final = 3
_T30_SUPPORT_T4_1D: Final = 0x02
_T30_SUPPORT_T4_2D: Final = 0x04
_T30_SUPPORT_T6: Final = 0x08
_T30_SUPPORT_STANDARD_RES: Final = 0x01
_T30_SUPPORT_FINE_RES: Final = 0x02
_T30_SUPPORT_SUPERFINE_RES: Final = 0x04
_T30_SUPPORT_215MM: Final = 0x01
_T30_SUPPORT_255MM: Final = 0x02
_T30_SUPPORT_303MM: Final = 0x04
_T30_SUPPORT_UNLIMITED: Final = 0x10000
_T30_SUPPORT_A4: Final = 0x20000
_T30_SUPPORT_B4: Final = 0x40000
_T30_SUPPORT_LETTER: Final = 0x80000
_T30_SUPPORT_LEGAL: Final = 0x100000


class _Stats(ctypes.Structure):
    """t30_stats_t of spandsp 0.0.6 (t30.h): 15 ints."""

    _fields_ = [
        ("bit_rate", ctypes.c_int),
        ("error_correcting_mode", ctypes.c_int),
        ("pages_tx", ctypes.c_int),
        ("pages_rx", ctypes.c_int),
        ("pages_in_file", ctypes.c_int),
        ("x_resolution", ctypes.c_int),
        ("y_resolution", ctypes.c_int),
        ("width", ctypes.c_int),
        ("length", ctypes.c_int),
        ("image_size", ctypes.c_int),
        ("encoding", ctypes.c_int),
        ("bad_rows", ctypes.c_int),
        ("longest_bad_row_run", ctypes.c_int),
        ("error_correcting_mode_retries", ctypes.c_int),
        ("current_status", ctypes.c_int),
    ]


# typedef void (t30_phase_e_handler_t)(t30_state_t *s, void *user_data, int completion_code);
_PHASE_E = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
# typedef int (t30_phase_d_handler_t)(t30_state_t *s, void *user_data, int result);
_PHASE_D = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)

_declared = False
_declare_lock = threading.Lock()


def _lib() -> ctypes.CDLL:
    global _declared
    lib = library()
    with _declare_lock:
        if not _declared:
            vp, i16p, c_int = ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_int
            sigs: dict[str, tuple[object, list[object]]] = {
                "fax_init": (vp, [vp, c_int]),
                "fax_free": (c_int, [vp]),
                "fax_rx": (c_int, [vp, i16p, c_int]),
                "fax_tx": (c_int, [vp, i16p, c_int]),
                "fax_set_transmit_on_idle": (None, [vp, c_int]),
                "fax_set_tep_mode": (None, [vp, c_int]),
                "fax_get_t30_state": (vp, [vp]),
                "t30_set_tx_ident": (c_int, [vp, ctypes.c_char_p]),
                "t30_get_rx_ident": (ctypes.c_char_p, [vp]),
                "t30_set_tx_page_header_info": (c_int, [vp, ctypes.c_char_p]),
                "t30_set_rx_file": (None, [vp, ctypes.c_char_p, c_int]),
                "t30_set_tx_file": (None, [vp, ctypes.c_char_p, c_int, c_int]),
                "t30_set_ecm_capability": (c_int, [vp, c_int]),
                "t30_set_rx_encoding": (c_int, [vp, c_int]),
                "t30_set_supported_modems": (c_int, [vp, c_int]),
                "t30_set_supported_compressions": (c_int, [vp, c_int]),
                "t30_set_supported_resolutions": (c_int, [vp, c_int]),
                "t30_set_supported_image_sizes": (c_int, [vp, c_int]),
                "t30_set_phase_d_handler": (None, [vp, _PHASE_D, vp]),
                "t30_set_phase_e_handler": (None, [vp, _PHASE_E, vp]),
                "t30_get_transfer_statistics": (None, [vp, ctypes.POINTER(_Stats)]),
                "t30_terminate": (None, [vp]),
                "t30_call_active": (c_int, [vp]),
                "t30_completion_code_to_str": (ctypes.c_char_p, [c_int]),
            }
            for name, (restype, argtypes) in sigs.items():
                fn = getattr(lib, name)
                fn.restype = restype
                fn.argtypes = argtypes
            _declared = True
    return lib


def completion_text(code: int) -> str:
    """spandsp's English text for a T.30 completion code (T30_ERR_*)."""
    raw = _lib().t30_completion_code_to_str(code)
    return raw.decode("ascii", "replace") if raw else f"code {code}"


def check_ident(ident: str) -> str:
    """A T.30 station identity (TSI / CSI): digits, '+' and spaces, at most 20 characters."""
    if len(ident) > IDENT_MAX:
        raise ValueError(f"fax ident is longer than {IDENT_MAX} characters: {ident!r}")
    bad = [c for c in ident if c not in _IDENT_CHARS]
    if bad:
        raise ValueError(f"fax ident may hold only digits, '+' and spaces, not {bad[0]!r}")
    return ident


@dataclass(frozen=True, slots=True)
class FaxOutcome:
    """How a fax call ended (phase E), with the transfer statistics at that moment."""

    code: int  # T30_ERR_*: 0 is success
    text: str
    pages_rx: int
    pages_tx: int
    bit_rate: int
    ecm: bool
    remote_ident: str
    x_resolution: int  # pixels per metre of the last page
    y_resolution: int
    width: int
    length: int

    @property
    def ok(self) -> bool:
        return self.code == T30_ERR_OK


def _int16(samples: NDArray[np.int16]) -> NDArray[np.int16]:
    if not isinstance(samples, np.ndarray) or samples.dtype != np.int16 or samples.ndim != 1:
        raise ValueError("samples must be a one-dimensional int16 array")
    return np.ascontiguousarray(samples)


class FaxTerminal:
    """One fax machine: spandsp's fax_state_t (T.30 over V.21 / V.27ter / V.29 / V.17 audio).

    Receiving: `FaxTerminal(receive_to=path)` answers (CED, then DIS) and writes each page it
    receives in full to that TIFF-F file. Sending: `FaxTerminal(send_from=path, calling=True)`
    sends the pages of that TIFF file. Feed every received frame to `receive` and put the
    samples of `transmit(n)` on the line; `outcome` is set once the call is over (phase E), by
    the far end or by `hang_up()` when the line drops.
    """

    _state: int | None = None  # set once fax_init succeeded; close() and __del__ rely on it

    def __init__(
        self,
        *,
        receive_to: Path | None = None,
        send_from: Path | None = None,
        calling: bool = False,
        ident: str = "",
        header_info: str = "",
        ecm: bool = True,
        modems: Modem = ALL_MODEMS,
    ) -> None:
        if (receive_to is None) == (send_from is None):
            raise ValueError("a fax terminal either receives to a file or sends from one")
        check_ident(ident)
        if len(header_info) > HEADER_MAX:
            raise ValueError(f"fax page header is longer than {HEADER_MAX} characters")
        if not header_info.isascii():
            raise ValueError("fax page header must be ASCII")
        if not modems or modems & ~ALL_MODEMS:
            raise ValueError("fax modems must be a non-empty mix of V.27ter, V.29 and V.17")
        if send_from is not None and not send_from.is_file():
            raise ValueError(f"fax document not found: {send_from}")
        if receive_to is not None and not receive_to.parent.is_dir():
            raise ValueError(f"fax receive folder not found: {receive_to.parent}")
        lib = _lib()
        self._lib = lib
        state = lib.fax_init(None, 1 if calling else 0)
        if not state:
            raise MemoryError("fax_init failed")
        self._state: int | None = state
        self.outcome: FaxOutcome | None = None
        self.pages_done = 0
        self._remote_ident = ""
        t30 = lib.fax_get_t30_state(state)
        self._t30: int = t30
        # Audio over G.711 RTP: keep sending (silence when idle) so the far end's jitter
        # buffer stays primed; no TEP (talker echo protection) tone.
        lib.fax_set_transmit_on_idle(state, 1)
        lib.fax_set_tep_mode(state, 0)
        lib.t30_set_tx_ident(t30, ident.encode("ascii"))
        if header_info:
            lib.t30_set_tx_page_header_info(t30, header_info.encode("ascii"))
        lib.t30_set_ecm_capability(t30, 1 if ecm else 0)
        lib.t30_set_supported_modems(t30, int(modems))
        lib.t30_set_supported_compressions(
            t30, _T30_SUPPORT_T4_1D | _T30_SUPPORT_T4_2D | _T30_SUPPORT_T6
        )
        lib.t30_set_supported_resolutions(
            t30, _T30_SUPPORT_STANDARD_RES | _T30_SUPPORT_FINE_RES | _T30_SUPPORT_SUPERFINE_RES
        )
        lib.t30_set_supported_image_sizes(
            t30,
            _T30_SUPPORT_215MM
            | _T30_SUPPORT_255MM
            | _T30_SUPPORT_303MM
            | _T30_SUPPORT_UNLIMITED
            | _T30_SUPPORT_A4
            | _T30_SUPPORT_B4
            | _T30_SUPPORT_LETTER
            | _T30_SUPPORT_LEGAL,
        )
        if receive_to is not None:
            # T.6 in the TIFF: the most compact of the TIFF-F codings, read by libtiff.
            lib.t30_set_rx_encoding(t30, _T4_COMPRESSION_ITU_T6)
            lib.t30_set_rx_file(t30, str(receive_to).encode(), -1)
        else:
            assert send_from is not None
            lib.t30_set_tx_file(t30, str(send_from).encode(), -1, -1)
        self._phase_d = _PHASE_D(self._on_page)
        self._phase_e = _PHASE_E(self._on_end)
        lib.t30_set_phase_d_handler(t30, self._phase_d, None)
        lib.t30_set_phase_e_handler(t30, self._phase_e, None)
        self._block = np.zeros(160, dtype=np.int16)

    def _stats(self) -> _Stats:
        stats = _Stats()
        self._lib.t30_get_transfer_statistics(self._t30, ctypes.byref(stats))
        return stats

    def _on_page(self, _t30: int, _user: int, _result: int) -> int:
        stats = self._stats()
        self.pages_done = max(stats.pages_rx, stats.pages_tx)
        raw = self._lib.t30_get_rx_ident(self._t30)
        if raw:
            self._remote_ident = raw.decode("ascii", "replace").strip()
        return T30_ERR_OK

    def _on_end(self, _t30: int, _user: int, code: int) -> None:
        if self.outcome is not None:
            return
        stats = self._stats()
        raw = self._lib.t30_get_rx_ident(self._t30)
        ident = raw.decode("ascii", "replace").strip() if raw else ""
        self.pages_done = max(stats.pages_rx, stats.pages_tx, self.pages_done)
        self.outcome = FaxOutcome(
            code=code,
            text=completion_text(code),
            pages_rx=stats.pages_rx,
            pages_tx=stats.pages_tx,
            bit_rate=stats.bit_rate,
            ecm=bool(stats.error_correcting_mode),
            remote_ident=ident or self._remote_ident,
            x_resolution=stats.x_resolution,
            y_resolution=stats.y_resolution,
            width=stats.width,
            length=stats.length,
        )

    def _live(self) -> int:
        if self._state is None:
            raise ValueError("the fax terminal is closed")
        return self._state

    @property
    def remote_ident(self) -> str:
        """The far end's TSI / CSI as far as known."""
        return self.outcome.remote_ident if self.outcome else self._remote_ident

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def receive(self, samples: NDArray[np.int16]) -> None:
        """Feed audio received from the line."""
        state = self._live()
        x = _int16(samples)
        if len(x):
            self._lib.fax_rx(state, x.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(x))

    def transmit(self, count: int) -> NDArray[np.int16]:
        """The next `count` samples to send on the line (silence once there is nothing to say)."""
        state = self._live()
        if count < 0:
            raise ValueError("sample count must not be negative")
        out = np.zeros(count, dtype=np.int16)
        if count:
            n = int(
                self._lib.fax_tx(state, out.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), count)
            )
            out[max(n, 0) :] = 0
        return out

    def hang_up(self) -> FaxOutcome:
        """The line dropped (or the call is over): finish the T.30 session and its file.

        Pages received in full stay in the TIFF file; the outcome says "call dropped" when the
        session had not ended by itself.
        """
        self._live()
        if self.outcome is None:
            self._lib.t30_terminate(self._t30)
        if self.outcome is None:  # spandsp ends silently if the session never started
            self._on_end(self._t30, 0, T30_ERR_CALLDROPPED)
        assert self.outcome is not None
        return self.outcome

    def close(self) -> None:
        if self._state is not None:
            if self.outcome is None:
                self._lib.t30_terminate(self._t30)
            self._lib.fax_free(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()


def exchange(
    sender: FaxTerminal, receiver: FaxTerminal, *, max_seconds: float = 600.0, frame: int = 160
) -> int:
    """Run two terminals back to back in memory, frame by frame; returns the samples exchanged.

    Stops when both have ended or after `max_seconds` of audio (then both are hung up).
    """
    if frame <= 0:
        raise ValueError("frame size must be positive")
    limit = int(max_seconds * RATE)
    done = 0
    while done < limit and not (sender.done and receiver.done):
        a = sender.transmit(frame)
        b = receiver.transmit(frame)
        receiver.receive(a)
        sender.receive(b)
        done += frame
    for t in (sender, receiver):
        if not t.done:
            t.hang_up()
    return done
