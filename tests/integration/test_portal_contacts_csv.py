"""Contact files through the portal (SPEC S9 uploads, S10): real-world Outlook and Windows
Contacts files, encodings, conflict actions and the merge rule, the native round trip, formula
neutralisation, the size limit, and imports applied in one transaction."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from portal.contacts import services as contact_services
from portal.contacts.csvformats import NATIVE_HEADERS, OUTLOOK_HEADERS, VISTA_HEADERS
from store.models import Contact
from store.session import Store
from tests.support.portal import (
    B_NUMBER,
    B_PASSWORD,
    PortalEnv,
    accounts_db,
    add_accounts,
    bearer,
    build,
    env,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]

IMPORT = "/api/v1/contacts/import"
EXPORT = "/api/v1/contacts/export"


@pytest.fixture
def api(env: PortalEnv) -> TestClient:
    return env.client(headers=bearer(sign_in(env.client())))


def csv_file(
    headers: tuple[str, ...],
    rows: list[dict[str, str]],
    *,
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(headers)
    for r in rows:
        w.writerow([r.get(h, "") for h in headers])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding)


def upload(api: TestClient, data: bytes, on_conflict: str = "ignore", name: str = "c.csv") -> Any:
    return api.post(
        IMPORT, files={"file": (name, data, "text/csv")}, data={"on_conflict": on_conflict}
    )


def contacts(api: TestClient) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api.get("/api/v1/contacts").json()["contacts"]
    return result


def rows_of(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def test_outlook_file_with_bom_quoted_crlf_and_every_outlook_column(api: TestClient) -> None:
    data = csv_file(
        OUTLOOK_HEADERS,
        [
            {
                "First Name": "Élise",
                "Last Name": "Côté",
                "Company": "Hydro-Québec",
                "Job Title": "Directrice",  # a column relais has no field for: ignored
                "Business Phone": "(613) 555-0142",
                "Mobile Phone": "+1 613 555 0143",
                "Business Fax": "613-555-0144",
                "E-mail Address": "elise@example.ca",
                "E-mail 2 Address": "e.cote@bureau.example.com",
                "Notes": 'Bureau 204\r\nEntrée par la rue Bank, "porte B"',
            },
            {"First Name": "Luc", "Last Name": "Bélanger", "Home Phone": "819 555 0100"},
        ],
        bom=True,
    )
    r = upload(api, data)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["format"], report["created"], report["rejected"]) == ("outlook", 2, [])
    luc, elise = contacts(api)
    assert elise["company"] == "Hydro-Québec" and elise["fax"] == "613-555-0144"
    assert elise["email2"] == "e.cote@bureau.example.com"
    assert elise["notes"] == 'Bureau 204\r\nEntrée par la rue Bank, "porte B"'
    assert luc["home_phone"] == "819 555 0100"


def test_windows_contacts_file_in_windows_1252(api: TestClient) -> None:
    data = csv_file(
        VISTA_HEADERS,
        [
            {
                "Name": "François Lévesque",
                "E-mail Address": "fl@example.ca",
                "Home Phone": "4185550100",
            },
            {"First Name": "Hélène", "Last Name": "Gagné", "Mobile Phone": "5145550111"},
        ],
        encoding="cp1252",
    )
    r = upload(api, data)
    assert r.json()["format"] == "vista" and r.json()["created"] == 2
    names = [c["name"] for c in contacts(api)]
    assert names == ["Hélène Gagné", "François Lévesque"]


def test_malformed_rows_are_rejected_with_their_line_numbers(api: TestClient) -> None:
    text = (
        "First Name,Last Name,E-mail Address,Business Phone\r\n"
        "Ana,Roy,ana@example.ca,6135550100\r\n"
        '"Ben","Notes on\r\ntwo lines",ben@example.ca,6135550101\r\n'  # lines 3-4
        "Carl,Tétreault,pas-une-adresse,\r\n"  # line 5: bad e-mail
        "Dina,Roy,dina@example.ca\r\n"  # line 6: a field short
        ",,,\r\n"  # blank: skipped
        "Eve,Roy,eve@example.ca,six\r\n"  # line 8: bad number
        'Fay,"Roy,fay@example.ca,6135550102\r\n'  # line 9: the quote never closes
    ).encode()
    r = upload(api, text)
    report = r.json()
    assert report["created"] == 2
    assert [(x["line"], x["error"]) for x in report["rejected"]] == [
        (5, "invalid-email"),
        (6, "wrong-field-count"),
        (8, "invalid-number"),
        (9, "malformed-csv"),
    ]
    english = api.post(
        IMPORT,
        files={"file": ("c.csv", text, "text/csv")},
        data={"on_conflict": "ignore"},
        headers={"Accept-Language": "en"},
    ).json()["rejected"]
    assert english[1]["detail"] == "The line has 3 fields; the header has 4."
    assert report["rejected"][0]["detail"] == "pas-une-adresse n'est pas une adresse de courriel."
    assert sorted(c["first_name"] for c in contacts(api)) == ["Ana", "Ben"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "empty-file"),
        (b"\x00\x01\x02PK", "not-a-csv-file"),
        (b"Nom,Adresse\r\nLuc,ici\r\n", "unknown-file-format"),
        (b"\xef\xbb\xbfFirst Name,Last Name,E-mail Address\r\n\xff\xfe,x,y\r\n", "bad-encoding"),
    ],
)
def test_files_that_are_not_contact_files_change_nothing(
    api: TestClient, data: bytes, error: str
) -> None:
    r = upload(api, data)
    assert (r.status_code, r.json()["error"]) == (422, error)
    assert contacts(api) == []


def test_conflict_actions_and_the_merge_rule(api: TestClient) -> None:
    existing = {"first_name": "Luc", "last_name": "Côté", "mobile_phone": "819-555-0142"}
    header = ("First Name", "Last Name", "E-mail Address", "Mobile Phone", "Business Phone")
    conflicting = csv_file(
        header,
        [{"First Name": "LUC", "Last Name": "côté", "Mobile Phone": "4165550100"}],
    )
    results = {}
    for action in ("ignore", "duplicate", "overwrite"):
        for c in contacts(api):
            api.delete(f"/api/v1/contacts/{c['id']}")
        api.post("/api/v1/contacts", json=existing)
        report = upload(api, conflicting, action).json()
        results[action] = (
            {k: report[k] for k in ("created", "updated", "merged", "ignored", "unchanged")},
            sorted(c["mobile_phone"] for c in contacts(api)),
        )
    assert results["ignore"] == (
        {"created": 0, "updated": 0, "merged": 0, "ignored": 1, "unchanged": 0},
        ["819-555-0142"],
    )
    assert results["duplicate"] == (
        {"created": 1, "updated": 0, "merged": 0, "ignored": 0, "unchanged": 0},
        ["4165550100", "819-555-0142"],
    )
    assert results["overwrite"] == (
        {"created": 0, "updated": 1, "merged": 0, "ignored": 0, "unchanged": 0},
        ["4165550100"],
    )
    # No conflict (the same number written differently): the missing details are added.
    report = upload(
        api,
        csv_file(
            header,
            [
                {
                    "First Name": "Luc",
                    "Last Name": "Côté",
                    "Mobile Phone": "+1 (416) 555-0100",
                    "E-mail Address": "luc@example.ca",
                    "Business Phone": "6135550177",
                }
            ],
        ),
        "ignore",
    ).json()
    assert (report["merged"], report["ignored"]) == (1, 0)
    (luc,) = contacts(api)
    assert (luc["mobile_phone"], luc["email"], luc["business_phone"]) == (
        "4165550100",
        "luc@example.ca",
        "6135550177",
    )
    again = upload(api, csv_file(header, [{"First Name": "Luc", "Last Name": "Côté"}])).json()
    assert again["unchanged"] == 1
    r = upload(api, conflicting, "replace")
    assert (r.status_code, r.json()["error"]) == (422, "invalid-on-conflict")


def test_native_export_edited_in_a_spreadsheet_matches_by_id(tmp_path: Path, store: Store) -> None:
    add_accounts(store)
    env = build(tmp_path, store)
    api = env.client(headers=bearer(sign_in(env.client())))
    a = api.post(
        "/api/v1/contacts",
        json={"first_name": "Élise", "last_name": "Côté", "mobile_phone": "6135550142",
              "notes": "ligne 1\nligne 2", "email": "elise@example.ca"},
    ).json()  # fmt: skip
    b = api.post("/api/v1/contacts", json={"first_name": "Luc", "company": "=SUM(A1)"}).json()
    exported = api.get(EXPORT, params={"format": "native"})
    assert exported.headers["content-disposition"] == 'attachment; filename="contacts.csv"'
    # Importing the file as it is changes nothing.
    same = upload(api, exported.content, "overwrite").json()
    assert (same["unchanged"], same["created"], same["updated"]) == (2, 0, 0)
    rows = rows_of(exported.content)
    assert rows[0] == list(NATIVE_HEADERS)
    first = NATIVE_HEADERS.index("First Name")
    last = NATIVE_HEADERS.index("Last Name")
    for row in rows[1:]:
        if row[0] == str(a["id"]):
            row[first], row[last] = "Elise", "Côté-Roy"  # renamed in the spreadsheet
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    report = upload(api, out.getvalue().encode("utf-8"), "overwrite").json()
    assert (report["updated"], report["created"], report["unchanged"]) == (1, 0, 1)
    listed = {c["id"]: c for c in contacts(api)}
    assert set(listed) == {a["id"], b["id"]}  # matched by id: no duplicates
    assert listed[a["id"]]["name"] == "Elise Côté-Roy"
    assert listed[a["id"]]["notes"] == "ligne 1\nligne 2"
    assert listed[b["id"]]["company"] == "=SUM(A1)"  # neutralised in the file, restored here


def test_exports_in_every_format_neutralise_formulas_and_leave_groups_out(api: TestClient) -> None:
    luc = api.post(
        "/api/v1/contacts",
        json={"first_name": "=cmd|' /C calc'!A0", "last_name": "+Côté", "company": "-Plomberie",
              "notes": "@SUM(1)", "business_phone": "6135550142", "email": "luc@example.ca"},
    ).json()  # fmt: skip
    api.post(
        "/api/v1/groups", json={"name": "GroupeSecret", "phone_code": "77", "members": [luc["id"]]}
    )
    outlook = api.get(EXPORT, params={"format": "outlook"})
    assert outlook.headers["content-type"].startswith("text/csv")
    assert outlook.headers["content-disposition"] == 'attachment; filename="contacts-outlook.csv"'
    rows = rows_of(outlook.content)
    assert rows[0] == list(OUTLOOK_HEADERS)
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["First Name"] == "'=cmd|' /C calc'!A0"
    assert record["Last Name"] == "'+Côté"
    assert record["Company"] == "'-Plomberie"
    assert record["Notes"] == "'@SUM(1)"
    assert record["Business Phone"] == "6135550142"
    vista = rows_of(api.get(EXPORT, params={"format": "vista"}).content)
    assert vista[0] == list(VISTA_HEADERS)
    assert dict(zip(vista[0], vista[1], strict=True))["Name"] == "'=cmd|' /C calc'!A0 +Côté"
    for fmt in ("outlook", "vista", "native", "vcard"):
        body = api.get(EXPORT, params={"format": fmt}).content
        assert b"GroupeSecret" not in body and b"77" not in body.replace(b"0177", b"")
    vcard = api.get(EXPORT, params={"format": "vcard"})
    assert vcard.headers["content-type"].startswith("text/vcard")
    assert b"BEGIN:VCARD" in vcard.content and b"TEL;TYPE=WORK,VOICE:6135550142" in vcard.content
    r = api.get(EXPORT, params={"format": "excel"})
    assert (r.status_code, r.json()["error"]) == (422, "unknown-format")


def test_ten_thousand_rows_in_one_import(tmp_path: Path, store: Store) -> None:
    add_accounts(store)
    env = build(tmp_path, store)
    api = env.client(headers=bearer(sign_in(env.client())))
    rows = [
        {
            "First Name": f"Prénom{i}",
            "Last Name": f"Nom{i:05d}",
            "E-mail Address": f"p{i}@example.ca",
            "Mobile Phone": f"613555{i % 10000:04d}",
        }
        for i in range(10_000)
    ]
    data = csv_file(OUTLOOK_HEADERS, rows, bom=True)
    assert len(data) < 2 * 1024 * 1024
    report = upload(api, data).json()
    assert (report["created"], report["rejected"]) == (10_000, [])
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 10_000
    listed = api.get("/api/v1/contacts", params={"q": "nom09999"}).json()["contacts"]
    assert [c["email"] for c in listed] == ["p9999@example.ca"]
    # The same file again: every row matches its contact by name and nothing changes.
    again = upload(api, data, "overwrite").json()
    assert (again["unchanged"], again["created"]) == (10_000, 0)


def test_an_import_is_one_transaction(
    env: PortalEnv, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.post("/api/v1/contacts", json={"first_name": "Luc", "last_name": "Côté"})
    data = csv_file(
        ("First Name", "Last Name", "E-mail Address"),
        [
            {"First Name": "Ana", "Last Name": "Roy"},
            {"First Name": "Luc", "Last Name": "Côté", "E-mail Address": "luc@example.ca"},
        ],
    )

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    # The new contact is inserted first, then the merge fails: neither stays.
    monkeypatch.setattr(contact_services, "update", fail)
    with pytest.raises(RuntimeError):
        upload(api, data)
    assert [c["name"] for c in contacts(api)] == ["Luc Côté"]
    assert contacts(api)[0]["email"] == ""


def test_uploads_over_the_size_limit_are_refused(tmp_path: Path, env: PortalEnv) -> None:
    data = csv_file(("First Name", "Last Name", "E-mail Address"), [{"First Name": "Ana"}] * 50)
    small = build(tmp_path, env.store, portal_security={"csv_max_bytes": len(data) - 1})
    api = small.client(headers=bearer(sign_in(small.client())))
    r = upload(api, data)
    assert (r.status_code, r.json()["error"]) == (413, "file-too-large")
    assert contacts(api) == []
    c = small.client()
    csrf = sign_in_page(c)
    r = c.post(
        "/contacts/import",
        data={"csrf_token": csrf, "on_conflict": "ignore"},
        files={"file": ("c.csv", data, "text/csv")},
    )
    assert r.status_code == 413 and "Le fichier est trop volumineux" in r.text
    assert contacts(api) == []


def test_import_and_export_from_the_page(env: PortalEnv, api: TestClient) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    data = csv_file(
        ("First Name", "Last Name", "E-mail Address", "Business Phone"),
        [
            {"First Name": "Ana", "Last Name": "Roy", "Business Phone": "6135550100"},
            {"First Name": "Ben", "Last Name": "Roy", "E-mail Address": "nope"},
        ],
    )
    page = html.unescape(c.get("/contacts/import").text)
    assert "Écraser le contact" in page and "Reproduire le contact" in page
    assert "Ignorer l'entrée importée" in page
    r = c.post(
        "/contacts/import",
        data={"csrf_token": csrf, "on_conflict": "overwrite"},
        files={"file": ("c.csv", data, "text/csv")},
    )
    assert r.status_code == 200
    assert 'data-report="created">1<' in r.text and 'data-report="rejected">1<' in r.text
    assert "nope n'est pas une adresse de courriel." in html.unescape(r.text)
    assert "Ana Roy" in r.text
    assert 'data-testid="changed"' not in r.text  # nothing existed: nothing changed
    moved = csv_file(
        ("First Name", "Last Name", "E-mail Address", "Business Phone"),
        [{"First Name": "Ana", "Last Name": "Roy", "Business Phone": "6135550199"}],
    )
    r = c.post(
        "/contacts/import",
        data={"csrf_token": csrf, "on_conflict": "overwrite"},
        files={"file": ("c.csv", moved, "text/csv")},
    )
    changed = html.unescape(r.text.split('data-testid="changed"')[1].split("</table>")[0])
    assert "Contacts modifiés" in html.unescape(r.text)
    assert "<td>Ana Roy</td><td>téléphone au travail</td>" in changed
    r = c.post("/contacts/import", data={"csrf_token": csrf, "on_conflict": "ignore"})
    assert r.status_code == 422
    assert "Choisissez d'abord le fichier à importer." in html.unescape(r.text)
    page = c.get("/contacts/export").text
    for label in (
        "Compatible Outlook/Outlook Express",
        "Contacts Windows sur Vista",
        "En format natif",
    ):
        assert label in page
    r = c.get("/contacts/export", params={"format": "vista"})
    assert r.headers["content-disposition"] == 'attachment; filename="contacts-windows.csv"'
    assert "Ana" in r.content.decode("utf-8-sig")
    # The other account's export is its own.
    other = env.client(headers=bearer(sign_in(env.client(), B_NUMBER, B_PASSWORD)))
    assert "Ana" not in other.get(EXPORT, params={"format": "native"}).content.decode("utf-8-sig")


def test_overwrite_from_an_outlook_export_keeps_what_empty_cells_leave_out(
    env: PortalEnv, api: TestClient
) -> None:
    """An Outlook export without a business phone does not erase it; "-" erases on purpose;
    the report names the fields changed per contact."""
    luc = api.post(
        "/api/v1/contacts",
        json={
            "first_name": "Luc",
            "last_name": "Côté",
            "business_phone": "613-555-0177",
            "mobile_phone": "819-555-0142",
            "email": "luc@example.ca",
            "notes": "client depuis 2019",
        },
    ).json()
    ann = api.post(
        "/api/v1/contacts",
        json={
            "first_name": "Ann",
            "last_name": "Lee",
            "home_phone": "6135550111",
            "fax": "6135550112",
        },
    ).json()
    data = csv_file(
        OUTLOOK_HEADERS,
        [
            # Outlook left the business phone and the notes out: they stay.
            {
                "First Name": "Luc",
                "Last Name": "Côté",
                "Mobile Phone": "416-555-0100",
                "E-mail Address": "luc@nouveau.example",
                "Company": "Côté & fils",
            },
            # The fax cell says "-": erase it (the row also conflicts on the home phone).
            {
                "First Name": "Ann",
                "Last Name": "Lee",
                "Home Phone": "6135550999",
                "Business Fax": "-",
            },
        ],
        bom=True,
    )
    report = upload(api, data, "overwrite").json()
    assert (report["updated"], report["created"], report["rejected"]) == (2, 0, [])
    assert [(c["line"], c["contact_id"], c["name"], c["fields"]) for c in report["changes"]] == [
        (2, luc["id"], "Luc Côté", ["company", "mobile_phone", "email"]),
        (3, ann["id"], "Ann Lee", ["home_phone", "fax"]),
    ]
    after = {c["id"]: c for c in contacts(api)}
    assert after[luc["id"]]["business_phone"] == "613-555-0177"
    assert after[luc["id"]]["notes"] == "client depuis 2019"
    assert after[luc["id"]]["mobile_phone"] == "416-555-0100"
    assert (after[ann["id"]]["home_phone"], after[ann["id"]]["fax"]) == ("6135550999", "")
    # "-" on a contact that has no value is no conflict and changes nothing; under "ignore" a
    # row that would erase a value is a conflict, left out.
    again = upload(api, data, "ignore").json()
    assert (again["unchanged"], again["ignored"], again["changes"]) == (2, 0, [])
    erase = csv_file(
        OUTLOOK_HEADERS, [{"First Name": "Luc", "Last Name": "Côté", "Business Phone": "-"}]
    )
    assert upload(api, erase, "ignore").json()["ignored"] == 1
    assert {c["id"]: c for c in contacts(api)}[luc["id"]]["business_phone"] == "613-555-0177"
    french = api.post(
        IMPORT,
        files={"file": ("c.csv", erase, "text/csv")},
        data={"on_conflict": "overwrite"},
        headers={"Accept-Language": "fr"},
    ).json()
    assert french["changes"][0]["labels"] == ["téléphone au travail"]
    assert {c["id"]: c for c in contacts(api)}[luc["id"]]["business_phone"] == ""
