"""Edge benchmark (SPEC S13): what Kamailio costs in front of the switch.

Rows, all measured in this run:
- reference: SIPp UAC -> SIPp UAS directly, the highest clean rate (no failed call, no
  retransmission) of this machine and of SIPp;
- relay: SIPp UAC (the trunk) -> Kamailio (the edge, as rendered by relais) -> SIPp UAS (a
  stand-in worker): the highest clean rate, and Kamailio's CPU time per relayed call.
Rates step up for STEP_SECONDS each until the first unclean step.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil

from store.migrate import upgrade
from store.session import Store
from tests.bench.table import Row
from tests.support import sipp
from tests.support.edge import (
    DEMO_LINE,
    Edge,
    edge_settings,
    free_udp_tcp_port,
    provision,
    running_edge,
)

AREA = "edge"
STEP_SECONDS = 4
RATES = (250, 500, 1000, 1500, 2000, 3000, 4000)
TRUNK = "127.0.0.2"


@contextlib.contextmanager
def uas(port: int, workdir: Path) -> Iterator[None]:
    proc = sipp.start(
        sipp.argv("bench_uas.xml", ("", 0), local=("127.0.0.1", port), calls=0), workdir
    )
    try:
        yield
    finally:
        sipp.stop(proc)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (Kamailio forks its workers)."""
    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def step(target: tuple[str, int], rate: int, workdir: Path) -> sipp.Result:
    args = sipp.argv(
        "bench_uac.xml",
        target,
        local=(TRUNK, free_udp_tcp_port(TRUNK)),
        service=DEMO_LINE,
        calls=rate * STEP_SECONDS,
        rate=rate,
    )
    return sipp.run(args, workdir, timeout=STEP_SECONDS * 10 + 30)


def clean(res: sipp.Result, calls: int) -> bool:
    return res.successful == calls and res.failed == 0 and res.retransmissions == 0


def highest_clean(
    target: tuple[str, int], tmp: Path, name: str, edge: Edge | None = None
) -> tuple[int, float]:
    """(highest clean rate, CPU seconds per call of `edge` at that rate)."""
    best, per_call = 0, 0.0
    for rate in RATES:
        before = cpu_seconds(edge.process.pid) if edge else 0.0
        res = step(target, rate, tmp / f"{name}-{rate}")
        used = (cpu_seconds(edge.process.pid) - before) if edge else 0.0
        if not clean(res, rate * STEP_SECONDS):
            break
        best, per_call = rate, used / max(1, res.successful)
    return best, per_call


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="relais-bench-edge-") as name:
        tmp = Path(name)
        # Reference: SIPp to SIPp.
        port = free_udp_tcp_port()
        with uas(port, tmp / "ref-uas"):
            ref, _ = highest_clean(("127.0.0.1", port), tmp, "ref")
        # Through the edge.
        store = Store(f"sqlite:///{tmp / 'relais.db'}")
        upgrade(store.engine)
        cfg = edge_settings(tmp, store.url, trusted_addresses=[TRUNK], log_level="WARNING")
        provision(store, cfg)
        with uas(cfg.switch_base_port, tmp / "edge-uas"), running_edge(cfg) as edge:
            import time

            time.sleep(cfg.edge.probe_interval + 0.5)  # the worker is probed and active
            relay, per_call = highest_clean(edge.addr, tmp, "relay", edge)
        store.dispose()
    rows.append(Row(AREA, "SIPp -> SIPp UAS, highest clean calls/s", f"{ref}", "ceiling", ""))
    rows.append(
        Row(
            AREA,
            "SIPp -> Kamailio -> SIPp UAS, highest clean calls/s",
            f"{relay}",
            f"{relay / ref:.0%} of the SIPp ceiling" if ref else "",
            "",
        )
    )
    rows.append(
        Row(
            AREA,
            "Kamailio CPU per relayed call",
            f"{per_call * 1e6:.0f} us",
            f"{cfg.edge.children} UDP children",
            "",
        )
    )
    return rows
