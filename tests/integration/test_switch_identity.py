"""Who may skip the PIN: a call from a line's authenticated own device, never a From header
(switch/identity.py, SPEC S4 identity)."""

from __future__ import annotations

import pytest

from ivr.identity import CallerIdentity, own_device_line, uri_host_port
from store import repository
from store.session import Store

A, B = "6135550100", "6135550111"


@pytest.fixture
def lines(store: Store) -> Store:
    with store.transaction() as s:
        for n in (A, B):
            repository.create_account(s, number=n, name="Sub", password="motdepasse1", pin="4826")
        repository.add_device(
            s,
            number=A,
            username="a",
            password="device-pass-1",
            domain="relais.local",
            contact="sip:a@192.0.2.10:5062",
        )
        # A PBX: devices of both lines behind one address.
        repository.add_device(
            s,
            number=A,
            username="pa",
            password="device-pass-1",
            domain="relais.local",
            contact="sip:pa@192.0.2.20",
        )
        repository.add_device(
            s,
            number=B,
            username="pb",
            password="device-pass-1",
            domain="relais.local",
            contact="sip:pb@192.0.2.20:5060;transport=udp",
        )
        repository.add_device(
            s, number=B, username="nocontact", password="device-pass-1", domain="relais.local"
        )
    return store


def who(store: Store, identity: CallerIdentity, no_edge: bool = True) -> str | None:
    with store.read() as s:
        return own_device_line(s, identity, no_edge=no_edge)


def test_no_edge_static_contacts(lines: Store) -> None:
    assert who(lines, CallerIdentity("192.0.2.10:5062", False, None, None)) == A
    assert who(lines, CallerIdentity("192.0.2.10:5062", False, None, B)) == A  # From is ignored
    assert who(lines, CallerIdentity("192.0.2.10:5063", False, None, A)) is None  # wrong port
    assert who(lines, CallerIdentity("198.51.100.1:5060", False, A, A)) is None  # PAI: no edge
    # Shared address: From chooses among the lines found there, and only among them.
    assert who(lines, CallerIdentity("192.0.2.20:5060", False, None, B)) == B
    assert who(lines, CallerIdentity("192.0.2.20:5060", False, None, A)) == A
    assert who(lines, CallerIdentity("192.0.2.20:5060", False, None, "6135550199")) is None
    assert who(lines, CallerIdentity("garbage", False, None, A)) is None


def test_edge_asserted_identity(lines: Store) -> None:
    assert who(lines, CallerIdentity("10.0.0.1:5060", True, A, A), no_edge=False) == A
    assert who(lines, CallerIdentity("10.0.0.1:5060", True, "1" + B, None), no_edge=False) == B
    assert who(lines, CallerIdentity("203.0.113.9:5060", False, A, A), no_edge=False) is None
    assert who(lines, CallerIdentity("10.0.0.1:5060", True, None, A), no_edge=False) is None
    assert (
        who(lines, CallerIdentity("10.0.0.1:5060", True, "6135550199", None), no_edge=False) is None
    )
    # The edge does not know static contacts: a device's address is no proof there.
    assert who(lines, CallerIdentity("192.0.2.10:5062", False, None, A), no_edge=False) is None


def test_uri_host_port() -> None:
    assert uri_host_port("sip:alice@[2001:db8::1]:5070;transport=tcp") == ("2001:db8::1", 5070)
    assert uri_host_port("sips:Host.Example") == ("host.example", 5060)
    assert uri_host_port("tel:+16135550100") is None
