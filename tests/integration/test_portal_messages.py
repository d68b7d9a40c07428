"""Messages, faxes, calls and Deleted in the API and the pages (SPEC S8, S12, S14): lists in the
account's time zone with contact names, heard/new, delete, restore, purge (row then file),
every change with its events in the same transaction, files with HTTP ranges."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store.models import Account, CallLogEntry, Contact, Message, OutboxEvent
from store.session import Store
from tests.support.deposit import deposit, wav_bytes
from tests.support.portal import (
    A_NUMBER,
    A_SECOND,
    B_NUMBER,
    B_PASSWORD,
    PortalEnv,
    accounts_db,
    add_accounts,
    bearer,
    build,
    env,
    page_csrf,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]

MESSAGES = f"/api/v1/lines/{A_NUMBER}/messages"


@pytest.fixture
def api(env: PortalEnv) -> TestClient:
    return env.client(headers=bearer(sign_in(env.client())))


def account_id(store: Store, name: str = "Jeanne Tremblay") -> int:
    with store.read() as s:
        return int(s.scalar(select(Account.id).where(Account.display_name == name)))


def add_contact(store: Store, **fields: str) -> int:
    with store.transaction() as s:
        c = Contact(account_id=account_id(store), **fields)
        s.add(c)
        s.flush()
        return c.id


def events(store: Store, after: int = 0) -> list[dict[str, Any]]:
    with store.read() as s:
        return [
            r.payload
            for r in s.scalars(
                select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id)
            )
        ]


def last_event_row(store: Store) -> int:
    with store.read() as s:
        return int(s.scalar(select(func.max(OutboxEvent.id))) or 0)


# ------------------------------------------------------------------------------------------------
# Lists


def test_inbox_lists_new_first_with_contact_names_in_the_account_time_zone(
    env: PortalEnv, api: TestClient
) -> None:
    add_contact(env.store, first_name="Élise", last_name="Côté", business_phone="613-555-0142")
    t0 = datetime(2026, 9, 20, 17, 42, tzinfo=UTC)  # 13:42 in Toronto (EDT)
    heard = deposit(env.store, env.files, A_NUMBER, received_at=t0 + timedelta(hours=2))
    with env.store.transaction() as s:
        s.get(Message, heard.message_id).heard = True  # type: ignore[union-attr]
    old_new = deposit(env.store, env.files, A_NUMBER, received_at=t0, urgent=True)
    new_new = deposit(
        env.store, env.files, A_NUMBER, received_at=t0 + timedelta(hours=1),
        caller_number="8195550177", caller_name="BELANGER LUC", private=True,
    )  # fmt: skip
    anonymous = deposit(
        env.store, env.files, A_NUMBER, received_at=t0 - timedelta(days=1), caller_number=None,
        caller_name=None,
    )  # fmt: skip
    fax = deposit(env.store, env.files, A_NUMBER, kind="fax", received_at=t0)
    deposit(env.store, env.files, A_SECOND, received_at=t0)  # the other line's mailbox

    body = api.get(MESSAGES, params={"kind": "voice"}, headers={"Accept-Language": "fr"}).json()
    ids = [m["id"] for m in body["messages"]]
    assert ids == [new_new.message_id, old_new.message_id, anonymous.message_id, heard.message_id]
    first, second, anon, _ = body["messages"]
    assert first["display_name"] == "(819) 555-0177" and first["contact_id"] is None
    assert first["caller_name"] == "BELANGER LUC" and first["private"] is True
    assert second["display_name"] == "Élise Côté" and second["urgent"] is True
    assert second["received_local"] == "dim. 20 sept., 13 h 42"
    assert second["duration_seconds"] == 12.0
    assert second["audio_url"] == f"{MESSAGES}/{old_new.message_id}/audio"
    assert second["waveform_url"] == f"{MESSAGES}/{old_new.message_id}/waveform"
    assert anon["display_name"] == "Appelant anonyme" and anon["caller_number"] is None
    assert body["counts"] == {
        "voice_new": 3,
        "voice_old": 1,
        "voice_urgent_new": 1,
        "fax_new": 1,
        "fax_old": 0,
        "deleted": 0,
        "used_seconds": 48.0,
        "limit_seconds": 3600,
    }
    english = api.get(MESSAGES, params={"kind": "voice"}, headers={"Accept-Language": "en"}).json()[
        "messages"
    ]
    assert english[1]["received_local"] == "Sun, Sep 20, 1:42 p.m."
    assert english[2]["display_name"] == "Anonymous caller"
    faxes = api.get(MESSAGES, params={"kind": "fax"}).json()["messages"]
    assert [(m["id"], m["pages"], m["pdf_url"]) for m in faxes] == [
        (fax.message_id, 2, f"{MESSAGES}/{fax.message_id}/pdf")
    ]
    assert (faxes[0]["fax_status"], faxes[0]["fax_remote_ident"], faxes[0]["fax_bit_rate"]) == (
        None,
        None,
        0,
    )
    with env.store.transaction() as s:
        row = s.get(Message, fax.message_id)
        assert row is not None
        row.fax_status, row.fax_remote_ident, row.fax_bit_rate = "partial", "+1 819 555 0142", 9600
    one = api.get(f"{MESSAGES}/{fax.message_id}").json()
    assert (one["fax_status"], one["fax_remote_ident"], one["fax_bit_rate"]) == (
        "partial",
        "+1 819 555 0142",
        9600,
    )
    listed = api.get(MESSAGES, params={"kind": "fax"}).json()["messages"][0]
    assert (listed["fax_status"], listed["fax_bit_rate"]) == ("partial", 9600)
    both = api.get(MESSAGES).json()["messages"]
    assert {m["kind"] for m in both} == {"voice", "fax"} and len(both) == 5


def test_messages_of_other_lines_and_accounts_do_not_exist(env: PortalEnv, api: TestClient) -> None:
    mine = deposit(env.store, env.files, A_NUMBER)
    theirs = deposit(env.store, env.files, B_NUMBER)
    second = deposit(env.store, env.files, A_SECOND)
    for path in (
        f"{MESSAGES}/{theirs.message_id}",
        f"{MESSAGES}/{theirs.message_id}/audio",
        f"{MESSAGES}/{second.message_id}/waveform",
        f"/api/v1/lines/{A_NUMBER}/messages/999999",
    ):
        r = api.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"] == "message-not-found"
    assert api.patch(f"{MESSAGES}/{theirs.message_id}", json={"heard": True}).status_code == 404
    assert api.delete(f"{MESSAGES}/{theirs.message_id}").status_code == 404
    # Another account's line itself does not exist for this session.
    r = api.get(f"/api/v1/lines/{B_NUMBER}/messages")
    assert (r.status_code, r.json()["error"]) == (404, "line-not-found")
    r = api.get(f"/api/v1/lines/{B_NUMBER}/messages/{theirs.message_id}/audio")
    assert r.status_code == 404
    # The secondary line of the same account is reachable by its own path.
    r = api.get(f"/api/v1/lines/{A_SECOND}/messages/{second.message_id}")
    assert r.status_code == 200
    with env.store.read() as s:
        assert s.get(Message, theirs.message_id).heard is False  # type: ignore[union-attr]
    assert api.get(f"{MESSAGES}/{mine.message_id}").status_code == 200


# ------------------------------------------------------------------------------------------------
# Changes and their events


def test_heard_new_delete_restore_write_their_events_in_one_transaction(
    tmp_path: Path, store: Store
) -> None:
    add_accounts(store)
    env = build(tmp_path, store)
    api = env.client(headers=bearer(sign_in(env.client())))
    m = deposit(env.store, env.files, A_NUMBER, urgent=True)
    before = last_event_row(store)
    r = api.patch(f"{MESSAGES}/{m.message_id}", json={"heard": True})
    assert r.status_code == 200 and r.json()["heard"] is True
    changed, counts = events(store, before)
    assert (changed["type"], changed["change"], changed["heard"]) == (
        "message.changed",
        "heard",
        True,
    )
    assert changed["message_id"] == m.message_id and changed["line"] == A_NUMBER
    assert counts["type"] == "mailbox.counts"
    assert (counts["voice_new"], counts["voice_old"], counts["voice_urgent_old"]) == (0, 1, 1)
    # Nothing changes, nothing is written.
    before = last_event_row(store)
    assert api.patch(f"{MESSAGES}/{m.message_id}", json={"heard": True}).status_code == 200
    assert events(store, before) == []
    # Delete (and mark new at once): two message.changed events, one mailbox.counts.
    r = api.patch(f"{MESSAGES}/{m.message_id}", json={"heard": False, "folder": "deleted"})
    assert r.json()["folder"] == "deleted"
    assert [(e["type"], e.get("change")) for e in events(store, before)] == [
        ("message.changed", "new"),
        ("message.changed", "deleted"),
        ("mailbox.counts", None),
    ]
    assert api.get(MESSAGES).json()["counts"]["deleted"] == 1
    assert api.get(MESSAGES, params={"folder": "deleted"}).json()["messages"][0]["id"] == (
        m.message_id
    )
    before = last_event_row(store)
    api.patch(f"{MESSAGES}/{m.message_id}", json={"folder": "inbox"})
    assert [e.get("change") for e in events(store, before)] == ["restored", None]
    with store.read() as s:
        row = s.get(Message, m.message_id)
        assert row is not None and row.folder == "inbox" and row.deleted_at is None
    r = api.patch(f"{MESSAGES}/{m.message_id}", json={"folder": "elsewhere"})
    assert r.status_code == 422
    r = api.patch(f"{MESSAGES}/{m.message_id}", json={"heard": True, "starred": True})
    assert r.status_code == 422


def test_purge_removes_the_row_then_the_file_and_frees_the_space(
    tmp_path: Path, store: Store
) -> None:
    add_accounts(store)
    env = build(tmp_path, store)
    api = env.client(headers=bearer(sign_in(env.client())))
    keep = deposit(env.store, env.files, A_NUMBER, duration=30)
    gone = deposit(env.store, env.files, A_NUMBER, duration=20)
    with store.read() as s:
        path = env.files.path(s.get(Message, gone.message_id).file_path)  # type: ignore[union-attr]
    assert path.is_file()
    r = api.delete(f"{MESSAGES}/{gone.message_id}")
    assert (r.status_code, r.json()["error"]) == (409, "message-not-deleted")
    assert path.is_file()
    api.patch(f"{MESSAGES}/{gone.message_id}", json={"folder": "deleted"})
    assert api.get(f"/api/v1/lines/{A_NUMBER}/usage").json()["used_seconds"] == 50.0
    before = last_event_row(store)
    assert api.delete(f"{MESSAGES}/{gone.message_id}").status_code == 204
    assert not path.exists()
    with store.read() as s:
        assert s.get(Message, gone.message_id) is None
    purged, counts = events(store, before)
    assert (purged["change"], purged["message_id"]) == ("purged", gone.message_id)
    assert counts["used_seconds"] == 30.0
    assert api.get(f"/api/v1/lines/{A_NUMBER}/usage").json()["used_seconds"] == 30.0
    assert api.get(f"{MESSAGES}/{gone.message_id}").status_code == 404
    assert api.get(f"{MESSAGES}/{keep.message_id}/audio").status_code == 200


def test_delete_all_and_purge_all(env: PortalEnv, api: TestClient) -> None:
    voices = [deposit(env.store, env.files, A_NUMBER) for _ in range(3)]
    fax = deposit(env.store, env.files, A_NUMBER, kind="fax")
    r = api.post(f"{MESSAGES}/delete-all", params={"kind": "voice"})
    assert r.json() == {"count": 3}
    counts = api.get(MESSAGES).json()["counts"]
    assert (counts["voice_new"], counts["fax_new"], counts["deleted"]) == (0, 1, 3)
    with env.store.read() as s:
        paths = [
            env.files.path(s.get(Message, v.message_id).file_path)  # type: ignore[union-attr]
            for v in voices
        ]
    before = last_event_row(env.store)
    assert api.post(f"{MESSAGES}/purge-all").json() == {"count": 3}
    assert not any(p.exists() for p in paths)
    kinds = [(e["type"], e.get("change")) for e in events(env.store, before)]
    assert kinds == [("message.changed", "purged")] * 3 + [("mailbox.counts", None)]
    assert api.get(MESSAGES).json()["counts"]["deleted"] == 0
    assert api.get(f"{MESSAGES}/{fax.message_id}").json()["folder"] == "inbox"
    assert api.post(f"{MESSAGES}/purge-all").json() == {"count": 0}


def test_portal_sign_in_counts_as_mailbox_access(env: PortalEnv) -> None:
    before = last_event_row(env.store)
    sign_in(env.client())
    accessed = [e for e in events(env.store, before) if e["type"] == "mailbox.accessed"]
    assert sorted((e["line"], e["via"]) for e in accessed) == [
        (A_NUMBER, "portal"),
        (A_SECOND, "portal"),
    ]


# ------------------------------------------------------------------------------------------------
# Files: WAV with ranges, PDF, waveform


def test_audio_supports_ranges(env: PortalEnv, api: TestClient) -> None:
    data = wav_bytes(1.0)
    m = deposit(env.store, env.files, A_NUMBER, data=data, caller_number="6135550142")
    url = f"{MESSAGES}/{m.message_id}/audio"
    size = len(data)
    full = api.get(url)
    assert full.status_code == 200
    assert full.content == data
    assert full.headers["content-type"] == "audio/wav"
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-disposition"].startswith('inline; filename="message-')
    r = api.get(url, headers={"Range": "bytes=0-99"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 0-99/{size}"
    assert r.headers["content-length"] == "100" and r.content == data[:100]
    r = api.get(url, headers={"Range": "bytes=4000-"})
    assert (r.status_code, r.content) == (206, data[4000:])
    assert r.headers["content-range"] == f"bytes 4000-{size - 1}/{size}"
    r = api.get(url, headers={"Range": "bytes=-500"})  # suffix: the last 500 bytes
    assert (r.status_code, r.content) == (206, data[-500:])
    assert r.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"
    r = api.get(url, headers={"Range": f"bytes=-{size * 3}"})
    assert (r.status_code, r.content) == (206, data)
    r = api.get(url, headers={"Range": f"bytes=100-{size * 2}"})
    assert r.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    for unsatisfiable in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        r = api.get(url, headers={"Range": unsatisfiable})
        assert r.status_code == 416, unsatisfiable
        assert r.headers["content-range"] == f"bytes */{size}"
        assert r.json()["error"] == "range-not-satisfiable"
    # Ranges the server does not use are ignored: the whole file.
    for ignored in ("items=0-5", "bytes=0-5,10-20", "bytes=9-3", "bytes=abc"):
        r = api.get(url, headers={"Range": ignored})
        assert (r.status_code, len(r.content)) == (200, size), ignored
    head = api.head(url, headers={"Range": "bytes=0-9"})
    assert (head.status_code, head.headers["content-range"], head.content) == (
        206,
        f"bytes 0-9/{size}",
        b"",
    )
    assert api.head(url).headers["content-length"] == str(size)
    r = api.get(url, headers={"Range": "bytes=0-9", "If-Range": full.headers["etag"]})
    assert r.status_code == 206
    r = api.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert r.status_code == 200
    download = api.get(url, params={"download": "true"})
    assert download.headers["content-disposition"] == (
        'attachment; filename="message-{}-6135550142.wav"'.format(
            m.committed_at.astimezone(__import__("zoneinfo").ZoneInfo("America/Toronto")).strftime(
                "%Y%m%d-%H%M"
            )
        )
    )
    # A fax has no audio; a voice message has no PDF.
    fax = deposit(env.store, env.files, A_NUMBER, kind="fax")
    assert api.get(f"{MESSAGES}/{fax.message_id}/audio").json()["error"] == "not-a-voice-message"
    assert api.get(f"{MESSAGES}/{m.message_id}/pdf").json()["error"] == "not-a-fax"


def test_fax_pdf_and_waveform(env: PortalEnv, api: TestClient) -> None:
    fax = deposit(env.store, env.files, A_NUMBER, kind="fax")
    r = api.get(f"{MESSAGES}/{fax.message_id}/pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline;")
    assert r.content == fax.data
    # Reading the PDF marks the fax read; HEAD does not; the download has the fax's name.
    with env.store.read() as s:
        assert s.get(Message, fax.message_id).heard  # type: ignore[union-attr]
    other = deposit(env.store, env.files, A_NUMBER, kind="fax")
    assert api.head(f"{MESSAGES}/{other.message_id}/pdf").status_code == 200
    with env.store.read() as s:
        assert not s.get(Message, other.message_id).heard  # type: ignore[union-attr]
    r = api.get(f"{MESSAGES}/{other.message_id}/pdf", params={"download": "true"})
    assert r.headers["content-disposition"].startswith("attachment;")
    assert 'filename="fax-' in r.headers["content-disposition"]
    assert r.headers["content-disposition"].endswith('.pdf"')
    voice = deposit(env.store, env.files, A_NUMBER, data=wav_bytes(2.0))
    r = api.get(f"{MESSAGES}/{voice.message_id}/waveform")
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.text.startswith("<svg") and r.text.count("<rect") == 120
    # A missing file is reported, not a server error.
    with env.store.read() as s:
        rel = s.get(Message, voice.message_id).file_path  # type: ignore[union-attr]
    env.files.remove(rel)
    r = api.get(f"{MESSAGES}/{voice.message_id}/audio")
    assert (r.status_code, r.json()["error"]) == (410, "file-missing")


# ------------------------------------------------------------------------------------------------
# Calls


def test_calls_with_contact_names_and_a_csv_export_that_neutralises_formulas(
    env: PortalEnv, api: TestClient
) -> None:
    add_contact(env.store, first_name="Luc", last_name="Bélanger", mobile_phone="(819) 555-0177")
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    with env.store.transaction() as s:
        for i, (direction, number, name, disposition) in enumerate(
            [
                ("missed", "8195550177", None, "voicemail"),
                ("missed", "5145550199", '=HYPERLINK("http://x")', "abandoned"),
                ("missed", None, None, "rejected"),
                ("received", "6135550142", "+CMD", "answered"),
            ]
        ):
            s.add(
                CallLogEntry(
                    line_number=A_NUMBER,
                    direction=direction,
                    caller_number=number,
                    caller_name=name,
                    started_at=t0 + timedelta(minutes=i),
                    duration_seconds=65.4,
                    disposition=disposition,
                )
            )
        s.add(
            CallLogEntry(
                line_number=B_NUMBER, direction="missed", caller_number="1", disposition="abandoned"
            )
        )
    calls = api.get(f"/api/v1/lines/{A_NUMBER}/calls", params={"direction": "missed"}).json()
    assert [c["caller_number"] for c in calls["calls"]] == [None, "5145550199", "8195550177"]
    assert calls["calls"][2]["display_name"] == "Luc Bélanger"
    assert calls["calls"][2]["started_local"] == "lun. 2 mars, 10 h 00"
    received = api.get(f"/api/v1/lines/{A_NUMBER}/calls?direction=received").json()["calls"]
    assert [(c["caller_number"], c["disposition"]) for c in received] == [
        ("6135550142", "answered")
    ]
    r = api.get(
        f"/api/v1/lines/{A_NUMBER}/calls",
        params={"direction": "missed", "format": "csv"},
        headers={"Accept-Language": "en"},
    )
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="missed-calls-{A_NUMBER}.csv"'
    )
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content[3:].decode(), newline="")))
    assert rows[0] == ["Date", "Number", "Name", "Contact", "Duration (s)", "Result"]
    assert rows[1] == ["2026-03-02 10:02:00", "Anonymous caller", "", "", "65", "rejected"]
    assert rows[2][2] == '\'=HYPERLINK("http://x")'  # neutralised
    assert rows[3][:4] == ["2026-03-02 10:00:00", "8195550177", "", "Luc Bélanger"]
    assert b"\r\n" in r.content
    rec = api.get(f"/api/v1/lines/{A_NUMBER}/calls?direction=received&format=csv").text
    assert "'+CMD" in rec
    assert api.get(f"/api/v1/lines/{A_NUMBER}/calls?direction=other").status_code == 422
    assert api.get(f"/api/v1/lines/{B_NUMBER}/calls").status_code == 404


# ------------------------------------------------------------------------------------------------
# Pages


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_pages_list_each_tab_and_hide_forwarding_of_private_messages(env: PortalEnv) -> None:
    c = env.client()
    sign_in_page(c)
    add_contact(env.store, first_name="Élise", last_name="Côté", mobile_phone="6135550142")
    public = deposit(env.store, env.files, A_NUMBER, urgent=True)
    private = deposit(env.store, env.files, A_NUMBER, private=True, caller_number="8195550177")
    fax = deposit(env.store, env.files, A_NUMBER, kind="fax")
    page = c.get("/messages").text
    words = _words(page)
    assert "2 nouveaux messages" in words
    assert 'data-count="voice-new">2<' in page and 'data-count="fax-new">1<' in page
    for label in ("Télécopies", "Manqués", "Reçus", "Supprimés", "Nouveau message vocal"):
        assert label in words
    assert "Urgent !" in words and "Privé" in words
    assert f'href="/messages/{public.message_id}/email"' in page
    assert f'href="/messages/{public.message_id}/voicemail"' in page
    assert f'href="/messages/{private.message_id}/email"' not in page
    assert f'href="/messages/{private.message_id}/voicemail"' not in page
    assert f'href="/messages/{private.message_id}/reply"' in page
    assert "Élise Côté" in words
    # The unknown caller's number opens "add to contacts" with the number filled in.
    assert 'href="/contacts?new=contact&amp;mobile_phone=8195550177' in page
    assert f'src="{MESSAGES}/{public.message_id}/waveform"' in page
    faxes = c.get("/messages/faxes").text
    assert f'href="{MESSAGES}/{fax.message_id}/pdf" target="_blank"' in faxes
    assert "Renvoyer comme télécopie" in _words(faxes)
    assert "Aucun appel manqué." not in _words(c.get("/messages/missed").text)  # deposits log
    assert "Aucun appel reçu." in _words(c.get("/messages/received").text)
    assert "Supprimés est vide." in _words(c.get("/messages/deleted").text)
    c.cookies.set("relais_lang", "en")
    assert "New voice message" in _words(c.get("/messages").text)


def test_page_actions_need_the_csrf_token_and_change_the_counts(env: PortalEnv) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    m = deposit(env.store, env.files, A_NUMBER)
    common = {"csrf_token": csrf, "line": A_NUMBER, "next": "/messages"}
    r = c.post(f"/messages/{m.message_id}/heard", data={"line": A_NUMBER, "heard": "1"})
    assert r.status_code == 403
    r = c.post(
        f"/messages/{m.message_id}/heard", data={**common, "heard": "1"}, follow_redirects=False
    )
    assert (r.status_code, r.headers["location"]) == (303, "/messages")
    page = c.get("/messages").text
    assert "Le message est marqué comme écouté." in html.unescape(page)
    assert 'data-count="voice-new"' not in page
    c.post(f"/messages/{m.message_id}/delete", data=common)
    assert 'data-count="deleted">1<' in c.get("/messages").text
    deleted = c.get("/messages/deleted").text
    assert f'formaction="/messages/{m.message_id}/restore"' in deleted
    c.post(f"/messages/{m.message_id}/restore", data=common)
    c.post("/messages/delete-all", data={**common, "kind": "voice"})
    assert "1 élément supprimé" in _words(c.get("/messages/deleted").text)
    c.post(f"/messages/{m.message_id}/purge", data=common)
    with env.store.read() as s:
        assert s.get(Message, m.message_id) is None
    # Another account's message through the page routes: not found, unchanged.
    other = deposit(env.store, env.files, B_NUMBER)
    r = c.post(f"/messages/{other.message_id}/delete", data=common)
    assert r.status_code == 404
    # A form for a line of another account is refused.
    r = c.post(f"/messages/{m.message_id}/heard", data={**common, "line": B_NUMBER})
    assert r.status_code == 404
    with env.store.read() as s:
        assert s.get(Message, other.message_id).folder == "inbox"  # type: ignore[union-attr]
    # B signs in and sees its own message only.
    b = env.client()
    page_csrf(b.get("/login").text)
    sign_in_page(b, B_NUMBER, B_PASSWORD)
    assert f'data-id="{other.message_id}"' in b.get("/messages").text


def test_the_openapi_document_covers_messages_calls_contacts_and_events(env: PortalEnv) -> None:
    doc = env.client().get("/api/v1/openapi.json").json()
    expected = {
        "/api/v1/lines/{n}/messages": {"get", "post"},
        "/api/v1/lines/{n}/messages/{message_id}": {"get", "patch", "delete"},
        "/api/v1/lines/{n}/messages/{message_id}/audio": {"get"},
        "/api/v1/lines/{n}/messages/{message_id}/pdf": {"get"},
        "/api/v1/lines/{n}/messages/{message_id}/forward": {"post"},
        "/api/v1/lines/{n}/messages/{message_id}/reply": {"post"},
        "/api/v1/lines/{n}/calls": {"get"},
        "/api/v1/lines/{n}/events": {"get"},
        "/api/v1/contacts": {"get", "post"},
        "/api/v1/contacts/{contact_id}": {"get", "put", "delete"},
        "/api/v1/contacts/import": {"post"},
        "/api/v1/contacts/export": {"get"},
        "/api/v1/groups": {"get", "post"},
        "/api/v1/groups/{group_id}": {"get", "put", "delete"},
    }
    for path, methods in expected.items():
        assert methods <= set(doc["paths"][path]), path
    forward = doc["paths"]["/api/v1/lines/{n}/messages/{message_id}/forward"]["post"]
    assert set(forward["requestBody"]["content"]) == {"application/json", "multipart/form-data"}


def test_calls_list_the_numbers_that_answered_without_pressing_1(
    env: PortalEnv, api: TestClient
) -> None:
    with env.store.transaction() as s:
        s.add(
            CallLogEntry(
                line_number=A_NUMBER,
                direction="missed",
                caller_number="8195550177",
                disposition="voicemail",
                not_accepted=["6135557000"],
            )
        )
        s.add(
            CallLogEntry(
                line_number=A_NUMBER,
                direction="missed",
                caller_number="8195550178",
                disposition="abandoned",
            )
        )
    calls = api.get(f"/api/v1/lines/{A_NUMBER}/calls", params={"direction": "missed"}).json()
    assert [c["not_accepted"] for c in calls["calls"]] == [[], ["6135557000"]]
    c = env.client()
    sign_in_page(c)
    page = c.get("/messages/missed").text
    assert page.count('data-testid="not-accepted"') == 1
    assert "Non accepté par (613) 555-7000 (réponse sans faire le 1)" in html.unescape(page)
    english = c.get("/messages/missed", headers={"Accept-Language": "en"}).text
    assert "Not accepted by (613) 555-7000" in html.unescape(english)
