"""Contacts and groups of an account, their import and export (SPEC S8, S10).

Rules of this file:
- Everything is scoped by the signed-in account: a contact or group id of another account
  "does not exist" (404), like a missing one.
- A change is checked whole first (Invalid with every field problem), then written in one
  transaction; an import is parsed and planned (csvformats.parse_csv + plan_import) and applied
  in ONE transaction, so a file is imported completely or not at all.
- Phone numbers are kept as typed (validated); matching a caller to a contact compares digits
  (`number_key`), so "613-555-0142" is the caller 6135550142.
- Search is by first letters of any word of the name, company or nickname (accents and case
  ignored).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import validate
from portal.contacts import csvformats
from portal.contacts.csvformats import FIELDS, ContactRecord, Create, Format, OnConflict, Update
from portal.contacts.schemas import (
    ChangedContact,
    ContactIn,
    ContactOut,
    GroupIn,
    GroupOut,
    ImportReport,
    RejectedLine,
)
from portal.errors import Problems, Refused
from portal.i18n import Msg
from store.models import Contact, ContactGroup, GroupMember
from store.session import Store

logger = logging.getLogger(__name__)

PHONE_FIELDS = csvformats.PHONE_FIELDS
EMAIL_FIELDS = csvformats.EMAIL_FIELDS
MAX_CODE_DIGITS = 9

# A page of the portal shows PAGE_ROWS contacts; the API gives at most MAX_PAGE at a time.
PAGE_ROWS = 50
MAX_PAGE = 1000

CONTACT_NOT_FOUND = Msg("This contact does not exist.")
GROUP_NOT_FOUND = Msg("This group does not exist.")

FIELD_LABELS: dict[str, Msg] = {
    "first_name": Msg("first name"),
    "last_name": Msg("last name"),
    "nickname": Msg("nickname"),
    "company": Msg("company"),
    "business_phone": Msg("business phone"),
    "home_phone": Msg("home phone"),
    "mobile_phone": Msg("mobile phone"),
    "fax": Msg("fax"),
    "other_phone": Msg("other phone"),
    "email": Msg("e-mail"),
    "email2": Msg("e-mail 2"),
    "email3": Msg("e-mail 3"),
    "notes": Msg("notes"),
}


# ------------------------------------------------------------------------------------------------
# Names, search, caller matching


def display_name(c: Contact | ContactRecord) -> str:
    return " ".join(p for p in (c.first_name, c.last_name) if p) or c.company or c.nickname or "?"


def fold(text: str) -> str:
    """Lower case without accents: "Bélanger" -> "belanger"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_words(*parts: str) -> str:
    """The words a search matches by their first letters, folded, space-separated."""
    return " ".join(w for p in parts for w in re.split(r"[\s,.;:/()\-]+", fold(p)) if w)


def matches(query: str, words: str) -> bool:
    """Every word of `query` starts a word of `words` (or the whole name)."""
    q = [w for w in re.split(r"\s+", fold(query)) if w]
    padded = " " + words
    return all((" " + w) in padded for w in q)


def number_key(raw: str | None) -> str:
    """The digits that identify a phone number: 10 for NANP (a leading 1 dropped)."""
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


@dataclass(frozen=True)
class Known:
    contact_id: int
    name: str


def name_index(session: Session, account_id: int) -> dict[str, Known]:
    """Phone digits -> the contact they belong to (the first contact by id wins)."""
    index: dict[str, Known] = {}
    rows = session.execute(
        select(
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.company,
            Contact.nickname,
            Contact.business_phone,
            Contact.home_phone,
            Contact.mobile_phone,
            Contact.fax,
            Contact.other_phone,
        )
        .where(Contact.account_id == account_id)
        .order_by(Contact.id)
    ).all()
    for cid, first, last, company, nick, *phones in rows:
        name = " ".join(p for p in (first, last) if p) or company or nick or "?"
        for phone in phones:
            key = number_key(phone)
            if len(key) >= 4:
                index.setdefault(key, Known(cid, name))
    return index


# ------------------------------------------------------------------------------------------------
# Contacts


def _out(c: Contact, groups: Sequence[int] = ()) -> ContactOut:
    return ContactOut(
        id=c.id,
        name=display_name(c),
        groups=list(groups),
        **{f: getattr(c, f) or "" for f in FIELDS},
    )


def _memberships(
    session: Session, account_id: int, contact_ids: Sequence[int] | None = None
) -> dict[int, list[int]]:
    q = (
        select(GroupMember.contact_id, GroupMember.group_id)
        .join(ContactGroup, ContactGroup.id == GroupMember.group_id)
        .where(ContactGroup.account_id == account_id)
        .order_by(GroupMember.group_id)
    )
    if contact_ids is not None:
        q = q.where(GroupMember.contact_id.in_(list(contact_ids)))
    rows = session.execute(q).all()
    out: dict[int, list[int]] = {}
    for contact_id, group_id in rows:
        out.setdefault(contact_id, []).append(group_id)
    return out


def contact_limit(max_contacts: int) -> Refused:
    return Refused(
        409,
        "contact-limit-reached",
        Msg(
            "You have reached the limit of %(max)s contacts: delete some before adding others.",
            max=max_contacts,
        ),
    )


def count_contacts(s: Session, account_id: int) -> int:
    return int(
        s.scalar(select(func.count()).select_from(Contact).where(Contact.account_id == account_id))
        or 0
    )


def _by_name() -> tuple[Any, ...]:
    return (
        func.lower(Contact.last_name),
        func.lower(Contact.first_name),
        func.lower(Contact.company),
        Contact.id,
    )


def page_contacts(
    store: Store, account_id: int, q: str | None, *, offset: int, limit: int
) -> tuple[list[ContactOut], int]:
    """One page of the account's contacts by last then first name (those matching `q` when
    given) and how many the whole list holds. Only the page's rows are read whole."""
    with store.read() as s:
        base = select(Contact.id).where(Contact.account_id == account_id).order_by(*_by_name())
        if q and q.strip():
            named = s.execute(
                select(
                    Contact.id,
                    Contact.first_name,
                    Contact.last_name,
                    Contact.company,
                    Contact.nickname,
                )
                .where(Contact.account_id == account_id)
                .order_by(*_by_name())
            ).all()
            hits = [cid for cid, *names in named if matches(q, search_words(*names))]
            total, ids = len(hits), hits[offset : offset + limit]
        else:
            total = count_contacts(s, account_id)
            ids = list(s.scalars(base.offset(offset).limit(limit)))
        rows = {c.id: c for c in s.scalars(select(Contact).where(Contact.id.in_(ids)))}
        groups = _memberships(s, account_id, ids)
        return [_out(rows[i], groups.get(i, ())) for i in ids], total


def contact_names(store: Store, account_id: int, ids: Iterable[int]) -> dict[int, str]:
    """Contact id -> name, for the ids given (members shown with their groups)."""
    wanted = list(set(ids))
    out: dict[int, str] = {}
    with store.read() as s:
        for start in range(0, len(wanted), 500):
            for c in s.scalars(
                select(Contact).where(
                    Contact.account_id == account_id, Contact.id.in_(wanted[start : start + 500])
                )
            ):
                out[c.id] = display_name(c)
    return out


def list_contacts(store: Store, account_id: int, q: str | None = None) -> list[ContactOut]:
    """The account's contacts by last then first name (those matching `q` when given)."""
    with store.read() as s:
        rows = s.scalars(
            select(Contact).where(Contact.account_id == account_id).order_by(*_by_name())
        ).all()
        groups = _memberships(s, account_id)
        out = [_out(c, groups.get(c.id, ())) for c in rows]
    if q and q.strip():
        out = [c for c in out if matches(q, contact_words(c))]
    return out


def contact_words(c: ContactOut | ContactRecord) -> str:
    return search_words(c.first_name, c.last_name, c.company, c.nickname)


def _owned_contact(s: Session, account_id: int, contact_id: int) -> Contact:
    c = s.get(Contact, contact_id)
    if c is None or c.account_id != account_id:
        raise Refused(404, "contact-not-found", CONTACT_NOT_FOUND)
    return c


def get_contact(store: Store, account_id: int, contact_id: int) -> ContactOut:
    with store.read() as s:
        c = _owned_contact(s, account_id, contact_id)
        return _out(c, _memberships(s, account_id).get(c.id, ()))


def check_contact(data: ContactIn) -> dict[str, str]:
    """The cleaned values of a contact, or Invalid naming every bad field."""
    problems = Problems()
    values: dict[str, str] = {}
    for f in FIELDS:
        raw = getattr(data, f) or ""
        value = raw.strip() if f != "notes" else raw.strip("\r\n ").replace("\r\n", "\n")
        if f != "notes":
            value = " ".join(value.split())
        limit = csvformats.MAX_FIELD_LENGTH[f]
        if len(value) > limit:
            problems.add(
                f,
                "too-long",
                Msg("At most %(max)s characters.", max=limit),
            )
            continue
        if value and f in PHONE_FIELDS and not csvformats.is_phone(value):
            problems.add(
                f,
                "invalid-number",
                Msg("%(value)s is not a phone number.", value=value[:40]),
            )
            continue
        if value and f in EMAIL_FIELDS:
            checked = validate.email(value, f, problems)
            if checked is None:
                continue
            value = checked
        values[f] = value
    names = ("first_name", "last_name", "company", "nickname")
    if not any(values.get(f) for f in names) and not any(p.field in names for p in problems.items):
        problems.add(
            "first_name",
            "name-required",
            Msg("Enter a first name, a last name or a company."),
        )
    problems.check()
    return values


def create_contact(
    store: Store, account_id: int, data: ContactIn, *, max_contacts: int
) -> ContactOut:
    values = check_contact(data)
    with store.transaction() as s:
        if count_contacts(s, account_id) >= max_contacts:
            raise contact_limit(max_contacts)
        c = Contact(account_id=account_id, **values)
        s.add(c)
        s.flush()
        out = _out(c)
    logger.info("account %s created contact %s", account_id, out.id)
    return out


def update_contact(store: Store, account_id: int, contact_id: int, data: ContactIn) -> ContactOut:
    values = check_contact(data)
    with store.transaction() as s:
        c = _owned_contact(s, account_id, contact_id)
        for f, v in values.items():
            setattr(c, f, v)
        c.updated_at = datetime.now(UTC)
        s.flush()
        out = _out(c, _memberships(s, account_id).get(c.id, ()))
    return out


def delete_contacts(store: Store, account_id: int, contact_ids: Iterable[int]) -> int:
    """Delete contacts (all of them or none); they leave their groups."""
    ids = list(dict.fromkeys(contact_ids))
    with store.transaction() as s:
        for cid in ids:
            _owned_contact(s, account_id, cid)
        s.execute(delete(GroupMember).where(GroupMember.contact_id.in_(ids)))
        s.execute(delete(Contact).where(Contact.id.in_(ids), Contact.account_id == account_id))
    logger.info("account %s deleted %s contact(s)", account_id, len(ids))
    return len(ids)


# ------------------------------------------------------------------------------------------------
# Groups


def _group_out(g: ContactGroup, members: Sequence[int]) -> GroupOut:
    return GroupOut(id=g.id, name=g.name, phone_code=g.phone_code, members=list(members))


def _group_members(s: Session, group_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {gid: [] for gid in group_ids}
    if group_ids:
        for gid, cid in s.execute(
            select(GroupMember.group_id, GroupMember.contact_id)
            .where(GroupMember.group_id.in_(list(group_ids)))
            .order_by(GroupMember.contact_id)
        ):
            out[gid].append(cid)
    return out


def list_groups(store: Store, account_id: int, q: str | None = None) -> list[GroupOut]:
    with store.read() as s:
        groups = s.scalars(
            select(ContactGroup)
            .where(ContactGroup.account_id == account_id)
            .order_by(func.lower(ContactGroup.name), ContactGroup.id)
        ).all()
        members = _group_members(s, [g.id for g in groups])
        out = [_group_out(g, members[g.id]) for g in groups]
    if q and q.strip():
        out = [g for g in out if matches(q, search_words(g.name))]
    return out


def _owned_group(s: Session, account_id: int, group_id: int) -> ContactGroup:
    g = s.get(ContactGroup, group_id)
    if g is None or g.account_id != account_id:
        raise Refused(404, "group-not-found", GROUP_NOT_FOUND)
    return g


def get_group(store: Store, account_id: int, group_id: int) -> GroupOut:
    with store.read() as s:
        g = _owned_group(s, account_id, group_id)
        return _group_out(g, _group_members(s, [g.id])[g.id])


def _check_group(
    s: Session, account_id: int, data: GroupIn, group_id: int | None
) -> tuple[str, str, list[int]]:
    problems = Problems()
    name = " ".join(data.name.split())
    if not name:
        problems.add("name", "required", Msg("Enter a name for the group."))
    elif len(name) > 80:
        problems.add("name", "too-long", Msg("At most %(max)s characters.", max=80))
    code = re.sub(r"[\s\-.]", "", data.phone_code)
    if not code:
        problems.add("phone_code", "required", Msg("Enter a phone code for the group."))
    elif not code.isdigit() or len(code) > MAX_CODE_DIGITS:
        problems.add(
            "phone_code",
            "invalid-phone-code",
            Msg("The phone code has 1 to %(max)s digits.", max=MAX_CODE_DIGITS),
        )
    else:
        taken = s.scalar(
            select(ContactGroup.name).where(
                ContactGroup.account_id == account_id,
                ContactGroup.phone_code == code,
                ContactGroup.id != (group_id or 0),
            )
        )
        if taken is not None:
            problems.add(
                "phone_code",
                "phone-code-taken",
                Msg("The group %(name)s already has this phone code.", name=taken),
            )
    members = list(dict.fromkeys(data.members))
    if members:
        owned = set(
            s.scalars(
                select(Contact.id).where(Contact.account_id == account_id, Contact.id.in_(members))
            )
        )
        unknown = [m for m in members if m not in owned]
        if unknown:
            problems.add(
                "members",
                "unknown-contact",
                Msg("Contact %(id)s does not exist.", id=unknown[0]),
            )
    problems.check()
    return name, code, members


def _write_members(s: Session, group_id: int, members: Sequence[int]) -> None:
    s.execute(delete(GroupMember).where(GroupMember.group_id == group_id))
    if members:
        s.execute(insert(GroupMember), [{"group_id": group_id, "contact_id": m} for m in members])


def _code_race(exc: IntegrityError) -> Refused:
    return Refused(
        409, "phone-code-taken", Msg("Another group of yours already has this phone code.")
    )


def create_group(store: Store, account_id: int, data: GroupIn) -> GroupOut:
    try:
        with store.transaction() as s:
            name, code, members = _check_group(s, account_id, data, None)
            g = ContactGroup(account_id=account_id, name=name, phone_code=code)
            s.add(g)
            s.flush()
            _write_members(s, g.id, members)
            out = _group_out(g, members)
    except IntegrityError as exc:
        raise _code_race(exc) from None
    logger.info("account %s created group %s", account_id, out.id)
    return out


def update_group(store: Store, account_id: int, group_id: int, data: GroupIn) -> GroupOut:
    try:
        with store.transaction() as s:
            g = _owned_group(s, account_id, group_id)
            name, code, members = _check_group(s, account_id, data, group_id)
            g.name, g.phone_code = name, code
            _write_members(s, g.id, members)
            s.flush()
            out = _group_out(g, members)
    except IntegrityError as exc:
        raise _code_race(exc) from None
    return out


def delete_groups(store: Store, account_id: int, group_ids: Iterable[int]) -> int:
    ids = list(dict.fromkeys(group_ids))
    with store.transaction() as s:
        for gid in ids:
            _owned_group(s, account_id, gid)
        s.execute(delete(GroupMember).where(GroupMember.group_id.in_(ids)))
        s.execute(delete(ContactGroup).where(ContactGroup.id.in_(ids)))
    return len(ids)


def delete_selected(
    store: Store, account_id: int, contact_ids: Sequence[int], group_ids: Sequence[int]
) -> int:
    """Delete contacts and groups together: all of them or nothing."""
    with store.transaction() as s:
        for cid in contact_ids:
            _owned_contact(s, account_id, cid)
        for gid in group_ids:
            _owned_group(s, account_id, gid)
        if group_ids:
            s.execute(delete(GroupMember).where(GroupMember.group_id.in_(list(group_ids))))
            s.execute(delete(ContactGroup).where(ContactGroup.id.in_(list(group_ids))))
        if contact_ids:
            s.execute(delete(GroupMember).where(GroupMember.contact_id.in_(list(contact_ids))))
            s.execute(delete(Contact).where(Contact.id.in_(list(contact_ids))))
    logger.info(
        "account %s deleted %s contact(s) and %s group(s)",
        account_id,
        len(contact_ids),
        len(group_ids),
    )
    return len(contact_ids) + len(group_ids)


# ------------------------------------------------------------------------------------------------
# Export


EXPORTS: dict[str, tuple[str, str]] = {
    # format: (file name, media type)
    "outlook": ("contacts-outlook.csv", "text/csv; charset=utf-8"),
    "vista": ("contacts-windows.csv", "text/csv; charset=utf-8"),
    "native": ("contacts.csv", "text/csv; charset=utf-8"),
    "vcard": ("contacts.vcf", "text/vcard; charset=utf-8"),
}


def records(session: Session, account_id: int) -> list[ContactRecord]:
    rows = session.scalars(
        select(Contact).where(Contact.account_id == account_id).order_by(Contact.id)
    ).all()
    return [
        ContactRecord(id=c.id, cleared=frozenset(), **{f: getattr(c, f) or "" for f in FIELDS})
        for c in rows
    ]


def export_file(store: Store, account_id: int, fmt: str) -> tuple[bytes, str, str]:
    """(content, file name, media type) of every contact in `fmt` (never any group)."""
    if fmt not in EXPORTS:
        raise Refused(
            422,
            "unknown-format",
            Msg("Choose the format: outlook, vista, native or vcard."),
        )
    with store.read() as s:
        recs = records(s, account_id)
    data = (
        csvformats.export_vcard(recs)
        if fmt == "vcard"
        else csvformats.export_csv(recs, Format(fmt))
    )
    name, media = EXPORTS[fmt]
    return data, name, media


# ------------------------------------------------------------------------------------------------
# Import


_FILE_ERRORS: list[tuple[str, str, Msg]] = [
    ("the file is not a CSV text file", "not-a-csv-file", Msg("This file is not a CSV text file.")),
    (
        "the file says it is UTF-8 but is not",
        "bad-encoding",
        Msg("This file says it is UTF-8 but it is not: save it again as CSV (UTF-8)."),
    ),
    ("the file is empty", "empty-file", Msg("The file is empty.")),
    (
        "unknown file format",
        "unknown-file-format",
        Msg(
            "This file is not a contact export: its first row must hold the column headers of "
            "an Outlook, Windows Contacts or native export."
        ),
    ),
    ("line 1:", "malformed-csv", Msg("The first line of the file is not valid CSV.")),
]

_ROW_ERRORS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^the row has no name"), "no-name", "no-name"),
    (re.compile(r"^the (?P<field>.+) is longer than (?P<max>\d+) characters$"), "too-long", ""),
    (re.compile(r"^invalid e-mail address (?P<q>['\"])(?P<value>.*)(?P=q)$"), "invalid-email", ""),
    (
        re.compile(r"^invalid phone number (?P<q>['\"])(?P<value>.*)(?P=q) in (?P<field>.+)$"),
        "invalid-number",
        "",
    ),
    (re.compile(r"^malformed CSV"), "malformed-csv", ""),
    (
        re.compile(r"^the row has (?P<n>\d+) fields, the header has (?P<m>\d+)$"),
        "wrong-field-count",
        "",
    ),
    (re.compile(r"^invalid Id (?P<q>['\"])(?P<value>.*)(?P=q)$"), "invalid-id", ""),
]


def _field_label(text: str) -> Msg:
    key = text.replace(" ", "_")
    return FIELD_LABELS.get(key, Msg("%(name)s", name=text))


@dataclass(frozen=True)
class RowProblem:
    line: int
    error: str
    message: Msg


def row_problem(line: int, reason: str) -> RowProblem:
    """A rejected row's reason (csvformats' English text) as a stable id and a message."""
    for pattern, code, _ in _ROW_ERRORS:
        m = pattern.match(reason)
        if m is None:
            continue
        g = m.groupdict()
        if code == "no-name":
            msg = Msg("The row has no name (first name, last name, nickname or company).")
        elif code == "too-long":
            msg = Msg(
                "The %(field)s is longer than %(max)s characters.",
                field=_field_label(g["field"]),
                max=g["max"],
            )
        elif code == "invalid-email":
            msg = Msg("%(value)s is not an e-mail address.", value=g["value"][:60])
        elif code == "invalid-number":
            msg = Msg(
                "%(value)s is not a phone number (%(field)s).",
                value=g["value"][:40],
                field=_field_label(g["field"]),
            )
        elif code == "malformed-csv":
            msg = Msg(
                "This line is not valid CSV (a quote is not closed); the lines after it "
                "were not read."
            )
        elif code == "wrong-field-count":
            msg = Msg("The line has %(n)s fields; the header has %(m)s.", n=g["n"], m=g["m"])
        else:
            msg = Msg("The Id %(value)s is not a number.", value=g["value"][:20])
        return RowProblem(line, code, msg)
    return RowProblem(line, "invalid-row", Msg("%(reason)s", reason=reason))


@dataclass(frozen=True)
class ContactChange:
    line: int
    contact_id: int
    name: str
    fields: tuple[str, ...]


@dataclass
class ImportResult:
    format: str
    on_conflict: str
    created: int = 0
    updated: int = 0
    merged: int = 0
    ignored: int = 0
    unchanged: int = 0
    rejected: list[RowProblem] = field(default_factory=list)
    changes: list[ContactChange] = field(default_factory=list)

    def report(self, lang: str) -> ImportReport:
        return ImportReport(
            format=self.format,  # type: ignore[arg-type]
            on_conflict=self.on_conflict,  # type: ignore[arg-type]
            created=self.created,
            updated=self.updated,
            merged=self.merged,
            ignored=self.ignored,
            unchanged=self.unchanged,
            rejected=[
                RejectedLine(line=r.line, error=r.error, detail=r.message.render(lang))
                for r in self.rejected
            ],
            changes=[
                ChangedContact(
                    line=c.line,
                    contact_id=c.contact_id,
                    name=c.name,
                    fields=list(c.fields),
                    labels=[FIELD_LABELS[f].render(lang) for f in c.fields],
                )
                for c in self.changes
            ],
        )


def parse_on_conflict(value: str | None) -> OnConflict:
    try:
        return OnConflict(value or "")
    except ValueError:
        raise Refused(
            422,
            "invalid-on-conflict",
            Msg("Choose what to do when a contact exists: overwrite, duplicate or ignore."),
        ) from None


def import_file(
    store: Store,
    account_id: int,
    data: bytes,
    on_conflict: OnConflict,
    *,
    max_bytes: int,
    max_contacts: int,
) -> ImportResult:
    """Import a contact file (SPEC S10) in one transaction; bad rows are reported, not applied."""
    if len(data) > max_bytes:
        raise Refused(
            413,
            "file-too-large",
            Msg("The file is too large (at most %(mb)s MB).", mb=max(1, max_bytes // 1_000_000)),
        )
    try:
        parsed = csvformats.parse_csv(data)
    except ValueError as exc:
        text = str(exc)
        for prefix, code, msg in _FILE_ERRORS:
            if text.startswith(prefix):
                raise Refused(422, code, msg) from None
        raise Refused(422, "unreadable-file", Msg("%(reason)s", reason=text)) from None
    result = ImportResult(parsed.format.value, on_conflict.value)
    result.rejected = [row_problem(r.line, r.reason) for r in parsed.rejected]
    now = datetime.now(UTC)
    with store.transaction() as s:
        existing = records(s, account_id)
        ops = csvformats.plan_import(existing, parsed, on_conflict)
        creates: list[dict[str, object]] = []
        updates: dict[int, dict[str, object]] = {}
        for op in ops:
            if isinstance(op, Create):
                creates.append(
                    {
                        "account_id": account_id,
                        "created_at": now,
                        "updated_at": now,
                        **op.record.values(),
                    }
                )
                result.created += 1
            elif isinstance(op, Update):
                assert op.record.id is not None
                updates[op.record.id] = {
                    "id": op.record.id,
                    "updated_at": now,
                    **op.record.values(),
                }
                if op.merged:
                    result.merged += 1
                else:
                    result.updated += 1
                if op.before is not None:
                    result.changes.append(
                        ContactChange(
                            op.line,
                            op.record.id,
                            display_name(op.record),
                            tuple(csvformats.changed_fields(op.before, op.record)),
                        )
                    )
            elif op.reason == "conflict-ignored":
                result.ignored += 1
            else:
                result.unchanged += 1
        if creates and len(existing) + len(creates) > max_contacts:
            raise Refused(
                422,
                "contact-limit-reached",
                Msg(
                    "This file would bring your contacts to %(n)s; at most %(max)s are allowed. "
                    "Nothing was imported.",
                    n=len(existing) + len(creates),
                    max=max_contacts,
                ),
            )
        if creates:
            s.execute(insert(Contact), creates)
        if updates:
            s.execute(update(Contact), list(updates.values()))
    logger.info(
        "account %s imported a %s file: %s created, %s updated, %s merged, %s ignored, "
        "%s unchanged, %s rejected",
        account_id,
        result.format,
        result.created,
        result.updated,
        result.merged,
        result.ignored,
        result.unchanged,
        len(result.rejected),
    )
    return result
