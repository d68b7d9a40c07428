"""Outdial and numeric page calls: the switch's side of the outdial contract (SPEC S7,
docs/architecture.md "Outdial contract", steps 3 and 4).

Rules of this file:
- Requests come from the worker's bus consumer (switch/bus.py). `accept` (any thread) drops a
  request after its `expires_at` and a (job_id, attempt) this worker already took; the rest are
  started on the pump thread with `start`.
- The bus is not trusted to say what to dial: before dialing, `vet` (database thread) checks the
  request against its notification job in the store (it exists, is a page/outdial job of that
  line waiting for this very attempt, with the same number, mode and digits) and the number
  against the dial plan (with the account's own permission for international numbers). A
  refused request is logged and never dialed; only a real job refused by the dial plan gets a
  `failed` result (its notifier settles it), a forged one gets nothing.
- A call goes where any outbound leg goes (the worker's switch.legs resolver, read on a database
  thread): the trunk, or the edge. It counts against the worker's call cap like a leg: at the
  cap the attempt is answered at once with result `failed`, detail "busy switch" (the notifier
  retries it like any failed attempt).
- The callee rings at most `ring_seconds`; then the switch cancels the call ("no-answer").
  486/600 is "busy"; 408, 480 and 487 are "no-answer"; any other end before an answer is
  "failed" with the status in `detail`.
- notify: on answer the IVR runner (ivr/runner.py run_outdial) says "you have a new message,
  press 1 to log in" in the request's language, then runs the retrieval dialog for the mailbox
  of `line` with its PIN (never trusted as a device); a login records `mailbox.accessed` via
  "outdial" and makes the result `logged_in`.
- page: on answer (once audio flows) the callback number and `#` go out as RFC 4733 events,
  then the switch hangs up.
- fax (forward as fax): the job names the TIFF-F document to send (`data.document`, relative to
  the storage root, made by the portal with its cover page); on answer (once audio flows) a
  calling fax terminal (switch.fax) sends it with T.30, and the switch hangs up at its phase E.
  The result is `answered` with the pages the far end confirmed when T.30 succeeded, else
  `failed` with the T.30 reason in `detail` (and the pages that did go through).
- Every call ends: the ring timer cancels an unanswered call, a page call is hung up after its
  digits (or after PAGE_MAX_SECONDS), the IVR dialogs end with their own time-outs; the
  pjsua2 Call is released on DISCONNECTED like any leg.
- The result (answered / no-answer / busy / failed, logged_in, detail) is written as an
  `outdial.result` event through the outbox in one transaction, after the call ended.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pjsua2 as pj
from sqlalchemy.orm import Session

from events.events import OutdialRequest, OutdialResult
from events.outbox import enqueue
from ivr.identity import CallerIdentity
from ivr.runner import CallInfo
from media.fax import FaxOutcome
from routing.model import DialPlan
from routing.numbers import for_account, normalize, refusal
from store.models import Line, NotificationJob
from switch.b2bua import BUSY_CODES, SwitchCall, op
from switch.fax import FaxReception, stream_report
from switch.legs import Destination, Resolution
from switch.media import CallMedia, MediaSession

if TYPE_CHECKING:
    from switch.ports import OutdialHost

logger = logging.getLogger(__name__)

NO_ANSWER_CODES = frozenset({408, 480, 487})
DTMF_KEYS = frozenset("0123456789*#ABCD")
DIGIT_SECONDS = 0.35
"""Time one RFC 4733 digit takes to go out (its events and the gap after it)."""
PAGE_MAX_SECONDS = 20.0
"""A page call is hung up this long after its answer whatever happened."""
FAX_MAX_SECONDS = 30 * 60.0
"""A fax call is hung up this long after its answer whatever happened."""
REMEMBER = 4096
"""(job_id, attempt) pairs a worker remembers having taken."""


def _expired(request: OutdialRequest, now: datetime) -> bool:
    try:
        expires = datetime.fromisoformat(request.expires_at)
    except ValueError:
        return True
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return expires <= now


CALL_JOB_MODES = {"outdial": "notify", "page": "page", "fax": "fax"}
"""Notification job kinds the switch performs, and the request mode of each."""


class Refused(Exception):
    """A request the switch will not dial; `job_known` when it names a real waiting job."""

    def __init__(self, reason: str, *, job_known: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.job_known = job_known


def vet(session: Session, request: OutdialRequest, plan: DialPlan) -> str:
    """Raise Refused unless `request` is what its notification job in the store asks for and
    the dial plan lets the account call its number. Returns the document of a fax job (its
    path under the storage root), else ''."""
    job = session.get(NotificationJob, request.job_id)
    if job is None:
        raise Refused(f"no notification job {request.job_id}")
    mode = CALL_JOB_MODES.get(job.kind)
    if mode is None:
        raise Refused(f"job {job.id} is a {job.kind} job, not a call")
    if job.line_number != request.line:
        raise Refused(f"job {job.id} belongs to another line")
    if job.state != "sending" or job.attempts != request.attempt:
        raise Refused(f"job {job.id} is not waiting for attempt {request.attempt}")
    try:
        target = normalize(job.target)
    except ValueError:
        target = ""
    if request.mode != mode or request.number != target:
        raise Refused(f"job {job.id} asks for another call")
    if mode == "page" and request.dtmf != str(job.data.get("dtmf", "")):
        raise Refused(f"job {job.id} asks for other digits")
    document = str(job.data.get("document", "")) if mode == "fax" else ""
    if mode == "fax" and not document:
        raise Refused(f"job {job.id} has no document to send", job_known=True)
    line = session.get(Line, request.line)
    account = line.account if line is not None else None
    allow_international = bool(account and account.allow_international)
    plan = for_account(plan, bool(account and account.allow_nanp_abroad))
    reason = refusal(request.number, plan, allow_international)
    if reason is not None:
        raise Refused(f"refused by the dial plan: {reason}", job_known=True)
    return document


class Outdial:
    """The outdial calls of one worker."""

    def __init__(self, worker: OutdialHost) -> None:
        self.w = worker
        self.calls: set[OutdialCall] = set()
        self.results: list[OutdialResult] = []
        self._taken: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._lock = threading.Lock()

    # -- any thread ------------------------------------------------------------------------------

    def accept(self, request: OutdialRequest, now: datetime | None = None) -> bool:
        """Whether to call for `request`: not expired, and its (job_id, attempt) not taken yet
        (taking it)."""
        key = (request.job_id, request.attempt)
        if _expired(request, now or datetime.now(UTC)):
            logger.info("outdial job %s attempt %s: request expired, ignored", *key)
            return False
        with self._lock:
            if key in self._taken:
                logger.info("outdial job %s attempt %s: already handled, ignored", *key)
                return False
            self._taken[key] = None
            if len(self._taken) > REMEMBER:
                self._taken.popitem(last=False)
        return True

    # -- pump thread -----------------------------------------------------------------------------

    def start(self, request: OutdialRequest) -> None:
        w = self.w
        if w.shutting_down or w.account is None:
            self.report(request, "failed", detail="switch stopping")
            return

        def resolve() -> tuple[Resolution, str]:
            with w.store.read() as s:
                document = vet(s, request, w.dial_plan)
                return w.resolver.resolve(s, request.line, request.number), document

        def resolved(found: tuple[Resolution, str] | None, error: BaseException | None) -> None:
            resolution, document = found if found is not None else (None, "")
            if isinstance(error, Refused):
                logger.warning(
                    "outdial job %s attempt %s: not dialed: %s",
                    request.job_id,
                    request.attempt,
                    error.reason,
                )
                if error.job_known:
                    self.report(request, "failed", detail=error.reason)
                return
            if error is not None or resolution is None:
                logger.error("outdial job %s: no route: %s", request.job_id, error)
                self.report(request, "failed", detail="no route")
                return
            if not resolution.destinations:
                code = resolution.failure_code or 404
                self.report(request, "failed", detail=f"cannot be called ({code})")
                return
            logger.info(
                "outdial job %s attempt %s (%s) for %s: calling %s",
                request.job_id,
                request.attempt,
                request.mode,
                request.line,
                request.number,
            )
            self.dial(request, resolution.destinations[0], document)

        w.db_submit(resolve, resolved)

    def dial(self, request: OutdialRequest, dest: Destination, document: str = "") -> None:
        w = self.w
        if w.shutting_down or w.account is None:
            self.report(request, "failed", detail="switch stopping")
            return
        path = None
        if request.mode == "fax":
            try:
                path = w.files.path(document)
            except ValueError:
                path = None
            if path is None or not path.is_file():
                logger.error("outdial job %s: fax document missing", request.job_id)
                self.report(request, "failed", detail="fax document missing")
                return
        if not w.admit_leg():
            w.refuse_capacity()
            logger.warning("outdial job %s: every call slot is taken", request.job_id)
            self.report(request, "failed", detail="busy switch")
            return
        call = OutdialCall(self, request, dest, path)
        self.calls.add(call)
        call.start()

    def finished(self, call: OutdialCall) -> None:
        self.calls.discard(call)
        self.report(call.request, call.outcome or "failed", call.logged_in, call.detail, call.pages)

    def report(
        self,
        request: OutdialRequest,
        result: str,
        logged_in: bool = False,
        detail: str = "",
        pages: int = 0,
    ) -> None:
        """Write the attempt's result to the outbox (database thread)."""
        event = OutdialResult(
            line=request.line,
            job_id=request.job_id,
            attempt=request.attempt,
            result=result,
            logged_in=logged_in,
            detail=detail,
            pages=pages,
        )
        logger.info(
            "outdial job %s attempt %s: %s%s%s",
            request.job_id,
            request.attempt,
            result,
            " (logged in)" if logged_in else "",
            f" ({detail})" if detail else "",
        )
        store = self.w.store

        def write() -> None:
            with store.transaction() as s:
                enqueue(s, event)

        def done(_: Any, error: BaseException | None) -> None:
            if error is not None:
                logger.error("outdial job %s: result not written: %s", request.job_id, error)
            else:
                self.results.append(event)
                del self.results[:-100]

        self.w.db_submit(write, done)


class OutdialCall:
    """One outdial or page call (pump thread; the owner of its SwitchCall)."""

    def __init__(
        self,
        service: Outdial,
        request: OutdialRequest,
        dest: Destination,
        document: Path | None = None,
    ) -> None:
        self.service = service
        self.document = document
        self.fax: FaxReception | None = None
        self.fax_outcome: FaxOutcome | None = None
        self.pages = 0
        self.request = request
        self.dest = dest
        self.call_id = f"outdial-{request.job_id}-{request.attempt}"
        self.started = datetime.now(UTC)
        self.call: SwitchCall | None = None
        self.rang = False
        self.answered = False
        self.outcome: str | None = None
        self.detail = ""
        self.logged_in = False
        self.media: MediaSession | None = None
        self.paged = False
        self.timers: list[Any] = []

    @property
    def w(self) -> OutdialHost:
        return self.service.w

    def from_uri(self) -> str:
        cfg = self.w.cfg
        user = cfg.access_number or cfg.pilot_number
        return f'"Voicemail" <sip:{user}@{cfg.sip_domain}>'

    def start(self) -> None:
        w = self.w
        call = SwitchCall(w.account, w.pump.post)
        call.owner = self
        call.release = w.release
        prm = op(0, self.dest.headers)
        prm.txOption.localUri = self.from_uri()
        try:
            call.makeCall(self.dest.uri, prm)
        except pj.Error as exc:
            logger.warning("%s: call to %s failed: %s", self.call_id, self.dest.uri, exc.info())
            self.outcome, self.detail = "failed", "call not started"
            self.service.finished(self)
            return
        self.call = call
        w.track(call)
        self.timers.append(w.pump.call_later(self.request.ring_seconds, self.ring_timeout))

    def hangup(self) -> None:
        call = self.call
        if call is None or call.disconnected:
            return
        with contextlib.suppress(pj.Error):
            call.hangup(op(0))

    def ring_timeout(self) -> None:
        if self.answered or self.outcome is not None:
            return
        logger.info("%s: no answer in %s s", self.call_id, self.request.ring_seconds)
        self.outcome = "no-answer"
        self.hangup()

    # -- pjsua callbacks -------------------------------------------------------------------------

    def on_state(self, call: SwitchCall, info: pj.CallInfo) -> None:
        state = info.state
        code = int(info.lastStatusCode)
        if state == pj.PJSIP_INV_STATE_EARLY:
            self.rang = self.rang or code in (180, 183)
        elif state == pj.PJSIP_INV_STATE_CONFIRMED:
            if self.outcome is not None:  # answered as the ring time ran out
                self.hangup()
                return
            self.answered = True
            self.outcome = "answered"
            self.answered_now()
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended(code, str(info.lastReason))

    def answered_now(self) -> None:
        w = self.w
        pump = w.pump
        for t in self.timers:
            t.cancel()
        self.timers = []
        logger.info("%s: answered (%s)", self.call_id, self.request.mode)
        if self.request.mode == "page":
            self.timers.append(pump.call_later(PAGE_MAX_SECONDS, self.hangup))
            if self.call is not None and self.call.audio is not None:
                self.page()
            return
        if self.request.mode == "fax":
            self.timers.append(pump.call_later(FAX_MAX_SECONDS, self.hangup))
            if self.call is not None and self.call.audio is not None:
                self.send_fax()
            return
        self.media = MediaSession.of(pump, self.call_id, self)
        if self.call is not None and self.call.audio is not None:
            self.media.media_ready()
        media = CallMedia(self.media)
        request = self.request
        info = CallInfo(
            call_id=self.call_id,
            identity=CallerIdentity(source="", from_edge=False, asserted=None, claimed=None),
            caller_number=None,
            caller_name=None,
            started_at=self.started.isoformat(),
        )

        me = weakref.ref(self)

        def logged_in() -> None:
            oc = me()
            if oc is not None:
                oc.logged_in = True

        def run() -> None:
            try:
                w.ivr.run_outdial(
                    media,
                    info,
                    mailbox=request.line,
                    language=request.language,
                    message_id=request.message_id,
                    on_login=logged_in,
                )
            except Exception:
                logger.exception("%s: outdial dialog failed", request.job_id)
            media.hangup()

        w.dialog_submit(run)

    def page(self) -> None:
        """Send the callback number and # as RFC 4733 events, then hang up (pump thread)."""
        if self.paged or self.call is None or self.call.disconnected:
            return
        self.paged = True
        digits = "".join(c for c in self.request.dtmf if c in DTMF_KEYS) + "#"
        try:
            self.call.dialDtmf(digits)
        except pj.Error as exc:
            logger.warning("%s: digits not sent: %s", self.call_id, exc.info())
            self.detail = "digits not sent"
            self.hangup()
            return
        logger.info("%s: page of %s digits sent", self.call_id, len(digits))
        self.timers.append(self.w.pump.call_later(DIGIT_SECONDS * len(digits) + 1.0, self.hangup))

    def send_fax(self) -> None:
        """Start the T.30 sender on the call's audio (pump thread)."""
        call = self.call
        if self.fax is not None or self.fax_outcome is not None or self.document is None:
            return
        if call is None or call.disconnected or call.audio is None:
            return
        me = weakref.ref(self)
        pump = self.w.pump

        def on_end(_outcome: FaxOutcome) -> None:  # media clock thread: post only
            def end() -> None:
                oc = me()
                if oc is not None:
                    oc.fax_done()
                    oc.hangup()

            pump.post(end)

        try:
            self.fax = FaxReception.send(
                call.audio, self.call_id, self.document, self.request.line, on_end
            )
        except (pj.Error, ValueError, OSError) as exc:
            logger.error("%s: cannot start the fax sender: %s", self.call_id, exc)
            self.outcome, self.detail = "failed", "fax sender failed"
            self.hangup()

    def fax_done(self) -> None:
        """Stop the sender and keep its outcome (pump thread)."""
        fax, self.fax = self.fax, None
        if fax is None:
            return
        outcome = fax.stop(stream_report(self.call))
        if outcome is not None:
            self.fax_outcome = outcome

    def fax_result(self) -> None:
        """The result of an answered fax call, from its T.30 outcome."""
        outcome = self.fax_outcome
        if outcome is None:
            self.outcome, self.detail = "failed", "no fax exchange"
            return
        self.pages = outcome.pages_tx
        if outcome.ok:
            self.outcome, self.detail = "answered", ""
        else:
            self.outcome = "failed"
            self.detail = f"fax failed: {outcome.text} ({outcome.pages_tx} page(s) sent)"

    def ended(self, code: int, reason: str) -> None:
        for t in self.timers:
            t.cancel()
        self.timers = []
        if self.media is not None:
            self.media.close()
        self.fax_done()
        if self.request.mode == "fax" and self.answered and self.outcome == "answered":
            self.fax_result()
        if self.outcome is None:
            if code in BUSY_CODES:
                self.outcome = "busy"
            elif code in NO_ANSWER_CODES:
                self.outcome = "no-answer"
            else:
                self.outcome = "failed"
                self.detail = f"{code} {reason}".strip() if code else "no response"
        self.service.finished(self)

    def on_media(self, call: SwitchCall) -> None:
        if not self.answered:
            return
        if self.media is not None:
            self.media.media_ready()
        elif self.request.mode == "page":
            self.page()
        elif self.fax is not None and call.audio is not None:
            try:  # a re-INVITE re-created the stream (see switch.media)
                self.fax.reconnect(call.audio)
            except pj.Error as exc:
                logger.error("%s: cannot reconnect the fax sender: %s", self.call_id, exc.info())
        elif self.request.mode == "fax":
            self.send_fax()

    def on_digit(self, call: SwitchCall, digit: str, method: str) -> None:
        if self.media is not None:
            self.media.digit(digit, method)

    def on_redirect(self, call: SwitchCall, target: str) -> int:
        return int(pj.PJSIP_REDIRECT_STOP)
