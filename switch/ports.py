"""What each part of a switch worker uses of it (CONVENTIONS 13: a collaborator gets the narrow
interface it uses, not the whole worker object).

Rules of this file:
- Protocols only: `switch.worker.Worker` satisfies all of them, and a test may pass anything
  else that does. Attributes are read-only properties here, so a worker's own attribute types
  may be narrower.
- b2bua (incoming calls, their legs, answer confirmation and fax) takes a `CallHost`, outdial a
  `OutdialHost`, the bus consumer a `BusHost`. Adding a use of the worker to one of them means
  adding it here first, where it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from config.settings import Settings
    from ivr.calllog import CallRecord
    from ivr.runner import IvrRunner
    from routing.model import CallFacts, DialPlan
    from store.files import FileStore
    from store.session import Store
    from switch.b2bua import Decision, SwitchCall
    from switch.endpoint import Pump
    from switch.legs import Resolver
    from switch.mwi import MwiSender, Notify
    from switch.outdial import Outdial


class Slots(Protocol):
    """The worker's call slots (pjsua calls) and its capacity answers."""

    @property
    def retry_after(self) -> int: ...

    def admit_call(self) -> bool: ...

    def admit_leg(self) -> bool: ...

    def refuse_capacity(self) -> None: ...

    def track(self, call: SwitchCall) -> None: ...

    def release(self, call: SwitchCall) -> None: ...


class Threads(Protocol):
    """The pump thread (pjsua2) and the worker's database and dialog threads."""

    @property
    def cfg(self) -> Settings: ...

    @property
    def pump(self) -> Pump: ...

    @property
    def account(self) -> Any: ...

    @property
    def store(self) -> Store: ...

    @property
    def ivr(self) -> IvrRunner: ...

    def db_submit(
        self, fn: Callable[[], Any], then: Callable[[Any, BaseException | None], None]
    ) -> None: ...

    def dialog_submit(self, fn: Callable[[], None]) -> None: ...


class CallHost(Slots, Threads, Protocol):
    """What an incoming call and its legs use (switch.b2bua, switch.confirm, switch.fax)."""

    @property
    def edge(self) -> tuple[str, int] | None: ...

    @property
    def dialogs(self) -> dict[str, Callable[..., Any]]: ...

    def decide(self, facts: CallFacts, session: Session | None = None) -> Decision: ...

    def log_call(self, record: CallRecord) -> None: ...

    def trusted(self, host: str) -> bool: ...


class OutdialHost(Slots, Threads, Protocol):
    """What outdial and page calls use (switch.outdial)."""

    @property
    def resolver(self) -> Resolver: ...

    @property
    def dial_plan(self) -> DialPlan: ...

    @property
    def shutting_down(self) -> bool: ...

    @property
    def files(self) -> FileStore: ...


class BusHost(Protocol):
    """What the bus consumer uses (switch.bus)."""

    @property
    def store(self) -> Store: ...

    @property
    def pump(self) -> Pump: ...

    @property
    def db(self) -> ThreadPoolExecutor: ...

    @property
    def mwi(self) -> MwiSender: ...

    @property
    def outdial(self) -> Outdial: ...

    def send_notify(self, notify: Notify) -> None: ...
