"""A scripted telephone for IVR tests: a pjsua2 endpoint in the test process.

- `Phones` owns the process's one pjsua2 endpoint (switch.endpoint.Pump: every pjsua2 call runs
  on its pump thread). Each `Phone` has its own UDP port, so it can be provisioned as a line's
  device with a static contact (sip:<number>@127.0.0.1:<port>): calls from it are then from an
  authenticated own device, and the worker's MWI NOTIFYs for that line arrive at it.
- A `Call` records what it hears to a WAV file; `hear(items)` waits until those prompts (and
  recorded audio) have been heard, one right after the other, after what was heard before. It
  matches by normalised cross-correlation (numpy FFT), so G.711 coding does not matter.
- Keys go out as RFC 4733 events (`press`), SIP INFO (`press(..., info=True)`) or tones in the
  audio (`tones`); `say(wav)` plays audio into the call.
- PHONE_TRACE=1 in the environment prints when each expected sequence was heard.
- pjsua2 objects are kept referenced until the endpoint stops and are dropped on the pump thread
  (the library must not free them from another thread); the wheel holds at most 4 calls.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
import wave
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pjsua2 as pj

from switch.endpoint import EndpointConfig, Pump
from switch.fax import FaxPort
from tests.support.sip import free_ports

RATE = 8000
PROMPTS = Path(__file__).resolve().parents[2] / "media" / "prompts"
MATCH = 0.8
"""Normalised cross-correlation above which a piece of a prompt counts as heard."""


# ------------------------------------------------------------------------------------------------
# Audio


def read_wav(path: str | Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.asarray(samples).astype("<i2").tobytes())
    return path


def dtmf_samples(keys: str, on_ms: int = 120, off_ms: int = 120) -> np.ndarray:
    """DTMF tones (-10 dBFS per tone) for in-band signalling."""
    rows = {
        "1": 697,
        "2": 697,
        "3": 697,
        "4": 770,
        "5": 770,
        "6": 770,
        "7": 852,
        "8": 852,
        "9": 852,
        "*": 941,
        "0": 941,
        "#": 941,
    }
    cols = {
        "1": 1209,
        "2": 1336,
        "3": 1477,
        "4": 1209,
        "5": 1336,
        "6": 1477,
        "7": 1209,
        "8": 1336,
        "9": 1477,
        "*": 1209,
        "0": 1336,
        "#": 1477,
    }
    t = np.arange(int(RATE * on_ms / 1000)) / RATE
    amp = 0.316 * 32767
    parts = [np.zeros(int(RATE * off_ms / 1000))]
    for k in keys:
        parts.append(amp * (np.sin(2 * np.pi * rows[k] * t) + np.sin(2 * np.pi * cols[k] * t)))
        parts.append(np.zeros(int(RATE * off_ms / 1000)))
    return np.concatenate(parts).astype(np.int16)


class Ear:
    """Prompt and audio templates, and where they occur in what a call heard."""

    def __init__(self, prompts: Path = PROMPTS) -> None:
        self.prompts = prompts
        self._cache: dict[str, np.ndarray] = {}

    def template(self, item: str) -> np.ndarray:
        """'<lang>/<id>' is a prompt, else a WAV path; a '[a:b]' suffix keeps seconds a to b."""
        if item not in self._cache:
            name, part = item, ""
            if item.endswith("]") and "[" in item:
                name, part = item[:-1].rsplit("[", 1)
            path = Path(name) if name.startswith("/") else self.prompts / f"{name}.wav"
            samples = read_wav(path)
            if part:
                a, b = part.split(":")
                samples = samples[int(float(a or 0) * RATE) : int(float(b) * RATE) if b else None]
            self._cache[item] = samples
        return self._cache[item]

    @staticmethod
    def ncc(signal: np.ndarray, template: np.ndarray) -> np.ndarray:
        """Normalised cross-correlation of `template` at every offset of `signal`."""
        n, m = len(signal), len(template)
        if m == 0 or n < m:
            return np.zeros(0)
        size = 1 << int(np.ceil(np.log2(n + m)))
        corr = np.fft.irfft(np.fft.rfft(signal, size) * np.conj(np.fft.rfft(template, size)), size)
        corr = corr[: n - m + 1]
        energy = np.concatenate([[0.0], np.cumsum(signal * signal)])
        window = energy[m:] - energy[:-m]
        denom = np.sqrt(np.maximum(window, 1e-9) * float(np.dot(template, template)))
        return corr / denom

    def find(
        self,
        signal: np.ndarray,
        items: Sequence[str],
        start: int,
        *,
        anywhere: bool = True,
        complete: bool = False,
    ) -> tuple[int | None, list[tuple[str, float]]]:
        """End of `items` heard back to back from `start` (the first occurrence after it when
        `anywhere`, else right at it), or None, with each item's share of matching pieces.

        The receiving jitter buffer drops or repeats a frame now and then, so an item is matched
        in CHUNK-long pieces, each allowed to slip a little from the previous one; an item is
        heard when HEARD of its pieces match. `complete`: the signal will not grow (the call
        has ended), so pieces past its end count as not heard instead of not heard yet."""
        items = [i for i in items if np.any(self.template(i)) or i != items[0]]
        if not items:
            return start, []
        if not anywhere:
            return self._match(signal, items, start, int(0.25 * RATE), complete)
        # What came before may have been cut short by a key (the end found for it is where it
        # would have ended), so the search starts a little earlier.
        start = max(0, start - BACK)
        head = self.template(items[0])
        sure: list[int] = []
        maybe: list[int] = []
        scores: list[tuple[str, float]] = []
        # Located by its first pieces: a frame slipped inside the first one blurs it, so the
        # next ones locate it too (each found place is where the item would have started).
        for k in range(LOCATE_PIECES):
            piece = head[k * CHUNK : (k + 2) * CHUNK]
            if (k and len(piece) < 2 * CHUNK) or not np.any(piece):
                continue
            c = self.ncc(signal[start:], piece)
            if not scores:
                scores = [(items[0], float(np.max(c)) if len(c) else 0.0)]
            for p in _peaks(c, MATCH, CHUNK):
                at = max(0, p - k * CHUNK)
                if all(abs(at - q) > CHUNK // 2 for q in sure):
                    sure.append(at)
            if k == 0:
                # The strongest weaker places, in the order heard: weak chance likenesses
                # before the item must not crowd it out.
                weak = [p for p in _peaks(c, LOCATE, CHUNK) if p not in sure]
                maybe = sorted(sorted(weak, key=lambda p: -c[p])[:MAYBE])
        sure.sort()
        for at in sure + maybe:  # a slip may blur the first piece: weaker places last
            end, scores = self._match(signal, items, start + at, SLIP, complete)
            if end is not None:
                return end, scores
        return None, scores

    def _match(
        self, signal: np.ndarray, items: Sequence[str], pos: int, window: int, complete: bool
    ) -> tuple[int | None, list[tuple[str, float]]]:
        end = pos
        scores: list[tuple[str, float]] = []
        gap = 0
        for item in items:
            t = self.template(item)
            if not np.any(t):
                pos += len(t)  # a pause: nothing to match
                continue
            good = total = 0
            offset = 0
            last_end = pos + len(t)
            for chunk in _chunks(t):
                n = len(chunk)
                if np.any(chunk):
                    total += 1
                    at = pos + offset
                    lo = max(0, at - window)
                    c = self.ncc(signal[lo : at + n + window + gap], chunk)
                    if len(c) == 0:
                        if complete:  # cut by the end of the call: not heard
                            offset += n
                            continue
                        scores.append((item, good / total))
                        return None, scores
                    best = int(np.argmax(c))
                    if gap and c[best] >= MATCH:
                        best = _peaks(c, MATCH, CHUNK)[0]  # a repeated word: the earliest
                        # ... unless a frame slipped inside this piece of an earlier one: a
                        # weaker place whose other pieces are all there.
                        slipped = next(
                            (
                                p
                                for p in _peaks(c, LOCATE, CHUNK)
                                if p < best - CHUNK and self._rest(signal, t, lo + p, offset + n)
                            ),
                            None,
                        )
                        if slipped is not None:
                            pos = lo + slipped - offset
                            window, gap = SLIP, 0
                            offset += n
                            continue
                    if c[best] >= MATCH:
                        good += 1
                        pos = lo + best - offset  # follow the slip
                        last_end = lo + best + n
                        window, gap = SLIP, 0
                    else:
                        # Lost: the phone's jitter buffer may have stretched a gap, or the
                        # sender paused; look wider, and further ahead (the earliest match).
                        window, gap = min(2 * window, LOST), STALL
                offset += n
            share = good / max(1, total)
            if share < HEARD and len(t) < SHORT:
                # A short word with a slip inside: the whole of it, a little less alike.
                lo = max(0, pos - window)
                c = self.ncc(signal[lo : pos + len(t) + window + gap], t)
                if len(c) and float(np.max(c)) >= WHOLE:
                    share, pos = 1.0, lo + int(np.argmax(c))
                    last_end = pos + len(t)
                elif (halves := self._split(signal, t, pos, window, gap)) is not None:
                    share, (pos, last_end) = 1.0, halves
            scores.append((item, round(share, 2)))
            if share < HEARD:
                return None, scores
            pos += len(t)
            end = min(pos, last_end)  # its end may have been cut or may never have come
            window, gap = int(0.15 * RATE), int(0.5 * RATE)  # the next item may start a bit later
        return end, scores

    def _rest(self, signal: np.ndarray, t: np.ndarray, at: int, offset: int) -> bool:
        """Whether the pieces of `t` from `offset` on are heard (HEARD of them) when `t`
        starts at `at` (each allowed to slip SLIP from the one before)."""
        good = total = 0
        start = at
        where = 0
        for chunk in _chunks(t):
            n = len(chunk)
            if where >= offset and np.any(chunk):
                total += 1
                lo = max(0, start + where - SLIP)
                c = self.ncc(signal[lo : start + where + n + SLIP], chunk)
                if len(c) and float(np.max(c)) >= MATCH:
                    good += 1
                    start = lo + int(np.argmax(c)) - where
            where += n
        return total > 0 and good / total >= HEARD

    def _split(
        self, signal: np.ndarray, t: np.ndarray, pos: int, window: int, gap: int
    ) -> tuple[int, int] | None:
        """Start and end of a short word `t` heard with a frame slipped inside it: the two
        sides of some cut each alike, the second within SLIP of where the first puts it. The
        second side leaves out the frame after the cut (a dropped one may have been there)."""
        lo = max(0, pos - window)
        for cut in range(SPLIT_MIN, len(t) - SPLIT_MIN - FRAME + 1, SPLIT_STEP):
            first, second = t[:cut], t[cut + FRAME :]
            c = self.ncc(signal[lo : pos + cut + window + gap], first)
            if not len(c) or float(np.max(c)) < MATCH:
                continue
            at = lo + int(np.argmax(c)) + cut + FRAME  # the second side, without a slip
            lo2 = max(0, at - SLIP)
            c2 = self.ncc(signal[lo2 : at + len(second) + SLIP], second)
            if len(c2) and float(np.max(c2)) >= MATCH:
                return at - cut - FRAME, lo2 + int(np.argmax(c2)) + len(second)
        return None


def sound_map(signal: np.ndarray, step: float = 0.25, quiet: float = 30.0) -> str:
    """Where `signal` holds sound and where silence ("sound 0.0-4.5 s, silence 4.5-29.9 s"), in
    `step`-long pieces whose RMS is above `quiet`: says in a failure whether the call went
    silent or played something else."""
    n = int(step * RATE)
    parts: list[str] = []
    start, loud = 0.0, None
    for i in range(0, len(signal), n):
        piece = signal[i : i + n]
        now = bool(np.sqrt(np.mean(piece * piece)) > quiet)
        if loud is not None and now != loud:
            parts.append(f"{'sound' if loud else 'silence'} {start:.1f}-{i / RATE:.1f} s")
            start = i / RATE
        loud = now
    if loud is not None:
        parts.append(f"{'sound' if loud else 'silence'} {start:.1f}-{len(signal) / RATE:.1f} s")
    if len(parts) > 12:
        parts = [*parts[:4], f"... {len(parts) - 8} more ...", *parts[-4:]]
    return ", ".join(parts) or "nothing"


def _peaks(c: np.ndarray, threshold: float, spacing: int) -> list[int]:
    """Positions of the local maxima of `c` above `threshold`, at least `spacing` apart."""
    out: list[int] = []
    for i in np.flatnonzero(c >= threshold):
        if out and i - out[-1] < spacing:
            if c[i] > c[out[-1]]:
                out[-1] = int(i)
            continue
        out.append(int(i))
    return out


CHUNK = int(0.1 * RATE)
SLIP = int(0.06 * RATE)
LOST = int(0.4 * RATE)
STALL = int(1.0 * RATE)
"""How much later the rest of an item may come after a piece is lost: a sender that stalled
(a loaded machine) resumes where it was, so what follows is late by the pause, not lost."""
BACK = int(0.3 * RATE)
LOCATE = 0.5
LOCATE_PIECES = 5
"""Pieces of the first item tried in turn to locate it (its first 0.6 s: at a call's start the
phone's stream may miss the first packets and its jitter buffer slip a frame as it settles)."""
MAYBE = 6
"""Weaker places tried for the first item when no clear one is confirmed."""
"""Normalised correlation that locates the first item (roughly: pieces are then checked)."""
HEARD = 0.6
"""Share of an item's pieces that must match."""
SHORT = int(0.6 * RATE)
SPLIT_MIN = int(0.06 * RATE)
"""Shortest side of a short word cut in two where a frame slipped (Ear._split)."""
SPLIT_STEP = int(0.01 * RATE)
FRAME = int(0.02 * RATE)
"""The longest frame a jitter buffer drops or puts in."""
WHOLE = 0.7
"""Normalised correlation of a whole short item that counts it as heard."""


def _chunks(t: np.ndarray) -> list[np.ndarray]:
    """CHUNK-long pieces; a short remainder joins the last piece."""
    if len(t) < 2 * CHUNK:
        return [t]
    cuts = list(range(CHUNK, len(t) - CHUNK // 2, CHUNK))
    return np.split(t, cuts)


# ------------------------------------------------------------------------------------------------
# pjsua2


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, phone: Phone) -> None:
        super().__init__()
        self.phone = phone

    def onMwiInfo(self, prm: pj.OnMwiInfoParam) -> None:
        self.phone._notify(prm.rdata.wholeMsg)

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        if self.phone.answering:
            self.phone._incoming(Call(self.phone, "", (), call_id=prm.callId))
            return
        call = pj.Call(self, prm.callId)
        op = pj.CallOpParam()
        op.statusCode = 486
        call.hangup(op)
        self.phone.phones.keep(call)


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, acc: pj.Account, owner: Call, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(acc, call_id)
        self.owner = owner

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        self.owner._state(info.state, info.lastStatusCode)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        for i, m in enumerate(info.media):
            if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.owner._media(self.getAudioMedia(i))
                return
        self.owner._media(None)  # on hold (either side), or no audio


class Phones:
    """The test process's pjsua2 endpoint."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.pump = Pump(
            EndpointConfig(
                host="127.0.0.1",
                port=free_ports(1),
                advertised_host="127.0.0.1",
                tcp=False,
                max_calls=4,
                user_agent="relais-test-phone",
                # An adaptive buffer, as a phone has: the fixed one a worker uses for fax
                # drops a 10 ms frame now and then, and short prompts were then not recognised.
                fixed_jitter_ms=None,
            )
        )
        self._objects: list[Any] = []
        self._lock = threading.Lock()
        self.pump.on_destroy = self._drop
        self.pump.start()
        self.ear = Ear()
        self._calls = 0
        self._street: Phone | None = None
        self._made: list[Phone] = []

    def keep(self, obj: Any) -> Any:
        with self._lock:
            self._objects.append(obj)
        return obj

    def forget(self, obj: Any) -> None:
        """Drop a kept object (pump thread): the library frees it now."""
        with self._lock:
            self._objects = [o for o in self._objects if o is not obj]

    def _drop(self) -> None:
        for obj in self._objects:
            if isinstance(obj, _Call):
                obj.owner = None
            elif isinstance(obj, Call):
                obj._call = obj._audio = obj._recorder = None
            elif isinstance(obj, Phone):
                obj.account = None
            elif isinstance(obj, FaxPort):
                obj.destroy()  # never by its last reference (switch.fax.FaxPort.destroy)
        self._objects.clear()
        gc.collect()

    def phone(self, number: str) -> Phone:
        """A phone with its own port and SIP account, until `retire` (pjsua holds at most 8
        transports and 8 accounts, the endpoint's own port and the street's included)."""
        phone = Phone(self, number)
        with self._lock:
            self._made.append(phone)
        return phone

    def retire(self, timeout: float = 10.0) -> None:
        """Free the phones `phone` made since the last retire (their account and their port),
        once their calls have ended (the `phones` fixture hangs them up first)."""
        with self._lock:
            made, self._made = self._made, []
            calls = [o for o in self._objects if isinstance(o, Call) and o.phone in made]
        if not made:
            return
        for call in calls:
            with contextlib.suppress(AssertionError):
                call.wait_ended(timeout)

        def drop() -> None:
            for phone in made:
                account, phone.account = phone.account, None
                if account is not None:
                    self.forget(account)
                    with contextlib.suppress(pj.Error):
                        account.shutdown()
                if phone.transport_id is not None:
                    with contextlib.suppress(pj.Error):
                        self.pump.ep.transportClose(phone.transport_id)

        self.pump.call(drop)

    def caller(self, number: str) -> Phone:
        """A phone calling as `number` from the one shared street port (no account of its
        own): never anybody's device."""
        if self._street is None:
            self._street = Phone(self, "street")
        return Phone(self, number, share=self._street)

    def next_name(self) -> str:
        with self._lock:
            self._calls += 1
            return f"call{self._calls}"

    def hangup_all(self) -> None:
        """Hang up every call still up (a test that failed halfway leaves some)."""
        with self._lock:
            calls = [o for o in self._objects if isinstance(o, Call) and not o.ended]
        for call in calls:
            call.hangup()

    def close(self) -> None:
        def teardown() -> None:
            self.pump.ep.hangupAllCalls()

        self.pump.stop(teardown)


class Phone:
    """A SIP phone with its own port; `number` is its From user."""

    def __init__(self, phones: Phones, number: str, share: Phone | None = None) -> None:
        self.phones = phones
        self.number = number
        self.notifies: list[str] = []
        self.answering = False
        """Answer incoming calls (200) instead of refusing them (486); see `wait_incoming`."""
        self.incoming: list[Call] = []
        self._cond = threading.Condition()
        self.transport_id: int | None = None
        if share is not None:
            self.port, self.account = share.port, share.account
            return
        self.port = free_ports(1)

        def setup() -> None:
            tc = pj.TransportConfig()
            tc.port = self.port
            tc.boundAddress = "127.0.0.1"
            tid = phones.pump.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
            self.transport_id = tid
            cfg = pj.AccountConfig()
            cfg.idUri = f"sip:{number}@127.0.0.1:{self.port}"
            cfg.sipConfig.transportId = tid
            cfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
            acc = _Account(self)
            acc.create(cfg, False)
            phones.keep(acc)
            self.account = acc

        phones.keep(self)
        phones.pump.call(setup)

    @property
    def local_uri(self) -> str:
        """The From URI of its calls."""
        return f"sip:{self.number}@127.0.0.1:{self.port}"

    @property
    def contact(self) -> str:
        """The static contact URI to provision for this phone."""
        return f"sip:{self.number}@127.0.0.1:{self.port}"

    def _notify(self, text: str) -> None:
        with self._cond:
            self.notifies.append(text)
            self._cond.notify_all()

    def wait_notify(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The first NOTIFY (whole message) received that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for text in self.notifies:
                    if predicate(text):
                        return text
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no matching NOTIFY in {timeout} s; got {len(self.notifies)}:\n"
                        + "\n---\n".join(self.notifies[-3:])
                    )
                self._cond.wait(left)

    def call(self, target: str, headers: Iterable[tuple[str, str]] = ()) -> Call:
        return Call(self, target, tuple(headers))

    def _incoming(self, call: Call) -> None:
        with self._cond:
            self.incoming.append(call)
            self._cond.notify_all()

    def wait_incoming(self, timeout: float = 15.0) -> Call:
        """The first call this phone answered (with `answering` on)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.incoming:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.number}: no incoming call in {timeout} s")
                self._cond.wait(left)
            return self.incoming[0]


class Call:
    """One call from a Phone (or to it: `call_id` of an incoming call, answered at once).
    Every method may be used from the test thread."""

    def __init__(
        self,
        phone: Phone,
        target: str,
        headers: tuple[tuple[str, str], ...],
        call_id: int | None = None,
    ) -> None:
        self.phone = phone
        self.phones = phone.phones
        self.name = self.phones.next_name()
        self.path = self.phones.workdir / f"{self.name}-heard.wav"
        self.state = 0
        self.status = 0
        self.heard_to = 0
        """Sample position up to which expectations were met."""
        self._audio: pj.AudioMedia | None = None
        self.active = False
        """The audio flows both ways (not on hold)."""
        self.media_updates = 0
        self._recorder: pj.AudioMediaRecorder | None = None
        self._cond = threading.Condition()
        self.phones.keep(self)

        def answer() -> None:
            call = _Call(phone.account, self, call_id)
            self.phones.keep(call)
            self._call = call
            prm = pj.CallOpParam()
            prm.statusCode = 200
            call.answer(prm)

        if call_id is not None:
            self.phones.pump.call(answer)
            return

        def make() -> None:
            call = _Call(phone.account, self)
            prm = pj.CallOpParam(True)
            prm.txOption.localUri = phone.local_uri
            for name, value in headers:
                h = pj.SipHeader()
                h.hName = name
                h.hValue = value
                prm.txOption.headers.append(h)
            self.phones.keep(call)
            self._call = call
            call.makeCall(target, prm)

        deadline = time.monotonic() + 5
        while True:
            try:
                self.phones.pump.call(make)
                return
            except pj.Error as exc:
                # A call slot of the wheel's 4 is freed just after its DISCONNECTED callback.
                if "TOOMANY" not in exc.info() or time.monotonic() > deadline:
                    raise AssertionError(
                        f"{self.name}: cannot call {target}: {exc.info()}"
                    ) from None
                time.sleep(0.2)

    # -- callbacks (pump thread) -----------------------------------------------------------------

    def _state(self, state: int, code: int) -> None:
        if state == pj.PJSIP_INV_STATE_DISCONNECTED and self._recorder is not None:
            self.phones.forget(self._recorder)  # destroyed here: its last block is written
            self._recorder = None
        with self._cond:
            self.state = state
            self.status = code
            self._cond.notify_all()

    def _media(self, audio: pj.AudioMedia | None) -> None:
        """Every media update: pjsua re-creates the stream when a re-INVITE changes it (a hold,
        a resume), and the new stream's bridge port has no connections: the recorder is
        connected again (connecting twice is harmless)."""
        if audio is not None:
            if self._recorder is None:
                rec = pj.AudioMediaRecorder()
                rec.createRecorder(str(self.path))
                self.phones.keep(rec)
                self._recorder = rec
            audio.startTransmit(self._recorder)
        with self._cond:
            if audio is not None:
                self._audio = audio
            self.active = audio is not None
            self.media_updates += 1
            self._cond.notify_all()

    # -- script ----------------------------------------------------------------------------------

    def wait_answered(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._audio is None:
                if self.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                    raise AssertionError(f"{self.name} ended with {self.status} before answer")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name} not answered in {timeout} s")
                self._cond.wait(left)

    @property
    def ended(self) -> bool:
        return self.state == pj.PJSIP_INV_STATE_DISCONNECTED

    def wait_ended(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name} still up after {timeout} s")
                self._cond.wait(left)

    def heard(self) -> np.ndarray:
        """Everything heard so far (the recorder writes in quarter-second blocks)."""
        try:
            data = self.path.read_bytes()[44:]
        except FileNotFoundError:
            return np.zeros(0)
        return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(np.float64)

    def hear(self, *items: str, timeout: float = 30.0, anywhere: bool = True) -> None:
        """Wait until `items` are heard back to back after what was heard before."""
        items = tuple(i for i in items if i)
        deadline = time.monotonic() + timeout
        scores: list[tuple[str, float]] = []
        looked_at = -1
        while True:
            complete = self.ended  # before the read: an ended call's file is final
            heard = self.heard()
            if len(heard) != looked_at:  # new audio since the last look (or the last of it)
                looked_at = len(heard)
                end, scores = self.phones.ear.find(
                    heard, items, self.heard_to, anywhere=anywhere, complete=complete
                )
                if end is not None:
                    self.heard_to = end
                    if os.environ.get("PHONE_TRACE"):
                        print(
                            f"{time.monotonic():.1f} {self.name}: {items[-1]} ends at {end / RATE:.1f} s"
                        )
                    return
            if complete or time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: not heard {'before the call ended' if complete else f'in {timeout} s'}"
                    f" after {self.heard_to / RATE:.2f} s"
                    f" (heard {len(heard) / RATE:.1f} s: {sound_map(heard)}): {scores}"
                )
            time.sleep(0.25)

    def not_heard(self, *items: str, since: int | None = None) -> bool:
        """True when `items` were not heard after the current position (or `since`)."""
        start = self.heard_to if since is None else since
        complete = self.ended
        end, _ = self.phones.ear.find(self.heard(), items, start, complete=complete)
        return end is None

    def press(self, keys: str, *, info: bool = False, gap: float = 0.25) -> None:
        """Keys as RFC 4733 events (or SIP INFO), one every `gap` seconds."""
        for k in keys:

            def send(k: str = k) -> None:
                if info:
                    prm = pj.CallSendDtmfParam()
                    prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
                    prm.digits = k
                    self._call.sendDtmf(prm)
                else:
                    self._call.dialDtmf(k)

            self.phones.pump.call(send)
            time.sleep(gap)

    def say(self, wav: Path, wait: bool = True) -> float:
        """Play a WAV into the call; returns its length (waited for when `wait`)."""
        with wave.open(str(wav), "rb") as w:
            seconds = w.getnframes() / w.getframerate()

        def play() -> None:
            player = pj.AudioMediaPlayer()
            player.createPlayer(str(wav), pj.PJMEDIA_FILE_NO_LOOP)
            assert self._audio is not None
            player.startTransmit(self._audio)
            self.phones.keep(player)

        self.phones.pump.call(play)
        if wait:
            time.sleep(seconds + 0.1)
        return seconds

    def tones(self, keys: str) -> None:
        """Keys as DTMF tones in the audio (no RFC 4733)."""
        path = (
            self.phones.workdir
            / f"{self.name}-tones-{keys.replace('*', 's').replace('#', 'p')}.wav"
        )
        write_wav(path, dtmf_samples(keys))
        self.say(path)

    def transfer(self, target: str) -> None:
        """Ask the other side to call `target` (a blind transfer: REFER); the answer comes to
        `transfer_status`."""
        self.phones.pump.call(lambda: self._call.xfer(target, pj.CallOpParam(True)))

    def hold(self) -> None:
        """Put the call on hold (a re-INVITE with sendonly audio); returns once it is."""
        self._reoffer(lambda: self._call.setHold(pj.CallOpParam(True)), active=False)

    def resume(self) -> None:
        """Take the call off hold (a re-INVITE with sendrecv audio); returns once it is."""

        def unhold() -> None:
            prm = pj.CallOpParam(True)
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            self._call.reinvite(prm)

        self._reoffer(unhold, active=True)

    def _reoffer(self, send: Callable[[], None], active: bool, timeout: float = 10.0) -> None:
        with self._cond:
            before = self.media_updates
        self.phones.pump.call(send)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.media_updates == before or self.active != active:
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    raise AssertionError(f"{self.name}: the re-INVITE did not complete")
                self._cond.wait(left)

    def hangup(self) -> None:
        def bye() -> None:
            if not self.ended and self._call is not None:
                with contextlib.suppress(pj.Error):
                    self._call.hangup(pj.CallOpParam())

        self.phones.pump.call(bye)
        self.wait_ended()


def contains(signal: np.ndarray, wav: str | Path, start: float = 0.5, end: float = 0.0) -> bool:
    """Whether `signal` holds the audio of `wav` from `start` s to `end` s before its end
    (matched in pieces that may slip: audio that went through a jitter buffer)."""
    length = len(read_wav(wav)) / RATE
    part = f"{Path(wav).resolve()}[{start}:{length - end if end else ''}]"
    found, _ = Ear().find(np.asarray(signal, dtype=np.float64), [part], 0)
    return found is not None


def ids(lang: str, *prompt_ids: str | Iterable[str]) -> list[str]:
    """Prompt ids (or lists of them, as media.say returns) as '<lang>/<id>' items; absolute
    paths are kept."""
    out: list[str] = []
    for p in prompt_ids:
        for i in [p] if isinstance(p, str) else p:
            out.append(i if i.startswith("/") else f"{lang}/{i}")
    return out
