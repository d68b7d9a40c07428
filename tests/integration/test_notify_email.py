"""E-mail notifications, SMS, forwarding and the mail queue against real servers: aiosmtpd as
the SMTP server, mosquitto as the broker, SQLite and PostgreSQL as the store."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from events.events import MailboxCounts, MessageChanged
from events.mqtt import parse_mqtt_url
from notify.email import (
    MailError,
    SmtpMailer,
    SpoolMailer,
    parse_smtp_url,
)
from notify.notifier import ForwardRefused, forward_by_email, queue_forward_by_email
from store.files import FileStore
from store.models import Message, OutboxEvent
from store.session import Store
from tests.support.deposit import (
    NUMBER,
    SECOND,
    add_email_target,
    deposit,
    make_subscriber,
    set_mailbox,
    set_notifications,
)
from tests.support.mqtt import Mosquitto
from tests.support.notifying import jobs, notifier, relay, until
from tests.support.smtp import SmtpServer, self_signed
from tests.support.text import exact

ALL = ["all_faxes", "urgent_voice", "all_voice"]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "var")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def attachments(mail: EmailMessage) -> list[tuple[str, str, bytes]]:
    return [
        (str(a.get_filename()), a.get_content_type(), a.get_payload(decode=True))  # type: ignore[misc]
        for a in mail.iter_attachments()
    ]


def folder(store: Store, message_id: int) -> str:
    with store.read() as s:
        m = s.get(Message, message_id)
        assert m is not None
        return m.folder


async def test_a_deposit_mails_each_matching_address_once_through_the_bus(
    store: Store, files: FileStore, smtp: SmtpServer, mosquitto: Mosquitto
) -> None:
    make_subscriber(store, language="fr")
    set_notifications(store, email_enabled=True)
    add_email_target(store, "jeanne@example.com", ["all_voice", "all_faxes"])
    add_email_target(store, "urgent@example.com", ["urgent_voice"])
    add_email_target(store, "fax@example.com", ["all_faxes"])
    add_email_target(store, "6135550142@sms.example.com", ["urgent_voice"])
    received = datetime(2026, 6, 3, 14, 5, tzinfo=UTC)  # 10 h 05 in Toronto (EDT)
    bus = parse_mqtt_url(mosquitto.url)
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with relay(store, bus), notifier(store, files, mailer, bus=bus) as n:
        await until(n.consumer.subscribed.is_set, what="the notifier on the bus")
        d = deposit(store, files, urgent=True, duration=75, received_at=received)
        await until(lambda: len(smtp.received) == 3, what="three mails")
        await until(lambda: all(j.state == "done" for j in jobs(store)), what="jobs done")
        assert n.consumer.handled_from_bus == 1  # the deposit came through mosquitto
    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == [
        "6135550142@sms.example.com",
        "jeanne@example.com",
        "urgent@example.com",
    ]
    mail = smtp.to("jeanne@example.com")[0]
    assert mail["Subject"] == "URGENT : Nouveau message vocal de Élise Côté (613-555-0142)"
    assert mail["From"] == "relais <voicemail@relais.test>"
    assert mail["Importance"] == "high" and mail["Auto-Submitted"] == "auto-generated"
    body = text_of(mail)
    assert "Reçu le : mercredi 3 juin 2026 à 10 h 05 (EDT)" in body
    assert "Durée : 1 min 15 s" in body
    assert "Boîte vocale : 613-555-0100" in body
    assert "<td>Élise Côté (613-555-0142)</td>" in html_of(mail)
    sms = smtp.to("6135550142@sms.example.com")[0]
    assert not sms.is_multipart()  # SMS gateways get one short text part
    assert sms.get_content().strip() == (
        "URGENT : Nouveau message vocal de Élise Côté (613-555-0142). "
        "mercredi 3 juin 2026 à 10 h 05 (EDT), 1 min 15 s."
    )
    # One job per address, created once for the event.
    assert sorted((j.kind, j.target) for j in jobs(store, event_id=d.event_id)) == [
        ("email", "6135550142@sms.example.com"),
        ("email", "jeanne@example.com"),
        ("email", "urgent@example.com"),
    ]


async def test_types_and_the_email_checkbox_filter_notifications_in_english(
    sqlite_store: Store, files: FileStore, smtp: SmtpServer
) -> None:
    store = sqlite_store
    make_subscriber(store, language="en", timezone="America/Vancouver")
    add_email_target(store, "voice@example.com", ["all_voice"])
    add_email_target(store, "fax@example.com", ["all_faxes"])
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with notifier(store, files, mailer) as n:
        deposit(store, files)  # e-mail notifications are off: nothing
        await until(lambda: n.consumer.handled == 1)
        set_notifications(store, email_enabled=True)
        deposit(
            store,
            files,
            kind="fax",
            caller_name=None,
            caller_number=None,
            received_at=datetime(2026, 1, 15, 20, 0, tzinfo=UTC),
        )
        await until(lambda: len(smtp.received) == 1)
    mail = smtp.received[0]
    assert mail.rcpt_tos == ["fax@example.com"]
    assert mail.message["Subject"] == "New fax from Anonymous caller"
    body = text_of(mail.message)
    assert "Received: Thursday, January 15, 2026 at 12:00 p.m. (PST)" in body
    assert "Pages: 2" in body


async def test_settings_of_the_primary_line_apply_to_a_secondary_line(
    store: Store, files: FileStore, smtp: SmtpServer
) -> None:
    make_subscriber(store, second_line=SECOND)
    set_notifications(store, email_enabled=True)
    add_email_target(store, "primary@example.com", ALL)
    set_notifications(store, SECOND, email_enabled=True)
    add_email_target(store, "ignored@example.com", ALL, number=SECOND)
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with notifier(store, files, mailer):
        deposit(store, files, line=SECOND)
        await until(lambda: len(smtp.received) == 1)
    assert smtp.received[0].rcpt_tos == ["primary@example.com"]
    assert "Boîte vocale : 613-555-0101" in text_of(smtp.received[0].message)


async def test_forwarding_attaches_the_wav_or_the_pdf_and_keeps_the_original(
    store: Store, files: FileStore, smtp: SmtpServer
) -> None:
    make_subscriber(store, language="en")
    set_mailbox(
        store,
        forward_to_email=True,
        keep_original=True,
        forward_emails=["me@example.com", "boss@example.com"],
    )
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with notifier(store, files, mailer):
        voice = deposit(store, files, received_at=datetime(2026, 6, 3, 14, 5, tzinfo=UTC))
        fax = deposit(store, files, kind="fax", received_at=datetime(2026, 6, 3, 14, 6, tzinfo=UTC))
        await until(lambda: len(smtp.received) == 4)
        await until(lambda: all(j.state == "done" for j in jobs(store)))
    for address in ("me@example.com", "boss@example.com"):
        mails = sorted(smtp.to(address), key=lambda m: str(m["Subject"]))
        assert [m["Subject"] for m in mails] == [
            "Fax from Élise Côté (613-555-0142)",
            "Voice message from Élise Côté (613-555-0142)",
        ]
        assert attachments(mails[1]) == [
            ("message-20260603-1005-6135550142.wav", "audio/wav", voice.data)
        ]
        assert attachments(mails[0]) == [
            ("fax-20260603-1006-6135550142.pdf", "application/pdf", fax.data)
        ]
    assert folder(store, voice.message_id) == "inbox"
    assert folder(store, fax.message_id) == "inbox"


async def test_keep_original_off_moves_the_message_only_after_the_server_accepted_it(
    store: Store, files: FileStore, smtp: SmtpServer
) -> None:
    make_subscriber(store)
    set_mailbox(
        store, forward_to_email=True, keep_original=False, forward_emails=["me@example.com"]
    )
    smtp.hold.set()  # the server sits on DATA until the test lets it answer
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with notifier(store, files, mailer):
        d = deposit(store, files)
        await until(smtp.in_data.is_set, what="the mail on the wire")
        assert folder(store, d.message_id) == "inbox"
        with store.read() as s:
            assert not s.scalars(
                select(OutboxEvent).where(OutboxEvent.topic.like("%/message/changed"))
            ).all()
        smtp.hold.clear()
        await until(lambda: folder(store, d.message_id) == "deleted", what="moved to Deleted")
    assert len(smtp.received) == 1
    with store.read() as s:
        rows = s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        payloads = [r.payload for r in rows]
        message = s.get(Message, d.message_id)
        assert message is not None and message.deleted_at is not None
    changed = [p for p in payloads if p["type"] == MessageChanged.type]
    assert [(p["message_id"], p["change"], p["folder"]) for p in changed] == [
        (d.message_id, "deleted", "deleted")
    ]
    counts = [p for p in payloads if p["type"] == MailboxCounts.type]
    assert counts[-1]["voice_new"] == 0  # the inbox is empty again (counts event after move)
    assert counts[0]["voice_new"] == 1  # the deposit's own counts


async def test_keep_original_off_and_a_refused_mail_keeps_the_message(
    store: Store, files: FileStore, smtp: SmtpServer
) -> None:
    make_subscriber(store)
    set_mailbox(
        store,
        forward_to_email=True,
        keep_original=False,
        forward_emails=["me@example.com", "nobody@example.com"],
    )
    smtp.refuse["nobody@example.com"] = 550
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with notifier(store, files, mailer):
        d = deposit(store, files)
        await until(lambda: {j.state for j in jobs(store)} == {"done", "failed"})
    assert [r.rcpt_tos for r in smtp.received] == [["me@example.com"]]
    assert folder(store, d.message_id) == "inbox"  # one copy was not accepted
    failed = jobs(store, state="failed")[0]
    assert failed.target == "nobody@example.com" and failed.attempts == 1  # 5xx: no retry
    assert failed.last_error == "recipient(s) refused: nobody@example.com 550"


async def test_smtp_down_then_up_delivers_everything_once(
    store: Store, files: FileStore, tmp_path: Path
) -> None:
    make_subscriber(store)
    set_notifications(store, email_enabled=True)
    add_email_target(store, "jeanne@example.com", ALL)
    set_mailbox(store, forward_to_email=True, forward_emails=["archive@example.com"])
    server = SmtpServer()  # not started: the port refuses connections
    mailer = SmtpMailer(parse_smtp_url(server.url), timeout=2)
    async with notifier(store, files, mailer, retry_base_seconds=1, retry_max_seconds=1):
        for _ in range(5):
            deposit(store, files)
        await until(
            lambda: len(jobs(store)) == 10 and all(j.attempts >= 2 for j in jobs(store)),
            what="failed attempts",
        )
        assert {j.state for j in jobs(store)} <= {"pending", "sending"}
        assert "cannot reach the SMTP server 127.0.0.1" in jobs(store)[0].last_error
        with server:
            await until(lambda: all(j.state == "done" for j in jobs(store)), timeout=20)
            received = list(server.received)
    ids = [r.message["Message-ID"] for r in received]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert (
        sorted(r.rcpt_tos[0] for r in received)
        == ["archive@example.com"] * 5 + ["jeanne@example.com"] * 5
    )


async def test_without_smtp_mails_go_to_the_spool_atomically_and_once(
    sqlite_store: Store, files: FileStore, tmp_path: Path
) -> None:
    store = sqlite_store
    make_subscriber(store)
    set_notifications(store, email_enabled=True)
    add_email_target(store, "jeanne@example.com", ALL)
    mailer = SpoolMailer(tmp_path / "var")
    async with notifier(store, files, mailer):
        deposit(store, files)
        await until(lambda: jobs(store) and jobs(store)[0].state == "done")
    spool = tmp_path / "var" / "spool"
    emls = sorted(spool.iterdir())
    assert len(emls) == 1 and emls[0].suffix == ".eml"
    spooled = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert spooled["Subject"] == "Nouveau message vocal de Élise Côté (613-555-0142)"
    assert spooled["To"] == "jeanne@example.com"
    assert not [p for p in spool.iterdir() if p.name.startswith(".tmp-")]
    # A second send of the same mail (a retry after a crash) rewrites the same file.
    await mailer.send(spooled)  # type: ignore[arg-type]
    assert sorted(spool.iterdir()) == emls


async def test_starttls_and_login_from_the_url_and_the_password_is_never_logged(
    sqlite_store: Store, files: FileStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = sqlite_store
    caplog.set_level(logging.DEBUG)
    make_subscriber(store)
    set_notifications(store, email_enabled=True)
    add_email_target(store, "jeanne@example.com", ALL)
    cert = self_signed(tmp_path)
    with SmtpServer(tls_files=cert, login=("relais", "S3cret-pw")) as server:
        url = f"smtp://relais:S3cret-pw@127.0.0.1:{server.port}?starttls=true&verify=false"
        config = parse_smtp_url(url)
        assert "S3cret" not in repr(config) and "S3cret" not in str(config)
        async with notifier(store, files, SmtpMailer(config)):
            deposit(store, files)
            await until(lambda: len(server.received) == 1)
        assert server.auth_attempts == ["relais"]
        # A wrong password: refused, retried (535 is permanent: failed), and not logged.
        bad = parse_smtp_url(url.replace("S3cret-pw", "wrong-pw"))
        with pytest.raises(MailError) as refused:
            await SmtpMailer(bad).send(server.received[0].message)
        assert not refused.value.temporary
    assert "S3cret-pw" not in caplog.text and "wrong-pw" not in caplog.text
    assert "wrong-pw" not in str(refused.value)


def test_smtp_urls_are_checked_without_echoing_them() -> None:
    c = parse_smtp_url("smtps://u%40x:p%3Aw@mail.example")
    assert (c.host, c.port, c.username, c.password, c.tls) == (
        "mail.example",
        465,
        "u@x",
        "p:w",
        True,
    )
    assert parse_smtp_url("smtp://mail.example").port == 25
    for url, message in [
        ("http://x", "the SMTP URL must start with smtp:// or smtps://"),
        ("smtp://u:pw@", "the SMTP URL has no host"),
        ("smtp://u:pw@h:99999", "the SMTP URL is malformed"),
        ("smtp://u:pw@h?tls=1", "unknown SMTP URL option(s): tls"),
        ("smtp://u:pw@h?starttls=maybe", "the SMTP URL option starttls must be true or false"),
        ("smtps://u:pw@h?starttls=true", "smtps:// already uses TLS: starttls does not apply"),
        ("smtp://:pw@h", "the SMTP URL has a password without a user"),
    ]:
        with pytest.raises(ValueError, match=exact(message)):
            parse_smtp_url(url)


async def test_a_spooled_mail_keeps_no_bcc_header(
    store: Store, files: FileStore, tmp_path: Path
) -> None:
    make_subscriber(store, language="en")
    d = deposit(store, files)
    mailer = SpoolMailer(tmp_path / "var")
    await forward_by_email(
        store,
        files,
        mailer,
        line=NUMBER,
        message_id=d.message_id,
        to=["a@example.com"],
        cc=["b@example.com"],
        bcc=["c@example.com", "d@example.com"],
        body="",
        sender="relais <voicemail@relais.test>",
    )
    spool = tmp_path / "var" / "spool"
    (eml,) = spool.glob("*.eml")
    raw = eml.read_bytes()
    assert b"Bcc" not in raw and b"c@example.com" not in raw and b"d@example.com" not in raw
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["To"] == "a@example.com" and mail["Cc"] == "b@example.com"
    # The blind copies are kept apart, for whoever relays the spool.
    assert eml.with_suffix(".bcc").read_text() == "c@example.com\nd@example.com\n"


async def test_portal_forward_as_email_to_cc_bcc_body(
    store: Store, files: FileStore, smtp: SmtpServer
) -> None:
    make_subscriber(store, language="en")
    d = deposit(store, files)
    secret = deposit(store, files, private=True)
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    message_id = await forward_by_email(
        store,
        files,
        mailer,
        line=NUMBER,
        message_id=d.message_id,
        to=["a@example.com"],
        cc=["b@example.com"],
        bcc=["c@example.com"],
        body="Please listen to this one.",
        sender="relais <voicemail@relais.test>",
    )
    (got,) = smtp.received
    assert sorted(got.rcpt_tos) == ["a@example.com", "b@example.com", "c@example.com"]
    mail = got.message
    assert mail["Message-ID"] == message_id
    assert mail["To"] == "a@example.com" and mail["Cc"] == "b@example.com"
    assert "Bcc" not in mail and b"c@example.com" not in got.raw
    assert text_of(mail).startswith("Please listen to this one.\n\nVoice message from")
    assert "Message forwarded by Jeanne Tremblay (613-555-0100)." in text_of(mail)
    assert attachments(mail)[0][2] == d.data
    with pytest.raises(ForwardRefused) as refused:
        await forward_by_email(
            store,
            files,
            mailer,
            line=NUMBER,
            message_id=secret.message_id,
            to=["a@example.com"],
            sender="x@relais.test",
        )
    assert refused.value.code == "private-message-not-forwardable"
    with pytest.raises(ValueError, match=exact("'not an address' is not an e-mail address")):
        await forward_by_email(
            store,
            files,
            mailer,
            line=NUMBER,
            message_id=d.message_id,
            to=["not an address"],
            sender="x@relais.test",
        )
    with pytest.raises(
        LookupError, match=exact(f"message {d.message_id} does not exist on line 6135550199")
    ):
        await forward_by_email(
            store,
            files,
            mailer,
            line="6135550199",
            message_id=d.message_id,
            to=["a@example.com"],
            sender="x@relais.test",
        )
    assert len(smtp.received) == 1
    # The queued variant is sent (and retried) by the notifier; a repeated request is a no-op.
    with store.transaction() as s:
        job = queue_forward_by_email(
            s,
            line=NUMBER,
            message_id=d.message_id,
            to=["q@example.com"],
            body="queued",
            request_id="req-1",
        )
        again = queue_forward_by_email(
            s,
            line=NUMBER,
            message_id=d.message_id,
            to=["q@example.com"],
            body="queued",
            request_id="req-1",
        )
        assert again.id == job.id
    async with notifier(store, files, mailer):
        await until(lambda: len(smtp.to("q@example.com")) == 1)
        await until(lambda: jobs(store, kind="mail")[0].state == "done")
    assert text_of(smtp.to("q@example.com")[0]).startswith("queued\n\n")


async def test_with_the_broker_down_the_notifier_still_mails_once_from_the_outbox(
    sqlite_store: Store, files: FileStore, smtp: SmtpServer, tmp_path: Path
) -> None:
    store = sqlite_store
    make_subscriber(store)
    set_notifications(store, email_enabled=True)
    add_email_target(store, "jeanne@example.com", ALL)
    broker = Mosquitto(tmp_path / "m")  # configured, not running
    bus = parse_mqtt_url(broker.url)
    mailer = SmtpMailer(parse_smtp_url(smtp.url))
    async with relay(store, bus), notifier(store, files, mailer, bus=bus, sweep_seconds=0.2) as n:
        deposit(store, files)
        await until(lambda: len(smtp.received) == 1, what="the mail, broker down")
        assert n.consumer.handled_from_bus == 0
        with broker:  # the broker comes back: the relay publishes, nothing is mailed again
            await until(n.consumer.subscribed.is_set, what="subscribed")
            await until(lambda: not jobs(store, state="pending"))
            await asyncio.sleep(0.5)
    assert len(smtp.received) == 1


class CrashingOnce:
    """A real SMTP mailer whose first send dies with an unexpected error (a bug, not a
    MailError): the job is left "sending" with nobody working on it."""

    def __init__(self, inner: SmtpMailer) -> None:
        self.inner = inner
        self.crashed = False

    async def send(self, message: EmailMessage) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("unexpected")
        await self.inner.send(message)


async def test_a_job_stuck_in_sending_is_given_back_to_the_queue(
    sqlite_store: Store, files: FileStore, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import notify.notifier

    monkeypatch.setattr(notify.notifier, "ORPHAN_CHECK_SECONDS", 0.2)
    store = sqlite_store
    make_subscriber(store)
    set_notifications(store, email_enabled=True)
    add_email_target(store, "jeanne@example.com", ALL)
    mailer = CrashingOnce(SmtpMailer(parse_smtp_url(smtp.url)))
    async with notifier(store, files, mailer):
        deposit(store, files)
        await until(lambda: mailer.crashed)
        await until(lambda: len(smtp.received) == 1, what="the mail after the release")
        await until(lambda: jobs(store)[0].state == "done")
    assert jobs(store)[0].attempts == 2
