"""The page frame (SPEC S8): languages, navigation, line switcher, storage warning, footer
pages, the messages and contacts pages, the OpenAPI document."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from store.models import Account, Contact, Message
from tests.support.portal import (
    A_NUMBER,
    A_SECOND,
    B_NUMBER,
    B_PASSWORD,
    PortalEnv,
    accounts_db,
    env,
    page_csrf,
    sign_in,
    sign_in_page,
)

__all__ = ["accounts_db", "env"]


def _signed_in(env: PortalEnv, **kwargs: object) -> tuple[TestClient, str]:
    c = env.client(**kwargs)  # type: ignore[arg-type]
    return c, sign_in_page(c)


def test_language_from_accept_language_then_the_cookie(env: PortalEnv) -> None:
    c = env.client()
    assert '<html lang="fr">' in c.get("/login").text  # the installation's default
    en = c.get("/login", headers={"Accept-Language": "en-US,en;q=0.9,fr;q=0.5"}).text
    assert '<html lang="en">' in en and ">Sign in</h1>" in en
    fr = c.get("/login", headers={"Accept-Language": "fr-CA"}).text
    assert '<html lang="fr">' in fr and ">Connexion</h1>" in fr
    picked = c.get("/lang/en?next=/login", follow_redirects=False)
    assert picked.status_code == 303 and picked.headers["location"] == "/login"
    assert "relais_lang=en" in picked.headers["set-cookie"]
    assert "Max-Age=31536000" in picked.headers["set-cookie"]
    # The cookie wins over Accept-Language.
    assert '<html lang="en">' in c.get("/login", headers={"Accept-Language": "fr"}).text
    # No open redirect through the language switch.
    away = c.get("/lang/fr?next=https://evil.example/", follow_redirects=False)
    assert away.headers["location"] == "/home"
    assert c.get("/lang/de?next=/login", follow_redirects=False).headers.get("set-cookie") is None


def test_frame_in_french_with_the_guide_labels(env: PortalEnv) -> None:
    c, _ = _signed_in(env)
    page = html.unescape(c.get("/home").text)
    for label in (
        "Accueil",
        "Messages",
        "Contacts",
        "Se déconnecter",
        "Coordonnées personnelles",
        "Mes numéros",
        "Sécurité",
        "Changer de mot de passe",
        "Changer le NIP des services d'appels",
        "Changer le NIP de la messagerie vocale",
        "Soutien",
        "Aide",
        "Envoyer une rétroaction",
        "État du téléphone",
        "Disponible pour appels",
        "Ne pas déranger",
        "Les appels entrants",
        "Feront sonner votre téléphone de compte",
        "Seront renvoyés vers un autre téléphone",
        "Feront sonner vos téléphones les uns après les autres",
        "Feront sonner tous vos téléphones simultanément",
        "Numéro de contact universel",
        "Permettre le renvoi d'appels à distance",
        "S'il n'y a aucune réponse",
        "Si votre téléphone est occupé",
        "Renvoi à autre téléphone",
        "Envoyer vers la messagerie vocale",
        "Réglages avancés",
        "Renvoi sélectif",
        "Rejet sélectif",
        "Renvoi si non disponible",
        "Appels anonymes",
        "Liste de renvoi",
        "Liste de rejet",
        "un autre téléphone",
        "Numéros de renvoi",
        "Appliquer",
        "Annuler",
        "Réglages des appels",
        "Réglages des messages",
        "Notifications",
    ):
        assert label in page, label
    settings = html.unescape(c.get("/message-settings").text)
    for label in (
        "Général",
        "Renvoyer les messages et les télécopies comme courriels",
        "Ajouter",
        "Adresse de courriel",
        "Laisser l'original dans la boîte de réception",
        "Accès à la boîte de réception",
        "Ignorer le NIP",
        "Connexion rapide",
        "Messagerie vocale à lancement automatique",
        "Télécopie à lancement automatique",
        "Écoute du message vocal",
        "Message d'accueil de la messagerie vocale",
        "Système",
        "Système avec un numéro",
        "Système avec un nom",
        "Options supplémentaires",
    ):
        assert label in settings, label
    notes = html.unescape(c.get("/notifications").text)
    for label in (
        "Indicateur de message en attente",
        "Envoyer une notification téléphonique de messages entrants aux numéros de téléphone "
        "suivants",
        "Toutes les télécopies",
        "Message vocal urgent",
        "Tous les messages vocaux",
        "Nouvelle entrée",
        "Vider la liste",
        "Courriel",
        "Envoyer par courriel un avis de messages entrants aux adresses suivantes",
        "Téléavertisseur",
        "Aviser les téléavertisseurs suivants des messages entrants selon le programme",
        "Automate d'appels",
        "Transmettre une notification d'automate d'appels des messages entrants selon le programme",
        "Annulation des notifications",
        "Date de fin",
    ):
        assert label in notes, label


def test_english_pages(env: PortalEnv) -> None:
    c, _ = _signed_in(env, cookies={"relais_lang": "en"})
    page = c.get("/home").text
    assert "Phone state" in page and "Do not disturb" in page and "Sign out" in page
    assert "Message waiting indicator" in c.get("/notifications").text


def test_line_switcher(env: PortalEnv) -> None:
    c, csrf = _signed_in(env)
    page = c.get("/home").text
    assert 'data-testid="current-line">(613) 555-0100<' in page
    assert f'name="number" value="{A_SECOND}"' in page  # the dropdown lists both lines
    r = c.post(
        "/line",
        data={"csrf_token": csrf, "number": A_SECOND, "next": "/message-settings"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/message-settings")
    page = c.get("/message-settings").text
    assert 'data-testid="current-line">(613) 555-0101<' in page
    assert f'name="line" value="{A_SECOND}"' in page
    # A line of another account cannot be chosen; a stale cookie falls back to the primary.
    assert c.post("/line", data={"csrf_token": csrf, "number": B_NUMBER}).status_code == 404
    c.cookies.set("relais_line", B_NUMBER)
    assert 'data-testid="current-line">(613) 555-0100<' in c.get("/home").text


def test_single_line_accounts_have_no_switcher(env: PortalEnv) -> None:
    c = env.client()
    sign_in_page(c, B_NUMBER, B_PASSWORD)
    page = c.get("/home").text
    assert 'action="/line"' not in page
    assert 'data-testid="sign-out"' in page


def test_storage_warning_from_ninety_percent(env: PortalEnv) -> None:
    c, _ = _signed_in(env)
    assert 'data-testid="storage-warning"' not in c.get("/home").text

    def hold(seconds: float, folder: str = "inbox") -> None:
        with env.store.transaction() as s:
            s.add(
                Message(
                    line_number=A_NUMBER,
                    kind="voice",
                    folder=folder,
                    file_path="x.wav",
                    duration_seconds=seconds,
                    received_at=datetime(2026, 3, 1, tzinfo=UTC),
                )
            )

    hold(3000)
    assert 'data-testid="storage-warning"' not in c.get("/home").text  # 83 %
    hold(239, folder="deleted")  # deleted messages count until purged: 3239 s = 89.97 %
    assert 'data-testid="storage-warning"' not in c.get("/home").text
    hold(1)
    page = html.unescape(c.get("/home").text)
    assert 'data-testid="storage-warning"' in page
    words = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "54 min 00 s utilisées sur 1 h 00 min (90 %)" in words
    api = env.client(headers={"Authorization": f"Bearer {sign_in(env.client())}"})
    assert api.get(f"/api/v1/lines/{A_NUMBER}/usage").json() == {
        "used_seconds": 3240.0,
        "limit_seconds": 3600,
        "percent": 90,
        "warning": True,
    }
    # The other line's mailbox is not full.
    c.post("/line", data={"csrf_token": page_csrf(page), "number": A_SECOND})
    assert 'data-testid="storage-warning"' not in c.get("/home").text


def test_messages_and_contacts_pages(env: PortalEnv) -> None:
    c, _ = _signed_in(env)
    empty = html.unescape(c.get("/contacts").text)
    assert "Aucun contact pour l'instant." in empty
    with env.store.transaction() as s:
        account_id = s.query(Account.id).filter(Account.display_name == "Jeanne Tremblay").scalar()
        s.add(
            Contact(
                account_id=account_id,
                first_name="Luc",
                last_name="Bélanger",
                mobile_phone="6135550142",
                email="luc@example.com",
            )
        )
        for heard, urgent in ((False, True), (False, False), (True, False)):
            s.add(
                Message(
                    line_number=A_NUMBER,
                    kind="voice",
                    heard=heard,
                    urgent=urgent,
                    file_path="m.wav",
                    duration_seconds=12,
                )
            )
        s.add(Message(line_number=A_NUMBER, kind="fax", file_path="f.pdf", pages=2))
        s.add(Message(line_number=A_NUMBER, kind="voice", folder="deleted", file_path="d.wav"))
    contacts = html.unescape(c.get("/contacts").text)
    assert "Luc Bélanger" in contacts and "(613) 555-0142" in contacts
    messages = c.get("/messages").text
    assert 'data-count="voice-new">2<' in messages
    assert 'data-count="fax-new">1<' in messages
    assert 'data-count="deleted">1<' in messages
    summary = " ".join(re.sub(r"<[^>]+>", " ", html.unescape(messages)).split())
    assert "2 nouveaux messages · 1 écouté" in summary
    assert messages.count('class="badge badge--urgent" title=') == 1
    # The contact can be picked for the forward and reject lists on the home page.
    assert 'value="6135550142" data-contact-number' in c.get("/home").text


def test_help_and_account_pages(env: PortalEnv) -> None:
    c, _ = _signed_in(env)
    help_page = html.unescape(c.get("/help").text)
    for topic in (
        "Ouverture de session et navigation",
        "La page Accueil",
        "Notifications",
        "Mot de passe et NIP",
        "Limite de la boîte vocale",
    ):
        assert topic in help_page
    account = c.get("/account").text
    assert "(613) 555-0100" in account and "(613) 555-0101" in account
    assert "ligne principale" in account


def test_unknown_pages_and_api_paths(env: PortalEnv) -> None:
    c, _ = _signed_in(env)
    assert c.get("/nowhere").status_code == 404
    r = c.get("/api/v1/nowhere")
    assert r.status_code == 404
    assert r.json()["error"] == "not-found"
    assert c.get("/security/root").status_code == 404


def test_openapi_document_covers_the_api(env: PortalEnv) -> None:
    doc = env.client().get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    for path, methods in {
        "/api/v1/session": {"post", "delete"},
        "/api/v1/lines": {"get"},
        "/api/v1/lines/{n}/call-settings": {"get", "put"},
        "/api/v1/lines/{n}/message-settings": {"get", "put"},
        "/api/v1/lines/{n}/notifications": {"get", "put"},
        "/api/v1/lines/{n}/usage": {"get"},
        "/api/v1/lines/{n}/greetings": {"get"},
        "/api/v1/lines/{n}/greetings/{kind}": {"get", "put", "delete"},
        "/api/v1/lines/{n}/preview": {"get"},
        "/api/v1/lines/{n}/voicemail-pin": {"put"},
        "/api/v1/account/password": {"put"},
        "/api/v1/account/services-pin": {"put"},
    }.items():
        assert methods <= set(paths[path]), path
    assert not any(not p.startswith("/api/v1/") for p in paths)  # pages are not in it


def test_security_headers(env: PortalEnv) -> None:
    r = env.client().get("/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
