"""Answer confirmation on ring-table legs (issue 17): the switch side of ivr.confirm.

Rules of this file:
- Everything here runs on the pump thread except the dialog itself (a dialog thread).
- A leg whose Leg.confirm is set and that answers is not the winner yet: the caller keeps hearing
  ringback (the incoming call stays unanswered), the answerer hears the prompt, and the other
  legs keep ringing. The leg still counts as ringing for its step.
- 1 wins the call: the prompt stops, the incoming call is answered and bridged to this leg, and
  every other leg is cancelled (switch.b2bua.Inbound.leg_answered).
- Anything else (another key, silence, a hang-up, the caller leaving, another leg winning) drops
  this leg as a leg that rang and was not answered (LegResult.NO_ANSWER), and its number is
  recorded on the call as "not accepted" (call log and call events); the table goes on.
- A step that times out does not cut a confirmation short: the step ends when the answerer has
  decided (the dialog's own wait bounds it).
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

from routing.model import ACCOUNT_PHONE, LegResult
from switch.media import CallMedia, MediaSession

if TYPE_CHECKING:
    from switch.b2bua import LegCall

logger = logging.getLogger(__name__)


class Confirmation:
    """The "press 1 to accept" exchange with the answerer of one leg."""

    def __init__(self, leg: LegCall) -> None:
        self._leg = weakref.ref(leg)  # the leg owns this: no cycle (the worker runs with gc off)
        self.media: MediaSession | None = None
        self.over = False

    @classmethod
    def begin(cls, leg: LegCall) -> Confirmation:
        """`leg` just answered: play the prompt to its answerer (never to the caller)."""
        me = cls(leg)
        leg.confirmation = me
        inbound = leg.run.inbound
        w = inbound.w
        if inbound.gone or inbound.bridged is not None:
            me.refused("cancelled")
            return me
        inbound.ringing()  # an answer without 180: the caller still hears ringback
        call_id = inbound.call_id
        logger.info("%s: %s answered: asking for 1", call_id, leg.leg.target)
        me.media = MediaSession.of(w.pump, call_id, leg)
        if leg.call is not None and leg.call.audio is not None:
            me.media.media_ready()
        media = CallMedia(me.media)
        facts = inbound.facts
        line = inbound.log_line or (facts.called if facts is not None else "")
        caller = None if inbound.anonymous or facts is None else facts.caller
        seconds = float(w.cfg.routing.confirm_seconds)
        pump = w.pump
        ref = weakref.ref(me)

        def run() -> None:
            outcome = "hangup"
            try:
                outcome = w.ivr.run_confirm(
                    media, call_id=call_id, line=line, caller=caller, seconds=seconds
                )
            except Exception:
                logger.exception("%s: answer confirmation failed", call_id)

            def decided() -> None:
                c = ref()
                if c is not None:
                    c.decided(outcome)

            pump.post(decided)

        w.dialog_submit(run)
        return me

    # -- pump thread -----------------------------------------------------------------------------

    def media_ready(self) -> None:
        if self.media is not None and not self.over:
            self.media.media_ready()

    def digit(self, digit: str, method: str) -> None:
        if self.media is not None and not self.over:
            self.media.digit(digit, method)

    def decided(self, outcome: str) -> None:
        """The dialog ended with `outcome` (accepted | key | silence | hangup)."""
        if self.over:
            return
        if outcome == "accepted":
            self.accepted()
        else:
            self.refused(outcome)

    def accepted(self) -> None:
        leg = self._leg()
        if leg is None:
            self.over = True
            return
        inbound = leg.run.inbound
        if leg.done or inbound.gone or inbound.bridged is not None:
            self.refused("too late")
            return
        self.over = True
        self._close_media()
        logger.info("%s: %s accepted the call", inbound.call_id, leg.leg.target)
        leg.answered = True
        inbound.leg_answered(leg)

    def refused(self, why: str) -> None:
        """The leg is dropped as not answered (also when it hung up or was cancelled)."""
        if self.over:
            return
        self.over = True
        self._close_media()
        leg = self._leg()
        if leg is None:
            return
        inbound = leg.run.inbound
        logger.info("%s: %s did not accept the call (%s)", inbound.call_id, leg.leg.target, why)
        target = leg.leg.target
        number = (inbound.log_line or target) if target == ACCOUNT_PHONE else target
        inbound.not_accepted.append(number)  # the account phone: the line's own number
        leg.hangup()
        leg.finish(LegResult.NO_ANSWER, 480)

    def _close_media(self) -> None:
        media, self.media = self.media, None
        if media is not None:
            media.close()
