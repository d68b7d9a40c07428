"""Peer-tier fixtures: a switch worker on loopback shared by the tier, SIPp helpers.

Each test provisions its own lines (fresh numbers), so tests share one worker and one store
without seeing each other's calls. `TRUNK_PORT` is where the worker sends calls to numbers that
are not local lines: a test that needs the trunk runs a SIPp UAS there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.phone import PROMPTS, Phones
from tests.support.sip import SwitchUnderTest, free_ports, run_worker, write_tone_pcap


@pytest.fixture(scope="session")
def trunk_port() -> int:
    return free_ports(1)


@pytest.fixture(scope="session")
def switch(tmp_path_factory: pytest.TempPathFactory, trunk_port: int) -> Iterator[SwitchUnderTest]:
    tmp = tmp_path_factory.mktemp("switch")
    with run_worker(tmp, {"RELAIS_TRUNK_URI": f"sip:127.0.0.1:{trunk_port}"}) as sut:
        yield sut


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """RTP streams for SIPp: 2 s of 440 Hz (caller) and 2 s of 1000 Hz (device)."""
    tmp = tmp_path_factory.mktemp("audio")
    return {
        "caller_2s": write_tone_pcap(tmp / "caller_2s.pcap", 2.0, 440.0),
        "device_2s": write_tone_pcap(tmp / "device_2s.pcap", 2.0, 1000.0),
    }


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path


# ------------------------------------------------------------------------------------------------
# IVR: a worker that plays the real prompts, and scripted phones (tests/support/phone.py)


@pytest.fixture(scope="session")
def ivr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwitchUnderTest]:
    """A worker with the shipped French and English prompts (media/prompts)."""
    tmp = tmp_path_factory.mktemp("ivr")
    with run_worker(tmp, {"RELAIS_PROMPTS_DIR": str(PROMPTS)}) as sut:
        yield sut


@pytest.fixture(scope="session")
def phone_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phones]:
    """The test process's pjsua2 endpoint (one per process)."""
    endpoint = Phones(tmp_path_factory.mktemp("phones"))
    yield endpoint
    endpoint.close()


@pytest.fixture
def phones(phone_endpoint: Phones) -> Iterator[Phones]:
    """Scripted phones; every call a test leaves up is hung up after it, and the phones it made
    are freed (the endpoint holds 8 ports)."""
    yield phone_endpoint
    phone_endpoint.hangup_all()
    phone_endpoint.retire()
