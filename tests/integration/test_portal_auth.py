"""Portal sign-in and sessions (SPEC S8, S9, S14): tokens, cookies, CSRF, lockout, rate limit,
no user enumeration, sign-out, access to other accounts' lines, secrets kept out of logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store import credentials
from store.models import Account, PortalSession
from store.session import Store
from tests.support.portal import (
    A_NUMBER,
    A_PASSWORD,
    A_SECOND,
    B_NUMBER,
    B_PASSWORD,
    PortalEnv,
    accounts_db,
    add_accounts,
    bearer,
    build,
    client,
    env,
    page_csrf,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "client", "env"]  # fixtures used by this module


def test_session_gives_a_bearer_token_and_a_cookie(env: PortalEnv, client: TestClient) -> None:
    r = client.post("/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["account"]["name"] == "Jeanne Tremblay"
    assert [ln["number"] for ln in body["account"]["lines"]] == [A_NUMBER, A_SECOND]
    cookie = r.headers["set-cookie"]
    assert "relais_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    # The store keeps only the SHA-256 of the token.
    with env.store.read() as s:
        hashes = s.scalars(select(PortalSession.token_hash)).all()
    assert body["token"] not in hashes
    import hashlib

    assert hashlib.sha256(body["token"].encode()).hexdigest() in hashes
    # The token works as a bearer token.
    fresh = env.client()
    assert fresh.get("/api/v1/lines", headers=bearer(body["token"])).status_code == 200


def test_cookie_is_secure_over_tls(env: PortalEnv) -> None:
    with env.client(base_url="https://portal.example") as tls:
        r = tls.post("/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD})
    assert r.status_code == 200
    assert "Secure" in r.headers["set-cookie"]


def test_typed_number_formats_are_accepted(client: TestClient) -> None:
    r = client.post("/api/v1/session", json={"number": "(613) 555-0100", "password": A_PASSWORD})
    assert r.status_code == 200


def test_bad_credentials_are_refused_without_enumeration(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real = credentials.verify_secret

    def spy(secret_hash: str, secret: str) -> bool:
        verified.append(secret_hash)
        return real(secret_hash, secret)

    monkeypatch.setattr(credentials, "verify_secret", spy)
    wrong = client.post("/api/v1/session", json={"number": A_NUMBER, "password": "pas-le-bon"})
    unknown = client.post("/api/v1/session", json={"number": "4165550199", "password": "x" * 9})
    garbage = client.post("/api/v1/session", json={"number": "abc", "password": "x" * 9})
    for r in (wrong, unknown, garbage):
        assert r.status_code == 401
        assert r.json() == {
            "error": "bad-credentials",
            "detail": "Le numéro ou le mot de passe est incorrect.",
        }
    # One argon2 verification per attempt, the same work whether the mailbox exists or not.
    assert len(verified) == 3
    assert all(h.startswith("$argon2id$") for h in verified)
    english = client.post(
        "/api/v1/session",
        json={"number": A_NUMBER, "password": "nope-nope"},
        headers={"Accept-Language": "en-CA,en;q=0.9"},
    )
    assert english.json()["detail"] == "The number or the password is incorrect."


def test_malformed_request_is_a_json_error(client: TestClient) -> None:
    r = client.post("/api/v1/session", json={"number": A_NUMBER})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid-request"
    assert body["fields"][0]["field"] == "password"


def test_lockout_after_five_failures_for_fifteen_minutes(
    env: PortalEnv, client: TestClient
) -> None:
    for _ in range(4):
        r = client.post("/api/v1/session", json={"number": A_NUMBER, "password": "mauvais-1"})
        assert r.status_code == 401
    fifth = client.post("/api/v1/session", json={"number": A_NUMBER, "password": "mauvais-1"})
    assert fifth.status_code == 429
    assert fifth.json()["error"] == "account-locked"
    assert int(fifth.headers["retry-after"]) == 15 * 60
    # Even the right password is refused while locked.
    right = client.post("/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD})
    assert right.status_code == 429
    assert right.json()["error"] == "account-locked"
    # Another account is not affected.
    assert (
        client.post(
            "/api/v1/session", json={"number": B_NUMBER, "password": B_PASSWORD}
        ).status_code
        == 200
    )
    env.clock.advance(minutes=14, seconds=59)
    assert (
        client.post(
            "/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD}
        ).status_code
        == 429
    )
    env.clock.advance(seconds=2)
    assert (
        client.post(
            "/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD}
        ).status_code
        == 200
    )
    with env.store.read() as s:
        account = s.scalar(select(Account).where(Account.display_name == "Jeanne Tremblay"))
        assert account is not None
        assert (account.failed_logins, account.locked_until) == (0, None)


def test_a_success_resets_the_failure_count(client: TestClient) -> None:
    for _ in range(4):
        client.post("/api/v1/session", json={"number": A_NUMBER, "password": "mauvais-1"})
    assert (
        client.post(
            "/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD}
        ).status_code
        == 200
    )
    for _ in range(4):
        r = client.post("/api/v1/session", json={"number": A_NUMBER, "password": "mauvais-1"})
        assert r.status_code == 401


def test_unknown_numbers_lock_like_real_ones(env: PortalEnv, client: TestClient) -> None:
    """An attacker cannot tell a mailbox from a non-mailbox by the lockout either."""
    for number in (A_NUMBER, "4165550199"):
        codes = [
            client.post("/api/v1/session", json={"number": number, "password": "mauvais-1"})
            for _ in range(6)
        ]
        assert [r.status_code for r in codes] == [401, 401, 401, 401, 429, 429]
        assert codes[-1].json()["error"] == "account-locked"
        assert codes[-1].headers["retry-after"] == "900"


def test_rate_limit_per_client_address(tmp_path: Path, sqlite_store: Store) -> None:
    add_accounts(sqlite_store)
    env = build(tmp_path, sqlite_store, portal_security={"login_rate_per_minute": 3})
    with env.client() as c:
        codes = [
            c.post("/api/v1/session", json={"number": n, "password": "mauvais-1"}).status_code
            for n in ("4165550101", "4165550102", "4165550103")
        ]
        assert codes == [401, 401, 401]
        limited = c.post("/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD})
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate-limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        env.clock.advance(seconds=61)
        assert (
            c.post("/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD}).status_code
            == 200
        )
    # The limit is per address: another client address is not limited.
    with env.client() as c:
        env.clock.advance(seconds=1)
        for _ in range(3):
            c.post("/api/v1/session", json={"number": "4165550104", "password": "mauvais-1"})
        other = TestClient(env.app, client=("192.0.2.7", 50000))
        assert (
            other.post(
                "/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD}
            ).status_code
            == 200
        )


def test_every_login_is_a_new_session_and_ends_the_previous_one(
    env: PortalEnv, client: TestClient
) -> None:
    first = client.post("/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD})
    second = client.post("/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD})
    assert first.json()["token"] != second.json()["token"]
    # The client came back with the first session's cookie: that session is gone.
    assert (
        env.client().get("/api/v1/lines", headers=bearer(first.json()["token"])).status_code == 401
    )
    assert (
        env.client().get("/api/v1/lines", headers=bearer(second.json()["token"])).status_code == 200
    )


def test_sign_out_ends_the_session(env: PortalEnv) -> None:
    c = env.client()
    token = sign_in(c, B_NUMBER, B_PASSWORD)
    other = sign_in(env.client(), B_NUMBER, B_PASSWORD)
    r = env.client().delete("/api/v1/session", headers=bearer(token))
    assert r.status_code == 204
    assert env.client().get("/api/v1/lines", headers=bearer(token)).status_code == 401
    # Other sessions of the account stay signed in.
    assert env.client().get("/api/v1/lines", headers=bearer(other)).status_code == 200


def test_idle_and_expired_sessions_end(env: PortalEnv) -> None:
    token = sign_in(env.client())
    env.clock.advance(minutes=59)
    assert env.client().get("/api/v1/lines", headers=bearer(token)).status_code == 200
    env.clock.advance(minutes=61)  # idle for more than session_idle_minutes (60)
    r = env.client().get("/api/v1/lines", headers=bearer(token))
    assert r.status_code == 401
    assert r.json()["error"] == "not-signed-in"
    busy = sign_in(env.client())
    for _ in range(14):  # active every 55 minutes, but sessions last 12 hours at most
        env.clock.advance(minutes=55)
        last = env.client().get("/api/v1/lines", headers=bearer(busy)).status_code
    assert last == 401


def test_lines_are_only_the_accounts_own(env: PortalEnv) -> None:
    token = sign_in(env.client(), B_NUMBER, B_PASSWORD)
    c = env.client(headers=bearer(token))
    assert [ln["number"] for ln in c.get("/api/v1/lines").json()["lines"]] == [B_NUMBER]
    for path in (
        f"/api/v1/lines/{A_NUMBER}/call-settings",
        f"/api/v1/lines/{A_SECOND}/message-settings",
        f"/api/v1/lines/{A_NUMBER}/notifications",
        f"/api/v1/lines/{A_NUMBER}/usage",
        f"/api/v1/lines/{A_NUMBER}/greetings",
        f"/api/v1/lines/{A_NUMBER}/greetings/personal",
        f"/api/v1/lines/{A_NUMBER}/preview?anonymous=true",
        "/api/v1/lines/4165550199/call-settings",
    ):
        r = c.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"] == "line-not-found"
    for method, path, body in (
        ("PUT", f"/api/v1/lines/{A_NUMBER}/call-settings", {"phone_state": "dnd"}),
        ("PUT", f"/api/v1/lines/{A_NUMBER}/message-settings", {"skip_pin": True}),
        ("PUT", f"/api/v1/lines/{A_NUMBER}/notifications", {"mwi": {"enabled": False}}),
        ("PUT", f"/api/v1/lines/{A_NUMBER}/voicemail-pin", {"new": "5291", "confirm": "5291"}),
        ("DELETE", f"/api/v1/lines/{A_NUMBER}/greetings/personal", None),
    ):
        r = c.request(method, path, json=body)
        assert r.status_code == 404, path
    assert c.get(f"/api/v1/lines/{B_NUMBER}/call-settings").status_code == 200


def test_api_needs_a_session(client: TestClient) -> None:
    r = client.get(f"/api/v1/lines/{A_NUMBER}/call-settings")
    assert r.status_code == 401
    assert r.json()["error"] == "not-signed-in"
    r = client.get("/api/v1/lines", headers=bearer("not-a-token"))
    assert r.status_code == 401


def test_cookie_calls_need_the_csrf_header_bearer_calls_do_not(
    env: PortalEnv, client: TestClient
) -> None:
    r = client.post("/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD})
    csrf = r.json()["csrf_token"]
    token = r.json()["token"]
    path = f"/api/v1/lines/{A_NUMBER}/call-settings"
    # Cookie only, no header: refused, nothing changed.
    refused = client.put(path, json={"phone_state": "dnd"})
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf-missing"
    wrong = client.put(path, json={"phone_state": "dnd"}, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    assert client.get(path).json()["phone_state"] == "available"  # reads need no token
    ok = client.put(path, json={"phone_state": "dnd"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert ok.json()["phone_state"] == "dnd"
    # Bearer calls carry no cookie and need no CSRF token.
    bare = env.client()
    assert (
        bare.put(path, json={"phone_state": "available"}, headers=bearer(token)).status_code == 200
    )
    # Signing out with the cookie needs the token too.
    assert client.delete("/api/v1/session").status_code == 403
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204


def test_page_forms_need_the_csrf_token(env: PortalEnv, client: TestClient) -> None:
    sign_in_page(client)
    r = client.post("/home", data={"line": A_NUMBER, "phone_state": "dnd"})
    assert r.status_code == 403
    assert "jeton de sécurité" in r.text
    r = client.post("/logout", data={"csrf_token": "forged"})
    assert r.status_code == 403
    assert client.get("/home").status_code == 200  # still signed in


def test_login_form_needs_its_token(env: PortalEnv, client: TestClient) -> None:
    r = client.post(
        "/login", data={"number": A_NUMBER, "password": A_PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 403
    assert "relais_session" not in r.headers.get("set-cookie", "")
    token = page_csrf(client.get("/login").text)
    other = TestClient(env.app)  # a token from another browser is worth nothing
    r = other.post(
        "/login",
        data={"number": A_NUMBER, "password": A_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_login_page_flow(env: PortalEnv, client: TestClient) -> None:
    assert client.get("/home", follow_redirects=False).headers["location"] == "/login"
    r = client.get("/notifications", follow_redirects=False)
    assert r.headers["location"] == "/login?next=%2Fnotifications"
    token = page_csrf(client.get("/login?next=/notifications").text)
    bad = client.post(
        "/login", data={"number": A_NUMBER, "password": "mauvais-1", "csrf_token": token}
    )
    assert bad.status_code == 401
    assert "Le numéro ou le mot de passe est incorrect." in bad.text
    assert 'value="6135550100"' in bad.text  # the number stays typed
    r = client.post(
        "/login",
        data={
            "number": A_NUMBER,
            "password": A_PASSWORD,
            "csrf_token": page_csrf(bad.text),
            "next": "/notifications",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/notifications"
    # A next that leaves the site is ignored.
    client.cookies.clear()
    token = page_csrf(client.get("/login").text)
    r = client.post(
        "/login",
        data={
            "number": A_NUMBER,
            "password": A_PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/home"


def test_page_sign_out(env: PortalEnv, client: TestClient) -> None:
    csrf = sign_in_page(client)
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    assert client.get("/home", follow_redirects=False).status_code == 303
    with env.store.read() as s:
        assert s.scalar(select(func.count()).select_from(PortalSession)) == 0


def test_secrets_never_reach_the_logs(
    env: PortalEnv, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets_used = [A_PASSWORD, "mauvais-secret-1", "nouveau-mdp-2026", "5291", "7305"]
    client.post("/api/v1/session", json={"number": A_NUMBER, "password": "mauvais-secret-1"})
    r = client.post("/api/v1/session", json={"number": A_NUMBER, "password": A_PASSWORD})
    token, csrf = r.json()["token"], r.json()["csrf_token"]
    h = {"X-CSRF-Token": csrf}
    client.put(
        f"/api/v1/lines/{A_NUMBER}/voicemail-pin",
        json={"new": "5291", "confirm": "5291"},
        headers=h,
    )
    client.put("/api/v1/account/services-pin", json={"new": "7305", "confirm": "7305"}, headers=h)
    r = client.put(
        "/api/v1/account/password",
        json={"current": A_PASSWORD, "new": "nouveau-mdp-2026", "confirm": "nouveau-mdp-2026"},
        headers=h,
    )
    assert r.status_code == 200
    page = env.client()
    page_token = page_csrf(page.get("/login").text)
    page.post(
        "/login",
        data={"number": A_NUMBER, "password": "nouveau-mdp-2026", "csrf_token": page_token},
    )
    text = caplog.text
    assert "signed in" in text  # the events are logged...
    for secret in [*secrets_used, token, r.json()["token"], csrf, page_token]:
        assert secret not in text  # ...their secrets are not
