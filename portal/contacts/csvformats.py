"""Contact files of SPEC S10: Outlook CSV, Windows Contacts (Vista) CSV, native CSV, vCard.

Pure: bytes in, records out (and back). No store, no clock.
- Import detects the format from the header row and the encoding from the bytes (UTF-8 with
  or without BOM, else Windows-1252); fields may be quoted with CRLF inside.
- Export writes UTF-8 with a BOM (spreadsheet programs then read accents right) and CRLF
  line ends, and neutralises cells that a spreadsheet would run as a formula (a leading
  = + - @ gets a leading apostrophe); import removes that apostrophe again, so exporting and
  re-importing the native file is an identity.
- Exports never carry group information.
- Under "overwrite", an empty cell keeps the contact's value; a cell holding only CLEAR ("-",
  as typed, not a neutralised "'-") erases it: the file has to say so explicitly.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

CLEAR = "-"

FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "nickname",
    "company",
    "business_phone",
    "home_phone",
    "mobile_phone",
    "fax",
    "other_phone",
    "email",
    "email2",
    "email3",
    "notes",
)

MAX_FIELD_LENGTH = {
    "first_name": 80,
    "last_name": 80,
    "nickname": 80,
    "company": 120,
    "business_phone": 32,
    "home_phone": 32,
    "mobile_phone": 32,
    "fax": 32,
    "other_phone": 32,
    "email": 254,
    "email2": 254,
    "email3": 254,
    "notes": 4000,
}

EMAIL_FIELDS = ("email", "email2", "email3")
PHONE_FIELDS = ("business_phone", "home_phone", "mobile_phone", "fax", "other_phone")


@dataclass(frozen=True)
class ContactRecord:
    """One contact as files carry it; `id` only in native files (and for existing contacts)."""

    id: int | None = None
    first_name: str = ""
    last_name: str = ""
    nickname: str = ""
    company: str = ""
    business_phone: str = ""
    home_phone: str = ""
    mobile_phone: str = ""
    fax: str = ""
    other_phone: str = ""
    email: str = ""
    email2: str = ""
    email3: str = ""
    notes: str = ""
    cleared: frozenset[str] = field(default=frozenset(), compare=False)
    """Fields whose cell held only CLEAR ("-"): the file asks to erase them (overwrite)."""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def match_key(self) -> str:
        """Name used to match an imported row with an existing contact (case-insensitive)."""
        return re.sub(r"\s+", " ", self.full_name).strip().casefold()

    def values(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in FIELDS}


class Format(Enum):
    OUTLOOK = "outlook"
    VISTA = "vista"
    NATIVE = "native"


# The complete header rows those programs write. Columns relais has no field for are written
# empty and ignored on import.
OUTLOOK_HEADERS: tuple[str, ...] = (
    "Title", "First Name", "Middle Name", "Last Name", "Suffix", "Company", "Department",
    "Job Title", "Business Street", "Business Street 2", "Business Street 3", "Business City",
    "Business State", "Business Postal Code", "Business Country/Region", "Home Street",
    "Home Street 2", "Home Street 3", "Home City", "Home State", "Home Postal Code",
    "Home Country/Region", "Other Street", "Other Street 2", "Other Street 3", "Other City",
    "Other State", "Other Postal Code", "Other Country/Region", "Assistant's Phone",
    "Business Fax", "Business Phone", "Business Phone 2", "Callback", "Car Phone",
    "Company Main Phone", "Home Fax", "Home Phone", "Home Phone 2", "ISDN", "Mobile Phone",
    "Other Fax", "Other Phone", "Pager", "Primary Phone", "Radio Phone", "TTY/TDD Phone",
    "Telex", "Account", "Anniversary", "Assistant's Name", "Billing Information", "Birthday",
    "Business Address PO Box", "Categories", "Children", "Directory Server", "E-mail Address",
    "E-mail Type", "E-mail Display Name", "E-mail 2 Address", "E-mail 2 Type",
    "E-mail 2 Display Name", "E-mail 3 Address", "E-mail 3 Type", "E-mail 3 Display Name",
    "Gender", "Government ID Number", "Hobby", "Home Address PO Box", "Initials",
    "Internet Free Busy", "Keywords", "Language", "Location", "Manager's Name", "Mileage",
    "Notes", "Office Location", "Organizational ID Number", "Other Address PO Box", "Priority",
    "Private", "Profession", "Referred By", "Sensitivity", "Spouse", "User 1", "User 2",
    "User 3", "User 4", "Web Page",
)  # fmt: skip
OUTLOOK_MAP: dict[str, str] = {
    "first_name": "First Name",
    "last_name": "Last Name",
    "company": "Company",
    "business_phone": "Business Phone",
    "home_phone": "Home Phone",
    "mobile_phone": "Mobile Phone",
    "fax": "Business Fax",
    "other_phone": "Other Phone",
    "email": "E-mail Address",
    "email2": "E-mail 2 Address",
    "email3": "E-mail 3 Address",
    "notes": "Notes",
}

VISTA_HEADERS: tuple[str, ...] = (
    "First Name", "Last Name", "Middle Name", "Name", "Nickname", "E-mail Address",
    "Home Street", "Home City", "Home Postal Code", "Home State", "Home Country/Region",
    "Home Phone", "Home Fax", "Mobile Phone", "Personal Web Page", "Business Street",
    "Business City", "Business Postal Code", "Business State", "Business Country/Region",
    "Business Web Page", "Business Phone", "Business Fax", "Pager", "Company", "Job Title",
    "Department", "Office Location", "Notes",
)  # fmt: skip
VISTA_MAP: dict[str, str] = {
    "first_name": "First Name",
    "last_name": "Last Name",
    "nickname": "Nickname",
    "email": "E-mail Address",
    "home_phone": "Home Phone",
    "mobile_phone": "Mobile Phone",
    "business_phone": "Business Phone",
    "fax": "Business Fax",
    "company": "Company",
    "notes": "Notes",
}

NATIVE_MAP: dict[str, str] = {
    "first_name": "First Name",
    "last_name": "Last Name",
    "nickname": "Nickname",
    "company": "Company",
    "business_phone": "Business Phone",
    "home_phone": "Home Phone",
    "mobile_phone": "Mobile Phone",
    "fax": "Business Fax",
    "other_phone": "Other Phone",
    "email": "E-mail Address",
    "email2": "E-mail 2 Address",
    "email3": "E-mail 3 Address",
    "notes": "Notes",
}
NATIVE_HEADERS: tuple[str, ...] = ("Id", *NATIVE_MAP.values())

MAPS: dict[Format, dict[str, str]] = {
    Format.OUTLOOK: OUTLOOK_MAP,
    Format.VISTA: VISTA_MAP,
    Format.NATIVE: NATIVE_MAP,
}
HEADERS: dict[Format, tuple[str, ...]] = {
    Format.OUTLOOK: OUTLOOK_HEADERS,
    Format.VISTA: VISTA_HEADERS,
    Format.NATIVE: NATIVE_HEADERS,
}


def carried_fields(fmt: Format) -> frozenset[str]:
    """The relais fields a file of this format can hold."""
    return frozenset(MAPS[fmt])


# ------------------------------------------------------------------------------------------------
# Export

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Stop spreadsheets from running a cell as a formula (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _restore(cell: str) -> str:
    if cell.startswith("'") and cell[1:].startswith(_FORMULA_START):
        return cell[1:]
    return cell


def export_csv(records: Iterable[ContactRecord], fmt: Format) -> bytes:
    headers = HEADERS[fmt]
    mapping = MAPS[fmt]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(headers)
    for rec in records:
        row = dict.fromkeys(headers, "")
        for f, header in mapping.items():
            row[header] = neutralise(getattr(rec, f))
        if fmt is Format.NATIVE:
            row["Id"] = "" if rec.id is None else str(rec.id)
        if fmt is Format.VISTA:
            row["Name"] = neutralise(rec.full_name)
        writer.writerow([row[h] for h in headers])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def export_vcard(records: Iterable[ContactRecord]) -> bytes:
    """vCard 3.0 (RFC 2426), one card per contact."""

    def esc(value: str) -> str:
        return (
            value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")
        )

    lines: list[str] = []
    for rec in records:
        lines += ["BEGIN:VCARD", "VERSION:3.0"]
        lines.append(f"N:{esc(rec.last_name)};{esc(rec.first_name)};;;")
        lines.append(f"FN:{esc(rec.full_name or rec.company or rec.nickname)}")
        if rec.nickname:
            lines.append(f"NICKNAME:{esc(rec.nickname)}")
        if rec.company:
            lines.append(f"ORG:{esc(rec.company)}")
        for f, kind in (
            ("business_phone", "WORK,VOICE"),
            ("home_phone", "HOME,VOICE"),
            ("mobile_phone", "CELL"),
            ("fax", "WORK,FAX"),
            ("other_phone", "VOICE"),
        ):
            if getattr(rec, f):
                lines.append(f"TEL;TYPE={kind}:{esc(getattr(rec, f))}")
        for f in EMAIL_FIELDS:
            if getattr(rec, f):
                lines.append(f"EMAIL;TYPE=INTERNET:{esc(getattr(rec, f))}")
        if rec.notes:
            lines.append(f"NOTE:{esc(rec.notes)}")
        if rec.id is not None:
            lines.append(f"UID:relais-contact-{rec.id}")
        lines.append("END:VCARD")
    return ("\r\n".join(lines) + ("\r\n" if lines else "")).encode("utf-8")


# ------------------------------------------------------------------------------------------------
# Import


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True)
class ParsedFile:
    format: Format
    rows: tuple[tuple[int, ContactRecord], ...]
    """(line number in the file, record) for each valid row."""
    rejected: tuple[Rejected, ...] = field(default=())

    @property
    def has_ids(self) -> bool:
        return self.format is Format.NATIVE


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252; NUL bytes mean it is not a text file."""
    if b"\x00" in data:
        raise ValueError("the file is not a CSV text file")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("the file says it is UTF-8 but is not") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def detect_format(header: Sequence[str]) -> Format:
    names = [h.strip() for h in header]
    present = set(names)
    if "Id" in present and "First Name" in present and "Last Name" in present:
        return Format.NATIVE
    if {"First Name", "Last Name", "Name", "E-mail Address"} <= present:
        return Format.VISTA
    if {"First Name", "Last Name", "E-mail Address"} <= present or {
        "First Name",
        "Last Name",
        "Business Phone",
    } <= present:
        return Format.OUTLOOK
    raise ValueError(
        "unknown file format: the first row must be the column headers of an Outlook, "
        "Windows Contacts or native export"
    )


_EMAIL = re.compile(r"^[^@\s<>\",;]+@[^@\s<>\",;]+\.[^@\s<>\",;]+$")
_PHONE = re.compile(r"^[0-9+().\-\s/*#xX,ext]*$")


def is_phone(value: str) -> bool:
    """A phone number as contact files write them: digits with the usual punctuation."""
    return bool(_PHONE.match(value) and re.search(r"\d", value))


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def _validate(rec: ContactRecord) -> str | None:
    if not (rec.first_name or rec.last_name or rec.company or rec.nickname):
        return "the row has no name (first name, last name, nickname or company)"
    for f in FIELDS:
        if len(getattr(rec, f)) > MAX_FIELD_LENGTH[f]:
            return f"the {f.replace('_', ' ')} is longer than {MAX_FIELD_LENGTH[f]} characters"
    for f in EMAIL_FIELDS:
        value = getattr(rec, f)
        if value and not is_email(value):
            return f"invalid e-mail address {value!r}"
    for f in PHONE_FIELDS:
        value = getattr(rec, f)
        if value and not is_phone(value):
            return f"invalid phone number {value!r} in {f.replace('_', ' ')}"
    return None


def parse_csv(data: bytes) -> ParsedFile:
    """Parse an exported contact file; bad rows are rejected with their line number."""
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError("the file is empty") from None
    except csv.Error as exc:
        raise ValueError(f"line 1: {exc}") from None
    fmt = detect_format(header)
    index = {h.strip(): i for i, h in enumerate(header)}
    mapping = MAPS[fmt]
    rows: list[tuple[int, ContactRecord]] = []
    rejected: list[Rejected] = []
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rejected.append(Rejected(line, f"malformed CSV ({exc})"))
            break  # the reader cannot resynchronise after a broken quote
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            rejected.append(
                Rejected(line, f"the row has {len(cells)} fields, the header has {len(header)}")
            )
            continue
        raw = {f: cells[index[h]].strip() for f, h in mapping.items() if h in index}
        cleared = frozenset(f for f, v in raw.items() if v == CLEAR)
        values = {f: "" if f in cleared else _restore(v) for f, v in raw.items()}
        rec_id: int | None = None
        if fmt is Format.NATIVE:
            raw_id = cells[index["Id"]].strip()
            if raw_id:
                if not raw_id.isdigit() or len(raw_id) > 12:
                    rejected.append(Rejected(line, f"invalid Id {raw_id!r}"))
                    continue
                rec_id = int(raw_id)
        if fmt is Format.VISTA and not (values.get("first_name") or values.get("last_name")):
            # Windows Contacts may only fill "Name": split it into first and last names.
            name = cells[index["Name"]].strip() if "Name" in index else ""
            first, _, last = _restore(name).rpartition(" ")
            values["first_name"], values["last_name"] = (first, last) if first else (last, "")
        rec = ContactRecord(id=rec_id, cleared=cleared, **values)
        problem = _validate(rec)
        if problem:
            rejected.append(Rejected(line, problem))
            continue
        rows.append((line, rec))
    return ParsedFile(fmt, tuple(rows), tuple(rejected))


# ------------------------------------------------------------------------------------------------
# Import planning (pure): what to do with each row against the existing contacts


class OnConflict(Enum):
    OVERWRITE = "overwrite"
    DUPLICATE = "duplicate"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Create:
    line: int
    record: ContactRecord


@dataclass(frozen=True)
class Update:
    """Change an existing contact to `record` (same id). `merged` when only details were added."""

    line: int
    record: ContactRecord
    merged: bool
    before: ContactRecord | None = field(default=None, compare=False)
    """The contact as it was (the report lists the fields that changed)."""


@dataclass(frozen=True)
class Skip:
    line: int
    contact_id: int
    reason: str  # "conflict-ignored" | "unchanged"


Operation = Create | Update | Skip


def same_value(name: str, a: str, b: str) -> bool:
    """Equal for matching purposes: phone numbers by digits, text ignoring case and spacing."""
    if name in PHONE_FIELDS:
        return re.sub(r"\D", "", a).removeprefix("1") == re.sub(r"\D", "", b).removeprefix("1")
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def conflicts(existing: ContactRecord, imported: ContactRecord, carried: frozenset[str]) -> bool:
    """Both have a value for some field and the values differ, or the file erases a value."""
    return any(
        getattr(existing, f)
        and (
            f in imported.cleared
            or (
                getattr(imported, f)
                and not same_value(f, getattr(existing, f), getattr(imported, f))
            )
        )
        for f in carried
    )


def overwritten(
    existing: ContactRecord, imported: ContactRecord, carried: frozenset[str]
) -> ContactRecord:
    """The file's values replace the contact's; an empty cell keeps the contact's value (an
    Outlook export without a business phone does not erase it), a cell holding only CLEAR
    erases it."""
    values = {}
    for f in carried:
        new = getattr(imported, f)
        if new:
            values[f] = new
        elif f in imported.cleared:
            values[f] = ""
    return replace(existing, **values)


def changed_fields(before: ContactRecord, after: ContactRecord) -> list[str]:
    """The fields an update changes, in FIELDS order."""
    return [f for f in FIELDS if getattr(before, f) != getattr(after, f)]


def plan_import(
    existing: Sequence[ContactRecord],
    parsed: ParsedFile,
    on_conflict: OnConflict,
) -> list[Operation]:
    """Match each row to an existing contact (by Id in native files, else by full name).

    No conflicting field: missing details are added (merge). Conflicting fields: overwrite
    (the file's values replace the contact's; empty cells change nothing, CLEAR erases),
    duplicate (a new contact) or ignore.
    Rows of the same file matching the same contact apply in file order.
    """
    carried = carried_fields(parsed.format)
    by_id = {c.id: c for c in existing if c.id is not None}
    by_name: dict[str, ContactRecord] = {}
    for c in existing:
        by_name.setdefault(c.match_key, c)
    ops: list[Operation] = []
    for line, rec in parsed.rows:
        match: ContactRecord | None = None
        if parsed.has_ids and rec.id is not None:
            match = by_id.get(rec.id)
        elif rec.match_key:
            match = by_name.get(rec.match_key)
        if match is None:
            ops.append(Create(line, replace(rec, id=None)))
            continue
        assert match.id is not None
        if conflicts(match, rec, carried):
            if on_conflict is OnConflict.IGNORE:
                ops.append(Skip(line, match.id, "conflict-ignored"))
                continue
            if on_conflict is OnConflict.DUPLICATE:
                ops.append(Create(line, replace(rec, id=None)))
                continue
            updated = overwritten(match, rec, carried)
            ops.append(Update(line, updated, merged=False, before=match))
        else:
            additions = {
                f: getattr(rec, f) for f in carried if getattr(rec, f) and not getattr(match, f)
            }
            if not additions:
                ops.append(Skip(line, match.id, "unchanged"))
                continue
            updated = replace(match, **additions)
            ops.append(Update(line, updated, merged=True, before=match))
        by_id[match.id] = updated
        by_name[updated.match_key] = updated
    return ops
