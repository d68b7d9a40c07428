"""SPEC S10 contact files: formats, encodings, injection, matching and conflict actions."""

from __future__ import annotations

import csv
import io

import pytest

from portal.contacts.csvformats import (
    NATIVE_HEADERS,
    OUTLOOK_HEADERS,
    VISTA_HEADERS,
    ContactRecord,
    Create,
    Format,
    OnConflict,
    Skip,
    Update,
    changed_fields,
    export_csv,
    export_vcard,
    neutralise,
    parse_csv,
    plan_import,
)

JEANNE = ContactRecord(
    id=7,
    first_name="Jeanne",
    last_name="Tremblay",
    nickname="Jo",
    company="Hydro-Québec",
    business_phone="613-555-0142",
    home_phone="",
    mobile_phone="+1 613 555 0143",
    fax="613-555-0144",
    other_phone="",
    email="jeanne@example.ca",
    email2="",
    email3="",
    notes="Appeler après 9 h\nBureau 204",
)
LUC = ContactRecord(id=9, first_name="Luc", last_name="Côté", mobile_phone="4165550100")


def rows_of(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def make_file(
    headers: tuple[str, ...], rows: list[dict[str, str]], encoding: str = "utf-8", bom: bool = False
) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(headers)
    for r in rows:
        w.writerow([r.get(h, "") for h in headers])
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" if bom else b"") + data


# -- export ------------------------------------------------------------------------------------


def test_outlook_export_uses_outlooks_headers_and_columns() -> None:
    rows = rows_of(export_csv([JEANNE], Format.OUTLOOK))
    assert tuple(rows[0]) == OUTLOOK_HEADERS
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["First Name"] == "Jeanne" and row["Last Name"] == "Tremblay"
    assert row["Business Phone"] == "613-555-0142" and row["Business Fax"] == "613-555-0144"
    assert row["E-mail Address"] == "jeanne@example.ca"
    assert row["Notes"] == "Appeler après 9 h\nBureau 204"
    assert row["Mobile Phone"] == "'+1 613 555 0143"  # neutralised: starts with +


def test_vista_export_has_name_column_and_no_ids() -> None:
    rows = rows_of(export_csv([JEANNE, LUC], Format.VISTA))
    assert tuple(rows[0]) == VISTA_HEADERS
    row = dict(zip(rows[0], rows[2], strict=True))
    assert row["Name"] == "Luc Côté" and row["Mobile Phone"] == "4165550100"
    assert "7" not in rows[1] and "Id" not in rows[0]


def test_native_export_adds_id_and_round_trips_exactly() -> None:
    data = export_csv([JEANNE, LUC], Format.NATIVE)
    assert tuple(rows_of(data)[0]) == NATIVE_HEADERS
    parsed = parse_csv(data)
    assert parsed.format is Format.NATIVE and parsed.rejected == ()
    assert [r for _, r in parsed.rows] == [JEANNE, LUC]


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1 613", "-2+3", "@SUM(A1)", "\tx"])
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    rows = rows_of(export_csv([ContactRecord(id=1, first_name="A", notes=cell)], Format.OUTLOOK))
    assert dict(zip(rows[0], rows[1], strict=True))["Notes"] == "'" + cell


def test_exports_do_not_contain_groups() -> None:
    for fmt in Format:
        header = rows_of(export_csv([JEANNE], fmt))[0]
        assert not any(
            "group" in h.lower() or ("categor" in h.lower() and fmt is not Format.OUTLOOK)
            for h in header
        )
    # Outlook's own "Categories" column stays empty.
    rows = rows_of(export_csv([JEANNE], Format.OUTLOOK))
    assert dict(zip(rows[0], rows[1], strict=True))["Categories"] == ""


def test_vcard_export() -> None:
    card = export_vcard([JEANNE]).decode("utf-8")
    assert card.startswith(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Tremblay;Jeanne;;;\r\nFN:Jeanne Tremblay\r\n"
    )
    assert (
        "TEL;TYPE=WORK,VOICE:613-555-0142" in card
        and "EMAIL;TYPE=INTERNET:jeanne@example.ca" in card
    )
    assert "NOTE:Appeler après 9 h\\nBureau 204" in card and card.endswith("END:VCARD\r\n")


# -- import ------------------------------------------------------------------------------------


def test_outlook_file_with_bom_and_crlf_inside_quotes() -> None:
    data = make_file(
        OUTLOOK_HEADERS,
        [
            {
                "First Name": "Éric",
                "Last Name": "Gagnon",
                "Business Phone": "(613) 555-0150",
                "E-mail Address": "eric@example.ca",
                "Notes": "ligne 1\r\nligne 2",
                "Job Title": "ignored",
            }
        ],
        bom=True,
    )
    parsed = parse_csv(data)
    assert parsed.format is Format.OUTLOOK and parsed.rejected == ()
    ((line, rec),) = parsed.rows
    assert line == 2
    assert (rec.first_name, rec.last_name, rec.business_phone) == (
        "Éric",
        "Gagnon",
        "(613) 555-0150",
    )
    assert rec.notes == "ligne 1\r\nligne 2" and rec.id is None


def test_windows_1252_vista_file_and_name_only_rows() -> None:
    data = make_file(
        VISTA_HEADERS,
        [
            {
                "First Name": "Hélène",
                "Last Name": "Bédard",
                "Name": "Hélène Bédard",
                "E-mail Address": "hb@example.ca",
            },
            {"Name": "Marc-André Roy", "Home Phone": "819 555 0101"},
        ],
        encoding="cp1252",
    )
    parsed = parse_csv(data)
    assert parsed.format is Format.VISTA
    assert [(r.first_name, r.last_name) for _, r in parsed.rows] == [
        ("Hélène", "Bédard"),
        ("Marc-André", "Roy"),
    ]


def test_bad_rows_are_rejected_with_their_line_numbers() -> None:
    text = (
        "\ufeffId,First Name,Last Name,Nickname,Company,Business Phone,Home Phone,Mobile Phone,"
        "Business Fax,Other Phone,E-mail Address,E-mail 2 Address,E-mail 3 Address,Notes\r\n"
        ",Ana,Silva,,,,,,,,ana@example.ca,,,\r\n"
        ",Bad,Mail,,,,,,,,not-an-address,,,\r\n"
        "x1,Bad,Id,,,,,,,,,,,\r\n"
        ",Too,Few\r\n"
        ",,,,,,,,,,,,,\r\n"  # empty row: skipped silently
        ",,,,,613-555-0100,,,,,,,,\r\n"
        ",Phone,Bad,,,call me,,,,,,,,\r\n"
        ',Zoé,Ng,,,,,,,,,,,"two\r\nlines"\r\n'
    ).encode("utf-8")
    parsed = parse_csv(text)
    assert [(line, r.full_name) for line, r in parsed.rows] == [(2, "Ana Silva"), (9, "Zoé Ng")]
    assert [(r.line, r.reason) for r in parsed.rejected] == [
        (3, "invalid e-mail address 'not-an-address'"),
        (4, "invalid Id 'x1'"),
        (5, "the row has 3 fields, the header has 14"),
        (7, "the row has no name (first name, last name, nickname or company)"),
        (8, "invalid phone number 'call me' in business phone"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"Name,Phone\r\nA,1\r\n", "unknown file format"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "the file is not a CSV text file"),
        (b"\xef\xbb\xbfFirst Name,\xff\xfe", "the file says it is UTF-8 but is not"),
    ],
)
def test_files_that_are_not_contact_exports_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_csv(data)
    assert str(err.value).startswith(message)


# -- matching and conflict actions --------------------------------------------------------------


def outlook(rows: list[dict[str, str]]) -> bytes:
    return make_file(OUTLOOK_HEADERS, rows)


EXISTING = [
    ContactRecord(id=1, first_name="Jeanne", last_name="Tremblay", business_phone="6135550142"),
    ContactRecord(id=2, first_name="Luc", last_name="Côté", email="luc@example.ca"),
]


def test_no_conflict_merges_missing_details() -> None:
    parsed = parse_csv(
        outlook(
            [
                {
                    "First Name": "jeanne",
                    "Last Name": "TREMBLAY",
                    "Mobile Phone": "6135550199",
                    "Business Phone": "6135550142",
                }
            ]
        )
    )
    (op,) = plan_import(EXISTING, parsed, OnConflict.IGNORE)
    assert isinstance(op, Update) and op.merged
    assert op.record.id == 1 and op.record.mobile_phone == "6135550199"
    assert op.record.first_name == "Jeanne"  # the existing name is kept


def test_same_number_written_differently_is_not_a_conflict() -> None:
    parsed = parse_csv(
        outlook(
            [
                {
                    "First Name": "Jeanne",
                    "Last Name": "Tremblay",
                    "Business Phone": "+1 (613) 555-0142",
                }
            ]
        )
    )
    assert plan_import(EXISTING, parsed, OnConflict.IGNORE) == [Skip(2, 1, "unchanged")]


def test_identical_row_changes_nothing() -> None:
    parsed = parse_csv(
        outlook([{"First Name": "Luc", "Last Name": "Côté", "E-mail Address": "luc@example.ca"}])
    )
    assert plan_import(EXISTING, parsed, OnConflict.OVERWRITE) == [Skip(2, 2, "unchanged")]


@pytest.mark.parametrize("action", list(OnConflict))
def test_conflict_actions(action: OnConflict) -> None:
    parsed = parse_csv(
        outlook(
            [
                {
                    "First Name": "Luc",
                    "Last Name": "Côté",
                    "E-mail Address": "luc@new.example",
                    "Home Phone": "6135550111",
                }
            ]
        )
    )
    (op,) = plan_import(EXISTING, parsed, action)
    if action is OnConflict.IGNORE:
        assert op == Skip(2, 2, "conflict-ignored")
    elif action is OnConflict.DUPLICATE:
        assert (
            isinstance(op, Create) and op.record.email == "luc@new.example" and op.record.id is None
        )
    else:
        assert isinstance(op, Update) and not op.merged and op.record.id == 2
        assert (op.record.email, op.record.home_phone) == ("luc@new.example", "6135550111")


def test_native_file_matches_by_id_even_after_a_rename() -> None:
    exported = export_csv(EXISTING, Format.NATIVE)
    edited = exported.replace(b"Jeanne", b"Jeannette")
    ops = plan_import(EXISTING, parse_csv(edited), OnConflict.OVERWRITE)
    assert (
        isinstance(ops[0], Update)
        and ops[0].record.id == 1
        and ops[0].record.first_name == "Jeannette"
    )
    assert ops[1] == Skip(3, 2, "unchanged")


def test_native_id_unknown_to_the_account_creates_a_contact() -> None:
    data = export_csv(
        [ContactRecord(id=99, first_name="Jeanne", last_name="Tremblay")], Format.NATIVE
    )
    (op,) = plan_import(EXISTING, parse_csv(data), OnConflict.OVERWRITE)
    assert isinstance(op, Create)  # matched by Id only: a native file never falls back to names


def test_unmatched_rows_are_created() -> None:
    parsed = parse_csv(outlook([{"First Name": "Nouveau", "Last Name": "Contact"}]))
    assert plan_import(EXISTING, parsed, OnConflict.IGNORE) == [
        Create(2, ContactRecord(first_name="Nouveau", last_name="Contact"))
    ]


def test_overwrite_keeps_values_of_empty_cells_and_erases_only_on_clear() -> None:
    rows = [
        {"First Name": "Jeanne", "Last Name": "Tremblay", "Mobile Phone": "8195550100",
         "E-mail Address": "j@example.ca", "Business Phone": ""},
        {"First Name": "Luc", "Last Name": "Côté", "E-mail Address": "-", "Notes": "'-"},
    ]  # fmt: skip
    jeanne, luc = plan_import(EXISTING, parse_csv(outlook(rows)), OnConflict.OVERWRITE)
    # No conflict for Jeanne: details added (merge), the business phone stays.
    assert isinstance(jeanne, Update) and jeanne.merged
    assert (jeanne.record.business_phone, jeanne.record.mobile_phone) == (
        "6135550142", "8195550100",
    )  # fmt: skip
    # "-" erases Luc's e-mail (a conflict); "'-" is the neutralised text "-", kept as a value.
    assert isinstance(luc, Update) and not luc.merged
    assert (luc.record.email, luc.record.notes) == ("", "-")
    assert luc.before is not None
    assert changed_fields(luc.before, luc.record) == ["email", "notes"]
    ignored = plan_import(EXISTING, parse_csv(outlook(rows[1:])), OnConflict.IGNORE)
    assert ignored == [Skip(2, 2, "conflict-ignored")]
