"""E-mail: SMTP and spool mailers, and the bilingual notification / forward / pager mails.

Rules of this file:
- `RELAIS_SMTP_URL` = smtp://user:password@host:port?starttls=true (smtps:// = implicit TLS).
  The password never reaches a log line, an error message or a repr.
- Without an SMTP URL every mail is written as an .eml file under <storage_root>/spool/,
  atomically, named after its Message-ID: sending the same mail twice writes one file.
- A send either returns (the server accepted the mail for every recipient) or raises
  MailError saying whether trying again can help (temporary) or not (permanent: 5xx).
- Every Message-ID is chosen by the caller (one per job), so a retried mail is the same mail.
- Text from callers (names) is escaped in HTML. Times are in the account's time zone, words in
  the account's language (fr | en).
"""

from __future__ import annotations

import copy
import hashlib
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime as rfc2822_date
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import aiosmtplib
from babel.dates import format_datetime

from store.files import FileStore

logger = logging.getLogger(__name__)

SPOOL = "spool"
MAX_RECIPIENTS = 50


class MailError(Exception):
    """A mail was not accepted. `temporary`: trying again later may work."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand `message` over (to its To/Cc/Bcc recipients); raises MailError."""


# ------------------------------------------------------------------------------------------------
# SMTP


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    tls: bool = False
    verify: bool = True

    def __str__(self) -> str:
        scheme = "smtps" if self.tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        tls = "?starttls=true" if self.starttls else ""
        return f"{scheme}://{user}{self.host}:{self.port}{tls}"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_smtp_url(url: str) -> SmtpConfig:
    """smtp://[user:password@]host[:port][?starttls=true][&verify=false]; smtps:// is TLS.

    Errors never repeat the URL (it may carry a password)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("the SMTP URL is malformed") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("the SMTP URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("the SMTP URL has no host")
    options = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    unknown = set(options) - {"starttls", "verify"}
    if unknown:
        raise ValueError(f"unknown SMTP URL option(s): {', '.join(sorted(unknown))}")

    def flag(name: str, default: bool) -> bool:
        value = options.get(name)
        if value is None:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ValueError(f"the SMTP URL option {name} must be true or false")

    tls = parts.scheme == "smtps"
    starttls = flag("starttls", False)
    if tls and starttls:
        raise ValueError("smtps:// already uses TLS: starttls does not apply")
    if parts.password and not parts.username:
        raise ValueError("the SMTP URL has a password without a user")
    return SmtpConfig(
        host=parts.hostname,
        port=port or (465 if tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=starttls,
        tls=tls,
        verify=flag("verify", True),
    )


class SmtpMailer:
    def __init__(self, config: SmtpConfig, *, timeout: float = 30.0) -> None:
        self.config = config
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"SmtpMailer({self.config})"

    async def send(self, message: EmailMessage) -> None:
        c = self.config
        try:
            refused, _ = await aiosmtplib.send(
                message,  # recipients from To/Cc/Bcc; aiosmtplib drops the Bcc header
                hostname=c.host,
                port=c.port,
                username=c.username,
                password=c.password,
                use_tls=c.tls,
                start_tls=c.starttls if not c.tls else None,
                validate_certs=c.verify,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise MailError(
                f"recipient(s) refused: {_codes(exc.recipients)}",
                temporary=any(400 <= code < 500 for code in codes),
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise MailError(
                f"the SMTP server answered {exc.code} {exc.message}", temporary=exc.code < 500
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailError(
                f"cannot reach the SMTP server {c.host}:{c.port} ({type(exc).__name__}: {exc})",
                temporary=True,
            ) from None
        if refused:
            # Some recipients were accepted: the mail is out; a retry would duplicate it.
            logger.warning(
                "mail %s: recipient(s) refused: %s",
                message["Message-ID"],
                ", ".join(f"{a} {r.code}" for a, r in refused.items()),
            )


def _codes(errors: Sequence[aiosmtplib.SMTPRecipientRefused]) -> str:
    return ", ".join(f"{e.recipient} {e.code}" for e in errors)


class SpoolMailer:
    """Writes each mail as <root>/spool/<hash of Message-ID>.eml (atomic, idempotent), without
    its Bcc header (as SMTP sends it: blind copies stay blind to whoever reads the file); the
    blind-copy recipients go to <same name>.bcc beside it, one address a line."""

    def __init__(self, root: Path) -> None:
        self.files = FileStore(root)

    @staticmethod
    def relpath(message: EmailMessage) -> str:
        key = str(message.get("Message-ID", "")) or message.as_string()
        return f"{SPOOL}/{hashlib.sha256(key.encode()).hexdigest()[:24]}.eml"

    async def send(self, message: EmailMessage) -> None:
        relpath = self.relpath(message)
        blind = [str(a) for a in message.get_all("Bcc", [])]
        if blind:
            message = copy.deepcopy(message)
            del message["Bcc"]
        try:
            if blind:
                addresses = [a.strip() for value in blind for a in value.split(",") if a.strip()]
                bcc = relpath.removesuffix(".eml") + ".bcc"
                self.files.write_atomic(bcc, "".join(f"{a}\n" for a in addresses).encode())
            self.files.write_atomic(relpath, message.as_bytes())
        except OSError as exc:
            raise MailError(f"cannot write the mail spool ({exc})", temporary=True) from None


def make_mailer(smtp_url: str, storage_root: Path, *, timeout: float = 30.0) -> Mailer:
    if smtp_url:
        return SmtpMailer(parse_smtp_url(smtp_url), timeout=timeout)
    return SpoolMailer(storage_root)


# ------------------------------------------------------------------------------------------------
# Addresses

_ADDRESS = re.compile(
    r"[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
_SMS_LOCAL = re.compile(r"\+?1?\d{10,14}")


def check_address(address: str) -> str:
    """A plain e-mail address (no display name), trimmed; ValueError otherwise."""
    value = address.strip()
    if not value or len(value) > 254 or not _ADDRESS.fullmatch(value):
        raise ValueError(f"{address!r} is not an e-mail address")
    return value


def is_sms_gateway(address: str) -> bool:
    """An e-mail-to-SMS address: the local part is a phone number (2224448888@vtext.com)."""
    local = address.rsplit("@", 1)[0]
    return bool(_SMS_LOCAL.fullmatch(local))


def domain_of(sender: str) -> str:
    _, addr = parseaddr(sender)
    return addr.rsplit("@", 1)[1] if "@" in addr else "relais.local"


# ------------------------------------------------------------------------------------------------
# Words and formats

TEXT = {
    "fr": {
        "voice": "message vocal",
        "fax": "télécopie",
        "new_voice": "Nouveau message vocal",
        "new_fax": "Nouvelle télécopie",
        "urgent": "URGENT",
        "urgent_label": "Urgent",
        "private": "Privé",
        "from": "de",
        "caller": "Appelant",
        "received": "Reçu le",
        "duration": "Durée",
        "pages": "Pages",
        "mailbox": "Boîte vocale",
        "anonymous": "Appelant anonyme",
        "yes": "oui",
        "fw_voice": "Message vocal",
        "fw_fax": "Télécopie",
        "attached": "Le message est joint à ce courriel.",
        "callback": "Rappel",
        "for": "pour",
        "listen": "Composez le {pilot} pour écouter vos messages.",
        "forwarded_by": "Message transmis par {name} ({line}).",
        "sep": " : ",
    },
    "en": {
        "voice": "voice message",
        "fax": "fax",
        "new_voice": "New voice message",
        "new_fax": "New fax",
        "urgent": "URGENT",
        "urgent_label": "Urgent",
        "private": "Private",
        "from": "from",
        "caller": "Caller",
        "received": "Received",
        "duration": "Length",
        "pages": "Pages",
        "mailbox": "Mailbox",
        "anonymous": "Anonymous caller",
        "yes": "yes",
        "fw_voice": "Voice message",
        "fw_fax": "Fax",
        "attached": "The message is attached to this e-mail.",
        "callback": "Call back",
        "for": "for",
        "listen": "Dial {pilot} to listen to your messages.",
        "forwarded_by": "Message forwarded by {name} ({line}).",
        "sep": ": ",
    },
}

_DATE_PATTERN = {"fr": "EEEE d MMMM y 'à' HH 'h' mm", "en": "EEEE, MMMM d, y 'at' h:mm a"}
_LOCALE = {"fr": "fr_CA", "en": "en_CA"}


def _lang(language: str) -> str:
    return language if language in TEXT else "en"


def format_number(number: str | None) -> str:
    if number and re.fullmatch(r"\d{10}", number):
        return f"{number[:3]}-{number[3:6]}-{number[6:]}"
    return number or ""


def format_when(at: datetime, timezone: str, language: str) -> str:
    lang = _lang(language)
    zone = ZoneInfo(timezone)
    text = format_datetime(at, _DATE_PATTERN[lang], tzinfo=zone, locale=_LOCALE[lang])
    return f"{text} ({at.astimezone(zone).tzname()})"


def format_duration(seconds: float) -> str:
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


@dataclass(frozen=True)
class MessageInfo:
    """What a mail says about a message (from the event or the message row)."""

    line: str
    kind: str  # voice | fax
    urgent: bool
    private: bool
    caller_number: str | None
    caller_name: str | None
    received_at: datetime
    duration_seconds: float
    pages: int = 0

    def caller(self, language: str) -> str:
        number = format_number(self.caller_number)
        if self.caller_name and number:
            return f"{self.caller_name} ({number})"
        return self.caller_name or number or TEXT[_lang(language)]["anonymous"]


@dataclass(frozen=True)
class Envelope:
    sender: str
    message_id: str
    timezone: str
    language: str
    pilot: str = "*98"


def _subject(info: MessageInfo, lang: str) -> str:
    t = TEXT[lang]
    what = t["new_fax"] if info.kind == "fax" else t["new_voice"]
    prefix = (
        f"{t['urgent']}{t['sep'].lstrip() if lang == 'en' else t['sep']}" if info.urgent else ""
    )
    return f"{prefix}{what} {t['from']} {info.caller(lang)}"


def _facts(info: MessageInfo, env: Envelope) -> list[tuple[str, str]]:
    t = TEXT[_lang(env.language)]
    rows = [
        (t["caller"], info.caller(env.language)),
        (t["received"], format_when(info.received_at, env.timezone, env.language)),
    ]
    if info.kind == "fax":
        rows.append((t["pages"], str(info.pages)))
    else:
        rows.append((t["duration"], format_duration(info.duration_seconds)))
    if info.urgent:
        rows.append((t["urgent_label"], t["yes"]))
    if info.private:
        rows.append((t["private"], t["yes"]))
    rows.append((t["mailbox"], format_number(info.line)))
    return rows


def _base(env: Envelope, to: Sequence[str], subject: str, *, auto: bool) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = env.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = rfc2822_date(datetime.now().astimezone())
    msg["Message-ID"] = env.message_id
    if auto:
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    return msg


def _mark(msg: EmailMessage, info: MessageInfo) -> None:
    if info.urgent:
        msg["Importance"] = "high"
        msg["X-Priority"] = "1"
    if info.private:
        msg["Sensitivity"] = "Private"


def _html(title: str, rows: list[tuple[str, str]], footer: list[str]) -> str:
    cells = "".join(
        f'<tr><th align="left">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>' for k, v in rows
    )
    notes = "".join(f"<p>{html.escape(line)}</p>" for line in footer)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        f"<h2>{html.escape(title)}</h2><table>{cells}</table>{notes}</body></html>"
    )


def _text(title: str, rows: list[tuple[str, str]], footer: list[str], sep: str) -> str:
    lines = [title, "", *(f"{k}{sep}{v}" for k, v in rows)]
    if footer:
        lines += ["", *footer]
    return "\n".join(lines) + "\n"


def notification_mail(info: MessageInfo, to: str, env: Envelope) -> EmailMessage:
    """The "new message" notification: text + HTML, or a short text for SMS gateways."""
    lang = _lang(env.language)
    t = TEXT[lang]
    subject = _subject(info, lang)
    msg = _base(env, [to], subject, auto=True)
    _mark(msg, info)
    if is_sms_gateway(to):
        when = format_when(info.received_at, env.timezone, env.language)
        extra = "" if info.kind == "fax" else f", {format_duration(info.duration_seconds)}"
        msg.set_content(f"{subject}. {when}{extra}.")
        return msg
    rows = _facts(info, env)
    footer = [t["listen"].format(pilot=env.pilot)]
    msg.set_content(_text(subject, rows, footer, t["sep"]))
    msg.add_alternative(_html(subject, rows, footer), subtype="html")
    return msg


def pager_mail(info: MessageInfo, to: str, callback: str, env: Envelope) -> EmailMessage:
    """A pager notification: one short line, with the callback number."""
    lang = _lang(env.language)
    t = TEXT[lang]
    what = t["new_fax"] if info.kind == "fax" else t["new_voice"]
    urgent = f"{t['urgent']} " if info.urgent else ""
    back = f" {t['callback']}{t['sep']}{format_number(callback)}" if callback else ""
    text = (
        f"{urgent}{what} {t['for']} {format_number(info.line)} "
        f"{t['from']} {info.caller(lang)}.{back}"
    )
    msg = _base(env, [to], f"{urgent}{what} - {format_number(info.line)}", auto=True)
    _mark(msg, info)
    msg.set_content(text)
    return msg


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


def attachment_name(info: MessageInfo, suffix: str, timezone: str) -> str:
    stamp = info.received_at.astimezone(ZoneInfo(timezone)).strftime("%Y%m%d-%H%M")
    who = info.caller_number or "anonymous"
    kind = "fax" if info.kind == "fax" else "message"
    return f"{kind}-{stamp}-{who}{suffix}"


def forward_mail(
    info: MessageInfo,
    to: Sequence[str],
    attachment: Attachment,
    env: Envelope,
    *,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    body: str = "",
    forwarded_by: str | None = None,
) -> EmailMessage:
    """The message itself as an e-mail: the WAV (voice) or PDF (fax) attached.

    Used for automatic forwarding (message settings) and for the portal's "forward as e-mail"
    (To/Cc/Bcc/body; `forwarded_by` names the subscriber)."""
    lang = _lang(env.language)
    t = TEXT[lang]
    what = t["fw_fax"] if info.kind == "fax" else t["fw_voice"]
    subject = f"{what} {t['from']} {info.caller(lang)}"
    if info.urgent:
        subject = f"{t['urgent']}{t['sep'] if lang == 'fr' else ': '}{subject}"
    msg = _base(env, list(to), subject, auto=not body)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    _mark(msg, info)
    rows = _facts(info, env)
    footer = [t["attached"]]
    if forwarded_by:
        footer.insert(0, t["forwarded_by"].format(name=forwarded_by, line=format_number(info.line)))
    intro = f"{body.strip()}\n\n" if body.strip() else ""
    text = intro + _text(subject, rows, footer, t["sep"])
    msg.set_content(text)
    intro_html = (
        "".join(f"<p>{html.escape(p)}</p>" for p in body.strip().split("\n") if p)
        if body.strip()
        else ""
    )
    page = _html(subject, rows, footer).replace("<body>", f"<body>{intro_html}", 1)
    msg.add_alternative(page, subtype="html")
    maintype, subtype = attachment.content_type.split("/", 1)
    msg.add_attachment(
        attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
    )
    return msg
