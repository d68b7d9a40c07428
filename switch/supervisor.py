"""`relais switch --workers N` and the switch part of `relais run`: N worker processes on
consecutive ports, restarted when they die, reported by `relais status`.

Status channel: each worker atomically rewrites <storage_root>/run/switch-<index>.json every
second (switch.worker.Worker.status); `worker_status_lines` reads them back.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from config.settings import Settings
from relais.run import Child, tcp_ready

STALE_SECONDS = 5.0


def worker_children(
    cfg: Settings, *, workers: int, no_edge: bool, public_first: bool = False
) -> list[Child]:
    """The worker processes, on switch_host:switch_base_port + i.

    public_first (`relais run` without the edge): worker 0 takes the public SIP address
    instead, since devices and trunks call it directly. Without the edge, calls a worker sends
    to local lines go to worker 0 (the public address, or the first switch port).
    """
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    if public_first:
        public = (cfg.sip_advertised_host, cfg.sip_port)
    else:
        public = (cfg.switch_host, cfg.switch_base_port)
    children: list[Child] = []
    for i in range(workers):
        if public_first and i == 0:
            host, port = cfg.sip_host, cfg.sip_port
        else:
            host, port = cfg.switch_host, cfg.switch_base_port + i
        argv = [
            sys.executable,
            "-m",
            "switch.worker",
            "--index",
            str(i),
            "--host",
            host,
            "--port",
            str(port),
        ]
        if no_edge:
            argv += ["--no-edge", "--public-host", public[0], "--public-port", str(public[1])]
        probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        children.append(
            Child(
                name=f"switch-{i}",
                argv=argv,
                address=f"switch worker {i} sip:{host}:{port} (udp, tcp)",
                ready=tcp_ready(probe_host, port),
                env=worker_env(),
            )
        )
    return children


MALLOC_ARENAS = "4"
"""glibc's malloc arenas per worker process. A worker runs a hundred threads or more (a dialog
thread per call, the pump, pjmedia's clock and media threads, the listener, the database
threads), and glibc gives threads up to 8 arenas per core, each keeping its own freed memory.
`make bench` (4 workers, RSS growth per 1,000 calls at a steady 50 calls/s; CPU per call as a
ratio of the same run's reference workload): glibc's default 6,805 and 5,290 KB, 0.90 and
0.82; 4 arenas 610 KB, 0.95; 2 arenas 55, 1,565 and 170 KB but 1.02, 1.13 and 1.16 (threads
waiting for each other's arena)."""


def worker_env() -> dict[str, str]:
    """What a worker's environment adds: MALLOC_ARENA_MAX, unless the operator set it."""
    return {} if "MALLOC_ARENA_MAX" in os.environ else {"MALLOC_ARENA_MAX": MALLOC_ARENAS}


def read_worker_status(storage_root: Path) -> list[dict[str, object]]:
    found = []
    for path in sorted((storage_root / "run").glob("switch-*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda d: (int(str(d.get("index", 0))), str(d.get("address", ""))))


def worker_status_lines(cfg: Settings) -> list[str]:
    statuses = read_worker_status(cfg.storage_root)
    if not statuses:
        return ["switch  : no worker running"]
    lines = [f"switch  : {len(statuses)} worker(s)"]
    now = time.time()
    for s in statuses:
        age = now - float(str(s.get("updated_at", 0)))
        state = "up" if age < STALE_SECONDS else f"stale ({age:.0f} s)"
        lines.append(
            f"  worker {s['index']:<3} {state:<4} pid {s['pid']} {s['address']}"
            f"  active calls {s['active_calls']}  slots {s['call_slots']}/{s['capacity']}"
            f"  calls {s['calls_total']}  503s {s['rejected_capacity']}"
        )
    return lines
