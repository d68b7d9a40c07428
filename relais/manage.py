"""`relais account|line|device list|show|set|remove` and `relais messages list` (SPEC S14).

Rules of this file:
- Every command prints lines for a person, or with --json one JSON document for a script
  (a list for `list`, an object for `show`, `set` and `remove`).
- Removals name what goes and ask first; --yes answers for a script. Nothing is removed when
  the answer is no or cannot be read.
- A removal deletes the rows in one transaction (the store cascades to mailboxes, messages,
  settings, devices); the files of the removed messages and greetings go after the commit.
- Secrets are checked by the same rules as `add` and never printed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import click
import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from relais.cli import (
    PLAIN,
    CliError,
    account_app,
    app,
    device_app,
    line_app,
    one_line_errors,
    open_store,
    settings,
)
from store import credentials, repository
from store.files import FileStore
from store.models import Account, Device, Greeting, Line, Mailbox, Message

messages_app = typer.Typer(help="Messages of a mailbox.", **PLAIN)
app.add_typer(messages_app, name="messages")

Json = Annotated[bool, typer.Option("--json", help="one JSON document, for scripts")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="remove without asking")]


# ------------------------------------------------------------------------------------------------
# Output


def emit(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        for line in lines:
            typer.echo(line)


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    try:
        answer = typer.confirm(question, default=False)
    except (typer.Abort, click.exceptions.Abort):
        answer = False
    if not answer:
        raise CliError("nothing removed (answer y, or give --yes)")


# ------------------------------------------------------------------------------------------------
# Reads


def _account_of(s: Session, number: str) -> Account:
    return repository.get_line(s, number).account


def _line_data(s: Session, line: Line) -> dict[str, Any]:
    counts = repository.mailbox_counts(s, line.number)
    mailbox = line.mailbox
    assert mailbox is not None
    return {
        "number": line.number,
        "primary": line.is_primary,
        "account": _primary(line.account),
        "language": mailbox.language,
        "quota_seconds": mailbox.quota_seconds,
        "max_message_seconds": mailbox.max_message_seconds,
        "used_seconds": round(counts.used_seconds, 1),
        "new_messages": counts.voice_new,
        "old_messages": counts.voice_old,
        "new_faxes": counts.fax_new,
        "devices": [d.username for d in sorted(line.devices, key=lambda d: d.username)],
    }


def _primary(account: Account) -> str:
    return next((ln.number for ln in account.lines if ln.is_primary), account.lines[0].number)


def _account_data(account: Account) -> dict[str, Any]:
    return {
        "number": _primary(account),
        "name": account.display_name,
        "language": account.language,
        "timezone": account.timezone,
        "lines": sorted(ln.number for ln in account.lines),
        "locked": account.locked_until is not None
        and account.locked_until > datetime.now(account.locked_until.tzinfo),
        "created_at": account.created_at.isoformat(timespec="seconds"),
    }


def _device_data(d: Device) -> dict[str, Any]:
    return {
        "username": d.username,
        "domain": d.domain,
        "address": f"sip:{d.username}@{d.domain}",
        "line": d.line_number,
        "contact": d.contact_uri,
        "created_at": d.created_at.isoformat(timespec="seconds"),
    }


def _device(s: Session, username: str, domain: str) -> Device:
    d = s.scalar(select(Device).where(Device.username == username, Device.domain == domain))
    if d is None:
        raise LookupError(f"no device sip:{username}@{domain}")
    return d


def _files_of(s: Session, numbers: list[str]) -> list[str]:
    paths = list(s.scalars(select(Message.file_path).where(Message.line_number.in_(numbers))))
    paths += list(s.scalars(select(Greeting.file_path).where(Greeting.line_number.in_(numbers))))
    return paths


def _remove_files(store_root: FileStore, paths: list[str]) -> None:
    for rel in paths:
        try:
            store_root.remove(rel)
        except ValueError:
            continue


def _message_count(s: Session, numbers: list[str]) -> int:
    return int(
        s.scalar(select(func.count()).select_from(Message).where(Message.line_number.in_(numbers)))
        or 0
    )


# ------------------------------------------------------------------------------------------------
# Accounts


@account_app.command("list")
@one_line_errors
def account_list(as_json: Json = False) -> None:
    """Every account: primary number, name, language, lines."""
    store = open_store(settings())
    with store.read() as s:
        data = [_account_data(a) for a in s.scalars(select(Account).order_by(Account.id))]
    rows = [[a["number"], a["name"], a["language"], " ".join(a["lines"])] for a in data]
    emit(data, as_json, table(rows, ["NUMBER", "NAME", "LANG", "LINES"]) or ["no account"])


@account_app.command("show")
@one_line_errors
def account_show(
    number: Annotated[str, typer.Argument(help="a line number of the account")],
    as_json: Json = False,
) -> None:
    """An account with its lines, mailboxes and devices."""
    store = open_store(settings())
    with store.read() as s:
        account = _account_of(s, number)
        data = _account_data(account)
        data["lines"] = [
            _line_data(s, ln) for ln in sorted(account.lines, key=lambda ln: not ln.is_primary)
        ]
    out = [
        f"account  : {data['number']} ({data['name']})",
        f"language : {data['language']}",
        f"time zone: {data['timezone']}",
        f"locked   : {'yes' if data['locked'] else 'no'}",
    ]
    for ln in data["lines"]:
        out.append(
            f"line {ln['number']}{' (primary)' if ln['primary'] else ''}: "
            f"{ln['new_messages']} new, {ln['old_messages']} heard, {ln['new_faxes']} new fax(es), "
            f"{ln['used_seconds']:g} of {ln['quota_seconds']} s; "
            f"devices: {', '.join(ln['devices']) or 'none'}"
        )
    emit(data, as_json, out)


@account_app.command("set")
@one_line_errors
def account_set(
    number: Annotated[str, typer.Argument(help="a line number of the account")],
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    language: Annotated[str | None, typer.Option(help="fr or en")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone")] = None,
    password: Annotated[str | None, typer.Option(help="new portal password")] = None,
    pin: Annotated[str | None, typer.Option(help="new call-services PIN")] = None,
    unlock: Annotated[bool, typer.Option("--unlock", help="end a sign-in lockout")] = False,
    as_json: Json = False,
) -> None:
    """Change an account's name, language, time zone, password or PIN, or unlock it."""
    if not any((name, language, timezone, password, pin, unlock)):
        raise CliError(
            "nothing to change: give --name, --language, --timezone, --password, --pin or --unlock"
        )
    store = open_store(settings())
    changed: list[str] = []
    with store.transaction() as s:
        account = _account_of(s, number)
        primary = _primary(account)
        if name is not None:
            clean = name.strip()
            if not clean or len(clean) > 120:
                raise ValueError("the name must have 1 to 120 characters")
            account.display_name = clean
            changed.append("name")
        if language is not None:
            if language not in ("fr", "en"):
                raise ValueError("the language must be fr or en")
            account.language = language
            changed.append("language")
        if timezone is not None:
            try:
                ZoneInfo(timezone)
            except (ValueError, KeyError, OSError):
                raise ValueError(f"unknown time zone {timezone!r}") from None
            account.timezone = timezone
            changed.append("timezone")
        if password is not None:
            credentials.validate_password(password, primary)
            account.password_hash = credentials.hash_secret(password)
            account.password_changed_at = datetime.now(account.created_at.tzinfo)
            changed.append("password")
        if pin is not None:
            credentials.validate_pin(pin, primary)
            account.services_pin_hash = credentials.hash_secret(pin)
            changed.append("pin")
        if unlock:
            account.failed_logins = 0
            account.locked_until = None
            changed.append("unlocked")
        data = _account_data(account)
    emit(
        {**data, "changed": changed},
        as_json,
        [f"account {data['number']}: {', '.join(changed)} changed"],
    )


@account_app.command("remove")
@one_line_errors
def account_remove(
    number: Annotated[str, typer.Argument(help="a line number of the account")],
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Remove an account with every line, mailbox, message, device and contact (asks first)."""
    cfg = settings()
    store = open_store(cfg)
    with store.read() as s:
        account = _account_of(s, number)
        numbers = sorted(ln.number for ln in account.lines)
        about = (
            f"account {_primary(account)} ({account.display_name}): {len(numbers)} line(s), "
            f"{_message_count(s, numbers)} message(s)"
        )
        account_id = account.id
    confirm(f"Remove {about}?", yes)
    with store.transaction() as s:
        paths = _files_of(s, numbers)
        gone = s.get(Account, account_id)
        if gone is None:
            raise LookupError(f"line {number} does not exist")
        s.delete(gone)
    _remove_files(FileStore(cfg.storage_root), paths)
    emit({"removed": "account", "lines": numbers}, as_json, [f"removed {about}"])


# ------------------------------------------------------------------------------------------------
# Lines


@line_app.command("list")
@one_line_errors
def line_list(
    account: Annotated[str | None, typer.Option(help="only the lines of this account")] = None,
    as_json: Json = False,
) -> None:
    """Every line (or one account's): mailbox counts and devices."""
    store = open_store(settings())
    with store.read() as s:
        if account is not None:
            lines = sorted(_account_of(s, account).lines, key=lambda ln: ln.number)
        else:
            lines = list(s.scalars(select(Line).order_by(Line.number)))
        data = [_line_data(s, ln) for ln in lines]
    rows = [
        [
            d["number"],
            d["account"],
            "yes" if d["primary"] else "",
            f"{d['new_messages']}/{d['old_messages']}",
            str(len(d["devices"])),
        ]
        for d in data
    ]
    header = ["NUMBER", "ACCOUNT", "PRIMARY", "NEW/HEARD", "DEVICES"]
    emit(data, as_json, table(rows, header) or ["no line"])


@line_app.command("show")
@one_line_errors
def line_show(
    number: Annotated[str, typer.Argument(help="the line number")], as_json: Json = False
) -> None:
    """A line: its account, mailbox limits and counts, devices."""
    store = open_store(settings())
    with store.read() as s:
        data = _line_data(s, repository.get_line(s, number))
    emit(data, as_json, [f"{k:<20}: {v}" for k, v in data.items()])


@line_app.command("set")
@one_line_errors
def line_set(
    number: Annotated[str, typer.Argument(help="the line number")],
    quota_seconds: Annotated[
        int | None, typer.Option(help="mailbox space in seconds of audio")
    ] = None,
    max_message_seconds: Annotated[
        int | None, typer.Option(help="longest message a caller may leave")
    ] = None,
    language: Annotated[str | None, typer.Option(help="mailbox prompts: fr or en")] = None,
    pin: Annotated[str | None, typer.Option(help="new voicemail PIN")] = None,
    as_json: Json = False,
) -> None:
    """Change a mailbox's space, longest message, prompt language or voicemail PIN."""
    if all(v is None for v in (quota_seconds, max_message_seconds, language, pin)):
        raise CliError(
            "nothing to change: give --quota-seconds, --max-message-seconds, --language or --pin"
        )
    store = open_store(settings())
    changed: list[str] = []
    with store.transaction() as s:
        line = repository.get_line(s, number)
        mailbox = s.get(Mailbox, number)
        assert mailbox is not None
        if quota_seconds is not None:
            if not 60 <= quota_seconds <= 360_000:
                raise ValueError("the quota must be 60 to 360000 seconds")
            mailbox.quota_seconds = quota_seconds
            changed.append("quota_seconds")
        if max_message_seconds is not None:
            if not 10 <= max_message_seconds <= 3600:
                raise ValueError("the longest message must be 10 to 3600 seconds")
            mailbox.max_message_seconds = max_message_seconds
            changed.append("max_message_seconds")
        if language is not None:
            if language not in ("fr", "en"):
                raise ValueError("the language must be fr or en")
            mailbox.language = language
            changed.append("language")
        if pin is not None:
            credentials.validate_pin(pin, number)
            mailbox.pin_hash = credentials.hash_secret(pin)
            mailbox.pin_failures = 0
            mailbox.pin_locked_until = None
            changed.append("pin")
        s.flush()
        if "quota_seconds" in changed:
            repository.mailbox_changed(s, number)  # a fuller or emptier mailbox: lamps follow
        data = _line_data(s, line)
    emit({**data, "changed": changed}, as_json, [f"line {number}: {', '.join(changed)} changed"])


@line_app.command("remove")
@one_line_errors
def line_remove(
    number: Annotated[str, typer.Argument(help="a secondary line number")],
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Remove a secondary line with its mailbox, messages and devices (asks first). A primary
    line goes with its account (relais account remove)."""
    cfg = settings()
    store = open_store(cfg)
    with store.read() as s:
        line = repository.get_line(s, number)
        if line.is_primary:
            raise CliError(
                f"{number} is the primary line of its account: remove the account instead"
            )
        messages = _message_count(s, [number])
        about = f"line {number}: {messages} message(s), {len(line.devices)} device(s)"
    confirm(f"Remove {about}?", yes)
    with store.transaction() as s:
        paths = _files_of(s, [number])
        s.delete(repository.get_line(s, number))
    _remove_files(FileStore(cfg.storage_root), paths)
    emit({"removed": "line", "number": number}, as_json, [f"removed {about}"])


# ------------------------------------------------------------------------------------------------
# Devices


@device_app.command("list")
@one_line_errors
def device_list(
    number: Annotated[str | None, typer.Option(help="only the devices of this line")] = None,
    as_json: Json = False,
) -> None:
    """Every SIP device (or one line's): address, line, static contact."""
    store = open_store(settings())
    with store.read() as s:
        q = select(Device).order_by(Device.line_number, Device.username)
        if number is not None:
            repository.get_line(s, number)
            q = q.where(Device.line_number == number)
        data = [_device_data(d) for d in s.scalars(q)]
    rows = [[d["address"], d["line"], d["contact"] or ""] for d in data]
    emit(data, as_json, table(rows, ["ADDRESS", "LINE", "CONTACT"]) or ["no device"])


@device_app.command("show")
@one_line_errors
def device_show(
    username: Annotated[str, typer.Argument(help="SIP username")], as_json: Json = False
) -> None:
    """A device (its password is never shown: only digests are kept)."""
    cfg = settings()
    store = open_store(cfg)
    with store.read() as s:
        data = _device_data(_device(s, username, cfg.sip_domain))
    emit(data, as_json, [f"{k:<10}: {v if v is not None else '-'}" for k, v in data.items()])


@device_app.command("set")
@one_line_errors
def device_set(
    username: Annotated[str, typer.Argument(help="SIP username")],
    password: Annotated[str | None, typer.Option(help="new SIP password")] = None,
    contact: Annotated[
        str | None, typer.Option(help="static contact URI; an empty value removes it")
    ] = None,
    as_json: Json = False,
) -> None:
    """Change a device's SIP password or static contact."""
    if password is None and contact is None:
        raise CliError("nothing to change: give --password or --contact")
    cfg = settings()
    store = open_store(cfg)
    changed: list[str] = []
    with store.transaction() as s:
        d = _device(s, username, cfg.sip_domain)
        if password is not None:
            credentials.validate_device_password(password)
            d.ha1 = credentials.digest_ha1(d.username, d.domain, password)
            d.ha1b = credentials.digest_ha1b(d.username, d.domain, d.domain, password)
            changed.append("password")
        if contact is not None:
            if contact:
                repository._check_sip_uri(contact)
            d.contact_uri = contact or None
            changed.append("contact")
        data = _device_data(d)
    emit(
        {**data, "changed": changed},
        as_json,
        [f"device {data['address']}: {', '.join(changed)} changed"],
    )


@device_app.command("remove")
@one_line_errors
def device_remove(
    username: Annotated[str, typer.Argument(help="SIP username")],
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Remove a SIP device (asks first); its phone can no longer register."""
    cfg = settings()
    store = open_store(cfg)
    with store.read() as s:
        data = _device_data(_device(s, username, cfg.sip_domain))
    about = f"device {data['address']} of line {data['line']}"
    confirm(f"Remove {about}?", yes)
    with store.transaction() as s:
        s.delete(_device(s, username, cfg.sip_domain))
    emit({"removed": "device", **data}, as_json, [f"removed {about}"])


# ------------------------------------------------------------------------------------------------
# Messages


@messages_app.command("list")
@one_line_errors
def messages_list(
    number: Annotated[str, typer.Option(help="the mailbox (line) number")],
    folder: Annotated[str, typer.Option(help="inbox or deleted")] = "inbox",
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 100,
    as_json: Json = False,
) -> None:
    """A mailbox's messages: new first, then the newest (times in the account's time zone)."""
    if folder not in ("inbox", "deleted"):
        raise ValueError("the folder must be inbox or deleted")
    if not 1 <= limit <= 10_000:
        raise ValueError("the limit must be 1 to 10000")
    store = open_store(settings())
    with store.read() as s:
        line = repository.get_line(s, number)
        tz = ZoneInfo(line.account.timezone)
        rows = s.scalars(
            select(Message)
            .where(Message.line_number == number, Message.folder == folder)
            .order_by(Message.heard, Message.received_at.desc(), Message.id.desc())
            .limit(limit)
        ).all()
        data: list[dict[str, Any]] = [
            {
                "id": m.id,
                "kind": m.kind,
                "folder": m.folder,
                "heard": m.heard,
                "urgent": m.urgent,
                "private": m.private,
                "caller_number": m.caller_number,
                "caller_name": m.caller_name,
                "received_at": m.received_at.astimezone(tz).isoformat(timespec="seconds"),
                "duration_seconds": round(m.duration_seconds, 1),
                "pages": m.pages,
                "origin": m.origin,
            }
            for m in rows
        ]
    table_rows = [
        [
            str(d["id"]),
            d["kind"],
            "heard" if d["heard"] else "new",
            "urgent" if d["urgent"] else "",
            d["caller_number"] or "anonymous",
            d["received_at"][:16].replace("T", " "),
            f"{d['duration_seconds']:g} s" if d["kind"] == "voice" else f"{d['pages']} p.",
        ]
        for d in data
    ]
    header = ["ID", "KIND", "STATE", "", "CALLER", "RECEIVED", "LENGTH"]
    emit(data, as_json, table(table_rows, header) or [f"no message in {folder} of {number}"])
