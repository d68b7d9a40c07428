"""Long lists come in pages (issue: lists that stay fast): Messages, Faxes, Deleted and the call
lists in the API (offset / limit / total) and in the pages (?page=N, "51–100 of 120")."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from portal.contacts.csvformats import OUTLOOK_HEADERS
from store.models import CallLogEntry, Contact, Message
from tests.support.portal import (
    A_NUMBER,
    PortalEnv,
    accounts_db,
    bearer,
    build,
    env,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]

MESSAGES = f"/api/v1/lines/{A_NUMBER}/messages"
CALLS = f"/api/v1/lines/{A_NUMBER}/calls"
T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def seed(env: PortalEnv, voice: int, heard_every: int = 3, fax: int = 0, deleted: int = 0) -> None:
    rows = []
    for i in range(voice + fax + deleted):
        kind = "fax" if voice <= i < voice + fax else "voice"
        gone = i >= voice + fax
        rows.append(
            {
                "line_number": A_NUMBER,
                "kind": kind,
                "folder": "deleted" if gone else "inbox",
                "heard": i % heard_every == 0,
                "caller_number": f"819555{i:04d}",
                "received_at": T0 + timedelta(minutes=i),
                "deleted_at": T0 + timedelta(days=1, minutes=-i) if gone else None,
                "duration_seconds": 5.0,
                "file_path": f"messages/{A_NUMBER}/{i}.wav",
            }
        )
    with env.store.transaction() as s:
        s.execute(insert(Message), rows)


def expected_inbox(env: PortalEnv, kind: str) -> list[int]:
    with env.store.read() as s:
        rows = s.query(Message).filter_by(line_number=A_NUMBER, folder="inbox", kind=kind).all()
        rows.sort(key=lambda m: (m.heard, -m.received_at.timestamp(), -m.id))
        return [m.id for m in rows]


def test_the_api_pages_the_inbox_new_first_with_its_total(env: PortalEnv) -> None:
    seed(env, voice=120, fax=7, deleted=3)
    api = env.client(headers=bearer(sign_in(env.client())))
    first = api.get(MESSAGES, params={"kind": "voice"}).json()
    assert (first["total"], first["offset"], first["limit"]) == (120, 0, 50)
    assert len(first["messages"]) == 50
    seen = []
    for offset in (0, 35, 70, 105):
        body = api.get(MESSAGES, params={"kind": "voice", "offset": offset, "limit": 35}).json()
        assert body["total"] == 120
        seen += [m["id"] for m in body["messages"]]
    assert seen == expected_inbox(env, "voice")
    # The page that straddles new and heard messages.
    new = sum(1 for i in range(120) if i % 3)
    across = api.get(MESSAGES, params={"kind": "voice", "offset": new - 2, "limit": 4}).json()
    assert [m["heard"] for m in across["messages"]] == [False, False, True, True]
    beyond = api.get(MESSAGES, params={"kind": "voice", "offset": 500}).json()
    assert beyond["messages"] == [] and beyond["total"] == 120
    faxes = api.get(MESSAGES, params={"kind": "fax", "limit": 5}).json()
    assert faxes["total"] == 7 and len(faxes["messages"]) == 5
    every = api.get(MESSAGES, params={"limit": 200}).json()
    assert every["total"] == 127 and len(every["messages"]) == 127
    assert [m["heard"] for m in every["messages"]] == sorted(m["heard"] for m in every["messages"])
    deleted = api.get(MESSAGES, params={"folder": "deleted", "limit": 2}).json()
    assert deleted["total"] == 3 and len(deleted["messages"]) == 2
    times = [m["received_at"] for m in deleted["messages"]]
    assert times == sorted(times)  # deleted most recently first: the earliest received here
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"offset": "x"}):
        assert api.get(MESSAGES, params=bad).status_code == 422


def test_the_messages_page_shows_one_page_and_where_it_stands(env: PortalEnv) -> None:
    seed(env, voice=120)
    c: TestClient = env.client()
    sign_in_page(c)
    order = expected_inbox(env, "voice")
    first = c.get("/messages").text
    ids = [int(i) for i in re.findall(r'data-id="(\d+)" data-state', first)]
    assert ids == order[:25]
    words = _words(first)
    assert "1–25 sur 120" in words and "Page 1 sur 5" in words
    assert 'href="/messages?page=2" rel="next"' in first and 'rel="prev"' not in first
    second = c.get("/messages", params={"page": "2"}).text
    assert [int(i) for i in re.findall(r'data-id="(\d+)" data-state', second)] == order[25:50]
    assert 'href="/messages?page=1" rel="prev"' in second
    assert 'href="/messages?page=3" rel="next"' in second
    last = c.get("/messages", params={"page": "99"}).text  # past the end: the last page
    assert [int(i) for i in re.findall(r'data-id="(\d+)" data-state', last)] == order[100:]
    assert "101–120 sur 120" in _words(last)
    assert c.get("/messages", params={"page": "abc"}).text.count('data-state="inbox') == 25
    c.cookies.set("relais_lang", "en")
    assert "26–50 of 120" in _words(c.get("/messages", params={"page": "2"}).text)


def test_call_lists_are_paged_with_their_total(env: PortalEnv) -> None:
    with env.store.transaction() as s:
        s.execute(
            insert(CallLogEntry),
            [
                {
                    "line_number": A_NUMBER,
                    "direction": "missed",
                    "caller_number": f"819555{i:04d}",
                    "started_at": T0 + timedelta(minutes=i),
                    "disposition": "abandoned",
                }
                for i in range(1234)
            ],
        )
    api = env.client(headers=bearer(sign_in(env.client())))
    body = api.get(CALLS, params={"direction": "missed", "offset": 1200}).json()
    assert body["total"] == 1234 and len(body["calls"]) == 34
    assert body["calls"][0]["caller_number"] == "8195550033"
    csv_lines = api.get(CALLS, params={"direction": "missed", "format": "csv"}).text.splitlines()
    assert len(csv_lines) == 1 + 1234  # the export holds every call, not one page
    c = env.client()
    sign_in_page(c)
    words = _words(c.get("/messages/missed", params={"page": "50"}).text)
    assert "1 234 appels manqués" in words and "1 226–1 234 sur 1 234" in words
    assert words.count("(819) 555-") == 9


# ------------------------------------------------------------------------------------------------
# Contacts: pages and the per-account cap


def add_contacts(env: PortalEnv, count: int, start: int = 0) -> None:
    from sqlalchemy import select

    from store.models import Account

    with env.store.transaction() as s:
        account = s.scalar(select(Account.id).where(Account.display_name == "Jeanne Tremblay"))
        s.execute(
            insert(Contact),
            [
                {
                    "account_id": account,
                    "first_name": f"Prénom{i}",
                    "last_name": f"Nom{i:04d}" if i % 10 else f"Zénon{i:04d}",
                    "mobile_phone": f"613555{i:04d}",
                }
                for i in range(start, start + count)
            ],
        )


def test_contacts_come_in_pages_in_the_api_and_the_page(env: PortalEnv) -> None:
    add_contacts(env, 130)
    api = env.client(headers=bearer(sign_in(env.client())))
    body = api.get("/api/v1/contacts", params={"limit": 50, "offset": 100}).json()
    assert (body["total"], body["offset"], body["limit"]) == (130, 100, 50)
    assert len(body["contacts"]) == 30
    names = []
    for offset in (0, 50, 100):
        names += [c["last_name"] for c in api.get(
            "/api/v1/contacts", params={"limit": 50, "offset": offset}
        ).json()["contacts"]]  # fmt: skip
    assert names == sorted(names, key=str.lower) and len(set(names)) == 130
    found = api.get("/api/v1/contacts", params={"q": "zen", "limit": 5}).json()
    assert found["total"] == 13 and len(found["contacts"]) == 5
    assert all(c["last_name"].startswith("Zénon") for c in found["contacts"])
    assert api.get("/api/v1/contacts", params={"limit": 1001}).status_code == 422

    c = env.client()
    sign_in_page(c)
    first = c.get("/contacts").text
    assert first.count('data-testid="contact-row"') == 50
    words = _words(first)
    assert "130 contacts" in words and "1–50 sur 130" in words and "Page 1 sur 3" in words
    # The group editor's list of every contact only comes when it is open.
    assert 'name="members"' not in first and 'data-open-editor="group"' not in first
    assert c.get("/contacts", params={"new": "group"}).text.count('name="members"') == 130
    third = c.get("/contacts", params={"page": "3"}).text
    assert third.count('data-testid="contact-row"') == 30
    searched = c.get("/contacts", params={"q": "zén"}).text
    assert searched.count('data-testid="contact-row"') == 13
    assert "Nom0001" not in searched and "data-search-server" in searched


def test_the_contact_cap_refuses_new_contacts_and_imports_that_pass_it(
    tmp_path: Path, env: PortalEnv
) -> None:
    small = build(tmp_path, env.store, portal_security={"max_contacts_per_account": 12})
    add_contacts(small, 10)
    api = small.client(headers=bearer(sign_in(small.client())))

    def outlook(n: int) -> bytes:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(OUTLOOK_HEADERS)
        for i in range(n):
            row = {
                "First Name": f"Ann{i}",
                "Last Name": f"Lee{i}",
                "Mobile Phone": f"81955501{i:02d}",
            }
            w.writerow([row.get(h, "") for h in OUTLOOK_HEADERS])
        return out.getvalue().encode()

    r = api.post(
        "/api/v1/contacts/import",
        files={"file": ("c.csv", outlook(3), "text/csv")},
        data={"on_conflict": "ignore"},
    )
    assert r.status_code == 422 and r.json()["error"] == "contact-limit-reached"
    assert "13" in r.json()["detail"] and "12" in r.json()["detail"]
    assert api.get("/api/v1/contacts").json()["total"] == 10  # nothing imported
    r = api.post(
        "/api/v1/contacts/import",
        files={"file": ("c.csv", outlook(2), "text/csv")},
        data={"on_conflict": "ignore"},
    )
    assert r.status_code == 200 and r.json()["created"] == 2
    r = api.post("/api/v1/contacts", json={"first_name": "Luc"})
    assert r.status_code == 409 and r.json()["error"] == "contact-limit-reached"
    # Rows that match existing contacts do not count against the cap.
    r = api.post(
        "/api/v1/contacts/import",
        files={"file": ("c.csv", outlook(2), "text/csv")},
        data={"on_conflict": "overwrite"},
    )
    assert r.status_code == 200 and r.json()["created"] == 0
    page = small.client()
    sign_in_page(page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/contacts").text)
    assert token is not None
    r = page.post("/contacts/contact", data={"csrf_token": token.group(1), "first_name": "Luc"})
    assert r.status_code == 409
    assert "la limite de 12 contacts" in _words(r.text)
    assert api.get("/api/v1/contacts").json()["total"] == 12
