"""Is a call from one of a subscriber's own, authenticated devices? (SPEC S4 identity, S9)

Rules of this file:
- A From header is never proof: anyone can write the owner's number there.
- Edge mode: the edge authenticates devices by digest and asserts who they are with
  P-Asserted-Identity (it removes any PAI it did not write). A call from the edge's address
  with a PAI naming a local line is from that line's device.
- No-edge mode: a device is known by its static contact URI. A call whose source address
  (host:port of the packet) is the host:port of a device's static contact is from that device's
  line; when several lines' devices share that address (a PBX), the one whose line is the From
  number wins, and with none of them the call is not trusted.
- Resolution reads the store: it runs on a dialog or database thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Device, Line


@dataclass(frozen=True)
class CallerIdentity:
    """What the switch saw of an incoming call's origin (plain data, any thread)."""

    source: str
    """host:port the INVITE came from."""
    from_edge: bool
    """The INVITE came from the edge's address (edge mode only)."""
    asserted: str | None
    """User part of P-Asserted-Identity, when present."""
    claimed: str | None
    """Normalised caller number from From (or PAI): never enough on its own."""


_URI_HOSTPORT = re.compile(r"^sips?:(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?", re.I)


def uri_host_port(uri: str) -> tuple[str, int] | None:
    """('127.0.0.1', 5062) of sip:user@127.0.0.1:5062;transport=udp (port 5060 by default)."""
    m = _URI_HOSTPORT.match(uri.strip())
    if not m:
        return None
    return m.group(1).strip("[]").lower(), int(m.group(2) or 5060)


def split_source(source: str) -> tuple[str, int] | None:
    host, sep, port = source.strip().rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]").lower(), int(port)


def own_device_line(session: Session, identity: CallerIdentity, *, no_edge: bool) -> str | None:
    """The line whose authenticated device placed the call, else None."""
    if not no_edge:
        if identity.from_edge and identity.asserted and identity.asserted.isdigit():
            line = identity.asserted[-10:]
            return line if session.get(Line, line) is not None else None
        return None
    source = split_source(identity.source)
    if source is None:
        return None
    rows = session.execute(
        select(Device.line_number, Device.contact_uri).where(Device.contact_uri.is_not(None))
    ).all()
    lines = sorted({line for line, uri in rows if uri and uri_host_port(uri) == source})
    if len(lines) == 1:
        return lines[0]
    if identity.claimed in lines:
        return identity.claimed
    return None
