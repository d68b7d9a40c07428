"""One switch worker under SIPp voicemail calls: CPU per call, idle CPU, RSS growth (SPEC S13).

    .venv/bin/python -m tests.bench.profile_worker [--calls 60] [--batches 3] [--warmup 20]
        [--rate 1] [--idle 10] [--py-spy DIR] [--tracemalloc S] [--keep FILE]

Rules of this file:
- The worker is started as the peer tests start it (tests.support.sip.run_worker: one process,
  `--no-edge`, a fresh SQLite store and prompts); the callers are the bench's SIPp scenario
  (uac_answer.xml: the line is in DND, 2 s of "syllables" sent after 0.7 s, the call held 3 s).
- SIPp holds at most 8 seconds of calls at once (the call lasts 3 s): every call must be clean, and a
  run with a failed call or a missing message says so and exits non-zero.
- Figures come from the worker process itself (psutil): CPU (user + system) over each batch
  divided by its calls (also net of the idle CPU measured before), RSS after each batch, CPU by thread (names
  from `py-spy dump`); idle CPU over `--idle` seconds before the first
  call and after the last one. The first batch (`--warmup` calls) only warms caches up.
- `--py-spy DIR` records the measured batches with `py-spy record` (threads on a CPU only; with
  `--native`: C frames too, samples holding the GIL only) into DIR/profile.txt (collapsed stacks) and prints the heaviest frames.
- `--tracemalloc S` starts the worker with RELAIS_DEBUG_TRACEMALLOC=S (see switch/memdebug.py):
  the worker then logs, every S seconds, the source lines whose allocations grew most.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from routing.model import PhoneState
from tests.support.sip import Sipp, SwitchUnderTest, free_ports, render, run_worker, write_tone_pcap

MESSAGE_S = 2.0
WAIT_MS = 700
HOLD_MS = 3000 - WAIT_MS


def batch(
    sut: SwitchUnderTest, work: Path, line: str, pcap: Path, calls: int, rate: float, name: str
) -> Sipp:
    scenario = render(
        "uac_answer.xml", work / f"{name}.xml", pcap=pcap, wait_ms=WAIT_MS, hold_ms=HOLD_MS
    )
    period_ms = 10000
    sipp = Sipp(
        name=name,
        scenario=scenario,
        port=free_ports(1),
        workdir=work,
        target=sut.target,
        service=line,
        calls=calls,
        timeout=calls / rate + 60,
        extra=[
            "-r",
            f"{rate * period_ms / 1000:g}",
            "-rp",
            str(period_ms),
            "-l",
            str(max(4, int(rate * 8))),
        ],
    )
    sipp.run()
    return sipp


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def settle(sut: SwitchUnderTest, line: str, expected: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        n = len(sut.messages(line))
        if n >= expected or time.monotonic() > deadline:
            return n
        time.sleep(0.2)


def idle_cpu(proc: psutil.Process, seconds: float) -> float:
    before = cpu_seconds(proc)
    time.sleep(seconds)
    return (cpu_seconds(proc) - before) / seconds


def thread_names(pid: int) -> dict[int, str]:
    """Native thread id -> Python thread name (py-spy dump), else the kernel's name."""
    out: dict[int, str] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            out[int(tid)] = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
    spy = Path(sys.executable).with_name("py-spy")
    if spy.exists():
        dump = subprocess.run(
            [str(spy), "dump", "-p", str(pid)], capture_output=True, text=True, check=False
        ).stdout
        for m in re.finditer(r"^Thread (\d+) \(\w+\): \"([^\"]+)\"", dump, re.M):
            out[int(m.group(1))] = m.group(2)
    return out


def thread_cpu(proc: psutil.Process) -> dict[int, float]:
    return {t.id: t.user_time + t.system_time for t in proc.threads()}


def by_thread(
    before: dict[int, float], after: dict[int, float], names: dict[int, str], calls: int
) -> str:
    """CPU ms per call by thread kind (dialog_3 and dialog_0 count as "dialog")."""
    kinds: dict[str, float] = collections.defaultdict(float)
    for tid, t in after.items():
        name = re.sub(r"_\d+$", "", names.get(tid, "?"))
        kinds[name] += t - before.get(tid, 0.0)
    total = sum(kinds.values()) or 1.0
    return "\n".join(
        f"  {name:<14} {1000 * t / calls:6.1f} ms/call ({100 * t / total:4.1f}%)"
        for name, t in sorted(kinds.items(), key=lambda kv: -kv[1])
        if t > 0
    )


WAITS = re.compile(
    r"^(wait|get|_worker|acquire|select|sleep|libHandleEvents|_wait_for_tstate_lock)"
    r" \("
)
"""Leaf frames of a thread that waits (py-spy's sampling mode may count them as active);
libHandleEvents mixes pjsip's work with its wait and is left out too."""


def heaviest(collapsed: Path, top: int = 25) -> str:
    """Self and inclusive sample shares of the heaviest frames of a collapsed-stacks file
    (stacks that end in a wait are left out)."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for row in collapsed.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if WAITS.match(frames[-1]):
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples", "self:"]
    lines += [f"  {100 * n / total:5.1f}% {f}" for f, n in own.most_common(top)]
    lines.append("inclusive:")
    lines += [f"  {100 * n / total:5.1f}% {f}" for f, n in incl.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.profile_worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--calls", type=int, default=60, help="calls per measured batch")
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1.0, help="calls per second")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement")
    parser.add_argument("--py-spy", type=Path, default=None, help="record a profile into DIR")
    parser.add_argument(
        "--native", action="store_true", help="py-spy: native frames, GIL-holding samples only"
    )
    parser.add_argument("--tracemalloc", type=float, default=0, help="seconds between reports")
    parser.add_argument("--keep", type=Path, default=None, help="copy the worker log to FILE")
    args = parser.parse_args(argv)

    env = {"RELAIS_LOG_LEVEL": "WARNING"}
    if args.tracemalloc:
        env["RELAIS_DEBUG_TRACEMALLOC"] = str(args.tracemalloc)
    ok = True
    with tempfile.TemporaryDirectory(prefix="relais-profile-") as tmp_name:
        tmp = Path(tmp_name)
        pcap = write_tone_pcap(tmp / "two.pcap", MESSAGE_S, 440.0, syllables=True)
        with run_worker(tmp / "w", env) as sut:
            proc = psutil.Process(sut.procs[0].pid)
            line = sut.account()
            sut.settings(line, phone_state=PhoneState.DND)
            time.sleep(2.0)
            idle_before = idle_cpu(proc, args.idle)
            expected = 0
            rows: list[tuple[str, int, float, float, int, int]] = []
            spy: subprocess.Popen[bytes] | None = None
            for i in range(args.batches + 1):
                calls = args.warmup if i == 0 else args.calls
                if i == 1 and args.py_spy is not None:
                    args.py_spy.mkdir(parents=True, exist_ok=True)
                    spy = subprocess.Popen(
                        [
                            str(Path(sys.executable).with_name("py-spy")),
                            "record",
                            *(["--native", "--gil"] if args.native else ["--nonblocking"]),
                            "--threads",
                            "-r",
                            "100" if args.native else "500",
                            "-f",
                            "raw",
                            "-p",
                            str(proc.pid),
                            "-o",
                            str(args.py_spy / "profile.txt"),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    time.sleep(1.0)
                cpu0, t0 = cpu_seconds(proc), time.monotonic()
                if i == 1:
                    threads0 = thread_cpu(proc)
                sipp = batch(sut, tmp / "sipp", line, pcap, calls, args.rate, f"b{i}")
                expected += calls
                stored = settle(sut, line, expected)
                time.sleep(1.0)
                cpu = cpu_seconds(proc) - cpu0
                net = cpu - idle_before * (time.monotonic() - t0)
                rss = proc.memory_info().rss
                label = "warm-up" if i == 0 else f"batch {i}"
                rows.append((label, calls, cpu, net, rss, stored))
                if sipp.rc != 0 or stored != expected:
                    ok = False
                    print(
                        f"# {label}: SIPp rc={sipp.rc}, {stored}/{expected} messages stored",
                        file=sys.stderr,
                    )
                print(
                    f"# {label}: {calls} calls, {1000 * cpu / calls:.1f} ms CPU/call, "
                    f"RSS {rss / 1e6:.1f} MB",
                    file=sys.stderr,
                    flush=True,
                )
            threads = by_thread(
                threads0, thread_cpu(proc), thread_names(proc.pid), sum(r[1] for r in rows[1:])
            )
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
            idle_after = idle_cpu(proc, args.idle)
            if args.keep is not None and sut.log is not None:
                shutil.copy(sut.log, args.keep)
        measured = rows[1:]
        calls = sum(r[1] for r in measured)
        cpu = sum(r[2] for r in measured)
        net = sum(r[3] for r in measured)
        growth = (measured[-1][4] - rows[0][4]) / calls if calls else 0.0
        print(f"worker pid {proc.pid}, {args.rate:g} calls/s, {MESSAGE_S:g} s message, 3 s call")
        print(f"{'batch':<10} {'calls':>6} {'CPU ms/call':>12} {'net of idle':>12} {'RSS MB':>8}")
        for label, n, c, nc, rss, _ in rows:
            print(
                f"{label:<10} {n:>6} {1000 * c / n:>12.1f} {1000 * nc / n:>12.1f} {rss / 1e6:>8.1f}"
            )
        print(
            f"CPU per call (measured batches): {1000 * cpu / calls:.1f} ms,"
            f" {1000 * net / calls:.1f} ms net of idle"
        )
        print(f"RSS growth per call after warm-up: {growth / 1000:.1f} KB")
        print(f"idle CPU: {idle_before:.4f} cores before, {idle_after:.4f} after")
        print("CPU by thread (measured batches):")
        print(threads)
        if args.py_spy is not None and (args.py_spy / "profile.txt").exists():
            print(heaviest(args.py_spy / "profile.txt"))
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
