"""Call settings of a line (the home page and the call-settings page), checked then saved.

Rules of this file:
- load() reads what store.repository.line_settings() gives the switch, plus the saved and
  temporary forwarding numbers.
- save() merges a partial update into the current settings, checks the whole result (numbers,
  the dial plan for every destination, the UCN table rules of S3) and refuses it with field
  problems (Invalid) before writing anything; then one transaction writes the settings
  (store.repository.save_line_settings), the forwarding numbers and a settings.changed event.
- Forwarding numbers: the saved ones are kept as given; a destination in use that is not saved
  is kept as a temporary number, and temporary numbers no longer in use are dropped.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from events.events import SettingsChanged
from events.outbox import enqueue
from portal import validate
from portal.auth.services import Auth, LineRef
from portal.errors import Problems
from portal.home.schemas import CallSettingsIn, CallSettingsOut, ForwardingNumberIO, RingEntryIO
from portal.i18n import Msg
from routing import ringplan
from routing.model import (
    ACCOUNT_PHONE,
    MAX_CELL_SECONDS,
    MAX_ROWS,
    MAX_STAGES,
    MIN_CELL_SECONDS,
    DialPlan,
    FallbackAction,
    IncomingMode,
    LineSettings,
    PhoneState,
    RingEntry,
    RingTable,
)
from routing.numbers import for_account
from store import repository
from store.models import ForwardingNumber
from store.session import Store

logger = logging.getLogger(__name__)

MAX_LIST = 1000
MAX_SAVED_NUMBERS = 20
MIN_TIMEOUT, MAX_TIMEOUT = MIN_CELL_SECONDS, MAX_CELL_SECONDS


def load(store: Store, auth: Auth, line: LineRef, *, stored: bool = False) -> CallSettingsOut:
    """The line's call settings as shown. Ring-table rows give their "press 1" setting in force;
    with `stored`, as saved (None: the default), so that merging an update keeps defaults."""
    with store.read() as s:
        ls = repository.line_settings(s, line.number)
        assert ls is not None
        saved = s.scalars(
            select(ForwardingNumber)
            .where(ForwardingNumber.line_number == line.number)
            .order_by(ForwardingNumber.temporary, ForwardingNumber.id)
        ).all()
        forwarding = [
            ForwardingNumberIO(number=f.number, label=f.label, temporary=f.temporary) for f in saved
        ]
    return CallSettingsOut(
        line=line.number,
        ucn_enabled=auth.ucn_enabled,
        phone_state=ls.phone_state.value,
        incoming_mode=ls.incoming_mode.value,
        forward_all_to=ls.forward_all_to,
        ring_table=[
            RingEntryIO(
                number=e.number,
                cells=list(e.cells),
                allow_remote_forwarding=e.allow_remote_forwarding,
                confirm_answer=(
                    e.confirm_answer if stored else ringplan.confirms(e, ls.local_numbers)
                ),
            )
            for e in ls.ring_table.entries
        ],
        no_answer_action=ls.no_answer_action.value,
        no_answer_to=ls.no_answer_to,
        no_answer_timeout=ls.no_answer_timeout,
        busy_action=ls.busy_action.value,
        busy_to=ls.busy_to,
        unavailable_forwarding=ls.unavailable_forwarding,
        unavailable_to=ls.unavailable_to,
        selective_forwarding=ls.selective_forwarding,
        selective_forward_to=ls.selective_forward_to,
        forward_list=sorted(ls.forward_list),
        selective_rejection=ls.selective_rejection,
        reject_list=sorted(ls.reject_list),
        anonymous_rejection=ls.anonymous_rejection,
        forwarding_numbers=forwarding,
    )


def _table(
    rows: list[RingEntryIO],
    mode: str,
    problems: Problems,
    plan: DialPlan,
    allow_international: bool,
) -> RingTable:
    if len(rows) > MAX_ROWS:
        problems.add(
            "ring_table",
            "too-many-rows",
            Msg(
                "The table can hold your account phone and %(others)s other numbers.",
                others=MAX_ROWS - 1,
            ),
        )
    # Columns that are empty in every row at the end of the table do not exist.
    width = max((len(r.cells) for r in rows), default=0)
    while width and all(len(r.cells) < width or r.cells[width - 1] is None for r in rows):
        width -= 1
    entries: list[RingEntry] = []
    seen: set[str] = set()
    too_wide = False
    for i, row in enumerate(rows):
        raw = row.number.strip()
        if raw.lower() == ACCOUNT_PHONE:
            number: str | None = ACCOUNT_PHONE
        else:
            number = validate.destination(
                raw, f"ring_table.{i}.number", problems, plan, allow_international
            )
        if number is not None and number in seen:
            problems.add(
                f"ring_table.{i}.number",
                "duplicate-number",
                Msg("%(number)s is already in the table.", number=raw),
            )
        if number is not None:
            seen.add(number)
        cells = list(row.cells[:width]) + [None] * (width - min(width, len(row.cells)))
        for k, cell in enumerate(cells):
            if cell is None:
                continue
            if k >= MAX_STAGES:
                too_wide = True
                problems.add(
                    f"ring_table.{i}.cells.{k}",
                    "too-many-columns",
                    Msg("The table has at most %(max)s columns.", max=MAX_STAGES),
                )
            elif not MIN_CELL_SECONDS <= cell <= MAX_CELL_SECONDS:
                problems.add(
                    f"ring_table.{i}.cells.{k}",
                    "cell-out-of-range",
                    Msg(
                        "A ring time is %(min)s to %(max)s seconds.",
                        min=MIN_CELL_SECONDS,
                        max=MAX_CELL_SECONDS,
                    ),
                )
        entries.append(
            RingEntry(
                number=number or raw,
                cells=tuple(cells),
                allow_remote_forwarding=row.allow_remote_forwarding,
                confirm_answer=row.confirm_answer,
            )
        )
    if too_wide and not problems.has("ring_table"):
        problems.add(
            "ring_table",
            "too-many-columns",
            Msg("The table has at most %(max)s columns.", max=MAX_STAGES),
        )
    table = RingTable(tuple(entries))
    if mode in ("sequential", "simultaneous") and not problems:
        try:
            ringplan.validate(table, simultaneous=mode == "simultaneous")
        except ValueError as exc:
            problems.add("ring_table", "ring-table-invalid", _table_message(str(exc)))
    return table


def _table_message(text: str) -> Msg:
    if "is empty" in text:
        return Msg("Add at least one number to the table.")
    if "no ring time in any cell" in text:
        return Msg("Give at least one number a ring time.")
    if text.startswith("column ") and "has no ring time" in text:
        column = text.split()[1]
        return Msg("Column %(column)s has no ring time: give it one or remove it.", column=column)
    if "has no ring time in any column" in text:
        who = text.split(" has no ring time")[0]
        if who == "the account phone":
            return Msg("Your account phone has no ring time: give it one or remove it.")
        return Msg("%(number)s has no ring time: give it one or remove it.", number=who)
    return Msg("%(reason)s", reason=text)


def _numbers(values: list[str], field: str, problems: Problems) -> frozenset[str]:
    out: set[str] = set()
    for raw in values:
        if not raw.strip():
            continue
        value = validate.number(raw, field, problems)
        if value is not None:
            out.add(value)
    if len(out) > MAX_LIST:
        problems.add(
            field,
            "list-too-long",
            Msg("A list holds at most %(max)s numbers.", max=MAX_LIST),
        )
    return frozenset(out)


def check(
    merged: CallSettingsOut,
    *,
    ucn_enabled: bool,
    plan: DialPlan,
    allow_international: bool,
    forward_timeout: int,
    max_diversions: int,
    has_devices: bool,
) -> tuple[LineSettings, list[ForwardingNumberIO]]:
    """The checked LineSettings and forwarding numbers of `merged`, or Invalid."""
    problems = Problems()
    mode = merged.incoming_mode
    if mode in ("sequential", "simultaneous") and not ucn_enabled:
        problems.add(
            "incoming_mode",
            "ucn-not-enabled",
            Msg("The universal contact number is not enabled on your account."),
        )

    def dest(value: str | None, field: str, required: bool) -> str | None:
        if not (value or "").strip():
            if required:
                problems.add(field, "required", Msg("Choose the number calls go to."))
            return None
        return validate.destination(value, field, problems, plan, allow_international)

    forward_all_to = dest(merged.forward_all_to, "forward_all_to", mode == "forward_all")
    no_answer_to = dest(merged.no_answer_to, "no_answer_to", merged.no_answer_action == "number")
    busy_to = dest(merged.busy_to, "busy_to", merged.busy_action == "number")
    unavailable_to = dest(merged.unavailable_to, "unavailable_to", merged.unavailable_forwarding)
    selective_to = dest(
        merged.selective_forward_to, "selective_forward_to", merged.selective_forwarding
    )
    if not MIN_TIMEOUT <= merged.no_answer_timeout <= MAX_TIMEOUT:
        problems.add(
            "no_answer_timeout",
            "timeout-out-of-range",
            Msg("Enter %(min)s to %(max)s seconds.", min=MIN_TIMEOUT, max=MAX_TIMEOUT),
        )
    table = _table(merged.ring_table, mode, problems, plan, allow_international)
    forward_list = _numbers(merged.forward_list, "forward_list", problems)
    reject_list = _numbers(merged.reject_list, "reject_list", problems)

    saved: dict[str, ForwardingNumberIO] = {}
    for i, fn in enumerate(merged.forwarding_numbers):
        if fn.temporary:
            continue
        value = validate.destination(
            fn.number, f"forwarding_numbers.{i}.number", problems, plan, allow_international
        )
        if value is not None and value not in saved:
            saved[value] = ForwardingNumberIO(number=value, label=fn.label.strip()[:60])
    if len(saved) > MAX_SAVED_NUMBERS:
        problems.add(
            "forwarding_numbers",
            "too-many-numbers",
            Msg("You can save at most %(max)s forwarding numbers.", max=MAX_SAVED_NUMBERS),
        )
    for field, target in (
        ("forward_all_to", forward_all_to),
        ("no_answer_to", no_answer_to),
        ("busy_to", busy_to),
        ("unavailable_to", unavailable_to),
        ("selective_forward_to", selective_to),
    ):
        if target is not None and target == merged.line:
            problems.add(
                field,
                "forward-loop",
                Msg("%(number)s is this line: calls cannot be forwarded to it.", number=target),
            )
    problems.check()

    in_use = [forward_all_to, no_answer_to, busy_to, unavailable_to, selective_to]
    temporary = [
        ForwardingNumberIO(number=n, temporary=True)
        for n in dict.fromkeys(v for v in in_use if v is not None)
        if n not in saved
    ]
    settings = LineSettings(
        line=merged.line,
        has_devices=has_devices,
        phone_state=PhoneState(merged.phone_state),
        incoming_mode=IncomingMode(mode),
        forward_all_to=forward_all_to,
        ring_table=table,
        no_answer_action=FallbackAction(merged.no_answer_action),
        no_answer_to=no_answer_to,
        no_answer_timeout=merged.no_answer_timeout,
        busy_action=FallbackAction(merged.busy_action),
        busy_to=busy_to,
        unavailable_forwarding=merged.unavailable_forwarding,
        unavailable_to=unavailable_to,
        selective_forwarding=merged.selective_forwarding,
        selective_forward_to=selective_to,
        forward_list=forward_list,
        selective_rejection=merged.selective_rejection,
        reject_list=reject_list,
        anonymous_rejection=merged.anonymous_rejection,
        allow_international=allow_international,
        dial_plan=plan,
        forward_timeout=forward_timeout,
        max_diversions=max_diversions,
    )
    return settings, [*saved.values(), *temporary]


def merge(current: CallSettingsOut, update: CallSettingsIn) -> CallSettingsOut:
    """`current` with the fields `update` sets."""
    changes = update.model_dump(exclude_unset=True)
    return current.model_copy(
        update={
            k: (
                [RingEntryIO(**r) for r in v]
                if k == "ring_table"
                else [ForwardingNumberIO(**f) for f in v]
                if k == "forwarding_numbers"
                else v
            )
            for k, v in changes.items()
        }
    )


def _refuse_two_line_loops(s: Session, settings: LineSettings) -> None:
    """Invalid when a line this one forwards to forwards its calls back here (A -> B -> A)."""
    problems = Problems()
    for field, target, active in (
        ("forward_all_to", settings.forward_all_to, settings.incoming_mode.value == "forward_all"),
        ("no_answer_to", settings.no_answer_to, settings.no_answer_action.value == "number"),
        ("busy_to", settings.busy_to, settings.busy_action.value == "number"),
        ("unavailable_to", settings.unavailable_to, settings.unavailable_forwarding),
        ("selective_forward_to", settings.selective_forward_to, settings.selective_forwarding),
    ):
        if active and target and settings.line in repository.forward_targets(s, target):
            problems.add(
                field,
                "forward-loop",
                Msg(
                    "%(number)s forwards its calls back to this line: the calls would go round "
                    "in a loop.",
                    number=target,
                ),
            )
    problems.check()


def save(
    store: Store,
    auth: Auth,
    line: LineRef,
    update: CallSettingsIn,
    *,
    plan: DialPlan,
    forward_timeout: int,
    max_diversions: int,
) -> CallSettingsOut:
    """Apply `update` to the line's call settings, all or nothing."""
    merged = merge(load(store, auth, line, stored=True), update)
    with store.read() as s:
        line_row = repository.get_line(s, line.number)
        allow_international = line_row.account.allow_international
        plan = for_account(plan, line_row.account.allow_nanp_abroad)
        ls_now = repository.line_settings(s, line.number)
        assert ls_now is not None
    settings, forwarding = check(
        merged,
        ucn_enabled=auth.ucn_enabled,
        plan=plan,
        allow_international=allow_international,
        forward_timeout=forward_timeout,
        max_diversions=max_diversions,
        has_devices=ls_now.has_devices,
    )
    with store.transaction() as s:
        _refuse_two_line_loops(s, settings)
        repository.save_line_settings(s, settings)
        s.execute(delete(ForwardingNumber).where(ForwardingNumber.line_number == line.number))
        s.flush()
        s.add_all(
            ForwardingNumber(
                line_number=line.number, number=f.number, label=f.label, temporary=f.temporary
            )
            for f in forwarding
        )
        enqueue(s, SettingsChanged(line=line.number, section="call"))
    logger.info("call settings of line %s saved (account %s)", line.number, auth.account_id)
    return load(store, auth, line)
