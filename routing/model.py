"""Routing data: frozen settings and call facts in, a Plan out (SPEC S3).

Rules of this file:
- Everything is a frozen dataclass or an Enum; nothing here performs I/O or reads a clock.
- Numbers are normalised strings (10-digit NANP, an extension, or 011... international) produced
  by routing.numbers.normalize(); the anonymous caller is None.
- A Plan is a tree of steps. The switch performs the first step; a step that can end without an
  answer names the step that follows each outcome (busy, no answer, unavailable, failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

MAX_STAGES = 6
MAX_ROWS = 11  # the account phone and up to 10 other numbers
MIN_CELL_SECONDS = 5
MAX_CELL_SECONDS = 120

ACCOUNT_PHONE = "account"
"""RingEntry.number of the row that rings the line's own devices."""


class PhoneState(Enum):
    AVAILABLE = "available"
    DND = "dnd"


class IncomingMode(Enum):
    RING_ACCOUNT = "ring_account"
    FORWARD_ALL = "forward_all"
    SEQUENTIAL = "sequential"
    SIMULTANEOUS = "simultaneous"


class FallbackAction(Enum):
    VOICEMAIL = "voicemail"
    NUMBER = "number"


class DiversionReason(Enum):
    """RFC 5806 reason values relais writes and reads."""

    UNKNOWN = "unknown"
    UNCONDITIONAL = "unconditional"
    USER_BUSY = "user-busy"
    NO_ANSWER = "no-answer"
    UNAVAILABLE = "unavailable"
    DEFLECTION = "deflection"
    FOLLOW_ME = "follow-me"
    DO_NOT_DISTURB = "do-not-disturb"


class GreetingReason(Enum):
    """Why a caller reached voicemail: selects the greeting (SPEC S5 deposit step 2)."""

    DEFAULT = "default"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"
    DND = "dnd"


class Rule(Enum):
    """Which rule of S3 decided a step. Plan.reason and Step.rule carry one of these."""

    REJECT_LIST = "reject_list"
    ANONYMOUS_REJECTED = "anonymous_rejected"
    DND = "dnd"
    SELECTIVE_FORWARD = "selective_forward"
    RING_ACCOUNT = "ring_account"
    FORWARD_ALL = "forward_all"
    SEQUENTIAL = "sequential"
    SIMULTANEOUS = "simultaneous"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    FORWARD_FAILED = "forward_failed"
    LOOP_GUARD = "loop_guard"
    DIAL_PLAN_REFUSED = "dial_plan_refused"
    NO_DEVICES = "no_devices"
    PILOT_DIVERTED = "pilot_diverted"
    PILOT_RETRIEVAL = "pilot_retrieval"
    UNKNOWN_LINE = "unknown_line"
    NO_DESTINATION = "no_destination"
    """A forward is due but its number is not set: handled like a refused destination."""
    RING_TABLE_INVALID = "ring_table_invalid"
    """Sequential/simultaneous mode with a table that fails validation: the account phone rings."""


# ------------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class DialPlan:
    """Which forwarding/outdial/reply destinations are allowed (toll-fraud protection)."""

    allow_international: bool = False
    extension_digits: tuple[int, ...] = (4,)
    blocked_area_codes: frozenset[str] = frozenset({"900", "976"})
    blocked_exchanges: frozenset[str] = frozenset({"976"})
    allow_nanp_abroad: bool = False
    """One-plus NANP numbers outside Canada and the United States (numbers.NANP_ABROAD) may be
    called: for every line (the dialplan setting), or for one account (its own permission,
    numbers.for_account)."""


@dataclass(frozen=True)
class RingEntry:
    """One row of the UCN table: a number (or ACCOUNT_PHONE) and its cell per stage.

    cells[k] is the ring duration in seconds in stage k, or None for an empty cell.
    """

    number: str
    cells: tuple[int | None, ...]
    allow_remote_forwarding: bool = False
    confirm_answer: bool | None = None
    """Whoever answers must press 1 before the call is theirs (a mobile's own voicemail never
    does). None: the default, on for numbers outside the installation and off for the account
    phone and the installation's own lines (ringplan.confirms)."""


@dataclass(frozen=True)
class RingTable:
    entries: tuple[RingEntry, ...] = ()


@dataclass(frozen=True)
class LineSettings:
    """Everything the engine needs to know about the called line (S2 call settings)."""

    line: str
    has_mailbox: bool = True
    has_devices: bool = True
    """False when the line has no device that could ring (none provisioned / registered)."""
    phone_state: PhoneState = PhoneState.AVAILABLE
    incoming_mode: IncomingMode = IncomingMode.RING_ACCOUNT
    forward_all_to: str | None = None
    ring_table: RingTable = field(default_factory=RingTable)
    no_answer_action: FallbackAction = FallbackAction.VOICEMAIL
    no_answer_to: str | None = None
    no_answer_timeout: int = 24
    busy_action: FallbackAction = FallbackAction.VOICEMAIL
    busy_to: str | None = None
    unavailable_forwarding: bool = False
    unavailable_to: str | None = None
    selective_forwarding: bool = False
    selective_forward_to: str | None = None
    forward_list: frozenset[str] = frozenset()
    selective_rejection: bool = False
    reject_list: frozenset[str] = frozenset()
    anonymous_rejection: bool = False
    allow_international: bool = False
    """The account may forward to 011 international numbers (DialPlan.allow_international opens
    them to every line of the dial plan)."""
    dial_plan: DialPlan = field(default_factory=DialPlan)
    local_numbers: frozenset[str] = frozenset()
    """The numbers of the ring table that are lines of this installation (confirm_answer off by
    default); any other number counts as outside."""
    forward_timeout: int = 30
    max_diversions: int = 5


# ------------------------------------------------------------------------------------------------
# Call facts


@dataclass(frozen=True)
class Diversion:
    """One entry of the diversion history: `line` diverted the call for `reason`.

    Order in CallFacts.diversions: most recent first (the topmost Diversion header). A Diversion
    header entry with counter=N stands for N diversions and appears N times (routing.diversion).
    """

    line: str
    reason: DiversionReason = DiversionReason.UNKNOWN


@dataclass(frozen=True)
class CallFacts:
    called: str
    """The called number as dialled (normalised when it is a number; '*98' for the pilot)."""
    caller: str | None
    """Normalised caller number; None when the caller is anonymous or has no usable number."""
    now: datetime
    caller_name: str | None = None
    privacy: frozenset[str] = frozenset()
    """Privacy header values, lower case (RFC 3323): 'id', 'user', 'header', 'none', ..."""
    diversions: tuple[Diversion, ...] = ()
    to_pilot: bool = False
    """The call reached the voicemail pilot or access number."""


# ------------------------------------------------------------------------------------------------
# Plan


@dataclass(frozen=True)
class Leg:
    """One outbound leg: ring `target` from `start` seconds after the step began, for `duration`.

    target is ACCOUNT_PHONE (the line's devices, all in parallel) or a normalised number.
    A leg that continues across adjacent stages is one Leg (never re-INVITEd).
    """

    target: str
    start: int
    duration: int
    allow_remote_forwarding: bool = False
    diversion: Diversion | None = None
    """Diversion header to add on this leg (None for the line's own devices)."""
    confirm: bool = False
    """The answerer hears "press 1 to accept" while the caller still hears ringback: 1 wins the
    call; any other key, silence or a hang-up counts as this leg not answering."""

    @property
    def end(self) -> int:
        return self.start + self.duration


@dataclass(frozen=True)
class Reject:
    code: int
    rule: Rule
    explanation: str


@dataclass(frozen=True)
class Voicemail:
    """Deposit into `mailbox` (a line number); greeting chosen by `greeting`."""

    mailbox: str
    greeting: GreetingReason
    rule: Rule
    explanation: str


@dataclass(frozen=True)
class Retrieval:
    """Owner access to voicemail (pilot call without diversion). mailbox is None: ask for it."""

    mailbox: str | None
    rule: Rule
    explanation: str


@dataclass(frozen=True)
class Ring:
    """Ring legs; the first answer wins and every other leg is cancelled.

    The step ends without an answer when every leg has ended (or `timeout` is reached);
    routing.engine.ring_outcome() classifies the leg results into busy/no answer/unavailable.
    A 3xx (or 181 then answer elsewhere) from a leg with allow_remote_forwarding is followed and
    cancels the other legs; from any other leg it counts as that leg failing.
    """

    legs: tuple[Leg, ...]
    timeout: int
    on_busy: Step | None
    on_no_answer: Step | None
    on_unavailable: Step | None
    rule: Rule
    explanation: str


@dataclass(frozen=True)
class Forward:
    """Send the call to `target` with a Diversion header.

    on_failure None: the destination's failure is returned to the caller as is (forward_all).
    timeout None: ring until the destination or the caller gives up.
    """

    target: str
    diversion: Diversion
    timeout: int | None
    on_failure: Step | None
    rule: Rule
    explanation: str


Step = Reject | Voicemail | Retrieval | Ring | Forward


@dataclass(frozen=True)
class Plan:
    first: Step
    reason: Rule
    """The rule that decided the first step."""
    explanation: str
    """The decision in words (English), e.g. for the portal's "what happens if ... calls"."""


class LegResult(Enum):
    """How one leg ended without being answered."""

    BUSY = "busy"  # 486/600
    NO_ANSWER = "no_answer"  # rang (180/183) and its time ran out, or declined after ringing
    UNAVAILABLE = "unavailable"  # 408/480/503/404/timeout without ringing
    REDIRECT_REFUSED = "redirect_refused"  # 3xx from a leg without remote forwarding
    FAILED = "failed"  # any other final failure


class Outcome(Enum):
    """How a Ring or Forward step ended without an answer."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"
