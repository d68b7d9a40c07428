"""Where an outbound leg goes: the one pluggable piece between a plan's Leg and a SIP URI.

- No edge (`NoEdgeResolver`): the line's own phone rings at its devices' static contact URIs;
  another local line goes back into the switch (the public SIP address), so its own settings
  apply; any other number goes to the trunk (none configured: the leg fails with 404).
- Edge (`EdgeResolver`): every leg goes to the edge, which knows the registrations; legs to the
  line's own devices carry `X-Relais-Leg: devices` so the edge looks up the line's contacts
  instead of routing the number as a call to the line.
Resolvers run on a database thread before the plan is executed (they may read the store).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from routing.model import ACCOUNT_PHONE
from store.models import Device, Line
from store.session import core

LEG_HEADER = "X-Relais-Leg"


@dataclass(frozen=True)
class Destination:
    uri: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Resolution:
    """The destinations of one leg target; empty with a status code when it cannot be called."""

    destinations: tuple[Destination, ...]
    failure_code: int = 0


class Resolver(Protocol):
    def resolve(self, session: Session, line: str, target: str) -> Resolution: ...


def _host_port(host: str, port: int) -> str:
    return f"{host}:{port}"


def trunk_uri_for(trunk_uri: str, number: str) -> str | None:
    """sip:gw.example.net:5060 -> sip:<number>@gw.example.net:5060 (None without a trunk)."""
    if not trunk_uri:
        return None
    m = re.fullmatch(r"(sips?):(?:[^@]*@)?(.+)", trunk_uri)
    if not m:
        return None
    return f"{m.group(1)}:{number}@{m.group(2)}"


_CONTACTS = (
    select(Device.contact_uri).where(Device.line_number == bindparam("line")).order_by(Device.id)
)


def device_contacts(session: Session, line: str) -> tuple[Destination, ...]:
    """The static contact URIs of line `line`'s devices (the no-edge way to reach its phones)."""
    contacts: Sequence[str | None] = (
        core(session).execute(_CONTACTS, {"line": line}).scalars().all()
    )
    return tuple(Destination(c) for c in contacts if c)


class NoEdgeResolver:
    def __init__(self, switch_host: str, switch_port: int, trunk_uri: str) -> None:
        self.switch = _host_port(switch_host, switch_port)
        self.trunk_uri = trunk_uri

    def resolve(self, session: Session, line: str, target: str) -> Resolution:
        if target == ACCOUNT_PHONE:
            uris = device_contacts(session, line)
            return Resolution(uris, 0 if uris else 480)
        if session.get(Line, target) is not None:
            return Resolution((Destination(f"sip:{target}@{self.switch}"),))
        uri = trunk_uri_for(self.trunk_uri, target)
        if uri is None:
            return Resolution((), 404)
        return Resolution((Destination(uri),))


class EdgeResolver:
    def __init__(self, edge_host: str, edge_port: int) -> None:
        self.edge = _host_port(edge_host, edge_port)

    def resolve(self, session: Session, line: str, target: str) -> Resolution:
        if target == ACCOUNT_PHONE:
            return Resolution((Destination(f"sip:{line}@{self.edge}", ((LEG_HEADER, "devices"),)),))
        return Resolution((Destination(f"sip:{target}@{self.edge}"),))
