"""What a subscriber sends from the Messages page: forward as e-mail (through the notifier's
mail path), as voicemail or as fax, reply, and new voice messages (SPEC S8, S9 toll fraud).

Rules of this file:
- Private messages are never forwarded (`private-message-not-forwardable`), whatever the page
  shows.
- Fax: only a fax is forwarded as fax (`not-a-fax`), to at most MAX_FAX_DESTINATIONS numbers
  that all pass the dial plan (or nothing is queued). The document sent (the line's cover page,
  then the fax's pages) is written once under faxout/, and one `fax` notification job per number
  asks the switch for the T.30 calls (docs/architecture.md "Outdial contract", mode fax), with
  retries on busy / no answer / failure; `fax_sends` reads the result of each destination.
- E-mail: notify.notifier.forward_by_email with the configured mailer (SMTP, or the spool of
  .eml files when no SMTP server is set). When the server is temporarily unavailable the
  forward is queued for the notifier (queue_forward_by_email), which retries it.
- Voice: checked whole (every destination, the audio) before anything is written; delivery
  is all or nothing (portal.messages.delivery).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from media import faxdoc
from notify import queue
from notify.email import MAX_RECIPIENTS, MailError, make_mailer
from notify.notifier import ForwardRefused, forward_by_email, queue_forward_by_email
from notify.rules import FAX, FAX_MAX_ATTEMPTS, FAX_RETRY_MINUTES, JobSpec
from portal import validate
from portal.auth.services import Auth, LineRef
from portal.deps import Portal
from portal.errors import Problems, Refused
from portal.i18n import Msg, format_number, translations
from portal.messages import delivery
from portal.messages.schemas import (
    Delivered,
    DeliveryOut,
    EmailForwardOut,
    FaxSend,
    FaxSendsOut,
    Skipped,
)
from portal.messages.services import MESSAGE_NOT_FOUND
from routing.numbers import for_account
from store.models import Account, Line, Message, NotificationJob

logger = logging.getLogger(__name__)

PRIVATE = Msg("This message is private: it cannot be forwarded.")
MAX_FAX_DESTINATIONS = 10


def _message(portal: Portal, line: LineRef, message_id: int) -> Message:
    with portal.store.read() as s:
        m = s.get(Message, message_id)
        if m is None or m.line_number != line.number:
            raise Refused(404, "message-not-found", MESSAGE_NOT_FOUND)
        s.expunge(m)
    return m


def _forwardable(m: Message) -> None:
    if m.private:
        raise Refused(403, "private-message-not-forwardable", PRIVATE)


def _audio(portal: Portal, data: bytes) -> bytes:
    sec = portal.settings.portal_security
    return delivery.voice(
        data,
        max_seconds=portal.settings.mailbox.max_message_seconds,
        max_bytes=sec.greeting_max_bytes,
        time_limit=sec.audio_convert_seconds,
    )


def _out(done: Sequence[tuple[str, int]], targets: delivery.Targets, lang: str) -> DeliveryOut:
    return DeliveryOut(
        delivered=[Delivered(number=box, message_id=mid) for box, mid in done],
        skipped=[
            Skipped(number=s.number, error=s.error, detail=s.message.render(lang))
            for s in targets.skipped
        ],
    )


def _targets(
    portal: Portal,
    auth: Auth,
    line: LineRef,
    to: Sequence[str],
    problems: Problems,
    *,
    required: bool = True,
    targets: delivery.Targets | None = None,
) -> delivery.Targets:
    with portal.store.read() as s:
        out = delivery.resolve(s, auth, line, to, problems, plan=portal.dial_plan, targets=targets)
    if (
        required
        and not out.mailboxes
        and not problems.has("to")
        and not any(p.field.startswith("to.") for p in problems.items)
    ):
        problems.add("to", "required", Msg("Enter a number or a group phone code."))
    return out


# ------------------------------------------------------------------------------------------------
# Voice


def forward_voicemail(
    portal: Portal,
    auth: Auth,
    line: LineRef,
    message_id: int,
    to: Sequence[str],
    *,
    intro: bytes | None,
    urgent: bool | None,
    lang: str,
) -> DeliveryOut:
    m = _message(portal, line, message_id)
    _forwardable(m)
    if m.kind != "voice":
        raise Refused(
            422, "not-a-voice-message", Msg("A fax can be forwarded as e-mail, not as voicemail.")
        )
    problems = Problems()
    targets = _targets(portal, auth, line, to, problems)
    problems.check()
    intro_wav = _audio(portal, intro) if intro else None
    try:
        original = portal.files.read(m.file_path)
    except (OSError, ValueError):
        raise Refused(410, "file-missing", Msg("The file of this message is missing.")) from None
    data = delivery.with_intro(intro_wav, original)
    done = delivery.deliver(
        portal.store,
        portal.files,
        line,
        targets.mailboxes,
        data,
        origin="forwarded",
        original_id=m.id,
        urgent=m.urgent if urgent is None else urgent,
        private=False,
        now=portal.now(),
    )
    return _out(done, targets, lang)


def reply(
    portal: Portal,
    auth: Auth,
    line: LineRef,
    message_id: int,
    audio: bytes,
    *,
    to: Sequence[str],
    urgent: bool,
    private: bool,
    lang: str,
) -> DeliveryOut:
    """Reply to the caller's mailbox (when the caller is a line of this service) and to the
    other destinations given."""
    m = _message(portal, line, message_id)
    problems = Problems()
    targets = delivery.Targets()
    with portal.store.read() as s:
        box = delivery.caller_mailbox(s, m.caller_number)
    extra = [t for t in to if t.strip()]
    if box is not None:
        targets.add(box)
    elif not extra:
        who = format_number(m.caller_number) if m.caller_number else None
        raise Refused(
            422,
            "caller-not-local",
            Msg(
                "%(number)s has no mailbox on this service: a reply can only go to its "
                "subscribers.",
                number=who,
            )
            if who
            else Msg("The caller is anonymous: there is nobody to reply to."),
        )
    targets = _targets(portal, auth, line, extra, problems, required=False, targets=targets)
    if not targets.mailboxes and not problems:
        problems.add("to", "required", Msg("Enter a number or a group phone code."))
    problems.check()
    data = _audio(portal, audio)
    done = delivery.deliver(
        portal.store,
        portal.files,
        line,
        targets.mailboxes,
        data,
        origin="reply",
        original_id=m.id,
        urgent=urgent,
        private=private,
        now=portal.now(),
    )
    return _out(done, targets, lang)


def new_message(
    portal: Portal,
    auth: Auth,
    line: LineRef,
    audio: bytes,
    *,
    to: Sequence[str],
    urgent: bool,
    private: bool,
    lang: str,
) -> DeliveryOut:
    problems = Problems()
    targets = _targets(portal, auth, line, to, problems)
    problems.check()
    data = _audio(portal, audio)
    done = delivery.deliver(
        portal.store,
        portal.files,
        line,
        targets.mailboxes,
        data,
        origin="portal",
        original_id=None,
        urgent=urgent,
        private=private,
        now=portal.now(),
    )
    return _out(done, targets, lang)


# ------------------------------------------------------------------------------------------------
# E-mail and fax


def _addresses(problems: Problems, name: str, values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for i, raw in enumerate(v for v in values if v and v.strip()):
        value = validate.email(raw, f"{name}.{i}", problems)
        if value is not None and value.lower() not in (a.lower() for a in out):
            out.append(value)
    return out


_REFUSALS: dict[str, tuple[int, Msg]] = {
    "private-message-not-forwardable": (403, PRIVATE),
    "no-recipient": (422, Msg("Enter at least one address in To.")),
    "too-many-recipients": (
        422,
        Msg("At most %(max)s recipients.", max=MAX_RECIPIENTS),
    ),
}


async def forward_email(
    portal: Portal,
    auth: Auth,
    line: LineRef,
    message_id: int,
    *,
    to: Sequence[str],
    cc: Sequence[str],
    bcc: Sequence[str],
    body: str,
) -> EmailForwardOut:
    """Send the message (WAV, or the fax's PDF) as an e-mail attachment."""
    m = _message(portal, line, message_id)
    _forwardable(m)
    problems = Problems()
    to_ = _addresses(problems, "to", to)
    cc_ = _addresses(problems, "cc", cc)
    bcc_ = _addresses(problems, "bcc", bcc)
    if not to_ and not any(p.field.startswith("to") for p in problems.items):
        problems.add("to", "required", Msg("Enter at least one address in To."))
    if len(to_) + len(cc_) + len(bcc_) > MAX_RECIPIENTS:
        problems.add("to", "too-many-recipients", _REFUSALS["too-many-recipients"][1])
    problems.check()
    cfg = portal.settings
    mailer = make_mailer(cfg.smtp_url, cfg.storage_root, timeout=cfg.notify.smtp_timeout_seconds)
    args: dict[str, Any] = {"to": to_, "cc": cc_, "bcc": bcc_, "body": body.strip()}
    try:
        mid = await forward_by_email(
            portal.store,
            portal.files,
            mailer,
            line=line.number,
            message_id=m.id,
            sender=cfg.smtp_from,
            pilot=cfg.access_number or cfg.pilot_number,
            **args,
        )
    except LookupError:
        raise Refused(404, "message-not-found", MESSAGE_NOT_FOUND) from None
    except ForwardRefused as exc:
        status, msg = _REFUSALS.get(exc.code, (422, Msg("%(reason)s", reason=str(exc))))
        raise Refused(status, exc.code, msg) from None
    except (OSError, ValueError) as exc:
        logger.error("line %s: message %s cannot be forwarded: %s", line.number, m.id, exc)
        raise Refused(410, "file-missing", Msg("The file of this message is missing.")) from None
    except MailError as exc:
        if not exc.temporary:
            logger.warning("line %s: forward of message %s refused: %s", line.number, m.id, exc)
            raise Refused(
                502,
                "mail-refused",
                Msg("The mail server refused the message: %(reason)s", reason=str(exc)),
            ) from None
        with portal.store.transaction() as s:
            job = queue_forward_by_email(s, line=line.number, message_id=m.id, **args)
            job_id = job.id
        logger.info(
            "line %s: mail server unavailable (%s); forward of message %s queued as job %s",
            line.number,
            exc,
            m.id,
            job_id,
        )
        return EmailForwardOut(status="queued")
    logger.info(
        "line %s: message %s forwarded by e-mail to %s recipient(s)",
        line.number,
        m.id,
        len(to_) + len(cc_) + len(bcc_),
    )
    return EmailForwardOut(status="sent", message_id=mid)


_ATTEMPT_RESULTS = {
    "busy": Msg("The number was busy."),
    "no-answer": Msg("Nobody answered."),
    "failed": Msg("The call failed."),
}


def _fax_reason(job: NotificationJob, state: str, lang: str) -> str:
    """Why a fax send has not gone through (yet), in the reader's language: its last attempt's
    result, the pages that did go through, and whether another attempt follows."""
    if state == "sent":
        return ""
    if state == "cancelled":
        return Msg("Cancelled before it went through.").render(lang)
    results = job.data.get("results") or []
    last = results[-1] if results else None
    if last is None:
        if state == "failed":  # refused before any call (dial plan, no document, ...)
            return Msg("The call could not be made.").render(lang)
        return ""
    detail = str(last.get("detail") or "")
    if last.get("result") == "answered" or detail.startswith("fax failed"):
        said = Msg("The fax machine that answered did not take the whole fax.")
    elif detail == "no fax exchange":
        said = Msg("The call was answered, but not by a fax machine.")
    else:
        said = _ATTEMPT_RESULTS.get(str(last.get("result")), _ATTEMPT_RESULTS["failed"])
    parts = [said.render(lang)]
    pages = int(last.get("pages") or 0)
    if pages:
        parts.append(
            translations(lang).ngettext(
                "%(num)s page went through.", "%(num)s pages went through.", pages
            )
            % {"num": pages}
        )
    if state in ("pending", "sending"):
        parts.append(Msg("Another attempt will be made.").render(lang))
    return " ".join(parts)


def _fax_send(job: NotificationJob, lang: str) -> FaxSend:
    state = {"done": "sent"}.get(job.state, job.state)
    return FaxSend(
        job_id=job.id,
        number=job.target,
        state=state,  # type: ignore[arg-type]
        attempts=job.attempts,
        pages=int(job.data.get("pages_sent", 0)),
        error="" if state == "sent" else job.last_error,
        reason=_fax_reason(job, state, lang),
        created_at=job.created_at.isoformat(),
    )


def forward_fax(
    portal: Portal, line: LineRef, message_id: int, to: Sequence[str], lang: str
) -> FaxSendsOut:
    """Queue one fax send per number of `to`: all of them pass the dial plan, or none is."""
    m = _message(portal, line, message_id)
    _forwardable(m)
    if m.kind != "fax":
        raise Refused(
            422, "not-a-fax", Msg("Only a fax can be forwarded as a fax: forward it as e-mail.")
        )
    problems = Problems()
    numbers: list[str] = []
    entries = [t.strip() for t in to if t.strip()]
    if not entries:
        problems.add("to", "required", Msg("Enter a fax number."))
    elif len(entries) > MAX_FAX_DESTINATIONS:
        problems.add(
            "to",
            "too-many",
            Msg("At most %(count)s fax numbers at a time.", count=MAX_FAX_DESTINATIONS),
        )
    with portal.store.read() as s:
        row = s.get(Line, line.number)
        assert row is not None
        account: Account = row.account
        plan = for_account(portal.dial_plan, account.allow_nanp_abroad)
        name, allow_international = account.display_name, account.allow_international
    if not problems.items:
        for i, entry in enumerate(entries):
            number = validate.destination(entry, f"to.{i}", problems, plan, allow_international)
            if number is not None and number not in numbers:
                numbers.append(number)
    problems.check()
    try:
        source = portal.files.path(m.file_path)
        relpath = portal.files.new_name(f"faxout/{line.number}", ".tif")
        out = portal.files.path(relpath)
        out.parent.mkdir(parents=True, exist_ok=True)
        pages = faxdoc.with_cover(source, out, line_name=name, line_number=line.number, lang=lang)
    except (OSError, ValueError) as exc:
        logger.error("line %s: fax %s cannot be forwarded: %s", line.number, m.id, exc)
        raise Refused(410, "file-missing", Msg("The file of this message is missing.")) from None
    with portal.store.transaction() as s:
        jobs = queue.add_jobs(
            s,
            event_id=str(uuid.uuid4()),
            line=line.number,
            message_id=m.id,
            specs=[JobSpec(FAX, n, portal.now(), {}) for n in numbers],
            common={
                "document": relpath,
                "pages": pages,
                "language": lang,
                "max_attempts": FAX_MAX_ATTEMPTS,
                "retry_minutes": FAX_RETRY_MINUTES,
                "stop_on_answer": True,
            },
        )
        sends = [_fax_send(j, lang) for j in jobs]
    logger.info(
        "line %s: fax %s (%s pages with the cover) queued to %s number(s)",
        line.number,
        m.id,
        pages,
        len(numbers),
    )
    return FaxSendsOut(sends=sends)


def fax_sends(portal: Portal, line: LineRef, message_id: int, lang: str) -> FaxSendsOut:
    """The forwards as fax of a fax of this line, newest first."""
    m = _message(portal, line, message_id)
    with portal.store.read() as s:
        jobs = s.scalars(
            select(NotificationJob)
            .where(
                NotificationJob.kind == FAX,
                NotificationJob.line_number == line.number,
                NotificationJob.message_id == m.id,
            )
            .order_by(NotificationJob.id.desc())
        ).all()
        return FaxSendsOut(sends=[_fax_send(j, lang) for j in jobs])
