"""Peers over several hosts (docs/scaling.md): trunk calls through the edge are spread over
both switch hosts; a message left on one host is heard by phone through the other and seen in
the portal (one store, one storage root); a phone registered at the edge gets its lamp from
whichever host changed the mailbox; portal changes reach the switch hosts through the broker.

A call reaches a chosen switch host because the trunk (a trusted address) may call a worker
directly; a call through the edge reaches host B for sure while host A's link is cut."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.multihost.netns import in_netns
from tests.multihost.phone import HostPhones
from tests.multihost.site import (
    DEMO_LINE,
    DEMO_USER,
    DESK_PASSWORD,
    DESK_USER,
    DOMAIN,
    SECOND_LINE,
    SWITCHES,
    Site,
    wait,
)
from tests.support import sipclient as sip
from tests.support.sipclient import Responder


def test_trunk_calls_are_spread_over_both_switch_hosts(site: Site) -> None:
    """Half the capacity of both hosts (at most 16 calls), in calls of ~4 s at one call every
    0.5 s: every call leaves a message, and each switch host delivered some of them."""
    calls = min(site.capacity() // 2, 16)
    before = len(site.messages(SECOND_LINE))
    res = site.trunk_calls(SECOND_LINE, site.tmp / "spread", calls=calls, rate=2, hold_ms=3000)
    assert (res.successful, res.failed) == (calls, 0), res.errors()
    rows = site.wait_messages(SECOND_LINE, before + calls)[before:]
    assert len(rows) == calls
    call_ids = {str(r[1]) for r in rows}
    served = {name: site.delivered_by(name) & call_ids for name in SWITCHES}
    assert all(served.values()), served
    assert set().union(*served.values()) == call_ids


@pytest.fixture
def portal(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.portal_url, timeout=10) as client:
        r = client.post(
            "/api/v1/session", json={"number": DEMO_LINE, "password": site.demo_portal_password}
        )
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        yield client


@pytest.fixture(scope="session")
def phones(site: Site) -> Iterator[HostPhones]:
    host = site.host("phone")
    endpoint = HostPhones(site.tmp / "phone", host.ns, host.address, site.prompts)
    yield endpoint
    endpoint.close()


def mark_all_heard(portal: httpx.Client, line: str) -> None:
    for m in portal.get(f"/api/v1/lines/{line}/messages").json()["messages"]:
        if not m["heard"]:
            r = portal.patch(f"/api/v1/lines/{line}/messages/{m['id']}", json={"heard": True})
            assert r.status_code == 200, r.text


def test_a_message_left_on_host_a_is_heard_through_host_b_and_in_the_portal(
    site: Site, portal: httpx.Client, phones: HostPhones
) -> None:
    mark_all_heard(portal, DEMO_LINE)
    before = len(site.messages(DEMO_LINE))
    res = site.trunk_calls(
        DEMO_LINE, site.tmp / "left-on-a", hold_ms=4000, target=site.worker("switch-a")
    )
    assert (res.successful, res.failed) == (1, 0), res.errors()
    (message,) = site.wait_messages(DEMO_LINE, before + 1)[before:]
    assert str(message[1]) in site.delivered_by("switch-a")
    path = site.root / str(message[3])
    # The portal (services host) lists it and serves its audio from the shared storage root.
    listed = portal.get(f"/api/v1/lines/{DEMO_LINE}/messages").json()["messages"]
    assert message[0] in [m["id"] for m in listed]
    audio = portal.get(f"/api/v1/lines/{DEMO_LINE}/messages/{message[0]}/audio")
    assert audio.status_code == 200 and audio.content == path.read_bytes()
    # The desk phone calls the pilot through the edge while host A is cut off: host B answers.
    served_b = site.text("switch-b").count(f"own device of {DEMO_LINE}")
    served_a = site.text("switch-a").count(f"own device of {DEMO_LINE}")
    desk = phones.device(DESK_USER, DESK_PASSWORD, DOMAIN)
    site.host("switch-a").cut()
    try:
        call = desk.call(f"sip:*98@{site.edge[0]}:{site.edge[1]}")
        call.wait_answered(timeout=20)
        # (The site's prompts are short tones, most of them absent: the menus are silent.)
        time.sleep(1.0)
        call.press(DEMO_LINE + "#")  # the mailbox number, its PIN, then 1: the new message
        time.sleep(0.5)
        call.press(site.demo_pin + "#")
        time.sleep(1.0)
        call.press("1")
        call.hear(str(path), timeout=40)
        call.hangup()
        call.wait_ended()
    finally:
        site.host("switch-a").reconnect()
    assert site.text("switch-b").count(f"own device of {DEMO_LINE}") == served_b + 1
    assert site.text("switch-a").count(f"own device of {DEMO_LINE}") == served_a
    wait(lambda: site.new_messages(DEMO_LINE) == 0, 10, "the message is not marked heard")
    site.wait_probed()


def lamp_notifies(phone: Responder, after: int) -> list[sip.Message]:
    return [n for n in phone.requests("NOTIFY")[after:] if n.header("Event") == "message-summary"]


def wait_lamp(site: Site, phone: Responder, after: int, new: int) -> sip.Message:
    """The first message-summary NOTIFY after the `after`-th that shows `new` new messages."""
    found: list[sip.Message] = []

    def arrived() -> bool:
        found[:] = [
            n
            for n in lamp_notifies(phone, after)
            if re.search(rb"Voice-Message: %d/" % new, n.body)
        ]
        return bool(found)

    try:
        wait(arrived, 15, f"no NOTIFY with {new} new message(s)")
    except TimeoutError:
        got = [n.body.decode(errors="replace") for n in lamp_notifies(phone, after)]
        raise AssertionError(f"no NOTIFY with {new} new message(s) after #{after}: {got}") from None
    return found[0]


@pytest.fixture
def lamp(site: Site) -> Iterator[Responder]:
    """The demo line's phone, registered at the edge from the phone host; it answers calls
    busy (so they go to voicemail) and keeps the NOTIFYs it gets."""
    phone = in_netns(
        site.host("phone").ns,
        lambda: Responder(
            site.addr("phone"),
            5080,
            policy=lambda r: (486, "Busy Here") if r.method == "INVITE" else (200, "OK"),
        ),
    )
    try:
        r = phone.register(site.edge, DEMO_USER, site.demo_sip_password, DOMAIN)
        assert r is not None and r.status == 200
        yield phone
    finally:
        phone.register(site.edge, DEMO_USER, site.demo_sip_password, DOMAIN, expires=0)
        phone.close()


def test_the_lamp_follows_whichever_switch_host_changed_the_mailbox(
    site: Site, lamp: Responder
) -> None:
    for name in SWITCHES:
        before = len(site.messages(DEMO_LINE))
        mark = len(lamp.requests("NOTIFY"))
        rang = len(lamp.requests("INVITE"))
        res = site.trunk_calls(DEMO_LINE, site.tmp / f"lamp-{name}", target=site.worker(name))
        assert (res.successful, res.failed) == (1, 0), res.errors()
        assert len(lamp.requests("INVITE")) > rang  # the phone rang (through the edge): busy
        (message,) = site.wait_messages(DEMO_LINE, before + 1)[before:]
        assert str(message[1]) in site.delivered_by(name)
        notify = wait_lamp(site, lamp, mark, site.new_messages(DEMO_LINE))
        assert b"Messages-Waiting: yes" in notify.body
        assert notify.source == site.edge  # every NOTIFY goes through the edge


def test_portal_changes_reach_the_switch_hosts_through_the_broker(
    site: Site, lamp: Responder, portal: httpx.Client
) -> None:
    """A message marked heard in the portal (services host) turns the lamp of the phone off:
    the event goes from the store's outbox through mosquitto to a switch host, which sends the
    NOTIFY. With host A cut off, host B does it."""
    before = len(site.messages(DEMO_LINE))
    res = site.trunk_calls(DEMO_LINE, site.tmp / "portal-change", target=site.worker("switch-b"))
    assert (res.successful, res.failed) == (1, 0), res.errors()
    newest = int(site.wait_messages(DEMO_LINE, before + 1)[-1][0])
    logged = {name: site.text(name).count("changed by the portal") for name in SWITCHES}
    mark = len(lamp.requests("NOTIFY"))
    new = site.new_messages(DEMO_LINE)
    r = portal.patch(f"/api/v1/lines/{DEMO_LINE}/messages/{newest}", json={"heard": True})
    assert r.status_code == 200, r.text
    wait_lamp(site, lamp, mark, new - 1)
    assert sum(site.text(n).count("changed by the portal") for n in SWITCHES) == (
        sum(logged.values()) + 1
    )  # one switch host handled it, once
    site.host("switch-a").cut()
    try:
        mark = len(lamp.requests("NOTIFY"))
        logged_b = site.text("switch-b").count("changed by the portal")
        r = portal.patch(f"/api/v1/lines/{DEMO_LINE}/messages/{newest}", json={"heard": False})
        assert r.status_code == 200, r.text
        wait_lamp(site, lamp, mark, new)
        assert site.text("switch-b").count("changed by the portal") == logged_b + 1
    finally:
        site.host("switch-a").reconnect()
    site.wait_probed()


def test_the_site_is_what_docs_scaling_describes(site: Site) -> None:
    """Only documented settings (docs/scaling.md names each one the site sets)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scaling.md").read_text()
    for host in ("edge", "switch-a", "services"):
        for key in site.env(host):
            # (Prompts and log level are the test's own choices, not the installation's.)
            if key.startswith("RELAIS_") and key not in ("RELAIS_PROMPTS_DIR", "RELAIS_LOG_LEVEL"):
                setting = key.removeprefix("RELAIS_").lower().replace("__", ".")
                assert setting in doc or key in doc, f"{key} is not in docs/scaling.md"


def test_relais_status_on_a_switch_host_shows_every_host_s_workers(site: Site) -> None:
    """The hosts share the storage root and each has a worker 0: each worker's status file
    carries its host's address, so `relais status` shows all of them, none hiding another."""
    out = site.relais("switch-a", "status")
    assert f"switch  : {2 * site.workers} worker(s)" in out, out
    for host in SWITCHES:
        address = site.addr(host)
        shown = re.findall(rf"worker \d+ +up +pid \d+ {re.escape(address)}:\d+", out)
        assert len(shown) == site.workers, out
    files = sorted(p.name for p in (site.root / "run").glob("switch-*.json"))
    assert len(files) == 2 * site.workers and len(set(files)) == len(files), files
