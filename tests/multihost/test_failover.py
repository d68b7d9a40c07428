"""Failover of a switch host, measured (docs/scaling.md, "Failover, measured"): during a bounded
load of deposit calls through the edge, one switch host loses every process at once (a crash),
or, separately, its link. The edge's dispatcher stops sending it new calls within its probing
interval plus one INVITE timeout, new calls succeed on the other host, and the messages of the
calls that host held are what the recovery promises: those it was recording when it died
become messages when it comes back (orphan recordings, SPEC S12).

The figures (calls failed, time to route around, messages lost) are printed and written to
<site>/failover-<case>.json; docs/scaling.md records one run of them."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from tests.multihost.site import SECOND_LINE, SWITCH_BASE_PORT, Site, wait
from tests.support import sipp

HOLD_MS = 3000
CALL_SECONDS = HOLD_MS / 1000 + 0.5
"""A deposit call of the load: answered, ~2 s of audio, hung up 3 s after the answer."""
LOAD_SECONDS = 16
ORPHAN_SECONDS = 1.8
"""The host fails once one of its recordings is this long (the caller speaks from 0.3 s in)."""
FAIL_AT = 5.0
MAX_RATE = 4
"""Calls per second at most, whatever the hosts hold (a shared 2-core machine)."""
ORPHAN_LOG = r"(\S+): recovering an orphan recording"
"""Seconds into the load when the host fails."""


@dataclass
class Figures:
    case: str
    calls: int
    rate_per_s: float
    failed: int
    answered: int
    messages: int
    lost: int
    """Answered calls without a message,"""
    lost_abandoned: int
    """of which the call log says abandoned: the recording held less voice than
    mailbox.min_message_seconds (discarded, as when a caller hangs up that early),"""
    lost_elsewhere: int
    """and of which not in progress on the failed host (must be none)."""
    orphans_recovered: int
    orphan_messages: int
    """Recovered orphan recordings that became messages."""
    new_invites_after_failure: int
    route_around_s: float
    bound_s: float


class InviteCapture:
    """tshark on the edge host: every INVITE the edge sends to one switch host's workers,
    with the time it was first sent (per Call-ID)."""

    def __init__(self, site: Site, target: str, workdir: Path) -> None:
        self.site = site
        self.out = workdir / "invites.txt"
        self.out.parent.mkdir(parents=True, exist_ok=True)
        bpf = (
            f"udp and dst host {target} and dst portrange "
            f"{SWITCH_BASE_PORT}-{SWITCH_BASE_PORT + site.workers - 1}"
        )
        self.proc = site.host("edge").start(
            [
                "tshark",
                "-i",
                "eth0",
                "-n",
                "-l",
                "-f",
                bpf,
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
                "-e",
                "udp.payload",
            ],
            log=self.out,
        )
        wait(lambda: "Capturing on" in self.out.read_text(errors="replace"), 20, "no tshark")

    def first_sent(self) -> dict[str, float]:
        from tests.multihost.netns import stop

        time.sleep(0.5)
        stop(self.proc)
        seen: dict[str, float] = {}
        for line in self.out.read_text(errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) != 2 or not re.fullmatch(r"[0-9a-f:]+", parts[1]):
                continue
            data = bytes.fromhex(parts[1].replace(":", ""))
            if not data.startswith(b"INVITE "):
                continue
            m = re.search(rb"\r\nCall-ID:\s*(\S+)", data, re.IGNORECASE)
            if m:
                seen.setdefault(m.group(1).decode(), float(parts[0]))
        return seen


def answered_call_ids(workdir: Path) -> set[str]:
    """Call-IDs SIPp got a 200 to its INVITE for (from its -trace_msg log)."""
    found: set[str] = set()
    for log in workdir.glob("*_messages.log"):
        for block in log.read_text(errors="replace").split("message received"):
            if "SIP/2.0 200" in block and re.search(r"CSeq:\s*1 INVITE", block):
                m = re.search(r"Call-ID:\s*(\S+)", block, re.IGNORECASE)
                if m:
                    found.add(m.group(1))
    return found


def load_shape(site: Site) -> tuple[int, int]:
    """(calls, calls per 10 s): a load one switch host alone holds at 70% of its call slots
    (read from the settings), at most MAX_RATE calls/s, for LOAD_SECONDS."""
    per_10s = max(1, int(10 * 0.7 * site.capacity(hosts=1) / CALL_SECONDS))
    per_10s = min(per_10s, 10 * MAX_RATE)
    return per_10s * LOAD_SECONDS // 10, per_10s


def run_failure(site: Site, case: str, victim: str, fail: object, recover: object) -> Figures:
    """A deposit load through the edge; `fail()` (returns the wall-clock time of the failure)
    FAIL_AT seconds in; `recover()` once the load is over; the figures."""
    cfg = site.settings("edge")
    workdir = site.tmp / f"failover-{case}"
    calls, per_10s = load_shape(site)
    capture = InviteCapture(site, site.addr(victim), workdir)
    before = {str(r[1]) for r in site.messages(SECOND_LINE)}
    recovered_before = set(re.findall(ORPHAN_LOG, site.text(victim)))
    args = site.sipp_args(
        "trunk_call_audio.xml",
        site.edge,
        service=SECOND_LINE,
        calls=calls,
        rate=per_10s,
        extra=["-rp", "10000", "-d", str(HOLD_MS), "-key", "headers", "Subject: failover"],
        trace_msg=True,
    )
    loader = sipp.start(args, workdir)
    try:
        time.sleep(FAIL_AT)
        # Fail while the host records a message that already holds more voice than a
        # message needs (its workers' own spool folders: recordings in progress), so there is
        # an orphan to recover.
        spool = site.root / "spool" / "recordings"
        folders = [spool / f"w{i}-{site.addr(victim)}" for i in range(site.workers)]

        def recording() -> bool:
            for w in (w for f in folders for w in f.glob("*.wav")):
                with contextlib.suppress(FileNotFoundError):  # just delivered
                    if w.stat().st_size > 44 + ORPHAN_SECONDS * 16000:
                        return w.with_suffix(".json").exists()
            return False

        with contextlib.suppress(TimeoutError):
            wait(recording, 8, "no recording", interval=0.05)
        failed_at = fail()  # type: ignore[operator]
        loader.wait(LOAD_SECONDS + 90)
    except subprocess.TimeoutExpired:
        sipp.stop(loader)
        raise
    finally:
        invites = capture.first_sent()
    result = sipp.result(loader.returncode, workdir)
    recover()  # type: ignore[operator]
    answered = answered_call_ids(workdir)
    with contextlib.suppress(TimeoutError):  # what is still missing then counts as lost
        site.wait_messages(SECOND_LINE, len(before) + len(answered), timeout=30)
    messages = {str(r[1]) for r in site.messages(SECOND_LINE)} - before
    new_after = [t - failed_at for t in invites.values() if t > failed_at]
    in_flight = {c for c, t in invites.items() if failed_at - CALL_SECONDS - 1 < t <= failed_at}
    lost = answered - messages
    orphans = set(re.findall(ORPHAN_LOG, site.text(victim))) - recovered_before
    abandoned = {
        str(r[0])
        for r in site.rows(
            "SELECT call_id FROM call_log WHERE line_number = :l AND disposition = 'abandoned'",
            l=SECOND_LINE,
        )
    }
    figures = Figures(
        case=case,
        calls=calls,
        rate_per_s=per_10s / 10,
        failed=result.failed,
        answered=len(answered),
        messages=len(messages & answered),
        lost=len(lost),
        lost_abandoned=len(lost & abandoned),
        lost_elsewhere=len(lost - in_flight),
        orphans_recovered=len(orphans),
        orphan_messages=len(orphans & messages),
        new_invites_after_failure=len(new_after),
        route_around_s=round(max(new_after, default=0.0), 2),
        bound_s=cfg.edge.probe_interval + cfg.edge.probe_timeout_ms / 1000,
    )
    (site.tmp / f"failover-{case}.json").write_text(json.dumps(asdict(figures), indent=2))
    print(f"\nfailover {case}: {asdict(figures)}")
    assert result.successful + result.failed == calls
    return figures


def test_a_crashed_switch_host_is_routed_around_and_its_recordings_recovered(site: Site) -> None:
    """Every process of host A (supervisor and workers) is SIGKILLed mid-load; once the load
    is over, `relais switch` starts again on A and delivers what its workers were recording."""

    def crash() -> float:
        site.crash_switch("switch-a")
        return time.time()

    def come_back() -> None:
        site.start_switch("switch-a")
        site.wait_probed()

    f = run_failure(site, "crash", "switch-a", crash, come_back)
    # New calls went to host B within the probing interval plus one INVITE timeout (a call
    # sent to a dead worker before then fails over to the next worker: it is not lost).
    assert f.route_around_s <= f.bound_s + 1.0, f
    # Only the calls host A held can fail, at most its call slots.
    assert f.failed <= site.capacity(hosts=1), f
    # Every answered call left a message but those in progress on host A when it died, and
    # what those had recorded became messages when A came back (orphan recordings).
    assert f.lost_elsewhere == 0, f
    assert f.orphan_messages >= 1, f


def test_a_switch_host_cut_off_is_routed_around_and_delivers_when_back(site: Site) -> None:
    """Host B's link goes down mid-load (its processes live on, without the edge, the store
    or the broker) and comes back once the load is over."""

    def cut() -> float:
        site.host("switch-b").cut()
        return time.time()

    def reconnect() -> None:
        site.host("switch-b").reconnect()
        site.wait_probed()

    f = run_failure(site, "cut", "switch-b", cut, reconnect)
    assert f.route_around_s <= f.bound_s + 1.0, f
    assert f.failed <= site.capacity(hosts=1), f
    assert f.lost_elsewhere == 0, f


@pytest.fixture(autouse=True)
def both_hosts_up(site: Site) -> None:
    """Each test starts with both switch hosts up and probed (a failed one may leave one down)."""
    for name in ("switch-a", "switch-b"):
        site.host(name).reconnect()
        if name not in site.switch_procs:
            site.start_switch(name)
    site.wait_probed()


def test_a_switch_host_that_comes_back_leaves_the_other_hosts_recordings_alone(
    site: Site,
) -> None:
    """Every switch host has a worker 0 and shares the storage root: host A starting again
    (after a crash) delivers its own orphan recordings only, never the recording of a call
    host B is taking at that moment; that message is B's, whole, once."""
    workdir = site.tmp / "recording-on-b"
    before = len(site.messages(SECOND_LINE))
    args = site.sipp_args(
        "trunk_call_audio.xml",
        site.worker("switch-b"),
        service=SECOND_LINE,
        calls=1,
        extra=["-d", "14000", "-key", "headers", "Subject: long"],
        trace_msg=True,
    )
    loader = sipp.start(args, workdir)
    try:
        spool = site.root / "spool" / "recordings"
        wait(
            lambda: any(spool.glob("*/*.json")),  # the only call up
            10,
            "host B is not recording",
        )
        site.crash_switch("switch-a")
        site.start_switch("switch-a")  # its workers recover their orphans, then take calls
        assert loader.wait(60) is not None
    finally:
        sipp.stop(loader)
    result = sipp.result(loader.returncode, workdir)
    assert (result.successful, result.failed) == (1, 0), result.errors()
    (message,) = site.wait_messages(SECOND_LINE, before + 1)[before:]
    assert str(message[1]) in site.delivered_by("switch-b")
    assert str(message[1]) not in site.delivered_by("switch-a")
    assert float(str(message[2])) > 5.0  # the whole message (7 s of audio played), not a part
    site.wait_probed()
