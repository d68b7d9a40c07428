"""Loopback ports for the tests, taken below the kernel's ephemeral range.

A port that is free when a test picks it must still be free when the process it is meant for
binds it, seconds later. Ports the kernel hands out for `bind(0)` come from the ephemeral range
(`net.ipv4.ip_local_port_range`), which every outgoing connection and every "any free port" RTP
socket of the workers draws from as well: a port picked there can be taken in between (CI once
saw the edge fail with "Address already in use" on a port picked that way while its workers were
starting). So the tests pick from the range below it, which nothing else on the machine hands
out, and never hand the same port out twice in one process.

Concurrent pytest processes (pytest-xdist workers) each take a slice of their own.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

LOW = 10000
"""The first port the tests use."""


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _slice() -> tuple[int, int]:
    """The ports [low, high) this process hands out: its xdist worker's share of the range."""
    high = max(LOW + 2000, _ephemeral_start())
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if worker.startswith("gw") and worker[2:].isdigit() and count > 1:
        index = int(worker[2:]) % count
        span = (high - LOW) // count
        return LOW + index * span, LOW + (index + 1) * span
    return LOW, high


_lock = threading.Lock()
_low, _high = _slice()
_next = (_low + (os.getpid() * 97) % (_high - _low)) & ~1
"""Processes outside xdist (a benchmark beside the tests) start at different places."""


def _free(port: int, host: str) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        for address in {host, "0.0.0.0"}:
            with socket.socket(socket.AF_INET, kind) as s:
                try:
                    s.bind((address, port))
                except OSError:
                    return False
    return True


def free_ports(count: int = 1, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive ports free on UDP and TCP, on host and on every address,
    that this process has not handed out before (until the range wraps)."""
    global _next
    with _lock:
        for _ in range(_high - _low):
            if _next + count > _high:
                _next = _low
            base = _next
            _next += count + (count % 2)
            if all(_free(base + i, host) for i in range(count)):
                return base
    raise RuntimeError(f"no {count} free consecutive ports in {_low}-{_high}")


def free_port(host: str = "127.0.0.1") -> int:
    """One port free on UDP and TCP (see free_ports)."""
    return free_ports(1, host)
