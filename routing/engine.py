"""decide(settings, call) -> Plan: the call-routing rules of SPEC S3, in their order.

Rules of this file:
- Pure: settings and call facts in, a Plan out; no I/O, no clock, no logging.
- The order of S3, for a call to a line:
  1. caller on the reject list (selective rejection on) -> Reject 603, no voicemail; a number on
     both the forward and the reject list is rejected;
  2. anonymous caller (anonymous rejection on) -> Reject 433 (RFC 5079), no voicemail;
  3. do not disturb -> voicemail without ringing (selective forwarding does not apply);
  4. caller on the forward list (selective forwarding on) -> Forward (deflection);
  5. the incoming mode: ring_account, forward_all, sequential or simultaneous;
  6. unavailable (no device, or no leg could ring) -> the unavailable forward, else voicemail;
  7. no answer / busy -> voicemail or the no-answer / busy number.
- Every forward carries a Diversion naming this line; UCN legs to other numbers carry follow-me.
- A destination that is missing, refused by the dial plan, this line itself, already in the
  diversion history, or reached by a call already diverted max_diversions times is not called.
- A conditional forward (no answer, busy, unavailable, selective) falls back to voicemail when it
  fails; forward_all never does.
- A line without a mailbox cannot take voicemail: where voicemail would be the answer the plan
  rejects instead, 486 (Busy Here) after busy and 480 (Temporarily Unavailable) otherwise.
- Fast path: everything that depends on the settings alone is built once per distinct
  LineSettings value (frozen, so equal settings give equal plans) and shared by every call
  without diversions; a call only costs set lookups in the forward and reject lists, whatever
  their size. Keyed by value, not identity: the switch reads a new but equal LineSettings for
  every call, and an identity key grew the cache by one entry per call.
"""

from __future__ import annotations

from collections.abc import Sequence

from routing import ringplan
from routing.model import (
    ACCOUNT_PHONE,
    CallFacts,
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
    Rule,
    Step,
    Voicemail,
)
from routing.numbers import is_anonymous, refusal

DECLINE = 603
ANONYMITY_DISALLOWED = 433
NOT_FOUND = 404
TEMPORARILY_UNAVAILABLE = 480
BUSY_HERE = 486

_STATUS_TEXT = {
    DECLINE: "declined",
    ANONYMITY_DISALLOWED: "anonymity disallowed",
    NOT_FOUND: "not found",
    TEMPORARILY_UNAVAILABLE: "temporarily unavailable",
    BUSY_HERE: "busy here",
}

_GREETING_TEXT = {
    GreetingReason.DEFAULT: "default greeting",
    GreetingReason.BUSY: "busy greeting",
    GreetingReason.NO_ANSWER: "no-answer greeting",
    GreetingReason.UNAVAILABLE: "unavailable greeting",
    GreetingReason.DND: "do-not-disturb greeting",
}

PILOT_GREETINGS = {
    DiversionReason.USER_BUSY: GreetingReason.BUSY,
    DiversionReason.NO_ANSWER: GreetingReason.NO_ANSWER,
    DiversionReason.UNAVAILABLE: GreetingReason.UNAVAILABLE,
    DiversionReason.DO_NOT_DISTURB: GreetingReason.DND,
}
"""Greeting for a call diverted to the pilot, by diversion reason; any other reason: DEFAULT."""


def decide(settings: LineSettings | None, call: CallFacts) -> Plan:
    """What to do with `call`.

    For a call to a line, `settings` are the called line's settings (None: the line is unknown).
    For a call to the voicemail pilot (call.to_pilot) with diversions, `settings` are those of the
    most recent diverting line, call.diversions[0].line (None: that line is unknown).
    """
    if call.to_pilot:
        return _pilot(settings, call)
    if settings is None:
        return _single(
            Reject(
                NOT_FOUND,
                Rule.UNKNOWN_LINE,
                f"{call.called} is not a line of this service: {_status(NOT_FOUND)}",
            )
        )
    caller = call.caller
    if settings.selective_rejection and caller is not None and caller in settings.reject_list:
        return _single(
            Reject(
                DECLINE,
                Rule.REJECT_LIST,
                f"{caller} is on the reject list: {_status(DECLINE)}",
            )
        )
    if settings.anonymous_rejection and is_anonymous(caller, call.privacy):
        why = "has no number" if caller is None else "asked for privacy"
        return _single(
            Reject(
                ANONYMITY_DISALLOWED,
                Rule.ANONYMOUS_REJECTED,
                f"the caller {why} and anonymous calls are rejected: "
                f"{_status(ANONYMITY_DISALLOWED)}",
            )
        )
    plans = _Plans(_Builder(settings, call.diversions)) if call.diversions else _cached(settings)
    if settings.phone_state is PhoneState.DND:
        return plans.dnd()
    # The guide: calls are not forwarded when the caller is also on the reject list, even while
    # selective rejection is off (the reject list still vetoes the forward).
    if (
        settings.selective_forwarding
        and caller is not None
        and caller in settings.forward_list
        and caller not in settings.reject_list
    ):
        step, description = plans.selective()
        return Plan(step, step.rule, f"{caller} is on the forward list; {description}")
    return plans.mode()


def ring_outcome(results: Sequence[LegResult]) -> Outcome:
    """How a Ring step ended when no leg answered, from how each leg ended.

    | leg results                                                   | outcome     |
    |---------------------------------------------------------------|-------------|
    | at least one NO_ANSWER (a leg rang)                           | NO_ANSWER   |
    | no NO_ANSWER, at least one BUSY                               | BUSY        |
    | only UNAVAILABLE, REDIRECT_REFUSED and FAILED, or no leg      | UNAVAILABLE |

    So the line is busy only when no leg rang and a leg was busy (every device that could take
    the call was busy), and unavailable when no leg rang nor answered busy.
    """
    busy = False
    for result in results:
        if result is LegResult.NO_ANSWER:
            return Outcome.NO_ANSWER
        if result is LegResult.BUSY:
            busy = True
    return Outcome.BUSY if busy else Outcome.UNAVAILABLE


def describe(step: Step) -> str:
    """The whole step tree in words: the step, then what follows each way it can end."""
    if isinstance(step, Ring):
        parts = [step.explanation]
        for follow in (step.on_no_answer, step.on_busy, step.on_unavailable):
            if follow is not None:
                parts.append(describe(follow))
        return "; ".join(parts)
    if isinstance(step, Forward):
        if step.on_failure is None:
            return step.explanation
        return f"{step.explanation}; {describe(step.on_failure)}"
    return step.explanation


# ------------------------------------------------------------------------------------------------
# Pilot


def _pilot(settings: LineSettings | None, call: CallFacts) -> Plan:
    if not call.diversions:
        return _single(
            Retrieval(
                None,
                Rule.PILOT_RETRIEVAL,
                "call to the voicemail pilot without diversion: voicemail retrieval, "
                "asking for the mailbox number",
            )
        )
    latest = call.diversions[0]
    line = latest.line
    if settings is None or settings.line != line:
        return _single(
            Reject(
                NOT_FOUND,
                Rule.UNKNOWN_LINE,
                f"diverted to the voicemail pilot by {line}, which is not a line of this service: "
                f"{_status(NOT_FOUND)}",
            )
        )
    if not settings.has_mailbox:
        return _single(
            Reject(
                NOT_FOUND,
                Rule.PILOT_DIVERTED,
                f"diverted to the voicemail pilot by {line}, which has no mailbox: "
                f"{_status(NOT_FOUND)}",
            )
        )
    greeting = PILOT_GREETINGS.get(latest.reason, GreetingReason.DEFAULT)
    return _single(
        Voicemail(
            line,
            greeting,
            Rule.PILOT_DIVERTED,
            f"diverted to the voicemail pilot by {line} ({latest.reason.value}): "
            f"voicemail of {line} ({_GREETING_TEXT[greeting]})",
        )
    )


# ------------------------------------------------------------------------------------------------
# Plans built from the settings


class _Plans:
    """The plans of one line for calls with one diversion history, each built when first asked."""

    __slots__ = ("_builder", "_dnd", "_mode", "_selective")

    def __init__(self, builder: _Builder) -> None:
        self._builder = builder
        self._dnd: Plan | None = None
        self._selective: tuple[Step, str] | None = None
        self._mode: Plan | None = None

    def dnd(self) -> Plan:
        if self._dnd is None:
            self._dnd = self._builder.dnd()
        return self._dnd

    def selective(self) -> tuple[Step, str]:
        """The selective-forwarding step and its description."""
        if self._selective is None:
            step = self._builder.selective()
            self._selective = (step, describe(step))
        return self._selective

    def mode(self) -> Plan:
        if self._mode is None:
            self._mode = self._builder.mode()
        return self._mode


_CACHE_LIMIT = 4096
_cache: dict[LineSettings, _Plans] = {}
"""settings -> plans for calls without diversions; settings are frozen, so the plans never go
stale. Full: emptied at once (atomic, safe if several threads decide)."""


def _cached(settings: LineSettings) -> _Plans:
    plans = _cache.get(settings)
    if plans is not None:
        return plans
    plans = _Plans(_Builder(settings, ()))
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[settings] = plans
    return plans


def _named(leg: Leg, times: str = "") -> str:
    """A leg in an explanation: "6135550100 0-20 s (press 1 to accept)"."""
    return f"{ringplan.label(leg.target)}{times}{' (press 1 to accept)' if leg.confirm else ''}"


def _single(step: Step) -> Plan:
    return Plan(step, step.rule, step.explanation)


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _status(code: int) -> str:
    return f"{_STATUS_TEXT[code]} ({code})"


class _Builder:
    """Builds the steps of one line for calls with a given diversion history."""

    def __init__(self, settings: LineSettings, diversions: tuple[Diversion, ...]) -> None:
        self.s = settings
        self.history = frozenset(d.line for d in diversions)
        self.diverted = len(diversions)
        self.follow_me = Diversion(settings.line, DiversionReason.FOLLOW_ME)
        self._blocked: dict[str, tuple[Rule, str] | None] = {}

    # -- the plans -------------------------------------------------------------------------------

    def dnd(self) -> Plan:
        return _single(
            self.voicemail(
                GreetingReason.DND,
                Rule.DND,
                "do not disturb: no phone rings",
                TEMPORARILY_UNAVAILABLE,
            )
        )

    def selective(self) -> Step:
        s = self.s
        return self.forward(
            s.selective_forward_to,
            DiversionReason.DEFLECTION,
            Rule.SELECTIVE_FORWARD,
            "selective forwarding",
            GreetingReason.DEFAULT,
            TEMPORARILY_UNAVAILABLE,
            conditional=True,
        )

    def mode(self) -> Plan:
        s = self.s
        mode = s.incoming_mode
        if mode is IncomingMode.FORWARD_ALL:
            # A refused or missing forward-all destination goes to voicemail: the other choice
            # is to drop every call of the line, which no subscriber wants.
            step = self.forward(
                s.forward_all_to,
                DiversionReason.UNCONDITIONAL,
                Rule.FORWARD_ALL,
                "forward all calls",
                GreetingReason.DEFAULT,
                TEMPORARILY_UNAVAILABLE,
                conditional=False,
            )
        elif mode is IncomingMode.RING_ACCOUNT:
            step = self.ring_account(Rule.RING_ACCOUNT, "")
        else:
            step = self.ring_table(mode)
        return Plan(step, step.rule, describe(step))

    # -- modes -----------------------------------------------------------------------------------

    def ring_account(self, rule: Rule, why: str) -> Step:
        s = self.s
        if not s.has_devices:
            return self.unavailable(Rule.NO_DEVICES, f"{why}{s.line} has no device that could ring")
        timeout = s.no_answer_timeout
        return self.ring(
            (Leg(ACCOUNT_PHONE, 0, timeout),),
            timeout,
            rule,
            f"{why}ring the account phone for {timeout} s",
        )

    def ring_table(self, mode: IncomingMode) -> Step:
        s = self.s
        simultaneous = mode is IncomingMode.SIMULTANEOUS
        try:
            if simultaneous:
                timeline = ringplan.simultaneous(
                    s.ring_table, s.no_answer_timeout, self.follow_me, s.local_numbers
                )
            else:
                timeline = ringplan.sequential(s.ring_table, self.follow_me, s.local_numbers)
        except ValueError as exc:
            why = f"the ring table is invalid ({exc}): "
            return self.ring_account(Rule.RING_TABLE_INVALID, why)
        legs: list[Leg] = []
        left_out: list[str] = []
        no_device = False
        for leg in timeline.legs:
            if leg.target == ACCOUNT_PHONE:
                if s.has_devices:
                    legs.append(leg)
                else:
                    no_device = True
                    left_out.append(f"the account phone ({s.line} has no device)")
                continue
            blocked = self.blocked(leg.target)
            if blocked is not None:
                left_out.append(blocked[1])
                continue
            legs.append(leg)
        rule = Rule.SIMULTANEOUS if simultaneous else Rule.SEQUENTIAL
        skipped = f"; left out: {', '.join(dict.fromkeys(left_out))}" if left_out else ""
        if not legs:
            only_devices = no_device and len(set(left_out)) == 1
            return self.unavailable(
                Rule.NO_DEVICES if only_devices else Rule.UNAVAILABLE,
                f"no number of the ring table can ring{skipped}",
            )
        if simultaneous:
            what = f"ring at once for {timeline.total} s: " + ", ".join(_named(leg) for leg in legs)
        else:
            what = f"ring in sequence for {timeline.total} s: " + ", ".join(
                _named(leg, f" {leg.start}-{leg.end} s") for leg in legs
            )
        return self.ring(tuple(legs), timeline.total, rule, what + skipped)

    def ring(self, legs: tuple[Leg, ...], timeout: int, rule: Rule, explanation: str) -> Ring:
        return Ring(
            legs,
            timeout,
            on_busy=self.busy(),
            on_no_answer=self.no_answer(),
            on_unavailable=self.unavailable(Rule.UNAVAILABLE, "unavailable"),
            rule=rule,
            explanation=explanation,
        )

    # -- outcomes --------------------------------------------------------------------------------

    def no_answer(self) -> Step:
        s = self.s
        if s.no_answer_action is FallbackAction.NUMBER:
            return self.forward(
                s.no_answer_to,
                DiversionReason.NO_ANSWER,
                Rule.NO_ANSWER,
                "no answer",
                GreetingReason.NO_ANSWER,
                TEMPORARILY_UNAVAILABLE,
                conditional=True,
            )
        return self.voicemail(
            GreetingReason.NO_ANSWER, Rule.NO_ANSWER, "no answer", TEMPORARILY_UNAVAILABLE
        )

    def busy(self) -> Step:
        s = self.s
        if s.busy_action is FallbackAction.NUMBER:
            return self.forward(
                s.busy_to,
                DiversionReason.USER_BUSY,
                Rule.BUSY,
                "busy",
                GreetingReason.BUSY,
                BUSY_HERE,
                conditional=True,
            )
        return self.voicemail(GreetingReason.BUSY, Rule.BUSY, "busy", BUSY_HERE)

    def unavailable(self, rule: Rule, why: str) -> Step:
        s = self.s
        if s.unavailable_forwarding:
            return self.forward(
                s.unavailable_to,
                DiversionReason.UNAVAILABLE,
                rule,
                why,
                GreetingReason.UNAVAILABLE,
                TEMPORARILY_UNAVAILABLE,
                conditional=True,
            )
        return self.voicemail(GreetingReason.UNAVAILABLE, rule, why, TEMPORARILY_UNAVAILABLE)

    # -- building blocks -------------------------------------------------------------------------

    def voicemail(self, greeting: GreetingReason, rule: Rule, why: str, reject_code: int) -> Step:
        """Voicemail of this line, or a Reject with `reject_code` when it has no mailbox."""
        if self.s.has_mailbox:
            return Voicemail(
                self.s.line, greeting, rule, f"{why}: voicemail ({_GREETING_TEXT[greeting]})"
            )
        return Reject(
            reject_code, rule, f"{why}: {self.s.line} has no mailbox: {_status(reject_code)}"
        )

    def forward(
        self,
        target: str | None,
        reason: DiversionReason,
        rule: Rule,
        why: str,
        greeting: GreetingReason,
        reject_code: int,
        *,
        conditional: bool,
    ) -> Step:
        """Forward to `target`; voicemail (or Reject) when the target may not be called.

        A conditional forward falls back to voicemail when the destination fails; the
        unconditional one (forward_all) leaves relais: its failure goes back to the caller.
        """
        if target is None:
            return self.voicemail(
                greeting, Rule.NO_DESTINATION, f"{why}: no forwarding number is set", reject_code
            )
        blocked = self.blocked(target)
        if blocked is not None:
            guard_rule, text = blocked
            return self.voicemail(greeting, guard_rule, f"{why}: {text}", reject_code)
        diversion = Diversion(self.s.line, reason)
        if not conditional:
            return Forward(
                target,
                diversion,
                None,
                None,
                rule,
                f"{why}: forward to {target} ({reason.value}); the call leaves this service, "
                "a busy or failed destination is returned to the caller",
            )
        timeout = self.s.forward_timeout
        on_failure = self.voicemail(
            greeting, Rule.FORWARD_FAILED, f"{why}, if {target} does not take the call", reject_code
        )
        return Forward(
            target,
            diversion,
            timeout,
            on_failure,
            rule,
            f"{why}: forward to {target} ({reason.value}) for up to {timeout} s",
        )

    def blocked(self, target: str) -> tuple[Rule, str] | None:
        """Why `target` may not be called from this line for this call, with the rule; or None."""
        if target in self._blocked:
            return self._blocked[target]
        found = self._blocked[target] = self._check(target)
        return found

    def _check(self, target: str) -> tuple[Rule, str] | None:
        s = self.s
        refused = refusal(target, s.dial_plan, s.allow_international)
        if refused is not None:
            return Rule.DIAL_PLAN_REFUSED, f"the dial plan refuses {target}: {refused}"
        if target == s.line:
            return Rule.LOOP_GUARD, f"{target} is this line itself"
        if target in self.history:
            return Rule.LOOP_GUARD, f"{target} already diverted this call"
        if self.diverted >= s.max_diversions:
            return (
                Rule.LOOP_GUARD,
                f"the call was already diverted {_times(self.diverted)} "
                f"(at most {_times(s.max_diversions)})",
            )
        return None
