"""A small SIP client for the peer tests: raw requests over UDP or TCP, responses, digest auth.

It speaks just enough SIP to drive the edge byte by byte (REGISTER with digest, OPTIONS,
INVITE) and to play a worker or a phone that answers requests. It is a test tool: every
function takes explicit addresses and timeouts.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Message:
    first_line: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    source: tuple[str, int] | None = None
    raw: bytes = b""

    @property
    def is_response(self) -> bool:
        return self.first_line.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.first_line.split(" ", 2)[1])

    @property
    def reason(self) -> str:
        return self.first_line.split(" ", 2)[2] if self.first_line.count(" ") >= 2 else ""

    @property
    def method(self) -> str:
        return self.first_line.split(" ", 1)[0]

    @property
    def uri(self) -> str:
        return self.first_line.split(" ")[1]

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        names = {name.lower(), *_COMPACT.get(name.lower(), ())}
        return [v for k, v in self.headers if k.lower() in names]

    def to_bytes(self) -> bytes:
        lines = [self.first_line, *(f"{k}: {v}" for k, v in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


_COMPACT = {
    "via": ("v",),
    "from": ("f",),
    "to": ("t",),
    "call-id": ("i",),
    "contact": ("m",),
    "content-length": ("l",),
    "content-type": ("c",),
}


def parse(data: bytes, source: tuple[str, int] | None = None) -> Message:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            k, v = headers[-1]
            headers[-1] = (k, v + " " + line.strip())
        elif ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return Message(lines[0], headers, body, source, data)


def new_tag() -> str:
    return secrets.token_hex(6)


def branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


class Transport:
    """One local socket (UDP, or a TCP connection to `peer`) with a receive queue."""

    def __init__(
        self, proto: str, peer: tuple[str, int], local_host: str = "127.0.0.1", local_port: int = 0
    ) -> None:
        self.proto = proto.lower()
        self.peer = peer
        if self.proto == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((local_host, local_port))
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((local_host, local_port))
            self.sock.connect(peer)
        self.local = self.sock.getsockname()
        self._buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes, to: tuple[str, int] | None = None) -> None:
        if self.proto == "udp":
            self.sock.sendto(data, to or self.peer)
        else:
            self.sock.sendall(data)

    def send(self, msg: Message, to: tuple[str, int] | None = None) -> None:
        self.send_raw(msg.to_bytes(), to)

    def recv(self, timeout: float) -> Message | None:
        """The next message, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proto == "tcp":
                framed = self._frame()
                if framed is not None:
                    return parse(framed, self.peer)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                if self.proto == "udp":
                    data, addr = self.sock.recvfrom(65535)
                    return parse(data, addr)
                chunk = self.sock.recv(65535)
            except (TimeoutError, BlockingIOError):
                return None
            except ConnectionResetError:
                return None
            if not chunk:
                return None  # connection closed
            self._buffer += chunk

    def _frame(self) -> bytes | None:
        buf = self._buffer.lstrip(b"\r\n")
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", buf[:end])
        length = int(m.group(1)) if m else 0
        total = end + 4 + length
        if len(buf) < total:
            return None
        self._buffer = buf[total:]
        return buf[:total]

    def closed_by_peer(self, timeout: float) -> bool:
        """TCP only: True when the peer closes the connection within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65535)
            except TimeoutError:
                continue
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self._buffer += chunk
        return False


@contextlib.contextmanager
def transport(
    proto: str, peer: tuple[str, int], local_host: str = "127.0.0.1", local_port: int = 0
) -> Iterator[Transport]:
    t = Transport(proto, peer, local_host, local_port)
    try:
        yield t
    finally:
        t.close()


@dataclass
class Dialog:
    """The identifiers of one client transaction / dialog."""

    from_uri: str
    to_uri: str
    call_id: str = field(default_factory=lambda: secrets.token_hex(10) + "@relais.test")
    from_tag: str = field(default_factory=new_tag)
    cseq: int = 1


def request(
    t: Transport,
    method: str,
    ruri: str,
    d: Dialog,
    *,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    contact: str | None = None,
    cseq_method: str | None = None,
) -> Message:
    host, port = t.local
    headers = [
        ("Via", f"SIP/2.0/{t.proto.upper()} {host}:{port};branch={branch()};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<{d.from_uri}>;tag={d.from_tag}"),
        ("To", f"<{d.to_uri}>"),
        ("Call-ID", d.call_id),
        ("CSeq", f"{d.cseq} {cseq_method or method}"),
    ]
    if contact is not None:
        headers.append(("Contact", contact))
    headers.extend(extra or [])
    headers.append(("Content-Length", str(len(body))))
    return Message(f"{method} {ruri} SIP/2.0", headers, body)


def final_response(t: Transport, timeout: float = 5.0) -> Message | None:
    """Skip provisional responses and stray requests; the first final response."""
    deadline = time.monotonic() + timeout
    while True:
        msg = t.recv(max(0.0, deadline - time.monotonic()))
        if msg is None:
            return None
        if msg.is_response and msg.status >= 200:
            return msg


def sdp_offer(host: str, port: int) -> bytes:
    """A G.711 audio offer (PCMU, PCMA) at host:port."""
    return (
        "v=0\r\n"
        f"o=relais 1 1 IN IP4 {host}\r\n"
        "s=-\r\n"
        f"c=IN IP4 {host}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 8\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=sendrecv\r\n"
    ).encode()


def digest_params(challenge: str) -> dict[str, str]:
    _, _, rest = challenge.partition(" ")
    return {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', rest)}


def authorization(
    challenge: str, method: str, uri: str, username: str, password: str, nc: int = 1
) -> str:
    p = digest_params(challenge)
    realm, nonce = p["realm"], p["nonce"]
    ha1 = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    fields = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if "auth" in p.get("qop", "").split(","):
        cnonce = secrets.token_hex(8)
        ncs = f"{nc:08x}"
        resp = hashlib.md5(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        fields += ["qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        resp = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    fields.append(f'response="{resp}"')
    fields.append("algorithm=MD5")
    if "opaque" in p:
        fields.append(f'opaque="{p["opaque"]}"')
    return "Digest " + ", ".join(fields)


def register(
    t: Transport,
    username: str,
    password: str | None,
    domain: str,
    *,
    expires: int = 600,
    contact: str | None = None,
    d: Dialog | None = None,
    timeout: float = 5.0,
) -> tuple[Message | None, Message | None]:
    """REGISTER sip:<domain>; answer one challenge. (challenge, final response)."""
    aor = f"sip:{username}@{domain}"
    d = d or Dialog(aor, aor)
    host, port = t.local
    contact = contact or f"<sip:{username}@{host}:{port};transport={t.proto}>"
    ruri = f"sip:{domain}"
    extra = [("Expires", str(expires))]
    t.send(request(t, "REGISTER", ruri, d, extra=extra, contact=contact))
    first = final_response(t, timeout)
    if first is None or first.status != 401 or password is None:
        return None, first
    d.cseq += 1
    auth = authorization(
        first.header("WWW-Authenticate") or "", "REGISTER", ruri, username, password
    )
    t.send(
        request(t, "REGISTER", ruri, d, extra=[*extra, ("Authorization", auth)], contact=contact)
    )
    return first, final_response(t, timeout)


def reply(
    req: Message,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Message:
    """A response to `req` copying Via, From, To (+tag), Call-ID and CSeq."""
    headers = [(k, v) for k, v in req.headers if k.lower() in ("via", "v", "record-route")]
    to = req.header("To") or ""
    if to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    headers += [
        ("From", req.header("From") or ""),
        ("To", to),
        ("Call-ID", req.header("Call-ID") or ""),
        ("CSeq", req.header("CSeq") or ""),
        *(extra or []),
        ("Content-Length", str(len(body))),
    ]
    return Message(f"SIP/2.0 {status} {reason}", headers, body)


class Responder:
    """A UDP peer in a thread that answers every request with `policy(request)` and keeps
    what it received: a stand-in switch worker or phone for edge-only tests."""

    def __init__(self, host: str, port: int = 0, policy: object = None) -> None:
        import threading

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.addr: tuple[str, int] = self.sock.getsockname()
        self.received: list[Message] = []
        self.responses: list[Message] = []
        self.last_request = Message("", [])
        self.policy = policy or (lambda req: (200, "OK"))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        tag = new_tag()
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            msg = parse(data, addr)
            if msg.is_response:
                self.responses.append(msg)
                continue
            self.received.append(msg)
            if msg.method == "ACK":
                continue
            answer = self.policy(msg)  # type: ignore[operator]
            if answer is None:
                continue
            # (status, reason) or (status, reason, [(header, value), ...])
            status, reason, *more = answer
            extra = list(more[0]) if more else None
            self.sock.sendto(reply(msg, status, reason, to_tag=tag, extra=extra).to_bytes(), addr)

    def requests(self, method: str) -> list[Message]:
        return [m for m in self.received if m.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.requests(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        return self.requests(method)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def __enter__(self) -> Responder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(
        self, msg: Message, to: tuple[str, int], timeout: float = 5.0
    ) -> Message | None:
        """Send a request from this peer's socket; its final response (matched by CSeq)."""
        call_id, cseq = msg.header("Call-ID"), msg.header("CSeq")
        start = len(self.responses)
        self.sock.sendto(msg.to_bytes(), to)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.responses[start:]:
                if r.header("Call-ID") == call_id and r.header("CSeq") == cseq and r.status >= 200:
                    return r
            time.sleep(0.01)
        return None

    def register(
        self, edge: tuple[str, int], username: str, password: str, domain: str, expires: int = 600
    ) -> Message | None:
        """REGISTER this peer's address as a contact of sip:<username>@<domain>."""
        aor = f"sip:{username}@{domain}"
        d = Dialog(aor, aor)
        host, port = self.addr
        contact = f"<sip:{username}@{host}:{port}>"
        me = _SocketView(self.sock, edge)
        extra = [("Expires", str(expires))]
        first = self.transaction(
            request(me, "REGISTER", f"sip:{domain}", d, extra=extra, contact=contact), edge
        )
        if first is None or first.status != 401:
            return first
        d.cseq += 1
        auth = authorization(
            first.header("WWW-Authenticate") or "", "REGISTER", f"sip:{domain}", username, password
        )
        return self.transaction(
            request(
                me,
                "REGISTER",
                f"sip:{domain}",
                d,
                extra=[*extra, ("Authorization", auth)],
                contact=contact,
            ),
            edge,
        )

    def send_request(
        self,
        method: str,
        ruri: str,
        d: Dialog,
        to: tuple[str, int],
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        timeout: float = 5.0,
    ) -> Message | None:
        host, port = self.addr
        req = request(
            _SocketView(self.sock, to),
            method,
            ruri,
            d,
            extra=extra,
            body=body,
            contact=f"<sip:peer@{host}:{port}>",
        )
        self.last_request = req
        return self.transaction(req, to, timeout)

    def ack(self, response: Message, to: tuple[str, int]) -> None:
        """ACK a 2xx to the last request: to its Contact, along its Record-Route."""
        req = self.last_request
        contact = response.header("Contact") or ""
        target = contact[contact.find("<") + 1 : contact.find(">")] if "<" in contact else contact
        routes = [r for v in response.all("Record-Route") for r in v.split(",")][::-1]
        host, port = self.addr
        headers = [
            ("Via", f"SIP/2.0/UDP {host}:{port};branch={branch()};rport"),
            ("Max-Forwards", "70"),
            *(("Route", r.strip()) for r in routes),
            ("From", req.header("From") or ""),
            ("To", response.header("To") or ""),
            ("Call-ID", req.header("Call-ID") or ""),
            ("CSeq", f"{(req.header('CSeq') or '1').split()[0]} ACK"),
            ("Content-Length", "0"),
        ]
        self.sock.sendto(Message(f"ACK {target} SIP/2.0", headers).to_bytes(), to)


class _SocketView(Transport):
    """A Transport facade over a Responder's socket (for building requests only)."""

    def __init__(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        self.proto = "udp"
        self.peer = peer
        self.sock = sock
        self.local = sock.getsockname()
        self._buffer = b""
