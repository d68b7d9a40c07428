"""Edge benchmark (SPEC S13): what Kamailio costs in front of the switch, and what the whole
system does through it.

Rows, all measured in this run:
- reference: SIPp UAC -> SIPp UAS directly, the highest clean rate (no failed call, no
  retransmission) of this machine and of SIPp;
- relay: SIPp UAC (the trunk) -> Kamailio (the edge, as rendered by relais) -> SIPp UAS (a
  stand-in worker): the highest clean rate, and Kamailio's CPU time per relayed call;
- through the edge to `relais switch --workers N` (RELAIS_BENCH_WORKERS, default the
  `workers` setting: two per core): the
  highest clean rate of voicemail calls (line in DND, 2 s message, 3 s call: no failed call, no
  retransmission, every message stored with its duration), the CPU Kamailio adds per call
  (its CPU per call over the workers' CPU per call at that rate), and the deposits held at
  once (a ramp past the workers' capacity, 40 s messages: the peak of active calls, counting
  only deposits stored whole).
Rates step up until the first unclean step.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import sqlalchemy as sa

from config.settings import default_workers
from store.migrate import upgrade
from store.session import Store
from tests.bench.table import Row
from tests.support import sipp
from tests.support.edge import (
    DEMO_LINE,
    Edge,
    edge_settings,
    provision,
    running_edge,
)
from tests.support.ports import free_port, free_ports

AREA = "edge"
STEP_SECONDS = 4
RATES = (250, 500, 1000, 1500, 2000, 3000, 4000)
TRUNK = "127.0.0.2"
WORKERS = int(os.environ.get("RELAIS_BENCH_WORKERS", "0")) or default_workers()
VM_STEP_SECONDS = 8
VM_RATES = (10, 20, 30, 40, 50, 64, 80, 100, 128)
RELAIS = str(Path(sys.executable).with_name("relais"))


@contextlib.contextmanager
def uas(port: int, workdir: Path) -> Iterator[None]:
    proc = sipp.start(
        sipp.argv("worker_answers.xml", ("", 0), local=("127.0.0.1", port), calls=0), workdir
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
        local=(TRUNK, free_port(TRUNK)),
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
        port = free_port()
        with uas(port, tmp / "ref-uas"):
            ref, _ = highest_clean(("127.0.0.1", port), tmp, "ref")
        # Through the edge.
        store = Store(f"sqlite:///{tmp / 'relais.db'}")
        upgrade(store.engine)
        cfg = edge_settings(tmp, store.url, trusted_addresses=[TRUNK], log_level="WARNING")
        provision(store, cfg)
        with uas(cfg.switch_base_port, tmp / "edge-uas"), running_edge(cfg) as edge:
            time.sleep(cfg.edge.probe_interval + 0.5)  # the worker is probed and active
            relay, per_call = highest_clean(edge.addr, tmp, "relay", edge)
            known, unknown = refusal_times(edge)
        store.dispose()
        vm = voicemail_through_the_edge(tmp / "vm")
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
    rows.append(
        Row(
            AREA,
            "403 to a wrong password, unknown / existing user (median)",
            f"{unknown / known:.2f}",
            f"{known * 1e6:.0f} us for an existing user",
            "~1 (no user enumeration by timing)",
        )
    )
    best, share, held, capacity = vm
    rows.append(
        Row(
            AREA,
            f"voicemail calls/s through the edge, clean ({WORKERS} workers)",
            f"{best}",
            f"{best / relay:.3f} of the relay" if relay else "",
            ">= 100",
        )
    )
    rows.append(
        Row(
            AREA,
            "CPU Kamailio adds per voicemail call",
            f"{share:.1%}",
            "Kamailio CPU / workers' CPU, same calls",
            "<= 15%",
        )
    )
    rows.append(
        Row(
            AREA,
            f"concurrent deposits through the edge ({WORKERS} workers)",
            f"{held}",
            f"capacity {capacity} (the workers' own call slots)",
            ">= 120",
        )
    )
    return rows


def refusal_times(edge: Edge, rounds: int = 300) -> tuple[float, float]:
    """Median seconds from a REGISTER with a wrong password to its 403, for an existing user
    and for an unknown one, interleaved (from a trusted address: no ban)."""
    import statistics

    from tests.support import sipclient as sip

    times: dict[str, list[float]] = {"6135550100": [], "6135559999": []}
    with sip.transport("udp", edge.addr, TRUNK) as t:
        for i in range(rounds):
            for user, samples in times.items():
                aor = f"sip:{user}@relais.local"
                d = sip.Dialog(aor, aor)
                t.send(sip.request(t, "REGISTER", "sip:relais.local", d))
                challenge = sip.final_response(t, 2)
                assert challenge is not None and challenge.status == 401
                d.cseq += 1
                auth = sip.authorization(
                    challenge.header("WWW-Authenticate") or "",
                    "REGISTER",
                    "sip:relais.local",
                    user,
                    f"wrong-{i}",
                )
                req = sip.request(
                    t, "REGISTER", "sip:relais.local", d, extra=[("Authorization", auth)]
                )
                started = time.perf_counter()
                t.send(req)
                refused = sip.final_response(t, 2)
                samples.append(time.perf_counter() - started)
                assert refused is not None and refused.status == 403
    known, unknown = (statistics.median(v) for v in times.values())
    return known, unknown


def render_call(dest: Path, pcap: Path) -> str:
    """trunk_call_audio.xml playing `pcap` 700 ms after the answer (a copy under `dest`)."""
    text = (sipp.SCENARIOS / "trunk_call_audio.xml").read_text()
    text = text.replace("/usr/share/sip-tester/g711a.pcap", str(pcap))
    text = text.replace('<pause milliseconds="1000"/>', '<pause milliseconds="700"/>')
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return str(dest)


def voicemail_through_the_edge(tmp: Path) -> tuple[int, float, int, int]:
    """(highest clean voicemail rate, Kamailio CPU / workers' CPU per call at that rate,
    deposits held at once, capacity)."""
    from tests.support.sip import base_env, free_ports, stop_process, switch_store, write_tone_pcap

    with switch_store(tmp) as (root, db_url, store, prompts):
        sip_port = free_port()
        base = free_ports(WORKERS)
        env = base_env(root, db_url, prompts, sip_port)
        env.update(
            RELAIS_SWITCH_BASE_PORT=str(base),
            RELAIS_LOG_LEVEL="WARNING",
            RELAIS_TRUSTED_ADDRESSES=f'["{TRUNK}"]',
        )
        cfg = edge_settings(
            tmp,
            db_url,
            sip_port=sip_port,
            switch_base_port=base,
            trusted_addresses=[TRUNK],
            log_level="WARNING",
            workers=WORKERS,
        )
        with (tmp / "switch.log").open("wb") as out:
            sup = subprocess.Popen(
                [RELAIS, "switch", "--workers", str(WORKERS)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 120
            while len(list((root / "run").glob("switch-*.json"))) < WORKERS:
                if time.monotonic() > deadline or sup.poll() is not None:
                    raise RuntimeError("workers did not start")
                time.sleep(0.2)
            with running_edge(cfg, workers=WORKERS) as edge:
                time.sleep(cfg.edge.probe_interval + 1)
                pcap = write_tone_pcap(tmp / "two.pcap", 2.0, 440.0, syllables=True)
                scenario = render_call(tmp / "call.xml", pcap)
                best, share = 0, 0.0
                for rate in VM_RATES:
                    line = new_dnd_line(store)
                    calls = rate * VM_STEP_SECONDS
                    k0, w0 = cpu_seconds(edge.process.pid), cpu_seconds(sup.pid)
                    res = vm_calls(edge, scenario, line, calls, rate, 3000, tmp / f"vm{rate}")
                    k1, w1 = cpu_seconds(edge.process.pid), cpu_seconds(sup.pid)
                    time.sleep(1.5)
                    ok = stored_ok(store, line, 2.0, 0.25)
                    print(
                        f"# edge: {rate} calls/s: {res.successful} ok, {res.failed} failed, "
                        f"{res.retransmissions} retrans, {ok} stored",
                        file=sys.stderr,
                        flush=True,
                    )
                    clean_step = (
                        res.successful == calls
                        and res.failed == 0
                        and res.retransmissions == 0
                        and ok == calls
                    )
                    if not clean_step:
                        break
                    best, share = rate, (k1 - k0) / max(1e-9, w1 - w0)
                # Deposits held at once: a ramp past capacity that ends before the first
                # 40 s message does; the peak of active calls the workers report, counting
                # only deposits stored whole.
                capacity = sum(
                    int(json.loads(f.read_text())["capacity"])
                    for f in (root / "run").glob("switch-*.json")
                )
                calls = capacity + 8
                rate = max(4, calls // 25 + 1)
                line = new_dnd_line(store)
                long_pcap = write_tone_pcap(tmp / "forty.pcap", 40.0, 440.0, syllables=True)
                scenario = render_call(tmp / "held.xml", long_pcap)
                with peak_active(root) as peak:
                    vm_calls(edge, scenario, line, calls, rate, 41000, tmp / "held")
                time.sleep(2)
                held = min(peak[0], stored_ok(store, line, 40.0, 0.5))
        finally:
            stop_process(sup, grace=30)
    return best, share, held, capacity


@contextlib.contextmanager
def peak_active(root: Path) -> Iterator[list[int]]:
    """The highest sum of the workers' active calls (their status files) while inside."""
    import json
    import threading

    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            active = 0
            for f in (root / "run").glob("switch-*.json"):
                with contextlib.suppress(ValueError, KeyError, OSError):
                    active += int(json.loads(f.read_text())["active_calls"])
            peak[0] = max(peak[0], active)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield peak
    finally:
        done.set()
        t.join()


_lines = iter(range(6135700000, 6135799999))


def new_dnd_line(store: Store) -> str:
    """A fresh line in do-not-disturb: every call goes straight to voicemail."""
    from dataclasses import replace

    from routing.model import PhoneState
    from store import repository

    number = str(next(_lines))
    with store.transaction() as s:
        repository.create_account(
            s, number=number, name=f"Bench {number}", password="motdepasse1", pin="4826"
        )
        settings = repository.line_settings(s, number)
        assert settings is not None
        repository.save_line_settings(s, replace(settings, phone_state=PhoneState.DND))
    return number


def vm_calls(
    edge: Edge, scenario: str, line: str, calls: int, rate: int, hold_ms: int, work: Path
) -> sipp.Result:
    args = sipp.argv(
        scenario,
        (edge.host, edge.port),
        local=(TRUNK, free_port(TRUNK)),
        service=line,
        calls=calls,
        rate=rate,
        limit=1000,
        media_port=free_ports(4, TRUNK),
        extra=["-d", str(hold_ms), "-key", "headers", "Subject: bench"],
    )
    return sipp.run(args, work, timeout=calls / max(1, rate) + hold_ms / 1000 + 90)


def stored_ok(store: Store, line: str, seconds: float, tolerance: float) -> int:
    """Messages of `line` whose stored duration is within `tolerance` of `seconds`."""
    with store.read() as s:
        durations = (
            s.execute(
                sa.text("SELECT duration_seconds FROM message WHERE line_number = :l"),
                {"l": line},
            )
            .scalars()
            .all()
        )
    return sum(1 for d in durations if abs(float(d) - seconds) <= tolerance)
