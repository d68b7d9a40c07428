"""A bounded flood of trunk calls through the edge (SPEC S12): `relais run` with Kamailio and two
workers of 4 call slots each takes 240 short calls offered at 60 calls/s from the trusted
trunk. Every call gets a final answer; those that do not fit are refused with 503 (and
Retry-After) rather than a busy signal; no process dies. A busy line still answers 486."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from store import repository
from tests.peer.test_edge_switch import TRUNK, System, running_system
from tests.support import sipp
from tests.support.edge import DOMAIN, SECOND_LINE
from tests.support.ports import free_port, free_ports
from tests.support.sipclient import Responder

pytestmark = pytest.mark.peer

CALLS, RATE = 240, 60


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory) as s:
        yield s


def final_answers(workdir: Path) -> dict[str, tuple[int, str]]:
    """Call-ID -> (final status, the response's text) of each INVITE, from SIPp's -trace_msg."""
    answers: dict[str, tuple[int, str]] = {}
    for log in workdir.glob("*_messages.log"):
        for block in re.split(r"\n(?=-{5,})", log.read_text(errors="replace")):
            m = re.search(r"^SIP/2\.0 (\d{3}) ", block, re.M)
            if not m or not re.search(r"^CSeq:\s*1 INVITE", block, re.M | re.I):
                continue
            code = int(m.group(1))
            cid = re.search(r"^Call-ID:\s*(\S+)", block, re.M | re.I)
            if code >= 200 and cid:
                answers.setdefault(cid.group(1), (code, block))
    return answers


def test_a_flood_of_calls_is_answered_or_refused_with_503_and_nothing_dies(
    system: System,
) -> None:
    workdir = system.tmp / "flood"
    args = sipp.argv(
        "trunk_flood.xml",
        system.edge,
        local=(TRUNK, free_port(TRUNK)),
        service=SECOND_LINE,
        calls=CALLS,
        rate=RATE,
        media_port=free_ports(4, TRUNK),
        trace_msg=True,
    )
    sipp.run(args, workdir, timeout=180)
    answers = final_answers(workdir)
    codes = Counter(code for code, _ in answers.values())
    figures = f"{dict(codes)} for {CALLS} calls at {RATE}/s"
    print(figures)
    assert len(answers) == CALLS, figures  # every call got a final answer
    assert codes[200] >= 8, figures  # both workers' slots were used
    assert codes[486] == 0, figures  # a full switch is not a busy line
    assert set(codes) <= {200, 503}, figures
    for code, text in answers.values():
        if code == 503:
            assert re.search(r"^Retry-After:\s*\d+", text, re.M | re.I), text
    assert system.proc.poll() is None
    children: list[dict[str, object]] = system.supervisor()["children"]  # type: ignore[assignment]
    restarts = {c["name"]: c["restarts"] for c in children}
    assert set(restarts.values()) == {0}, restarts  # no process died


def test_a_busy_line_still_answers_486_through_the_edge(system: System) -> None:
    """The edge's capacity rule (a stateless 486 is a full worker) leaves a worker's own 486
    alone: a line without a mailbox whose phone is busy."""
    line, user, password = "6135550177", "busy177", "busy-pass-177"
    with system.store.transaction() as s:
        repository.create_account(
            s, number=line, name="Busy", password="motdepasse1", pin="4826", language="en"
        )
        repository.add_device(s, number=line, username=user, password=password, domain=DOMAIN)
        s.execute(sa.text("DELETE FROM mailbox WHERE line_number = :l"), {"l": line})
    phone = Responder(
        "127.0.0.6",
        policy=lambda r: (486, "Busy Here") if r.method == "INVITE" else (200, "OK"),
    )
    try:
        reg = phone.register(system.edge, user, password, DOMAIN)
        assert reg is not None and reg.status == 200
        workdir = system.tmp / "busy-line"
        args = sipp.argv(
            "trunk_flood.xml",
            system.edge,
            local=(TRUNK, free_port(TRUNK)),
            service=line,
            media_port=free_ports(4, TRUNK),
            trace_msg=True,
        )
        sipp.run(args, workdir, timeout=60)
        assert [code for code, _ in final_answers(workdir).values()] == [486]
        assert phone.requests("INVITE")
    finally:
        phone.register(system.edge, user, password, DOMAIN, expires=0)
        phone.close()
