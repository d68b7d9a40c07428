"""Read the facts the switch needs from a received SIP request's text (pure, no pjsua2).

Rules of this file:
- Input is the whole message as pjsua2 gives it (`SipRxData.wholeMsg`); header names are
  matched case-insensitively, compact forms included (f = From, i = Call-ID, ...).
- Values of headers that may repeat are returned in message order, one string per header line.
- A request this module cannot read raises ValueError with the reason; the caller answers 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMPACT = {
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "v": "via",
    "l": "content-length",
    "c": "content-type",
}

_NAME_ADDR = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]*)>')


@dataclass(frozen=True)
class Request:
    method: str
    uri: str
    headers: tuple[tuple[str, str], ...]
    """(lower-case name, value) in message order."""

    def values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for n, v in self.headers if n == name]

    def first(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None


def parse_request(text: str) -> Request:
    """The request line and headers of `text` (the body is ignored)."""
    head = text.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    lines = head.replace("\r\n", "\n").split("\n")
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].upper().startswith("SIP/"):
        raise ValueError(f"not a SIP request line: {lines[0][:80]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"malformed header line: {line[:80]!r}")
        key = name.strip().lower()
        headers.append((_COMPACT.get(key, key), value.strip()))
    return Request(parts[0].upper(), parts[1], tuple(headers))


@dataclass(frozen=True)
class NameAddr:
    display: str | None
    uri: str

    @property
    def user(self) -> str | None:
        return uri_user(self.uri)


def parse_name_addr(value: str) -> NameAddr:
    """`"Name" <sip:user@host>;tag=x`, `Name <sip:...>` or a bare `sip:user@host;tag=x`."""
    m = _NAME_ADDR.match(value)
    if m:
        display = m.group(1) if m.group(1) is not None else (m.group(2) or "").strip()
        if m.group(1) is not None:
            display = re.sub(r"\\(.)", r"\1", display)
        return NameAddr(display or None, m.group(3).strip())
    bare = value.strip().split(";", 1)[0].strip()
    if not re.match(r"^(sips?|tel):", bare, re.I):
        raise ValueError(f"not a name-addr: {value[:80]!r}")
    return NameAddr(None, bare)


def uri_user(uri: str) -> str | None:
    """The user part of a sip:/sips: URI (unescaped of URI parameters) or a tel: number."""
    m = re.match(r"^\s*(sips?|tel):([^@?>]*)(@)?", uri, re.I)
    if not m:
        return None
    if m.group(1).lower() == "tel":
        return m.group(2).split(";", 1)[0] or None
    if not m.group(3):
        return None
    return m.group(2).split(";", 1)[0] or None


def privacy_values(request: Request) -> frozenset[str]:
    found: set[str] = set()
    for value in request.values("privacy"):
        for item in re.split(r"[;,]", value):
            if item.strip():
                found.add(item.strip().lower())
    return frozenset(found)


def quote_display(name: str) -> str:
    """A display name as a quoted string (RFC 3261 quoted-string)."""
    cleaned = "".join(ch for ch in name if ch >= " " and ch != "\x7f")[:80]
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'
