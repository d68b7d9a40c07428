"""Message waiting indicator: unsolicited NOTIFY message-summary (SPEC S6, RFC 3842).

Rules of this file:
- `counts_changed(line, counts)` is the one entry point: the lamp state of `line`'s mailbox goes
  to each of the line's MWI targets (notification_target rows with channel 'mwi', when
  notification_settings.mwi_enabled) whose types match the change. Today the worker that
  committed a change calls it right after the commit, so exactly one worker sends each NOTIFY;
  a consumer of the mailbox.counts events can call it instead (the payload has the counts).
- A target's body counts only its types: all_voice -> Voice-Message new/old (urgent_new/
  urgent_old); urgent_voice alone -> Voice-Message counting urgent messages only; all_faxes ->
  Fax-Message. Messages-Waiting is yes when any counted new message waits.
- Where a target number's NOTIFY goes is pluggable (like switch.legs for call legs): without the
  edge, to the static contacts of the target line's devices; with the edge, to the edge, which
  forwards it to the line's registered devices (`X-Relais-Leg: devices`).
- `registered(line)`: a phone of `line` just registered at the edge (the edge tells a worker
  with a MESSAGE "X-Relais-Event: registered"); every mailbox that lights a lamp on `line` sends
  its state again, so a phone that was off or restarted shows the right lamp at once.
- Reading the store happens on the caller's thread; sending goes to the pump (`send`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import pjsua2 as pj
from sqlalchemy import bindparam, or_, select, true
from sqlalchemy.orm import Session

from store.models import Line, NotificationSettings, NotificationTarget
from store.repository import Counts, mailbox_counts
from store.session import Store, core
from switch.legs import LEG_HEADER, Destination, device_contacts

logger = logging.getLogger(__name__)

EVENT = "message-summary"
CONTENT_TYPE = "application/simple-message-summary"
TYPES = ("all_faxes", "urgent_voice", "all_voice")


def message_summary(counts: Counts, account: str, types: Iterable[str] = TYPES) -> str:
    """The RFC 3842 body for a target with these message types."""
    wanted = set(types)
    lines: list[str] = []
    waiting = False
    if "all_voice" in wanted:
        lines.append(
            f"Voice-Message: {counts.voice_new}/{counts.voice_old} "
            f"({counts.voice_urgent_new}/{counts.voice_urgent_old})"
        )
        waiting |= counts.voice_new > 0
    elif "urgent_voice" in wanted:
        lines.append(
            f"Voice-Message: {counts.voice_urgent_new}/{counts.voice_urgent_old} "
            f"({counts.voice_urgent_new}/{counts.voice_urgent_old})"
        )
        waiting |= counts.voice_urgent_new > 0
    if "all_faxes" in wanted:
        lines.append(f"Fax-Message: {counts.fax_new}/{counts.fax_old}")
        waiting |= counts.fax_new > 0
    head = [f"Messages-Waiting: {'yes' if waiting else 'no'}", f"Message-Account: {account}"]
    return "\r\n".join(head + lines) + "\r\n"


def matches(types: Iterable[str], kind: str | None) -> bool:
    """Does a change of `kind` (voice | fax | None = unknown) concern a target of `types`?"""
    wanted = set(types) & set(TYPES)
    if kind is None:
        return bool(wanted)
    if kind == "fax":
        return "all_faxes" in wanted
    return bool(wanted & {"all_voice", "urgent_voice"})


@dataclass(frozen=True)
class Notify:
    """One NOTIFY to send."""

    uri: str
    body: str
    headers: tuple[tuple[str, str], ...] = ()


_LINE = select(Line.number).where(Line.number == bindparam("line"))
_TARGETS = (
    select(NotificationTarget.address, NotificationTarget.types)
    .outerjoin(
        NotificationSettings, NotificationSettings.line_number == NotificationTarget.line_number
    )
    .where(
        NotificationTarget.line_number == bindparam("line"),
        NotificationTarget.channel == "mwi",
        or_(NotificationSettings.mwi_enabled.is_(None), NotificationSettings.mwi_enabled == true()),
    )
    .order_by(NotificationTarget.id)
)
"""A line's MWI targets (address, types) unless its MWI is off: built once, run after every
change of counts (Core, no ORM object)."""
_TARGET = _TARGETS.where(NotificationTarget.address == bindparam("address"))


class NotifyRouter(Protocol):
    def resolve(self, session: Session, number: str) -> tuple[Destination, ...]: ...


class NoEdgeNotifyRouter:
    """The static contacts of the devices of line `number` (nothing for other numbers)."""

    def resolve(self, session: Session, number: str) -> tuple[Destination, ...]:
        return device_contacts(session, number)


class EdgeNotifyRouter:
    """The edge, which forwards to the registered devices of line `number`."""

    def __init__(self, edge_host: str, edge_port: int) -> None:
        host = f"[{edge_host}]" if ":" in edge_host and not edge_host.startswith("[") else edge_host
        self.edge = f"{host}:{edge_port}"

    def resolve(self, session: Session, number: str) -> tuple[Destination, ...]:
        if core(session).execute(_LINE, {"line": number}).first() is None:
            return ()
        return (Destination(f"sip:{number}@{self.edge}", ((LEG_HEADER, "devices"),)),)


class MwiSender:
    """Turns a mailbox's counts into NOTIFYs to its MWI targets."""

    def __init__(
        self, store: Store, router: NotifyRouter, send: Callable[[Notify], None], domain: str
    ) -> None:
        self.store = store
        self.router = router
        self.send = send
        self.domain = domain

    def notifies(
        self,
        session: Session,
        line: str,
        counts: Counts,
        kind: str | None = None,
        *,
        target: str | None = None,
    ) -> list[Notify]:
        """The NOTIFYs that show `counts` of `line`'s mailbox on its MWI targets (only the
        target number `target` when given)."""
        conn = core(session)
        if target is None:
            rows = conn.execute(_TARGETS, {"line": line}).all()
        else:
            rows = conn.execute(_TARGET, {"line": line, "address": target}).all()
        account = f"sip:{line}@{self.domain}"
        out: list[Notify] = []
        for address, types in rows:
            if not matches(types, kind):
                continue
            body = message_summary(counts, account, types)
            for dest in self.router.resolve(session, address):
                out.append(Notify(dest.uri, body, dest.headers))
        return out

    def for_registered_line(self, session: Session, line: str) -> list[Notify]:
        """The NOTIFYs that re-assert every lamp shown on the phones of `line`."""
        mailboxes = session.scalars(
            select(NotificationTarget.line_number)
            .where(NotificationTarget.channel == "mwi", NotificationTarget.address == line)
            .distinct()
            .order_by(NotificationTarget.line_number)
        ).all()
        out: list[Notify] = []
        for mailbox in mailboxes:
            out += self.notifies(session, mailbox, mailbox_counts(session, mailbox), target=line)
        return out

    def registered(self, line: str) -> int:
        """A phone of `line` registered: send it every lamp it shows; the number of NOTIFYs."""
        with self.store.read() as s:
            notifies = self.for_registered_line(s, line)
        for n in notifies:
            self.send(n)
        if notifies:
            logger.info("MWI re-asserted on %s (%d lamps)", line, len(notifies))
        return len(notifies)

    def prepare(
        self, session: Session, line: str, counts: Counts, kind: str | None = None
    ) -> Callable[[], int]:
        """Read in `session` (the transaction that changed them) how `line`'s counts are shown;
        returns what sends them once it has committed (the number of NOTIFYs sent)."""
        notifies = self.notifies(session, line, counts, kind)

        def send() -> int:
            for n in notifies:
                self.send(n)
            if notifies:
                logger.info(
                    "MWI of %s (%s new, %s old) to %s",
                    line,
                    counts.voice_new,
                    counts.voice_old,
                    ", ".join(n.uri for n in notifies),
                )
            return len(notifies)

        return send

    def counts_changed(
        self, line: str, counts: Counts | None = None, kind: str | None = None
    ) -> int:
        """Send `line`'s lamp state to its MWI targets; the number of NOTIFYs sent."""
        with self.store.read() as s:
            if counts is None:
                counts = mailbox_counts(s, line)
            send = self.prepare(s, line, counts, kind)
        return send()


def send_notify(account: pj.Account, notify: Notify) -> None:
    """Send one NOTIFY out of dialog from `account` (pump thread)."""
    prm = pj.SendRequestParam()
    prm.method = "NOTIFY"
    prm.txOption.targetUri = notify.uri
    prm.txOption.contentType = CONTENT_TYPE
    prm.txOption.msgBody = notify.body
    # Unsolicited (RFC 3842 section 3): no subscription, but phones expect the header of an
    # active one (RFC 6665 makes Subscription-State mandatory in every NOTIFY).
    for name, value in (("Event", EVENT), ("Subscription-State", "active"), *notify.headers):
        h = pj.SipHeader()
        h.hName = name
        h.hValue = value
        prm.txOption.headers.append(h)
    try:
        account.sendRequest(prm)
    except pj.Error as exc:
        logger.warning("MWI NOTIFY to %s not sent: %s", notify.uri, exc.info())
