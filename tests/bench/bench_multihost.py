"""Multi-host benchmark (docs/scaling.md): voicemail calls/s through the edge with two switch
hosts, against one, in the same run, on the network-namespace site of tests/multihost (edge,
two `relais switch --workers N` hosts, PostgreSQL + mosquitto + portal + notifier host, trunk).

Both figures are the highest clean rate (no failed call, no retransmission, every message
stored with the duration played, within 0.25 s; a line in do-not-disturb, 2 s message, 3 s
call), rates stepping up until the first unclean step. "One host" is the same site with the
second switch host's `relais switch` stopped (the dispatcher routes around it). Needs root
(network namespaces); without, the row says why.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.bench.bench_edge import new_dnd_line, render_call, stored_ok
from tests.bench.table import Row
from tests.multihost.netns import NetnsUnavailable, check_available
from tests.multihost.site import Site, built_site
from tests.support import sipp
from tests.support.sip import write_tone_pcap

AREA = "multihost"
STEP_SECONDS = 8
RATES = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32)
HOLD_MS = 3000


def highest_clean(site: Site, scenario: str, tag: str) -> int:
    assert site.store is not None
    best = 0
    for rate in RATES:
        line = new_dnd_line(site.store)
        calls = rate * STEP_SECONDS
        workdir = site.tmp / f"bench-{tag}-{rate}"
        args = site.sipp_args(
            scenario,
            site.edge,
            service=line,
            calls=calls,
            rate=rate,
            limit=1000,
            extra=["-d", str(HOLD_MS), "-key", "headers", "Subject: bench"],
        )
        res = sipp.run(args, workdir, timeout=STEP_SECONDS + HOLD_MS / 1000 + 90)
        time.sleep(1.5)
        ok = stored_ok(site.store, line, 2.0, 0.25)
        print(
            f"# multihost ({tag}): {rate} calls/s: {res.successful} ok, {res.failed} failed, "
            f"{res.retransmissions} retrans, {ok} stored",
            file=sys.stderr,
            flush=True,
        )
        if not (res.successful == calls and res.failed == 0 and res.retransmissions == 0):
            break
        if ok != calls:
            break
        best = rate
    return best


def run() -> list[Row]:
    try:
        check_available()
    except NetnsUnavailable as exc:
        return [Row(AREA, "voicemail calls/s, 2 switch hosts vs 1", "skipped", str(exc), "")]
    with (
        tempfile.TemporaryDirectory(prefix="rlmh-bench-") as tmp,
        built_site(Path(tmp) / "site") as site,
    ):
        pcap = write_tone_pcap(site.tmp / "two.pcap", 2.0, 440.0, syllables=True)
        scenario = render_call(site.tmp / "call.xml", pcap)
        two = highest_clean(site, scenario, "two hosts")
        site.stop_switch("switch-b")
        site.wait_probed()
        site.wait_probed()  # the probe of a stopped worker times out first
        one = highest_clean(site, scenario, "one host")
        per_host = site.workers
    ratio = f"{two / one:.1f}x" if one else "n/a"
    return [
        Row(
            AREA,
            f"voicemail calls/s through the edge, 2 switch hosts ({per_host} workers each)",
            f"{two} ({ratio})",
            f"{one} with 1 host",
            "2x",
        )
    ]
