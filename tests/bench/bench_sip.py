"""SIP benchmark (SPEC S13): SIPp callers against switch workers, next to SIPp -> SIPp.

Rows (each names the worker layout: workers x call slots, and the pjsua2 build):
- reference: SIPp UAC -> SIPp UAS directly (the ceiling of this machine and of SIPp);
- sustained voicemail calls per second (line in DND, 2 s message, call held 3 s), stepping the
  rate up until the first failed call, retransmission or damaged message: the highest clean
  rate;
- INVITE -> 200 OK latency p50/p99 at 50 calls/s;
- switch CPU per completed voicemail call (all workers' user + system time over a step, at the
  50 calls/s step; also in units of a fixed CPU workload run in this process, cpu_reference,
  since the machine's speed moves from day to day by more than a code change), idle CPU of
  all workers, RSS per worker, and RSS growth per 1,000 calls over steps repeated at 50
  calls/s once the rate steps are done (what a call leaves behind, not the working set of a
  higher rate), with the growth since the warm-up step next to it;
- concurrent 60 s deposits held: every slot of every worker filled (capacity read from the
  workers' status, not assumed), a few calls past it that must get 503, and every stored
  message intact.
"Intact" is tests/bench/wavcheck.py: the length of the audio sent, the caller's tone, and no
silent 20 ms frame inside (a length check alone passes a recording with a hole).
There is no dispatcher without the edge: each worker gets its own SIPp caller, and the rate is
split evenly between them. RELAIS_BENCH_WORKERS overrides the default layout (`workers`).
The callers send their audio with SIPp's rtp_stream action (20 calls per SIPp thread), not
play_pcap_audio (a thread per call): with 512 calls at once on two cores, a capture on the
loopback showed 205 of the 512 callers' streams sending a packet more than 100 ms late (the
workers' fixed jitter buffer) while no stream the workers sent was late by more than 96 ms;
the holes that left in the messages were the load generator's, not the switch's.
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

from config.settings import default_workers
from routing.engine import decide
from routing.model import CallFacts, LineSettings, PhoneState
from tests.bench.bench_routing import STRANGER, _call, full_line
from tests.bench.table import Row
from tests.bench.wavcheck import check_file
from tests.support.sip import (
    Sipp,
    SwitchUnderTest,
    base_env,
    free_ports,
    render,
    stop_process,
    switch_store,
    write_tone_stream,
)

AREA = "sip"
WORKERS = os.environ.get("RELAIS_BENCH_WORKERS", "")
"""Worker processes; empty = the default layout (setting `workers`)."""
RELAIS = str(Path(sys.executable).with_name("relais"))
STEP_SECONDS = 8
RATES = (10.0, 20.0, 30.0, 40.0, 50.0, 64.0, 80.0, 100.0, 128.0, 160.0)
LATENCY_RATE = 50.0
STEADY_STEPS = 2
"""Steps at LATENCY_RATE repeated after the others, over which the RSS growth per call is read."""
HOLD_S = 3.0
MESSAGE_S = 2.0
IDLE_S = 10.0


@dataclass(frozen=True)
class Layout:
    """What the workers say of themselves (run/switch-<i>.json)."""

    pids: list[int]
    capacities: list[int]
    build: str

    def __str__(self) -> str:
        slots = sorted(set(self.capacities))
        each = "/".join(str(c) for c in slots)
        return f"{len(self.pids)} workers x {each} slots, {self.build} pjsua2"


def layout(root: Path) -> Layout:
    statuses = [json.loads(f.read_text()) for f in sorted((root / "run").glob("switch-*.json"))]
    import pjsua2

    calls = getattr(pjsua2, "MAX_CALLS", 4)
    build = f"relais build ({calls}/process)" if calls > 4 else "stock (4/process)"
    return Layout([s["pid"] for s in statuses], [int(s["capacity"]) for s in statuses], build)


class Meter:
    """CPU seconds and RSS of the worker processes."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(p) for p in pids]

    def cpu(self) -> float:
        total = 0.0
        for p in self.procs:
            t = p.cpu_times()
            total += t.user + t.system
        return total

    def rss(self) -> list[int]:
        return [p.memory_info().rss for p in self.procs]


@contextmanager
def workers(tmp: Path, count: int) -> Iterator[tuple[SwitchUnderTest, list[int]]]:
    with switch_store(tmp) as (root, db_url, store, prompts):
        base = free_ports(count + 1)
        env = base_env(root, db_url, prompts, base)
        env.update(RELAIS_SWITCH_BASE_PORT=str(base), RELAIS_LOG_LEVEL="WARNING")
        env["RELAIS_WORKERS"] = str(count)
        log = tmp / "switch.log"
        with open(log, "wb") as out:
            sup = subprocess.Popen(
                [RELAIS, "switch"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        sut = SwitchUnderTest(root, db_url, base, store, prompts, env, [sup], log)
        try:
            deadline = time.monotonic() + 60
            while len(list((root / "run").glob("switch-*.json"))) < count:
                if time.monotonic() > deadline or sup.poll() is not None:
                    raise RuntimeError(f"workers did not start:\n{sut.tail()}")
                time.sleep(0.2)
            yield sut, [base + i for i in range(count)]
        finally:
            stop_process(sup, grace=20)


def stats(sipp: Sipp) -> dict[str, int]:
    """Final counters of a SIPp run (from its -trace_stat file)."""
    path = sipp.workdir / f"{sipp.name}.csv"
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    head = lines[0].split(";")
    last = lines[-1].split(";")
    out = {}
    for key in ("SuccessfulCall(C)", "FailedCall(C)", "Retransmissions(C)", "OutgoingCall(C)"):
        if key in head:
            out[key] = int(last[head.index(key)] or 0)
    return out


def rtts(sipp: Sipp) -> list[float]:
    path = sipp.workdir / f"{sipp.name}_rtt.csv"
    found = sorted(sipp.workdir.glob(f"{sipp.name}*_rtt.csv"))
    path = found[0] if found else path
    if not path.exists():
        return []
    out = []
    for ln in path.read_text().splitlines()[1:]:
        parts = ln.split(";")
        if len(parts) >= 2 and re.fullmatch(r"[\d.]+", parts[1] or "x"):
            out.append(float(parts[1]))
    return out


def callers(
    work: Path,
    ports: list[int],
    line: str,
    rate: float,
    calls: int,
    *,
    audio: Path,
    wait_ms: int,
    hold_ms: int,
    name: str,
) -> list[Sipp]:
    """One SIPp caller per worker, the rate split evenly."""
    out = []
    per = max(1, calls // len(ports))
    for i, port in enumerate(ports):
        scenario = render(
            "uac_answer.xml",
            work / f"{name}-{i}.xml",
            stream=audio,
            wait_ms=wait_ms,
            hold_ms=hold_ms,
        )
        sipp = Sipp(
            name=f"{name}-{i}",
            scenario=scenario,
            port=free_ports(1),
            workdir=work,
            target=f"127.0.0.1:{port}",
            service=line,
            calls=per,
            # SIPp's own time-out: longer than the ramp and the hold together
            timeout=per / max(rate / len(ports), 0.1) + (wait_ms + hold_ms) / 1000 + 60,
            extra=[
                "-r",
                f"{rate / len(ports):.3f}",
                "-rp",
                "1000",
                "-l",
                "2000",
                "-trace_stat",
                "-stf",
                str(work / f"{name}-{i}.csv"),
                "-fd",
                "1",
                "-trace_rtt",
                "-rtt_freq",
                "1",
            ],
        )
        # the message trace of thousands of calls is not needed here
        out.append(sipp)
    for s in out:
        argv = s.argv()
        i = argv.index("-trace_msg")
        del argv[i : i + 3]
        s.workdir.mkdir(parents=True, exist_ok=True)
        s._out = open(s.workdir / f"{s.name}.out", "wb")  # noqa: SIM115
        s.proc = subprocess.Popen(
            argv, stdout=s._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=s.workdir
        )
    return out


@dataclass
class Step:
    rate: float
    calls: int
    clean: bool
    totals: dict[str, int]
    rtt: list[float]
    cpu_s: float
    stored: int
    damaged: list[str]


def run_step(
    sut: SwitchUnderTest, ports: list[int], work: Path, rate: float, audio: Path, meter: Meter
) -> Step:
    line = sut.account()
    sut.settings(line, phone_state=PhoneState.DND)
    calls = max(len(ports), int(rate * STEP_SECONDS))
    calls -= calls % len(ports)
    cpu0 = meter.cpu()
    peers = callers(
        work,
        ports,
        line,
        rate,
        calls,
        audio=audio,
        wait_ms=700,
        hold_ms=round(HOLD_S * 1000) - 700,
        name=f"r{rate:g}",
    )
    total: dict[str, int] = {}
    all_rtt: list[float] = []
    for p in peers:
        p.wait()
        for k, v in stats(p).items():
            total[k] = total.get(k, 0) + v
        all_rtt += rtts(p)
    time.sleep(1.5)
    cpu = meter.cpu() - cpu0
    msgs = sut.messages(line)
    damaged = [
        f"{m.id}: {why}"
        for m in msgs
        if (why := check_file(sut.root / m.file_path, seconds=MESSAGE_S))
    ]
    clean = (
        all(p.rc == 0 for p in peers)
        and total.get("FailedCall(C)", 1) == 0
        and total.get("Retransmissions(C)", 1) == 0
        and len(msgs) == calls
        and not damaged
    )
    return Step(rate, calls, clean, total, all_rtt, cpu, len(msgs), damaged)


def idle_cpu(meter: Meter, seconds: float = IDLE_S) -> float:
    """Cores the idle workers use together."""
    before = meter.cpu()
    time.sleep(seconds)
    return (meter.cpu() - before) / seconds


CPU_REFERENCE_ROUNDS = 5
CPU_REFERENCE_N = 2000


@functools.cache
def _reference_call() -> tuple[LineSettings, CallFacts]:
    """One settings object for every round: the engine's plan cache then answers by identity
    (an equal but new object is compared field by field, lists included)."""
    return full_line(1000), _call(STRANGER)


def cpu_reference() -> float:
    """CPU ms of a fixed workload in this process, the best of CPU_REFERENCE_ROUNDS: 2,000
    routing decisions (Python, as the workers' dialogs and pump) and 2,000 datagrams of 172
    bytes (an RTP packet's size) sent and received on the loopback (the kernel, as the media
    threads). The machine's own speed moves from day to day, even from minute to minute, by
    more than a code change does: the CPU row is also given in units of this reference,
    measured at the start of the run and again right after the rate steps (their mean)."""
    settings, call = _reference_call()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        to = rx.getsockname()
        packet = bytes(172)
        best = float("inf")
        for _ in range(CPU_REFERENCE_ROUNDS):
            started = time.process_time()
            for _ in range(CPU_REFERENCE_N):
                decide(settings, call)
                tx.sendto(packet, to)
                rx.recv(2048)
            best = min(best, time.process_time() - started)
    finally:
        rx.close()
        tx.close()
    return 1000 * best


def reference(work: Path) -> float:
    """SIPp UAC -> SIPp UAS, highest clean rate found (calls/s)."""
    best = 0.0
    for rate in (1000, 2000, 4000):
        uas_port, uac_port = free_ports(1), free_ports(1)
        uas = subprocess.Popen(
            ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port), "-nostdin"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=work,
        )
        time.sleep(0.5)
        n = rate * 5
        stf = work / f"ref-{rate}.csv"
        started = time.monotonic()
        rc = subprocess.run(
            [
                "sipp",
                "-sn",
                "uac",
                "-i",
                "127.0.0.1",
                "-p",
                str(uac_port),
                "-m",
                str(n),
                "-r",
                str(rate),
                "-l",
                "5000",
                "-nostdin",
                "-timeout",
                "60s",
                "-trace_stat",
                "-stf",
                str(stf),
                "-fd",
                "1",
                f"127.0.0.1:{uas_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=work,
        ).returncode
        elapsed = time.monotonic() - started
        uas.terminate()
        try:
            uas.wait(5)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait()
        lines = [ln for ln in stf.read_text().splitlines() if ln.strip()]
        head, last = lines[0].split(";"), lines[-1].split(";")
        failed = int(last[head.index("FailedCall(C)")])
        retrans = int(last[head.index("Retransmissions(C)")])
        if rc != 0 or failed or retrans:
            break
        best = n / elapsed
    return best


def concurrent_deposits(
    sut: SwitchUnderTest, ports: list[int], work: Path, capacity: int
) -> tuple[int, int, int, int, float]:
    """Every slot filled with a 60 s deposit, a few calls past it: (peak held, messages stored,
    intact, refused with 503, worst length error s)."""
    line = sut.account()
    sut.settings(line, phone_state=PhoneState.DND)
    seconds = 60.0
    audio = write_tone_stream(work / "sixty.alaw", seconds, 440.0, syllables=True)
    calls = capacity + 4 * len(ports)  # a little past capacity: the extra ones must get 503
    calls -= calls % len(ports)
    rate = max(2.0, calls / 45.0)  # all placed well within one message's length
    peers = callers(
        work, ports, line, rate, calls, audio=audio, wait_ms=700, hold_ms=60300, name="held"
    )
    peak = 0
    deadline = time.monotonic() + calls / rate + 90
    while any(p.proc is not None and p.proc.poll() is None for p in peers):
        if time.monotonic() > deadline:
            break
        active = 0
        for f in (sut.root / "run").glob("switch-*.json"):
            with suppress(ValueError, KeyError, OSError):
                active += int(json.loads(f.read_text())["active_calls"])
        peak = max(peak, active)
        time.sleep(0.5)
    for p in peers:
        p.wait(60)
    time.sleep(3)
    msgs = sut.messages(line)
    intact = sum(
        1 for m in msgs if not check_file(sut.root / m.file_path, seconds=seconds, tolerance=0.25)
    )
    worst = max((abs(m.duration_seconds - seconds) for m in msgs), default=0.0)
    failed = sum(stats(p).get("FailedCall(C)", 0) for p in peers)
    print(
        f"# sip: held peak {peak}, {len(msgs)} messages, {intact} intact, {failed} refused, "
        f"worst length error {worst * 1000:.0f} ms",
        file=sys.stderr,
        flush=True,
    )
    return min(peak, len(msgs)), len(msgs), intact, failed, worst


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="relais-bench-sip-") as tmp_name:
        tmp = Path(tmp_name)
        cpu_ref = cpu_reference()
        ref = reference(tmp)
        rows.append(
            Row(
                AREA,
                "SIPp UAC -> SIPp UAS direct (calls/s, clean)",
                f"{ref:.0f}",
                "machine ceiling",
                "",
            )
        )
        audio = write_tone_stream(tmp / "two.alaw", MESSAGE_S, 440.0, syllables=True)
        count = int(WORKERS) if WORKERS else default_workers()
        with workers(tmp / "w", count) as (sut, ports):
            lay = layout(sut.root)
            meter = Meter(lay.pids)
            idle = idle_cpu(meter)
            rss_start = meter.rss()
            rss_warm = rss_start
            steps: list[Step] = []
            best: Step | None = None
            for rate in RATES:
                step = run_step(sut, ports, tmp / f"s{rate:g}", rate, audio, meter)
                steps.append(step)
                print(
                    f"# sip: {rate:g} calls/s x {step.calls}: clean={step.clean} "
                    f"stored={step.stored} damaged={len(step.damaged)} {step.totals} "
                    f"cpu={step.cpu_s:.1f}s {step.damaged[:3]}",
                    file=sys.stderr,
                    flush=True,
                )
                if len(steps) == 1:
                    rss_warm = meter.rss()  # after the first step: the warm-up
                if not step.clean:
                    break
                best = step
            at = next((s for s in steps if s.rate == LATENCY_RATE), None)
            if at is None or not at.clean:
                at = run_step(sut, ports, tmp / "lat", LATENCY_RATE, audio, meter)
                steps.append(at)
            cpu_ref_after = cpu_reference()
            rtt = sorted(at.rtt)
            p50 = statistics.median(rtt) if rtt else float("nan")
            p99 = rtt[min(len(rtt) - 1, int(len(rtt) * 0.99))] if rtt else float("nan")
            cpu_ms = 1000 * at.cpu_s / max(1, at.stored)
            cpu_ref_mean = (cpu_ref + cpu_ref_after) / 2
            # RSS growth: from after the first step (warm-up) to now, per call handled since
            # (this includes the working set of the higher rates' calls in flight), then what
            # repeated steps at LATENCY_RATE, a load the workers have already held, add: what
            # each call leaves behind.
            rss_end = meter.rss()
            handled = sum(s.calls for s in steps[1:])
            growth_kb = (sum(rss_end) - sum(rss_warm)) / 1024 / max(1, handled) * 1000
            steady_calls = 0
            for i in range(STEADY_STEPS):
                again = run_step(sut, ports, tmp / f"steady{i}", LATENCY_RATE, audio, meter)
                steady_calls += again.calls
            rss_steady = meter.rss()
            steady_kb = (sum(rss_steady) - sum(rss_end)) / 1024 / max(1, steady_calls) * 1000
            held, stored, intact, refused, worst = concurrent_deposits(
                sut, ports, tmp / "held", sum(lay.capacities)
            )
        best_rate = best.rate if best is not None else 0.0
        ratio = best_rate / ref if ref else 0.0
        where = str(lay)
        rows += [
            Row(
                AREA,
                f"voicemail calls/s, clean, every WAV intact ({where})",
                f"{best_rate:g}",
                f"{ratio:.4f} of SIPp direct",
                ">= 100",
            ),
            Row(
                AREA,
                f"INVITE->200 p50 / p99 at {at.rate:g} calls/s (ms; {where})",
                f"{p50:.1f} / {p99:.1f}",
                f"{len(rtt)} calls",
                "p99 < 20",
            ),
            Row(
                AREA,
                f"switch CPU per voicemail call at {at.rate:g} calls/s (ms; {where})",
                f"{cpu_ms:.1f}",
                f"{at.stored} calls, {at.cpu_s:.1f} CPU s; {cpu_ms / cpu_ref_mean:.2f} x the "
                f"CPU reference workload (cpu_reference: {cpu_ref:.1f} ms at the start of this "
                f"run, {cpu_ref_after:.1f} ms after the rate steps)",
                "<= 12",
            ),
            Row(
                AREA,
                f"idle CPU of all workers (cores; {where})",
                f"{idle:.3f}",
                f"RSS per worker {statistics.mean(rss_start) / 2**20:.0f} MB at start",
                "< 0.05",
            ),
            Row(
                AREA,
                f"worker RSS growth per 1,000 calls, steady {LATENCY_RATE:g} calls/s (KB; {where})",
                f"{steady_kb:.0f}",
                f"{steady_calls} calls after the steps; over the steps from the warm-up on "
                f"(higher rates' calls in flight included): {growth_kb:.0f} KB per 1,000 of "
                f"{handled}; RSS per worker {statistics.mean(rss_steady) / 2**20:.0f} MB",
                "< 5,000",
            ),
            Row(
                AREA,
                f"concurrent 60 s deposits held, intact ({where})",
                f"{held} held, {intact} intact",
                f"{sum(lay.capacities)} slots; {stored} stored, {refused} refused past them; "
                f"worst length error {worst * 1000:.0f} ms",
                ">= 500",
            ),
        ]
    return rows
