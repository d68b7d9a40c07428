"""Every routing branch of SPEC S3 executed by the switch over real SIP (SIPp callers,
devices and trunk on loopback)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from routing.model import (
    ACCOUNT_PHONE,
    FallbackAction,
    IncomingMode,
    RingEntry,
    RingTable,
)
from tests.support.sip import Message, RtpCapture, Sipp, SwitchUnderTest, dominant_hz, free_ports

pytestmark = pytest.mark.peer

CALLER = '"Jean Tremblay" <sip:6135551234@127.0.0.1>'
TRUNK_NUMBER = "6135557000"
OTHER_TRUNK_NUMBER = "6135557001"


def finished(*peers: Sipp) -> None:
    for p in peers:
        p.wait()
    for p in peers:
        assert p.ok, p.describe()


def test_reject_list_gets_603_and_a_missed_rejected_entry(
    switch: SwitchUnderTest, work: Path
) -> None:
    line = switch.account()
    switch.settings(line, selective_rejection=True, reject_list=frozenset({"6135551234"}))
    caller = switch.sipp(
        "caller", "uac_final.xml", workdir=work, service=line, code=603, **{"from": CALLER}
    )
    assert caller.run() == 0, caller.describe()
    log = switch.wait_for(lambda: switch.call_log(line))
    assert [(r.direction, r.disposition) for r in log] == [("missed", "rejected")]
    assert [t for t, _ in switch.events(line)] == [f"relais/{line}/call/missed"]


@pytest.mark.parametrize(
    ("from_", "headers"),
    [
        ('"Anonymous" <sip:anonymous@anonymous.invalid>', ()),
        (CALLER, ("Privacy: id",)),
    ],
    ids=["anonymous-user", "privacy-id"],
)
def test_anonymous_rejection_gets_433(
    switch: SwitchUnderTest, work: Path, from_: str, headers: tuple[str, ...]
) -> None:
    line = switch.account()
    switch.settings(line, anonymous_rejection=True)
    caller = switch.sipp(
        "caller",
        "uac_final.xml",
        workdir=work,
        service=line,
        code=433,
        headers=headers,
        **{"from": from_},
    )
    assert caller.run() == 0, caller.describe()
    [entry] = switch.wait_for(lambda: switch.call_log(line))
    assert (entry.direction, entry.disposition, entry.caller_number) == ("missed", "rejected", None)


def test_unknown_line_gets_404(switch: SwitchUnderTest, work: Path) -> None:
    caller = switch.sipp("caller", "uac_final.xml", workdir=work, service="6135550000", code=404)
    assert caller.run() == 0, caller.describe()


def test_selective_forward_goes_to_the_trunk_with_diversion_and_caller_identity(
    switch: SwitchUnderTest, work: Path, trunk_port: int, audio: dict[str, Path]
) -> None:
    line = switch.account()
    switch.settings(
        line,
        selective_forwarding=True,
        selective_forward_to=TRUNK_NUMBER,
        forward_list=frozenset({"6135551234"}),
    )
    trunk = switch.sipp(
        "trunk",
        "uas_answer.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        answer_ms=100,
        pcap=audio["device_2s"],
    ).start()
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=line,
        hold_ms=1000,
        pcap=audio["caller_2s"],
        **{"from": CALLER},
    )
    caller.run()
    finished(caller, trunk)
    [invite] = trunk.received("INVITE")
    assert invite.first_line.startswith(f"INVITE sip:{TRUNK_NUMBER}@127.0.0.1:{trunk_port}")
    [diversion] = invite.header("Diversion")
    assert diversion.startswith(f"<sip:{line}@") and "reason=deflection" in diversion
    [from_] = invite.header("From")
    assert from_.startswith('"Jean Tremblay" <sip:6135551234@')
    log = switch.wait_for(lambda: switch.call_log(line))
    assert [(r.direction, r.disposition) for r in log] == [("missed", "forwarded")]


def test_forward_all_busy_is_returned_to_the_caller(
    switch: SwitchUnderTest, work: Path, trunk_port: int
) -> None:
    line = switch.account()
    switch.settings(line, incoming_mode=IncomingMode.FORWARD_ALL, forward_all_to=TRUNK_NUMBER)
    trunk = switch.sipp(
        "trunk",
        "uas_status.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        code=486,
        reason="Busy Here",
    ).start()
    caller = switch.sipp(
        "caller", "uac_final.xml", workdir=work, service=line, code=486, **{"from": CALLER}
    )
    caller.run()
    finished(caller, trunk)
    [invite] = trunk.received("INVITE")
    assert "reason=unconditional" in invite.header("Diversion")[0]
    log = switch.wait_for(lambda: switch.call_log(line))
    assert [(r.direction, r.disposition) for r in log] == [("missed", "forwarded")]
    assert switch.messages(line) == []


@pytest.mark.parametrize("challenge", [401, 407])
def test_a_challenged_leg_is_a_logged_bug_and_the_caller_gets_480_not_the_challenge(
    switch: SwitchUnderTest, work: Path, trunk_port: int, challenge: int
) -> None:
    """Legs carry no credentials: a 401/407 on one (an edge or trunk that did not recognise
    the worker) is logged as a bug and never passed to the caller."""
    line = switch.account()
    switch.settings(line, incoming_mode=IncomingMode.FORWARD_ALL, forward_all_to=TRUNK_NUMBER)
    trunk = switch.sipp(
        "trunk",
        "uas_status.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        code=challenge,
        reason="Unauthorized" if challenge == 401 else "Proxy Authentication Required",
    ).start()
    caller = switch.sipp(
        "caller", "uac_final.xml", workdir=work, service=line, code=480, **{"from": CALLER}
    )
    caller.run()
    finished(caller, trunk)
    switch.wait_for(lambda: f"was challenged ({challenge})" in switch.tail(200))


def test_no_trunk_route_fails_the_forward_with_404(switch: SwitchUnderTest, work: Path) -> None:
    """A forward_all to a number the dial plan accepts but no trunk serves (international
    numbers are refused by the dial plan, so use a local-looking number on a line whose trunk
    is the session trunk that nobody answers on is not possible): covered by the resolver unit
    test; here, forward_all to a local line that rejects comes back as is."""
    target = switch.account()
    switch.settings(target, selective_rejection=True, reject_list=frozenset({"6135551234"}))
    line = switch.account()
    switch.settings(line, incoming_mode=IncomingMode.FORWARD_ALL, forward_all_to=target)
    caller = switch.sipp(
        "caller", "uac_final.xml", workdir=work, service=line, code=603, **{"from": CALLER}
    )
    assert caller.run() == 0, caller.describe()


def test_ring_account_answer_bridges_and_logs_received(
    switch: SwitchUnderTest, work: Path, audio: dict[str, Path]
) -> None:
    line = switch.account()
    desk = switch.phone(
        line, "desk", "uas_answer.xml", workdir=work, answer_ms=300, pcap=audio["device_2s"]
    )
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=line,
        hold_ms=1500,
        pcap=audio["caller_2s"],
        **{"from": CALLER},
    )
    caller.run()
    finished(caller, desk)
    assert 180 in [m.status for m in caller.received(180)]
    [invite] = desk.received("INVITE")
    assert invite.header("From")[0].startswith('"Jean Tremblay" <sip:6135551234@')
    assert invite.header("Diversion") == []
    log = switch.wait_for(lambda: switch.call_log(line))
    assert [(r.direction, r.disposition) for r in log] == [("received", "answered")]
    assert log[0].duration_seconds > 1.0
    assert [t for t, _ in switch.events(line)] == [f"relais/{line}/call/received"]


def test_audio_is_bridged_both_ways(
    switch: SwitchUnderTest, work: Path, audio: dict[str, Path]
) -> None:
    """The caller sends 440 Hz, the answering device 1000 Hz: each hears the other's tone."""
    line = switch.account()
    desk = switch.sipp(
        "desk", "uas_answer.xml", workdir=work, uas=True, answer_ms=200, pcap=audio["device_2s"]
    )
    desk.media_port = free_ports(4)
    switch.device(line, f"sip:desk@127.0.0.1:{desk.port}")
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=line,
        hold_ms=2500,
        pcap=audio["caller_2s"],
        **{"from": CALLER},
    )
    caller.media_port = free_ports(4)
    with RtpCapture([caller.media_port, desk.media_port], seconds=6) as capture:
        desk.start()
        caller.run()
        finished(caller, desk)
    heard_by_caller = capture.audio(caller.media_port)
    heard_by_desk = capture.audio(desk.media_port)
    assert len(heard_by_caller) > 8000 and len(heard_by_desk) > 8000  # > 1 s of RTP each way
    assert abs(dominant_hz(heard_by_caller) - 1000) < 20
    assert abs(dominant_hz(heard_by_desk) - 440) < 20


def test_busy_everywhere_is_busy_but_one_ringing_device_is_no_answer(
    switch: SwitchUnderTest, work: Path, trunk_port: int
) -> None:
    busy_line = switch.account()
    switch.settings(
        busy_line,
        busy_action=FallbackAction.NUMBER,
        busy_to=TRUNK_NUMBER,
        no_answer_action=FallbackAction.NUMBER,
        no_answer_to=OTHER_TRUNK_NUMBER,
        no_answer_timeout=5,
    )
    b1 = switch.phone(busy_line, "b1", "uas_status.xml", workdir=work, code=486, reason="Busy")
    b2 = switch.phone(busy_line, "b2", "uas_status.xml", workdir=work, code=486, reason="Busy")
    trunk = switch.sipp(
        "trunk",
        "uas_status.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        code=480,
        reason="Unavailable",
    ).start()
    # busy -> forward to the busy number -> it fails -> voicemail answers (200)
    caller = switch.sipp(
        "caller", "uac_answer.xml", workdir=work, service=busy_line, hold_ms=500, **{"from": CALLER}
    )
    caller.run()
    finished(caller, b1, b2, trunk)
    [invite] = trunk.received("INVITE")
    assert invite.first_line.startswith(f"INVITE sip:{TRUNK_NUMBER}@")
    assert "reason=user-busy" in invite.header("Diversion")[0]

    line = switch.account()
    switch.settings(
        line,
        busy_action=FallbackAction.NUMBER,
        busy_to=TRUNK_NUMBER,
        no_answer_action=FallbackAction.NUMBER,
        no_answer_to=OTHER_TRUNK_NUMBER,
        no_answer_timeout=5,
    )
    work2 = work / "second"
    one_busy = switch.phone(line, "b1", "uas_status.xml", workdir=work2, code=486, reason="Busy")
    ringing = switch.phone(line, "r1", "uas_ring.xml", workdir=work2)
    trunk = switch.sipp(
        "trunk",
        "uas_status.xml",
        workdir=work2,
        uas=True,
        port=trunk_port,
        code=480,
        reason="Unavailable",
    ).start()
    caller = switch.sipp(
        "caller", "uac_answer.xml", workdir=work2, service=line, hold_ms=500, **{"from": CALLER}
    )
    caller.run()
    finished(caller, one_busy, ringing, trunk)
    [invite] = trunk.received("INVITE")
    assert invite.first_line.startswith(f"INVITE sip:{OTHER_TRUNK_NUMBER}@")
    assert "reason=no-answer" in invite.header("Diversion")[0]
    # the ringing device rang for the no-answer timeout, then was cancelled
    [inv] = ringing.received("INVITE")
    [cancel] = ringing.received("CANCEL")
    assert 4.7 < cancel.at - inv.at < 5.3


def test_unavailable_forwarding_and_voicemail(
    switch: SwitchUnderTest, work: Path, trunk_port: int, audio: dict[str, Path]
) -> None:
    line = switch.account()
    switch.settings(line, unavailable_forwarding=True, unavailable_to=TRUNK_NUMBER)
    dev = switch.phone(
        line, "dev", "uas_status.xml", workdir=work, code=480, reason="Temporarily Unavailable"
    )
    trunk = switch.sipp(
        "trunk",
        "uas_answer.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        answer_ms=100,
        pcap=audio["device_2s"],
    ).start()
    caller = switch.sipp(
        "caller", "uac_answer.xml", workdir=work, service=line, hold_ms=500, **{"from": CALLER}
    )
    caller.run()
    finished(caller, dev, trunk)
    [invite] = trunk.received("INVITE")
    assert "reason=unavailable" in invite.header("Diversion")[0]

    # without unavailable forwarding: straight to voicemail
    line2 = switch.account()
    work2 = work / "second"
    dev2 = switch.phone(
        line2, "dev", "uas_status.xml", workdir=work2, code=480, reason="Temporarily Unavailable"
    )
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work2,
        service=line2,
        wait_ms=800,
        hold_ms=2300,
        pcap=audio["caller_2s"],
        **{"from": CALLER},
    )
    caller.run()
    finished(caller, dev2)
    [message] = switch.wait_for(lambda: switch.messages(line2))
    assert abs(message.duration_seconds - 2.0) < 0.5


STAGE_2_ONLY = "6135557010"
BOTH_STAGES = "6135557011"


def start_sequential(
    switch: SwitchUnderTest, work: Path, trunk_port: int, trunk_calls: int
) -> tuple[str, Sipp, Sipp]:
    """The line's own phone rings 0-5 s, STAGE_2_ONLY 5-10 s and BOTH_STAGES 0-10 s (one leg
    across both stages); the two numbers are reached through the trunk."""
    a = switch.account()
    phone = switch.phone(a, "a", "uas_ring.xml", workdir=work)
    trunk = switch.sipp(
        "trunk", "uas_ring.xml", workdir=work, uas=True, port=trunk_port, calls=trunk_calls
    ).start()
    switch.settings(
        a,
        incoming_mode=IncomingMode.SEQUENTIAL,
        ring_table=RingTable(
            (
                RingEntry(ACCOUNT_PHONE, (5, None)),
                RingEntry(STAGE_2_ONLY, (None, 5)),
                RingEntry(BOTH_STAGES, (5, 5)),
            )
        ),
    )
    return a, phone, trunk


def by_number(messages: list[Message], number: str) -> list[Message]:
    return [
        m
        for m in messages
        if f"sip:{number}@" in m.first_line or any(f"sip:{number}@" in v for v in m.header("To"))
    ]


def test_sequential_stages_start_on_time_and_continuous_legs_stay_up(
    switch: SwitchUnderTest, work: Path, trunk_port: int
) -> None:
    a, phone, trunk = start_sequential(switch, work, trunk_port, 2)
    caller = switch.sipp(
        "caller", "uac_answer.xml", workdir=work, service=a, hold_ms=300, **{"from": CALLER}
    )
    caller.run()
    finished(caller, phone, trunk)
    [t0] = [m.at for m in caller.sent("INVITE")]
    [inv_a] = phone.received("INVITE")
    [cancel_a] = phone.received("CANCEL")
    [inv_2] = by_number(trunk.received("INVITE"), STAGE_2_ONLY)
    [inv_both] = by_number(trunk.received("INVITE"), BOTH_STAGES)  # never re-INVITEd
    [cancel_2] = by_number(trunk.received("CANCEL"), STAGE_2_ONLY)
    [cancel_both] = by_number(trunk.received("CANCEL"), BOTH_STAGES)
    assert abs(inv_a.at - t0) < 0.3
    assert abs(inv_both.at - t0) < 0.3
    assert abs(inv_2.at - (t0 + 5)) < 0.3
    assert abs(cancel_a.at - (t0 + 5)) < 0.3
    assert abs(cancel_2.at - (t0 + 10)) < 0.3
    assert abs(cancel_both.at - (t0 + 10)) < 0.3
    assert "reason=follow-me" in inv_2.header("Diversion")[0]
    assert inv_a.header("Diversion") == []
    # after the last stage the call reached voicemail (200), where the caller hung up
    assert caller.received(200)
    log = switch.wait_for(lambda: switch.call_log(a))
    assert [(r.direction, r.disposition) for r in log] == [("missed", "abandoned")]


@pytest.mark.parametrize("cancel_ms", [2000, 7000], ids=["stage-1", "stage-2"])
def test_cancel_during_a_stage_leaves_no_leg_ringing(
    switch: SwitchUnderTest, work: Path, trunk_port: int, cancel_ms: int
) -> None:
    stage_2 = cancel_ms > 5000
    a, phone, trunk = start_sequential(switch, work, trunk_port, 2 if stage_2 else 1)
    caller = switch.sipp(
        "caller", "uac_cancel.xml", workdir=work, service=a, cancel_ms=cancel_ms, **{"from": CALLER}
    )
    caller.run()
    finished(caller, phone, trunk)
    [t0] = [m.at for m in caller.sent("CANCEL")]
    ringing = trunk.received("CANCEL") + ([] if stage_2 else phone.received("CANCEL"))
    assert len(ringing) == 2
    for cancel in ringing:
        assert abs(cancel.at - t0) < 0.3
    if not stage_2:
        assert by_number(trunk.received("INVITE"), STAGE_2_ONLY) == []
    log = switch.wait_for(lambda: switch.call_log(a))
    assert [(r.direction, r.disposition) for r in log] == [("missed", "abandoned")]


def test_simultaneous_ring_first_answer_wins(
    switch: SwitchUnderTest, work: Path, trunk_port: int, audio: dict[str, Path]
) -> None:
    a = switch.account()
    ring_a = switch.phone(a, "a", "uas_ring.xml", workdir=work)
    trunk = switch.sipp(
        "trunk",
        "uas_answer.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        answer_ms=1000,
        pcap=audio["device_2s"],
    ).start()
    switch.settings(
        a,
        incoming_mode=IncomingMode.SIMULTANEOUS,
        no_answer_timeout=10,
        ring_table=RingTable(
            (RingEntry(ACCOUNT_PHONE, (10,)), RingEntry(TRUNK_NUMBER, (10,), confirm_answer=False))
        ),
    )
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=a,
        hold_ms=1000,
        pcap=audio["caller_2s"],
        **{"from": CALLER},
    )
    caller.run()
    finished(caller, ring_a, trunk)
    [inv_a] = ring_a.received("INVITE")
    [inv_b] = trunk.received("INVITE")
    assert abs(inv_a.at - inv_b.at) < 0.3
    cancel_a = ring_a.received("CANCEL")[0]
    ok_b = trunk.sent(200)[0]
    assert -0.05 <= cancel_a.at - ok_b.at < 0.3  # two processes' clocks: allow 50 ms
    log = switch.wait_for(lambda: switch.call_log(a))
    assert [(r.direction, r.disposition) for r in log] == [("received", "answered")]


@pytest.mark.parametrize("allowed", [True, False], ids=["remote-forwarding-on", "off"])
def test_remote_forwarding_policy(
    switch: SwitchUnderTest, work: Path, trunk_port: int, allowed: bool, audio: dict[str, Path]
) -> None:
    a = switch.account()
    switch.settings(
        a,
        incoming_mode=IncomingMode.SIMULTANEOUS,
        no_answer_timeout=10,
        ring_table=RingTable((RingEntry(TRUNK_NUMBER, (10,), allowed, confirm_answer=False),)),
    )
    from tests.support.sip import free_ports

    elsewhere_port = free_ports(1)
    trunk = switch.sipp(
        "trunk",
        "uas_status.xml",
        workdir=work,
        uas=True,
        port=trunk_port,
        code=302,
        reason="Moved Temporarily",
        headers=(f"Contact: <sip:mobile@127.0.0.1:{elsewhere_port}>",),
    ).start()
    elsewhere = switch.sipp(
        "elsewhere",
        "uas_answer.xml",
        workdir=work,
        uas=True,
        port=elsewhere_port,
        answer_ms=100,
        pcap=audio["device_2s"],
        timeout=15,
    )
    if allowed:
        elsewhere.start()
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=a,
        wait_ms=800,
        hold_ms=2300,
        pcap=audio["caller_2s"],
        **{"from": CALLER},
    )
    caller.run()
    finished(caller, trunk, *([elsewhere] if allowed else []))
    if allowed:
        assert len(elsewhere.received("INVITE")) == 1
        log = switch.wait_for(lambda: switch.call_log(a))
        assert [(r.direction, r.disposition) for r in log] == [("received", "answered")]
    else:
        # the redirect counts as the leg failing: unavailable -> voicemail
        [message] = switch.wait_for(lambda: switch.messages(a))
        assert abs(message.duration_seconds - 2.0) < 0.5


def test_loop_guard_stops_a_forwarding_loop_in_voicemail(
    switch: SwitchUnderTest, work: Path, audio: dict[str, Path]
) -> None:
    a, b = switch.account(), switch.account()
    switch.settings(a, incoming_mode=IncomingMode.FORWARD_ALL, forward_all_to=b)
    switch.settings(b, incoming_mode=IncomingMode.FORWARD_ALL, forward_all_to=a)
    caller = switch.sipp(
        "caller",
        "uac_answer.xml",
        workdir=work,
        service=a,
        wait_ms=800,
        hold_ms=2300,
        pcap=audio["caller_2s"],
        **{"from": CALLER},
    )
    assert caller.run() == 0, caller.describe()
    # A forwards to B (Diversion: A); B may not forward back to A: B's voicemail takes it.
    [message] = switch.wait_for(lambda: switch.messages(b))
    assert message.caller_number == "6135551234"
    assert switch.messages(a) == []
    log_a = switch.wait_for(lambda: switch.call_log(a))
    assert [(r.direction, r.disposition) for r in log_a] == [("missed", "forwarded")]
    time.sleep(0.2)


def test_a_ring_table_of_local_lines_rings_every_column(
    switch: SwitchUnderTest, work: Path
) -> None:
    """Legs to local lines come back into the same worker as calls of their own (without the
    edge): each needs its slots, and the second column must ring too (the stock pjsua2 wheel's
    4 calls per process never reached it)."""
    a, b, c = switch.account(), switch.account(), switch.account()
    phone_b = switch.phone(b, "b", "uas_ring.xml", workdir=work)
    phone_c = switch.phone(c, "c", "uas_ring.xml", workdir=work)
    switch.settings(
        a,
        incoming_mode=IncomingMode.SEQUENTIAL,
        ring_table=RingTable((RingEntry(b, (5, None)), RingEntry(c, (None, 5)))),
    )
    caller = switch.sipp(
        "caller", "uac_answer.xml", workdir=work, service=a, hold_ms=300, **{"from": CALLER}
    )
    caller.run()
    finished(caller, phone_b, phone_c)
    [t0] = [m.at for m in caller.sent("INVITE")]
    [inv_b] = phone_b.received("INVITE")
    [inv_c] = phone_c.received("INVITE")
    assert abs(inv_b.at - t0) < 0.5
    assert abs(inv_c.at - (t0 + 5)) < 0.5
    assert phone_b.received("CANCEL") and phone_c.received("CANCEL")
    assert caller.received(200)  # after the last column, the line's voicemail answered
