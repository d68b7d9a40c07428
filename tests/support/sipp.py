"""SIPp runs for the peer tests and benchmarks: scenarios from tests/data/sipp, statistics."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent.parent / "data" / "sipp"


@dataclass
class Result:
    returncode: int
    successful: int
    failed: int
    workdir: Path
    retransmissions: int = 0

    def errors(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in self.workdir.glob("*errors.log")
        )


def argv(
    scenario: str,
    target: tuple[str, int],
    *,
    local: tuple[str, int],
    service: str = "",
    calls: int = 1,
    rate: float | None = None,
    limit: int | None = None,
    media_port: int | None = None,
    extra: list[str] | None = None,
    trace_msg: bool = False,
) -> list[str]:
    """SIPp's command line. `media_port` is the first of the four ports SIPp binds for media
    (audio and video, RTP and RTCP): take it with tests.support.ports.free_ports(4)."""
    builtin = scenario in ("uac", "uas", "uac_pcap")
    args = ["sipp", f"{target[0]}:{target[1]}"] if target[1] else ["sipp"]
    args += ["-sn", scenario] if builtin else ["-sf", str(SCENARIOS / scenario)]
    args += ["-i", local[0], "-p", str(local[1])]
    if calls:
        args += ["-m", str(calls)]
    if service:
        args += ["-s", service]
    if rate is not None:
        args += ["-r", str(rate)]
    if limit is not None:
        args += ["-l", str(limit)]
    if media_port is not None:
        args += ["-mi", local[0], "-mp", str(media_port)]
    args += ["-nostdin", "-trace_err", "-trace_stat", "-trace_counts", "-fd", "1"]
    if trace_msg:
        args.append("-trace_msg")
    args += extra or []
    return args


def run(args: list[str], workdir: Path, timeout: float = 60.0) -> Result:
    """Run SIPp to completion; counts from its final statistics file."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(args, cwd=workdir, capture_output=True, timeout=timeout, check=False)
    return result(proc.returncode, workdir)


def start(args: list[str], workdir: Path) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "sipp.out").open("wb")
    return subprocess.Popen(
        args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGUSR1)  # SIPp: stop gracefully, write final stats
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def result(returncode: int, workdir: Path) -> Result:
    successful = failed = retrans = 0
    for stat in workdir.glob("*_.csv"):
        with stat.open() as fh:
            rows = list(csv.reader(fh, delimiter=";"))
        if len(rows) >= 2:
            head, last = rows[0], rows[-1]
            successful += int(last[head.index("SuccessfulCall(C)")])
            failed += int(last[head.index("FailedCall(C)")])
            retrans += int(last[head.index("Retransmissions(C)")] or 0)
    return Result(returncode, successful, failed, workdir, retrans)


def count(workdir: Path, message: str) -> int:
    """How many times a scenario message went through, from -trace_counts (e.g. "INVITE_Recv",
    summed over the scenario's steps)."""
    total = 0
    for path in workdir.glob("*_counts.csv"):
        with path.open() as fh:
            rows = list(csv.reader(fh, delimiter=";"))
        if len(rows) >= 2:
            head, last = rows[0], rows[-1]
            total += sum(
                int(last[i])
                for i, name in enumerate(head)
                if name.split("_", 1)[-1] == message and i < len(last) and last[i]
            )
    return total
