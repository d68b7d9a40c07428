"""The one runner of the IVR: it starts the dialogs for the switch and performs their effects with
the store (SPEC S5).

Rules of this file:
- `deposit_dialog` and `retrieval_dialog` are the switch's dialog factories: they run on the pump
  thread, copy the plain facts they need from the incoming call (never keep the call object) and
  return the function the switch runs on a dialog thread with the call's media.
- On the dialog thread the runner reads the store to build the machine's first state, drives the
  machine with ivr.dialog.run_dialog, and answers its effects with ivr.services. Prompt items
  ("<lang>/<id>") become media/prompts files (or the configured prompts folder) here.
- Who is calling is decided here from the switch's facts (ivr.identity): only an
  authenticated own device may skip the PIN or the mailbox number. A From header never counts.
- `*` during the greeting ends the deposit and starts the login to that mailbox on the same call.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.confirm import Confirm, ConfirmState
from ivr.deposit import Deposit, DepositState
from ivr.dialog import Event, FaxFinished, Media, Started, run_dialog
from ivr.identity import CallerIdentity, own_device_line
from ivr.machine import Io, items
from ivr.outdial import Announce, AnnounceState
from ivr.retrieval import Retrieval, RetrievalState
from ivr.services import DepositContext, Voicemail, voice_seconds

logger = logging.getLogger(__name__)

PACKAGE_PROMPTS = Path(__file__).resolve().parent.parent / "media" / "prompts"


def resolve_item(item: str, prompts_dir: Path) -> str:
    """A Play item as a file: absolute paths stay, "<lang>/<id>" is a prompt of that language."""
    if item.startswith("/"):
        return item
    return str(prompts_dir / f"{item}.wav")


class PromptMedia:
    """A call's media (ivr.dialog.Media) that plays prompt items."""

    def __init__(self, media: Media, prompts_dir: Path, first: Sequence[Event] = ()) -> None:
        self.media = media
        self.prompts_dir = prompts_dir
        self._first = list(first)

    def play(self, files: Sequence[str], barge_in: bool = True, tag: int = 0) -> None:
        self.media.play([resolve_item(f, self.prompts_dir) for f in files], barge_in, tag)

    def stop_play(self) -> None:
        self.media.stop_play()

    def record(self, path: str, max_seconds: float, silence_seconds: float = 0.0) -> None:
        self.media.record(path, max_seconds, silence_seconds)

    def stop_record(self) -> None:
        self.media.stop_record()

    def start_timer(self, name: str, seconds: float) -> None:
        self.media.start_timer(name, seconds)

    def cancel_timer(self, name: str) -> None:
        self.media.cancel_timer(name)

    def hangup(self) -> None:
        self.media.hangup()

    def next_event(self, timeout: float | None = None) -> Event:
        if self._first:
            return self._first.pop(0)
        return self.media.next_event(timeout)


@dataclass(frozen=True)
class CallInfo:
    """What the runner keeps of an incoming call (copied on the pump thread)."""

    call_id: str
    identity: CallerIdentity
    caller_number: str | None
    caller_name: str | None
    started_at: str


FAX_LIMIT = 3600.0
"""A fax receiver that reports nothing for this long is abandoned (T.30's own timers end a
stalled session long before)."""


class IvrRunner:
    def __init__(
        self,
        service: Voicemail,
        *,
        prompts_dir: Path | None = None,
        default_language: str = "fr",
        no_edge: bool = True,
    ) -> None:
        self.service = service
        self.prompts_dir = (prompts_dir or PACKAGE_PROMPTS).resolve()
        self.default_language = default_language
        self.no_edge = no_edge

    # -- factories (pump thread) -----------------------------------------------------------------

    def call_facts(self, inbound: Any) -> CallInfo:
        """The plain facts of a switch.b2bua.Inbound."""
        facts = inbound.facts
        source: str = inbound.source
        # Edge mode: switch.sipmsg.edge_asserted_line already checked that the one
        # P-Asserted-Identity came from the edge's own address and port (Inbound.own_line).
        own_line: str | None = inbound.own_line
        from_edge = not self.no_edge and own_line is not None
        asserted = own_line if from_edge else None
        anonymous = bool(inbound.anonymous)
        return CallInfo(
            call_id=inbound.call_id,
            identity=CallerIdentity(
                source=source,
                from_edge=from_edge,
                asserted=asserted,
                claimed=facts.caller if facts is not None else None,
            ),
            caller_number=None if anonymous or facts is None else facts.caller,
            caller_name=None if anonymous or facts is None else facts.caller_name,
            started_at=inbound.started.isoformat(),
        )

    def deposit_dialog(self, inbound: Any, step: Any) -> Callable[[Media], None]:
        call = self.call_facts(inbound)
        ctx = DepositContext(
            mailbox=step.mailbox,
            greeting=step.greeting.value,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            started_at=call.started_at,
            call_id=call.call_id,
            not_accepted=tuple(getattr(inbound, "not_accepted", ())),
        )
        return lambda media: self.run_deposit(ctx, call, media)

    def fax_dialog(self, inbound: Any, step: Any) -> Callable[[Media], None]:
        """A call to a line's fax number (`step.line`): straight to the fax receiver."""
        call = self.call_facts(inbound)
        ctx = DepositContext(
            mailbox=step.line,
            greeting="fax",
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            started_at=call.started_at,
            call_id=call.call_id,
        )
        return lambda media: self.run_fax(ctx, media)

    def retrieval_dialog(self, inbound: Any, step: Any) -> Callable[[Media], None]:
        call = self.call_facts(inbound)
        mailbox: str | None = step.mailbox
        return lambda media: self.run_retrieval(media, call, mailbox=mailbox)

    # -- dialogs (dialog thread) -----------------------------------------------------------------

    def device_line(self, call: CallInfo) -> str | None:
        with self.service.store.read() as s:
            return own_device_line(s, call.identity, no_edge=self.no_edge)

    def run_deposit(self, ctx: DepositContext, call: CallInfo, media: Media) -> None:
        service = self.service
        try:
            setup, record_path = service.prepare_deposit(ctx)
        except Exception:
            logger.exception("%s: voicemail of %s cannot start", ctx.call_id, ctx.mailbox)
            media.hangup()
            service.log_call(ctx, "missed", "abandoned")
            return
        state = DepositState(
            phase="waiting",
            lang=setup.lang,
            greeting=items(setup.lang, setup.greeting.audio),
            record_path=str(record_path),
            max_seconds=setup.max_seconds,
            silence_seconds=service.silence_seconds,
            min_voice_seconds=setup.min_voice_seconds,
            mailbox_full=setup.full,
            no_space=setup.no_space,
        )

        def effects(name: str, args: Mapping[str, Any]) -> Any:
            if name == "measure":
                return voice_seconds(args["path"])
            if name == "deliver":
                return service.deliver(
                    ctx,
                    record_path,
                    urgent=bool(args["urgent"]),
                    private=bool(args["private"]),
                    min_seconds=setup.min_voice_seconds,
                )
            if name == "abandon":
                service.discard(record_path)
                service.log_call(ctx, "missed", "abandoned")
                return None
            if name == "full":
                service.discard(record_path)
                service.log_call(ctx, "missed", "voicemail")
                return None
            raise ValueError(f"unknown deposit effect {name!r}")

        final = run_dialog(Deposit(), state, PromptMedia(media, self.prompts_dir), effects)
        if final.fax:
            service.discard(record_path)
            self.run_fax(ctx, media)
            return
        if final.owner_login:
            service.discard(record_path)
            service.log_call(ctx, "received", "voicemail")
            logger.info("%s: * during the greeting: login to %s", ctx.call_id, ctx.mailbox)
            self.run_retrieval(media, call, mailbox=ctx.mailbox, after=final.io)

    def run_fax(self, ctx: DepositContext, media: Media) -> None:
        """Receive a fax on this call (T.30 over its audio) and store what arrived."""
        service = self.service
        path = service.prepare_fax(ctx)
        receive = getattr(media, "receive_fax", None)
        if receive is None:
            raise TypeError("this call's media cannot receive faxes")
        receive(str(path), ctx.mailbox)
        finished: FaxFinished | None = None
        while finished is None:
            try:
                event = media.next_event(FAX_LIMIT)
            except queue.Empty:
                logger.error("%s: fax receiver silent for %s s: hanging up", ctx.call_id, FAX_LIMIT)
                break
            if isinstance(event, FaxFinished):
                finished = event
        media.hangup()
        service.deliver_fax(
            ctx,
            path,
            complete=finished is not None and finished.code == 0,
            remote_ident=finished.remote_ident if finished else "",
            bit_rate=finished.bit_rate if finished else 0,
        )

    def run_outdial(
        self,
        media: Media,
        call: CallInfo,
        *,
        mailbox: str,
        language: str,
        message_id: int | None,
        on_login: Callable[[], None],
    ) -> None:
        """An answered outdial notification call: the announcement, then (1 pressed) the login
        to `mailbox` with its PIN (the called person is never trusted as a device). A
        successful login is a mailbox access via "outdial"; `on_login` is called then."""
        urgent, fax = self.service.message_kind(mailbox, message_id)
        state = AnnounceState(phase="new", lang=language, urgent=urgent, fax=fax)
        final = run_dialog(Announce(), state, PromptMedia(media, self.prompts_dir), _no_effects)
        if not final.login:
            return
        logger.info("%s: outdial: login to %s offered and chosen", call.call_id, mailbox)
        self.run_retrieval(
            media, call, mailbox=mailbox, after=final.io, via="outdial", on_open=on_login
        )

    def run_confirm(
        self, media: Media, *, call_id: str, line: str, caller: str | None, seconds: float
    ) -> str:
        """An answered confirming leg of a ring table (ivr.confirm): the answerer hears who the
        call is for, in the line's language, and presses 1 or not. Returns the outcome
        (accepted | key | silence | hangup)."""
        lang, name = self.service.confirm_facts(line)
        state = ConfirmState(
            phase="new", lang=lang, line=line, caller=caller, seconds=seconds, line_name=name
        )
        final = run_dialog(Confirm(), state, PromptMedia(media, self.prompts_dir), _no_effects)
        logger.info("%s: answer confirmation for %s: %s", call_id, line, final.outcome)
        return final.outcome or "hangup"

    def run_retrieval(
        self,
        media: Media,
        call: CallInfo,
        *,
        mailbox: str | None,
        after: Io | None = None,
        via: str = "phone",
        on_open: Callable[[], None] | None = None,
    ) -> None:
        """Login then the menus. `mailbox` is known when the call came through its greeting;
        `after` is the deposit dialog's media bookkeeping when this call started there (the
        call is already up: the machine gets its Started now, and its plays are tagged after
        the deposit's, so the end of the greeting it cut is not taken for one of its own).
        `via` "outdial": the switch called out; the PIN is always asked, and each successful
        login records a mailbox access via "outdial" and calls `on_open`."""
        service = self.service
        device = self.device_line(call) if via == "phone" else None
        skip_pin = False
        ask_mailbox = mailbox is None
        target = mailbox
        if device is not None and mailbox in (None, device):
            facts = service.login_facts(device)
            if facts is not None:
                _, skip, quick = facts
                if skip or quick:
                    target, ask_mailbox, skip_pin = device, False, skip
        known = service.login_facts(target)
        lang = known[0] if known is not None and not ask_mailbox else self.default_language
        record_path = service.spool / f"{os.urandom(12).hex()}.phone.wav"
        state = RetrievalState(
            phase="new",
            lang=lang,
            record_path=str(record_path),
            mailbox=target or "",
            ask_mailbox=ask_mailbox,
            skip_pin=skip_pin,
            io=Io(tag=after.tag, timers=after.timers) if after is not None else Io(),
        )
        logger.info(
            "%s: retrieval (%s; calling device's line: %s)",
            call.call_id,
            "skip PIN" if skip_pin else ("mailbox number" if ask_mailbox else f"PIN of {target}"),
            device,
        )
        try:
            first = [Started()] if after is not None else []

            def effects(name: str, args: Mapping[str, Any]) -> Any:
                if name == "open":
                    opened = service.open(str(args.get("mailbox", "")), via=via)
                    if on_open is not None:
                        on_open()
                    return opened
                return self._retrieval_effects(name, args)

            run_dialog(Retrieval(), state, PromptMedia(media, self.prompts_dir, first), effects)
        finally:
            record_path.unlink(missing_ok=True)

    def _retrieval_effects(self, name: str, args: Mapping[str, Any]) -> Any:
        s = self.service
        box = str(args.get("mailbox", ""))
        if name == "check_pin":
            return s.check_pin(box, str(args["pin"]))
        if name == "open":
            return s.open(box)
        if name == "set_heard":
            return s.set_heard(box, int(args["id"]), bool(args["heard"]))
        if name == "save":
            return s.save(box, int(args["id"]))
        if name == "delete":
            return s.delete(box, int(args["id"]))
        if name == "resolve_destination":
            return s.resolve_destination(box, str(args["number"]))
        if name == "resolve_reply":
            return s.resolve_reply(box, str(args["number"]))
        if name == "send":
            return s.send(
                box,
                str(args["path"]),
                tuple(args["recipients"]),
                str(args["origin"]),
                args.get("original"),
            )
        if name == "forward":
            return s.forward(box, int(args["id"]), tuple(args["recipients"]))
        if name == "measure":
            return voice_seconds(args["path"])
        if name == "set_greeting":
            return s.set_greeting(box, str(args["choice"]))
        if name == "save_greeting":
            return s.save_greeting(box, str(args["kind"]), str(args["path"]))
        if name == "set_extra":
            return s.set_extra(box, str(args["kind"]), bool(args["on"]))
        if name == "change_pin":
            return s.change_pin(box, str(args["pin"]))
        raise ValueError(f"unknown retrieval effect {name!r}")


def _no_effects(name: str, args: Mapping[str, Any]) -> Any:
    raise ValueError(f"unknown outdial effect {name!r}")
