"""The tests' port allocator (tests/support/ports.py): ports that stay free until used."""

from __future__ import annotations

import socket

from tests.support import ports


def test_ports_come_from_below_the_ephemeral_range_and_are_never_handed_out_twice() -> None:
    seen: set[int] = set()
    for _ in range(200):
        base = ports.free_ports(2)
        assert base >= ports.LOW and base + 2 <= ports._ephemeral_start()
        assert not {base, base + 1} & seen
        seen |= {base, base + 1}


def test_a_port_in_use_on_any_address_is_skipped() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        taken = ports.free_port()
        held.bind(("127.0.0.7", taken + 2))
        ports._next = taken
        # the next pair would start at `taken`, then at taken + 2 (held on 127.0.0.7): skipped
        got = [ports.free_port() for _ in range(2)]
    assert taken + 2 not in got
