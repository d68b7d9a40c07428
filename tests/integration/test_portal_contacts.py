"""Contacts and groups through the API and the Contacts page (SPEC S8, S10, S14): scoped to the
account, checked whole, deleted with their memberships; used as destinations elsewhere."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store.models import GroupMember
from tests.support.portal import (
    B_NUMBER,
    B_PASSWORD,
    PortalEnv,
    accounts_db,
    bearer,
    env,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]


@pytest.fixture
def api(env: PortalEnv) -> TestClient:
    return env.client(headers=bearer(sign_in(env.client())))


@pytest.fixture
def other(env: PortalEnv) -> TestClient:
    return env.client(headers=bearer(sign_in(env.client(), B_NUMBER, B_PASSWORD)))


def new(api: TestClient, **fields: Any) -> dict[str, Any]:
    r = api.post("/api/v1/contacts", json=fields)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_contacts_crud(env: PortalEnv, api: TestClient, other: TestClient) -> None:
    luc = new(
        api,
        first_name="  Luc ",
        last_name="Bélanger",
        company="Bélanger & fils",
        mobile_phone="(819) 555-0142",
        business_phone="+1 613 555 0177 x204",
        email="Luc@Example.COM",
        notes="Rappeler\r\naprès 9 h",
    )
    assert luc["name"] == "Luc Bélanger" and luc["first_name"] == "Luc"
    assert luc["email"] == "Luc@example.com"
    assert luc["notes"] == "Rappeler\naprès 9 h"
    assert luc["mobile_phone"] == "(819) 555-0142"  # kept as typed
    acme = new(api, company="Acmé Plomberie", other_phone="4165550100")
    assert acme["name"] == "Acmé Plomberie"
    listed = api.get("/api/v1/contacts").json()["contacts"]
    assert [c["name"] for c in listed] == ["Acmé Plomberie", "Luc Bélanger"]
    got = api.get(f"/api/v1/contacts/{luc['id']}").json()
    assert got == {**luc}
    changed = api.put(
        f"/api/v1/contacts/{luc['id']}", json={"first_name": "Lucien", "last_name": "Bélanger"}
    ).json()
    assert changed["name"] == "Lucien Bélanger" and changed["mobile_phone"] == ""  # PUT replaces
    # Another account sees none of it and can change none of it.
    assert other.get("/api/v1/contacts").json()["contacts"] == []
    for method in ("get", "put", "delete"):
        kwargs: dict[str, Any] = {"json": {"first_name": "X"}} if method == "put" else {}
        r = getattr(other, method)(f"/api/v1/contacts/{luc['id']}", **kwargs)
        assert (r.status_code, r.json()["error"]) == (404, "contact-not-found"), method
    assert api.delete(f"/api/v1/contacts/{acme['id']}").status_code == 204
    assert api.get(f"/api/v1/contacts/{acme['id']}").status_code == 404
    assert [c["id"] for c in api.get("/api/v1/contacts").json()["contacts"]] == [luc["id"]]


def test_contacts_are_checked_whole(api: TestClient) -> None:
    r = api.post(
        "/api/v1/contacts",
        json={"email": "pas-une-adresse", "mobile_phone": "six-un-trois", "notes": "x" * 4001},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert sorted((f["field"], f["error"]) for f in r.json()["fields"]) == [
        ("email", "invalid-email"),
        ("first_name", "name-required"),
        ("mobile_phone", "invalid-number"),
        ("notes", "too-long"),
    ]
    r = api.post("/api/v1/contacts", json={"first_name": "A", "shoe_size": 44})
    assert r.status_code == 422
    assert api.get("/api/v1/contacts").json()["contacts"] == []


def test_search_by_first_letters_ignores_accents_and_case(api: TestClient) -> None:
    for first, last, company in (
        ("Élise", "Côté", ""),
        ("Luc", "Bélanger", "Hydro-Québec"),
        ("Marc", "Gagnon", ""),
        ("Jean-Marc", "Lebel", ""),
    ):
        new(api, first_name=first, last_name=last, company=company)
    api.post("/api/v1/groups", json={"name": "Bureau de Québec", "phone_code": "12"})

    def found(q: str) -> list[str]:
        return [c["name"] for c in api.get("/api/v1/contacts", params={"q": q}).json()["contacts"]]

    assert found("be") == ["Luc Bélanger"]
    assert found("le") == ["Jean-Marc Lebel"]
    assert found("ELI") == ["Élise Côté"]
    assert found("marc") == ["Marc Gagnon", "Jean-Marc Lebel"]
    assert found("que") == ["Luc Bélanger"]  # company words count
    assert found("luc bel") == ["Luc Bélanger"]
    assert found("agnon") == []  # first letters only
    groups = api.get("/api/v1/groups", params={"q": "queb"}).json()["groups"]
    assert [g["name"] for g in groups] == ["Bureau de Québec"]


def test_groups(env: PortalEnv, api: TestClient, other: TestClient) -> None:
    a = new(api, first_name="Élise", last_name="Côté", mobile_phone="6135550142")
    b = new(api, first_name="Marc", last_name="Gagnon")
    theirs = other.post("/api/v1/contacts", json={"first_name": "Autre"}).json()
    r = api.post(
        "/api/v1/groups",
        json={"name": " Équipe  A ", "phone_code": "4-2", "members": [a["id"], b["id"], a["id"]]},
    )
    assert r.status_code == 201, r.text
    team = r.json()
    assert (team["name"], team["phone_code"], team["members"]) == (
        "Équipe A",
        "42",
        sorted([a["id"], b["id"]]),
    )
    assert api.get(f"/api/v1/contacts/{a['id']}").json()["groups"] == [team["id"]]
    problems = {
        "taken": ({"name": "Autre", "phone_code": "42"}, ("phone_code", "phone-code-taken")),
        "letters": ({"name": "Autre", "phone_code": "4a"}, ("phone_code", "invalid-phone-code")),
        "ten digits": (
            {"name": "Autre", "phone_code": "6135550100"},
            ("phone_code", "invalid-phone-code"),
        ),
        "no name": ({"name": " ", "phone_code": "7"}, ("name", "required")),
        "foreign member": (
            {"name": "Autre", "phone_code": "7", "members": [theirs["id"]]},
            ("members", "unknown-contact"),
        ),
    }
    for case, (body, expected) in problems.items():
        r = api.post("/api/v1/groups", json=body)
        assert r.status_code == 422, case
        assert (r.json()["fields"][0]["field"], r.json()["fields"][0]["error"]) == expected, case
    # Another account may use the same code; its groups are its own.
    assert other.post("/api/v1/groups", json={"name": "Eux", "phone_code": "42"}).status_code == 201
    assert other.get(f"/api/v1/groups/{team['id']}").status_code == 404
    r = api.put(
        f"/api/v1/groups/{team['id']}",
        json={"name": "Équipe", "phone_code": "42", "members": [b["id"]]},
    )
    assert r.json()["members"] == [b["id"]]
    # Deleting a contact takes it out of its groups.
    api.delete(f"/api/v1/contacts/{b['id']}")
    assert api.get(f"/api/v1/groups/{team['id']}").json()["members"] == []
    assert api.delete(f"/api/v1/groups/{team['id']}").status_code == 204
    assert api.get("/api/v1/groups").json()["groups"] == []
    with env.store.read() as s:
        assert s.scalar(select(func.count()).select_from(GroupMember)) == 0


# ------------------------------------------------------------------------------------------------
# The page


def test_contact_page_new_edit_delete(env: PortalEnv, api: TestClient) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    page = c.get("/contacts").text
    assert "Liste de contacts" in page and "Aucun contact pour l'instant." in words(page)
    for label in (
        "Nouveau contact",
        "Nouveau groupe",
        "Modifier",
        "Supprimer",
        "Importer",
        "Exporter tout",
    ):
        assert label in page, label
    # The caller's number from the Messages page fills the new contact.
    page = c.get("/contacts?new=contact&mobile_phone=8195550177&first_name=BELANGER").text
    assert 'value="8195550177"' in page and 'value="BELANGER"' in page
    r = c.post("/contacts/contact", data={"csrf_token": csrf, "email": "x"})
    assert r.status_code == 422
    text = words(r.text)
    assert "Indiquez un prénom, un nom ou une entreprise." in text
    assert "x n'est pas une adresse de courriel comme nom@exemple.com." in text
    r = c.post(
        "/contacts/contact",
        data={
            "csrf_token": csrf,
            "first_name": "Luc",
            "last_name": "Côté",
            "home_phone": "6135550199",
        },
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/contacts")
    page = c.get("/contacts").text
    assert "Le contact est enregistré." in words(page) and "Luc Côté" in page
    (luc,) = api.get("/api/v1/contacts").json()["contacts"]
    # Edit: exactly one row checked.
    assert "Cochez un seul contact" in words(c.get("/contacts?action=edit").text)
    page = c.get(f"/contacts?action=edit&sel=c-{luc['id']}").text
    assert "Modifier le contact" in page and f'name="id" value="{luc["id"]}"' in page
    c.post(
        "/contacts/contact",
        data={"csrf_token": csrf, "id": luc["id"], "first_name": "Lucien", "last_name": "Côté"},
    )
    assert api.get(f"/api/v1/contacts/{luc['id']}").json()["first_name"] == "Lucien"
    # A group through the page.
    r = c.post(
        "/contacts/group",
        data={"csrf_token": csrf, "name": "Famille", "phone_code": "9", "members": [luc["id"]]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    (fam,) = api.get("/api/v1/groups").json()["groups"]
    assert fam["members"] == [luc["id"]]
    page = c.get(f"/contacts?action=edit&sel=g-{fam['id']}").text
    assert "Modifier le groupe" in page and f'value="{luc["id"]}" checked' in page
    # Delete asks first, then deletes both.
    sel = {"csrf_token": csrf, "sel": [f"c-{luc['id']}", f"g-{fam['id']}"]}
    page = c.post("/contacts/delete", data=sel).text
    assert "Supprimer ces contacts et groupes\u202f?" in page and "Lucien Côté" in page
    assert len(api.get("/api/v1/contacts").json()["contacts"]) == 1
    r = c.post("/contacts/delete", data={**sel, "confirm": "1"}, follow_redirects=False)
    assert r.status_code == 303
    assert api.get("/api/v1/contacts").json()["contacts"] == []
    assert api.get("/api/v1/groups").json()["groups"] == []
    assert c.post("/contacts/delete", data={"csrf_token": csrf}).status_code == 422
    assert c.post("/contacts/delete", data={"sel": "c-1", "confirm": "1"}).status_code == 403
