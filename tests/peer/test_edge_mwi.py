"""MWI subscriptions at the edge (SPEC S6, RFC 3842): `relais run` with Kamailio and two
workers. A phone that subscribes to message-summary is digest-authenticated, may subscribe
only to its own line's lamps, gets a NOTIFY with the current counts, then one in its
subscription on every change and none unsolicited as well; after it unsubscribes, unsolicited
NOTIFYs come back. Other events get 489 with Allow-Events. baresip's mwi module subscribes and
its lamp lights and clears."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portal.auth.services import LineRef
from portal.messages import services as messages
from store import repository
from tests.peer.test_edge_switch import System, running_system
from tests.support import sipclient as sip
from tests.support import sipp
from tests.support.edge import (
    DEMO_LINE,
    DEMO_PASSWORD,
    DEMO_USER,
    DESK_PASSWORD,
    DESK_USER,
    DOMAIN,
    SECOND_LINE,
)
from tests.support.phones import Baresip
from tests.support.ports import free_port
from tests.support.sipclient import Responder

pytestmark = pytest.mark.peer

PHONE = "127.0.0.7"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory) as s:
        yield s


def subscribe(
    phone: Responder,
    system: System,
    target: str,
    *,
    event: str = "message-summary",
    expires: int = 600,
    d: sip.Dialog | None = None,
    to_tag: str | None = None,
    user: str = DEMO_USER,
    password: str = DEMO_PASSWORD,
) -> tuple[sip.Dialog, sip.Message | None]:
    """SUBSCRIBE from the phone's socket, answering one digest challenge."""
    ruri = f"sip:{target}@{DOMAIN}"
    d = d or sip.Dialog(f"sip:{user}@{DOMAIN}", ruri)
    host, port = phone.addr
    extra = [
        ("Event", event),
        ("Expires", str(expires)),
        ("Accept", "application/simple-message-summary"),
    ]

    def build(more: list[tuple[str, str]]) -> sip.Message:
        t = sip._SocketView(phone.sock, system.edge)
        msg = sip.request(
            t, "SUBSCRIBE", ruri, d, extra=extra + more, contact=f"<sip:{user}@{host}:{port}>"
        )
        if to_tag:
            msg.headers = [(k, f"{v};tag={to_tag}" if k == "To" else v) for k, v in msg.headers]
        return msg

    first = phone.transaction(build([]), system.edge)
    if first is None or first.status != 407:
        return d, first
    d.cseq += 1
    auth = sip.authorization(
        first.header("Proxy-Authenticate") or "", "SUBSCRIBE", ruri, user, password
    )
    return d, phone.transaction(build([("Proxy-Authorization", auth)]), system.edge)


def mwi_notifies(phone: Responder) -> list[sip.Message]:
    return [n for n in phone.requests("NOTIFY") if n.header("Event") == "message-summary"]


def wait_notify(phone: Responder, start: int, pattern: bytes, timeout: float = 15.0) -> sip.Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for n in mwi_notifies(phone)[start:]:
            if re.search(pattern, n.body):
                return n
        time.sleep(0.1)
    raise AssertionError(
        f"no NOTIFY matching {pattern!r}: {[n.body for n in mwi_notifies(phone)[start:]]}"
    )


def first_notify(system: System, line: str, user: str, password: str) -> bytes:
    """The body of the first NOTIFY of a new subscription to `line`'s lamp, from a new phone."""
    phone = Responder("127.0.0.11", policy=lambda r: (200, "OK"))
    try:
        d, ok = subscribe(phone, system, line, user=user, password=password)
        assert ok is not None and ok.status == 200, ok
        deadline = time.monotonic() + 10
        while not mwi_notifies(phone) and time.monotonic() < deadline:
            time.sleep(0.05)
        notifies = mwi_notifies(phone)
        assert notifies, "no NOTIFY in the subscription"
        assert notifies[0].header("Call-ID") == d.call_id
        return notifies[0].body
    finally:
        phone.close()


def test_a_new_subscription_to_a_line_presence_knew_nothing_of_gets_its_counts_at_once(
    system: System,
) -> None:
    """A phone subscribes, without having registered, to a line presence holds no state of
    (no change, no registration since the edge started): the subscription's very first NOTIFY
    already says the lamp's state (RFC 3842), not an empty body."""
    user, password = "second200", "second-pass-200"
    with system.store.transaction() as s:
        repository.add_device(
            s, number=SECOND_LINE, username=user, password=password, domain=DOMAIN
        )
    body = first_notify(system, SECOND_LINE, user, password)
    assert re.search(rb"(?m)^Messages-Waiting: no", body), body
    assert re.search(rb"(?m)^Voice-Message: 0/0", body), body

    # The lamp lights: the next new subscription's first NOTIFY says so (the line's last
    # publication, not the first one).
    res = system.call(SECOND_LINE, "first-notify-deposit", hold_ms=4000)
    assert (res.successful, res.failed) == (1, 0), res.errors()
    assert system.wait_log(rf"MWI of {SECOND_LINE} \(1 new, 0 old\)")
    time.sleep(0.5)  # that PUBLISH has landed
    body = first_notify(system, SECOND_LINE, user, password)
    assert re.search(rb"(?m)^Messages-Waiting: yes", body), body
    assert re.search(rb"(?m)^Voice-Message: 1/0", body), body


def test_a_subscribing_phone_gets_its_lamp_in_its_subscription_only(system: System) -> None:
    phone = Responder(
        PHONE, policy=lambda r: (486, "Busy Here") if r.method == "INVITE" else (200, "OK")
    )
    try:
        reg = phone.register(system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN)
        assert reg is not None and reg.status == 200
        wait_notify(phone, 0, rb"Messages-Waiting: no")  # unsolicited, on registration

        # Other events, and other lines' lamps, are refused.
        _, bad = subscribe(phone, system, DEMO_LINE, event="presence")
        assert bad is not None and bad.status == 489
        assert bad.header("Allow-Events") == "message-summary"
        _, other = subscribe(phone, system, SECOND_LINE)
        assert other is not None and other.status == 403

        start = len(mwi_notifies(phone))
        d, ok = subscribe(phone, system, DEMO_LINE)
        assert ok is not None and ok.status == 200, ok
        to_tag = re.search(r";tag=([^;>\s]+)", ok.header("To") or "")
        assert to_tag
        # The current counts, in the subscription.
        first = wait_notify(phone, start, rb"Messages-Waiting: no")
        assert first.header("Call-ID") == d.call_id
        assert "active" in (first.header("Subscription-State") or "")

        # A message is left: the lamp lights in the subscription, and no unsolicited NOTIFY
        # comes as well.
        start = len(mwi_notifies(phone))
        res = system.call(DEMO_LINE, "mwi-deposit")
        assert (res.successful, res.failed) == (1, 0), res.errors()
        lit = wait_notify(phone, start, rb"Messages-Waiting: yes")
        assert lit.header("Call-ID") == d.call_id
        assert re.search(rb"Voice-Message: [1-9]\d*/0", lit.body)
        time.sleep(2)
        others = [n for n in mwi_notifies(phone)[start:] if n.header("Call-ID") != d.call_id]
        assert others == [], [n.body for n in others]

        # Unsubscribed (a request in the subscription's dialog): unsolicited NOTIFYs again, on
        # the next registration.
        d.cseq += 1
        _, bye = subscribe(phone, system, DEMO_LINE, expires=0, d=d, to_tag=to_tag.group(1))
        assert bye is not None and bye.status == 200, bye
        start = len(mwi_notifies(phone))
        phone.close()
        phone = Responder(
            PHONE, policy=lambda r: (486, "Busy Here") if r.method == "INVITE" else (200, "OK")
        )
        reg = phone.register(system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN)
        assert reg is not None and reg.status == 200
        again = wait_notify(phone, 0, rb"Messages-Waiting: yes")
        assert again.header("Call-ID") != d.call_id
    finally:
        phone.register(system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN, expires=0)
        phone.close()


def test_baresip_subscribes_and_its_lamp_lights_and_clears(system: System, tmp_path: Path) -> None:
    """baresip's mwi module subscribes after registering: its lamp shows the message left while
    nobody was registered, and clears when the messages are deleted (in the portal: the change
    reaches the lamps through worker 0's bus consumer, the edge and presence)."""
    refused = system.text().count("may not subscribe")
    res = system.call(DEMO_LINE, "baresip-deposit", hold_ms=3000)
    assert (res.successful, res.failed) == (1, 0), res.errors()
    assert system.messages(DEMO_LINE, 1)
    phone = Baresip(tmp_path / "baresip", PHONE).start(
        system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN, answer="manual", mwi=True
    )
    try:
        assert phone.wait_for(Baresip.REGISTERED, 15), phone.text()[-3000:]
        assert phone.wait_for(r"Messages-Waiting: yes", 20), phone.text()[-3000:]
        assert "MWI for sip:6135550100@relais.local" in phone.text()
        messages.delete_all(system.store, LineRef(DEMO_LINE, True), "voice", datetime.now(UTC))
        assert phone.wait_for(r"Messages-Waiting: no", 20), phone.text()[-3000:]
        # One subscription, not a loop of them.
        assert len(re.findall(r"mwi: subscribing to messages", phone.text())) == 1
        assert "mwi: subscription for" not in phone.text()  # never closed by the edge
    finally:
        phone.stop()
    # baresip unsubscribes as it stops, inside the subscription (to the edge's Contact).
    assert system.text().count("may not subscribe") == refused


def test_sipp_subscribes_gets_the_lamp_and_unsubscribes(system: System) -> None:
    """SIPp as a phone: digest-authenticated SUBSCRIBE, NOTIFYs carrying Messages-Waiting in the
    subscription, then an unsubscription (challenged again) and the terminating NOTIFY."""
    args = sipp.argv(
        "uac_mwi_subscribe.xml",
        system.edge,
        local=("127.0.0.9", free_port("127.0.0.9")),
        service=DEMO_USER,
        extra=["-au", DEMO_USER, "-ap", DEMO_PASSWORD],
        trace_msg=True,
    )
    res = sipp.run(args, system.tmp / "sipp-subscribe", timeout=60)
    assert (res.successful, res.failed) == (1, 0), res.errors()
    notifies = [
        block
        for log in (system.tmp / "sipp-subscribe").glob("*_messages.log")
        for block in re.split(r"\n(?=-{5,})", log.read_text(errors="replace"))
        if re.search(r"^NOTIFY ", block, re.M)
    ]
    assert any(re.search(r"^Messages-Waiting: (yes|no)", n, re.M) for n in notifies), notifies
    assert re.search(r"^Subscription-State:\s*terminated", notifies[-1], re.M | re.I)


def test_an_expired_subscription_gives_way_to_unsolicited_notifies(system: System) -> None:
    """Not refreshed, a subscription ends with its Expires: presence stops, and the phone gets
    unsolicited NOTIFYs again."""
    phone = Responder("127.0.0.10")
    try:
        reg = phone.register(system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN)
        assert reg is not None and reg.status == 200
        start = len(mwi_notifies(phone))
        d, ok = subscribe(phone, system, DEMO_LINE, expires=3)
        assert ok is not None and ok.status == 200, ok
        wait_notify(phone, start, rb"Messages-Waiting: (yes|no)")
        time.sleep(10)  # well past the 3 s (and the edge's 5 s margin)
        start = len(mwi_notifies(phone))
        reg = phone.register(system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN)  # new Call-ID
        assert reg is not None and reg.status == 200
        again = wait_notify(phone, start, rb"Messages-Waiting: (yes|no)")
        assert again.header("Call-ID") != d.call_id
    finally:
        phone.register(system.edge, DEMO_USER, DEMO_PASSWORD, DOMAIN, expires=0)
        phone.close()


def test_two_phones_sharing_one_device_are_each_served_as_they_ask(system: System) -> None:
    """Two phones registered with one device's credentials, one subscribing and one not: the
    subscriber gets the lamp in its subscription only, the other keeps getting unsolicited
    NOTIFYs (phones are told apart by the address they register and subscribe from)."""
    subscriber = Responder("127.0.0.12", policy=lambda r: (200, "OK"))
    plain = Responder("127.0.0.13", policy=lambda r: (200, "OK"))
    try:
        for phone in (subscriber, plain):
            reg = phone.register(system.edge, DESK_USER, DESK_PASSWORD, DOMAIN)
            assert reg is not None and reg.status == 200
        d, ok = subscribe(subscriber, system, DEMO_LINE, user=DESK_USER, password=DESK_PASSWORD)
        assert ok is not None and ok.status == 200, ok
        wait_notify(subscriber, 0, rb"Messages-Waiting: (yes|no)")
        time.sleep(1)  # the registration's own NOTIFYs are in
        sub_start, plain_start = len(mwi_notifies(subscriber)), len(mwi_notifies(plain))
        res = system.call(DEMO_LINE, "shared-device-deposit", hold_ms=4000)
        assert (res.successful, res.failed) == (1, 0), res.errors()
        lit = wait_notify(subscriber, sub_start, rb"Messages-Waiting: yes")
        assert lit.header("Call-ID") == d.call_id
        told = wait_notify(plain, plain_start, rb"Messages-Waiting: yes")
        assert told.header("Call-ID") != d.call_id  # unsolicited
        time.sleep(2)
        both = [n for n in mwi_notifies(subscriber)[sub_start:] if n.header("Call-ID") != d.call_id]
        assert both == [], [n.body for n in both]
    finally:
        for phone in (subscriber, plain):
            phone.register(system.edge, DESK_USER, DESK_PASSWORD, DOMAIN, expires=0)
            phone.close()
