"""The demo account: made once, on an empty store, with secrets generated for this installation.

Rules of this file:
- The demo account is created only when the store holds no account and no demo was ever made
  here (its credentials file, <storage_root>/demo-credentials.toml, is the record: once the
  account is removed it is not made again while that file exists).
- Its portal password, voicemail PIN and SIP password are random, printed once when the account
  is made and kept in the credentials file (mode 0600, readable by its owner only).
- It is not made when the portal or the SIP edge listens beyond the loopback interface, unless
  an operator asks for it (`demo.allow_public = true`, `relais demo --allow-public`).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from config.settings import Settings
from store import credentials, repository
from store.models import Account
from store.session import Store

NUMBER = "6135550100"
SECOND_LINE = "6135550101"
NAME = "Demo Subscriber"
DEVICE_USER = "6135550100"
FILE_NAME = "demo-credentials.toml"


@dataclass(frozen=True)
class Credentials:
    """The demo account's secrets."""

    portal_password: str
    pin: str
    sip_password: str


@dataclass(frozen=True)
class Outcome:
    """What ensure() did, and what to tell the operator."""

    created: bool
    text: str
    credentials: Credentials | None = None


def credentials_path(cfg: Settings) -> Path:
    return cfg.storage_root / FILE_NAME


def generate() -> Credentials:
    """Fresh random secrets that pass the store's own rules."""
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(6))
        try:
            credentials.validate_pin(pin, NUMBER)
            credentials.validate_pin(pin, SECOND_LINE)
        except ValueError:
            continue
        break
    password = secrets.token_urlsafe(12)  # 16 characters, 96 bits
    credentials.validate_password(password, NUMBER)
    return Credentials(portal_password=password, pin=pin, sip_password=secrets.token_urlsafe(18))


def read(cfg: Settings) -> Credentials:
    """The credentials kept in the storage root (LookupError when there are none)."""
    path = credentials_path(cfg)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise LookupError(f"no demo credentials at {path}") from None
    return Credentials(
        portal_password=str(data["portal_password"]),
        pin=str(data["voicemail_pin"]),
        sip_password=str(data["sip_password"]),
    )


def _write(cfg: Settings, creds: Credentials) -> Path:
    path = credentials_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = "\n".join(
        [
            "# The relais demo account, generated for this installation (keep it private).",
            "# Removing the account does not bring it back; remove this file with it.",
            f'mailbox_number = "{NUMBER}"',
            f'second_line = "{SECOND_LINE}"',
            f'portal_password = "{creds.portal_password}"',
            f'voicemail_pin = "{creds.pin}"',
            f'sip_address = "sip:{DEVICE_USER}@{cfg.sip_domain}"',
            f'sip_user = "{DEVICE_USER}"',
            f'sip_password = "{creds.sip_password}"',
            "",
        ]
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


def is_loopback(host: str) -> bool:
    """True for an address (or 'localhost') that only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_listeners(cfg: Settings) -> list[str]:
    """The listeners of this installation that other machines may reach."""
    out = []
    if not is_loopback(cfg.portal_host):
        out.append(f"the portal listens on {cfg.portal_host} (portal_host)")
    if not is_loopback(cfg.sip_host):
        out.append(f"the SIP edge listens on {cfg.sip_host} (sip_host)")
    return out


def describe(cfg: Settings, creds: Credentials, path: Path) -> str:
    return "\n".join(
        [
            "demo account created (these secrets are shown once):",
            f"  mailbox number : {NUMBER} (second line {SECOND_LINE})",
            f"  portal password: {creds.portal_password}",
            f"  voicemail PIN  : {creds.pin}",
            f"  SIP device     : sip:{DEVICE_USER}@{cfg.sip_domain} password {creds.sip_password}",
            f"  kept in        : {path} (readable by its owner only)",
        ]
    )


def ensure(
    store: Store,
    cfg: Settings,
    *,
    allow_public: bool = False,
    creds: Credentials | None = None,
) -> Outcome:
    """Create the demo account when the rules above allow it; say what happened either way."""
    path = credentials_path(cfg)
    if path.exists():
        return Outcome(False, f"demo account: made before; its credentials are in {path}")
    with store.read() as s:
        accounts = s.scalar(select(func.count()).select_from(Account)) or 0
    if accounts:
        return Outcome(False, "demo account: not made (the store already has accounts)")
    public = public_listeners(cfg)
    if public and not (allow_public or cfg.demo.allow_public):
        return Outcome(
            False,
            f"demo account: not made because {' and '.join(public)}; "
            "set demo.allow_public = true (or run relais demo --allow-public) to make it anyway",
        )
    creds = creds or generate()
    defaults = repository.MailboxDefaults(
        quota_seconds=cfg.mailbox.quota_seconds,
        max_message_seconds=cfg.mailbox.max_message_seconds,
        min_message_seconds=cfg.mailbox.min_message_seconds,
    )
    with store.transaction() as s:
        repository.create_account(
            s,
            number=NUMBER,
            name=NAME,
            password=creds.portal_password,
            pin=creds.pin,
            language=cfg.language,
            timezone=cfg.timezone,
            mailbox=defaults,
        )
        repository.add_line(s, account_number=NUMBER, number=SECOND_LINE, mailbox=defaults)
        repository.add_device(
            s,
            number=NUMBER,
            username=DEVICE_USER,
            password=creds.sip_password,
            domain=cfg.sip_domain,
        )
        # Written inside the transaction: a failure to keep the secrets makes no account.
        _write(cfg, creds)
    return Outcome(True, describe(cfg, creds, path), creds)
