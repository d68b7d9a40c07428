"""Input bounds at the portal's edge: ids are checked before they reach SQL (404, never 500),
API errors speak the account's (or the request's) language, HSTS under TLS."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from store.models import Account
from tests.support.portal import (
    A_NUMBER,
    PortalEnv,
    accounts_db,
    bearer,
    env,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]

BAD_IDS = ["99999999999999999999", "9223372036854775808", "0", "-1", "abc", "1e3", "007"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_id_the_store_cannot_hold_is_not_found(env: PortalEnv, bad: str) -> None:
    api = env.client(headers={**bearer(sign_in(env.client())), "Accept-Language": "en"})
    for method, path in (
        ("GET", f"/api/v1/lines/{A_NUMBER}/messages/{bad}"),
        ("DELETE", f"/api/v1/lines/{A_NUMBER}/messages/{bad}"),
        ("GET", f"/api/v1/lines/{A_NUMBER}/messages/{bad}/audio"),
        ("GET", f"/api/v1/contacts/{bad}"),
        ("GET", f"/api/v1/groups/{bad}"),
    ):
        r = api.request(method, path)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r.json() == {"error": "not-found", "detail": "This page does not exist."}
    page = env.client()
    csrf = sign_in_page(page)
    r = page.post(f"/messages/{bad}/heard", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 404


def test_an_unknown_but_valid_id_is_still_looked_up(env: PortalEnv) -> None:
    api = env.client(headers=bearer(sign_in(env.client())))
    r = api.get(f"/api/v1/lines/{A_NUMBER}/messages/922337203685477580")
    assert r.status_code == 404 and r.json()["error"] != "not-found"  # the store said so


def test_api_errors_speak_the_accounts_language(env: PortalEnv) -> None:
    with env.store.transaction() as s:
        for account in s.scalars(select(Account)):
            account.language = "en"
    api = env.client(headers=bearer(sign_in(env.client())))
    r = api.put(f"/api/v1/lines/{A_NUMBER}/call-settings", json={"no_answer_timeout": 2})
    assert r.json()["fields"][0]["detail"] == "Enter 5 to 120 seconds."
    # The request's own language comes first.
    r = api.put(
        f"/api/v1/lines/{A_NUMBER}/call-settings",
        json={"no_answer_timeout": 2},
        headers={"Accept-Language": "fr-CA"},
    )
    assert r.json()["fields"][0]["detail"] == "Entrez de 5 à 120 secondes."
    # Without a session: the installation's language (fr).
    r = env.client().get("/api/v1/lines")
    assert (r.status_code, r.json()["detail"]) == (401, "Ouvrez d'abord une session.")


def test_hsts_under_tls_only(env: PortalEnv) -> None:
    secure = env.client(base_url="https://testserver").get("/login")
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    plain = env.client().get("/login")
    assert "strict-transport-security" not in plain.headers
