"""Fax test documents and page comparison (a spandsp sender's pages vs what was received)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from media import faxdoc


def document(path: Path, pages: int = 3, *, title: str = "Relais fax test") -> Path:
    """A generated multi-page TIFF-F whose pages differ visibly (their number, their words)."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    faxdoc.render_document(
        [
            [f"Page {n}: {words[n % len(words)]} " * 3, f"Line two of page {n}"]
            + [f"{n}.{k} " + words[(n + k) % len(words)] * (1 + k % 4) for k in range(18)]
            for n in range(1, pages + 1)
        ],
        path,
        title=title,
    )
    return path


def similarity(a: Image.Image, b: Image.Image) -> float:
    """Black-pixel overlap (intersection over union) of two bilevel pages of the same size."""
    if a.size != b.size:
        return 0.0
    x = np.asarray(a.convert("1")) == 0
    y = np.asarray(b.convert("1")) == 0
    union = np.count_nonzero(x | y)
    return 1.0 if union == 0 else np.count_nonzero(x & y) / union


def pdf_pages(pdf: Path, out: Path) -> list[tuple[float, float]]:
    """Each PDF page's size in points, read by Ghostscript (an independent PDF reader)."""
    import subprocess

    script = (
        f"({pdf}) (r) file runpdfbegin 1 1 pdfpagecount "
        "{ pdfgetpage /MediaBox pget pop { = } forall } for quit"
    )
    done = subprocess.run(
        ["gs", "-q", "-dNODISPLAY", "-dNOSAFER", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=out,
    )
    nums = [float(v) for v in done.stdout.split()]
    return [(nums[i + 2] - nums[i], nums[i + 3] - nums[i + 1]) for i in range(0, len(nums), 4)]


def pdf_images(pdf: Path, out: Path, dpi: tuple[int, int] = faxdoc.DPI) -> list[Image.Image]:
    """The PDF's pages rasterised by Ghostscript at the fax resolution, bilevel."""
    import subprocess

    subprocess.run(
        [
            "gs",
            "-q",
            "-dBATCH",
            "-dNOPAUSE",
            "-dSAFER",
            "-sDEVICE=pngmono",
            f"-r{dpi[0]}x{dpi[1]}",
            f"-sOutputFile={out}/page-%d.png",
            str(pdf),
        ],
        check=True,
    )
    files = sorted(out.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    return [Image.open(f).convert("1") for f in files]


class FaxSender:
    """A spandsp fax transmitter on a test phone's call (switch.fax.FaxPort in the test's
    pjsua2 endpoint): it sends `tiff` as soon as the call's audio flows."""

    def __init__(
        self, call: Any, tiff: Path, ident: str = "+1 819 555 0142", modems: Any = None
    ) -> None:
        from media.fax import FaxTerminal
        from switch.fax import FaxPort

        self.call = call
        self.ended = threading.Event()
        call.wait_answered()
        from media.fax import ALL_MODEMS

        self.terminal = FaxTerminal(
            send_from=tiff, calling=True, ident=ident, modems=modems or ALL_MODEMS
        )
        phones = call.phones

        def start() -> None:
            audio = call._audio
            port = FaxPort(self.terminal, call.name, lambda _o: self.ended.set())
            audio.startTransmit(port)
            port.startTransmit(audio)
            phones.keep(port)
            self.port = port

        phones.pump.call(start)

    def __enter__(self) -> FaxSender:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Always free the port on the pump thread (never after the endpoint is gone)."""
        if not self.call.ended:
            self.call.hangup()
        self.finish()

    @property
    def pages(self) -> int:
        return self.terminal.pages_done

    def wait_pages(self, pages: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.terminal.pages_done < pages:
            if self.ended.is_set() or time.monotonic() > deadline:
                raise AssertionError(
                    f"sender: {self.terminal.pages_done} pages sent, {pages} expected "
                    f"({self.terminal.outcome})"
                )
            time.sleep(0.1)

    def wait_done(self, timeout: float = 180.0) -> Any:
        """The sender's outcome once its session ended or the call did (the receiver may hang
        up as soon as it has the sender's DCN, before the sender's own phase E)."""
        deadline = time.monotonic() + timeout
        self.stats = ""
        while not self.ended.is_set() and not self.call.ended:
            self.stats = self._stats() or self.stats
            if time.monotonic() > deadline:
                raise AssertionError(f"fax not finished in {timeout} s ({self.pages} pages sent)")
            time.sleep(0.5)
        self.call.wait_ended()
        return self.finish()

    def _stats(self) -> str:
        def read() -> str:
            try:
                st = self.call._call.getStreamStat(0)
            except Exception:
                return ""
            j, r = st.jbuf, st.rtcp.rxStat
            return (
                f"jb prefetch {j.prefetch} size {j.size} lost {j.lost} discard {j.discard} "
                f"empty {j.empty} delay {j.avgDelayMsec}/{j.maxDelayMsec} ms; rtp rx {r.pkt} "
                f"loss {r.loss} jitter {r.jitterUsec.mean / 1000:.1f} ms"
            )

        return str(self.call.phones.pump.call(read))

    def finish(self) -> Any:
        """Disconnect and free the port (pump thread); the sender's outcome."""
        phones = self.call.phones

        def stop() -> Any:
            port = self.port
            outcome = port.finish()
            port.destroy()
            phones.forget(port)
            self.port = None
            return outcome

        if getattr(self, "port", None) is None:
            return self.terminal.outcome
        return phones.pump.call(stop)


def worker_log(log: Path | None) -> str:
    """A worker's log as it is now ("" when there is none)."""
    try:
        return log.read_text(errors="replace") if log is not None else ""
    except OSError:
        return ""


def receiver_report(log: Path | None, last: int = 2) -> str:
    """The last fax reports in a worker's log ("fax ended: ... N frames (M empty)"), for a
    failure message: damaged frames at the receiver show as empty ones."""
    lines = worker_log(log).splitlines()
    return "\n".join([line for line in lines if "fax ended:" in line][-last:])


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {what}")
        time.sleep(0.2)
