"""Diversion (RFC 5806) and History-Info (RFC 7044, RFC 4458 causes) headers <-> model.Diversion.

Rules of this file:
- Parsers take the header values (one string, or one string per header line, in message order)
  and return a tuple of Diversion, the most recent diversion first.
- A Diversion entry with counter=N stands for N diversions by the same line (RFC 5806), so it
  yields N entries: len(result) is the number of diversions the loop guard counts.
- Diversion.line is the normalised number of the diverting URI's user part. A URI that names no
  telephone number (sip:alice@example.com) gives "alice@example.com": no line ever equals it, the
  loop guard still counts it, and the switch finds no settings for it.
- Reasons relais has no member for map to DiversionReason.UNKNOWN; out-of-service, the Diversion
  form of cause 503, maps to UNAVAILABLE like the cause.
- Syntax errors (unbalanced quotes or brackets, a missing URI, a URI scheme other than sip, sips
  or tel, a bad counter, index or cause) raise ValueError with an exact message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from routing.model import Diversion, DiversionReason
from routing.numbers import normalize

MAX_COUNTER = 99  # RFC 5806: counter = 1*2DIGIT

_REASONS: dict[str, DiversionReason] = {
    **{reason.value: reason for reason in DiversionReason},
    "out-of-service": DiversionReason.UNAVAILABLE,
}

CAUSES: dict[int, DiversionReason] = {
    # RFC 4458 section 3: the redirecting reasons of ISUP (Q.763) as SIP response codes.
    404: DiversionReason.UNKNOWN,  # unknown / not available
    486: DiversionReason.USER_BUSY,  # user busy
    408: DiversionReason.NO_ANSWER,  # no reply
    302: DiversionReason.UNCONDITIONAL,  # unconditional
    487: DiversionReason.DEFLECTION,  # deflection during alerting
    480: DiversionReason.DEFLECTION,  # deflection immediate response
    503: DiversionReason.UNAVAILABLE,  # mobile subscriber not reachable
}

Q850_CAUSES: dict[int, DiversionReason] = {
    # Reason: Q.850;cause=N, sent by gateways instead of (or beside) a SIP cause.
    17: DiversionReason.USER_BUSY,  # user busy
    18: DiversionReason.NO_ANSWER,  # no user responding
    19: DiversionReason.NO_ANSWER,  # no answer from user (user alerted)
    20: DiversionReason.UNAVAILABLE,  # subscriber absent
}


def reason_from_cause(cause: int) -> DiversionReason:
    """The diversion reason of an RFC 4458 cause (a SIP response code); UNKNOWN for others."""
    return CAUSES.get(cause, DiversionReason.UNKNOWN)


def call_diversions(
    diversion: str | Iterable[str], history_info: str | Iterable[str]
) -> tuple[Diversion, ...]:
    """The diversion history of an INVITE: its Diversion headers when it has any, else what its
    History-Info headers record (an empty iterable stands for an absent header)."""
    found = parse_diversion(diversion)
    return found if found else parse_history_info(history_info)


# ------------------------------------------------------------------------------------------------
# Diversion (RFC 5806)


def parse_diversion(headers: str | Iterable[str]) -> tuple[Diversion, ...]:
    """Parse Diversion header values, e.g.

    `<sip:6135550100@example.com>;reason=no-answer;counter=1;privacy=off`.
    Several values may share one header (comma-separated) and several headers may be given; the
    first value of the first header is the most recent diversion and comes first.
    """
    result: list[Diversion] = []
    for value in _values(headers, "Diversion"):
        uri, params = _name_addr(value, "Diversion")
        reason = _REASONS.get(params.get("reason", "unknown").lower(), DiversionReason.UNKNOWN)
        raw_counter = params.get("counter", "1")
        if not (raw_counter.isascii() and raw_counter.isdigit()) or not (
            1 <= int(raw_counter) <= MAX_COUNTER
        ):
            raise ValueError(f"invalid Diversion counter {raw_counter!r}: expected 1 to 99")
        diversion = Diversion(_line(uri), reason)
        result.extend([diversion] * int(raw_counter))
    return tuple(result)


def format_diversion(d: Diversion, host: str, counter: int = 1) -> str:
    """The Diversion header value the switch adds when it forwards a call for line `d.line`."""
    if not (d.line.isascii() and d.line.isdigit()):
        raise ValueError(f"{d.line!r} is not a line number")
    if not host or any(ch in host for ch in " \t<>;,@"):
        raise ValueError(f"invalid host {host!r}")
    if not 1 <= counter <= MAX_COUNTER:
        raise ValueError(f"Diversion counter {counter} is outside 1..{MAX_COUNTER}")
    return f"<sip:{d.line}@{host}>;reason={d.reason.value};counter={counter};privacy=off"


# ------------------------------------------------------------------------------------------------
# History-Info (RFC 7044)


@dataclass(frozen=True)
class _Entry:
    index: tuple[int, ...] | None
    uri: str
    params: dict[str, str]


def parse_history_info(headers: str | Iterable[str]) -> tuple[Diversion, ...]:
    """Parse History-Info header values into diversions, the most recent first.

    An entry records a diversion in two ways, and both are read:
    - a Reason escaped in its URI (`<sip:6135550100@h?Reason=SIP%3Bcause%3D486>;index=1`): the
      request to that target failed with the cause and the call was retargeted from it;
    - a `cause` URI parameter (RFC 4458, `<sip:6135550199@h;cause=408>;index=1.1;mp=1`): the call
      was diverted to this target for the cause, from the entry named by its rc/mp parameter, else
      its parent index, else the entry before it (or from the URI in a `target` parameter).
    When both describe the same diverting entry, the cause parameter (read after the Reason)
    wins; two neighbouring diversions of the same line for the same reason are one diversion.
    """
    raw_entries: list[_Entry] = []
    for value in _values(headers, "History-Info"):
        uri, params = _name_addr(value, "History-Info")
        raw_index = params.get("index")
        raw_entries.append(_Entry(None if raw_index is None else _index(raw_index), uri, params))
    entries = raw_entries
    if entries and all(entry.index is not None for entry in entries):
        entries = sorted(entries, key=lambda entry: entry.index or ())
    by_index = {entry.index: n for n, entry in enumerate(entries) if entry.index is not None}

    # events[source]: (order, line, reason); source is the diverting entry's position
    # in `entries`, or -1 - n for a cause whose diverting URI came in a `target` parameter.
    events: dict[int, tuple[float, str, DiversionReason]] = {}
    for n, entry in enumerate(entries):
        uri_params, uri_headers = _uri_parts(entry.uri)
        raw_reason = uri_headers.get("reason")
        if raw_reason is not None:
            reason = _reason_header(raw_reason)
            if reason is not None:
                events[n] = (n, _line(entry.uri), reason)
        raw_cause = uri_params.get("cause")
        if raw_cause is None:
            continue
        if not (raw_cause.isascii() and raw_cause.isdigit()):
            raise ValueError(f"invalid cause {raw_cause!r} in History-Info")
        reason = reason_from_cause(int(raw_cause))
        source = _source(entry, n, by_index)
        target = uri_params.get("target")
        if target is not None:
            line = _line(unquote(target))
            key = source if source is not None else -1 - n
            events[key] = (n - 0.5 if source is None else source, line, reason)
        elif source is not None:
            events[source] = (source, _line(entries[source].uri), reason)
    ordered: list[Diversion] = []
    for _, line, reason in sorted(events.values(), key=lambda event: event[0]):
        diversion = Diversion(line, reason)
        if not ordered or ordered[-1] != diversion:
            ordered.append(diversion)
    return tuple(reversed(ordered))


def _index(raw: str) -> tuple[int, ...]:
    parts = raw.split(".")
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise ValueError(f"invalid History-Info index {raw!r}")
    return tuple(int(part) for part in parts)


def _source(entry: _Entry, n: int, by_index: dict[tuple[int, ...], int]) -> int | None:
    """The position of the entry the call was retargeted from to reach `entry`."""
    for name in ("rc", "mp"):
        raw = entry.params.get(name)
        if raw:
            found = by_index.get(_index(raw))
            if found is not None:
                return found
    if entry.index is not None and len(entry.index) > 1:
        found = by_index.get(entry.index[:-1])
        if found is not None:
            return found
    return n - 1 if n > 0 else None


def _reason_header(raw: str) -> DiversionReason | None:
    """The reason of an escaped Reason header value: its SIP cause, else its Q.850 cause."""
    found: dict[str, int] = {}
    for value in _split(unquote(raw), ",", "Reason"):
        protocol, _, rest = value.partition(";")
        params = _params(rest, "Reason") if rest else {}
        cause = params.get("cause", "")
        if cause.isascii() and cause.isdigit():
            found.setdefault(protocol.strip().upper(), int(cause))
    if "SIP" in found:
        return reason_from_cause(found["SIP"])
    if "Q.850" in found:
        return Q850_CAUSES.get(found["Q.850"], DiversionReason.UNKNOWN)
    return None


# ------------------------------------------------------------------------------------------------
# Shared syntax


def _values(headers: str | Iterable[str], name: str) -> list[str]:
    lines = [headers] if isinstance(headers, str) else list(headers)
    values: list[str] = []
    for line in lines:
        if not line.strip():
            raise ValueError(f"empty {name} header")
        parts = _split(line, ",", name)
        if any(not part for part in parts):
            raise ValueError(f"empty value in {name} header {line!r}")
        values.extend(parts)
    return values


def _split(text: str, separator: str, name: str) -> list[str]:
    """Split on `separator` outside quoted strings and <...>; parts are stripped."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    depth = 0
    for ch in text:
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced '>' in {name} header {text!r}")
        elif ch == separator and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    if quoted:
        raise ValueError(f"unterminated quoted string in {name} header {text!r}")
    if depth:
        raise ValueError(f"unbalanced '<' in {name} header {text!r}")
    parts.append("".join(current).strip())
    return parts


def _name_addr(value: str, name: str) -> tuple[str, dict[str, str]]:
    """Split `["Name"] <uri>;params` (or `uri;params` without brackets) into the URI and params."""
    bracket = _unquoted_find(value, "<")
    if bracket >= 0:
        head, rest = value[:bracket], value[bracket + 1 :]
        uri, _, tail = rest.partition(">")
        display = head.strip()
        quoted = display.startswith('"') and display.endswith('"')
        if display and not quoted and any(ch in display for ch in ';:@"'):
            raise ValueError(f"invalid display name in {name} value {value!r}")
        tail = tail.strip()
        if tail and not tail.startswith(";"):
            raise ValueError(f"unexpected text after the URI in {name} value {value!r}")
        params = tail[1:]
    else:
        uri, _, params = value.partition(";")
    uri = uri.strip()
    if not uri:
        raise ValueError(f"no URI in {name} value {value!r}")
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme not in ("sip", "sips", "tel"):
        raise ValueError(f"unsupported URI {uri!r} in {name} value: expected sip:, sips: or tel:")
    return uri, _params(params, name) if params.strip() else {}


def _unquoted_find(text: str, char: str) -> int:
    """The position of the first `char` outside a quoted string, or -1."""
    quoted = escaped = False
    for position, ch in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == char:
            return position
    return -1


def _params(text: str, name: str) -> dict[str, str]:
    """`a=1;b="x;y";c` -> {"a": "1", "b": "x;y", "c": ""}; names in lower case."""
    params: dict[str, str] = {}
    for part in _split(text, ";", name):
        key, eq, raw = part.partition("=")
        key = key.strip().lower()
        if not key or not all(ch.isalnum() or ch in "-_.!%*+`'~" for ch in key):
            raise ValueError(f"invalid parameter {part!r} in {name} header")
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        elif eq and not raw:
            raise ValueError(f"invalid parameter {part!r} in {name} header")
        params[key] = raw
    return params


def _uri_parts(uri: str) -> tuple[dict[str, str], dict[str, str]]:
    """The URI parameters and the (percent-decoded) headers of a sip/sips/tel URI."""
    body, _, raw_headers = uri.partition("?")
    host_part = body.split("@", 1)[1] if "@" in body else body.split(":", 1)[1]
    uri_params: dict[str, str] = {}
    for part in host_part.split(";")[1:]:
        key, _, value = part.partition("=")
        uri_params[key.strip().lower()] = value.strip()
    uri_headers: dict[str, str] = {}
    for part in raw_headers.split("&") if raw_headers else ():
        key, _, value = part.partition("=")
        uri_headers[unquote(key).strip().lower()] = value
    return uri_params, uri_headers


def _line(uri: str) -> str:
    """The normalised number of a URI's user part, else its user@host (see the file's rules)."""
    body = uri.partition("?")[0].strip()
    try:
        return normalize(body)
    except ValueError:
        pass
    rest = body.split(":", 1)[1] if ":" in body else body
    if "@" in rest:
        user, host = rest.split("@", 1)
        return f"{unquote(user.split(';', 1)[0])}@{host.split(';', 1)[0].lower()}"
    return rest.split(";", 1)[0].lower()
