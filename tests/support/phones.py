"""Real softphones for the peer tests: baresip and linphonec, registered through the edge.

Each phone runs in its own directory on its own loopback address, plays a 440/600 Hz tone as
its microphone, and records what it hears to a WAV file so tests can check the audio path.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tests.support.ports import free_port


def tone(path: Path, hz: int, seconds: float = 30.0) -> Path:
    """A 16-bit 8 kHz mono sine WAV."""
    t = np.arange(int(8000 * seconds)) / 8000
    samples = (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())
    return path


def rms(path: Path) -> float:
    """RMS level (0..1) of a 16-bit WAV, tolerant of a header not finalised yet."""
    data = path.read_bytes()[44:]
    samples = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples**2)) / 32768)


class Phone:
    """A softphone process whose output is collected in a log file."""

    name = "phone"

    def __init__(self, workdir: Path, host: str) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = free_port(host)
        self.log = self.dir / "out.log"
        self.process: subprocess.Popen[bytes] | None = None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, pattern: str, timeout: float = 10.0, count: int = 1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.text())) >= count:
                return True
            if self.process is not None and self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Baresip(Phone):
    """baresip 1.0 with an account registered at the edge; audio in: a tone, out: sndfile dumps."""

    name = "baresip"
    REGISTERED = r"\{0/UDP/v4\} 200 OK"

    def start(
        self,
        edge: tuple[str, int],
        username: str,
        password: str,
        domain: str,
        *,
        answer: str = "auto",
        max_calls: int = 4,
        mwi: bool = False,
    ) -> Baresip:
        """mwi: load the mwi module, which subscribes to the account's message-summary."""
        tone(self.dir / "mic.wav", 440)
        (self.dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen {self.host}:{self.port}",
                    "audio_player alsa,null",
                    "audio_alert alsa,null",
                    f"audio_source aufile,{self.dir / 'mic.wav'}",
                    "module_path /usr/lib/baresip/modules",
                    # baresip 1.0's mwi module re-subscribes every subscription it holds 1 ms
                    # after it loads, appending to the list it walks: when the account has
                    # registered by then (the edge answers within a millisecond on loopback)
                    # it loops forever. Loaded first, the other modules' loading (alsa's
                    # takes a few ms) is over before the account registers.
                    *(["module mwi.so"] if mwi else []),
                    "module g711.so",
                    "module aufile.so",
                    "module alsa.so",
                    "module sndfile.so",
                    f"snd_path {self.dir}",
                    "module_app account.so",
                    "module_app menu.so",
                    f"call_max_calls {max_calls}",
                    "",
                ]
            )
        )
        (self.dir / "accounts").write_text(
            f"<sip:{username}@{domain}>;auth_pass={password};"
            f'outbound="sip:{edge[0]}:{edge[1]}";regint=600;answermode={answer}'
            + (";mwi=yes" if mwi else "")
            + "\n"
        )
        with self.log.open("wb") as fh:
            self.process = subprocess.Popen(
                ["baresip", "-f", str(self.dir)],
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.dir,
            )
        return self

    def heard(self) -> Path | None:
        """The WAV of what the phone received in its last call."""
        dumps = sorted(self.dir.glob("dump-*-dec.wav"))
        return dumps[-1] if dumps else None


class Linphonec(Phone):
    """linphonec (liblinphone 5.1) driven on stdin; audio in: a tone file, out: a WAV file."""

    name = "linphonec"

    def start(
        self,
        edge: tuple[str, int],
        username: str,
        password: str,
        domain: str,
        *,
        auto_answer: bool = True,
        max_calls: int = 4,
    ) -> Linphonec:
        home = self.dir / "home"
        # liblinphone does not start its core without a writable data directory.
        (home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        tone(self.dir / "mic.wav", 600)
        rtp = free_port(self.host)
        (self.dir / "linphonerc").write_text(
            f"""[sip]
sip_port={self.port}
sip_tcp_port=-1
sip_tls_port=-1
bind_address={self.host}
default_proxy=0
register_only_when_network_is_up=0
max_calls={max_calls}
[rtp]
audio_rtp_port={rtp}
[video]
enabled=0
capture=0
display=0
[proxy_0]
reg_proxy=<sip:{edge[0]}:{edge[1]};transport=udp>
reg_identity=sip:{username}@{domain}
reg_expires=600
reg_sendregister=1
publish=0
[auth_info_0]
username={username}
passwd={password}
realm={domain}
domain={domain}
"""
        )
        argv = [
            "linphonec",
            "-c",
            str(self.dir / "linphonerc"),
            "-d",
            "4",
            "-l",
            str(self.dir / "liblinphone.log"),
        ]
        if auto_answer:
            argv.append("-a")
        with self.log.open("wb") as fh:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.dir,
                env={**os.environ, "HOME": str(home)},
            )
        self.command("soundcard use files")
        self.command(f"play {self.dir / 'mic.wav'}")
        self.command(f"record {self.dir / 'heard.wav'}")
        return self

    def command(self, line: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def registered(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.command("status register")
            if self.wait_for(r"registered, identity=", 0.5):
                return True
        return False

    def registration_failed(self, timeout: float = 10.0) -> bool:
        """True once liblinphone reports the account's registration as failed."""
        log = self.dir / "liblinphone.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                log.exists()
                and re.search(r"to \[LinphoneRegistrationFailed\]", log.read_text(errors="replace"))
                and re.search(r"SIP/2.0 403", log.read_text(errors="replace"))
            ):
                return True
            time.sleep(0.1)
        return False

    def heard(self) -> Path | None:
        p = self.dir / "heard.wav"
        return p if p.exists() else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.command("quit")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(3)
        super().stop()


@contextlib.contextmanager
def running(phone: Phone) -> Iterator[Phone]:
    try:
        yield phone
    finally:
        phone.stop()
