"""The home page and the call-settings page in chromium: every setting changed through the page
is read back through the JSON API (what the switch uses on the next call)."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import delete, select

from store.models import Account, Contact
from tests.browser.conftest import DEMO_NUMBER, Box, Server, shoot

SETTINGS = f"/api/v1/lines/{DEMO_NUMBER}/call-settings"


def apply(page: Page) -> None:
    page.get_by_test_id("apply").click()
    expect(page.get_by_test_id("flash")).to_have_text("Vos modifications sont enregistrées.")


def test_phone_state_incoming_calls_and_fallbacks(api: httpx.Client, page: Page) -> None:
    page.get_by_text("Ne pas déranger", exact=True).click()
    page.get_by_label("Après", exact=True).fill("36")
    no_answer = page.locator(
        "section", has=page.get_by_role("heading", name="S'il n'y a aucune réponse")
    )
    no_answer.get_by_text("Renvoi à autre téléphone").click()
    no_answer.get_by_role("button", name="un autre téléphone").click()
    picker = page.locator("#dlg-pick-number")
    expect(picker).to_be_visible()
    picker.get_by_label("Ou un numéro temporaire").fill("613 555 0199")
    picker.get_by_role("button", name="Utiliser ce numéro").click()
    expect(page.locator("#no_answer_to")).to_have_value("613 555 0199")
    busy = page.locator(
        "section", has=page.get_by_role("heading", name="Si votre téléphone est occupé")
    )
    busy.get_by_text("Renvoi à autre téléphone").click()
    page.locator("#busy_to").fill("819-555-0142")
    apply(page)
    body = api.get(SETTINGS).json()
    assert body["phone_state"] == "dnd"
    assert (body["no_answer_action"], body["no_answer_to"], body["no_answer_timeout"]) == (
        "number",
        "6135550199",
        36,
    )
    assert (body["busy_action"], body["busy_to"]) == ("number", "8195550142")
    assert {f["number"]: f["temporary"] for f in body["forwarding_numbers"]} == {
        "6135550199": True,
        "8195550142": True,
    }
    # The page shows what is saved; forward all calls, picking a number used before.
    expect(page.get_by_label("Ne pas déranger")).to_be_checked()
    page.get_by_text("Disponible pour appels", exact=True).click()
    page.get_by_text("Seront renvoyés vers un autre téléphone").click()
    page.locator("#forward_all_to").fill("6135550177")
    apply(page)
    body = api.get(SETTINGS).json()
    assert (body["phone_state"], body["incoming_mode"], body["forward_all_to"]) == (
        "available",
        "forward_all",
        "6135550177",
    )


def test_advanced_settings_with_lists_and_contacts(
    api: httpx.Client, page: Page, server: Server
) -> None:
    with server.store.transaction() as s:
        account = s.scalar(select(Account))
        assert account is not None
        s.add(
            Contact(
                account_id=account.id,
                first_name="Luc",
                last_name="Bélanger",
                business_phone="6135550177",
                mobile_phone="8195550142",
            )
        )
        s.add(
            Contact(
                account_id=account.id, first_name="Anne", last_name="Roy", home_phone="4505550111"
            )
        )
    try:
        page.reload()
        page.get_by_text("Réglages avancés").click()
        page.get_by_label("Renvoi sélectif").check()
        page.locator("#selective_forward_to").fill("613 555 0188")
        page.locator("#forward-list > summary").click()
        page.locator("#forward_list_add").fill("416 555 0122, 905-555-0133")
        page.locator("#forward-list").get_by_role("button", name="Ajouter", exact=True).click()
        chips = page.locator("#forward-list .chip")
        expect(chips).to_have_count(2)
        page.locator("#forward-list").get_by_role("button", name="Parmi mes contacts").click()
        picker = page.locator("#dlg-contacts")
        expect(picker).to_be_visible()
        luc = picker.locator(".contact-picker__item", has_text="Luc Bélanger")
        luc.locator("summary").click()  # a contact with several numbers opens to show them all
        luc.get_by_text("(819) 555-0142").click()
        picker.locator(".contact-picker__item", has_text="Anne Roy").locator("input").first.check()
        shoot(page, "home-contact-picker", full_page=False)
        picker.get_by_role("button", name="Ajouter à la liste").click()
        expect(chips).to_have_count(4)
        chips.filter(has_text="(905) 555-0133").get_by_role("button").click()
        expect(chips).to_have_count(3)
        page.get_by_label("Rejet sélectif").check()
        page.locator("#reject-list > summary").click()
        page.locator("#reject_list_add").fill("514 555 0177")
        page.locator("#reject_list_add").press("Enter")
        expect(page.locator("#reject-list .chip")).to_have_count(1)
        page.get_by_label("Renvoi si non disponible").check()
        page.locator("#unavailable_to").fill("613 555 0166")
        page.get_by_label("Appels anonymes").check()
        page.get_by_label("Nouveau numéro de renvoi").fill("613 555 0155")
        page.get_by_label("Libellé du nouveau numéro").fill("Chalet")
        shoot(page, "home-advanced")
        apply(page)
        body = api.get(SETTINGS).json()
        assert (body["selective_forwarding"], body["selective_forward_to"]) == (True, "6135550188")
        assert body["forward_list"] == ["4165550122", "4505550111", "8195550142"]
        assert (body["selective_rejection"], body["reject_list"]) == (True, ["5145550177"])
        assert (body["unavailable_forwarding"], body["unavailable_to"]) == (True, "6135550166")
        assert body["anonymous_rejection"] is True
        assert {"number": "6135550155", "label": "Chalet", "temporary": False} in body[
            "forwarding_numbers"
        ]
        # A saved number is offered by the "another phone" picker.
        page.locator("#advanced").get_by_role("button", name="un autre téléphone").first.click()
        saved = page.locator("#dlg-pick-number").get_by_text("(613) 555-0155")
        expect(saved).to_be_visible()
        saved.click()
        page.locator("#dlg-pick-number").get_by_role("button", name="Utiliser ce numéro").click()
        expect(page.locator("#selective_forward_to")).to_have_value("6135550155")
    finally:
        with server.store.transaction() as s:
            s.execute(delete(Contact))


def test_ucn_table_with_the_handle_and_the_dialog(api: httpx.Client, page: Page) -> None:
    table = page.get_by_test_id("ucn-table")
    expect(table).to_be_hidden()  # only for the UCN modes
    page.get_by_text("Feront sonner vos téléphones les uns après les autres").click()
    expect(table).to_be_visible()
    page.get_by_placeholder("Ajouter un numéro").fill("819 555 0142")
    page.locator("[data-ucn-add]").click()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator(".cellbar").first).to_contain_text("20 s")

    # Drag the account phone's handle: 24 s -> about 60 s.
    bar = rows.nth(0).locator(".cellbar").first
    handle = bar.locator(".cellbar__handle")
    box = bar.locator(".cellbar__track").bounding_box()
    knob = handle.bounding_box()
    assert box is not None and knob is not None
    page.mouse.move(knob["x"] + knob["width"] / 2, knob["y"] + knob["height"] / 2)
    page.mouse.down()
    target_x = box["x"] + box["width"] * (60 - 5) / 115
    page.mouse.move(target_x, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    dragged = int(table.locator('input[name="ucn-0-cell-0"]').input_value())
    assert 57 <= dragged <= 63, dragged
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    expect(table.locator('input[name="ucn-0-cell-0"]')).to_have_value(str(dragged + 2))

    # The second column of the new number: click the empty cell, set it in the dialog.
    rows.nth(1).locator(".cellbar").nth(1).click()
    dialog = page.locator("#dlg-ucn-cell")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Secondes (5 à 120)").fill("200")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.locator("[data-cell-error]")).to_be_visible()  # refused, still open
    dialog.get_by_label("Secondes (5 à 120)").fill("30")
    dialog.get_by_label("Permettre le renvoi d'appels à distance").check()
    shoot(page, "home-ucn-dialog", full_page=False)
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_be_hidden()
    expect(rows.nth(1).locator(".cellbar").nth(1)).to_contain_text("30 s")
    expect(rows.nth(1).locator('input[name$="-remote"]')).to_be_checked()

    # Up to 6 columns: then the button is off.
    add_column = page.get_by_role("button", name="Ajouter une colonne")
    while add_column.is_enabled():
        add_column.click()
    expect(table.locator("thead .ucn__stage")).to_have_count(6)
    shoot(page, "home-ucn")
    apply(page)
    body = api.get(SETTINGS).json()
    assert body["incoming_mode"] == "sequential"
    assert body["ring_table"] == [
        {
            "number": "account",
            "cells": [dragged + 2, None],
            "allow_remote_forwarding": False,
            "confirm_answer": False,
        },
        {
            "number": "8195550142",
            "cells": [20, 30],
            "allow_remote_forwarding": True,
            "confirm_answer": True,  # an outside number: "press 1" by default
        },
    ]


def test_press_1_column_in_the_ring_table_and_the_preview(api: httpx.Client, page: Page) -> None:
    table = page.get_by_test_id("ucn-table")
    page.get_by_text("Feront sonner tous vos téléphones simultanément").click()
    expect(table).to_be_visible()
    expect(table.locator("thead")).to_contain_text("Faire le 1")
    expect(page.get_by_test_id("ucn-confirm-legend")).to_contain_text(
        "la boîte vocale d'un cellulaire ne peut donc pas prendre vos appels"
    )
    for number in ("819 555 0142", "819 555 0143"):
        page.get_by_placeholder("Ajouter un numéro").fill(number)
        page.locator("[data-ucn-add]").click()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).get_by_test_id("ucn-confirm")).not_to_be_checked()  # account phone
    expect(rows.nth(1).get_by_test_id("ucn-confirm")).to_be_checked()
    box = rows.nth(2).get_by_label(
        "Demander à la personne qui répond au 819 555 0143 de faire le 1"
    )
    expect(box).to_be_checked()
    box.uncheck()
    apply(page)
    confirm = [(r["number"], r["confirm_answer"]) for r in api.get(SETTINGS).json()["ring_table"]]
    assert confirm == [("account", False), ("8195550142", True), ("8195550143", False)]
    rows = page.get_by_test_id("ucn-table").locator("tbody tr")
    expect(rows.nth(1).get_by_test_id("ucn-confirm")).to_be_checked()
    expect(rows.nth(2).get_by_test_id("ucn-confirm")).not_to_be_checked()
    shoot(page, "home-ucn-press-1")

    preview = page.locator("#preview")
    preview.get_by_label("Numéro de l'appelant").fill("613 555 0123")
    preview.get_by_role("button", name="Voir ce qui se passe").click()
    result = page.get_by_test_id("preview-result")
    expect(result).to_contain_text("(819) 555-0142 : de 0 s à 24 s (la personne qui répond doit")
    expect(result.get_by_text("faire le 1", exact=False)).to_have_count(1)
    page.get_by_role("contentinfo").get_by_role("link", name="English").click()
    expect(page.get_by_test_id("ucn-table").locator("thead")).to_contain_text("Press 1")
    page.locator("#preview").get_by_label("Caller's number").fill("613 555 0123")
    page.locator("#preview").get_by_role("button", name="Show what happens").click()
    expect(page.get_by_test_id("preview-result")).to_contain_text(
        "(819) 555-0142: from 0 s to 24 s (whoever answers must press 1)"
    )
    page.get_by_role("contentinfo").get_by_role("link", name="Français").click()


def test_invalid_input_is_refused_next_to_the_field(api: httpx.Client, page: Page) -> None:
    page.get_by_text("Seront renvoyés vers un autre téléphone").click()
    page.locator("#forward_all_to").fill("1 900 555 0100")
    page.get_by_test_id("apply").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    error = page.locator('.field-error[data-field="forward_all_to"]')
    expect(error).to_have_text(
        "9005550100 : les appels ne peuvent pas être renvoyés vers des numéros surtaxés "
        "(comme 900 et 976)."
    )
    expect(page.locator("#forward_all_to")).to_have_attribute("aria-invalid", "true")
    shoot(page, "home-error")
    assert api.get(SETTINGS).json()["incoming_mode"] == "ring_account"


def test_what_happens_if_someone_calls(api: httpx.Client, page: Page) -> None:
    api.put(
        SETTINGS,
        json={
            "selective_rejection": True,
            "reject_list": ["8195550142"],
            "anonymous_rejection": True,
        },
    )
    preview = page.locator("#preview")
    preview.get_by_label("Numéro de l'appelant").fill("819 555 0142")
    preview.get_by_role("button", name="Voir ce qui se passe").click()
    result = page.get_by_test_id("preview-result")
    expect(result).to_have_attribute("data-reason", "reject_list")
    expect(result.locator(".plan__summary")).to_have_text(
        "(819) 555-0142 est sur votre liste de rejet : l'appel est refusé, sans message."
    )
    preview.get_by_label("Numéro de l'appelant").fill("613 555 0123")
    preview.get_by_role("button", name="Voir ce qui se passe").click()
    expect(result).to_have_attribute("data-reason", "ring_account")
    expect(result).to_contain_text("Si la ligne est occupée")
    shoot(page, "home-preview")
    preview.get_by_label("Appelant anonyme (numéro masqué)").check()
    preview.get_by_role("button", name="Voir ce qui se passe").click()
    expect(result).to_have_attribute("data-reason", "anonymous_rejected")
    page.get_by_role("contentinfo").get_by_role("link", name="English").click()
    page.locator("#preview").get_by_label("Caller's number").fill("613 555 0123")
    page.locator("#preview").get_by_role("button", name="Show what happens").click()
    expect(page.get_by_test_id("preview-result").locator(".plan__summary")).to_have_text(
        "Your account phone rings for 24 seconds."
    )
    page.get_by_role("contentinfo").get_by_role("link", name="Français").click()


def test_call_settings_page(api: httpx.Client, page: Page) -> None:
    page.get_by_role("link", name="Réglages des appels").click()
    expect(page.get_by_role("heading", name="Réglages des appels", exact=True)).to_be_visible()
    page.get_by_label("Ne pas déranger").check()
    page.get_by_label("Appels anonymes").check()
    page.get_by_label("Rejet sélectif").check()
    shoot(page, "call-settings")
    apply(page)
    body = api.get(SETTINGS).json()
    assert (body["phone_state"], body["anonymous_rejection"], body["selective_rejection"]) == (
        "dnd",
        True,
        True,
    )
    page.get_by_label("Ne pas déranger").uncheck()
    page.get_by_label("Appels anonymes").uncheck()
    apply(page)
    body = api.get(SETTINGS).json()
    assert (body["phone_state"], body["anonymous_rejection"], body["selective_rejection"]) == (
        "available",
        False,
        True,
    )


def test_new_message_summary_and_unread_badges_in_both_languages(page: Page, box: Box) -> None:
    from tests.browser.conftest import DEMO_SECOND

    box.deposit()
    box.deposit()
    box.deposit(kind="fax")
    box.deposit(DEMO_SECOND)
    page.goto("/home")
    summary = page.get_by_test_id("new-summary")
    expect(summary).to_contain_text("2 nouveaux messages · 1 nouvelle télécopie")
    expect(summary).to_contain_text("(613) 555-0101 : 1 nouveau")
    badge = page.get_by_test_id("unread-badge")
    expect(badge).to_contain_text("3")
    page.locator(".account-menu__button").click()
    expect(page.get_by_test_id("line-unread")).to_have_text(["3 nouveaux", "1 nouveau"])
    shoot(page, "home-new-summary")
    page.get_by_role("contentinfo").get_by_role("link", name="English").click()
    expect(page.get_by_test_id("new-summary")).to_contain_text("2 new messages · 1 new fax")
    summary.get_by_role("link", name="Go to messages").click()
    expect(page).to_have_url(page.url.split("/messages")[0].split("/home")[0] + "/messages")
