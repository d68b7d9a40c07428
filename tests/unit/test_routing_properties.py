"""routing.engine: properties over random valid settings and calls (hypothesis)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

from hypothesis import event, given
from hypothesis import strategies as st

from routing import ringplan
from routing.engine import decide
from routing.model import (
    ACCOUNT_PHONE,
    CallFacts,
    Diversion,
    DiversionReason,
    Forward,
    IncomingMode,
    Leg,
    LineSettings,
    PhoneState,
    Reject,
    Ring,
    Rule,
    Step,
    Voicemail,
)
from routing.numbers import refusal
from tests.unit.routing_strategies import LINE, calls, line_settings

FORWARD_REASONS = {
    Rule.FORWARD_ALL: {DiversionReason.UNCONDITIONAL},
    Rule.SELECTIVE_FORWARD: {DiversionReason.DEFLECTION},
    Rule.BUSY: {DiversionReason.USER_BUSY},
    Rule.NO_ANSWER: {DiversionReason.NO_ANSWER},
    Rule.UNAVAILABLE: {DiversionReason.UNAVAILABLE},
    Rule.NO_DEVICES: {DiversionReason.UNAVAILABLE},
}


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


def rejected_by_list(s: LineSettings, call: CallFacts) -> bool:
    return s.selective_rejection and call.caller is not None and call.caller in s.reject_list


def rejected_as_anonymous(s: LineSettings, call: CallFacts) -> bool:
    anonymous = call.caller is None or bool({"id", "user"} & call.privacy)
    return s.anonymous_rejection and anonymous


@given(line_settings(), calls)
def test_decide_never_raises_and_every_step_explains_itself(s: LineSettings, c: CallFacts) -> None:
    plan = decide(s, c)
    event(plan.reason.value)
    assert plan.reason is plan.first.rule
    assert plan.explanation.strip()
    for step in steps(plan.first):
        assert isinstance(step.rule, Rule)
        assert step.explanation.strip()


@given(line_settings(), calls)
def test_the_reject_list_always_wins(s: LineSettings, c: CallFacts) -> None:
    if c.caller is None:
        return
    s = replace(s, selective_rejection=True, reject_list=s.reject_list | {c.caller})
    plan = decide(s, c)
    assert plan.first == Reject(
        603, Rule.REJECT_LIST, f"{c.caller} is on the reject list: declined (603)"
    )


@given(line_settings(), calls)
def test_anonymous_rejection_wins_over_everything_but_the_reject_list(
    s: LineSettings, c: CallFacts
) -> None:
    s = replace(s, anonymous_rejection=True)
    c = replace(c, privacy=c.privacy | {"id"})
    plan = decide(s, c)
    assert isinstance(plan.first, Reject)
    expected = 603 if rejected_by_list(s, c) else 433
    assert plan.first.code == expected


@given(line_settings(), calls)
def test_dnd_never_rings_nor_forwards(s: LineSettings, c: CallFacts) -> None:
    s = replace(s, phone_state=PhoneState.DND)
    plan = decide(s, c)
    assert not any(isinstance(step, Ring | Forward) for step in steps(plan.first))
    if not (rejected_by_list(s, c) or rejected_as_anonymous(s, c)):
        assert plan.reason is Rule.DND


@given(line_settings(), calls)
def test_legs_stay_within_the_table(s: LineSettings, c: CallFacts) -> None:
    plan = decide(s, c)
    rows = {entry.number: entry for entry in s.ring_table.entries}
    for step in steps(plan.first):
        if not isinstance(step, Ring):
            continue
        if step.rule in (Rule.RING_ACCOUNT, Rule.RING_TABLE_INVALID):
            assert step.legs == (Leg(ACCOUNT_PHONE, 0, s.no_answer_timeout),)
            continue
        assert step.rule in (Rule.SEQUENTIAL, Rule.SIMULTANEOUS)
        if step.rule is Rule.SEQUENTIAL:
            timeline = ringplan.sequential(s.ring_table, local=s.local_numbers)
        else:
            timeline = ringplan.simultaneous(
                s.ring_table, s.no_answer_timeout, local=s.local_numbers
            )
        assert step.timeout == timeline.total
        allowed = [replace(leg, diversion=None) for leg in timeline.legs]
        # the legs are the table's legs, in order, some left out, none added or changed
        kept = iter(allowed)
        for leg in step.legs:
            assert leg.target in rows
            assert replace(leg, diversion=None) in kept
        counts = Counter(leg.target for leg in step.legs)
        for number, count in counts.items():
            cells = sum(cell is not None for cell in rows[number].cells)
            assert count <= max(cells, 1)


@given(line_settings(), calls)
def test_nobody_is_called_who_may_not_be(s: LineSettings, c: CallFacts) -> None:
    plan = decide(s, c)
    history = {d.line for d in c.diversions}
    for step in steps(plan.first):
        targets: list[tuple[str, Diversion | None]] = []
        if isinstance(step, Forward):
            targets.append((step.target, step.diversion))
            assert step.diversion.reason in FORWARD_REASONS[step.rule]
        elif isinstance(step, Ring):
            if not s.has_devices:
                assert all(leg.target != ACCOUNT_PHONE for leg in step.legs)
            for leg in step.legs:
                if leg.target == ACCOUNT_PHONE:
                    assert leg.diversion is None
                else:
                    assert leg.diversion == Diversion(LINE, DiversionReason.FOLLOW_ME)
                    targets.append((leg.target, leg.diversion))
        for target, diversion in targets:
            assert refusal(target, s.dial_plan, s.allow_international) is None
            assert target != LINE
            assert target not in history
            assert len(c.diversions) < s.max_diversions
            assert diversion is not None and diversion.line == LINE


@given(line_settings(), calls)
def test_forward_all_never_falls_back(s: LineSettings, c: CallFacts) -> None:
    s = replace(s, incoming_mode=IncomingMode.FORWARD_ALL)
    plan = decide(s, c)
    for step in steps(plan.first):
        if isinstance(step, Forward) and step.rule is Rule.FORWARD_ALL:
            assert step.on_failure is None
            assert step.timeout is None
            assert step.diversion == Diversion(LINE, DiversionReason.UNCONDITIONAL)
    if isinstance(plan.first, Forward) and plan.first.rule is Rule.FORWARD_ALL:
        assert list(steps(plan.first)) == [plan.first]


@given(line_settings(), calls)
def test_conditional_forwards_fall_back_to_voicemail(s: LineSettings, c: CallFacts) -> None:
    plan = decide(s, c)
    for step in steps(plan.first):
        if isinstance(step, Forward) and step.rule is not Rule.FORWARD_ALL:
            assert step.timeout == s.forward_timeout
            fallback = step.on_failure
            if s.has_mailbox:
                assert isinstance(fallback, Voicemail) and fallback.mailbox == LINE
            else:
                assert isinstance(fallback, Reject) and fallback.code in (480, 486)
            assert fallback.rule is Rule.FORWARD_FAILED


@given(line_settings(), calls)
def test_without_mailbox_there_is_no_voicemail(s: LineSettings, c: CallFacts) -> None:
    s = replace(s, has_mailbox=False)
    plan = decide(s, c)
    assert not any(isinstance(step, Voicemail) for step in steps(plan.first))


@given(line_settings(), calls)
def test_every_ring_says_what_follows(s: LineSettings, c: CallFacts) -> None:
    plan = decide(s, c)
    for step in steps(plan.first):
        if isinstance(step, Ring):
            assert step.legs
            assert step.on_busy is not None
            assert step.on_no_answer is not None
            assert step.on_unavailable is not None
            assert all(leg.end <= step.timeout for leg in step.legs)


@given(line_settings(), calls, st.integers(0, 6))
def test_the_cached_plan_equals_a_freshly_built_one(s: LineSettings, c: CallFacts, n: int) -> None:
    plain = replace(c, diversions=())
    plan = decide(s, plain)
    assert decide(replace(s), plain) == plan  # another object: built again, not cached
    # a history that names no number of these settings and stays under the limit changes nothing
    stranger = "6135550177"
    used = {s.forward_all_to, s.selective_forward_to, s.no_answer_to, s.busy_to, s.unavailable_to}
    used |= {entry.number for entry in s.ring_table.entries}
    if stranger in used or n >= s.max_diversions:
        return
    diverted = replace(c, diversions=(Diversion(stranger, DiversionReason.NO_ANSWER),) * n)
    assert decide(s, diverted) == plan


@given(line_settings(), calls)
def test_forward_list_callers_are_forwarded_unless_rejected_or_dnd(
    s: LineSettings, c: CallFacts
) -> None:
    if c.caller is None:
        return
    s = replace(s, selective_forwarding=True, forward_list=s.forward_list | {c.caller})
    plan = decide(s, c)
    if rejected_by_list(s, c):
        assert plan.reason is Rule.REJECT_LIST
    elif rejected_as_anonymous(s, c):
        assert plan.reason is Rule.ANONYMOUS_REJECTED
    elif s.phone_state is PhoneState.DND:
        assert plan.reason is Rule.DND
    elif c.caller in s.reject_list:
        # on both lists with selective rejection off: the reject list still vetoes the forward
        assert plan.reason is not Rule.SELECTIVE_FORWARD
    elif isinstance(plan.first, Forward):
        assert plan.reason is Rule.SELECTIVE_FORWARD
        assert plan.first.target == s.selective_forward_to
        assert plan.first.diversion == Diversion(LINE, DiversionReason.DEFLECTION)
    else:
        # the destination may not be called: voicemail (or a Reject without mailbox) at once
        assert plan.reason in (Rule.NO_DESTINATION, Rule.DIAL_PLAN_REFUSED, Rule.LOOP_GUARD)
        assert isinstance(plan.first, Voicemail | Reject)


@given(line_settings(), calls)
def test_pilot_calls_never_ring_nor_forward(s: LineSettings, c: CallFacts) -> None:
    c = replace(c, called="*98", to_pilot=True)
    plan = decide(s, c)
    assert not any(isinstance(step, Ring | Forward) for step in steps(plan.first))
    if not c.diversions:
        assert plan.reason is Rule.PILOT_RETRIEVAL
    elif c.diversions[0].line == s.line and s.has_mailbox:
        assert isinstance(plan.first, Voicemail) and plan.first.mailbox == s.line
    else:
        assert isinstance(plan.first, Reject) and plan.first.code == 404
