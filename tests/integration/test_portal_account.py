"""Password, call-services PIN and voicemail PIN changes (SPEC S8, S9), feedback and name."""

from __future__ import annotations

import html

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from store import credentials
from store.models import Account, Feedback, Mailbox, OutboxEvent
from tests.support.portal import (
    A_NUMBER,
    A_PASSWORD,
    A_SECOND,
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


def _account(env: PortalEnv) -> Account:
    with env.store.read() as s:
        account = s.scalar(select(Account).where(Account.display_name == "Jeanne Tremblay"))
        assert account is not None
        return account


def test_password_change_ends_every_session_and_gives_a_new_one(env: PortalEnv) -> None:
    first = sign_in(env.client())
    other = sign_in(env.client())
    r = env.client().put(
        "/api/v1/account/password",
        json={"current": A_PASSWORD, "new": "un-nouveau-mdp", "confirm": "un-nouveau-mdp"},
        headers=bearer(first),
    )
    assert r.status_code == 200, r.text
    new_token = r.json()["token"]
    for old in (first, other):
        assert env.client().get("/api/v1/lines", headers=bearer(old)).status_code == 401
    assert env.client().get("/api/v1/lines", headers=bearer(new_token)).status_code == 200
    assert credentials.verify_secret(_account(env).password_hash, "un-nouveau-mdp")
    old_login = env.client().post(
        "/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD}
    )
    assert old_login.status_code == 401
    with env.store.read() as s:
        assert [
            p["section"]
            for p in s.scalars(
                select(OutboxEvent.payload).where(OutboxEvent.topic.not_like("%/mailbox/accessed"))
            )
        ] == ["password"]


@pytest.mark.parametrize(
    ("body", "field", "error", "detail"),
    [
        (
            {"current": "mauvais-1", "new": "un-nouveau-mdp", "confirm": "un-nouveau-mdp"},
            "current",
            "current-password-incorrect",
            "The current password is incorrect.",
        ),
        (
            {"current": A_PASSWORD, "new": "court", "confirm": "court"},
            "new",
            "password-rule",
            "The password must have at least 10 characters.",
        ),
        (
            {"current": A_PASSWORD, "new": A_SECOND, "confirm": A_SECOND},
            "new",
            "password-rule",
            "The password cannot be a mailbox number.",
        ),
        (
            {"current": A_PASSWORD, "new": "un-nouveau-mdp", "confirm": "un-autre-mdp"},
            "confirm",
            "confirm-mismatch",
            "The two entries do not match.",
        ),
        (
            {"current": A_PASSWORD, "new": A_PASSWORD, "confirm": A_PASSWORD},
            "new",
            "same-password",
            "The new password must differ from the current one.",
        ),
        (
            {"current": "", "new": "un-nouveau-mdp", "confirm": "un-nouveau-mdp"},
            "current",
            "required",
            "Enter your current password.",
        ),
    ],
)
def test_password_rules(
    env: PortalEnv, api: TestClient, body: dict[str, str], field: str, error: str, detail: str
) -> None:
    before = _account(env).password_hash
    r = api.put("/api/v1/account/password", json=body, headers={"Accept-Language": "en"})
    assert r.status_code == 422
    assert {"field": field, "error": error, "detail": detail} in r.json()["fields"]
    assert _account(env).password_hash == before
    assert api.get("/api/v1/lines").status_code == 200  # the session is still valid


def test_a_password_chosen_under_an_older_rule_must_change_at_next_sign_in(
    env: PortalEnv,
) -> None:
    weak = "12345678"  # accepted by older versions of relais
    with env.store.transaction() as s:
        account = s.scalar(select(Account).where(Account.display_name == "Jeanne Tremblay"))
        assert account is not None
        account.password_hash = credentials.hash_secret(weak)
    token = sign_in(env.client(), password=weak)
    api = env.client(headers={**bearer(token), "Accept-Language": "en"})
    r = api.get("/api/v1/lines")
    assert r.status_code == 403
    assert r.json()["error"] == "password-change-required"
    assert r.json()["detail"] == (
        "Your password does not meet the password rule any more: change it before anything else."
    )
    assert api.get("/api/v1/account").status_code == 200
    # Pages lead to the password form, which says why.
    page = env.client()
    csrf = sign_in_page(page, password=weak)
    r = page.get("/home", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/security/password")
    form = page.get("/security/password")
    assert form.status_code == 200 and 'data-testid="password-change-required"' in form.text
    assert csrf  # the password form carries the session's token
    # The new password meets the rule: everything works again.
    r = api.put(
        "/api/v1/account/password",
        json={"current": weak, "new": "un-nouveau-mdp", "confirm": "un-nouveau-mdp"},
    )
    assert r.status_code == 200, r.text
    fresh = env.client(headers=bearer(r.json()["token"]))
    assert fresh.get("/api/v1/lines").status_code == 200
    assert _account(env).password_change_required is False
    # A good password does not raise the flag again.
    assert (
        env.client(headers=bearer(sign_in(env.client(), password="un-nouveau-mdp")))
        .get("/api/v1/lines")
        .status_code
        == 200
    )


@pytest.mark.parametrize(
    ("pin", "detail"),
    [
        ("12a4", "Le NIP doit contenir seulement des chiffres."),
        ("123", "Le NIP doit compter de 4 à 10 chiffres."),
        ("12345678901", "Le NIP doit compter de 4 à 10 chiffres."),
        ("7777", "Le NIP ne peut pas répéter un seul chiffre."),
        (
            "3456",
            "Le NIP ne peut pas être une suite de chiffres croissants ou décroissants "
            "(1234, 9876).",
        ),
        ("0100", "Le NIP ne peut pas être un numéro de boîte vocale ni ses derniers chiffres."),
        ("0101", "Le NIP ne peut pas être un numéro de boîte vocale ni ses derniers chiffres."),
    ],
)
def test_pin_rules_for_both_pins(env: PortalEnv, api: TestClient, pin: str, detail: str) -> None:
    for path in ("/api/v1/account/services-pin", f"/api/v1/lines/{A_NUMBER}/voicemail-pin"):
        r = api.put(path, json={"new": pin, "confirm": pin})
        assert r.status_code == 422, (path, r.text)
        assert r.json()["fields"][0] == {"field": "new", "error": "pin-rule", "detail": detail}


def test_services_pin_change(env: PortalEnv, api: TestClient) -> None:
    mismatch = api.put("/api/v1/account/services-pin", json={"new": "5291", "confirm": "5290"})
    assert mismatch.json()["fields"][0]["error"] == "confirm-mismatch"
    r = api.put("/api/v1/account/services-pin", json={"new": "5291", "confirm": "5291"})
    assert r.status_code == 204
    account = _account(env)
    assert credentials.verify_secret(account.services_pin_hash, "5291")
    with env.store.read() as s:
        mailbox = s.get(Mailbox, A_NUMBER)
        assert mailbox is not None
        assert credentials.verify_secret(mailbox.pin_hash, "4826")  # the voicemail PIN is apart


def test_voicemail_pin_change_is_per_mailbox_and_ends_a_pin_lockout(
    env: PortalEnv, api: TestClient
) -> None:
    from datetime import UTC, datetime

    with env.store.transaction() as s:
        m = s.get(Mailbox, A_SECOND)
        assert m is not None
        m.pin_failures = 5
        m.pin_locked_until = datetime(2030, 1, 1, tzinfo=UTC)
    r = api.put(f"/api/v1/lines/{A_SECOND}/voicemail-pin", json={"new": "9153", "confirm": "9153"})
    assert r.status_code == 204
    with env.store.read() as s:
        second = s.get(Mailbox, A_SECOND)
        first = s.get(Mailbox, A_NUMBER)
        assert second is not None and first is not None
        assert credentials.verify_secret(second.pin_hash, "9153")
        assert (second.pin_failures, second.pin_locked_until) == (0, None)
        assert credentials.verify_secret(first.pin_hash, "4826")
        events = s.scalars(
            select(OutboxEvent.topic).where(OutboxEvent.topic.not_like("%/mailbox/accessed"))
        ).all()
    assert events == [f"relais/{A_SECOND}/settings/changed"]


def test_security_dialog_forms_on_the_pages(env: PortalEnv) -> None:
    c = env.client()
    csrf = sign_in_page(c)
    r = c.post(
        "/security/voicemail-pin",
        data={
            "csrf_token": csrf,
            "line": A_NUMBER,
            "new": "5291",
            "confirm": "5291",
            "next": "/message-settings",
        },
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/message-settings")
    assert "Votre NIP de messagerie vocale est modifié." in c.get("/message-settings").text
    bad = c.post(
        "/security/services-pin",
        data={"csrf_token": csrf, "line": A_NUMBER, "new": "1111", "confirm": "1111"},
    )
    assert bad.status_code == 422
    assert "Le NIP ne peut pas répéter un seul chiffre." in bad.text
    r = c.post(
        "/security/password",
        data={
            "csrf_token": csrf,
            "line": A_NUMBER,
            "current": A_PASSWORD,
            "new": "encore-un-mdp",
            "confirm": "encore-un-mdp",
            "next": "/home",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    # The browser got a new session cookie and stays signed in.
    page = html.unescape(c.get("/home").text)
    assert "Votre mot de passe est modifié. Vos autres sessions ont été fermées." in page


def test_feedback_is_stored(env: PortalEnv, api: TestClient) -> None:
    assert api.post("/api/v1/feedback", json={"body": "  "}).status_code == 422
    r = api.post("/api/v1/feedback", json={"body": "Le portail est très clair."})
    assert r.status_code == 201
    c = env.client()
    csrf = sign_in_page(c)
    r = c.post(
        "/feedback",
        data={"csrf_token": csrf, "line": A_SECOND, "body": "Merci!", "next": "/help"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/help")
    with env.store.read() as s:
        rows = s.execute(select(Feedback.line_number, Feedback.body).order_by(Feedback.id)).all()
    assert [tuple(r) for r in rows] == [
        (A_NUMBER, "Le portail est très clair."),
        (A_SECOND, "Merci!"),
    ]


def test_name_change(env: PortalEnv, api: TestClient) -> None:
    assert api.put("/api/v1/account", json={"name": "   "}).status_code == 422
    assert api.put("/api/v1/account", json={"name": "  Jeanne   T. Tremblay "}).status_code == 204
    assert api.get("/api/v1/account").json()["name"] == "Jeanne T. Tremblay"
