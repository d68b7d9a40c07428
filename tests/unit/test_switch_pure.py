"""The switch's pure parts: request parsing, trunk URIs (the deposit dialog is ivr's, tested in
test_ivr_deposit.py)."""

from __future__ import annotations

import pytest

from switch.legs import trunk_uri_for
from switch.sipmsg import parse_name_addr, parse_request, privacy_values, quote_display, uri_user

pytestmark = pytest.mark.unit

INVITE = (
    "INVITE sip:6135550100@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\n"
    'f: "Jean \\"JT\\" Tremblay" <sip:+16135551234@gw.example.net>;tag=1\r\n'
    "To: <sip:6135550100@127.0.0.1>\r\n"
    "i: abc@host\r\n"
    "Privacy: id;header\r\n"
    "Diversion: <sip:6135550101@x>;reason=no-answer\r\n"
    "Diversion: <sip:6135550102@x>;reason=user-busy\r\n"
    "Subject: folded\r\n  continuation\r\n"
    "Content-Length: 0\r\n\r\n"
)


def test_parse_request_reads_compact_forms_repeats_and_folding() -> None:
    req = parse_request(INVITE)
    assert (req.method, req.uri) == ("INVITE", "sip:6135550100@127.0.0.1:5060")
    assert req.first("call-id") == "abc@host"
    assert len(req.values("diversion")) == 2
    assert req.first("subject") == "folded continuation"
    assert privacy_values(req) == frozenset({"id", "header"})
    addr = parse_name_addr(req.first("from") or "")
    assert addr.display == 'Jean "JT" Tremblay'
    assert addr.user == "+16135551234"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("garbage\r\n\r\n", "not a SIP request line: 'garbage'"),
        (
            "INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n",
            "malformed header line: 'no colon here'",
        ),
    ],
)
def test_parse_request_refuses_what_it_cannot_read(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_request(text)
    assert str(exc.value) == message


def test_uri_user_and_display_quoting() -> None:
    assert uri_user("sip:6135550100;npdi@host;user=phone") == "6135550100"
    assert uri_user("tel:+16135550100") == "+16135550100"
    assert uri_user("sip:host.example.net") is None
    assert quote_display('A "B" \\ C\r\n') == '"A \\"B\\" \\\\ C"'


def test_trunk_uri_for() -> None:
    assert (
        trunk_uri_for("sip:gw.example.net:5060", "6135550100")
        == "sip:6135550100@gw.example.net:5060"
    )
    assert trunk_uri_for("sips:user@gw", "1234") == "sips:1234@gw"
    assert trunk_uri_for("", "6135550100") is None
