"""Which identities the switch trusts as a subscriber's own device (SPEC S4, S9): only a
P-Asserted-Identity that came from the edge's own address and port."""

from __future__ import annotations

from switch.sipmsg import edge_asserted_line, parse_request

EDGE = ("127.0.0.1", 5060)


def invite(*headers: str) -> str:
    lines = ["INVITE sip:*98@127.0.0.1:5070 SIP/2.0", "From: <sip:x@relais.local>;tag=1", *headers]
    return "\r\n".join(lines) + "\r\n\r\n"


def test_the_edge_asserts_a_line() -> None:
    req = parse_request(invite("P-Asserted-Identity: <sip:6135550100@relais.local>"))
    assert edge_asserted_line(req, "127.0.0.1:5060", EDGE) == "6135550100"


def test_nobody_else_asserts_anything() -> None:
    req = parse_request(invite("P-Asserted-Identity: <sip:6135550100@relais.local>"))
    assert edge_asserted_line(req, "127.0.0.1:40000", EDGE) is None  # the trunk on that host
    assert edge_asserted_line(req, "127.0.0.2:5060", EDGE) is None
    assert edge_asserted_line(req, "127.0.0.1:5060", None) is None  # no edge (--no-edge)


def test_only_one_plain_line_number_counts() -> None:
    for headers in (
        (),
        ("P-Asserted-Identity: <sip:alice@relais.local>",),
        ("P-Asserted-Identity: <sip:6135550100@relais.local>, <tel:+16135550100>",),
        (
            "P-Asserted-Identity: <sip:6135550100@relais.local>",
            "P-Asserted-Identity: <sip:6135550101@relais.local>",
        ),
    ):
        assert edge_asserted_line(parse_request(invite(*headers)), "127.0.0.1:5060", EDGE) is None
    ipv6 = parse_request(invite("P-Asserted-Identity: <sip:6135550100@relais.local>"))
    assert edge_asserted_line(ipv6, "[::1]:5060", ("::1", 5060)) == "6135550100"
