"""Worker robustness over real SIP: OPTIONS, malformed requests, untrusted sources, capacity,
mailbox full."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from routing.model import PhoneState
from store.models import Message
from tests.support.sip import SwitchUnderTest, run_worker

pytestmark = pytest.mark.peer

TORTURE = Path(__file__).resolve().parents[1] / "data" / "rfc4475"
"""The RFC 4475 messages, copied into the repository (tests/data/rfc4475/README.md)."""


def options(port: int, call_id: str = "opt-1") -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(3)
        local = s.getsockname()[1]
        s.sendto(
            (
                f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-{call_id}\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:probe@127.0.0.1:{local}>;tag=1\r\n"
                f"To: <sip:127.0.0.1:{port}>\r\n"
                f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", port),
        )
        return s.recv(65535).decode(errors="replace").split("\r\n", 1)[0]


def test_options_is_answered(switch: SwitchUnderTest) -> None:
    assert options(switch.port) == "SIP/2.0 200 OK"


def test_torture_messages_do_not_stop_the_worker(switch: SwitchUnderTest) -> None:
    files = sorted(TORTURE.glob("*.dat"))
    assert len(files) >= 40
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for f in files:
            s.sendto(f.read_bytes()[:65000], ("127.0.0.1", switch.port))
    time.sleep(0.5)
    assert switch.procs[0].poll() is None
    assert options(switch.port, "opt-after-torture") == "SIP/2.0 200 OK"


def test_unreadable_diversion_gets_400(switch: SwitchUnderTest, work: Path) -> None:
    line = switch.account()
    caller = switch.sipp(
        "caller",
        "uac_final.xml",
        workdir=work,
        service=line,
        code=400,
        headers=('Diversion: "unbalanced <sip:6135550199@example.com>',),
    )
    assert caller.run() == 0, caller.describe()


def test_mailbox_full_plays_the_prompt_hangs_up_and_logs_missed(
    switch: SwitchUnderTest, work: Path
) -> None:
    line = switch.account(quota_seconds=60)
    switch.settings(line, phone_state=PhoneState.DND)
    with switch.store.transaction() as s:
        s.add(
            Message(
                line_number=line,
                folder="deleted",
                duration_seconds=60.0,
                file_path="messages/x.wav",
                received_at=datetime.now(UTC),
            )
        )
    caller = switch.sipp("caller", "uac_remote_bye.xml", workdir=work, service=line)
    assert caller.run() == 0, caller.describe()
    [bye] = caller.received("BYE")
    [ok] = caller.received(200)
    # "mailbox full" and "goodbye" (0.3 + 0.2 s) were played; playback starts with the 200 OK
    assert bye.at - ok.at > 0.3
    log = switch.wait_for(lambda: switch.call_log(line))
    assert [(r.direction, r.disposition) for r in log] == [("missed", "voicemail")]
    assert len(switch.messages(line)) == 1  # only the one that filled it


@pytest.fixture(scope="module")
def small_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwitchUnderTest]:
    tmp = tmp_path_factory.mktemp("small")
    env = {"RELAIS_MAX_CALLS_PER_WORKER": "1", "RELAIS_TRUSTED_ADDRESSES": '["127.0.0.1"]'}
    with run_worker(tmp, env) as sut:
        yield sut


def test_untrusted_source_gets_403(small_switch: SwitchUnderTest, work: Path) -> None:
    line = small_switch.account()
    caller = small_switch.sipp(
        "caller", "uac_final.xml", workdir=work, service=line, code=403, local_ip="127.0.0.2"
    )
    assert caller.run() == 0, caller.describe()
    assert small_switch.call_log(line) == []


def test_over_capacity_gets_503_with_retry_after(
    small_switch: SwitchUnderTest, work: Path, audio: dict[str, Path]
) -> None:
    line = small_switch.account()
    small_switch.settings(line, phone_state=PhoneState.DND)
    first = small_switch.sipp(
        "first",
        "uac_answer.xml",
        workdir=work,
        service=line,
        wait_ms=1200,  # a pause before the tone: a recording filled by a steady tone is no voice
        hold_ms=2500,
        pcap=audio["caller_2s"],
    ).start()
    time.sleep(1.0)
    second = small_switch.sipp("second", "uac_final.xml", workdir=work, service=line, code=503)
    assert second.run() == 0, second.describe()
    [reply] = second.received(503)
    assert reply.header("Retry-After") == ["5"]
    first.wait()
    assert first.ok, first.describe()
    # the worker took the first call to the end and is free again
    [message] = small_switch.wait_for(lambda: small_switch.messages(line))
    assert message.duration_seconds > 1.5
