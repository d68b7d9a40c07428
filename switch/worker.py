"""One switch worker process: a pjsua2 endpoint answering calls on one SIP port (SPEC S1, S4).

Rules of this file:
- Three kinds of threads: the pjsua2 pump (all SIP and media work), a small database pool
  (routing decisions, call log) and dialog threads (one per running dialog). The status
  thread rewrites <storage_root>/run/switch-<index>.json every second.
- Admission control counts pjsua call slots (an incoming call plus each of its ringing legs)
  and RTP sockets, including the ones pjlib keeps reserved for ~0.5 s after a call ends; past
  the cap the worker answers 503 with Retry-After.
- Every pjsua2 Call object is held in `live` until it reports DISCONNECTED and is dropped on
  the pump thread right after; players and recorders belong to the call's MediaSession.
- Start-up delivers the recordings a previous run of this worker left behind (SPEC S12).
- Worker 0 also runs the switch's bus consumer (switch/bus.py): MWI for changes made outside
  the switch, and the outdial and page calls (switch/outdial.py). One worker does it, so each
  NOTIFY and each call is made once per installation.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import hashlib
import json
import logging
import os
import shutil
import signal
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pjsua2 as pj
from sqlalchemy.orm import Session

from config.settings import Settings, load_settings
from events.mqtt import bus_address
from ivr.calllog import CallLogWriter, CallRecord
from ivr.pin import LockoutPolicy
from ivr.runner import IvrRunner
from ivr.services import Voicemail
from routing import engine
from routing.model import CallFacts, DialPlan
from store import repository
from store.files import FileStore
from store.permissions import private_process
from store.session import Store
from switch.b2bua import Decision, Inbound, SwitchCall, op, plan_targets
from switch.bus import SwitchBus
from switch.endpoint import LIMITS, EndpointConfig, Pump, raise_fd_limit
from switch.legs import EdgeResolver, NoEdgeResolver, Resolver
from switch.listen import Listener
from switch.media import MediaSession
from switch.memdebug import start_from_env as start_memory_debug
from switch.mwi import EdgeNotifyRouter, MwiSender, NoEdgeNotifyRouter, Notify, NotifyRouter
from switch.mwi import send_notify as pjsua_send_notify
from switch.outdial import Outdial
from switch.sipmsg import parse_request, uri_user
from switch.space import CHECK_SECONDS, SpaceWatch
from switch.tap import TapHub

logger = logging.getLogger(__name__)

MEDIA_SOCKETS = LIMITS.media_sockets
"""I/O queue handles for RTP + RTCP (2 per call), from the pjsua2 build (switch/endpoint.py)."""
SOCKET_RESERVE = 12
"""Handles kept free for INVITEs that arrive between two admission decisions."""
CLOSE_DELAY = 0.6
"""pjlib keeps a closed socket's handle ~500 ms before it can be reused."""


def call_capacity(configured: int, library_max: int = LIMITS.max_calls) -> int:
    """Call slots a worker uses: the setting, within what the library holds less a reserve.

    An INVITE needs a free pjsua slot to reach the worker at all (with none, pjsua itself
    answers a stateless 486), so a sixteenth of the slots (at least one) is never given to
    calls: every INVITE past capacity gets the worker's own 503 + Retry-After, bursts included.
    """
    return max(1, min(configured, library_max - max(1, library_max // 16)))


def status_path(cfg: Settings, index: int) -> Path:
    """<storage_root>/run/switch-<i>.json; switch-<i>-<switch_host>.json when the switch host
    has its own address (every switch host of a site has a worker <i> and shares the root)."""
    return cfg.storage_root / "run" / f"switch-{index}{cfg.host_suffix}.json"


class SwitchAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        self.worker.on_incoming(prm)

    def onInstantMessage(self, prm: pj.OnInstantMessageParam) -> None:
        self.worker.on_message(prm)


def worker_folder(cfg: Settings, index: int) -> str:
    """A worker's own folder under the shared spool: w<i> on one machine; w<i>-<switch_host>
    when the switch host has its own address, since every switch host of a site shares the
    storage root and has a worker <i> (docs/scaling.md): start-up recovers and clears only its
    own worker's files, never those of a live call on another host."""
    return f"w{index}{cfg.host_suffix}"


MEMORY_ROOT = Path("/dev/shm")
"""Where the listen files go by default (a tmpfs on Linux)."""
MEMORY_MIN_FREE = 256 * 1024 * 1024
"""Room the memory folder needs for the listen files to go there: 128 calls of 2 minutes."""


def listen_folder(cfg: Settings) -> Path:
    """The folder of this installation's listen files (switch.listen), before the worker's own
    sub-folder: `listen_dir` when set; else, in memory, /dev/shm/relais-<id of the storage
    root> (mode 0700: callers' audio), when /dev/shm has MEMORY_MIN_FREE free; else
    <storage_root>/spool/listen. A listen file lives as long as its call and is written in
    4000-byte blocks: on a disk, creating and journaling it cost the pump and the media clock
    thread 0.4 to 0.7 ms of CPU per voicemail call (tests/bench/profile_worker.py, side by
    side)."""
    if cfg.listen_dir:
        return Path(cfg.listen_dir).resolve()
    on_disk = (cfg.storage_root / "spool" / "listen").resolve()
    root = hashlib.sha256(str(cfg.storage_root.resolve()).encode()).hexdigest()[:16]
    memory = MEMORY_ROOT / f"relais-{root}"
    try:
        if shutil.disk_usage(MEMORY_ROOT).free < MEMORY_MIN_FREE:
            return on_disk
        memory.mkdir(mode=0o700, exist_ok=True)
        info = memory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            logger.warning("%s is not a folder of this user: listen files stay on disk", memory)
            return on_disk
        if stat.S_IMODE(info.st_mode) != 0o700:
            memory.chmod(0o700)
    except OSError:
        return on_disk
    return memory


class Worker:
    def __init__(
        self,
        cfg: Settings,
        *,
        index: int,
        host: str,
        port: int,
        no_edge: bool,
        public_host: str | None = None,
        public_port: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.index = index
        self.host = host
        self.port = port
        self.no_edge = no_edge
        self.cap = call_capacity(cfg.max_calls_per_worker)
        self.retry_after = 5
        self.store = Store(cfg.effective_database_url)
        self.files = FileStore(cfg.storage_root)
        spool = cfg.storage_root / "spool" / "recordings" / worker_folder(cfg, index)
        pub_host = public_host or cfg.sip_advertised_host
        pub_port = public_port or cfg.sip_port
        self.resolver: Resolver
        self.edge: tuple[str, int] | None = None
        """The edge's address: identities it asserts (P-Asserted-Identity) are trusted."""
        if no_edge:
            self.resolver = NoEdgeResolver(pub_host, pub_port, cfg.trunk_uri)
            self._trusted = frozenset(cfg.trusted_addresses)
        else:
            # Legs go to the edge's port for workers (recognised over UDP and TCP alike).
            self.resolver = EdgeResolver(pub_host, cfg.edge.worker_port)
            self._trusted = frozenset((*cfg.trusted_addresses, pub_host))
            self.edge = (pub_host, pub_port)
        self.dial_plan = DialPlan(
            allow_international=cfg.dialplan.allow_international,
            allow_nanp_abroad=cfg.dialplan.allow_nanp_abroad,
            extension_digits=cfg.dialplan.extension_digits,
            blocked_area_codes=frozenset(cfg.dialplan.blocked_area_codes),
            blocked_exchanges=frozenset(cfg.dialplan.blocked_exchanges),
        )
        self.pump = Pump(
            EndpointConfig(
                host=host,
                port=port,
                advertised_host=cfg.sip_advertised_host if host in ("0.0.0.0", "") else host,
                max_calls=LIMITS.max_calls,
                user_agent=f"relais-switch/{index}",
                log_level=int(os.environ.get("RELAIS_PJSIP_LOG_LEVEL", "0")),
            )
        )
        self.pump.busy = lambda: bool(self.live)
        self.db = ThreadPoolExecutor(max_workers=2, thread_name_prefix="db")
        self.dialog_pool = ThreadPoolExecutor(max_workers=self.cap + 4, thread_name_prefix="dialog")
        self.dialogs: dict[str, Callable[..., Any]] = {}
        """Extra dialogs by plan step kind (e.g. "retrieval"), factory(inbound, step)."""
        self.account: SwitchAccount | None = None
        self.live: set[SwitchCall] = set()
        self.inbound: set[Inbound] = set()
        self.closed_at: deque[float] = deque()
        self.shutting_down = False
        self.stats = {"calls": 0, "rejected_capacity": 0, "messages": 0}
        self.started_at = time.time()
        self._stop = threading.Event()
        self._setup_ivr(cfg, spool.resolve(), no_edge, pub_host, pub_port)
        self.outdial = Outdial(self)
        self.bus: SwitchBus | None = None
        if index == 0:
            self.bus = SwitchBus(self, bus_address(cfg), cfg.notify.sweep_seconds)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        before, after = raise_fd_limit(LIMITS.fds_needed)
        if after < LIMITS.fds_needed:
            logger.warning(
                "open files limited to %s (RLIMIT_NOFILE), %s wanted for %s calls",
                after,
                LIMITS.fds_needed,
                LIMITS.max_calls,
            )
        elif after != before:
            logger.debug("open files limit raised from %s to %s", before, after)
        if self.cap < self.cfg.max_calls_per_worker:
            logger.warning(
                "max_calls_per_worker %s is more than this pjsua2 build holds (%s build, %s "
                "calls per process): this worker takes %s calls, then answers 503",
                self.cfg.max_calls_per_worker,
                LIMITS.build,
                LIMITS.max_calls,
                self.cap,
            )
        # pjsua2 objects must be freed on the pump thread: cyclic garbage is collected there
        # only (see _collect), never in whichever thread happens to trigger a collection.
        gc.disable()
        self.pump.on_idle = self._collect
        self.pump.on_destroy = self._drop_all
        recovered = self.voicemail_service.recover_orphans()
        if recovered:
            logger.warning("recovered %s orphan recording(s)", recovered)
        self.pump.start(self._setup)
        # What exists now lives as long as the process: keep it out of every collection, so
        # the pump thread's periodic collections stay short.
        gc.freeze()
        if self.bus is not None:
            self.bus.start()
        threading.Thread(target=self._status_loop, name="status", daemon=True).start()
        logger.info("switch worker %s listening on %s:%s", self.index, self.host, self.port)

    def _setup_ivr(
        self, cfg: Settings, spool: Path, no_edge: bool, pub_host: str, pub_port: int
    ) -> None:
        """The IVR (deposit, retrieval), its listener (in-band DTMF, silence) and MWI."""
        self.listener = Listener(self.pump.post)
        self.listen_dir: Path | None = None
        """This worker's folder of listen files (listen_folder), once the library is up."""
        self.taps: TapHub | None = None
        """Its taps (switch.tap) once the library is up, when it listens through them."""
        router: NotifyRouter = (
            NoEdgeNotifyRouter() if no_edge else EdgeNotifyRouter(pub_host, cfg.edge.worker_port)
        )
        self.mwi = MwiSender(self.store, router, self.send_notify, cfg.sip_domain)
        self.calllog = CallLogWriter(self.store)
        self.voicemail_service = Voicemail(
            self.store,
            self.files,
            spool,
            lockout=LockoutPolicy(
                cfg.mailbox.pin_lockout_failures, cfg.mailbox.pin_lockout_minutes
            ),
            silence_seconds=cfg.mailbox.silence_seconds,
            on_counts=self.mwi.prepare,
            default_language=cfg.language,
            min_free_bytes=cfg.mailbox.min_free_mb * 1_000_000,
            calllog=self.calllog,
        )
        self.ivr = IvrRunner(
            self.voicemail_service,
            prompts_dir=Path(cfg.prompts_dir) if cfg.prompts_dir else None,
            default_language=cfg.language,
            no_edge=no_edge,
        )
        self.dialogs["deposit"] = self.ivr.deposit_dialog
        self.dialogs["retrieval"] = self.ivr.retrieval_dialog
        self.dialogs["fax"] = self.ivr.fax_dialog

    def send_notify(self, notify: Notify) -> None:
        """Send an MWI NOTIFY from the worker's account (any thread)."""

        def send() -> None:
            if self.account is not None:
                pjsua_send_notify(self.account, notify)

        self.pump.post(send)

    def _setup(self, pump: Pump) -> None:
        acfg = pj.AccountConfig()
        host = pump.config.advertised_host
        acfg.idUri = f"sip:relais@{host}:{self.port}"
        acfg.mediaConfig.transportConfig.boundAddress = (
            self.host if self.host not in ("0.0.0.0", "") else ""
        )
        acfg.mediaConfig.transportConfig.publicAddress = host
        acc = SwitchAccount(self)
        acc.create(acfg, True)
        self.account = acc
        listen_dir = listen_folder(self.cfg) / worker_folder(self.cfg, self.index)
        # The worker's own folder is private too (callers' audio), whoever made its parent:
        # another host's worker of a shared storage root may have just removed an empty one.
        listen_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        listen_dir.chmod(0o700)
        for stale in listen_dir.glob("*.wav"):
            stale.unlink(missing_ok=True)
        MediaSession.listener = self.listener
        MediaSession.listen_dir = self.listen_dir = listen_dir.resolve()
        MediaSession.taps = self.taps = TapHub.start(pump) if self.cfg.listen == "tap" else None
        self.listener.start()

    _last_gc = 0.0
    _last_full_gc = 0.0

    def _collect(self) -> None:
        now = time.monotonic()
        if now - self._last_gc >= 1.0:
            self._last_gc = now
            if now - self._last_full_gc >= 30.0:
                self._last_full_gc = now
                gc.collect()
            else:
                gc.collect(1)

    def _drop_all(self) -> None:
        for inbound in list(self.inbound):
            inbound.forget()
        for call in self.live:
            call.owner = None
        self.live.clear()
        self.inbound.clear()
        self.account = None
        gc.collect()

    def stop(self) -> None:
        self.shutting_down = True
        if self.bus is not None:
            self.bus.stop()

        def teardown() -> None:
            # Calls end with the library (hangupAllCalls); their objects go with it.
            self.pump.ep.hangupAllCalls()

        self.pump.stop(teardown)
        if self.taps is not None:
            self.taps.stop()
        self.listener.stop()
        self._clear_listen_folder()
        self.dialog_pool.shutdown(wait=False, cancel_futures=True)
        self.db.shutdown(wait=True)
        self._stop.set()
        status_path(self.cfg, self.index).unlink(missing_ok=True)
        self.store.dispose()

    def _clear_listen_folder(self) -> None:
        """Nothing of a stopped worker stays in memory: its listen files (calls ended with the
        library), its playlist pad, its folder, and the installation's when it is empty."""
        folder = self.listen_dir
        if folder is None:
            return
        for stale in folder.glob("*.wav"):
            stale.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()
            if folder.parent.parent == MEMORY_ROOT:
                folder.parent.rmdir()

    def wait(self) -> None:
        self._stop.wait()

    # -- calls -----------------------------------------------------------------------------------

    def on_incoming(self, prm: pj.OnIncomingCallParam) -> None:
        assert self.account is not None
        call = SwitchCall(self.account, self.pump.post, prm.callId)
        call.release = self.release
        self.track(call)
        self.stats["calls"] += 1
        try:
            request = parse_request(prm.rdata.wholeMsg)
        except ValueError as exc:
            logger.warning("unreadable INVITE from %s: %s", prm.rdata.srcAddress, exc)
            call.hangup(op(400))
            return
        inbound = Inbound(self, call, request, prm.rdata.srcAddress)
        if self.shutting_down:
            inbound.reject(503, (("Retry-After", str(self.retry_after)),))
            return
        self.inbound.add(inbound)
        inbound.begin()

    def track(self, call: SwitchCall) -> None:
        self.live.add(call)

    def release(self, call: SwitchCall) -> None:
        """Forget a call that just reported DISCONNECTED, from inside that callback.

        pjsua2 keeps a disconnected Call's id, and its destructor acts on whatever call holds
        that pjsua slot by then: the object must die before the slot is reused, i.e. when
        the DISCONNECTED callback returns. Every reference to it is dropped here.
        """
        if call in self.live:
            self.live.discard(call)
            self.closed_at.append(time.monotonic())
        owner = call.owner
        call.owner = None
        if isinstance(owner, Inbound):
            self.inbound.discard(owner)
            owner.forget()
        if owner is not None and getattr(owner, "call", None) is call:
            owner.call = None

    def _sockets(self) -> int:
        now = time.monotonic()
        while self.closed_at and now - self.closed_at[0] > CLOSE_DELAY:
            self.closed_at.popleft()
        return 2 * (len(self.live) + len(self.closed_at))

    def admit_call(self) -> bool:
        """An incoming call (already counted in `live`) may go on."""
        ok = len(self.live) <= self.cap and self._sockets() <= MEDIA_SOCKETS - SOCKET_RESERVE
        if not ok:
            self.stats["rejected_capacity"] += 1
        return ok

    def admit_leg(self) -> bool:
        """A call slot (and its RTP sockets) is free for one more outbound leg."""
        return (
            len(self.live) < self.cap and self._sockets() + 2 <= MEDIA_SOCKETS - SOCKET_RESERVE // 2
        )

    def refuse_capacity(self) -> None:
        self.stats["rejected_capacity"] += 1

    def trusted(self, host: str) -> bool:
        return host in self._trusted

    # -- message waiting indication (SPEC S6) ----------------------------------------------------

    def on_message(self, prm: pj.OnInstantMessageParam) -> None:
        """MESSAGE from the edge with "X-Relais-Event: registered": a phone of the line in the
        Request-URI registered; re-assert the lamps it shows. Other MESSAGEs are ignored
        (pjsua has answered 200 already)."""
        try:
            request = parse_request(prm.rdata.wholeMsg)
        except ValueError:
            return
        if (request.first("x-relais-event") or "").strip().lower() != "registered":
            return
        host = prm.rdata.srcAddress.rsplit(":", 1)[0].strip("[]")
        line = uri_user(request.uri) or ""
        if self.edge is None or not self.trusted(host) or not (line.isdigit() and len(line) == 10):
            logger.warning("registration event from %s ignored", prm.rdata.srcAddress)
            return
        self.db.submit(self._reassert_lamps, line)

    def _reassert_lamps(self, line: str) -> None:
        """Database thread: the lamps shown on `line`'s phones, sent again."""
        try:
            self.mwi.registered(line)
        except Exception:
            logger.exception("MWI of %s not re-asserted", line)

    # -- database work ---------------------------------------------------------------------------

    def db_submit(
        self, fn: Callable[[], Any], then: Callable[[Any, BaseException | None], None]
    ) -> None:
        """Run `fn` on a database thread, then `then(result, error)` on the pump thread.

        `then` often holds call objects: the database thread hands its only reference over
        to the pump, so those objects are never freed on the database thread.
        """
        box: list[Any] = [then]

        def run() -> None:
            try:
                result, error = fn(), None
            except Exception as exc:
                result, error = None, exc
            callback = box.pop()
            self.pump.post(functools.partial(callback, result, error))
            del callback

        self.db.submit(run)

    def dialog_submit(self, fn: Callable[[], None]) -> None:
        self.dialog_pool.submit(fn)

    def decide(self, facts: CallFacts, session: Session | None = None) -> Decision:
        """Routing decision for one call (database thread), in `session` when given (one read
        for every lookup of a call), else in a read of its own."""
        with contextlib.nullcontext(session) if session is not None else self.store.read() as s:
            if facts.to_pilot:
                line = facts.diversions[0].line if facts.diversions else None
            else:
                line = facts.called
            settings = None
            if line is not None and line.isdigit():
                settings = repository.line_settings(
                    s,
                    line,
                    dial_plan=self.dial_plan,
                    forward_timeout=self.cfg.routing.forward_timeout,
                    max_diversions=self.cfg.routing.max_diversions,
                )
            plan = engine.decide(settings, facts)
            resolutions = {}
            if settings is not None:
                resolutions = {
                    t: self.resolver.resolve(s, settings.line, t) for t in plan_targets(plan.first)
                }
        return Decision(
            plan=plan,
            line_exists=settings is not None,
            log_line=settings.line if settings is not None else None,
            resolutions=resolutions,
        )

    def log_call(self, record: CallRecord) -> None:
        """Write the call's log row on a database thread; kept through a store outage
        (ivr.calllog.CallLogWriter, shared with the voicemail service)."""

        def done(_: Any, error: BaseException | None) -> None:
            if error is not None:
                logger.error("%s: call log not written: %s", record.call_id, error)

        self.db_submit(functools.partial(self.calllog.write, record), done)

    # -- status channel --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pid": os.getpid(),
            "address": f"{self.host}:{self.port}",
            "active_calls": len(self.inbound) + len(self.outdial.calls),
            "outdial_calls": len(self.outdial.calls),
            "call_slots": len(self.live),
            "capacity": self.cap,
            "calls_total": self.stats["calls"],
            "rejected_capacity": self.stats["rejected_capacity"],
            "started_at": self.started_at,
            "updated_at": time.time(),
        }

    def _status_loop(self) -> None:
        path = status_path(self.cfg, self.index)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        failing = False
        cfg = self.cfg
        space = SpaceWatch(self.store, cfg.mailbox.min_free_mb, cfg.switch_host)
        next_look = 0.0
        while not self._stop.is_set() and not self.shutting_down:
            if self.index == 0 and time.monotonic() >= next_look:  # one worker per host says it
                next_look = time.monotonic() + CHECK_SECONDS
                space.check(self.voicemail_service.free_bytes())
            try:
                tmp.write_text(json.dumps(self.status()))
                os.replace(tmp, path)
                failing = False
            except OSError as exc:  # a full disk must not end the status channel
                if not failing:
                    logger.error("status of worker %s not written: %s", self.index, exc)
                failing = True
            self._stop.wait(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switch.worker", description=__doc__)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--no-edge", action="store_true")
    parser.add_argument("--public-host", default=None)
    parser.add_argument("--public-port", type=int, default=None)
    args = parser.parse_args(argv)
    private_process()  # recordings and the store are the service's own (store/permissions.py)
    cfg = load_settings()
    logging.basicConfig(
        level=getattr(logging, cfg.log_level),
        format=f"%(asctime)s %(levelname)s switch[{args.index}] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    worker = Worker(
        cfg,
        index=args.index,
        host=args.host or cfg.switch_host,
        port=args.port or cfg.switch_base_port + args.index,
        no_edge=args.no_edge,
        public_host=args.public_host,
        public_port=args.public_port,
    )

    def on_signal(signum: int, _frame: Any) -> None:
        worker.shutting_down = True
        worker._stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.start()
    start_memory_debug(worker.pump.call)
    print(f"ready: switch worker {args.index} sip:{worker.host}:{worker.port}", flush=True)
    worker.wait()
    worker._stop.clear()
    worker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
