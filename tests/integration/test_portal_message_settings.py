"""Message settings and greetings (SPEC S2 mailbox, S5, S8, S9 uploads): saved as the IVR reads
them; greetings decoded to 8 kHz WAV under greetings/<line>/; bad input changes nothing."""

from __future__ import annotations

import html
import io
import wave
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store.models import Greeting, Mailbox, OutboxEvent
from store.session import Store
from tests.support.portal import (
    A_NUMBER,
    A_SECOND,
    PortalEnv,
    accounts_db,
    bearer,
    build,
    env,
    make_audio,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]

PATH = f"/api/v1/lines/{A_NUMBER}/message-settings"
GREETINGS = f"/api/v1/lines/{A_NUMBER}/greetings"


@pytest.fixture
def api(env: PortalEnv) -> TestClient:
    return env.client(headers=bearer(sign_in(env.client())))


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_audio(tmp_path_factory.mktemp("audio") / "greeting.mp3", "mp3", seconds=2.0)


def upload(api: TestClient, kind: str, data: bytes, name: str = "greeting.mp3") -> object:
    return api.put(f"{GREETINGS}/{kind}", files={"file": (name, data, "audio/mpeg")})


def test_defaults(api: TestClient) -> None:
    body = api.get(PATH).json()
    assert body["forward_to_email"] is False
    assert body["keep_original"] is True
    assert body["envelope_mode"] == "both"
    assert body["greeting"] == "system"
    assert [g["kind"] for g in body["greetings"]] == [
        "personal",
        "busy",
        "no_answer",
        "extended_absence",
        "name",
    ]
    assert not any(g["recorded"] for g in body["greetings"])


def test_settings_are_saved_on_the_mailbox(env: PortalEnv, api: TestClient) -> None:
    r = api.put(
        PATH,
        json={
            "forward_to_email": True,
            "forward_emails": ["Jeanne@Example.COM", "jeanne@example.com", "bureau@example.org"],
            "keep_original": False,
            "skip_pin": True,
            "quick_login": True,
            "autoplay_voice": True,
            "autoplay_fax": True,
            "envelope_mode": "envelope",
            "greeting": "system_number",
        },
    )
    assert r.status_code == 200, r.text
    with env.store.read() as s:
        m = s.get(Mailbox, A_NUMBER)
        assert m is not None
        assert m.forward_to_email and not m.keep_original
        assert m.forward_emails == ["Jeanne@example.com", "bureau@example.org"]
        assert (m.skip_pin, m.quick_login, m.autoplay_voice, m.autoplay_fax) == (True,) * 4
        assert (m.envelope_mode, m.greeting) == ("envelope", "system_number")
        topics = s.scalars(select(OutboxEvent.payload)).all()
    assert [p["section"] for p in topics] == ["message"]
    # The secondary line's mailbox is its own.
    assert api.get(f"/api/v1/lines/{A_SECOND}/message-settings").json()["skip_pin"] is False


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"forward_to_email": True, "forward_emails": []}, "forward_emails", "required"),
        ({"forward_emails": ["pas une adresse"]}, "forward_emails.0", "invalid-email"),
        (
            {"forward_emails": [f"a{i}@example.com" for i in range(11)]},
            "forward_emails",
            "too-many-addresses",
        ),
        ({"greeting": "personal"}, "greeting", "greeting-not-recorded"),
        ({"busy_greeting_enabled": True}, "busy_greeting_enabled", "greeting-not-recorded"),
        ({"extended_absence_enabled": True}, "extended_absence_enabled", "greeting-not-recorded"),
    ],
)
def test_bad_settings_are_refused(
    env: PortalEnv, api: TestClient, change: dict[str, object], field: str, error: str
) -> None:
    before = api.get(PATH).json()
    r = api.put(PATH, json=change)
    assert r.status_code == 422
    assert (field, error) in {(f["field"], f["error"]) for f in r.json()["fields"]}
    assert api.get(PATH).json() == before
    with env.store.read() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_schema_refuses_unknown_choices(api: TestClient) -> None:
    assert api.put(PATH, json={"envelope_mode": "loud"}).status_code == 422
    assert api.put(PATH, json={"greeting": "robot"}).status_code == 422


def test_mp3_greeting_is_stored_as_8khz_wav(env: PortalEnv, api: TestClient, mp3: bytes) -> None:
    r = upload(api, "personal", mp3)
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "personal"
    assert r.json()["recorded"] is True
    assert r.json()["duration_seconds"] == pytest.approx(2.0, abs=0.1)
    with env.store.read() as s:
        row = s.scalar(select(Greeting).where(Greeting.line_number == A_NUMBER))
        assert row is not None
        path = row.file_path
    assert path.startswith(f"greetings/{A_NUMBER}/") and path.endswith(".wav")
    audio = api.get(f"{GREETINGS}/personal")
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/wav"
    assert audio.content == env.files.read(path)
    with wave.open(io.BytesIO(audio.content)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == pytest.approx(16000, abs=800)
    # Range requests work for seeking in the browser's player.
    part = api.get(f"{GREETINGS}/personal", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert len(part.content) == 100
    # Now the personal greeting can be chosen.
    assert api.put(PATH, json={"greeting": "personal"}).status_code == 200
    listed = api.get(GREETINGS).json()["greetings"]
    assert [g["kind"] for g in listed if g["recorded"]] == ["personal"]


@pytest.mark.parametrize("fmt", ["ogg", "m4a", "flac", "wav"])
def test_common_formats_are_accepted(api: TestClient, tmp_path: Path, fmt: str) -> None:
    data = make_audio(tmp_path / f"g.{fmt}", fmt, seconds=1.0)
    r = upload(api, "busy", data, f"g.{fmt}")
    assert r.status_code == 200, r.text
    assert r.json()["duration_seconds"] == pytest.approx(1.0, abs=0.1)


def test_replacing_a_greeting_removes_the_old_file(
    env: PortalEnv, api: TestClient, mp3: bytes
) -> None:
    upload(api, "no_answer", mp3)
    with env.store.read() as s:
        first = s.scalar(select(Greeting.file_path))
    upload(api, "no_answer", mp3)
    with env.store.read() as s:
        paths = s.scalars(select(Greeting.file_path)).all()
    assert len(paths) == 1 and paths[0] != first
    assert not env.files.exists(first or "")
    assert list(env.files.walk(f"greetings/{A_NUMBER}")) == paths


def test_delete_greeting_and_in_use_refusal(env: PortalEnv, api: TestClient, mp3: bytes) -> None:
    upload(api, "busy", mp3)
    api.put(PATH, json={"busy_greeting_enabled": True})
    r = api.delete(f"{GREETINGS}/busy")
    assert r.status_code == 409
    assert r.json()["error"] == "greeting-in-use"
    assert api.get(f"{GREETINGS}/busy").status_code == 200
    api.put(PATH, json={"busy_greeting_enabled": False})
    assert api.delete(f"{GREETINGS}/busy").status_code == 204
    gone = api.get(f"{GREETINGS}/busy")
    assert gone.status_code == 404
    assert gone.json()["error"] == "greeting-not-recorded"
    assert list(env.files.walk("greetings")) == []
    assert api.delete(f"{GREETINGS}/busy").status_code == 404


def test_bad_uploads_are_refused(tmp_path: Path, accounts_db: Path, mp3: bytes) -> None:
    import shutil

    shutil.copyfile(accounts_db, tmp_path / "relais.db")
    store = Store(f"sqlite:///{tmp_path / 'relais.db'}")
    env = build(
        tmp_path,
        store,
        portal_security={"greeting_max_bytes": 60000, "greeting_max_seconds": 5},
    )
    api = env.client(headers=bearer(sign_in(env.client())))
    cases = [
        (b"just some text, not audio", "unsupported-audio", 415),
        (b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00garbage" * 100, "undecodable-audio", 422),
        (b"ID3" + b"\x00" * 70000, "file-too-large", 413),
        (b"", "audio-empty", 422),
    ]
    for data, error, status in cases:
        r = upload(api, "personal", data)
        assert (r.status_code, r.json()["error"]) == (status, error), r.text
    long_wav = make_audio(tmp_path / "long.ogg", "ogg", seconds=8.0)
    assert len(long_wav) < 60000
    r = upload(api, "personal", long_wav, "long.ogg")
    assert (r.status_code, r.json()["error"]) == (422, "audio-too-long")
    assert r.json()["detail"] == "Un message d'accueil peut durer au plus 5 secondes."
    r = upload(api, "welcome", mp3[:10000])
    assert (r.status_code, r.json()["error"]) == (404, "unknown-greeting")
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Greeting)) == 0
    assert list(env.files.walk("greetings")) == []
    store.dispose()


def test_greeting_upload_from_the_page_without_script(env: PortalEnv, mp3: bytes) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    r = c.post(
        "/message-settings/greetings/extended_absence",
        data={"csrf_token": csrf, "line": A_NUMBER},
        files={"file": ("absence.mp3", mp3, "audio/mpeg")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get("/message-settings").text
    assert 'data-star="extended_absence" title=' in page  # marked with * (not hidden)
    no_token = c.post(
        "/message-settings/greetings/name",
        data={"line": A_NUMBER},
        files={"file": ("n.mp3", mp3, "audio/mpeg")},
    )
    assert no_token.status_code == 403


def test_message_settings_page_form(env: PortalEnv) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    r = c.post(
        "/message-settings",
        data={
            "csrf_token": csrf,
            "line": A_NUMBER,
            "forward_to_email": "on",
            "forward_emails": ["jeanne@example.com"],
            "forward_emails_add": "bureau@example.org",
            "quick_login": "on",
            "envelope_mode": "message",
            "greeting": "system_name",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    with env.store.read() as s:
        m = s.get(Mailbox, A_NUMBER)
        assert m is not None
        assert m.forward_emails == ["jeanne@example.com", "bureau@example.org"]
        assert (m.quick_login, m.keep_original, m.envelope_mode, m.greeting) == (
            True,
            False,
            "message",
            "system_name",
        )
    bad = c.post(
        "/message-settings",
        data={
            "csrf_token": csrf,
            "line": A_NUMBER,
            "greeting": "personal",
            "forward_emails_add": "nulle part",
        },
    )
    assert bad.status_code == 422
    shown = html.unescape(bad.text)
    assert "Enregistrez ou téléversez d'abord votre message d'accueil personnalisé." in shown
    assert "nulle part n'est pas une adresse de courriel" in shown
