"""The portal in chromium: sign-in, sign-out, the frame (navigation, line switcher, storage
warning, footer dialogs), languages, and the pages around the settings."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import delete, select

from store import credentials
from store.models import Account, Contact, Feedback, Mailbox, Message
from tests.browser.conftest import (
    DEMO_NUMBER,
    DEMO_SECOND,
    Server,
    shoot,
    sign_in,
)


def test_sign_in(context: BrowserContext, server: Server) -> None:
    page = context.new_page()
    page.goto("/home")
    page.wait_for_url("**/login")
    expect(page.locator("h1")).to_have_text("Connexion")
    expect(page.get_by_label("Numéro")).to_be_focused()
    shoot(page, "login")
    page.get_by_label("Numéro").fill("613 555 0100")
    page.get_by_label("Mot de passe").fill("pas-le-bon")
    page.get_by_role("button", name="Connexion").click()
    expect(page.get_by_test_id("login-error")).to_have_text(
        "Le numéro ou le mot de passe est incorrect."
    )
    expect(page.get_by_label("Numéro")).to_have_value("613 555 0100")
    shoot(page, "login-error")
    page.get_by_label("Mot de passe").fill(server.password)
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_url("**/home")
    nav = page.get_by_role("navigation", name="Principal")
    expect(nav.get_by_role("link", name="Accueil")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Messages")).to_be_visible()
    expect(nav.get_by_role("link", name="Contacts")).to_be_visible()
    expect(page.get_by_test_id("current-line")).to_have_text("(613) 555-0100")
    shoot(page, "home")


def test_sign_out_from_the_dropdown(page: Page) -> None:
    page.locator(".account-menu__button").click()
    page.get_by_test_id("sign-out").click()
    page.wait_for_url("**/login")
    expect(page.get_by_test_id("flash")).to_have_text("Vous êtes déconnecté.")
    page.goto("/home")
    page.wait_for_url("**/login")


def test_language_switch(page: Page) -> None:
    footer = page.get_by_role("contentinfo")
    footer.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Phone state")).to_be_visible()
    expect(page.get_by_role("link", name="Change password")).to_be_visible()
    shoot(page, "home-english")
    page.goto("/notifications")  # remembered from page to page
    expect(page.get_by_role("heading", name="Message waiting indicator")).to_be_visible()
    footer.get_by_role("link", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Indicateur de message en attente")).to_be_visible()


def test_line_switch(page: Page) -> None:
    page.locator(".account-menu__button").click()
    menu = page.locator(".menu__panel")
    expect(menu.get_by_text("Mes boîtes vocales")).to_be_visible()
    shoot(page, "line-switcher", full_page=False)
    menu.get_by_role("button", name="(613) 555-0101").click()
    expect(page.get_by_test_id("current-line")).to_have_text("(613) 555-0101")
    expect(page.get_by_test_id("flash")).to_have_text("Vous gérez maintenant une autre ligne.")
    page.get_by_role("link", name="Notifications").first.click()
    expect(page.get_by_test_id("held-by-note")).to_contain_text("(613) 555-0100")
    shoot(page, "notifications-secondary-line")
    page.locator(".account-menu__button").click()
    page.locator(".menu__panel").get_by_role("button", name="(613) 555-0100").click()
    expect(page.get_by_test_id("current-line")).to_have_text("(613) 555-0100")
    expect(page.get_by_test_id("held-by-note")).to_have_count(0)


def test_storage_warning(page: Page, server: Server) -> None:
    expect(page.get_by_test_id("storage-warning")).to_have_count(0)
    with server.store.transaction() as s:
        for _ in range(11):
            s.add(
                Message(
                    line_number=DEMO_SECOND,
                    kind="voice",
                    file_path="m.wav",
                    duration_seconds=300,
                    received_at=datetime(2026, 3, 1, tzinfo=UTC),
                )
            )
    try:
        page.locator(".account-menu__button").click()
        page.locator(".menu__panel").get_by_role("button", name="(613) 555-0101").click()
        warning = page.get_by_test_id("storage-warning")
        expect(warning).to_be_visible()
        warning.locator("summary").click()
        panel = warning.locator(".popover__panel")
        expect(panel).to_contain_text("Limite de la boîte vocale")
        expect(panel).to_contain_text("55 min 00 s utilisées sur 1 h 00 min (92 %)")
        shoot(page, "storage-warning", full_page=False)
        page.get_by_role("link", name="Messages").first.click()
        expect(page.locator('[data-count="voice-new"]')).to_have_text("11")
        shoot(page, "messages")
    finally:
        with server.store.transaction() as s:
            s.execute(delete(Message))
        page.goto("/home")
        page.locator(".account-menu__button").click()
        page.locator(".menu__panel").get_by_role("button", name="(613) 555-0100").click()


def test_pin_and_password_dialogs(page: Page, server: Server) -> None:
    footer = page.get_by_role("contentinfo")
    footer.get_by_role("link", name="Changer le NIP de la messagerie vocale").click()
    dialog = page.locator("#dlg-voicemail-pin")
    expect(dialog).to_be_visible()
    shoot(page, "dialog-voicemail-pin", full_page=False)
    dialog.get_by_label("Nouveau NIP :", exact=True).fill("5291")
    dialog.get_by_label("Confirmer le nouveau NIP :", exact=True).fill("5291")
    dialog.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Votre NIP de messagerie vocale est modifié.")
    with server.store.read() as s:
        mailbox = s.get(Mailbox, DEMO_NUMBER)
        assert mailbox is not None and credentials.verify_secret(mailbox.pin_hash, "5291")

    footer.get_by_role("link", name="Changer le NIP des services d'appels").click()
    dialog = page.locator("#dlg-services-pin")
    dialog.get_by_label("Nouveau NIP :", exact=True).fill("1234")
    dialog.get_by_label("Confirmer le nouveau NIP :", exact=True).fill("1234")
    dialog.get_by_role("button", name="Confirmer").click()
    # A refusal stays in the dialog, next to the field (the page does not change).
    expect(dialog.locator(".field-error")).to_have_text(
        "Le NIP ne peut pas être une suite de chiffres croissants ou décroissants (1234, 9876)."
    )
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Nouveau NIP :", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    assert "/security/" not in page.url
    shoot(page, "services-pin-error", full_page=False)
    form = dialog
    form.get_by_label("Nouveau NIP :", exact=True).fill("7305")
    form.get_by_label("Confirmer le nouveau NIP :", exact=True).fill("7305")
    form.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_test_id("flash")).to_have_text(
        "Votre NIP des services d'appels est modifié."
    )

    footer.get_by_role("link", name="Changer de mot de passe").click()
    dialog = page.locator("#dlg-password")
    dialog.get_by_label("Mot de passe actuel :", exact=True).fill("pas le bon")
    dialog.get_by_label("Nouveau mot de passe :", exact=True).fill("un-autre-mdp-2026")
    dialog.get_by_label("Confirmer le nouveau mot de passe :", exact=True).fill("un-autre-mdp-2026")
    dialog.get_by_role("button", name="Confirmer").click()
    expect(dialog.locator(".field-error")).to_have_count(1)
    expect(dialog).to_be_visible()
    dialog.get_by_label("Mot de passe actuel :", exact=True).fill(server.password)
    dialog.get_by_label("Nouveau mot de passe :", exact=True).fill("un-autre-mdp-2026")
    dialog.get_by_label("Confirmer le nouveau mot de passe :", exact=True).fill("un-autre-mdp-2026")
    dialog.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_test_id("flash")).to_have_text(
        "Votre mot de passe est modifié. Vos autres sessions ont été fermées."
    )
    # Put the demo password back for the other tests (through the same dialog).
    footer.get_by_role("link", name="Changer de mot de passe").click()
    dialog.get_by_label("Mot de passe actuel :", exact=True).fill("un-autre-mdp-2026")
    dialog.get_by_label("Nouveau mot de passe :", exact=True).fill(server.password)
    dialog.get_by_label("Confirmer le nouveau mot de passe :", exact=True).fill(server.password)
    with page.expect_navigation():
        dialog.get_by_role("button", name="Confirmer").click()
    expect(page.get_by_test_id("flash")).to_be_visible()
    with server.store.read() as s:
        account = s.scalar(select(Account))
        assert account is not None
        assert credentials.verify_secret(account.password_hash, server.password)
        assert credentials.verify_secret(account.services_pin_hash, "7305")


def test_help_feedback_account_and_contacts(page: Page, server: Server) -> None:
    footer = page.get_by_role("contentinfo")
    footer.get_by_role("link", name="Aide").click()
    expect(page.get_by_role("heading", name="Aide", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Numéro de contact universel")).to_have_count(0)
    expect(page.get_by_text("Numéro de contact universel", exact=True)).to_be_visible()
    shoot(page, "help")
    footer.get_by_role("link", name="Envoyer une rétroaction").click()
    dialog = page.locator("#dlg-feedback")
    dialog.locator("textarea").fill("Très pratique, merci.")
    dialog.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_test_id("flash")).to_have_text("Merci : votre rétroaction a été envoyée.")
    with server.store.read() as s:
        assert "Très pratique, merci." in s.scalars(select(Feedback.body)).all()
    footer.get_by_role("link", name="Mes numéros").click()
    expect(page.get_by_test_id("my-numbers")).to_contain_text("(613) 555-0101")
    expect(page.get_by_test_id("my-numbers")).to_contain_text("ligne principale")
    shoot(page, "account")
    page.get_by_role("link", name="Contacts").first.click()
    expect(page.get_by_test_id("contacts-empty")).to_contain_text("Aucun contact pour l'instant.")
    shoot(page, "contacts-empty")
    with server.store.transaction() as s:
        account = s.scalar(select(Account))
        assert account is not None
        s.add(
            Contact(
                account_id=account.id,
                first_name="Luc",
                last_name="Bélanger",
                company="Bélanger & fils",
                mobile_phone="8195550142",
                business_phone="6135550177",
                email="luc@example.com",
            )
        )
    try:
        page.reload()
        expect(page.get_by_test_id("contacts-table")).to_contain_text("Luc Bélanger")
        shoot(page, "contacts")
    finally:
        with server.store.transaction() as s:
            s.execute(delete(Contact))


def test_api_sessions_and_pages_are_separate(server: Server) -> None:
    api = server.api()
    r = api.get("/api/v1/lines")
    assert [ln["number"] for ln in r.json()["lines"]] == [DEMO_NUMBER, DEMO_SECOND]
    assert httpx.get(f"{server.url}/api/v1/lines").status_code == 401
    api.close()


def test_sign_in_again_after_sign_out(context: BrowserContext, server: Server) -> None:
    page = context.new_page()
    sign_in(page, server.password)
    expect(page.get_by_test_id("current-line")).to_have_text("(613) 555-0100")


def test_help_chapter_voicemail_by_phone(page: Page) -> None:
    page.goto("/help")
    page.get_by_role("link", name="La messagerie vocale par téléphone").click()
    chapter = page.get_by_test_id("help-phone")
    expect(
        chapter.locator('table[data-menu="message"] tr', has_text="Pour le supprimer")
    ).to_contain_text("3")
    shoot(page, "help-phone")
    page.get_by_role("contentinfo").get_by_role("link", name="English").click()
    page.goto("/help#h-phone")
    expect(page.get_by_test_id("help-phone")).to_contain_text("To mark it as new")
