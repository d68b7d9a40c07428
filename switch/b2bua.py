"""The B2BUA: executes a routing Plan for one incoming call (SPEC S3, S4).

Rules of this file:
- Everything here runs on the pump thread; database work is submitted to the worker's database
  executor and its result is posted back; dialogs run on the dialog executor.
- An incoming call goes routing -> (rejected | ringing | voicemail) -> (bridged) -> ended.
  The 100 Trying is sent by pjsua as the INVITE arrives; 180 Ringing is sent once, when the
  first leg rings.
- A Ring step starts each Leg at its `start` and ends it after its `duration`; the step ends
  at its timeout or when every leg has ended. The first leg to answer wins: the caller gets
  200 OK, audio is bridged both ways through the conference bridge, and every other leg is
  cancelled. No leg ever outlives its step or the incoming call.
- A leg the switch gives up on (its time ran out, the step ended, the caller left) has its
  result decided at that moment (rang -> NO_ANSWER, else UNAVAILABLE); pjsua finishes the
  CANCEL in the background and the call object is released when it reports DISCONNECTED.
- 3xx (or 181) from a leg: followed, cancelling every other leg, when the leg allows remote
  forwarding; otherwise the leg fails with REDIRECT_REFUSED.
- One call-log entry per call to a line: written here for rejected, abandoned, answered and
  forwarded calls, and by the deposit dialog for calls that reach voicemail.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pjsua2 as pj

from ivr.calllog import CallRecord
from routing import diversion as div
from routing import engine
from routing.model import (
    ACCOUNT_PHONE,
    CallFacts,
    Diversion,
    Forward,
    Leg,
    LegResult,
    Outcome,
    Reject,
    Retrieval,
    Ring,
    Rule,
    Step,
    Voicemail,
)
from routing.numbers import caller_number, normalize
from switch.confirm import Confirmation
from switch.endpoint import jitter_buffer
from switch.fax import FaxCall, fax_or_decide
from switch.legs import Destination, Resolution
from switch.media import CallMedia, MediaSession
from switch.sipmsg import (
    Request,
    edge_asserted_line,
    parse_name_addr,
    privacy_values,
    quote_display,
    uri_user,
)

if TYPE_CHECKING:
    from switch.ports import CallHost

logger = logging.getLogger(__name__)

UNAVAILABLE_CODES = frozenset({404, 408, 410, 480, 484, 502, 503, 504})
BUSY_CODES = frozenset({486, 600})


def header(name: str, value: str) -> pj.SipHeader:
    h = pj.SipHeader()
    h.hName = name
    h.hValue = value
    return h


def op(code: int = 0, headers: tuple[tuple[str, str], ...] = ()) -> pj.CallOpParam:
    prm = pj.CallOpParam(True)
    if code:
        prm.statusCode = code
    for name, value in headers:
        prm.txOption.headers.append(header(name, value))
    return prm


def active_audio(call: pj.Call, info: pj.CallInfo) -> pj.AudioMedia | None:
    """The call's audio stream when it is active (not on hold, not stopped), from `info`."""
    for i, m in enumerate(info.media):
        if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            return call.getAudioMedia(i)
    return None


_HOLDS = (pj.PJSUA_CALL_MEDIA_LOCAL_HOLD, pj.PJSUA_CALL_MEDIA_REMOTE_HOLD)

AUDIO_WAIT_S = 2.0
"""A dialog whose answered call has not started this long after the answer (no active audio
reported, or no ACK) is looked into (`Inbound.audio_overdue`): its caller hears silence."""


def _deliver_digit(ref: weakref.ref[SwitchCall], digit: str, method: str) -> None:
    """A DTMF digit of a call, on the pump thread (see SwitchCall.onDtmfDigit)."""
    call = ref()
    if call is not None and call.owner is not None and not call.disconnected:
        call.owner.on_digit(call, digit, method)


class SwitchCall(pj.Call):  # type: ignore[misc]
    """A pjsua2 call whose callbacks go to its owner (an Inbound or a LegCall)."""

    def __init__(
        self,
        acc: pj.Account,
        post: Callable[[Callable[[], None]], None],
        call_id: int = pj.PJSUA_INVALID_ID,
    ) -> None:
        super().__init__(acc, call_id)
        jitter_buffer(self, adaptive=False)
        self.post = post
        """Runs a function on the pump thread (`Pump.post`)."""
        self.owner: Any = None
        self.audio: pj.AudioMedia | None = None
        self.disconnected = False
        self.release: Callable[[SwitchCall], None] | None = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        owner = self.owner
        if info.state != pj.PJSIP_INV_STATE_DISCONNECTED:
            if owner is not None:
                owner.on_state(self, info)
            return
        self.disconnected = True
        self.audio = None
        try:
            if owner is not None:
                owner.on_state(self, info)
        finally:
            if self.release is not None:
                self.release(self)  # drops every reference: the object dies on return

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        had = self.audio
        info = self.getInfo()
        self.audio = active_audio(self, info)
        if had is not None and (self.audio is None or self.audio.getPortId() != had.getPortId()):
            # A re-offer took the stream away or replaced it: what played to it or recorded
            # from it is cut off. Said, so that a caller who heard nothing can be explained; a
            # hold is an ordinary thing for a phone to do, anything else is not.
            held = any(m.status in _HOLDS for m in info.media)
            if held:
                what = "is on hold"
            elif self.audio is None:
                what = "stopped"
            else:
                what = "moved to another bridge port"
            logger.log(
                logging.INFO if held else logging.WARNING,
                "%s: the call's audio %s (media: %s)",
                info.callIdString,
                what,
                ", ".join(f"{m.type}/{m.status}" for m in info.media),
            )
        if self.owner is not None and self.audio is not None:
            self.owner.on_media(self)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        """pjsua calls this on pjmedia's media thread for an RFC 4733 digit (the stream's
        receive path), on the pump for SIP INFO: the digit is handed to the pump, where the
        call's media state lives. (Acted on here, a barge-in digit raced the pump: the Play
        the dialog answered it with could start before the barge-in had finished, which then
        cut the new prompt at once and reported its end.)"""
        method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc4733"
        self.post(functools.partial(_deliver_digit, weakref.ref(self), prm.digit, method))

    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:
        """A REFER: declined. relais transfers no call; accepted (pjsua's default), the worker
        would call whatever the Refer-To names, through the trunk too."""
        prm.statusCode = pj.PJSIP_SC_DECLINE
        logger.warning("%s: transfer request (REFER) declined", self.getInfo().callIdString)

    def onCallReplaceRequest(self, prm: pj.OnCallReplaceRequestParam) -> None:
        """An INVITE with Replaces for this call: declined (pjsua would swap the call under
        the B2BUA's feet, which knows nothing of the new one)."""
        prm.statusCode = pj.PJSIP_SC_DECLINE
        prm.reason = "Decline"
        logger.warning("%s: INVITE with Replaces declined", self.getInfo().callIdString)

    def onCallRedirected(self, prm: pj.OnCallRedirectedParam) -> int:
        if self.owner is not None:
            return int(self.owner.on_redirect(self, prm.targetUri))
        return int(pj.PJSIP_REDIRECT_STOP)


@dataclass(frozen=True)
class Decision:
    """What the database thread found for a call: the plan and where its legs go."""

    plan: Any
    line_exists: bool
    log_line: str | None
    resolutions: dict[str, Resolution] = field(default_factory=dict)


class Inbound:
    """One incoming call and everything the switch does for it."""

    def __init__(self, worker: CallHost, call: SwitchCall, request: Request, source: str) -> None:
        self.w = worker
        self.call = call
        self.request = request
        self.source = source
        self.call_id = request.first("call-id") or f"local-{id(self)}"
        self.started = datetime.now(UTC)
        self.t0 = time.monotonic()
        self.state = "new"
        self.gone = False
        self.answered_at: float | None = None
        self.confirmed = False
        """The caller's ACK of the answer came (the call is CONFIRMED): a dialog's first
        prompt starts then, not as the answer goes out (a phone sets up its audio when the
        200 OK reaches it: what is sent before is lost, the greeting's first syllable over a
        slow path)."""
        self.sent_ringing = False
        self.run: RingRun | None = None
        self.bridged: LegCall | None = None
        self.media: MediaSession | None = None
        self.facts: CallFacts | None = None
        self.caller_user: str | None = None
        self.own_line: str | None = None
        """The line whose own device calls, as asserted by the edge (skip PIN / quick login
        trust this and nothing else: SPEC S4)."""
        self.log_line: str | None = None
        self.logged = False
        self.incoming_diversions: list[str] = []
        self.not_accepted: list[str] = []
        """Ring-table numbers that answered without pressing 1 (switch.confirm)."""
        call.owner = self

    # -- admission and facts ---------------------------------------------------------------------

    def begin(self) -> None:
        w = self.w
        host = self.source.rsplit(":", 1)[0].strip("[]")
        if self.request.method != "INVITE":
            self.reject(400)
            return
        if not w.trusted(host):
            logger.warning("%s: INVITE from untrusted %s refused", self.call_id, self.source)
            self.reject(403)
            return
        if not w.admit_call():
            logger.warning("%s: worker at capacity, 503", self.call_id)
            self.reject(503, (("Retry-After", str(w.retry_after)),))
            return
        try:
            self.facts = self._facts()
        except ValueError as exc:
            logger.warning("%s: bad request: %s", self.call_id, exc)
            self.reject(400)
            return
        if self.facts is None:
            self.reject(404)
            return
        self.state = "routing"
        facts = self.facts
        w.db_submit(lambda: fax_or_decide(w, facts), self.on_decided)

    def _facts(self) -> CallFacts | None:
        req = self.request
        w = self.w
        user = uri_user(req.uri)
        if user is None:
            raise ValueError(f"no user part in the request URI {req.uri!r}")
        to_pilot = user == w.cfg.pilot_number or (
            bool(w.cfg.access_number) and user == w.cfg.access_number
        )
        if to_pilot:
            called = user if user == w.cfg.pilot_number else w.cfg.access_number
        else:
            try:
                called = normalize(user)
            except ValueError:
                return None
        from_value = req.first("from")
        if from_value is None:
            raise ValueError("no From header")
        from_addr = parse_name_addr(from_value)
        identity = from_addr
        self.own_line = edge_asserted_line(req, self.source, w.edge)
        if self.own_line is not None:
            logger.info("%s: the caller is an own device of %s", self.call_id, self.own_line)
        pai = req.first("p-asserted-identity")
        if pai:
            identity = parse_name_addr(pai.split(",")[0])
        self.caller_user = identity.user
        caller = caller_number(identity.user)
        name = identity.display or from_addr.display
        if name and name.strip().lower() in ("anonymous", "unknown"):
            name = None
        self.incoming_diversions = req.values("diversion")
        if self.incoming_diversions:
            diversions = div.parse_diversion(self.incoming_diversions)
        else:
            hist = req.values("history-info")
            diversions = div.parse_history_info(hist) if hist else ()
        return CallFacts(
            called=called,
            caller=caller,
            now=self.started,
            caller_name=name,
            privacy=privacy_values(req),
            diversions=diversions,
            to_pilot=to_pilot,
        )

    @property
    def anonymous(self) -> bool:
        f = self.facts
        return f is None or f.caller is None or "id" in f.privacy or "user" in f.privacy

    # -- plan execution --------------------------------------------------------------------------

    def on_decided(self, decision: Decision | FaxCall | None, error: BaseException | None) -> None:
        if error is not None or decision is None:
            logger.error("%s: routing failed: %s", self.call_id, error)
            if not self.gone:
                self.reject(500)
            return
        if isinstance(decision, FaxCall):  # a call to a line's fax number (switch.fax)
            self.log_line, self.logged = decision.line, True
            if not self.gone:
                self.start_dialog(self.w.dialogs["fax"](self, decision))
            return
        self.decision = decision
        self.log_line = decision.log_line
        plan = decision.plan
        logger.info(
            "%s: %s -> %s (%s)",
            self.call_id,
            self.facts and self.facts.caller,
            plan.reason.value,
            plan.explanation,
        )
        if self.gone:
            self.log("missed", "abandoned")
            return
        self.execute(plan.first)

    def execute(self, step: Step | None) -> None:
        if self.gone:
            return
        if step is None:
            self.reject(480)
            self.log("missed", "abandoned")
            return
        if isinstance(step, Reject):
            self.reject(step.code)
            if step.rule is not Rule.UNKNOWN_LINE:
                self.log("missed", "rejected")
        elif isinstance(step, Voicemail):
            self.voicemail(step)
        elif isinstance(step, Retrieval):
            factory = self.w.dialogs.get("retrieval")
            if factory is None:
                self.reject(501)
                return
            self.start_dialog(factory(self, step))
        elif isinstance(step, Ring | Forward):
            if self.answered_at is None and not self.sent_ringing and not self.w.admit_leg():
                # Nothing rang yet: the edge (or the caller) can try another worker.
                logger.warning("%s: no call slot for a leg: 503", self.call_id)
                self.w.refuse_capacity()
                self.reject(503, (("Retry-After", str(self.w.retry_after)),))
                return
            self.state = "ringing"
            self.run = RingRun(self, step)
            self.run.start()

    def reject(self, code: int, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.state = "ended"
        if self.gone or self.call is None:
            return
        try:
            if self.answered_at is None:
                # A final answer (not hangup) also frees pjsua's copy of the INVITE.
                self.call.answer(op(code, headers))
            else:
                self.call.hangup(op(code, headers))
        except pj.Error as exc:
            logger.warning("%s: cannot answer %s: %s", self.call_id, code, exc.info())

    def ringing(self) -> None:
        if self.sent_ringing or self.gone or self.call is None or self.answered_at is not None:
            return
        self.sent_ringing = True
        try:
            self.call.answer(op(180))
        except pj.Error as exc:
            logger.warning("%s: cannot send 180: %s", self.call_id, exc.info())

    def answer(self) -> bool:
        if self.gone or self.call is None:
            return False
        if self.answered_at is None:
            try:
                self.call.answer(op(200))
            except pj.Error as exc:
                logger.error("%s: cannot answer: %s", self.call_id, exc.info())
                return False
            self.answered_at = time.monotonic()
        return True

    # -- voicemail -------------------------------------------------------------------------------

    def voicemail(self, step: Voicemail) -> None:
        """The deposit dialog (ivr) takes the call; it writes the call log."""
        self.logged = True
        self.start_dialog(self.w.dialogs["deposit"](self, step))

    def start_dialog(self, dialog: Callable[[CallMedia], None]) -> None:
        """Answer and run `dialog(media)` on a dialog thread (ivr.dialog)."""
        self.state = "dialog"
        if not self.answer():
            return
        self.media = MediaSession.of(self.w.pump, self.call_id, self)
        if self.confirmed and self.call is not None and self.call.audio is not None:
            self.media.media_ready()
        else:  # pjsua reports the audio as the answer goes out (or soon after); the ACK follows
            overdue = weakref.WeakMethod(self.audio_overdue)
            self.w.pump.call_later(AUDIO_WAIT_S, lambda: (m := overdue()) is not None and m())
        media = CallMedia(self.media)
        call_id = self.call_id

        def run() -> None:
            try:
                dialog(media)
            except Exception:
                logger.exception("%s: dialog failed", call_id)
                media.hangup()

        self.w.dialog_submit(run)

    def hangup(self) -> None:
        if self.gone or self.call is None:
            return
        with contextlib.suppress(pj.Error):
            self.call.hangup(op(200 if self.answered_at is not None else 480))

    def audio_overdue(self) -> None:
        """AUDIO_WAIT_S after the answer the dialog still waits for the call's audio or for
        the caller's ACK, and the caller hears silence: said, with what pjsua holds of the
        call's media. When pjsua holds active audio (never reported, reported without starting
        the dialog, or not acknowledged yet: pjsip still sends the answer again), the dialog
        starts with it."""
        call, media = self.call, self.media
        if self.gone or call is None or media is None or media.started:
            return
        waited = time.monotonic() - (self.answered_at or time.monotonic())
        try:
            info = call.getInfo()
            audio = active_audio(call, info)
        except pj.Error as exc:
            logger.warning(
                "%s: answered %.1f s ago, no audio reported, its media unreadable: %s",
                self.call_id,
                waited,
                exc.info(),
            )
            return
        streams = ", ".join(f"{m.type}/{m.status}" for m in info.media) or "none"
        if audio is None:
            logger.warning(
                "%s: answered %.1f s ago and its audio is not active (media: %s): the caller "
                "hears silence until it is",
                self.call_id,
                waited,
                streams,
            )
            return
        if self.confirmed or call.audio is None:
            logger.warning(
                "%s: answered %.1f s ago, its audio is active (media: %s) but the dialog had "
                "not started (audio %sreported): it starts now",
                self.call_id,
                waited,
                streams,
                "" if call.audio is not None else "never ",
            )
        else:
            logger.warning(
                "%s: answered %.1f s ago and no ACK came (media: %s): the dialog starts without it",
                self.call_id,
                waited,
                streams,
            )
        call.audio = audio
        media.media_ready()
        self.try_bridge()

    # -- call events -----------------------------------------------------------------------------

    def on_state(self, call: SwitchCall, info: pj.CallInfo) -> None:
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True
            if self.media is not None and not self.media.started and call.audio is not None:
                self.media.media_ready()
            return
        if info.state != pj.PJSIP_INV_STATE_DISCONNECTED:
            return
        self.gone = True
        if self.media is not None:
            self.media.close()
        if self.run is not None:
            self.run.abandon()
        if self.bridged is not None:
            self.bridged.hangup()
            disposition = "answered" if isinstance(self.run_step, Ring) else "forwarded"
            direction = "received" if disposition == "answered" else "missed"
            duration = time.monotonic() - (self.answered_at or time.monotonic())
            self.log(direction, disposition, duration)
        elif self.state == "ringing":
            self.log("missed", "abandoned")
        self.state = "ended"

    def forget(self) -> None:
        """Break the reference cycles of a finished call (pump thread, after release)."""
        run = self.run
        if run is not None:
            run.legs = []
        self.run = None
        self.bridged = None

    def on_media(self, call: SwitchCall) -> None:
        if self.media is not None and self.confirmed:
            self.media.media_ready()
        self.try_bridge()

    def on_digit(self, call: SwitchCall, digit: str, method: str) -> None:
        if self.media is not None:
            self.media.digit(digit, method)

    def on_redirect(self, call: SwitchCall, target: str) -> int:
        return int(pj.PJSIP_REDIRECT_STOP)

    # -- legs ------------------------------------------------------------------------------------

    @property
    def run_step(self) -> Step | None:
        return self.run.step if self.run is not None else None

    def leg_answered(self, leg: LegCall) -> None:
        if self.bridged is not None or self.gone:
            leg.hangup()
            return
        self.bridged = leg
        assert self.run is not None
        self.run.won(leg)
        if self.answered_at is None and self.call is not None:
            jitter_buffer(self.call, adaptive=True)
        if not self.answer():
            leg.hangup()
            return
        self.state = "bridged"
        self.try_bridge()

    def leg_gone_after_answer(self, leg: LegCall) -> None:
        if self.bridged is leg:
            self.hangup()

    def try_bridge(self) -> None:
        """Connect the caller and the answered leg both ways, once both have active audio;
        again after every media update of either (pjsua re-creates a stream whose direction
        a re-INVITE changes, as a hold and its resume do, and its new bridge port has no
        connections; connecting what is still connected changes nothing)."""
        leg = self.bridged
        if leg is None or leg.call is None or self.call is None:
            return
        a, b = self.call.audio, leg.call.audio
        if a is None or b is None:
            return
        try:
            a.startTransmit(b)
            b.startTransmit(a)
        except pj.Error as exc:
            logger.error("%s: cannot bridge audio: %s", self.call_id, exc.info())

    def step_failed(self, step: Ring | Forward, outcome: Outcome, code: int) -> None:
        """The ring or forward step ended without an answer."""
        self.run = None
        if self.gone:
            return
        if isinstance(step, Ring):
            follow = {
                Outcome.BUSY: step.on_busy,
                Outcome.NO_ANSWER: step.on_no_answer,
                Outcome.UNAVAILABLE: step.on_unavailable,
            }[outcome]
            logger.info("%s: ring step ended: %s", self.call_id, outcome.value)
            if follow is None:
                self.reject(486 if outcome is Outcome.BUSY else 480)
                self.log("missed", "abandoned")
                return
            self.execute(follow)
            return
        logger.info("%s: forward to %s failed (%s)", self.call_id, step.target, code)
        if step.on_failure is not None:
            self.execute(step.on_failure)
        else:
            # forward_all: the destination's answer goes back to the caller as is.
            self.reject(code if 400 <= code < 700 else 480)
            self.log("missed", "forwarded")

    # -- call log --------------------------------------------------------------------------------

    def log(self, direction: str, disposition: str, duration: float | None = None) -> None:
        if self.logged or self.log_line is None:
            return
        self.logged = True
        f = self.facts
        record = CallRecord(
            line=self.log_line,
            direction=direction,
            disposition=disposition,
            caller_number=None if self.anonymous else (f.caller if f else None),
            caller_name=None if self.anonymous else (f.caller_name if f else None),
            started_at=self.started,
            duration_seconds=duration if duration is not None else time.monotonic() - self.t0,
            call_id=self.call_id,
            not_accepted=tuple(self.not_accepted),
        )
        self.w.log_call(record)

    # -- outbound identity -----------------------------------------------------------------------

    def from_uri(self) -> str:
        f = self.facts
        if self.anonymous or f is None:
            return '"Anonymous" <sip:anonymous@anonymous.invalid>'
        user = f.caller or self.caller_user or "anonymous"
        uri = f"sip:{user}@{self.w.cfg.sip_domain}"
        return f"{quote_display(f.caller_name)} <{uri}>" if f.caller_name else f"<{uri}>"

    def leg_headers(
        self, d: Diversion | None, extra: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[str, str], ...]:
        headers: list[tuple[str, str]] = list(extra)
        if d is not None:
            headers.append(("Diversion", div.format_diversion(d, self.w.cfg.sip_domain)))
        # The diversions the call arrived with go on with it, to the trunk as to a line's
        # phones (a call another line forwarded here says so on the phone, RFC 5806).
        headers.extend(("Diversion", v) for v in self.incoming_diversions)
        if (
            self.anonymous
            and self.facts is not None
            and (
                "id" in self.facts.privacy
                or "user" in self.facts.privacy
                or self.facts.caller is None
            )
        ):
            headers.append(("Privacy", "id"))
        return tuple(headers)


class LegCall:
    """One outbound pjsua call of a ring or forward step."""

    def __init__(self, run: RingRun, leg: Leg, dest: Destination | None) -> None:
        self.run = run
        self.leg = leg
        self.dest = dest
        self.call: SwitchCall | None = None
        self.rang = False
        self.answered = False
        self.redirect_refused = False
        self.following_redirect = False
        self.result: LegResult | None = None
        self.code = 0
        self.end_timer: Any = None
        self.confirmation: Confirmation | None = None
        """Set while (and after) the answerer is asked to press 1 (switch.confirm)."""

    @property
    def done(self) -> bool:
        return self.result is not None or self.answered

    def start(self, inbound: Inbound) -> None:
        w = inbound.w
        assert self.dest is not None
        if not w.admit_leg():
            logger.warning("%s: no call slot left for a leg to %s", inbound.call_id, self.dest.uri)
            self.finish(LegResult.UNAVAILABLE, 503)
            return
        call = SwitchCall(w.account, w.pump.post)
        call.owner = self
        call.release = w.release
        jitter_buffer(call, adaptive=True)
        prm = op(0, inbound.leg_headers(self.leg.diversion, self.dest.headers))
        prm.txOption.localUri = inbound.from_uri()
        try:
            call.makeCall(self.dest.uri, prm)
        except pj.Error as exc:
            logger.warning("%s: leg to %s failed: %s", inbound.call_id, self.dest.uri, exc.info())
            self.finish(LegResult.FAILED, 500)
            return
        self.call = call
        w.track(call)
        logger.info("%s: leg to %s (%s) started", inbound.call_id, self.dest.uri, self.leg.target)

    def hangup(self) -> None:
        call = self.call
        if call is None or call.disconnected:
            return
        with contextlib.suppress(pj.Error):
            call.hangup(op(0))

    def give_up(self) -> None:
        """The switch stops waiting for this leg (its time ran out or the step ended)."""
        if self.done:
            return
        if self.confirmation is not None:
            self.confirmation.refused("cancelled")
            return
        self.hangup()
        self.finish(LegResult.NO_ANSWER if self.rang else LegResult.UNAVAILABLE, 480)

    def finish(self, result: LegResult, code: int) -> None:
        if self.result is not None:
            return
        self.result = result
        self.code = code
        if self.end_timer is not None:
            self.end_timer.cancel()
        self.run.leg_finished(self)

    # -- pjsua callbacks -------------------------------------------------------------------------

    def on_state(self, call: SwitchCall, info: pj.CallInfo) -> None:
        state = info.state
        code = info.lastStatusCode
        if state == pj.PJSIP_INV_STATE_EARLY:
            if code == 181 and not self.leg.allow_remote_forwarding:
                self.redirect_refused = True
                self.hangup()
                self.finish(LegResult.REDIRECT_REFUSED, 181)
                return
            if code in (180, 183) and not self.done:
                self.rang = True
                self.run.inbound.ringing()
        elif state == pj.PJSIP_INV_STATE_CONFIRMED:
            if self.done:
                self.hangup()
                return
            if self.end_timer is not None:
                self.end_timer.cancel()
            if self.leg.confirm:
                Confirmation.begin(self)
                return
            self.answered = True
            self.run.inbound.leg_answered(self)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            if self.answered:
                self.run.inbound.leg_gone_after_answer(self)
                return
            if self.confirmation is not None:
                self.confirmation.refused("hangup")
                return
            if code in (401, 407):
                # Legs carry no credentials: the edge recognises its workers. A challenge
                # means it did not; the caller gets the fallback, never the challenge.
                logger.error(
                    "%s: leg to %s was challenged (%s): legs carry no credentials, the edge "
                    "or the trunk did not recognise this worker (a bug); treated as unavailable",
                    self.run.inbound.call_id,
                    self.dest.uri if self.dest else "?",
                    code,
                )
                self.finish(LegResult.UNAVAILABLE, 480)
            elif self.redirect_refused or 300 <= code < 400:
                self.finish(LegResult.REDIRECT_REFUSED, code)
            elif code in BUSY_CODES:
                self.finish(LegResult.BUSY, code)
            elif self.rang:
                self.finish(LegResult.NO_ANSWER, code)
            elif code in UNAVAILABLE_CODES or code == 0:
                self.finish(LegResult.UNAVAILABLE, code or 408)
            else:
                self.finish(LegResult.FAILED, code)

    def on_media(self, call: SwitchCall) -> None:
        if self.confirmation is not None:
            self.confirmation.media_ready()
        self.run.inbound.try_bridge()

    def on_digit(self, call: SwitchCall, digit: str, method: str) -> None:
        if self.confirmation is not None:
            self.confirmation.digit(digit, method)

    def on_redirect(self, call: SwitchCall, target: str) -> int:
        if self.leg.allow_remote_forwarding and not self.done:
            logger.info("%s: leg redirected to %s: followed", self.run.inbound.call_id, target)
            self.following_redirect = True
            if self.end_timer is not None:
                self.end_timer.cancel()
                self.end_timer = None
            self.run.cancel_others(self)
            return int(pj.PJSIP_REDIRECT_ACCEPT)
        self.redirect_refused = True
        return int(pj.PJSIP_REDIRECT_STOP)


class RingRun:
    """Executes one Ring or Forward step."""

    def __init__(self, inbound: Inbound, step: Ring | Forward) -> None:
        self.inbound = inbound
        self.step = step
        self.legs: list[LegCall] = []
        self.pending = 0
        self.timers: list[Any] = []
        self.over = False

    def start(self) -> None:
        pump = self.inbound.w.pump
        step = self.step
        if isinstance(step, Forward):
            legs: tuple[Leg, ...] = (
                Leg(step.target, 0, step.timeout or 0, diversion=step.diversion),
            )
            if step.timeout:
                self.timers.append(pump.call_later(step.timeout, self.timeout))
        else:
            legs = step.legs
            self.timers.append(pump.call_later(step.timeout, self.timeout))
        self.pending = len(legs)
        for leg in legs:
            if leg.start <= 0:
                self.start_leg(leg)
            else:
                self.timers.append(
                    pump.call_later(leg.start, functools.partial(self.start_leg, leg))
                )

    def start_leg(self, leg: Leg) -> None:
        if self.over:
            return
        self.pending -= 1
        inbound = self.inbound
        resolution = inbound.decision.resolutions.get(leg.target, Resolution((), 404))
        if not resolution.destinations:
            logger.info(
                "%s: %s cannot be called (%s)", inbound.call_id, leg.target, resolution.failure_code
            )
            failed = LegCall(self, leg, None)
            self.legs.append(failed)
            code = resolution.failure_code or 404
            failed.finish(LegResult.UNAVAILABLE, code)
            return
        calls = [LegCall(self, leg, dest) for dest in resolution.destinations]
        self.legs.extend(calls)
        for lc in calls:
            if leg.duration > 0 and isinstance(self.step, Ring):
                lc.end_timer = inbound.w.pump.call_later(leg.duration, lc.give_up)
            lc.start(inbound)

    def timeout(self) -> None:
        if self.over:
            return
        self.pending = 0
        for lc in list(self.legs):
            if lc.confirmation is None or lc.confirmation.over:
                lc.give_up()  # an answerer deciding whether to press 1 is let finish
        self.check()

    def leg_finished(self, leg: LegCall) -> None:
        self.check()

    def check(self) -> None:
        if self.over or self.pending > 0:
            return
        if any(not lc.done for lc in self.legs):
            return
        if any(lc.answered for lc in self.legs):
            return
        self.end()
        step = self.step
        results = [lc.result for lc in self.legs if lc.result is not None]
        outcome = engine.ring_outcome(results) if isinstance(step, Ring) else Outcome.NO_ANSWER
        code = next((lc.code for lc in reversed(self.legs) if lc.code), 480)
        self.inbound.step_failed(step, outcome, code)

    def won(self, leg: LegCall) -> None:
        self.cancel_others(leg)
        self.end()

    def cancel_others(self, keep: LegCall) -> None:
        for lc in self.legs:
            if lc is not keep:
                lc.give_up()
        if self.pending:
            self.pending = 0
            for t in self.timers:
                t.cancel()
            # the step timeout stays for a followed redirect
            if keep.following_redirect and isinstance(self.step, Ring):
                self.timers = [self.inbound.w.pump.call_later(self.step.timeout, self.timeout)]

    def end(self) -> None:
        self.over = True
        for t in self.timers:
            t.cancel()
        self.timers = []

    def abandon(self) -> None:
        """The caller left: no leg may keep ringing."""
        self.over = True
        for t in self.timers:
            t.cancel()
        for lc in self.legs:
            if lc.answered:
                lc.hangup()
            else:
                lc.give_up()


def plan_targets(step: Step | None) -> set[str]:
    """Every leg target of a plan tree (to resolve them in one database visit)."""
    found: set[str] = set()
    if isinstance(step, Ring):
        found.update(leg.target for leg in step.legs)
        for follow in (step.on_busy, step.on_no_answer, step.on_unavailable):
            found |= plan_targets(follow)
    elif isinstance(step, Forward):
        found.add(step.target)
        found |= plan_targets(step.on_failure)
    return found


__all__ = ["ACCOUNT_PHONE", "Decision", "Inbound", "SwitchCall", "plan_targets"]
