"""routing.engine: every rule of SPEC S3 and its order, table-driven."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from routing import engine
from routing.diversion import parse_diversion, parse_history_info
from routing.engine import decide, describe, ring_outcome
from routing.model import (
    ACCOUNT_PHONE,
    CallFacts,
    DialPlan,
    Diversion,
    DiversionReason,
    FallbackAction,
    Forward,
    GreetingReason,
    IncomingMode,
    Leg,
    LegResult,
    LineSettings,
    Outcome,
    PhoneState,
    Plan,
    Reject,
    Retrieval,
    Ring,
    RingEntry,
    RingTable,
    Rule,
    Step,
    Voicemail,
)
from tests.unit.routing_strategies import NOW

LINE = "6135550100"
CALLER = "6135550199"
OTHER = "6135550188"
MOBILE = "6135550111"
HOME = "6135550122"
PREMIUM = "9005550100"
R = DiversionReason
G = GreetingReason


def settings(**changes: object) -> LineSettings:
    return replace(LineSettings(line=LINE), **changes)  # type: ignore[arg-type]


def call(caller: str | None = CALLER, **changes: object) -> CallFacts:
    return replace(CallFacts(called=LINE, caller=caller, now=NOW), **changes)  # type: ignore[arg-type]


def vm(greeting: GreetingReason, rule: Rule) -> tuple[type[Voicemail], str, GreetingReason, Rule]:
    return (Voicemail, LINE, greeting, rule)


def shape(step: Step | None) -> object:
    """A compact, comparable view of a step (without its explanation)."""
    if step is None:
        return None
    if isinstance(step, Voicemail):
        return (Voicemail, step.mailbox, step.greeting, step.rule)
    if isinstance(step, Reject):
        return (Reject, step.code, step.rule)
    if isinstance(step, Retrieval):
        return (Retrieval, step.mailbox, step.rule)
    if isinstance(step, Forward):
        return (
            Forward,
            step.target,
            step.diversion,
            step.timeout,
            shape(step.on_failure),
            step.rule,
        )
    return (
        Ring,
        step.legs,
        step.timeout,
        shape(step.on_busy),
        shape(step.on_no_answer),
        shape(step.on_unavailable),
        step.rule,
    )


def steps(step: Step | None) -> Iterator[Step]:
    if step is None:
        return
    yield step
    if isinstance(step, Ring):
        yield from steps(step.on_busy)
        yield from steps(step.on_no_answer)
        yield from steps(step.on_unavailable)
    elif isinstance(step, Forward):
        yield from steps(step.on_failure)


DEFAULT_OUTCOMES = (
    vm(G.BUSY, Rule.BUSY),
    vm(G.NO_ANSWER, Rule.NO_ANSWER),
    vm(G.UNAVAILABLE, Rule.UNAVAILABLE),
)


def ring_account(timeout: int = 24, outcomes: tuple[object, ...] = DEFAULT_OUTCOMES) -> object:
    return (Ring, (Leg(ACCOUNT_PHONE, 0, timeout),), timeout, *outcomes, Rule.RING_ACCOUNT)


def forward(
    target: str,
    reason: DiversionReason,
    rule: Rule,
    on_failure: object,
    timeout: int | None = 30,
) -> object:
    return (Forward, target, Diversion(LINE, reason), timeout, on_failure, rule)


TABLE = RingTable(
    (
        RingEntry(ACCOUNT_PHONE, (20, 20)),
        RingEntry(MOBILE, (None, 30), allow_remote_forwarding=True),
        RingEntry(HOME, (10,)),
    )
)
TABLE_LEGS = (
    Leg(ACCOUNT_PHONE, 0, 40),
    Leg(HOME, 0, 10, diversion=Diversion(LINE, R.FOLLOW_ME), confirm=True),
    Leg(
        MOBILE,
        20,
        30,
        allow_remote_forwarding=True,
        diversion=Diversion(LINE, R.FOLLOW_ME),
        confirm=True,
    ),
)

both_lists = {
    "selective_rejection": True,
    "reject_list": frozenset({CALLER}),
    "selective_forwarding": True,
    "forward_list": frozenset({CALLER}),
    "selective_forward_to": OTHER,
}

CASES: list[tuple[str, dict[str, object], CallFacts, object]] = [
    # 1. reject list
    (
        "reject list: 603, no voicemail",
        {"selective_rejection": True, "reject_list": frozenset({CALLER})},
        call(),
        (Reject, 603, Rule.REJECT_LIST),
    ),
    (
        "reject list while selective rejection is off: rings",
        {"selective_rejection": False, "reject_list": frozenset({CALLER})},
        call(),
        ring_account(),
    ),
    ("a number on both lists is rejected", both_lists, call(), (Reject, 603, Rule.REJECT_LIST)),
    (
        "both lists, rejection off: not forwarded (the reject list vetoes the forward)",
        {**both_lists, "selective_rejection": False},
        call(),
        ring_account(),
    ),
    (
        "reject list wins over DND and forward all",
        {
            "selective_rejection": True,
            "reject_list": frozenset({CALLER}),
            "phone_state": PhoneState.DND,
            "incoming_mode": IncomingMode.FORWARD_ALL,
            "forward_all_to": OTHER,
        },
        call(),
        (Reject, 603, Rule.REJECT_LIST),
    ),
    (
        "reject list wins over anonymous rejection (Privacy: id)",
        {
            "selective_rejection": True,
            "reject_list": frozenset({CALLER}),
            "anonymous_rejection": True,
        },
        call(privacy=frozenset({"id"})),
        (Reject, 603, Rule.REJECT_LIST),
    ),
    (
        "reject list, line without mailbox: still 603",
        {"selective_rejection": True, "reject_list": frozenset({CALLER}), "has_mailbox": False},
        call(),
        (Reject, 603, Rule.REJECT_LIST),
    ),
    # 2. anonymous rejection
    (
        "anonymous (no number) rejected: 433",
        {"anonymous_rejection": True},
        call(None),
        (Reject, 433, Rule.ANONYMOUS_REJECTED),
    ),
    (
        "Privacy: id rejected",
        {"anonymous_rejection": True},
        call(privacy=frozenset({"id"})),
        (Reject, 433, Rule.ANONYMOUS_REJECTED),
    ),
    (
        "Privacy: user rejected",
        {"anonymous_rejection": True},
        call(privacy=frozenset({"user"})),
        (Reject, 433, Rule.ANONYMOUS_REJECTED),
    ),
    (
        "Privacy: none is not anonymous",
        {"anonymous_rejection": True},
        call(privacy=frozenset({"none"})),
        ring_account(),
    ),
    (
        "anonymous caller, rejection off: rings",
        {"anonymous_rejection": False},
        call(None),
        ring_account(),
    ),
    (
        "anonymous rejection wins over DND",
        {"anonymous_rejection": True, "phone_state": PhoneState.DND},
        call(None),
        (Reject, 433, Rule.ANONYMOUS_REJECTED),
    ),
    (
        "anonymous rejection wins over the forward list",
        {
            "anonymous_rejection": True,
            "selective_forwarding": True,
            "forward_list": frozenset({CALLER}),
            "selective_forward_to": OTHER,
        },
        call(privacy=frozenset({"id"})),
        (Reject, 433, Rule.ANONYMOUS_REJECTED),
    ),
    # 3. DND
    ("DND: voicemail, no ringing", {"phone_state": PhoneState.DND}, call(), vm(G.DND, Rule.DND)),
    (
        "DND ignores selective forwarding",
        {
            "phone_state": PhoneState.DND,
            "selective_forwarding": True,
            "forward_list": frozenset({CALLER}),
            "selective_forward_to": OTHER,
        },
        call(),
        vm(G.DND, Rule.DND),
    ),
    (
        "DND wins over forward all",
        {
            "phone_state": PhoneState.DND,
            "incoming_mode": IncomingMode.FORWARD_ALL,
            "forward_all_to": OTHER,
        },
        call(),
        vm(G.DND, Rule.DND),
    ),
    (
        "DND wins over a ring table",
        {"phone_state": PhoneState.DND, "incoming_mode": IncomingMode.SEQUENTIAL},
        call(),
        vm(G.DND, Rule.DND),
    ),
    (
        "DND without mailbox: 480",
        {"phone_state": PhoneState.DND, "has_mailbox": False},
        call(),
        (Reject, 480, Rule.DND),
    ),
    # 4. selective forwarding
    (
        "forward list: forward (deflection), voicemail if it fails",
        {
            "selective_forwarding": True,
            "forward_list": frozenset({CALLER}),
            "selective_forward_to": OTHER,
        },
        call(),
        forward(OTHER, R.DEFLECTION, Rule.SELECTIVE_FORWARD, vm(G.DEFAULT, Rule.FORWARD_FAILED)),
    ),
    (
        "forward list, selective forwarding off: rings",
        {
            "selective_forwarding": False,
            "forward_list": frozenset({CALLER}),
            "selective_forward_to": OTHER,
        },
        call(),
        ring_account(),
    ),
    (
        "caller not on the forward list: rings",
        {
            "selective_forwarding": True,
            "forward_list": frozenset({HOME}),
            "selective_forward_to": OTHER,
        },
        call(),
        ring_account(),
    ),
    (
        "selective forwarding wins over forward all",
        {
            "selective_forwarding": True,
            "forward_list": frozenset({CALLER}),
            "selective_forward_to": OTHER,
            "incoming_mode": IncomingMode.FORWARD_ALL,
            "forward_all_to": HOME,
        },
        call(),
        forward(OTHER, R.DEFLECTION, Rule.SELECTIVE_FORWARD, vm(G.DEFAULT, Rule.FORWARD_FAILED)),
    ),
    (
        "selective forwarding to a refused number: voicemail",
        {
            "selective_forwarding": True,
            "forward_list": frozenset({CALLER}),
            "selective_forward_to": PREMIUM,
        },
        call(),
        vm(G.DEFAULT, Rule.DIAL_PLAN_REFUSED),
    ),
    (
        "selective forwarding without a number: voicemail",
        {
            "selective_forwarding": True,
            "forward_list": frozenset({CALLER}),
            "selective_forward_to": None,
        },
        call(),
        vm(G.DEFAULT, Rule.NO_DESTINATION),
    ),
    (
        "selective forwarding without mailbox: 480 when it fails",
        {
            "selective_forwarding": True,
            "forward_list": frozenset({CALLER}),
            "selective_forward_to": OTHER,
            "has_mailbox": False,
        },
        call(),
        forward(OTHER, R.DEFLECTION, Rule.SELECTIVE_FORWARD, (Reject, 480, Rule.FORWARD_FAILED)),
    ),
    # 5. ring_account and the outcomes (6, 7)
    ("ring account: defaults", {}, call(), ring_account()),
    ("ring account: no-answer timeout", {"no_answer_timeout": 36}, call(), ring_account(36)),
    (
        "no answer -> the no-answer number, voicemail if it fails",
        {"no_answer_action": FallbackAction.NUMBER, "no_answer_to": OTHER, "forward_timeout": 25},
        call(),
        ring_account(
            outcomes=(
                vm(G.BUSY, Rule.BUSY),
                forward(
                    OTHER, R.NO_ANSWER, Rule.NO_ANSWER, vm(G.NO_ANSWER, Rule.FORWARD_FAILED), 25
                ),
                vm(G.UNAVAILABLE, Rule.UNAVAILABLE),
            )
        ),
    ),
    (
        "busy -> the busy number, voicemail (busy greeting) if it fails",
        {"busy_action": FallbackAction.NUMBER, "busy_to": OTHER},
        call(),
        ring_account(
            outcomes=(
                forward(OTHER, R.USER_BUSY, Rule.BUSY, vm(G.BUSY, Rule.FORWARD_FAILED)),
                vm(G.NO_ANSWER, Rule.NO_ANSWER),
                vm(G.UNAVAILABLE, Rule.UNAVAILABLE),
            )
        ),
    ),
    (
        "unavailable -> the unavailable number, voicemail if it fails",
        {"unavailable_forwarding": True, "unavailable_to": OTHER},
        call(),
        ring_account(
            outcomes=(
                vm(G.BUSY, Rule.BUSY),
                vm(G.NO_ANSWER, Rule.NO_ANSWER),
                forward(
                    OTHER, R.UNAVAILABLE, Rule.UNAVAILABLE, vm(G.UNAVAILABLE, Rule.FORWARD_FAILED)
                ),
            )
        ),
    ),
    (
        "unavailable number set but forwarding off: voicemail",
        {"unavailable_forwarding": False, "unavailable_to": OTHER},
        call(),
        ring_account(),
    ),
    (
        "no devices: voicemail (unavailable greeting) without ringing",
        {"has_devices": False},
        call(),
        vm(G.UNAVAILABLE, Rule.NO_DEVICES),
    ),
    (
        "no devices, unavailable forwarding on: forward (unavailable)",
        {"has_devices": False, "unavailable_forwarding": True, "unavailable_to": OTHER},
        call(),
        forward(OTHER, R.UNAVAILABLE, Rule.NO_DEVICES, vm(G.UNAVAILABLE, Rule.FORWARD_FAILED)),
    ),
    (
        "no mailbox: busy 486, no answer and unavailable 480",
        {"has_mailbox": False},
        call(),
        ring_account(
            outcomes=(
                (Reject, 486, Rule.BUSY),
                (Reject, 480, Rule.NO_ANSWER),
                (Reject, 480, Rule.UNAVAILABLE),
            )
        ),
    ),
    (
        "no mailbox: failed conditional forwards are rejected",
        {
            "has_mailbox": False,
            "busy_action": FallbackAction.NUMBER,
            "busy_to": OTHER,
            "no_answer_action": FallbackAction.NUMBER,
            "no_answer_to": OTHER,
        },
        call(),
        ring_account(
            outcomes=(
                forward(OTHER, R.USER_BUSY, Rule.BUSY, (Reject, 486, Rule.FORWARD_FAILED)),
                forward(OTHER, R.NO_ANSWER, Rule.NO_ANSWER, (Reject, 480, Rule.FORWARD_FAILED)),
                (Reject, 480, Rule.UNAVAILABLE),
            )
        ),
    ),
    (
        "no devices and no mailbox: 480",
        {"has_devices": False, "has_mailbox": False},
        call(),
        (Reject, 480, Rule.NO_DEVICES),
    ),
    (
        "conditional forward to a refused number: voicemail at once",
        {"busy_action": FallbackAction.NUMBER, "busy_to": PREMIUM},
        call(),
        ring_account(
            outcomes=(
                vm(G.BUSY, Rule.DIAL_PLAN_REFUSED),
                vm(G.NO_ANSWER, Rule.NO_ANSWER),
                vm(G.UNAVAILABLE, Rule.UNAVAILABLE),
            )
        ),
    ),
    (
        "no-answer number missing: voicemail",
        {"no_answer_action": FallbackAction.NUMBER, "no_answer_to": None},
        call(),
        ring_account(
            outcomes=(
                vm(G.BUSY, Rule.BUSY),
                vm(G.NO_ANSWER, Rule.NO_DESTINATION),
                vm(G.UNAVAILABLE, Rule.UNAVAILABLE),
            )
        ),
    ),
    # forward_all
    (
        "forward all: unconditional, no fallback",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": OTHER},
        call(),
        forward(OTHER, R.UNCONDITIONAL, Rule.FORWARD_ALL, None, None),
    ),
    (
        "forward all never falls back, even with every fallback configured",
        {
            "incoming_mode": IncomingMode.FORWARD_ALL,
            "forward_all_to": OTHER,
            "busy_action": FallbackAction.NUMBER,
            "busy_to": HOME,
            "no_answer_action": FallbackAction.NUMBER,
            "no_answer_to": HOME,
            "unavailable_forwarding": True,
            "unavailable_to": HOME,
        },
        call(),
        forward(OTHER, R.UNCONDITIONAL, Rule.FORWARD_ALL, None, None),
    ),
    (
        "forward all to a refused number: voicemail rather than dropping the call",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": PREMIUM},
        call(),
        vm(G.DEFAULT, Rule.DIAL_PLAN_REFUSED),
    ),
    (
        "forward all to international without permission: voicemail",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": "011442079460958"},
        call(),
        vm(G.DEFAULT, Rule.DIAL_PLAN_REFUSED),
    ),
    (
        "forward all to international, allowed by the account",
        {
            "incoming_mode": IncomingMode.FORWARD_ALL,
            "forward_all_to": "011442079460958",
            "allow_international": True,
        },
        call(),
        forward("011442079460958", R.UNCONDITIONAL, Rule.FORWARD_ALL, None, None),
    ),
    (
        "forward all to international, allowed by the dial plan",
        {
            "incoming_mode": IncomingMode.FORWARD_ALL,
            "forward_all_to": "011442079460958",
            "dial_plan": DialPlan(allow_international=True),
        },
        call(),
        forward("011442079460958", R.UNCONDITIONAL, Rule.FORWARD_ALL, None, None),
    ),
    (
        "forward all to an extension",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": "1234"},
        call(),
        forward("1234", R.UNCONDITIONAL, Rule.FORWARD_ALL, None, None),
    ),
    (
        "forward all without a number: voicemail",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": None},
        call(),
        vm(G.DEFAULT, Rule.NO_DESTINATION),
    ),
    (
        "forward all to the line itself: voicemail",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": LINE},
        call(),
        vm(G.DEFAULT, Rule.LOOP_GUARD),
    ),
    (
        "forward all refused, no mailbox: 480",
        {
            "incoming_mode": IncomingMode.FORWARD_ALL,
            "forward_all_to": PREMIUM,
            "has_mailbox": False,
        },
        call(),
        (Reject, 480, Rule.DIAL_PLAN_REFUSED),
    ),
    # loop guard
    (
        "loop guard: the target already diverted the call",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": OTHER},
        call(diversions=(Diversion(OTHER, R.UNCONDITIONAL),)),
        vm(G.DEFAULT, Rule.LOOP_GUARD),
    ),
    (
        "loop guard: the target is deeper in the history",
        {"busy_action": FallbackAction.NUMBER, "busy_to": OTHER},
        call(diversions=(Diversion(HOME, R.NO_ANSWER), Diversion(OTHER, R.UNCONDITIONAL))),
        ring_account(
            outcomes=(
                vm(G.BUSY, Rule.LOOP_GUARD),
                vm(G.NO_ANSWER, Rule.NO_ANSWER),
                vm(G.UNAVAILABLE, Rule.UNAVAILABLE),
            )
        ),
    ),
    (
        "loop guard: 5 diversions already",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": OTHER},
        call(diversions=tuple(Diversion(f"61355502{k:02d}") for k in range(5))),
        vm(G.DEFAULT, Rule.LOOP_GUARD),
    ),
    (
        "4 diversions: forwarded once more",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": OTHER},
        call(diversions=tuple(Diversion(f"61355502{k:02d}") for k in range(4))),
        forward(OTHER, R.UNCONDITIONAL, Rule.FORWARD_ALL, None, None),
    ),
    (
        "max_diversions from the settings",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": OTHER, "max_diversions": 2},
        call(diversions=(Diversion(HOME), Diversion(MOBILE))),
        vm(G.DEFAULT, Rule.LOOP_GUARD),
    ),
    (
        "loop guard on selective forwarding",
        {
            "selective_forwarding": True,
            "forward_list": frozenset({CALLER}),
            "selective_forward_to": OTHER,
        },
        call(diversions=(Diversion(OTHER, R.DEFLECTION),)),
        vm(G.DEFAULT, Rule.LOOP_GUARD),
    ),
    (
        "a diverted call to a line that forwards elsewhere is forwarded",
        {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": OTHER},
        call(diversions=(Diversion(HOME, R.NO_ANSWER),)),
        forward(OTHER, R.UNCONDITIONAL, Rule.FORWARD_ALL, None, None),
    ),
    # sequential / simultaneous
    (
        "sequential: follow-me legs, one continuous leg for the account phone",
        {"incoming_mode": IncomingMode.SEQUENTIAL, "ring_table": TABLE},
        call(),
        (Ring, TABLE_LEGS, 50, *DEFAULT_OUTCOMES, Rule.SEQUENTIAL),
    ),
    (
        "simultaneous: every row at once for the no-answer timeout",
        {"incoming_mode": IncomingMode.SIMULTANEOUS, "ring_table": TABLE, "no_answer_timeout": 30},
        call(),
        (
            Ring,
            (
                Leg(ACCOUNT_PHONE, 0, 30),
                Leg(
                    MOBILE,
                    0,
                    30,
                    allow_remote_forwarding=True,
                    diversion=Diversion(LINE, R.FOLLOW_ME),
                    confirm=True,
                ),
                Leg(HOME, 0, 30, diversion=Diversion(LINE, R.FOLLOW_ME), confirm=True),
            ),
            30,
            *DEFAULT_OUTCOMES,
            Rule.SIMULTANEOUS,
        ),
    ),
    (
        "sequential: refused numbers are left out, timings kept",
        {
            "incoming_mode": IncomingMode.SEQUENTIAL,
            "ring_table": RingTable(
                (RingEntry(PREMIUM, (20,)), RingEntry(MOBILE, (None, 30)), RingEntry("911", (10,)))
            ),
        },
        call(),
        (
            Ring,
            (Leg(MOBILE, 20, 30, diversion=Diversion(LINE, R.FOLLOW_ME), confirm=True),),
            50,
            *DEFAULT_OUTCOMES,
            Rule.SEQUENTIAL,
        ),
    ),
    (
        "sequential: every number refused behaves as unavailable",
        {
            "incoming_mode": IncomingMode.SEQUENTIAL,
            "ring_table": RingTable((RingEntry(PREMIUM, (20,)), RingEntry("911", (10,)))),
        },
        call(),
        vm(G.UNAVAILABLE, Rule.UNAVAILABLE),
    ),
    (
        "sequential: every number refused, unavailable forwarding on",
        {
            "incoming_mode": IncomingMode.SEQUENTIAL,
            "ring_table": RingTable((RingEntry(PREMIUM, (20,)),)),
            "unavailable_forwarding": True,
            "unavailable_to": OTHER,
        },
        call(),
        forward(OTHER, R.UNAVAILABLE, Rule.UNAVAILABLE, vm(G.UNAVAILABLE, Rule.FORWARD_FAILED)),
    ),
    (
        "sequential without devices: the account phone is left out",
        {"incoming_mode": IncomingMode.SEQUENTIAL, "ring_table": TABLE, "has_devices": False},
        call(),
        (Ring, TABLE_LEGS[1:], 50, *DEFAULT_OUTCOMES, Rule.SEQUENTIAL),
    ),
    (
        "sequential, only the account phone, no devices: unavailable",
        {
            "incoming_mode": IncomingMode.SEQUENTIAL,
            "ring_table": RingTable((RingEntry(ACCOUNT_PHONE, (20,)),)),
            "has_devices": False,
        },
        call(),
        vm(G.UNAVAILABLE, Rule.NO_DEVICES),
    ),
    (
        "sequential: the line's own number is never rung",
        {
            "incoming_mode": IncomingMode.SEQUENTIAL,
            "ring_table": RingTable((RingEntry(LINE, (20,)), RingEntry(MOBILE, (20,)))),
        },
        call(),
        (
            Ring,
            (Leg(MOBILE, 0, 20, diversion=Diversion(LINE, R.FOLLOW_ME), confirm=True),),
            20,
            *DEFAULT_OUTCOMES,
            Rule.SEQUENTIAL,
        ),
    ),
    (
        "sequential: a number in the diversion history is left out",
        {"incoming_mode": IncomingMode.SEQUENTIAL, "ring_table": TABLE},
        call(diversions=(Diversion(MOBILE, R.FOLLOW_ME),)),
        (Ring, TABLE_LEGS[:2], 50, *DEFAULT_OUTCOMES, Rule.SEQUENTIAL),
    ),
    (
        "sequential: after max diversions only the account phone rings",
        {"incoming_mode": IncomingMode.SEQUENTIAL, "ring_table": TABLE, "max_diversions": 1},
        call(diversions=(Diversion(OTHER, R.UNCONDITIONAL),)),
        (Ring, TABLE_LEGS[:1], 50, *DEFAULT_OUTCOMES, Rule.SEQUENTIAL),
    ),
    (
        "sequential with an invalid table: the account phone rings",
        {
            "incoming_mode": IncomingMode.SEQUENTIAL,
            "ring_table": RingTable((RingEntry(MOBILE, (200,)),)),
        },
        call(),
        (
            Ring,
            (Leg(ACCOUNT_PHONE, 0, 24),),
            24,
            *DEFAULT_OUTCOMES,
            Rule.RING_TABLE_INVALID,
        ),
    ),
    (
        "simultaneous with an empty table: the account phone rings",
        {"incoming_mode": IncomingMode.SIMULTANEOUS},
        call(),
        (Ring, (Leg(ACCOUNT_PHONE, 0, 24),), 24, *DEFAULT_OUTCOMES, Rule.RING_TABLE_INVALID),
    ),
    (
        "invalid table and no devices: unavailable",
        {"incoming_mode": IncomingMode.SEQUENTIAL, "has_devices": False},
        call(),
        vm(G.UNAVAILABLE, Rule.NO_DEVICES),
    ),
    (
        "sequential: the outcomes apply after the last stage",
        {
            "incoming_mode": IncomingMode.SEQUENTIAL,
            "ring_table": TABLE,
            "no_answer_action": FallbackAction.NUMBER,
            "no_answer_to": OTHER,
        },
        call(),
        (
            Ring,
            TABLE_LEGS,
            50,
            vm(G.BUSY, Rule.BUSY),
            forward(OTHER, R.NO_ANSWER, Rule.NO_ANSWER, vm(G.NO_ANSWER, Rule.FORWARD_FAILED)),
            vm(G.UNAVAILABLE, Rule.UNAVAILABLE),
            Rule.SEQUENTIAL,
        ),
    ),
]


@pytest.mark.parametrize(
    ("changes", "facts", "expected"),
    [pytest.param(changes, facts, expected, id=name) for name, changes, facts, expected in CASES],
)
def test_decide(changes: dict[str, object], facts: CallFacts, expected: object) -> None:
    plan = decide(settings(**changes), facts)
    assert shape(plan.first) == expected
    assert plan.reason is plan.first.rule
    assert plan.explanation
    for step in steps(plan.first):
        assert step.explanation


# ------------------------------------------------------------------------------------------------
# Explanations


@pytest.mark.parametrize(
    ("changes", "facts", "explanation"),
    [
        (
            {"selective_rejection": True, "reject_list": frozenset({CALLER})},
            call(),
            "6135550199 is on the reject list: declined (603)",
        ),
        (
            {"anonymous_rejection": True},
            call(None),
            "the caller has no number and anonymous calls are rejected: anonymity disallowed (433)",
        ),
        (
            {"anonymous_rejection": True},
            call(privacy=frozenset({"id"})),
            "the caller asked for privacy and anonymous calls are rejected: "
            "anonymity disallowed (433)",
        ),
        (
            {"phone_state": PhoneState.DND},
            call(),
            "do not disturb: no phone rings: voicemail (do-not-disturb greeting)",
        ),
        (
            {},
            call(),
            "ring the account phone for 24 s; no answer: voicemail (no-answer greeting); "
            "busy: voicemail (busy greeting); unavailable: voicemail (unavailable greeting)",
        ),
        (
            {"busy_action": FallbackAction.NUMBER, "busy_to": OTHER, "has_mailbox": False},
            call(),
            "ring the account phone for 24 s; "
            "no answer: 6135550100 has no mailbox: temporarily unavailable (480); "
            "busy: forward to 6135550188 (user-busy) for up to 30 s; "
            "busy, if 6135550188 does not take the call: 6135550100 has no mailbox: "
            "busy here (486); "
            "unavailable: 6135550100 has no mailbox: temporarily unavailable (480)",
        ),
        (
            {
                "selective_forwarding": True,
                "forward_list": frozenset({CALLER}),
                "selective_forward_to": OTHER,
            },
            call(),
            "6135550199 is on the forward list; "
            "selective forwarding: forward to 6135550188 (deflection) for up to 30 s; "
            "selective forwarding, if 6135550188 does not take the call: "
            "voicemail (default greeting)",
        ),
        (
            {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": OTHER},
            call(),
            "forward all calls: forward to 6135550188 (unconditional); the call leaves this "
            "service, a busy or failed destination is returned to the caller",
        ),
        (
            {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": PREMIUM},
            call(),
            "forward all calls: the dial plan refuses 9005550100: area code 900 is blocked: "
            "voicemail (default greeting)",
        ),
        (
            {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": OTHER},
            call(diversions=(Diversion(OTHER),)),
            "forward all calls: 6135550188 already diverted this call: "
            "voicemail (default greeting)",
        ),
        (
            {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": OTHER},
            call(diversions=(Diversion(HOME),) * 5),
            "forward all calls: the call was already diverted 5 times (at most 5 times): "
            "voicemail (default greeting)",
        ),
        (
            {
                "incoming_mode": IncomingMode.FORWARD_ALL,
                "forward_all_to": OTHER,
                "max_diversions": 1,
            },
            call(diversions=(Diversion(HOME),)),
            "forward all calls: the call was already diverted once (at most once): "
            "voicemail (default greeting)",
        ),
        (
            {"incoming_mode": IncomingMode.FORWARD_ALL, "forward_all_to": LINE},
            call(),
            "forward all calls: 6135550100 is this line itself: voicemail (default greeting)",
        ),
        (
            {"has_devices": False},
            call(),
            "6135550100 has no device that could ring: voicemail (unavailable greeting)",
        ),
        (
            {
                "incoming_mode": IncomingMode.SEQUENTIAL,
                "ring_table": RingTable(
                    (
                        RingEntry(ACCOUNT_PHONE, (20, 20)),
                        RingEntry(MOBILE, (None, 30)),
                        RingEntry(PREMIUM, (10,)),
                    )
                ),
            },
            call(),
            "ring in sequence for 50 s: the account phone 0-40 s, "
            "6135550111 20-50 s (press 1 to accept); "
            "left out: the dial plan refuses 9005550100: area code 900 is blocked; "
            "no answer: voicemail (no-answer greeting); busy: voicemail (busy greeting); "
            "unavailable: voicemail (unavailable greeting)",
        ),
        (
            {"incoming_mode": IncomingMode.SIMULTANEOUS, "ring_table": TABLE},
            call(),
            "ring at once for 24 s: the account phone, 6135550111 (press 1 to accept), "
            "6135550122 (press 1 to accept); "
            "no answer: voicemail (no-answer greeting); busy: voicemail (busy greeting); "
            "unavailable: voicemail (unavailable greeting)",
        ),
        (
            {"incoming_mode": IncomingMode.SEQUENTIAL, "ring_table": RingTable()},
            call(),
            "the ring table is invalid (the ring table is empty): ring the account phone for "
            "24 s; no answer: voicemail (no-answer greeting); busy: voicemail (busy greeting); "
            "unavailable: voicemail (unavailable greeting)",
        ),
    ],
)
def test_plan_explanations(changes: dict[str, object], facts: CallFacts, explanation: str) -> None:
    assert decide(settings(**changes), facts).explanation == explanation


def test_unknown_line() -> None:
    plan = decide(None, call())
    assert plan.first == Reject(
        404, Rule.UNKNOWN_LINE, "6135550100 is not a line of this service: not found (404)"
    )
    assert plan.explanation == plan.first.explanation


def test_describe_is_the_step_tree_in_words() -> None:
    plan = decide(settings(busy_action=FallbackAction.NUMBER, busy_to=OTHER), call())
    assert isinstance(plan.first, Ring)
    assert describe(plan.first) == plan.explanation
    assert plan.first.explanation == "ring the account phone for 24 s"


# ------------------------------------------------------------------------------------------------
# Voicemail pilot


def pilot(diversions: tuple[Diversion, ...], caller: str | None = CALLER) -> CallFacts:
    return CallFacts(called="*98", caller=caller, now=NOW, diversions=diversions, to_pilot=True)


@pytest.mark.parametrize(
    ("reason", "greeting"),
    [
        (R.USER_BUSY, G.BUSY),
        (R.NO_ANSWER, G.NO_ANSWER),
        (R.UNAVAILABLE, G.UNAVAILABLE),
        (R.DO_NOT_DISTURB, G.DND),
        (R.UNCONDITIONAL, G.DEFAULT),
        (R.DEFLECTION, G.DEFAULT),
        (R.FOLLOW_ME, G.DEFAULT),
        (R.UNKNOWN, G.DEFAULT),
    ],
)
def test_pilot_with_diversion_deposits_with_the_greeting_of_the_reason(
    reason: DiversionReason, greeting: GreetingReason
) -> None:
    plan = decide(settings(), pilot((Diversion(LINE, reason), Diversion(OTHER, R.UNCONDITIONAL))))
    assert shape(plan.first) == (Voicemail, LINE, greeting, Rule.PILOT_DIVERTED)
    assert plan.reason is Rule.PILOT_DIVERTED


def test_pilot_explanation() -> None:
    plan = decide(settings(), pilot((Diversion(LINE, R.USER_BUSY),)))
    assert plan.explanation == (
        "diverted to the voicemail pilot by 6135550100 (user-busy): "
        "voicemail of 6135550100 (busy greeting)"
    )


def test_pilot_with_a_diversion_header_from_an_external_switch() -> None:
    diversions = parse_diversion(
        "<sip:+16135550100@pbx.example.com;user=phone>;reason=user-busy;counter=1;privacy=off,"
        "<sip:6135550188@pbx.example.com>;reason=unconditional;counter=1"
    )
    plan = decide(settings(), pilot(diversions))
    assert shape(plan.first) == (Voicemail, LINE, G.BUSY, Rule.PILOT_DIVERTED)


def test_pilot_with_history_info_from_an_external_switch() -> None:
    diversions = parse_history_info(
        "<sip:6135550188@pbx.example.com>;index=1,"
        "<sip:6135550100@pbx.example.com;cause=302>;index=1.1;rc=1,"
        "<sip:*98@relais.example.com;cause=408>;index=1.1.1;mp=1.1"
    )
    plan = decide(settings(), pilot(diversions))
    assert shape(plan.first) == (Voicemail, LINE, G.NO_ANSWER, Rule.PILOT_DIVERTED)


def test_pilot_ignores_the_line_s_routing() -> None:
    # The external switch already routed the call: screening lists and DND do not apply.
    line = settings(
        phone_state=PhoneState.DND,
        selective_rejection=True,
        reject_list=frozenset({CALLER}),
        anonymous_rejection=True,
        incoming_mode=IncomingMode.FORWARD_ALL,
        forward_all_to=OTHER,
    )
    plan = decide(line, pilot((Diversion(LINE, R.NO_ANSWER),)))
    assert shape(plan.first) == (Voicemail, LINE, G.NO_ANSWER, Rule.PILOT_DIVERTED)


@pytest.mark.parametrize("caller", [CALLER, None])
def test_pilot_without_diversion_is_retrieval(caller: str | None) -> None:
    plan = decide(None, pilot((), caller))
    assert plan.first == Retrieval(
        None,
        Rule.PILOT_RETRIEVAL,
        "call to the voicemail pilot without diversion: voicemail retrieval, "
        "asking for the mailbox number",
    )
    assert decide(settings(), pilot((), caller)) == plan


def test_pilot_from_an_unknown_line() -> None:
    plan = decide(None, pilot((Diversion(OTHER, R.NO_ANSWER),)))
    assert plan.first == Reject(
        404,
        Rule.UNKNOWN_LINE,
        "diverted to the voicemail pilot by 6135550188, which is not a line of this service: "
        "not found (404)",
    )


def test_pilot_with_the_settings_of_another_line() -> None:
    plan = decide(settings(), pilot((Diversion(OTHER, R.NO_ANSWER),)))
    assert shape(plan.first) == (Reject, 404, Rule.UNKNOWN_LINE)


def test_pilot_for_a_line_without_mailbox() -> None:
    plan = decide(settings(has_mailbox=False), pilot((Diversion(LINE, R.NO_ANSWER),)))
    assert plan.first == Reject(
        404,
        Rule.PILOT_DIVERTED,
        "diverted to the voicemail pilot by 6135550100, which has no mailbox: not found (404)",
    )


# ------------------------------------------------------------------------------------------------
# ring_outcome


B, N, U, X, F = (
    LegResult.BUSY,
    LegResult.NO_ANSWER,
    LegResult.UNAVAILABLE,
    LegResult.REDIRECT_REFUSED,
    LegResult.FAILED,
)


@pytest.mark.parametrize(
    ("results", "outcome"),
    [
        ((), Outcome.UNAVAILABLE),
        ((N,), Outcome.NO_ANSWER),
        ((B,), Outcome.BUSY),
        ((U,), Outcome.UNAVAILABLE),
        ((X,), Outcome.UNAVAILABLE),
        ((F,), Outcome.UNAVAILABLE),
        ((B, B, B), Outcome.BUSY),
        ((B, N), Outcome.NO_ANSWER),
        ((N, B), Outcome.NO_ANSWER),
        ((B, U), Outcome.BUSY),
        ((B, X, F), Outcome.BUSY),
        ((U, X, F), Outcome.UNAVAILABLE),
        ((U, U, N), Outcome.NO_ANSWER),
        ((F, N, B, U, X), Outcome.NO_ANSWER),
    ],
)
def test_ring_outcome(results: tuple[LegResult, ...], outcome: Outcome) -> None:
    assert ring_outcome(results) is outcome
    assert ring_outcome(list(reversed(results))) is outcome


# ------------------------------------------------------------------------------------------------
# The per-settings cache


def test_equal_settings_objects_give_equal_plans() -> None:
    first = decide(settings(incoming_mode=IncomingMode.SEQUENTIAL, ring_table=TABLE), call())
    again = decide(settings(incoming_mode=IncomingMode.SEQUENTIAL, ring_table=TABLE), call())
    assert first == again


def test_a_changed_settings_object_is_not_served_from_the_cache() -> None:
    line = settings()
    assert shape(decide(line, call()).first) == ring_account()
    changed = replace(line, phone_state=PhoneState.DND)
    assert shape(decide(changed, call()).first) == vm(G.DND, Rule.DND)
    assert shape(decide(line, call()).first) == ring_account()


def test_the_cache_is_bounded_and_stays_correct_past_its_limit() -> None:
    lines = [settings(no_answer_timeout=5 + k % 100) for k in range(engine._CACHE_LIMIT + 500)]
    for k, line in enumerate(lines):
        ring = decide(line, call()).first
        assert isinstance(ring, Ring)
        assert ring.timeout == 5 + k % 100
        assert len(engine._cache) <= engine._CACHE_LIMIT
    assert all(isinstance(decide(line, call()).first, Ring) for line in lines)


def test_plans_are_shared_only_between_calls_without_diversions() -> None:
    line = settings(incoming_mode=IncomingMode.FORWARD_ALL, forward_all_to=OTHER)
    plain: Plan = decide(line, call())
    diverted = decide(line, call(diversions=(Diversion(OTHER),)))
    assert shape(plain.first) == forward(OTHER, R.UNCONDITIONAL, Rule.FORWARD_ALL, None, None)
    assert shape(diverted.first) == vm(G.DEFAULT, Rule.LOOP_GUARD)
    assert decide(line, call()) is plain


def test_equal_settings_read_again_for_each_call_share_one_cache_entry() -> None:
    # The switch reads a new LineSettings object for every call: equal values, new identity.
    engine._cache.clear()
    first = decide(settings(ring_table=TABLE), call())
    for _ in range(50):
        assert decide(settings(ring_table=TABLE), call()) is first
    assert len(engine._cache) == 1
