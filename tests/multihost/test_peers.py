"""Peers over several hosts (docs/scaling.md): trunk calls through the edge are spread over
both switch hosts, every message lands in the one store and storage root."""

from __future__ import annotations

from tests.multihost.site import SWITCHES, Site

DEMO_LINE, SECOND_LINE = "6135550100", "6135550101"


def test_trunk_calls_are_spread_over_both_switch_hosts(site: Site) -> None:
    """Half the capacity of both hosts, in calls of ~4 s at one call every 0.5 s: every call
    leaves a message, and each switch host delivered some of them."""
    calls = site.capacity() // 2
    before = len(site.messages(SECOND_LINE))
    res = site.trunk_calls(SECOND_LINE, site.tmp / "spread", calls=calls, rate=2, hold_ms=3000)
    assert (res.successful, res.failed) == (calls, 0), res.errors()
    rows = site.wait_messages(SECOND_LINE, before + calls)[before:]
    assert len(rows) == calls
    call_ids = {str(r[1]) for r in rows}
    served = {name: site.delivered_by(name) & call_ids for name in SWITCHES}
    assert all(served.values()), served
    assert set().union(*served.values()) == call_ids
