""" "What happens if ... calls now?": run routing.engine.decide() on the saved settings and put
the Plan in words, in French or English, from its steps, rules and legs (never from the
engine's English explanation)."""

from __future__ import annotations

from datetime import datetime

from portal.auth.services import LineRef
from portal.errors import Problems
from portal.home.schemas import PreviewBranch, PreviewOut, PreviewStep
from portal.i18n import Msg, format_number
from routing import numbers
from routing.engine import decide
from routing.model import (
    ACCOUNT_PHONE,
    CallFacts,
    DialPlan,
    Forward,
    GreetingReason,
    Leg,
    Plan,
    Reject,
    Retrieval,
    Ring,
    Step,
    Voicemail,
)
from store import repository
from store.session import Store

# What the caller hears when the call is refused, in plain words (no SIP codes: the switch's
# log has them).
REJECT_CODES = {
    603: Msg("The call is declined; the caller cannot leave a message."),
    433: Msg(
        "The caller hears that calls from hidden numbers are not accepted and cannot leave a "
        "message."
    ),
    486: Msg("The caller hears a busy signal and cannot leave a message."),
    480: Msg("The caller hears that you cannot be reached now and cannot leave a message."),
    404: Msg("The caller hears that the number is not in service."),
}

# Why a step happened, for the rules that are not obvious from the step itself.
WHY: dict[str, Msg] = {
    "reject_list": Msg("The caller is on your reject list."),
    "anonymous_rejected": Msg("The caller hides their number and you reject anonymous calls."),
    "dnd": Msg("Do not disturb is on: no phone rings."),
    "selective_forward": Msg("The caller is on your forward list."),
    "no_destination": Msg("No forwarding number is set for this case."),
    "dial_plan_refused": Msg("The forwarding number is not allowed by the dial plan."),
    "loop_guard": Msg("Forwarding would send the call around in a loop."),
    "no_devices": Msg("No phone is registered on your line."),
    "ring_table_invalid": Msg("Your ring table cannot be used, so your account phone rings."),
    "forward_failed": Msg("The forwarding number did not take the call."),
}

SUMMARY: dict[str, Msg] = {
    "reject_list": Msg("%(caller)s is on your reject list: the call is declined, no message."),
    "anonymous_rejected": Msg(
        "Anonymous calls are rejected: the call is refused and no message can be left."
    ),
    "dnd": Msg("Do not disturb is on: the call goes straight to your voicemail."),
    "selective_forward": Msg("%(caller)s is on your forward list: %(first)s"),
    "ring_account": Msg("Your account phone rings for %(seconds)s seconds."),
    "forward_all": Msg("All your calls are forwarded to %(target)s."),
    "sequential": Msg("Your phones ring one after another, %(seconds)s seconds in all."),
    "simultaneous": Msg("All your phones ring at once for %(seconds)s seconds."),
    "no_devices": Msg("No phone is registered on your line: %(first)s"),
    "ring_table_invalid": Msg(
        "Your ring table cannot be used, so your account phone rings for %(seconds)s seconds."
    ),
}

BRANCH_LABELS = {
    "no_answer": Msg("If nobody answers"),
    "busy": Msg("If the line is busy"),
    "unavailable": Msg("If no phone can ring"),
    "failure": Msg("If the forwarding number does not take the call"),
}


def _who(target: str, lang: str) -> str:
    if target == ACCOUNT_PHONE:
        return Msg("your account phone").render(lang)
    return format_number(target)


def _leg(leg: Leg, lang: str) -> str:
    text = Msg(
        "%(who)s: from %(start)s s to %(end)s s",
        who=_who(leg.target, lang),
        start=leg.start,
        end=leg.end,
    ).render(lang)
    if leg.allow_remote_forwarding:
        text += " " + Msg("(remote forwarding allowed)").render(lang)
    if leg.confirm:
        text += " " + Msg("(whoever answers must press 1)").render(lang)
    return text


def _step_text(step: Step, lang: str) -> str:
    if isinstance(step, Reject):
        return REJECT_CODES.get(
            step.code, Msg("The call is refused; the caller cannot leave a message.")
        ).render(lang)
    if isinstance(step, Voicemail):
        if step.greeting is GreetingReason.BUSY:
            return Msg("The caller reaches your voicemail and hears your busy greeting.").render(
                lang
            )
        return Msg("The caller reaches your voicemail and can leave a message.").render(lang)
    if isinstance(step, Retrieval):
        return Msg("The caller reaches voicemail access.").render(lang)
    if isinstance(step, Ring):
        return Msg("Phones ring for up to %(seconds)s seconds:", seconds=step.timeout).render(lang)
    assert isinstance(step, Forward)
    if step.timeout is None:
        return Msg(
            "The call is forwarded to %(number)s. It leaves the service: if that number is busy "
            "or does not answer, the call does not come back to your voicemail.",
            number=format_number(step.target),
        ).render(lang)
    return Msg(
        "The call is forwarded to %(number)s, which rings for up to %(seconds)s seconds.",
        number=format_number(step.target),
        seconds=step.timeout,
    ).render(lang)


def render_step(step: Step, lang: str) -> PreviewStep:
    rule = step.rule.value
    text = _step_text(step, lang)
    moves = isinstance(step, Ring | Forward)
    if rule in WHY and (not moves or rule in ("no_devices", "ring_table_invalid")):
        text = f"{WHY[rule].render(lang)} {text}"
    kind = {
        Reject: "reject",
        Voicemail: "voicemail",
        Retrieval: "retrieval",
        Ring: "ring",
        Forward: "forward",
    }[type(step)]
    out = PreviewStep(kind=kind, rule=rule, text=text)  # type: ignore[arg-type]
    if isinstance(step, Ring):
        out.legs = [_leg(leg, lang) for leg in step.legs]
        for when, follow in (
            ("no_answer", step.on_no_answer),
            ("busy", step.on_busy),
            ("unavailable", step.on_unavailable),
        ):
            if follow is not None:
                out.then.append(
                    PreviewBranch(
                        when=when,  # type: ignore[arg-type]
                        text=BRANCH_LABELS[when].render(lang),
                        step=render_step(follow, lang),
                    )
                )
    elif isinstance(step, Forward) and step.on_failure is not None:
        out.then.append(
            PreviewBranch(
                when="failure",
                text=BRANCH_LABELS["failure"].render(lang),
                step=render_step(step.on_failure, lang),
            )
        )
    return out


def summary(plan: Plan, caller: str | None, lang: str) -> str:
    first = plan.first
    rule = plan.reason.value
    template = SUMMARY.get(rule)
    params = {
        "caller": format_number(caller) if caller else Msg("The caller").render(lang),
        "first": _step_text(first, lang),
        "seconds": first.timeout if isinstance(first, Ring) else 0,
        "target": format_number(first.target) if isinstance(first, Forward) else "",
    }
    if template is None or (rule == "forward_all" and not isinstance(first, Forward)):
        why = WHY.get(rule)
        text = _step_text(first, lang)
        return f"{why.render(lang)} {text}" if why else text
    return Msg(template.msgid, **params).render(lang)


def preview(
    store: Store,
    line: LineRef,
    *,
    caller: str | None,
    anonymous: bool,
    now: datetime,
    plan: DialPlan,
    forward_timeout: int,
    max_diversions: int,
    lang: str,
) -> PreviewOut:
    """The plan for a call from `caller` (None or anonymous: a caller without a number)."""
    problems = Problems()
    number: str | None = None
    if not anonymous:
        text = (caller or "").strip()
        if not text:
            problems.add(
                "caller", "required", Msg("Enter the caller's number, or choose anonymous.")
            )
        else:
            number = numbers.caller_number(text)
            if number is None:
                problems.add(
                    "caller",
                    "invalid-number",
                    Msg(
                        "%(value)s is not a phone number: enter 10 digits, such as 613 555 0123.",
                        value=text[:40],
                    ),
                )
    problems.check()
    with store.read() as s:
        settings = repository.line_settings(
            s,
            line.number,
            dial_plan=plan,
            forward_timeout=forward_timeout,
            max_diversions=max_diversions,
        )
    assert settings is not None
    facts = CallFacts(called=line.number, caller=number, now=now)
    decided = decide(settings, facts)
    return PreviewOut(
        line=line.number,
        caller=number,
        reason=decided.reason.value,
        summary=summary(decided, number, lang),
        plan=render_step(decided.first, lang),
    )
