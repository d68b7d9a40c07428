"""SIP benchmark (SPEC S13): SIPp callers against switch workers, next to SIPp -> SIPp.

Rows:
- reference: SIPp UAC -> SIPp UAS directly (the ceiling of this machine and of SIPp);
- sustained voicemail calls per second (line in DND, 2 s message, call held 3 s), stepping the
  rate up until the first failed call or retransmission: the highest clean rate;
- concurrent deposits held (ramp at 2 calls/s, 60 s messages), every WAV within 20 ms of the
  audio sent;
- INVITE -> 200 OK latency p50/p99 at half the highest clean rate.
There is no dispatcher without the edge: each worker gets its own SIPp caller, and the rate is
split evenly between them. Every stored message's duration is checked against the audio sent.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from routing.model import PhoneState
from tests.bench.table import Row
from tests.support.sip import (
    Sipp,
    SwitchUnderTest,
    base_env,
    free_ports,
    render,
    stop_process,
    switch_store,
    write_tone_pcap,
)

AREA = "sip"
WORKERS = int(os.environ.get("RELAIS_BENCH_WORKERS", "16"))
RELAIS = str(Path(sys.executable).with_name("relais"))
STEP_SECONDS = 8
RATES = (2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 20.0, 24.0, 32.0, 48.0, 64.0, 100.0)


@contextmanager
def workers(tmp: Path, count: int) -> Iterator[tuple[SwitchUnderTest, list[int]]]:
    with switch_store(tmp) as (root, db_url, store, prompts):
        base = free_ports(count + 1)
        env = base_env(root, db_url, prompts, base)
        env.update(RELAIS_SWITCH_BASE_PORT=str(base), RELAIS_LOG_LEVEL="WARNING")
        log = tmp / "switch.log"
        with open(log, "wb") as out:
            sup = subprocess.Popen(
                [RELAIS, "switch", "--workers", str(count)],
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
    pcap: Path,
    wait_ms: int,
    hold_ms: int,
    name: str,
) -> list[Sipp]:
    """One SIPp caller per worker, the rate split evenly."""
    out = []
    per = max(1, calls // len(ports))
    for i, port in enumerate(ports):
        scenario = render(
            "uac_answer.xml", work / f"{name}-{i}.xml", pcap=pcap, wait_ms=wait_ms, hold_ms=hold_ms
        )
        sipp = Sipp(
            name=f"{name}-{i}",
            scenario=scenario,
            port=free_ports(1),
            workdir=work,
            target=f"127.0.0.1:{port}",
            service=line,
            calls=per,
            timeout=STEP_SECONDS + 90,
            extra=[
                "-r",
                f"{rate / len(ports):.3f}",
                "-rp",
                "1000",
                "-l",
                "1000",
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


def run_step(
    sut: SwitchUnderTest,
    ports: list[int],
    work: Path,
    rate: float,
    pcap: Path,
    seconds: float = 2.0,
) -> tuple[bool, dict[str, int], list[float], int]:
    line = sut.account()
    sut.settings(line, phone_state=PhoneState.DND)
    calls = max(len(ports), int(rate * STEP_SECONDS))
    calls -= calls % len(ports)
    peers = callers(
        work,
        ports,
        line,
        rate,
        calls,
        pcap=pcap,
        wait_ms=700,
        hold_ms=3000 - 700,
        name=f"r{rate:g}",
    )
    total: dict[str, int] = {}
    all_rtt: list[float] = []
    for p in peers:
        p.wait()
        for k, v in stats(p).items():
            total[k] = total.get(k, 0) + v
        all_rtt += rtts(p)
    time.sleep(1.0)
    msgs = sut.messages(line)
    bad = sum(1 for m in msgs if abs(m.duration_seconds - seconds) > 0.25)
    clean = (
        all(p.rc == 0 for p in peers)
        and total.get("FailedCall(C)", 1) == 0
        and total.get("Retransmissions(C)", 1) == 0
        and len(msgs) == calls
        and bad == 0
    )
    return clean, total, all_rtt, calls


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
    sut: SwitchUnderTest, ports: list[int], work: Path
) -> tuple[int, int, float]:
    """Ramp at 2 calls/s, 60 s messages: deposits held at once, and WAVs off by > 20 ms."""
    line = sut.account()
    sut.settings(line, phone_state=PhoneState.DND)
    pcap = write_tone_pcap(work / "sixty.pcap", 60.0, 440.0, syllables=True)
    capacity = 4 * len(ports)
    calls = capacity + len(ports)  # a little past capacity: the extra ones must get 503
    calls -= calls % len(ports)
    peers = callers(
        work, ports, line, 2.0, calls, pcap=pcap, wait_ms=700, hold_ms=60300, name="held"
    )
    peak = 0
    deadline = time.monotonic() + calls / 2.0 + 70
    while any(p.proc is not None and p.proc.poll() is None for p in peers):
        if time.monotonic() > deadline:
            break
        active = 0
        for f in (sut.root / "run").glob("switch-*.json"):
            try:
                import json

                active += int(json.loads(f.read_text())["active_calls"])
            except (ValueError, KeyError, OSError):
                pass
        peak = max(peak, active)
        time.sleep(0.5)
    for p in peers:
        p.wait(30)
    time.sleep(2)
    msgs = sut.messages(line)
    off = sum(1 for m in msgs if abs(m.duration_seconds - 60.0) > 0.02)
    worst = max((abs(m.duration_seconds - 60.0) for m in msgs), default=0.0)
    print(
        f"# sip: held {len(msgs)} messages, worst error {worst * 1000:.0f} ms",
        file=sys.stderr,
        flush=True,
    )
    return min(peak, len(msgs)), off, worst


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="relais-bench-sip-") as tmp_name:
        tmp = Path(tmp_name)
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
        pcap = write_tone_pcap(tmp / "two.pcap", 2.0, 440.0, syllables=True)
        with workers(tmp / "w", WORKERS) as (sut, ports):
            best, _best_rtt = 0.0, []
            for rate in RATES:
                clean, total, rtt, calls = run_step(sut, ports, tmp / f"s{rate:g}", rate, pcap)
                print(
                    f"# sip: {rate:g} calls/s x {calls}: clean={clean} {total}",
                    file=sys.stderr,
                    flush=True,
                )
                if not clean:
                    break
                best, _best_rtt = rate, rtt
            half = max(1.0, best / 2)
            clean, total, rtt, _ = run_step(sut, ports, tmp / "half", half, pcap)
            rtt = sorted(rtt)
            p50 = statistics.median(rtt) if rtt else float("nan")
            p99 = rtt[min(len(rtt) - 1, int(len(rtt) * 0.99))] if rtt else float("nan")
            held, off, worst = concurrent_deposits(sut, ports, tmp / "held")
        ratio = best / ref if ref else 0.0
        rows += [
            Row(
                AREA,
                f"voicemail calls/s, clean ({WORKERS} workers, 2 s msg, 3 s hold)",
                f"{best:g}",
                f"{ratio:.4f} of SIPp direct",
                ">= 100",
            ),
            Row(
                AREA,
                f"INVITE->200 p50 / p99 at {half:g} calls/s (ms)",
                f"{p50:.1f} / {p99:.1f}",
                f"{len(rtt)} calls",
                "p99 < 20",
            ),
            Row(
                AREA,
                f"concurrent deposits held ({WORKERS} workers x 4 calls)",
                f"{held}",
                f"{off} WAV(s) off by > 20 ms (worst {worst * 1000:.0f} ms)",
                ">= 120, 0 off",
            ),
        ]
    return rows
