"""notify.email: mail composition, addresses and formats (no server involved)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notify.email import (
    Attachment,
    Envelope,
    MessageInfo,
    check_address,
    format_duration,
    format_number,
    format_when,
    forward_mail,
    is_sms_gateway,
    notification_mail,
    pager_mail,
)
from tests.support.text import exact

AT = datetime(2026, 1, 15, 20, 5, tzinfo=UTC)
ENV_FR = Envelope(
    sender="relais <vm@relais.test>",
    message_id="<x@relais.test>",
    timezone="America/Toronto",
    language="fr",
)
ENV_EN = Envelope(
    sender="relais <vm@relais.test>",
    message_id="<y@relais.test>",
    timezone="America/Toronto",
    language="en",
)


def info(**kw: object) -> MessageInfo:
    base: dict[str, object] = dict(
        line="6135550100",
        kind="voice",
        urgent=False,
        private=False,
        caller_number="6135550142",
        caller_name="Élise Côté",
        received_at=AT,
        duration_seconds=42.4,
    )
    base.update(kw)
    return MessageInfo(**base)  # type: ignore[arg-type]


def test_formats() -> None:
    assert format_number("6135550142") == "613-555-0142"
    assert format_number("1234") == "1234" and format_number(None) == ""
    assert format_duration(42.4) == "42 s" and format_duration(65) == "1 min 05 s"
    assert format_when(AT, "America/Toronto", "fr") == "jeudi 15 janvier 2026 à 15 h 05 (EST)"
    assert format_when(AT, "America/Toronto", "en") == (
        "Thursday, January 15, 2026 at 3:05 p.m. (EST)"
    )


def test_addresses_and_sms_gateways() -> None:
    assert check_address(" jeanne@example.com ") == "jeanne@example.com"
    for bad in ("", "jeanne", "a@b", "Jeanne <j@example.com>", "a b@example.com"):
        with pytest.raises(ValueError, match=exact(f"{bad!r} is not an e-mail address")):
            check_address(bad)
    assert is_sms_gateway("2224448888@vtext.com")
    assert is_sms_gateway("+12224448888@msg.telus.com")
    assert not is_sms_gateway("jeanne@example.com")
    assert not is_sms_gateway("12345@example.com")


def test_caller_names_are_escaped_in_html() -> None:
    mail = notification_mail(info(caller_name="<script>x</script>"), "j@example.com", ENV_EN)
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_anonymous_private_and_headers() -> None:
    mail = notification_mail(
        info(caller_name=None, caller_number=None, private=True), "j@example.com", ENV_EN
    )
    assert mail["Subject"] == "New voice message from Anonymous caller"
    assert mail["Sensitivity"] == "Private" and "Importance" not in mail
    assert mail["Message-ID"] == "<y@relais.test>"
    assert "Private: yes" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_pager_mail_is_one_short_line() -> None:
    mail = pager_mail(info(kind="fax"), "pager@example.com", "", ENV_FR)
    assert mail["Subject"] == "Nouvelle télécopie - 613-555-0100"
    assert mail.get_content().strip() == (
        "Nouvelle télécopie pour 613-555-0100 de Élise Côté (613-555-0142)."
    )


def test_forward_mail_attaches_the_file_and_keeps_bcc_for_the_envelope_only() -> None:
    att = Attachment("message.wav", "audio/wav", b"RIFF....WAVE")
    mail = forward_mail(
        info(urgent=True),
        ["a@example.com"],
        att,
        ENV_FR,
        bcc=["hidden@example.com"],
        body="Bonjour",
    )
    assert mail["Subject"] == "URGENT : Message vocal de Élise Côté (613-555-0142)"
    assert "Auto-Submitted" not in mail  # a person wrote the body
    (part,) = list(mail.iter_attachments())
    assert part.get_filename() == "message.wav" and part.get_payload(decode=True) == att.data
    assert mail["Bcc"] == "hidden@example.com"  # aiosmtplib removes it before sending
