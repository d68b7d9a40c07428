"""Real SIP peers for the tests: a switch worker on free loopback ports with its own store,
SIPp scenarios (tests/peer/scenarios/*.xml) and audio fixtures (WAV prompts, RTP pcaps).

Scenario files are SIPp XML with `{{name}}` placeholders filled by `render()`: `{{from}}` (the
caller's From name-addr), `{{headers}}` (extra header lines), `{{code}}`, `{{pcap}}`, ...
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import warnings
import wave
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from routing.model import LineSettings
from store import repository
from store.migrate import upgrade
from store.session import Store
from tests.support import logs
from tests.support.ports import free_ports

SCENARIOS = Path(__file__).resolve().parents[1] / "peer" / "scenarios"
SIPP = "/usr/bin/sipp"
PROMPT_IDS = {
    # id: (seconds, Hz) - short distinct tones standing in for the spoken prompts
    "greeting_system": (0.3, 500.0),
    "greeting_system_busy": (0.3, 600.0),
    "leave_message": (0.2, 700.0),
    "beep": (0.1, 1000.0),
    "mailbox_full": (0.3, 800.0),
    "goodbye": (0.2, 900.0),
    "confirm_call_for": (0.2, 1400.0),
    "confirm_from": (0.1, 1400.0),
    "confirm_from_private": (0.1, 1400.0),
    "confirm_press_1": (0.3, 1400.0),
}

# ------------------------------------------------------------------------------------------------
# Ports

# ------------------------------------------------------------------------------------------------
# Audio fixtures


def tone(seconds: float, hz: float, amplitude: float = 0.3, rate: int = 8000) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype("<i2")


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def write_prompts(folder: Path) -> Path:
    """Short tones under <folder>/<lang>/<id>.wav for every prompt id the switch plays."""
    for lang in ("fr", "en"):
        for prompt_id, (seconds, hz) in PROMPT_IDS.items():
            write_wav(folder / lang / f"{prompt_id}.wav", tone(seconds, hz))
    return folder


def wav_info(path: Path) -> tuple[float, int, int, int]:
    """(seconds, rate, channels, sample width) of a WAV file."""
    with wave.open(str(path), "rb") as w:
        return (
            w.getnframes() / w.getframerate(),
            w.getframerate(),
            w.getnchannels(),
            w.getsampwidth(),
        )


def dominant_hz(samples: np.ndarray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    spectrum[:5] = 0
    return float(np.argmax(spectrum) * rate / len(samples))


def tone_alaw(
    seconds: float, hz: float, amplitude: float = 0.3, *, syllables: bool = False
) -> bytes:
    """A tone as A-law bytes (8 kHz). With `syllables`, the tone is loud for 400 ms then 26 dB
    softer for 100 ms, over and over (loud at both ends): voice to the IVR's voice-activity
    detector, which takes a steady tone filling a whole recording for line noise
    (media.analysis.VadSettings)."""
    pcm = tone(seconds, hz, amplitude)
    if syllables:
        n = len(pcm)
        position = np.arange(n) % 4000  # 500 ms cycles at 8 kHz
        soft = (position >= 3200) & (np.arange(n) < n - 3200)
        pcm = np.where(soft, pcm // 20, pcm).astype("<i2")
    return audioop.lin2alaw(pcm.tobytes(), 2)


def write_tone_stream(
    path: Path, seconds: float, hz: float, amplitude: float = 0.3, *, syllables: bool = False
) -> Path:
    """tone_alaw as a raw A-law file, as SIPp's rtp_stream action sends it (render's `stream`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tone_alaw(seconds, hz, amplitude, syllables=syllables))
    return path


def write_tone_pcap(
    path: Path, seconds: float, hz: float, amplitude: float = 0.3, *, syllables: bool = False
) -> Path:
    """An RTP stream (PCMA, 20 ms packets) of tone_alaw, as SIPp's play_pcap_audio reads it."""
    alaw = tone_alaw(seconds, hz, amplitude, syllables=syllables)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    seq, ts, ssrc = 1000, 0, 0x1234ABCD
    for i in range(0, len(alaw), 160):
        payload = alaw[i : i + 160]
        rtp = struct.pack("!BBHII", 0x80, 8, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = (
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                0,
                0,
                64,
                17,
                0,
                socket.inet_aton("127.0.0.1"),
                socket.inet_aton("127.0.0.1"),
            )
            + udp
        )
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        t = seq - 1000
        out += struct.pack("<IIII", t // 50, (t % 50) * 20000, len(frame), len(frame)) + frame
        seq += 1
        ts += 160
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


def write_dtmf_pcap(path: Path, digit: str, payload_type: int) -> Path:
    """SIPp's RFC 4733 capture of `digit` (/usr/share/sip-tester/dtmf_2833_<digit>.pcap) with
    its RTP payload type changed to `payload_type`: a SIPp UAS that answers an offer must send
    events with the offerer's payload type (pjsua offers telephone-event/8000 as 120)."""
    name = {"#": "pound", "*": "star"}.get(digit, digit)
    data = bytearray(Path(f"/usr/share/sip-tester/dtmf_2833_{name}.pcap").read_bytes())
    at = 24  # after the global header
    while at + 16 <= len(data):
        length = struct.unpack_from("<I", data, at + 8)[0]
        frame = at + 16
        ip = frame + 14
        rtp = ip + (data[ip] & 0x0F) * 4 + 8
        data[rtp + 1] = (data[rtp + 1] & 0x80) | payload_type
        at = frame + length
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------------------------------------
# SIPp


INFO_POUND = """  <send retrans="500">
    <![CDATA[
      INFO sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: {{from}};tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 INFO
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=#
      Duration=160
    ]]>
  </send>
  <recv response="200"/>"""


PLAY_PCAP = '<exec play_pcap_audio="{{pcap}}"/>'


def render(scenario: str, dest: Path, **values: Any) -> Path:
    """Fill a scenario template; `headers` may be a sequence of 'Name: value' lines.

    `stream` (a raw A-law file, write_tone_stream) makes the caller send it with SIPp's
    rtp_stream action instead of playing `pcap`: rtp_stream serves 20 calls per thread where
    play_pcap_audio runs a thread per call, and with hundreds of calls at once on two cores
    those threads send late (measured on the wire: see docs/operations.md)."""
    text = (SCENARIOS / scenario).read_text()
    stream = values.pop("stream", None)
    if stream is not None:
        if PLAY_PCAP not in text:
            raise KeyError(f"{scenario}: plays no {{{{pcap}}}} to replace with a stream")
        text = text.replace(PLAY_PCAP, f'<exec rtp_stream="{stream},1,8"/>')
    headers = values.pop("headers", ())
    values["headers"] = "".join(f"      {h}\n" for h in headers)
    values.setdefault("from", '"Test Caller" <sip:6135559999@127.0.0.1>')
    values.setdefault("pcap", "/usr/share/sip-tester/g711a.pcap")
    values.setdefault("wait_ms", 0)
    values.setdefault("reason", "Status")
    dtmf = values.get("dtmf")
    if dtmf == "rfc4733":
        values["dtmf_block"] = (
            '  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_pound.pcap"/>'
            "</action></nop>"
        )
    elif dtmf == "info":
        values["dtmf_block"] = INFO_POUND

    def fill(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise KeyError(f"{scenario}: no value for {{{{{key}}}}}")
        return str(values[key])

    dest.parent.mkdir(parents=True, exist_ok=True)
    text = re.sub(r"\{\{(\w+)\}\}", fill, text)
    dest.write_text(re.sub(r"\{\{(\w+)\}\}", fill, text))
    return dest


@dataclass
class Message:
    at: float
    """Unix time the message was sent or received."""
    sent: bool
    first_line: str
    text: str

    @property
    def method(self) -> str:
        return self.first_line.split()[0]

    @property
    def status(self) -> int | None:
        parts = self.first_line.split()
        return int(parts[1]) if parts[0].startswith("SIP/") else None

    def header(self, name: str) -> list[str]:
        out = []
        for line in self.text.splitlines():
            n, sep, v = line.partition(":")
            if sep and n.strip().lower() == name.lower():
                out.append(v.strip())
        return out


_TRACE = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d)[ \t](\d\d:\d\d:\d\d\.\d+)\s*$")


@dataclass
class Sipp:
    """One SIPp process (a caller, a device or a trunk) with its message trace."""

    name: str
    scenario: Path
    port: int
    workdir: Path
    target: str | None = None
    service: str | None = None
    calls: int = 1
    rate: float | None = None
    timeout: float = 30.0
    extra: Sequence[str] = ()
    proc: subprocess.Popen[bytes] | None = None
    media_port: int = 0
    local_ip: str = "127.0.0.1"
    rc: int | None = None
    _out: Any = None

    def argv(self) -> list[str]:
        self.media_port = self.media_port or free_ports(4)
        argv = [
            SIPP,
            "-sf",
            str(self.scenario),
            "-i",
            self.local_ip,
            "-p",
            str(self.port),
            "-mp",
            str(self.media_port),
            "-m",
            str(self.calls),
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(self.workdir / f"{self.name}.msg"),
            "-trace_err",
            "-error_file",
            str(self.workdir / f"{self.name}.err"),
            "-timeout",
            f"{int(self.timeout)}s",
            "-timeout_error",
            "-max_recv_loops",
            "1000",
            "-aa",
        ]
        if self.service:
            argv += ["-s", self.service]
        if self.rate is not None:
            argv += ["-r", str(self.rate)]
        argv += list(self.extra)
        if self.target:
            argv.append(self.target)
        return argv

    def start(self) -> Sipp:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._out = open(self.workdir / f"{self.name}.out", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.argv(), stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        return self

    def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None
        try:
            self.rc = self.proc.wait(timeout if timeout is not None else self.timeout + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.rc = self.proc.wait()
        if self._out is not None:
            self._out.close()
        return self.rc

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)  # SIPp: stop gracefully
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._out is not None:
            self._out.close()

    def run(self) -> int:
        self.start()
        return self.wait()

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def messages(self) -> list[Message]:
        path = self.workdir / f"{self.name}.msg"
        if not path.exists():
            return []
        out: list[Message] = []
        blocks = re.split(r"(?m)^(?=-{20,} \d{4}-)", path.read_text(errors="replace"))
        for block in blocks:
            lines = block.splitlines()
            if not lines:
                continue
            m = _TRACE.match(lines[0])
            if not m or len(lines) < 3:
                continue
            at = datetime.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H:%M:%S.%f").timestamp()
            sent = " sent " in lines[1]
            body = [ln for ln in lines[2:]]
            while body and not body[0].strip():
                body.pop(0)
            if not body:
                continue
            out.append(Message(at, sent, body[0].strip(), "\n".join(body)))
        return out

    def received(self, method_or_status: str | int) -> list[Message]:
        return [
            m
            for m in self.messages()
            if not m.sent and (m.method == method_or_status or m.status == method_or_status)
        ]

    def sent(self, method_or_status: str | int) -> list[Message]:
        return [
            m
            for m in self.messages()
            if m.sent and (m.method == method_or_status or m.status == method_or_status)
        ]

    def describe(self) -> str:
        out = (self.workdir / f"{self.name}.out").read_text(errors="replace")[-1500:]
        err_path = self.workdir / f"{self.name}.err"
        err = err_path.read_text(errors="replace")[-1500:] if err_path.exists() else ""
        return f"sipp {self.name} rc={self.rc}\n{err}\n{out}"


# ------------------------------------------------------------------------------------------------
# A switch worker under test


@dataclass
class SwitchUnderTest:
    root: Path
    db_url: str
    port: int
    store: Store
    prompts: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log: Path | None = None
    _numbers: Iterator[int] = field(default_factory=lambda: iter(range(6135600000, 6135699999)))

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def new_number(self) -> str:
        return str(next(self._numbers))

    def account(self, number: str | None = None, **mailbox: Any) -> str:
        number = number or self.new_number()
        with self.store.transaction() as s:
            repository.create_account(
                s,
                number=number,
                name=f"Subscriber {number}",
                password="motdepasse1",
                pin="4826",
                language="en",
                mailbox=repository.MailboxDefaults(**mailbox) if mailbox else None,
            )
        return number

    def device(self, number: str, contact: str) -> None:
        with self.store.transaction() as s:
            repository.add_device(
                s,
                number=number,
                username=f"d{number}-{re.sub(r'[^0-9]', '', contact)[-5:]}",
                password="device-pass-1",
                domain="relais.local",
                contact=contact,
            )

    def settings(self, number: str, **changes: Any) -> LineSettings:
        with self.store.transaction() as s:
            current = repository.line_settings(s, number)
            assert current is not None
            new = replace(current, **changes)
            repository.save_line_settings(s, new)
        return new

    def rows(self, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        with self.store.read() as s:
            return list(s.execute(text(sql), params).all())

    def call_log(self, line: str) -> list[Any]:
        return self.rows(
            "SELECT direction, disposition, caller_number, caller_name, duration_seconds, call_id"
            " FROM call_log WHERE line_number = :line ORDER BY id",
            line=line,
        )

    def messages(self, line: str) -> list[Any]:
        return self.rows(
            "SELECT id, duration_seconds, file_path, caller_number, size_bytes FROM message"
            " WHERE line_number = :line ORDER BY id",
            line=line,
        )

    def events(self, line: str) -> list[Any]:
        return self.rows(
            "SELECT topic, payload FROM outbox WHERE topic LIKE :t ORDER BY id",
            t=f"relais/{line}/%",
        )

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"condition not met in {timeout} s; worker log:\n{self.tail()}"
                )
            time.sleep(0.05)

    def tail(self, n: int = 60) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def sipp(
        self,
        name: str,
        scenario: str,
        *,
        workdir: Path,
        uas: bool = False,
        service: str | None = None,
        calls: int = 1,
        timeout: float = 30.0,
        extra: Sequence[str] = (),
        target: str | None = None,
        port: int = 0,
        local_ip: str = "127.0.0.1",
        **values: Any,
    ) -> Sipp:
        path = render(scenario, workdir / f"{name}.xml", **values)
        return Sipp(
            name=name,
            scenario=path,
            port=port or free_ports(1),
            workdir=workdir,
            target=None if uas else (target or self.target),
            service=service,
            calls=calls,
            timeout=timeout,
            extra=extra,
            local_ip=local_ip,
        )

    def phone(self, line: str, name: str, scenario: str, *, workdir: Path, **values: Any) -> Sipp:
        """A SIPp device of `line`, reached at its static contact URI, already running."""
        port = free_ports(1)
        self.device(line, f"sip:{name}@127.0.0.1:{port}")
        return self.sipp(name, scenario, workdir=workdir, uas=True, port=port, **values).start()


def base_env(root: Path, db_url: str, prompts: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(
        RELAIS_STORAGE_ROOT=str(root),
        RELAIS_DATABASE_URL=db_url,
        RELAIS_PROMPTS_DIR=str(prompts),
        RELAIS_SIP_PORT=str(port),
        RELAIS_SIP_ADVERTISED_HOST="127.0.0.1",
        RELAIS_SWITCH_HOST="127.0.0.1",
        RELAIS_LOG_LEVEL="INFO",
    )
    return env


@contextlib.contextmanager
def switch_store(tmp: Path) -> Iterator[tuple[Path, str, Store, Path]]:
    root = tmp / "var"
    root.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{root / 'relais.db'}"
    store = Store(db_url)
    upgrade(store.engine)
    prompts = write_prompts(tmp / "prompts")
    try:
        yield root, db_url, store, prompts
    finally:
        store.dispose()


def wait_ready(proc: subprocess.Popen[bytes], log: Path, needle: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"switch exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"switch not ready in {timeout} s:\n{log.read_text()[-3000:]}")


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def run_worker(
    tmp: Path, env_overrides: Mapping[str, str] | None = None, port: int | None = None
) -> Iterator[SwitchUnderTest]:
    """One switch worker (`python -m switch.worker --no-edge`) with a fresh store and prompts
    (on `port`, or a free one)."""
    with switch_store(tmp) as (root, db_url, store, prompts):
        port = port or free_ports(1)
        env = base_env(root, db_url, prompts, port)
        env.update(env_overrides or {})
        log = tmp / "worker.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "switch.worker",
                    "--no-edge",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        sut = SwitchUnderTest(root, db_url, port, store, prompts, env, [proc], log)
        logs.watch(log, f"switch worker on port {port}")
        try:
            wait_ready(proc, log, "ready: switch worker")
            yield sut
        finally:
            logs.unwatch(log)
            stop_process(proc)


# ------------------------------------------------------------------------------------------------
# RTP capture (tshark on loopback)


@dataclass
class RtpCapture:
    """Captures UDP datagrams sent to the given ports; `audio(port)` decodes their RTP (PCMA
    or PCMU) into samples."""

    ports: Sequence[int]
    seconds: float
    proc: subprocess.Popen[str] | None = None
    packets: dict[int, list[bytes]] = field(default_factory=dict)

    def __enter__(self) -> RtpCapture:
        bpf = " or ".join(f"udp dst port {p}" for p in self.ports)
        self.proc = subprocess.Popen(
            [
                "tshark",
                "-i",
                "lo",
                "-f",
                bpf,
                "-a",
                f"duration:{int(self.seconds)}",
                "-l",
                "-T",
                "fields",
                "-e",
                "udp.dstport",
                "-e",
                "data.data",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # tshark says "Capturing on 'Loopback: lo'"
            line = self.proc.stderr.readline()
            if "Capturing on" in line or not line:
                break
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        out, _ = self.proc.communicate(timeout=self.seconds + 30)
        for row in out.splitlines():
            port, _, payload = row.partition("\t")
            if port.isdigit() and payload:
                self.packets.setdefault(int(port), []).append(bytes.fromhex(payload))

    def audio(self, port: int) -> np.ndarray:
        chunks = []
        for pkt in self.packets.get(port, []):
            if len(pkt) <= 12 or pkt[0] >> 6 != 2:
                continue
            pt = pkt[1] & 0x7F
            body = pkt[12:]
            if pt == 8:
                chunks.append(audioop.alaw2lin(body, 2))
            elif pt == 0:
                chunks.append(audioop.ulaw2lin(body, 2))
        return np.frombuffer(b"".join(chunks), dtype="<i2")


def need_tap() -> None:
    """The listening tap (switch/tap.c) of relais' pjsua2 build: a test of it is skipped only
    with the stock wheel, which cannot have one; relais' own build without it fails."""
    from switch import tap
    from switch.endpoint import LIMITS

    if LIMITS.build == "stock":
        pytest.skip("the stock pjsua2 wheel has no relais tap (make install builds it)")
    assert tap.library() is not None, "relais' pjsua2 build has no librelais_tap.so"
